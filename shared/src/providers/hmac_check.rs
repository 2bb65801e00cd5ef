//! The HMAC computations the providers' schemes are built from. Comparisons go through
//! `Mac::verify_slice`, which is constant-time, so a signature cannot be guessed byte by byte.

use hmac::{Hmac, KeyInit, Mac};
use sha1::{Digest, Sha1};
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

/// Braintree's scheme: HMAC-SHA1 keyed with the SHA-1 digest of the private key.
pub fn braintree_matches(private_key: &str, message: &[u8], signature: &[u8]) -> bool {
    let key = Sha1::digest(private_key.as_bytes());
    let Ok(mut mac) = Hmac::<Sha1>::new_from_slice(&key) else { return false };
    mac.update(message);
    mac.verify_slice(signature).is_ok()
}

/// Braintree's HMAC, as hex (the challenge answer, and signing in tests).
pub fn braintree_hex(private_key: &str, message: &[u8]) -> String {
    let key = Sha1::digest(private_key.as_bytes());
    let mut mac = Hmac::<Sha1>::new_from_slice(&key).unwrap_or_else(|_| unreachable!("HMAC takes keys of any length"));
    mac.update(message);
    hex::encode(mac.finalize().into_bytes())
}

/// SHA-256 of `bytes` as hex: the id of a delivery that carries none of its own.
pub fn digest_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}
