//! Identifiers. One newtype per kind of record, so an invoice id can never be passed where a
//! customer id is expected.
//!
//! Ids we mint are ULIDs (sortable by creation time, no coordination needed). Ids that arrive
//! from outside (a provider's `cus_…`, a Shopify number) are accepted if they can sit safely
//! inside a table key: non-empty, at most 200 visible ASCII characters, and no `#`, which
//! separates the parts of our keys.

use std::fmt;

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {value:?} is not a valid identifier (1 to 200 visible ASCII characters, no '#')")]
pub struct InvalidId {
    pub kind: &'static str,
    pub value: String,
}

/// Checks that `value` can be embedded in a table key.
pub fn check_key_part(kind: &'static str, value: &str) -> Result<(), InvalidId> {
    let ok = !value.is_empty() && value.len() <= 200 && value.bytes().all(|b| b.is_ascii_graphic() && b != b'#');
    if ok { Ok(()) } else { Err(InvalidId { kind, value: value.to_string() }) }
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        // The schema says what `check_key_part` accepts: 1 to 200 visible ASCII characters, no '#'.
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                super::string_schema(concat!("A ", stringify!($name), ": 1 to 200 visible ASCII characters, no '#'."), r"^[!-\x22\x24-~]{1,200}$", "01JD8X3Q5V4M2N7K9P0R1S2T3U")
            }
        }
        impl utoipa::ToSchema for $name {}

        impl $name {
            /// A new, unique id.
            pub fn generate() -> Self {
                $name(ulid::Ulid::new().to_string())
            }

            pub fn parse(value: &str) -> Result<Self, InvalidId> {
                check_key_part(stringify!($name), value)?;
                Ok($name(value.to_string()))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidId;
            fn try_from(value: String) -> Result<Self, Self::Error> {
                check_key_part(stringify!($name), &value)?;
                Ok($name(value))
            }
        }

        impl From<$name> for String {
            fn from(id: $name) -> String {
                id.0
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidId;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $name::parse(s)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0)
            }
        }
    };
}

id_type!(
    /// Our id for a customer (a member, a client, a business account).
    CustomerId
);
id_type!(
    /// Our id for an invoice; the number printed on it is an [`InvoiceNumber`].
    InvoiceId
);
id_type!(SubscriptionId);
id_type!(PaymentMethodId);
id_type!(
    /// Our id for a payment attempt (a transaction, a charge).
    PaymentId
);
id_type!(RefundId);
id_type!(
    /// A garden (a site): plots, a farmer or two, harvests and events.
    SiteId
);
id_type!(EventId);
id_type!(HarvestId);
id_type!(NewsId);
id_type!(MessageId);
id_type!(MissionId);
id_type!(LeadId);
id_type!(
    /// The number printed on an invoice (`F-2026-0042`), as the business numbers them.
    InvoiceNumber
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_ids_are_unique_and_valid() {
        let a = CustomerId::generate();
        let b = CustomerId::generate();
        assert_ne!(a, b);
        assert_eq!(CustomerId::parse(a.as_str()).unwrap(), a);
    }

    #[test]
    fn outside_ids_must_fit_in_a_key() {
        assert!(CustomerId::parse("cus_NffrFeUfNV2Hib").is_ok());
        assert!(InvoiceNumber::parse("F-2026-0042").is_ok());
        for bad in ["", "a#b", "with space", "é", &"x".repeat(201)] {
            assert!(CustomerId::parse(bad).is_err(), "{bad:?} should be refused");
        }
        assert!(serde_json::from_str::<InvoiceId>("\"a#b\"").is_err());
    }
}
