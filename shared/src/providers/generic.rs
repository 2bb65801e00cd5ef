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
//!                 "failure_reason": "insufficient_funds"}],
//!   "subscriptions": [{"id": "A-7", "customer_id": "C-42", "plan": "Potager solo",
//!                      "currency": "EUR", "amount": "25.00", "interval": "month",
//!                      "status": "active", "current_period_start": "2026-11-01T00:00:00Z",
//!                      "current_period_end": "2026-12-01T00:00:00Z",
//!                      "cancel_at_period_end": false, "manual_renewal": true}]
//! }
//! ```
//!
//! A subscription renews by itself unless `cancel_at_period_end` (the customer asked to stop)
//! or `manual_renewal` (the customer renews by paying, not by a charge) says otherwise: those
//! two get the renewal reminders. An invoice may name the subscription it bills
//! (`subscription_id`).

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::{PayloadError, SignatureError, stripe};
use std::collections::BTreeSet;

use crate::domain::{
    BillingInterval, Currency, Email, InvoiceStatus, Locale, MissionId, Money, PaymentStatus, PhoneE164, Provider, ProviderRef,
    SubscriptionStatus,
};
use crate::facts::{CustomerFacts, Delivery, Fact, InvoiceFacts, PaymentFacts, SubscriptionFacts};

pub const SIGNATURE_HEADER: &str = "Relance-Signature";

/// Customers, invoices, payments and subscriptions in one document, at most.
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
    #[serde(default)]
    subscriptions: Vec<GenericSubscription>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct GenericSubscription {
    id: String,
    customer_id: String,
    plan: String,
    currency: String,
    /// The price of one period.
    amount: String,
    interval: GenericInterval,
    status: GenericSubscriptionStatus,
    current_period_start: DateTime<Utc>,
    current_period_end: DateTime<Utc>,
    #[serde(default)]
    cancel_at_period_end: bool,
    #[serde(default)]
    manual_renewal: bool,
}

// The document's own words for a period and a status, mapped below like the invoices' and
// payments': what we store may grow a variant without it becoming part of this public format.
#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum GenericInterval {
    Week,
    Month,
    Quarter,
    Year,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum GenericSubscriptionStatus {
    Trialing,
    Active,
    PastDue,
    Unpaid,
    Paused,
    Canceled,
    Expired,
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
    /// The sender's id of the subscription it bills, if any.
    #[serde(default)]
    subscription_id: Option<String>,
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
    let entries = document.customers.len() + document.invoices.len() + document.payments.len() + document.subscriptions.len();
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
    // Before the invoices, which may name them.
    for (n, s) in document.subscriptions.iter().enumerate() {
        let currency: Currency = s.currency.parse().map_err(|e| bad(format!("subscriptions[{n}].currency: {e}")))?;
        if s.current_period_end <= s.current_period_start {
            return Err(bad(format!("subscriptions[{n}].current_period_end: not after current_period_start")));
        }
        facts.push(Fact::Subscription(SubscriptionFacts {
            reference: reference(&s.id)?,
            customer: CustomerFacts::reference_only(reference(&s.customer_id)?),
            plan: s.plan.clone(),
            price: money(&s.amount, currency).map_err(|e| bad(format!("subscriptions[{n}].amount: {}", e.0)))?,
            interval: match s.interval {
                GenericInterval::Week => BillingInterval::Week,
                GenericInterval::Month => BillingInterval::Month,
                GenericInterval::Quarter => BillingInterval::Quarter,
                GenericInterval::Year => BillingInterval::Year,
            },
            status: match s.status {
                GenericSubscriptionStatus::Trialing => SubscriptionStatus::Trialing,
                GenericSubscriptionStatus::Active => SubscriptionStatus::Active,
                GenericSubscriptionStatus::PastDue => SubscriptionStatus::PastDue,
                GenericSubscriptionStatus::Unpaid => SubscriptionStatus::Unpaid,
                GenericSubscriptionStatus::Paused => SubscriptionStatus::Paused,
                GenericSubscriptionStatus::Canceled => SubscriptionStatus::Canceled,
                GenericSubscriptionStatus::Expired => SubscriptionStatus::Expired,
            },
            current_period_start: s.current_period_start,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
            manual_renewal: s.manual_renewal,
            failure_count: None,
            days_past_due: None,
            payment_method: None,
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
            subscription: i.subscription_id.as_deref().map(reference).transpose()?,
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
    fn reads_subscriptions_and_the_invoices_that_bill_them() {
        let document = r#"{"id": "erp-s", "occurred_at": "2026-11-25T08:00:00Z",
          "subscriptions": [{"id": "A-7", "customer_id": "C-42", "plan": "Potager solo", "currency": "EUR", "amount": "25.00",
                             "interval": "month", "status": "active", "current_period_start": "2026-11-01T00:00:00Z",
                             "current_period_end": "2026-12-01T00:00:00Z", "manual_renewal": true}],
          "invoices": [{"id": "F-7", "customer_id": "C-42", "currency": "EUR", "amount_due": "25.00", "status": "open",
                        "issued_at": "2026-11-01T09:00:00Z", "due_date": "2026-11-15", "subscription_id": "A-7"}]}"#;
        let facts = parse(document.as_bytes()).unwrap().facts;
        let Fact::Subscription(sub) = &facts[0] else { panic!("{facts:?}") };
        assert_eq!(
            (sub.plan.as_str(), sub.price, sub.interval, sub.status),
            ("Potager solo", Money::from_minor(2500, Currency::EUR), BillingInterval::Month, SubscriptionStatus::Active)
        );
        assert!(sub.manual_renewal && !sub.cancel_at_period_end);
        let Fact::Invoice(invoice) = &facts[1] else { panic!("{facts:?}") };
        assert_eq!(invoice.subscription.as_ref().map(|r| r.id.as_str()), Some("A-7"));
        let wrong = parse(document.replace("\"month\"", "\"monthly\"").as_bytes()).unwrap_err();
        assert!(wrong.0.contains("monthly"), "{}", wrong.0);
        let backwards = parse(document.replace("2026-12-01T00:00:00Z", "2026-10-01T00:00:00Z").as_bytes()).unwrap_err();
        assert!(backwards.0.starts_with("subscriptions[0].current_period_end"), "{}", backwards.0);
        assert!(parse(document.replace("\"plan\"", "\"plan_name\"").as_bytes()).is_err(), "unknown fields are refused");
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
