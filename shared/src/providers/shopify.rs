//! Shopify: `X-Shopify-Hmac-Sha256` (base64 HMAC-SHA256 of the raw body with the app's
//! secret) and the topic, webhook id and shop headers.
//!
//! An order is an invoice to us (a pending bank-transfer order is money owed, a paid one is
//! settled, a cancelled one void), and `orders/create` also queues the post-purchase
//! thank-you. The delivery id is `X-Shopify-Webhook-Id`, which Shopify keeps across retries.

use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;

use super::hmac_check;
use super::{PayloadError, SignatureError};
use crate::domain::{Currency, Email, InvoiceStatus, Locale, Money, PhoneE164, Provider, ProviderRef};
use crate::facts::{CustomerFacts, Delivery, Fact, InvoiceFacts, OrderFacts};

/// The headers a delivery is read with (names are case-insensitive; callers pass values).
#[derive(Debug, Clone, Default)]
pub struct ShopifyHeaders {
    pub topic: Option<String>,
    pub webhook_id: Option<String>,
    pub triggered_at: Option<String>,
}

pub fn verify(hmac_header: Option<&str>, body: &[u8], secrets: &[String]) -> Result<(), SignatureError> {
    let header = hmac_header.ok_or(SignatureError::Missing("X-Shopify-Hmac-Sha256 header"))?;
    if secrets.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    let signature = base64::engine::general_purpose::STANDARD
        .decode(header.trim())
        .map_err(|_| SignatureError::Malformed("X-Shopify-Hmac-Sha256 is not base64".into()))?;
    if secrets.iter().any(|secret| hmac_check::sha256_matches(secret.as_bytes(), &[body], &signature)) {
        Ok(())
    } else {
        Err(SignatureError::Mismatch)
    }
}

/// The `X-Shopify-Hmac-Sha256` value for `body` (tests, local `curl`).
pub fn sign(body: &[u8], secret: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(hmac_check::sha256(secret.as_bytes(), &[body]))
}

pub fn parse(headers: &ShopifyHeaders, body: &[u8]) -> Result<Delivery, PayloadError> {
    let topic = headers.topic.clone().ok_or_else(|| PayloadError::new("X-Shopify-Topic header is missing"))?;
    headers.webhook_id.as_ref().ok_or_else(|| PayloadError::new("X-Shopify-Webhook-Id header is missing"))?;
    // The HMAC covers the body only: the delivery's identity is derived from what is signed
    // (and the topic), so a captured body replayed under a new webhook id is still a duplicate.
    let id = hmac_check::digest_hex(&[topic.as_bytes(), b"\n", body].concat());
    let object: Value = if topic.starts_with("orders/") {
        order_fields(body)?
    } else {
        serde_json::from_slice(body).map_err(|e| PayloadError::new(format!("not JSON: {e}")))?
    };
    if !object.is_object() {
        return Err(PayloadError::new("the body is not a JSON object"));
    }
    // Ordered by the signed body's own time; the unsigned Triggered-At header only when the
    // body has none.
    let header_time = headers.triggered_at.as_deref().and_then(|t| t.parse::<DateTime<Utc>>().ok());
    let occurred_at = time(&object, "updated_at")
        .or_else(|| time(&object, "created_at"))
        .or(header_time)
        .ok_or_else(|| PayloadError::new("no updated_at and no X-Shopify-Triggered-At header"))?;
    let facts = match topic.as_str() {
        "orders/create" => {
            let (invoice, customer) = order(&object)?;
            match (invoice, customer) {
                (Some(invoice), Some(customer)) => {
                    let thank_you = Fact::Order(OrderFacts {
                        reference: invoice.reference.clone(),
                        customer,
                        total: invoice.amount_due,
                        name: text(&object, "name"),
                    });
                    vec![Fact::Invoice(invoice), thank_you]
                }
                _ => Vec::new(),
            }
        }
        "orders/paid" | "orders/cancelled" | "orders/updated" => order(&object)?.0.map(Fact::Invoice).into_iter().collect(),
        "refunds/create" => refund(&object)?.into_iter().collect(),
        "customers/create" | "customers/update" => vec![Fact::Customer(customer(&object)?)],
        // Shopify's mandatory privacy topics.
        "customers/redact" => vec![Fact::CustomerErased { customer: privacy_customer(&object)? }],
        "customers/data_request" => {
            let request = field(&object, "data_request").and_then(|r| self::id(r, "id")).unwrap_or_else(|| "?".into());
            vec![Fact::DataRequested { customer: privacy_customer(&object)?, request }]
        }
        "shop/redact" => vec![Fact::ProviderCustomersErased],
        _ => Vec::new(),
    };
    Ok(Delivery { provider: Provider::Shopify, id, kind: topic, occurred_at, facts })
}

/// The order fields we read. An order is a few kilobytes of line items, taxes and
/// addresses we never look at: reading only these (serde skips the rest without building
/// it) makes an order delivery several times cheaper than a whole JSON tree.
#[derive(serde::Deserialize)]
struct OrderFields {
    id: Option<Value>,
    name: Option<Value>,
    currency: Option<Value>,
    customer: Option<Value>,
    email: Option<Value>,
    phone: Option<Value>,
    customer_locale: Option<Value>,
    total_price: Option<Value>,
    total_outstanding: Option<Value>,
    financial_status: Option<Value>,
    cancelled_at: Option<Value>,
    created_at: Option<Value>,
    updated_at: Option<Value>,
}

/// The order's fields we read, as the object the rest of this module reads.
fn order_fields(body: &[u8]) -> Result<Value, PayloadError> {
    let f: OrderFields = serde_json::from_slice(body).map_err(|e| PayloadError::new(format!("not a JSON order: {e}")))?;
    let fields = [
        ("id", f.id),
        ("name", f.name),
        ("currency", f.currency),
        ("customer", f.customer),
        ("email", f.email),
        ("phone", f.phone),
        ("customer_locale", f.customer_locale),
        ("total_price", f.total_price),
        ("total_outstanding", f.total_outstanding),
        ("financial_status", f.financial_status),
        ("cancelled_at", f.cancelled_at),
        ("created_at", f.created_at),
        ("updated_at", f.updated_at),
    ];
    Ok(Value::Object(fields.into_iter().filter_map(|(k, v)| v.map(|v| (k.to_string(), v))).collect()))
}

fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

fn text(object: &Value, name: &str) -> Option<String> {
    field(object, name).and_then(Value::as_str).map(str::to_string).filter(|s| !s.trim().is_empty())
}

fn time(object: &Value, name: &str) -> Option<DateTime<Utc>> {
    text(object, name).and_then(|t| DateTime::parse_from_rfc3339(&t).ok()).map(|t| t.with_timezone(&Utc))
}

/// Shopify ids are numbers in REST payloads and strings in some others.
fn id(object: &Value, name: &str) -> Option<String> {
    match field(object, name)? {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        _ => None,
    }
}

fn reference(id: &str) -> Result<ProviderRef, PayloadError> {
    ProviderRef::new(Provider::Shopify, id).map_err(|e| PayloadError::new(e.to_string()))
}

fn amount(object: &Value, name: &str, currency: Currency) -> Result<Money, PayloadError> {
    let text = text(object, name).unwrap_or_else(|| "0".into());
    Money::parse_decimal(&text, currency).map_err(|e| PayloadError::new(format!("{name}: {e}")))
}

fn customer(object: &Value) -> Result<CustomerFacts, PayloadError> {
    let id = id(object, "id").ok_or_else(|| PayloadError::new("customer id is missing"))?;
    let name = [text(object, "first_name"), text(object, "last_name")].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let country = field(object, "default_address").and_then(|a| text(a, "country_code"));
    Ok(CustomerFacts {
        tags: None,
        lists: None,
        reference: reference(&id)?,
        name: Some(name).filter(|n| !n.is_empty()),
        email: text(object, "email").and_then(|e| Email::parse(&e).ok()),
        phone: text(object, "phone").and_then(|p| PhoneE164::parse(&p, country.as_deref()).ok()),
        locale: text(object, "locale").and_then(|l| Locale::parse(&l).ok()),
        dates: Vec::new(),
    })
}

/// The customer a privacy topic names (`{"customer": {"id": 191167, …}}`).
fn privacy_customer(object: &Value) -> Result<ProviderRef, PayloadError> {
    let id = field(object, "customer").and_then(|c| id(c, "id")).ok_or_else(|| PayloadError::new("customer.id is missing"))?;
    reference(&id)
}

/// The order as an invoice, and who placed it (`None` for an order with no customer and no
/// email: there is nobody to follow up with).
fn order(object: &Value) -> Result<(Option<InvoiceFacts>, Option<CustomerFacts>), PayloadError> {
    let order_id = id(object, "id").ok_or_else(|| PayloadError::new("order id is missing"))?;
    let currency: Currency = text(object, "currency")
        .ok_or_else(|| PayloadError::new("order currency is missing"))?
        .parse()
        .map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?;
    let customer = match field(object, "customer") {
        Some(c) if id(c, "id").is_some() => {
            let mut facts = customer(c)?;
            facts.locale = facts.locale.or_else(|| text(object, "customer_locale").and_then(|l| Locale::parse(&l).ok()));
            Some(facts)
        }
        // A guest checkout: the order's email identifies the buyer.
        _ => match text(object, "email").and_then(|e| Email::parse(&e).ok()) {
            Some(email) => Some(CustomerFacts {
                tags: None,
                lists: None,
                reference: reference(&format!("guest:{email}"))?,
                name: None,
                email: Some(email),
                phone: text(object, "phone").and_then(|p| PhoneE164::parse(&p, None).ok()),
                locale: text(object, "customer_locale").and_then(|l| Locale::parse(&l).ok()),
                dates: Vec::new(),
            }),
            None => None,
        },
    };
    let Some(customer) = customer else { return Ok((None, None)) };
    let total = amount(object, "total_price", currency)?;
    let outstanding = amount(object, "total_outstanding", currency)?;
    let cancelled = field(object, "cancelled_at").is_some();
    let (status, paid) = match text(object, "financial_status").as_deref() {
        _ if cancelled => (InvoiceStatus::Void, Money::zero(currency)),
        Some("paid") | Some("partially_refunded") | Some("refunded") => (InvoiceStatus::Paid, total),
        Some("partially_paid") => {
            let paid = total.checked_sub(outstanding).map_err(|e| PayloadError::new(e.to_string()))?;
            (InvoiceStatus::PartiallyPaid, paid)
        }
        Some("voided") => (InvoiceStatus::Void, Money::zero(currency)),
        Some("pending") | Some("authorized") | None => (InvoiceStatus::Open, Money::zero(currency)),
        Some(other) => return Err(PayloadError::new(format!("unknown financial_status {other:?}"))),
    };
    let issued_at = time(object, "created_at").ok_or_else(|| PayloadError::new("order created_at is missing"))?;
    let invoice = InvoiceFacts {
        mission: None,
        reference: reference(&order_id)?,
        customer: customer.clone(),
        number: text(object, "name").map(|n| n.trim_start_matches('#').to_string()),
        amount_due: total,
        amount_paid: paid,
        status,
        issued_at,
        // A shop order is due when placed.
        due_date: Some(issued_at.date_naive()),
        subscription: None,
        retry_at: None,
        payment_link: None,
    };
    Ok((Some(invoice), Some(customer)))
}

fn refund(object: &Value) -> Result<Option<Fact>, PayloadError> {
    let refund_id = id(object, "id").ok_or_else(|| PayloadError::new("refund id is missing"))?;
    let order_id = id(object, "order_id").ok_or_else(|| PayloadError::new("refund order_id is missing"))?;
    let transactions = field(object, "transactions").and_then(Value::as_array).cloned().unwrap_or_default();
    let mut total: Option<Money> = None;
    for transaction in transactions.iter().filter(|t| text(t, "kind").as_deref() == Some("refund")) {
        if text(transaction, "status").as_deref().is_some_and(|s| s != "success") {
            continue;
        }
        let currency: Currency = text(transaction, "currency")
            .ok_or_else(|| PayloadError::new("refund transaction currency is missing"))?
            .parse()
            .map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?;
        let amount = amount(transaction, "amount", currency)?;
        total = Some(match total {
            Some(sum) => sum.checked_add(amount).map_err(|e| PayloadError::new(e.to_string()))?,
            None => amount,
        });
    }
    Ok(total.map(|amount| Fact::Refund {
        invoice: ProviderRef { provider: Provider::Shopify, id: order_id },
        refund: ProviderRef { provider: Provider::Shopify, id: format!("refund:{refund_id}") },
        amount,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/webhooks/", $name))
        };
    }

    fn headers(topic: &str) -> ShopifyHeaders {
        ShopifyHeaders { topic: Some(topic.into()), webhook_id: Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043".into()), triggered_at: None }
    }

    #[test]
    fn verifies_shopify_app_js_official_vector() {
        let body = fixture!("shopify_app_js_validate_test_body.json");
        let secrets = vec!["test_secret_key".to_string()];
        assert_eq!(sign(body, "test_secret_key"), "B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g=");
        assert!(verify(Some("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="), body, &secrets).is_ok());
        assert_eq!(
            verify(Some("B23tXN681gZ0qIWNRrgtzBE9XSDo5yaUu6wfmhu3a7g="), b"{\"foo\": \"baz\"}", &secrets),
            Err(SignatureError::Mismatch)
        );
        assert!(matches!(verify(Some("not base64!"), body, &secrets), Err(SignatureError::Malformed(_))));
        assert_eq!(verify(None, body, &secrets), Err(SignatureError::Missing("X-Shopify-Hmac-Sha256 header")));
        // The derived vector over the unwrapped paid order.
        assert!(
            verify(
                Some("+WEdaVS5AcqlkSYGbE03upCqM3TVyvCxyuMef/sj2RQ="),
                fixture!("shopify_order_1073459976_paid.unwrapped.json"),
                &secrets
            )
            .is_ok()
        );
    }

    #[test]
    fn an_order_with_a_customer_is_an_invoice_and_a_thank_you() {
        let delivery = parse(&headers("orders/create"), fixture!("shopify_order_450789469.unwrapped.json")).unwrap();
        // The id is the signed body's (and topic's) digest, whatever the webhook id header says.
        let mut other_id = headers("orders/create");
        other_id.webhook_id = Some("another".into());
        assert_eq!(parse(&other_id, fixture!("shopify_order_450789469.unwrapped.json")).unwrap().id, delivery.id);
        assert_ne!(parse(&headers("orders/paid"), fixture!("shopify_order_450789469.unwrapped.json")).unwrap().id, delivery.id);
        assert_eq!(delivery.occurred_at, "2008-01-10T16:00:00Z".parse::<DateTime<Utc>>().unwrap());
        let [Fact::Invoice(invoice), Fact::Order(order)] = &delivery.facts[..] else { panic!("{:?}", delivery.facts) };
        assert_eq!(invoice.reference.id, "450789469");
        assert_eq!(invoice.number.as_deref(), Some("1001"));
        assert_eq!(invoice.amount_due, Money::from_minor(59894, Currency::USD));
        assert_eq!(invoice.status, InvoiceStatus::Paid, "partially refunded orders were paid");
        assert_eq!(invoice.customer.reference.id, "207119551");
        assert_eq!(invoice.customer.name.as_deref(), Some("Bob Norman"));
        assert_eq!(invoice.customer.email.as_ref().map(|e| e.as_str()), Some("bob.norman@mail.example.com"));
        assert_eq!(order.total, invoice.amount_due);
    }

    #[test]
    fn a_guest_order_without_email_concerns_nobody() {
        // The paid REST example has no customer and an empty email.
        let delivery = parse(&headers("orders/create"), fixture!("shopify_order_1073459976_paid.unwrapped.json")).unwrap();
        assert!(delivery.facts.is_empty());
        let mut order: Value = serde_json::from_slice(fixture!("shopify_order_1073459976_paid.unwrapped.json")).unwrap();
        order["email"] = "guest@example.org".into();
        order["financial_status"] = "pending".into();
        let delivery = parse(&headers("orders/create"), &serde_json::to_vec(&order).unwrap()).unwrap();
        let Fact::Invoice(invoice) = &delivery.facts[0] else { panic!("{:?}", delivery.facts) };
        assert_eq!(invoice.customer.reference.id, "guest:guest@example.org");
        assert_eq!(invoice.status, InvoiceStatus::Open);
        assert_eq!(invoice.amount_due, Money::from_minor(23847, Currency::EUR));
    }

    #[test]
    fn cancellations_refunds_and_customers() {
        let mut order: Value = serde_json::from_slice(fixture!("shopify_order_450789469.unwrapped.json")).unwrap();
        order["cancelled_at"] = "2008-01-11T11:00:00-05:00".into();
        let delivery = parse(&headers("orders/cancelled"), &serde_json::to_vec(&order).unwrap()).unwrap();
        assert!(matches!(&delivery.facts[..], [Fact::Invoice(i)] if i.status == InvoiceStatus::Void));

        let refund = serde_json::json!({"id": 509562969, "order_id": 450789469, "created_at": "2008-01-12T11:00:00-05:00",
            "transactions": [{"kind": "refund", "status": "success", "amount": "41.94", "currency": "USD"},
                             {"kind": "refund", "status": "failure", "amount": "10.00", "currency": "USD"}]});
        let delivery = parse(&headers("refunds/create"), &serde_json::to_vec(&refund).unwrap()).unwrap();
        assert!(matches!(&delivery.facts[..], [Fact::Refund { amount, .. }] if *amount == Money::from_minor(4194, Currency::USD)));

        let customer = serde_json::json!({"id": 706405506, "email": "marie@example.fr", "first_name": "Marie", "last_name": "Curie",
            "phone": "06 12 34 56 78", "updated_at": "2026-11-25T09:00:00+01:00", "default_address": {"country_code": "FR"}});
        let delivery = parse(&headers("customers/update"), &serde_json::to_vec(&customer).unwrap()).unwrap();
        let Fact::Customer(c) = &delivery.facts[0] else { panic!() };
        assert_eq!(c.phone.as_ref().map(|p| p.as_str()), Some("+33612345678"));
        assert_eq!(c.name.as_deref(), Some("Marie Curie"));
    }

    #[test]
    fn missing_headers_and_bad_bodies_are_refused() {
        let body = fixture!("shopify_order_450789469.unwrapped.json");
        assert!(parse(&ShopifyHeaders { topic: None, ..headers("x") }, body).is_err());
        assert!(parse(&ShopifyHeaders { webhook_id: None, ..headers("orders/create") }, body).is_err());
        assert!(parse(&headers("orders/create"), b"[1,2]").is_err());
        assert!(parse(&headers("orders/create"), b"{").is_err());
        let unknown = parse(&headers("products/create"), br#"{"id": 1, "updated_at": "2026-11-25T09:00:00Z"}"#).unwrap();
        assert!(unknown.facts.is_empty());
    }
}
