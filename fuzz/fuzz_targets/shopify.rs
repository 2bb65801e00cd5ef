//! Shopify: the HMAC header, the topic / webhook id / triggered-at headers and the order JSON.
//! The first three lines are the headers, the rest the body.
#![no_main]
use libfuzzer_sys::fuzz_target;
use relance::providers::shopify::{self, ShopifyHeaders};

fuzz_target!(|data: &[u8]| {
    let mut parts = data.splitn(4, |b| *b == b'\n');
    let mut header = || parts.next().and_then(|h| std::str::from_utf8(h).ok()).map(str::to_string);
    let (topic, hmac, triggered_at) = (header(), header(), header());
    let body = parts.next().unwrap_or_default();
    let secrets = ["shpss_fuzz".to_string()];
    let _ = shopify::verify(hmac.as_deref(), body, &secrets);
    let headers = ShopifyHeaders { topic: topic.clone(), webhook_id: Some("fuzz".into()), triggered_at };
    let _ = shopify::parse(&headers, body);
    // Every order topic, whatever the first line said.
    for topic in ["orders/create", "orders/paid", "orders/updated", "orders/cancelled"] {
        let headers = ShopifyHeaders { topic: Some(topic.into()), webhook_id: Some("fuzz".into()), triggered_at: None };
        let _ = shopify::parse(&headers, body);
    }
    assert!(shopify::verify(Some(&shopify::sign(body, &secrets[0])), body, &secrets).is_ok());
});
