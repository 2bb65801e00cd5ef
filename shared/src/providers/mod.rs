//! Provider adapters: each checks a delivery's signature and turns its payload into a
//! [`crate::facts::Delivery`]. Pure: bytes and secrets in, facts or a precise refusal out.

pub mod braintree;
pub mod generic;
pub mod holded;
pub mod shopify;
pub mod stripe;

mod hmac_check;

use chrono::{DateTime, Utc};

/// Why a delivery was not accepted as coming from the provider (answered with 401).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("missing {0}")]
    Missing(&'static str),
    #[error("malformed signature: {0}")]
    Malformed(String),
    #[error("no signature matches the body")]
    Mismatch,
    #[error("the signature's timestamp is outside the {tolerance_secs} s tolerance")]
    Expired { tolerance_secs: i64 },
    #[error("no secret is configured for this provider")]
    NoSecret,
}

/// Why a correctly signed payload could not be read (answered with 400, kept for inspection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed payload: {0}")]
pub struct PayloadError(pub String);

impl PayloadError {
    pub fn new(message: impl Into<String>) -> PayloadError {
        PayloadError(message.into())
    }
}

/// Seconds since the epoch as an instant, refusing values chrono cannot hold.
pub(crate) fn instant(seconds: i64) -> Result<DateTime<Utc>, PayloadError> {
    DateTime::from_timestamp(seconds, 0).ok_or_else(|| PayloadError::new(format!("{seconds} is not a timestamp")))
}

/// The id of a delivery that could not be read: the SHA-256 of its body.
pub fn body_digest(body: &[u8]) -> String {
    hmac_check::digest_hex(body)
}
