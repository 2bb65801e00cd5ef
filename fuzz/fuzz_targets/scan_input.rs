//! The scan function's input (EventBridge's envelope, a manual `{"now": …, "dry_run": …}`,
//! an import or a backfill): read or refused, never a panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(data) {
        let _ = serde_json::from_value::<scan::ScanRequest>(event);
    }
});
