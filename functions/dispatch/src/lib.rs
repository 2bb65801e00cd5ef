//! The dispatch function: consumes the table's stream of new notification items, chooses
//! the channel, renders the message in the customer's language, sends it, and records the
//! outcome on the item.
//!
//! Exactly once: a notification moves `pending → sending → sent` with version-checked
//! writes. A stream record delivered again finds the item no longer pending and sends
//! nothing; two dispatchers racing for one item: the second loses the claim. A retryable
//! failure puts the item back to pending and reports the record in `batch_item_failures`, so
//! the stream retries it alone; a permanent one marks the channel failed and tries the other
//! channel once. If the process dies between the provider's answer and the record of it,
//! the item stays `sending` and is not sent again by itself; once the claim is older than any
//! invocation lives it shows in the admin's follow-up view, to be sent again by a person
//! (`Notification::claim_abandoned`), rather than risking a second message automatically.

//!
//! - [`deliver`]: one notification, from its pending item to its recorded outcome.
//! - [`rate`]: SES's sending rate, kept across stream batches.
//! - [`feedback`]: SES bounces and complaints, marking addresses undeliverable.

mod deliver;
mod feedback;
mod rate;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use relance::config::{ConfigError, DispatchSettings};
use relance::domain::*;
use relance::notify::Renderer;
use relance::notify::compose::Branding;
use relance::notify::send::{SenderSettings, Senders};
use relance::settings::LiveSettings;
use relance::store::{Key, Record, Store};

pub use feedback::{handle_feedback, is_feedback};
pub use rate::SendRate;

/// Everything dispatch needs, built once at cold start.
pub struct DispatchContext {
    pub store: Store,
    pub senders: Senders,
    pub renderer: Renderer,
    /// The settings in force: the email thresholds that choose the channel.
    pub settings: LiveSettings,
    pub branding: Branding,
    /// The business's language, when a template is missing in the customer's.
    pub default_language: String,
    /// Where internal notifications go.
    pub team_email: Option<Email>,
    /// SES's sending rate: sends in a batch are spaced to stay under it.
    pub max_emails_per_second: u32,
    /// The last emails' times, kept from one stream batch to the next: a batch's first email
    /// counts against the previous batch's last ones.
    pub send_rate: std::sync::Arc<tokio::sync::Mutex<SendRate>>,
}

/// What happened to one notification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Sent(Channel),
    Held(String),
    Failed(String),
    /// Not pending any more (sent before, skipped, claimed by another dispatcher).
    AlreadyHandled,
}

impl DispatchContext {
    /// From the environment (see [`DispatchSettings`]), checked at start-up.
    /// `fallback_sender` stands in for an unset `RELANCE_SENDER` (the local stack's identity).
    pub fn from_env(sdk: &aws_config::SdkConfig, store: Store, fallback_sender: Option<&str>) -> Result<DispatchContext, ConfigError> {
        let settings = DispatchSettings::from_env(fallback_sender)?;
        let sender =
            SenderSettings { from: settings.sender, configuration_set: settings.configuration_set, sms_sender_id: settings.sms_sender_id };
        Ok(DispatchContext {
            store: store.clone(),
            senders: Senders::new(sdk, sender),
            renderer: Renderer::new(),
            settings: relance::config::live_settings(store.clone(), relance::settings::CACHE_FOR)?,
            branding: Branding { business: settings.business_name, portal_url: settings.portal_url },
            default_language: settings.default_locale.language().to_string(),
            team_email: settings.team_email,
            max_emails_per_second: settings.max_emails_per_second,
            send_rate: Default::default(),
        })
    }
}

/// Handles one stream batch; records that should be tried again are reported by sequence
/// number so that one failure does not replay the whole batch.
pub async fn handle(context: &DispatchContext, event: Event) -> DynamoDbEventResponse {
    handle_with_outcomes(context, event).await.0
}

/// [`handle`], also returning what happened to each notification (for the local summary).
pub async fn handle_with_outcomes(context: &DispatchContext, event: Event) -> (DynamoDbEventResponse, Vec<Outcome>) {
    let mut outcomes = Vec::new();
    let mut response = DynamoDbEventResponse::default();
    let per_second = context.max_emails_per_second.max(1);
    let mut rate = context.send_rate.lock().await;
    for record in &event.records {
        if record.event_name != "INSERT" {
            continue;
        }
        let text = |name: &str| match record.change.keys.get(name) {
            Some(serde_dynamo::AttributeValue::S(s)) => Some(s.clone()),
            _ => None,
        };
        let (Some(pk), Some(sk)) = (text("pk"), text("sk")) else { continue };
        if !sk.starts_with(Notification::SK_PREFIX) {
            continue;
        }
        let began = rate.wait(per_second).await;
        let mut emailed = false;
        let key = Key { pk, sk: sk.clone() };
        // The stream holds the new item whole (NEW_AND_OLD_IMAGES): no need to read it back.
        let image = match &record.change.new_image {
            image if image.is_empty() => None,
            image => relance::store::from_stream_image::<Notification>(&key, image.clone())
                .inspect_err(|e| tracing::warn!(notification = %sk, error = %e, "the stream's copy is unreadable; the item is read"))
                .ok(),
        };
        let result = deliver::dispatch_one(context, &key, image, &mut emailed).await;
        // Every call to SES counts against its rate, whatever came of it (an answer lost, or
        // the record of it failing, does not mean the email did not go).
        if emailed {
            rate.sent(began, per_second);
        }
        match result {
            Ok(outcome) => {
                tracing::info!(notification = %sk, outcome = ?outcome, "dispatched");
                outcomes.push(outcome);
            }
            Err(e) => {
                tracing::warn!(notification = %sk, error = %e, "will be retried");
                let mut failure = DynamoDbBatchItemFailure::default();
                failure.item_identifier = record.change.sequence_number.clone();
                response.batch_item_failures.push(failure);
            }
        }
    }
    emit_metrics(&outcomes, response.batch_item_failures.len());
    (response, outcomes)
}

/// What a batch did, as CloudWatch metrics ([`relance::telemetry::metrics`]): sent per
/// channel, held, failed, and left for a retry.
fn emit_metrics(outcomes: &[Outcome], retried: usize) {
    for (channel, name) in [(Channel::Email, "email"), (Channel::Sms, "sms")] {
        let sent = outcomes.iter().filter(|o| **o == Outcome::Sent(channel)).count() as u64;
        relance::telemetry::metrics::emit(&[("Channel", name)], &[("NotificationsSent", sent)]);
    }
    let count = |held: bool| {
        outcomes.iter().filter(|o| if held { matches!(o, Outcome::Held(_)) } else { matches!(o, Outcome::Failed(_)) }).count() as u64
    };
    relance::telemetry::metrics::emit(
        &[("Function", "dispatch")],
        &[("NotificationsHeld", count(true)), ("NotificationsFailed", count(false)), ("NotificationsRetried", retried as u64)],
    );
}
