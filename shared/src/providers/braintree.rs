//! Braintree: form-encoded `bt_signature` and `bt_payload` (base64 XML).
//!
//! `bt_signature` is `public_key|hex(HMAC-SHA1(key = SHA1(private_key), bt_payload))`;
//! several pairs may be joined with `&`, and the one naming our public key is checked. As the
//! SDKs do, a payload with characters outside base64's alphabet and newlines is refused, and a
//! signature over the payload plus a trailing newline is accepted. The delivery id is the
//! SHA-256 of the payload: Braintree resends the same payload when it retries.

use chrono::{DateTime, Utc};
use serde::Deserialize;

use super::hmac_check;
use super::{PayloadError, SignatureError};
use crate::domain::{Currency, Money, PaymentStatus, Provider, ProviderRef, SubscriptionStatus};
use crate::facts::{CustomerFacts, Delivery, Fact, PaymentFacts};
use crate::secrets::BraintreeKeys;

/// The two form fields of a delivery, read from the raw body.
pub fn form_fields(body: &[u8]) -> Result<(String, String), SignatureError> {
    let mut signature = None;
    let mut payload = None;
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "bt_signature" => signature = Some(value.into_owned()),
            "bt_payload" => payload = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok((signature.ok_or(SignatureError::Missing("bt_signature"))?, payload.ok_or(SignatureError::Missing("bt_payload"))?))
}

pub fn verify(signature: &str, payload: &str, keys: &[BraintreeKeys]) -> Result<(), SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    if !payload.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=/\n".contains(&b)) {
        return Err(SignatureError::Malformed("payload contains illegal characters".into()));
    }
    for pair in signature.split('&') {
        let Some((public_key, hex_signature)) = pair.split_once('|') else { continue };
        let Some(keys) = keys.iter().find(|k| k.public_key == public_key) else { continue };
        let Ok(signature) = hex::decode(hex_signature.trim()) else { continue };
        let with_newline = format!("{payload}\n");
        if hmac_check::braintree_matches(&keys.private_key, payload.as_bytes(), &signature)
            || hmac_check::braintree_matches(&keys.private_key, with_newline.as_bytes(), &signature)
        {
            return Ok(());
        }
        return Err(SignatureError::Mismatch);
    }
    Err(SignatureError::Mismatch)
}

/// The answer to Braintree's endpoint check (`GET …?bt_challenge=…`).
pub fn answer_challenge(challenge: &str, keys: &BraintreeKeys) -> Result<String, SignatureError> {
    let valid = (20..=32).contains(&challenge.len()) && challenge.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'));
    if !valid {
        return Err(SignatureError::Malformed("bt_challenge must be 20 to 32 lowercase hex digits".into()));
    }
    Ok(format!("{}|{}", keys.public_key, hmac_check::braintree_hex(&keys.private_key, challenge.as_bytes())))
}

/// A signature for `payload`, as Braintree computes it (tests, local `curl`).
pub fn sign(payload: &str, keys: &BraintreeKeys) -> String {
    format!("{}|{}", keys.public_key, hmac_check::braintree_hex(&keys.private_key, payload.as_bytes()))
}

#[derive(Deserialize)]
struct Notification {
    timestamp: String,
    kind: String,
    #[serde(default)]
    subject: Subject,
}

#[derive(Deserialize, Default)]
struct Subject {
    subscription: Option<BtSubscription>,
    #[serde(rename = "paypal-account")]
    paypal_account: Option<BtPaymentMethod>,
    #[serde(rename = "credit-card")]
    credit_card: Option<BtPaymentMethod>,
}

#[derive(Deserialize)]
struct BtSubscription {
    id: String,
    #[serde(default)]
    transactions: Option<BtTransactions>,
}

#[derive(Deserialize, Default)]
struct BtTransactions {
    #[serde(default)]
    transaction: Vec<BtTransaction>,
}

#[derive(Deserialize)]
struct BtTransaction {
    id: String,
    amount: Option<String>,
    #[serde(rename = "currency-iso-code")]
    currency: Option<String>,
    customer: Option<BtCustomer>,
    #[serde(rename = "processor-response-text")]
    processor_response: Option<String>,
}

#[derive(Deserialize)]
struct BtCustomer {
    id: Option<String>,
}

#[derive(Deserialize)]
struct BtPaymentMethod {
    token: String,
}

/// Reads a notification. `currency` is the merchant account's, for amounts that carry none.
pub fn parse(payload: &str, currency: Currency) -> Result<Delivery, PayloadError> {
    use base64::Engine;
    let compact: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| PayloadError::new(format!("bt_payload is not base64: {e}")))?;
    let xml = String::from_utf8(xml).map_err(|_| PayloadError::new("bt_payload is not UTF-8 XML"))?;
    let notification: Notification =
        quick_xml::de::from_str(&xml).map_err(|e| PayloadError::new(format!("not a Braintree notification: {e}")))?;
    let occurred_at: DateTime<Utc> =
        notification.timestamp.trim().parse().map_err(|_| PayloadError::new(format!("timestamp {:?}", notification.timestamp)))?;
    let reference = |id: &str| ProviderRef::new(Provider::Braintree, id).map_err(|e| PayloadError::new(e.to_string()));
    let subject = notification.subject;
    let subscription = || subject.subscription.as_ref().ok_or_else(|| PayloadError::new("no subscription in the notification"));
    let payments = |status: PaymentStatus| -> Result<Vec<Fact>, PayloadError> {
        let Some(transactions) = subscription()?.transactions.as_ref() else { return Ok(Vec::new()) };
        let mut facts = Vec::new();
        for transaction in &transactions.transaction {
            // A transaction names its customer in full notifications; samples may not.
            let Some(customer) = transaction.customer.as_ref().and_then(|c| c.id.as_deref()) else { continue };
            let currency = match &transaction.currency {
                Some(code) => code.parse().map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?,
                None => currency,
            };
            let amount = Money::parse_decimal(transaction.amount.as_deref().unwrap_or("0"), currency)
                .map_err(|e| PayloadError::new(e.to_string()))?;
            facts.push(Fact::Payment(PaymentFacts {
                reference: reference(&transaction.id)?,
                customer: CustomerFacts::reference_only(reference(customer)?),
                invoice: None,
                amount,
                status,
                failure_reason: if status == PaymentStatus::Failed { transaction.processor_response.clone() } else { None },
                amount_refunded: Money::zero(currency),
            }));
        }
        Ok(facts)
    };
    let status = |status: SubscriptionStatus| -> Result<Fact, PayloadError> {
        Ok(Fact::SubscriptionStatus { subscription: reference(&subscription()?.id)?, status })
    };
    let failed = || -> Result<Fact, PayloadError> {
        Ok(Fact::PaymentFailed { invoice: None, subscription: Some(reference(&subscription()?.id)?), retry_at: None })
    };
    let facts = match notification.kind.as_str() {
        "check" => Vec::new(),
        "subscription_charged_successfully" => {
            let mut facts = vec![status(SubscriptionStatus::Active)?];
            facts.extend(payments(PaymentStatus::Succeeded)?);
            facts
        }
        "subscription_charged_unsuccessfully" => {
            let mut facts = vec![failed()?];
            facts.extend(payments(PaymentStatus::Failed)?);
            facts
        }
        "subscription_went_past_due" => vec![failed()?],
        "subscription_expired" => vec![status(SubscriptionStatus::Expired)?],
        "subscription_canceled" => vec![status(SubscriptionStatus::Canceled)?],
        "subscription_went_active" => vec![status(SubscriptionStatus::Active)?],
        "payment_method_revoked_by_customer" => {
            let method = subject
                .paypal_account
                .as_ref()
                .or(subject.credit_card.as_ref())
                .ok_or_else(|| PayloadError::new("no payment method in the notification"))?;
            vec![Fact::CardRemoved { card: reference(&method.token)? }]
        }
        _ => Vec::new(),
    };
    Ok(Delivery {
        provider: Provider::Braintree,
        // Signatures are accepted with or without a trailing newline: so is the id.
        id: hmac_check::digest_hex(payload.trim_end_matches('\n').as_bytes()),
        kind: notification.kind,
        occurred_at,
        facts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/webhooks/", $name))
        };
    }

    fn keys() -> Vec<BraintreeKeys> {
        vec![BraintreeKeys { public_key: "integration_public_key".into(), private_key: "integration_private_key".into() }]
    }

    #[test]
    fn answers_the_official_challenge_vector() {
        assert_eq!(
            answer_challenge("20f9f8ed05f77439fe955c977e4c8a53", &keys()[0]).unwrap(),
            "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"
        );
        assert!(answer_challenge("not-hex", &keys()[0]).is_err());
        assert!(answer_challenge("20F9F8ED05F77439FE955C977E4C8A53", &keys()[0]).is_err());
    }

    #[test]
    fn the_hmac_is_keyed_by_the_sha1_of_the_private_key() {
        // braintree_python's Crypto.sha1_hmac_hash("secretKey", "hello world").
        assert_eq!(hmac_check::braintree_hex("secretKey", b"hello world"), "d503d7a1a6adba1e6474e9ff2c4167f9dfdf4247");
    }

    #[test]
    fn verifies_and_reads_every_sample_notification() {
        let samples: serde_json::Value = serde_json::from_str(fixture!("braintree_sample_notifications.json")).unwrap();
        let samples = samples["notifications"].as_array().or_else(|| samples.as_array()).cloned().unwrap_or_default();
        assert!(samples.len() >= 7, "{samples:?}");
        for sample in samples {
            let file = sample["bt_payload_file"].as_str().unwrap();
            let payload = &std::fs::read_to_string(format!("{}/../tests/fixtures/webhooks/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let signature = sample["bt_signature"].as_str().unwrap();
            verify(signature, payload, &keys()).unwrap();
            let delivery = parse(payload, Currency::EUR).unwrap();
            assert_eq!(delivery.occurred_at, "2025-01-15T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
            assert_eq!(Some(delivery.kind.as_str()), sample["kind"].as_str());
            // Tampering with one character breaks the signature.
            let mut tampered = payload.to_string();
            tampered.replace_range(10..11, if &payload[10..11] == "A" { "B" } else { "A" });
            assert_eq!(verify(signature, &tampered, &keys()), Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn maps_each_kind_to_facts() {
        let read = |payload: &str| parse(payload, Currency::EUR).unwrap().facts;
        let sub = |id: &str| ProviderRef::new(Provider::Braintree, id).unwrap();
        assert_eq!(read(fixture!("braintree_sample_check.bt_payload.txt")), vec![]);
        assert_eq!(
            read(fixture!("braintree_sample_subscription_charged_successfully.bt_payload.txt")),
            vec![Fact::SubscriptionStatus { subscription: sub("sub_charged_ok_id"), status: SubscriptionStatus::Active }]
        );
        assert_eq!(
            read(fixture!("braintree_sample_subscription_went_past_due.bt_payload.txt")),
            vec![Fact::PaymentFailed { invoice: None, subscription: Some(sub("sub_past_due_id")), retry_at: None }]
        );
        assert_eq!(
            read(fixture!("braintree_sample_subscription_canceled.bt_payload.txt")),
            vec![Fact::SubscriptionStatus { subscription: sub("sub_canceled_id"), status: SubscriptionStatus::Canceled }]
        );
        assert_eq!(
            read(fixture!("braintree_sample_payment_method_revoked_by_customer.bt_payload.txt")),
            vec![Fact::CardRemoved { card: sub("revoked_pm_token") }]
        );
    }

    #[test]
    fn refuses_bad_signatures_and_payloads() {
        let payload = fixture!("braintree_sample_check.bt_payload.txt");
        let signature = "integration_public_key|6451aba92fe0d82e2fca3834973cfaa694d2edf4";
        assert!(verify(signature, payload, &keys()).is_ok());
        assert!(verify(&format!("other_key|abc&{signature}"), payload, &keys()).is_ok(), "pairs joined with &");
        assert_eq!(verify("other_key|6451aba92fe0d82e2fca3834973cfaa694d2edf4", payload, &keys()), Err(SignatureError::Mismatch));
        assert_eq!(verify("garbage", payload, &keys()), Err(SignatureError::Mismatch));
        assert!(matches!(verify(signature, "<xml>", &keys()), Err(SignatureError::Malformed(_))));
        assert_eq!(verify(signature, payload, &[]), Err(SignatureError::NoSecret));
        assert!(parse("bm90IHhtbA==", Currency::EUR).is_err());
        assert!(parse("!!!", Currency::EUR).is_err());
    }

    #[test]
    fn form_fields_come_from_the_raw_body() {
        let body = b"bt_signature=pub%7Cabc&bt_payload=PG5vdGlmaWNhdGlvbj4%3D%0A";
        let (signature, payload) = form_fields(body).unwrap();
        assert_eq!(signature, "pub|abc");
        assert_eq!(payload, "PG5vdGlmaWNhdGlvbj4=\n");
        assert_eq!(form_fields(b"bt_payload=x"), Err(SignatureError::Missing("bt_signature")));
    }
}
