//! The generic signed format: header check and body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use relance::providers::generic;

fuzz_target!(|data: &[u8]| {
    let (header, body) = match data.iter().position(|b| *b == b'\n') {
        Some(i) => (&data[..i], &data[i + 1..]),
        None => (data, &[][..]),
    };
    let now = chrono::DateTime::from_timestamp(1_767_225_600, 0).unwrap(); // ok: a constant instant
    let secrets = ["generic_fuzz".to_string()];
    if let Ok(header) = std::str::from_utf8(header) {
        let _ = generic::verify(Some(header), body, &secrets, now);
    }
    let _ = generic::parse(body);
    let signed = generic::sign(body, &secrets[0], now.timestamp());
    assert!(generic::verify(Some(&signed), body, &secrets, now).is_ok());
});
