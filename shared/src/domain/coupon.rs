//! The thank-you coupon: the code a shop's post-purchase thank-you offers for the next order,
//! when the owner turns it on. Either one code for everyone, or a list the owner loaded (from
//! the shop's discount tool), handed out one per order, each once.
//!
//! Handing out from a list must never give one code to two orders. The count of codes handed
//! out is a record ([`CouponPool`]) written in the same transaction as the thank-you that took
//! the code, under its version: two orders taking the next code at once cannot both win, and
//! the loser is decided again with the new count.

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// The longest code we accept: discount codes are short (Shopify allows 255, nobody types that).
const MAX_CODE_LEN: usize = 40;
/// A list larger than this is a file to import, not a setting: the settings item, and the
/// audit entry that keeps it before and after a save, must stay well under DynamoDB's 400 KB
/// (1,000 codes of 40 characters: about 45 KB each).
pub const MAX_CODES: usize = 1_000;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThankYouCoupon {
    /// The same code on every thank-you (`MERCI10`).
    Fixed { code: String },
    /// One code per order from this list, in order, each handed out once; when the list is
    /// used up, thank-yous go without a code (the settings page says so).
    PerOrder { codes: Vec<String> },
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct CouponError {
    /// Within the coupon setting: `code`, `codes[3]`.
    pub field: String,
    pub message: String,
}

impl ThankYouCoupon {
    pub fn validate(&self) -> Result<(), CouponError> {
        let check = |field: String, code: &str| {
            if code.is_empty() || code.len() > MAX_CODE_LEN || !code.chars().all(|c| c.is_ascii_graphic()) {
                return Err(CouponError {
                    field,
                    message: format!("a discount code: letters, digits and signs, no spaces, at most {MAX_CODE_LEN}"),
                });
            }
            Ok(())
        };
        match self {
            ThankYouCoupon::Fixed { code } => check("code".into(), code),
            ThankYouCoupon::PerOrder { codes } => {
                if codes.is_empty() || codes.len() > MAX_CODES {
                    return Err(CouponError { field: "codes".into(), message: format!("between 1 and {MAX_CODES} codes") });
                }
                for (index, code) in codes.iter().enumerate() {
                    check(format!("codes[{index}]"), code)?;
                    if codes[..index].contains(code) {
                        return Err(CouponError { field: format!("codes[{index}]"), message: "this code is already in the list".into() });
                    }
                }
                Ok(())
            }
        }
    }

    /// Which count of handed-out codes this list goes with, named after its first code. More
    /// codes added at the end keep the count (the new ones follow); a list that starts with
    /// another code (a new list, or the used codes taken off its front) starts its own count.
    pub fn pool_id(&self) -> Option<String> {
        let ThankYouCoupon::PerOrder { codes } = self else { return None };
        let digest = Sha256::digest(codes.first()?.as_bytes());
        Some(digest.iter().take(8).map(|b| format!("{b:02x}")).collect())
    }
}

/// How many codes of one list were handed out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CouponPool {
    /// [`ThankYouCoupon::pool_id`] of the list.
    pub id: String,
    pub handed_out: u64,
    #[serde(default)]
    pub version: u64,
}

impl CouponPool {
    pub fn new(id: String) -> CouponPool {
        CouponPool { id, handed_out: 0, version: 0 }
    }

    /// The next code of `codes`, counted as handed out; none when the list is used up.
    pub fn hand_out(&mut self, codes: &[String]) -> Option<String> {
        let code = codes.get(usize::try_from(self.handed_out).ok()?)?.clone();
        self.handed_out += 1;
        Some(code)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn codes(list: &[&str]) -> ThankYouCoupon {
        ThankYouCoupon::PerOrder { codes: list.iter().map(|c| c.to_string()).collect() }
    }

    #[test]
    fn a_list_hands_out_each_code_once_then_nothing() {
        let coupon = codes(&["A-1", "A-2"]);
        let ThankYouCoupon::PerOrder { codes: list } = &coupon else { unreachable!() };
        let mut pool = CouponPool::new(coupon.pool_id().unwrap());
        assert_eq!(pool.hand_out(list).as_deref(), Some("A-1"));
        assert_eq!(pool.hand_out(list).as_deref(), Some("A-2"));
        assert_eq!(pool.hand_out(list), None);
        assert_eq!(pool.handed_out, 2, "a used-up list counts no more");
    }

    #[test]
    fn codes_added_at_the_end_follow_and_a_new_list_has_its_own_count() {
        assert_eq!(codes(&["A-1", "A-2"]).pool_id(), codes(&["A-1", "A-2", "A-3"]).pool_id(), "appended: the count goes on");
        assert_ne!(codes(&["A-1", "A-2"]).pool_id(), codes(&["B-1", "B-2"]).pool_id(), "a new list");
        assert_ne!(codes(&["A-1", "A-2"]).pool_id(), codes(&["A-2"]).pool_id(), "the used code taken off: counted afresh");
        assert_eq!(ThankYouCoupon::Fixed { code: "MERCI10".into() }.pool_id(), None);
    }

    #[test]
    fn a_refusal_names_the_code_to_fix() {
        assert_eq!(ThankYouCoupon::Fixed { code: "MERCI 10".into() }.validate().unwrap_err().field, "code");
        assert_eq!(codes(&["A-1", "A-1"]).validate().unwrap_err().field, "codes[1]");
        assert_eq!(codes(&[]).validate().unwrap_err().field, "codes");
        assert_eq!(codes(&["A-1", ""]).validate().unwrap_err().field, "codes[1]");
        assert!(codes(&["A-1", "B-2"]).validate().is_ok());
    }

    #[test]
    fn the_setting_reads_as_the_owner_writes_it() {
        let fixed: ThankYouCoupon = serde_json::from_str(r#"{"kind": "fixed", "code": "MERCI10"}"#).unwrap();
        assert_eq!(fixed, ThankYouCoupon::Fixed { code: "MERCI10".into() });
        let list: ThankYouCoupon = serde_json::from_str(r#"{"kind": "per_order", "codes": ["A-1"]}"#).unwrap();
        assert_eq!(list, codes(&["A-1"]));
        assert!(serde_json::from_str::<ThankYouCoupon>(r#"{"kind": "fixed", "code": "X", "colour": 1}"#).is_err());
    }
}
