//! SES's word on what happened to an email after it left: bounces and complaints, published
//! by the configuration set to an SNS topic. A permanent bounce or a complaint means that
//! address must not be written to again: later notices go by SMS, or are held.

use chrono::{DateTime, Utc};
use serde_json::Value;

use crate::domain::{CustomerId, EmailOutcome, EmailOutcomeKind, NotificationId};

/// SES message tags allow only letters, digits, `_` and `-`, 256 of them: the notification's
/// id goes as hex. An id too long for that goes without (its outcome is then not recorded).
pub fn notification_tag(id: &NotificationId) -> Option<String> {
    let tag = hex::encode(id.as_str());
    (tag.len() <= 256).then_some(tag)
}

fn notification_of_tag(tag: &str) -> Option<NotificationId> {
    let bytes = hex::decode(tag).ok()?;
    NotificationId::try_from(String::from_utf8(bytes).ok()?).ok()
}

/// SES's report on one email we sent: whose, which notification, and what became of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    pub customer: CustomerId,
    pub notification: NotificationId,
    pub outcome: EmailOutcome,
}

/// Reads a delivery, a permanent bounce or a complaint of an email dispatch tagged with its
/// customer and notification. Anything else gives nothing.
pub fn report(message: &str) -> Option<Report> {
    let event = serde_json::from_str::<Value>(message).ok()?;
    let kind = event.get("eventType").or_else(|| event.get("notificationType")).and_then(Value::as_str)?;
    let (outcome, detail) = match kind {
        "Delivery" => (EmailOutcomeKind::Delivered, &event["delivery"]),
        "Bounce" if event["bounce"]["bounceType"].as_str() == Some("Permanent") => (EmailOutcomeKind::Bounced, &event["bounce"]),
        "Complaint" => (EmailOutcomeKind::Complained, &event["complaint"]),
        _ => return None,
    };
    let tag = |name: &str| event["mail"]["tags"][name].get(0).and_then(Value::as_str);
    let customer = CustomerId::parse(tag("customer")?).ok()?;
    let notification = notification_of_tag(tag("notification")?)?;
    let at = [&detail["timestamp"], &event["mail"]["timestamp"]]
        .into_iter()
        .find_map(|t| t.as_str().and_then(|t| t.parse::<DateTime<Utc>>().ok()))
        .unwrap_or_else(Utc::now);
    Some(Report { customer, notification, outcome: EmailOutcome { outcome, at } })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FeedbackKind {
    PermanentBounce,
    Complaint,
}

/// One customer's address to stop writing to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    pub kind: FeedbackKind,
    /// From the `customer` message tag dispatch put on the email.
    pub customer: CustomerId,
    pub address: String,
}

/// Reads an SES event (event publishing's `eventType` or a notification's
/// `notificationType`). Transient bounces, deliveries and anything unreadable give nothing.
pub fn parse(message: &str) -> Vec<Feedback> {
    let Ok(event) = serde_json::from_str::<Value>(message) else { return Vec::new() };
    let kind = event.get("eventType").or_else(|| event.get("notificationType")).and_then(Value::as_str);
    let (kind, recipients) = match kind {
        Some("Bounce") => {
            let bounce = &event["bounce"];
            if bounce["bounceType"].as_str() != Some("Permanent") {
                return Vec::new();
            }
            (FeedbackKind::PermanentBounce, &bounce["bouncedRecipients"])
        }
        Some("Complaint") => (FeedbackKind::Complaint, &event["complaint"]["complainedRecipients"]),
        _ => return Vec::new(),
    };
    let Some(customer) = event["mail"]["tags"]["customer"].get(0).and_then(Value::as_str).and_then(|c| CustomerId::parse(c).ok()) else {
        return Vec::new();
    };
    recipients
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|r| r["emailAddress"].as_str())
        .map(|address| Feedback { kind: kind.clone(), customer: customer.clone(), address: address.to_string() })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_names_the_notification_its_tag_carries() {
        let id = NotificationId::try_from("invoice.i1.invoice_overdue.2".to_string()).unwrap();
        let tag = notification_tag(&id).unwrap();
        assert!(tag.chars().all(|c| c.is_ascii_alphanumeric()), "{tag}");
        let delivery = format!(
            r#"{{"eventType": "Delivery", "delivery": {{"timestamp": "2026-11-25T10:00:01.000Z"}},
            "mail": {{"messageId": "m1", "tags": {{"customer": ["c1"], "notification": ["{tag}"]}}}}}}"#
        );
        let report = report(&delivery).unwrap();
        assert_eq!((report.customer.as_str(), &report.notification), ("c1", &id));
        assert_eq!(report.outcome.outcome, EmailOutcomeKind::Delivered);
        assert_eq!(report.outcome.at.to_rfc3339(), "2026-11-25T10:00:01+00:00");
        let transient = delivery.replace(r#""eventType": "Delivery""#, r#""eventType": "Bounce", "bounce": {"bounceType": "Transient"}"#);
        assert_eq!(super::report(&transient), None, "SES tries again: not an outcome yet");
        assert_eq!(super::report(&delivery.replace(&tag, "zz")), None, "not our tag");
    }

    #[test]
    fn permanent_bounces_and_complaints_count_transient_ones_do_not() {
        let bounce = r#"{"eventType": "Bounce", "bounce": {"bounceType": "Permanent", "bounceSubType": "General",
            "bouncedRecipients": [{"emailAddress": "gone@example.org"}]},
            "mail": {"messageId": "m1", "destination": ["gone@example.org"], "tags": {"customer": ["c1"], "kind": ["invoice_overdue"]}}}"#;
        assert_eq!(
            parse(bounce),
            vec![Feedback {
                kind: FeedbackKind::PermanentBounce,
                customer: CustomerId::parse("c1").unwrap(),
                address: "gone@example.org".into()
            }]
        );
        let complaint = r#"{"notificationType": "Complaint", "complaint": {"complainedRecipients": [{"emailAddress": "angry@example.org"}]},
            "mail": {"tags": {"customer": ["c2"]}}}"#;
        assert_eq!(parse(complaint)[0].kind, FeedbackKind::Complaint);
        let transient = bounce.replace("Permanent", "Transient");
        assert!(parse(&transient).is_empty());
        assert!(parse(r#"{"eventType": "Delivery", "mail": {"tags": {"customer": ["c1"]}}}"#).is_empty());
        assert!(parse("not json").is_empty());
        assert!(parse(&bounce.replace(r#""customer": ["c1"], "#, "")).is_empty(), "no customer tag: nobody to mark");
    }
}
