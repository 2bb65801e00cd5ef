//! Our own signed JSON format, for any billing system without a connector (Pennylane, Sage,
//! a home-made ERP): customers, invoices and payments pushed as they change.
//!
//! Signed exactly like Stripe (`Relance-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of
//! "<t>.<body>">`, 300 s tolerance) with its own secret, so any Stripe signing snippet works.
//! Amounts are decimal strings in the currency's unit (`"120.00"` EUR), parsed exactly.
//! Unknown fields are refused, so a typo is a 400 and not a silently ignored field.
//!
//! ```json
//! {
//!   "id": "erp-2026-11-25-0001",
//!   "occurred_at": "2026-11-25T08:00:00Z",
//!   "customers": [{"id": "C-42", "name": "Camille Martin", "email": "camille@example.org",
//!                  "phone": "+33612345678", "locale": "fr", "dates": {"lease_start": "2026-09-01"},
//!                  "tags": ["b2b"], "lists": ["Clients"]}],
//!   "invoices": [{"id": "F-2026-042", "customer_id": "C-42", "number": "F-2026-042",
//!                 "currency": "EUR", "amount_due": "120.00", "amount_paid": "0.00",
//!                 "status": "open", "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-12-01",
//!                 "mission_id": "01JD…"}],
//!   "payments": [{"id": "P-9", "customer_id": "C-42", "invoice_id": "F-2026-042",
//!                 "currency": "EUR", "amount": "120.00", "status": "failed",
//!                 "failure_reason": "insufficient_funds"}]
//! }
//! ```

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{PayloadError, SignatureError, stripe};
use std::collections::BTreeSet;

use crate::domain::{Currency, Email, InvoiceStatus, Locale, MissionId, Money, PaymentStatus, PhoneE164, Provider, ProviderRef};
use crate::facts::{CustomerFacts, Delivery, Fact, InvoiceFacts, PaymentFacts};

pub const SIGNATURE_HEADER: &str = "Relance-Signature";

/// Customers, invoices and payments in one document, at most.
pub const MAX_ENTRIES: usize = 25;

/// Same scheme as Stripe's.
pub fn verify(header: Option<&str>, body: &[u8], secrets: &[String], now: DateTime<Utc>) -> Result<DateTime<Utc>, SignatureError> {
    let header = header.ok_or(SignatureError::Missing("Relance-Signature header"))?;
    stripe::verify(Some(header), body, secrets, now, stripe::DEFAULT_TOLERANCE_SECS)
}

pub fn sign(body: &[u8], secret: &str, t: i64) -> String {
    stripe::sign(body, secret, t)
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Document {
    id: String,
    occurred_at: DateTime<Utc>,
    #[serde(default)]
    customers: Vec<GenericCustomer>,
    #[serde(default)]
    invoices: Vec<GenericInvoice>,
    #[serde(default)]
    payments: Vec<GenericPayment>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericCustomer {
    id: String,
    name: Option<String>,
    email: Option<String>,
    phone: Option<String>,
    /// ISO country for national phone numbers (`FR`).
    country: Option<String>,
    locale: Option<String>,
    /// Business dates for date rules (`{"lease_start": "2026-09-01"}`).
    #[serde(default)]
    dates: std::collections::BTreeMap<String, NaiveDate>,
    /// Labels for date rules' audiences (`["b2b"]`): given, they replace the customer's.
    tags: Option<BTreeSet<String>>,
    /// Mailing lists (`["Clients"]`): given, they replace the customer's.
    lists: Option<BTreeSet<String>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericInvoice {
    id: String,
    customer_id: String,
    number: Option<String>,
    currency: String,
    amount_due: String,
    #[serde(default)]
    amount_paid: Option<String>,
    status: GenericInvoiceStatus,
    issued_at: DateTime<Utc>,
    due_date: NaiveDate,
    /// Where the customer pays it (an https URL), if the sender has such a page.
    #[serde(default)]
    payment_url: Option<String>,
    /// Our id of the agency mission it bills (`GET /admin/missions`).
    #[serde(default)]
    mission_id: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum GenericInvoiceStatus {
    Draft,
    Open,
    Paid,
    Void,
    Uncollectible,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericPayment {
    id: String,
    customer_id: String,
    invoice_id: Option<String>,
    currency: String,
    amount: String,
    status: GenericPaymentStatus,
    failure_reason: Option<String>,
    #[serde(default)]
    amount_refunded: Option<String>,
}

#[derive(Deserialize, Clone, Copy, PartialEq)]
#[serde(rename_all = "snake_case")]
enum GenericPaymentStatus {
    Pending,
    Succeeded,
    Failed,
}

fn bad(e: impl std::fmt::Display) -> PayloadError {
    PayloadError::new(e.to_string())
}

fn reference(id: &str) -> Result<ProviderRef, PayloadError> {
    ProviderRef::new(Provider::Generic, id).map_err(bad)
}

fn money(amount: &str, currency: Currency) -> Result<Money, PayloadError> {
    Money::parse_decimal(amount, currency).map_err(bad)
}

pub fn parse(body: &[u8]) -> Result<Delivery, PayloadError> {
    let document: Document = serde_json::from_slice(body).map_err(|e| PayloadError::new(format!("not a Relance document: {e}")))?;
    // One document is applied in one transaction (at most 100 writes): keep it well inside.
    let entries = document.customers.len() + document.invoices.len() + document.payments.len();
    if entries > MAX_ENTRIES {
        return Err(PayloadError::new(format!("{entries} entries in one document; send at most {MAX_ENTRIES} per delivery")));
    }
    let mut facts = Vec::new();
    for c in &document.customers {
        let email = c.email.as_deref().map(Email::parse).transpose().map_err(bad)?;
        let phone = c.phone.as_deref().map(|p| PhoneE164::parse(p, c.country.as_deref())).transpose().map_err(bad)?;
        let locale = c.locale.as_deref().map(Locale::parse).transpose().map_err(bad)?;
        let dates = c
            .dates
            .iter()
            .map(|(field, date)| Ok((crate::domain::label(field)?, *date)))
            .collect::<Result<Vec<_>, crate::domain::LabelError>>()
            .map_err(|e| PayloadError::new(format!("customers[].dates: {e}")))?;
        let labels = |values: &Option<BTreeSet<String>>, field: &str| -> Result<Option<BTreeSet<String>>, PayloadError> {
            let Some(values) = values else { return Ok(None) };
            crate::domain::labels(values.iter().map(String::as_str).filter(|v| !v.trim().is_empty()))
                .map(Some)
                .map_err(|e| PayloadError::new(format!("customers[].{field}: {e}")))
        };
        facts.push(Fact::Customer(CustomerFacts {
            reference: reference(&c.id)?,
            name: c.name.clone(),
            email,
            phone,
            locale,
            dates,
            tags: labels(&c.tags, "tags")?,
            lists: labels(&c.lists, "lists")?,
        }));
    }
    for i in &document.invoices {
        let currency: Currency = i.currency.parse().map_err(bad)?;
        let amount_due = money(&i.amount_due, currency)?;
        let amount_paid = money(i.amount_paid.as_deref().unwrap_or("0"), currency)?;
        let status = match i.status {
            GenericInvoiceStatus::Draft => InvoiceStatus::Draft,
            GenericInvoiceStatus::Open if amount_paid.is_positive() => InvoiceStatus::PartiallyPaid,
            GenericInvoiceStatus::Open => InvoiceStatus::Open,
            GenericInvoiceStatus::Paid => InvoiceStatus::Paid,
            GenericInvoiceStatus::Void => InvoiceStatus::Void,
            GenericInvoiceStatus::Uncollectible => InvoiceStatus::Uncollectible,
        };
        facts.push(Fact::Invoice(InvoiceFacts {
            mission: i.mission_id.as_deref().map(MissionId::parse).transpose().map_err(|e| bad(format!("invoices[].mission_id: {e}")))?,
            reference: reference(&i.id)?,
            customer: CustomerFacts::reference_only(reference(&i.customer_id)?),
            number: i.number.clone(),
            amount_due,
            amount_paid,
            status,
            issued_at: i.issued_at,
            due_date: Some(i.due_date),
            subscription: None,
            retry_at: None,
            payment_link: match &i.payment_url {
                Some(url) if url.starts_with("https://") => Some(url.clone()),
                Some(_) => return Err(PayloadError::new("payment_url must be an https URL")),
                None => None,
            },
        }));
    }
    for p in &document.payments {
        let currency: Currency = p.currency.parse().map_err(bad)?;
        let invoice = p.invoice_id.as_deref().map(reference).transpose()?;
        facts.push(Fact::Payment(PaymentFacts {
            reference: reference(&p.id)?,
            customer: CustomerFacts::reference_only(reference(&p.customer_id)?),
            invoice: invoice.clone(),
            amount: money(&p.amount, currency)?,
            status: match p.status {
                GenericPaymentStatus::Pending => PaymentStatus::Pending,
                GenericPaymentStatus::Succeeded => PaymentStatus::Succeeded,
                GenericPaymentStatus::Failed => PaymentStatus::Failed,
            },
            failure_reason: p.failure_reason.clone(),
            amount_refunded: money(p.amount_refunded.as_deref().unwrap_or("0"), currency)?,
        }));
        if p.status == GenericPaymentStatus::Failed {
            facts.push(Fact::PaymentFailed { invoice, subscription: None, retry_at: None });
        }
    }
    Ok(Delivery { provider: Provider::Generic, id: document.id, kind: "document".into(), occurred_at: document.occurred_at, facts })
}

#[cfg(test)]
mod tests {
    use super::*;

    const EXAMPLE: &str = r#"{
      "id": "erp-2026-11-25-0001",
      "occurred_at": "2026-11-25T08:00:00Z",
      "customers": [{"id": "C-42", "name": "Camille Martin", "email": "camille@example.org", "phone": "06 12 34 56 78", "country": "FR", "locale": "fr"}],
      "invoices": [{"id": "F-2026-042", "customer_id": "C-42", "number": "F-2026-042", "currency": "EUR", "amount_due": "120.00",
                    "amount_paid": "20.00", "status": "open", "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-12-01"}],
      "payments": [{"id": "P-9", "customer_id": "C-42", "invoice_id": "F-2026-042", "currency": "EUR", "amount": "100.00",
                    "status": "failed", "failure_reason": "insufficient_funds"}]
    }"#;

    #[test]
    fn reads_the_documented_example() {
        let delivery = parse(EXAMPLE.as_bytes()).unwrap();
        assert_eq!(delivery.id, "erp-2026-11-25-0001");
        assert_eq!(delivery.facts.len(), 4);
        let Fact::Invoice(invoice) = &delivery.facts[1] else { panic!() };
        assert_eq!(invoice.status, InvoiceStatus::PartiallyPaid);
        assert_eq!(invoice.amount_due, Money::from_minor(12000, Currency::EUR));
        assert!(matches!(&delivery.facts[3], Fact::PaymentFailed { invoice: Some(r), .. } if r.id == "F-2026-042"));
    }

    #[test]
    fn refuses_typos_imprecise_amounts_and_bad_contacts() {
        assert!(parse(EXAMPLE.replace("\"amount_due\"", "\"amount_owed\"").as_bytes()).is_err());
        assert!(parse(EXAMPLE.replace("\"120.00\"", "\"120.005\"").as_bytes()).is_err());
        assert!(parse(EXAMPLE.replace("camille@example.org", "camille").as_bytes()).is_err());
        assert!(parse(EXAMPLE.replace("\"open\"", "\"opened\"").as_bytes()).is_err());
        assert!(parse(b"{}").is_err());
        let many: Vec<String> = (0..26).map(|i| format!(r#"{{"id": "C-{i}"}}"#)).collect();
        let big = format!(r#"{{"id": "x", "occurred_at": "2026-11-25T08:00:00Z", "customers": [{}]}}"#, many.join(","));
        assert!(parse(big.as_bytes()).unwrap_err().0.contains("at most 25"));
    }

    #[test]
    fn tags_follow_the_one_label_rule_and_blank_ones_are_dropped() {
        let with = |tags: &str| EXAMPLE.replace(r#""locale": "fr"}"#, &format!(r#""locale": "fr", "tags": {tags}}}"#));
        let delivery = parse(with(r#"["b2b", " ", ""]"#).as_bytes()).unwrap();
        let Fact::Customer(customer) = &delivery.facts[0] else { panic!() };
        assert_eq!(customer.tags.as_ref().map(|t| t.iter().cloned().collect::<Vec<_>>()), Some(vec!["b2b".to_string()]));
        let refused = parse(with(r#"["b2b;drop"]"#).as_bytes()).unwrap_err();
        assert!(refused.0.starts_with("customers[].tags:"), "{}", refused.0);
    }

    #[test]
    fn is_signed_like_stripe() {
        let now: DateTime<Utc> = "2026-11-25T08:00:10Z".parse().unwrap();
        let header = sign(EXAMPLE.as_bytes(), "relance_secret", now.timestamp() - 10);
        assert!(verify(Some(&header), EXAMPLE.as_bytes(), &["relance_secret".into()], now).is_ok());
        assert_eq!(
            verify(None, EXAMPLE.as_bytes(), &["relance_secret".into()], now),
            Err(SignatureError::Missing("Relance-Signature header"))
        );
    }
}
