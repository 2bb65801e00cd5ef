//! Braintree: the form body (`bt_signature`, `bt_payload`), the signature check, the base64
//! payload and the XML inside it. The input is tried as a form body, as a payload, and as the
//! XML itself (encoded here), so the XML reader sees fuzzed documents directly.
#![no_main]
use base64::Engine;
use libfuzzer_sys::fuzz_target;
use relance::domain::Currency;
use relance::providers::braintree;
use relance::secrets::BraintreeKeys;

fuzz_target!(|data: &[u8]| {
    let keys = [BraintreeKeys { public_key: "fuzz_public".into(), private_key: "fuzz_private".into() }];
    if let Ok((signature, payload)) = braintree::form_fields(data) {
        let _ = braintree::verify(&signature, &payload, &keys);
        let _ = braintree::parse(&payload, &Default::default());
    }
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = braintree::verify(text, text, &keys);
        let _ = braintree::parse(text, &Default::default());
    }
    let encoded = base64::engine::general_purpose::STANDARD.encode(data);
    let _ = braintree::parse(&encoded, &relance::config::BusinessDefaults { currency: Currency::USD, ..Default::default() });
    let signed = braintree::sign(&encoded, &keys[0]);
    assert!(braintree::verify(&signed, &encoded, &keys).is_ok());
});
