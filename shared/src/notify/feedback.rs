//! SES's word on what happened to an email after it left: bounces and complaints, published
//! by the configuration set to an SNS topic. A permanent bounce or a complaint means that
//! address must not be written to again: later notices go by SMS, or are held.

use serde_json::Value;

use crate::domain::CustomerId;

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
