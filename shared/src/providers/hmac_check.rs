//! The HMAC computations the providers' schemes are built from. Comparisons go through
//! `Mac::verify_slice`, which is constant-time, so a signature cannot be guessed byte by byte.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// True when `signature` is HMAC-SHA256(`key`, `parts` concatenated).
pub fn sha256_matches(key: &[u8], parts: &[&[u8]], signature: &[u8]) -> bool {
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(key) else { return false };
    for part in parts {
        mac.update(part);
    }
    mac.verify_slice(signature).is_ok()
}

/// HMAC-SHA256(`key`, `parts` concatenated), for signing (tests, replays of our own format).
pub fn sha256(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    for part in parts {
        mac.update(part);
    }
    mac.finalize().into_bytes().to_vec()
}
