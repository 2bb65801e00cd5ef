//! Stripe event JSON: any body is read into facts or refused with a reason, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = relance::providers::stripe::parse(data);
});
