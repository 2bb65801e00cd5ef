//! The dispatch function: consumes the table's stream of new notification items, chooses
//! the channel, sends, and records the outcome.
//!
//! It answers with `batch_item_failures` so that one failing record is retried alone
//! instead of replaying the whole batch.

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::streams::DynamoDbEventResponse;
use relance::store::Store;

/// Handles one stream batch. Sending comes with the dispatch work; for now every record is
/// logged (its event name and key, never its content) and acknowledged.
pub async fn handle(_store: &Store, event: Event) -> DynamoDbEventResponse {
    for record in &event.records {
        let key = record.change.keys.get("sk").map(|v| format!("{v:?}")).unwrap_or_default();
        tracing::info!(event_name = %record.event_name, key = %key, "notification record received");
    }
    DynamoDbEventResponse::default()
}
