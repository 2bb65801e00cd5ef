//! Holded: invoices and contacts read from its REST API (Invoice API v1), not pushed.
//!
//! Documents and contacts are JSON objects as Holded's API reference describes them:
//! an invoice has `id`, `contact` (the contact's id), `contactName`, `docNumber`, `date` and
//! `dueDate` (Unix seconds), `currency` (lower case), `total`, `paymentsTotal`,
//! `paymentsPending`; a contact has `id`, `name`, `email`, `mobile`, `phone`,
//! `billAddress.countryCode` and `defaults.language`. Amounts are JSON numbers (floats), so
//! they are rounded once, half-even, to the currency's minor unit.

use chrono::{DateTime, Utc};
use serde_json::Value;

use super::PayloadError;
use crate::domain::{Currency, Email, InvoiceStatus, Locale, Money, PhoneE164, Provider, ProviderRef, Rounding};
use crate::facts::{CustomerFacts, InvoiceFacts};

fn field<'a>(object: &'a Value, name: &str) -> Option<&'a Value> {
    object.get(name).filter(|v| !v.is_null())
}

fn text(object: &Value, name: &str) -> Option<String> {
    field(object, name).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty()).map(str::to_string)
}

fn reference(id: &str) -> Result<ProviderRef, PayloadError> {
    ProviderRef::new(Provider::Holded, id).map_err(|e| PayloadError::new(e.to_string()))
}

fn amount(object: &Value, name: &str, currency: Currency) -> Result<Money, PayloadError> {
    let number = match field(object, name) {
        None => return Ok(Money::zero(currency)),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => return Err(PayloadError::new(format!("{name} is not a number: {other}"))),
    };
    Money::parse_decimal_rounded(&number, currency, Rounding::HalfEven).map_err(|e| PayloadError::new(format!("{name}: {e}")))
}

fn seconds(object: &Value, name: &str) -> Option<DateTime<Utc>> {
    field(object, name).and_then(Value::as_i64).and_then(|s| DateTime::from_timestamp(s, 0))
}

/// A Holded contact as customer facts.
pub fn contact(object: &Value) -> Result<CustomerFacts, PayloadError> {
    let id = text(object, "id").ok_or_else(|| PayloadError::new("contact id is missing"))?;
    let country = field(object, "billAddress").and_then(|a| text(a, "countryCode"));
    let phone = text(object, "mobile").or_else(|| text(object, "phone"));
    Ok(CustomerFacts {
        tags: None,
        lists: None,
        reference: reference(&id)?,
        name: text(object, "name").or_else(|| text(object, "tradeName")),
        email: text(object, "email").and_then(|e| Email::parse(&e).ok()),
        phone: phone.and_then(|p| PhoneE164::parse(&p, country.as_deref()).ok()),
        locale: field(object, "defaults").and_then(|d| text(d, "language")).and_then(|l| Locale::parse(&l).ok()),
        dates: Vec::new(),
    })
}

/// Whether a contact may be one of the business's customers: Holded's contact `type` is
/// `client`, `lead`, `debtor`, `supplier` or `creditor`; the last two are whom the business
/// pays. A contact without a type is kept.
pub fn may_be_a_customer(contact: &Value) -> bool {
    !matches!(text(contact, "type").as_deref(), Some("supplier" | "creditor"))
}

/// A Holded invoice document as invoice facts; `customer` is its contact, if listed.
pub fn invoice(object: &Value, customer: Option<CustomerFacts>, default_currency: Currency) -> Result<InvoiceFacts, PayloadError> {
    let id = text(object, "id").ok_or_else(|| PayloadError::new("document id is missing"))?;
    let contact_id = text(object, "contact").ok_or_else(|| PayloadError::new("document has no contact"))?;
    let currency = match text(object, "currency") {
        Some(code) => code.parse().map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?,
        None => default_currency,
    };
    let total = amount(object, "total", currency)?;
    let pending = amount(object, "paymentsPending", currency)?;
    let paid = total.checked_sub(pending).map_err(|e| PayloadError::new(e.to_string()))?;
    let paid = if paid.is_negative() { Money::zero(currency) } else { paid };
    let status = if total.is_positive() && !pending.is_positive() {
        InvoiceStatus::Paid
    } else if paid.is_positive() {
        InvoiceStatus::PartiallyPaid
    } else {
        InvoiceStatus::Open
    };
    let customer = customer.unwrap_or_else(|| {
        let mut facts = CustomerFacts::reference_only(ProviderRef { provider: Provider::Holded, id: contact_id.clone() });
        facts.name = text(object, "contactName");
        facts
    });
    if customer.reference.id != contact_id {
        return Err(PayloadError::new("the document's contact is not the customer given"));
    }
    Ok(InvoiceFacts {
        mission: None,
        reference: reference(&id)?,
        customer,
        number: text(object, "docNumber"),
        amount_due: total,
        amount_paid: paid,
        status,
        issued_at: seconds(object, "date").ok_or_else(|| PayloadError::new("document date is missing"))?,
        due_date: seconds(object, "dueDate").map(|d| d.date_naive()),
        subscription: None,
        retry_at: None,
        payment_link: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The example document of Holded's API reference (Invoice API v1.4).
    fn document() -> Value {
        json!({"id": "5ab391071d6d820034294783", "contact": "5aa939a95b70640009653d72", "contactName": "Mapple Inc",
            "desc": "description goes here", "date": 1521673200, "dueDate": 1521673200, "notes": "notes go here",
            "tax": 234.61, "subtotal": 1117.18, "discount": 0, "total": 1351.79, "language": "en", "status": 2,
            "docNumber": "F170001", "currency": "eur", "currencyChange": 1,
            "paymentsTotal": 290, "paymentsPending": 1061.79, "paymentsRefunds": 0})
    }

    #[test]
    fn reads_the_reference_example_document() {
        let facts = invoice(&document(), None, Currency::EUR).unwrap();
        assert_eq!(facts.reference.id, "5ab391071d6d820034294783");
        assert_eq!(facts.number.as_deref(), Some("F170001"));
        assert_eq!(facts.amount_due, Money::from_minor(135179, Currency::EUR));
        assert_eq!(facts.amount_paid, Money::from_minor(29000, Currency::EUR));
        assert_eq!(facts.status, InvoiceStatus::PartiallyPaid);
        assert_eq!(facts.customer.name.as_deref(), Some("Mapple Inc"));
        assert_eq!(facts.issued_at.timestamp(), 1521673200);
    }

    #[test]
    fn paid_and_unpaid_documents() {
        let mut paid = document();
        paid["paymentsPending"] = json!(0);
        assert_eq!(invoice(&paid, None, Currency::EUR).unwrap().status, InvoiceStatus::Paid);
        let mut unpaid = document();
        unpaid["paymentsPending"] = json!(1351.79);
        assert_eq!(invoice(&unpaid, None, Currency::EUR).unwrap().status, InvoiceStatus::Open);
        let mut no_contact = document();
        no_contact["contact"] = Value::Null;
        assert!(invoice(&no_contact, None, Currency::EUR).is_err());
    }

    #[test]
    fn reads_the_reference_example_contact() {
        let c = contact(&json!({"id": "5aaa43d35b7064002613c048", "customId": "myReferenceId", "name": "Custom Tech Inc.",
            "code": "B3737387", "tradeName": "Mapple", "email": "email@mapple.com", "mobile": "612345678", "phone": "3949494",
            "type": "client", "billAddress": {"address": "Carrer del Mar", "city": "Barcelona", "postalCode": 8767,
            "province": "Barcelona", "country": "Spain", "countryCode": "ES"},
            "defaults": {"dueDays": 3, "discount": 45, "language": "fr", "currency": "eur"}}))
        .unwrap();
        assert_eq!(c.name.as_deref(), Some("Custom Tech Inc."));
        assert_eq!(c.email.as_ref().map(|e| e.as_str()), Some("email@mapple.com"));
        assert_eq!(c.phone.as_ref().map(|p| p.as_str()), Some("+34612345678"));
        assert_eq!(c.locale.as_ref().map(|l| l.to_string()).as_deref(), Some("fr"));
    }
}
