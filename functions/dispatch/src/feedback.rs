//! SES's feedback (deliveries, bounces and complaints, through the configuration set's SNS
//! topic).

use relance::domain::{Customer, Notification};
use relance::store::{Key, Store, StoreError};

/// SES deliveries, bounces and complaints (through the configuration set's SNS topic): the
/// email's notification records what became of it (the customer's timeline shows it), and
/// on a bounce or a complaint the customer's address is marked undeliverable, so later
/// notices go by SMS or are held. Answers how many addresses it marked.
pub async fn handle_feedback(store: &Store, event: aws_lambda_events::event::sns::SnsEvent) -> Result<usize, StoreError> {
    let mut marked = 0;
    for record in &event.records {
        for feedback in relance::notify::feedback::parse(&record.sns.message) {
            // Only if the address that bounced is still the one on file.
            let mut newly_marked = false;
            store
                .modify::<Customer>(&Key::customer(&feedback.customer), |customer| {
                    let on_file = customer.email.as_ref().is_some_and(|e| e.as_str().eq_ignore_ascii_case(&feedback.address));
                    newly_marked = on_file && !customer.email_undeliverable;
                    customer.email_undeliverable |= newly_marked;
                    newly_marked
                })
                .await?;
            if newly_marked {
                tracing::info!(customer = %feedback.customer, kind = ?feedback.kind, "email marked undeliverable");
                marked += 1;
            }
        }
        // After the address, which matters more: a failure here sends the event back (SNS
        // retries it), and marking the address again changes nothing.
        if let Some(report) = relance::notify::feedback::report(&record.sns.message) {
            let key = Key::of_customer::<Notification>(&report.customer, report.notification.as_str());
            // A notification erased or never ours is not found: nothing to record it on.
            store.modify::<Notification>(&key, |n| n.note_email_outcome(report.outcome)).await?;
        }
    }
    Ok(marked)
}

/// Two sources invoke dispatch: the table's stream (new notifications) and the SES feedback
/// topic (bounces, complaints). Each record says where it came from.
pub fn is_feedback(event: &serde_json::Value) -> bool {
    event["Records"][0]["EventSource"].as_str() == Some("aws:sns")
}
