//! The `Stripe-Signature` header parser and check: any header, any body, never a panic; a
//! header we signed ourselves always verifies, and never for the body with one byte added.
#![no_main]
use libfuzzer_sys::fuzz_target;
use relance::providers::stripe;

const SECRET: &str = "whsec_fuzz";

fuzz_target!(|data: &[u8]| {
    // First line: the header; the rest: the body.
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap();
    let secrets = [SECRET.to_string()];
    if let Ok(header) = std::str::from_utf8(header) {
        let _ = stripe::verify(Some(header), body, &secrets, now, stripe::DEFAULT_TOLERANCE_SECS);
    }
    let signed = stripe::sign(body, SECRET, now.timestamp());
    assert!(stripe::verify(Some(&signed), body, &secrets, now, stripe::DEFAULT_TOLERANCE_SECS).is_ok());
    let mut tampered = body.to_vec();
    tampered.push(b' ');
    assert!(stripe::verify(Some(&signed), &tampered, &secrets, now, stripe::DEFAULT_TOLERANCE_SECS).is_err());
});
