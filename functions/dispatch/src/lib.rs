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

use std::time::Duration;

use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};
use chrono::Utc;
use relance::domain::*;
use relance::notify::compose::{self, About, Branding};
use relance::notify::send::{SendError, Senders};
use relance::notify::{ChannelPolicy, Renderer};
use relance::store::{Key, Record, Store, StoreError};

/// Everything dispatch needs, built once at cold start.
pub struct DispatchContext {
    pub store: Store,
    pub senders: Senders,
    pub renderer: Renderer,
    pub policy: ChannelPolicy,
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

#[derive(Debug, thiserror::Error)]
enum Retry {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Send(String),
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
        if !sk.starts_with("NOTIFICATION#") {
            continue;
        }
        let began = rate.wait(per_second).await;
        let mut emailed = false;
        let result = dispatch_one(context, &Key { pk, sk: sk.clone() }, &mut emailed).await;
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
    (response, outcomes)
}

/// SES's sending rate, kept by the sender: at most `per_second` emails in any one second.
///
/// Two rules. Emails start `1/per_second` apart, and the time a send takes counts toward the
/// gap, so a batch runs at the rate rather than below it. And an email starts only once the
/// one sent `per_second` emails earlier finished more than a second ago: SES receives and
/// stamps each email between the start and the end of its call, so however the calls' times
/// vary, no one-second window holds more than `per_second` of them (spacing starts alone let
/// a slow send and a quick one land together: 15 in a second at 14 per second, measured).
#[derive(Debug, Default)]
pub struct SendRate {
    last_start: Option<tokio::time::Instant>,
    /// When each of the last `per_second` emails' calls returned, oldest first.
    finished: std::collections::VecDeque<tokio::time::Instant>,
}

impl SendRate {
    /// Waits until an email may start; returns the start, for [`SendRate::sent`].
    async fn wait(&self, per_second: u32) -> tokio::time::Instant {
        let mut at = self.last_start.map(|start| start + Duration::from_secs_f64(1.0 / f64::from(per_second)));
        if self.finished.len() >= per_second as usize
            && let Some(oldest) = self.finished.iter().rev().nth(per_second as usize - 1)
        {
            let free = *oldest + Duration::from_secs(1);
            at = Some(at.map_or(free, |a| a.max(free)));
        }
        if let Some(at) = at {
            tokio::time::sleep_until(at).await;
        }
        tokio::time::Instant::now()
    }

    /// Records an email that started at `began` and whose call has just returned.
    fn sent(&mut self, began: tokio::time::Instant, per_second: u32) {
        self.last_start = Some(began);
        self.finished.push_back(tokio::time::Instant::now());
        while self.finished.len() > per_second as usize {
            self.finished.pop_front();
        }
    }
}

/// Reads what the notification is about.
async fn about(store: &Store, notification: &Notification) -> Result<About, StoreError> {
    let key = |prefix: &str| Key::in_customer(&notification.customer_id, prefix, &notification.target.id);
    Ok(match notification.target.kind {
        TargetKind::Invoice => store.get::<Invoice>(&key("INVOICE")).await?.map_or(About::Nothing, About::Invoice),
        TargetKind::PaymentMethod => store.get::<PaymentMethod>(&key("PAYMENT_METHOD")).await?.map_or(About::Nothing, About::Card),
        TargetKind::Subscription => store.get::<Subscription>(&key("SUBSCRIPTION")).await?.map_or(About::Nothing, About::Subscription),
        TargetKind::Event => match store.find_by_id(relance::domain::Event::TYPE, &notification.target.id).await? {
            Some(key) => store.get::<relance::domain::Event>(&key).await?.map_or(About::Nothing, About::Event),
            None => About::Nothing,
        },
        TargetKind::Message => About::Message,
        _ => About::Nothing,
    })
}

/// Saves a transition; a lost race means another dispatcher owns the item now.
async fn save(store: &Store, notification: &mut Notification) -> Result<bool, StoreError> {
    match store.update(notification).await {
        Ok(()) => Ok(true),
        Err(StoreError::Conflict(_)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// `emailed` is set once SES has been called for this notification.
async fn dispatch_one(context: &DispatchContext, key: &Key, emailed: &mut bool) -> Result<Outcome, Retry> {
    let store = &context.store;
    let Some(mut notification) = store.get::<Notification>(key).await? else { return Ok(Outcome::AlreadyHandled) };
    if notification.status != NotificationStatus::Pending {
        return Ok(Outcome::AlreadyHandled);
    }
    let Some(customer) = store.get::<Customer>(&Key::customer(&notification.customer_id)).await? else {
        let _ = notification.hold("customer not found");
        save(store, &mut notification).await?;
        return Ok(Outcome::Held("customer not found".into()));
    };
    if notification.kind == NotificationKind::Internal && context.team_email.is_none() {
        let reason = "no team address configured (RELANCE_TEAM_EMAIL)".to_string();
        let _ = notification.hold(reason.clone());
        save(store, &mut notification).await?;
        return Ok(Outcome::Held(reason));
    }
    let channel = match context.policy.choose(&notification, &customer) {
        ChannelDecision::Held { reason } => {
            let _ = notification.hold(reason.clone());
            save(store, &mut notification).await?;
            return Ok(Outcome::Held(reason));
        }
        ChannelDecision::Send { channel } => channel,
    };
    let about = about(store, &notification).await?;
    if let Some(reason) = moot(&notification, &customer, &about) {
        let _ = notification.skip(reason);
        save(store, &mut notification).await?;
        return Ok(Outcome::Held(reason.to_string()));
    }
    let languages = [customer.locale.language(), context.default_language.as_str()];
    let Some(language) = context.renderer.language_for(notification.kind, &languages) else {
        let reason = format!("no {} template", notification.kind.as_str());
        let _ = notification.hold(reason.clone());
        save(store, &mut notification).await?;
        return Ok(Outcome::Held(reason));
    };
    let message_context = compose::context(&notification, &customer, &about, &context.branding, &language);
    let message = match context.renderer.render(notification.kind, &[&language], &message_context) {
        Ok(message) => message,
        Err(e) => {
            let _ = notification.hold(e.to_string());
            save(store, &mut notification).await?;
            return Ok(Outcome::Held(e.to_string()));
        }
    };

    // Claim the item: only one dispatcher gets past this write.
    if notification.begin_sending(channel, Utc::now()).is_err() || !save(store, &mut notification).await? {
        return Ok(Outcome::AlreadyHandled);
    }
    *emailed |= channel == Channel::Email;
    let mut result = send(context, &notification, &customer, channel, &message).await;
    let mut used = channel;
    if let Err(SendError::Permanent(reason)) = &result {
        // One try on the other channel, if the customer can be reached there.
        let other = match channel {
            Channel::Email => Channel::Sms,
            Channel::Sms => Channel::Email,
        };
        let reachable = match other {
            Channel::Email => customer.reachable_email().is_some(),
            Channel::Sms => customer.reachable_phone().is_some(),
        };
        if reachable && notification.kind != NotificationKind::Internal {
            tracing::info!(notification = %notification.id.as_str(), %reason, "falling back to the other channel");
            used = other;
            notification.channel = Some(ChannelDecision::Send { channel: other });
            *emailed |= other == Channel::Email;
            result = send(context, &notification, &customer, other, &message).await;
        }
    }
    match result {
        Ok(message_id) => {
            let _ = notification.mark_sent(message_id, Utc::now());
            save(store, &mut notification).await?;
            Ok(Outcome::Sent(used))
        }
        Err(SendError::Retryable(reason)) => {
            let _ = notification.mark_retryable(reason.clone());
            save(store, &mut notification).await?;
            Err(Retry::Send(reason))
        }
        Err(SendError::Permanent(reason)) => {
            let _ = notification.mark_failed(reason.clone());
            save(store, &mut notification).await?;
            Ok(Outcome::Failed(reason))
        }
        Err(SendError::Unknown(reason)) => {
            // Left `sending`, with the reason: at most once, and visible to the admin.
            notification.error = Some(reason.clone());
            save(store, &mut notification).await?;
            Ok(Outcome::Failed(format!("outcome unknown: {reason}")))
        }
    }
}

/// A reason not to send after all, found by reading the records again just before sending:
/// the customer was paused, or the invoice was paid, since the scan decided.
fn moot(notification: &Notification, customer: &Customer, about: &About) -> Option<&'static str> {
    let about_money_owed = matches!(
        notification.kind,
        NotificationKind::InvoiceDueSoon | NotificationKind::InvoiceOverdue | NotificationKind::InvoiceFinalNotice | NotificationKind::PaymentFailed
    );
    if customer.reminders_stopped() && notification.kind != NotificationKind::Internal {
        return Some("customer paused");
    }
    match about {
        About::Invoice(invoice) if about_money_owed && invoice.status.is_closed() => Some("invoice no longer owed"),
        About::Invoice(invoice) if about_money_owed && invoice.reminders_paused => Some("invoice paused"),
        _ => None,
    }
}

async fn send(
    context: &DispatchContext,
    notification: &Notification,
    customer: &Customer,
    channel: Channel,
    message: &relance::notify::Message,
) -> Result<String, SendError> {
    let internal = notification.kind == NotificationKind::Internal;
    match channel {
        Channel::Email => {
            let to = if internal { context.team_email.as_ref() } else { customer.reachable_email() };
            let to = to.ok_or_else(|| SendError::Permanent("no address".into()))?;
            let tags = [
                ("kind", notification.kind.as_str().to_string()),
                ("step", notification.step.to_string()),
                ("customer", customer.id.to_string()),
            ];
            // Reminders about money owed are transactional; the rest can be unsubscribed from.
            let optional = matches!(notification.kind, NotificationKind::DateRule | NotificationKind::ThankYou | NotificationKind::EventReminder);
            let unsubscribe = optional.then(|| format!("{}/me/preferences", context.branding.portal_url.trim_end_matches('/')));
            context.senders.email(to, message, &tags, unsubscribe.as_deref()).await
        }
        Channel::Sms => {
            let to = customer.reachable_phone().ok_or_else(|| SendError::Permanent("no mobile".into()))?;
            context.senders.sms(to, &message.sms).await
        }
    }
}

/// Settings errors are the shared configuration errors.
pub use relance::config::ConfigError as SettingsError;

/// `RELANCE_EMAIL_THRESHOLDS`: `EUR:50.00,USD:60.00`.
pub fn parse_thresholds(text: &str) -> Result<ChannelPolicy, SettingsError> {
    let invalid = |reason: String| SettingsError::Invalid { name: "RELANCE_EMAIL_THRESHOLDS", reason };
    let mut policy = ChannelPolicy { email_from: Default::default() };
    for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let (code, amount) = entry.split_once(':').ok_or_else(|| invalid(format!("{entry:?} is not CODE:AMOUNT")))?;
        let currency: Currency = code.parse().map_err(|e: MoneyError| invalid(e.to_string()))?;
        let amount = Money::parse_decimal(amount, currency).map_err(|e| invalid(e.to_string()))?;
        policy.email_from.insert(currency, amount);
    }
    Ok(policy)
}

impl DispatchContext {
    /// From the environment, checked at start-up: `RELANCE_SENDER` (verified SES identity),
    /// `RELANCE_BUSINESS_NAME`, `RELANCE_PORTAL_URL`, `RELANCE_TEAM_EMAIL`,
    /// `RELANCE_EMAIL_THRESHOLDS`, `RELANCE_SES_CONFIGURATION_SET`, `RELANCE_SMS_SENDER_ID`,
    /// `RELANCE_SES_MAX_PER_SECOND`, `RELANCE_DEFAULT_LOCALE`.
    /// `fallback_sender` stands in for an unset `RELANCE_SENDER` (the local stack's identity).
    pub fn from_env(sdk: &aws_config::SdkConfig, store: Store, fallback_sender: Option<&str>) -> Result<DispatchContext, SettingsError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.trim().is_empty());
        let from = var("RELANCE_SENDER")
            .or_else(|| fallback_sender.map(str::to_string))
            .ok_or(SettingsError::Missing("RELANCE_SENDER"))?;
        let team_email = var("RELANCE_TEAM_EMAIL")
            .map(|e| Email::parse(&e).map_err(|e| SettingsError::Invalid { name: "RELANCE_TEAM_EMAIL", reason: e.to_string() }))
            .transpose()?;
        let policy = match var("RELANCE_EMAIL_THRESHOLDS") {
            Some(text) => parse_thresholds(&text)?,
            None => ChannelPolicy::default(),
        };
        let max_emails_per_second = match var("RELANCE_SES_MAX_PER_SECOND") {
            Some(n) => n.parse().map_err(|_| SettingsError::Invalid { name: "RELANCE_SES_MAX_PER_SECOND", reason: n })?,
            None => 14,
        };
        let default_language = var("RELANCE_DEFAULT_LOCALE")
            .and_then(|l| Locale::parse(&l).ok())
            .map_or_else(|| "fr".to_string(), |l| l.language().to_string());
        let settings = relance::notify::send::SenderSettings {
            from,
            configuration_set: var("RELANCE_SES_CONFIGURATION_SET"),
            sms_sender_id: var("RELANCE_SMS_SENDER_ID"),
        };
        Ok(DispatchContext {
            store,
            senders: Senders::new(sdk, settings),
            renderer: Renderer::new(),
            policy,
            branding: Branding {
                business: var("RELANCE_BUSINESS_NAME").unwrap_or_else(|| "Relance".into()),
                portal_url: var("RELANCE_PORTAL_URL").unwrap_or_else(|| "http://127.0.0.1:3000".into()),
            },
            default_language,
            team_email,
            max_emails_per_second,
            send_rate: Default::default(),
        })
    }
}

/// SES bounces and complaints (through the configuration set's SNS topic): the customer's
/// address is marked undeliverable, so later notices go by SMS or are held.
pub async fn handle_feedback(store: &Store, event: aws_lambda_events::event::sns::SnsEvent) -> Result<usize, StoreError> {
    let mut marked = 0;
    for record in &event.records {
        for feedback in relance::notify::feedback::parse(&record.sns.message) {
            for _ in 0..3 {
                let Some(mut customer) = store.get::<Customer>(&Key::customer(&feedback.customer)).await? else { break };
                // Only if the address bounced is still the one on file.
                if customer.email.as_ref().is_none_or(|e| !e.as_str().eq_ignore_ascii_case(&feedback.address)) || customer.email_undeliverable {
                    break;
                }
                customer.email_undeliverable = true;
                match store.update(&mut customer).await {
                    Ok(()) => {
                        tracing::info!(customer = %customer.id, kind = ?feedback.kind, "email marked undeliverable");
                        marked += 1;
                        break;
                    }
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(marked)
}

/// Two sources invoke dispatch: the table's stream (new notifications) and the SES feedback
/// topic (bounces, complaints). Each record says where it came from.
pub fn is_feedback(event: &serde_json::Value) -> bool {
    event["Records"][0]["EventSource"].as_str() == Some("aws:sns")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 3 per second allowed. With calls of very different lengths (0 to 0.9 s), no one-second
    /// window holds more than 3 calls' ends (the latest SES can have received each email); with
    /// calls as long as SES's usually are (up to 150 ms), the batch also runs at about the rate.
    #[tokio::test(start_paused = true)]
    async fn no_second_holds_more_emails_than_the_rate() {
        for (longest_ms, max_seconds) in [(900u64, f64::MAX), (150, 10.8)] {
            let mut rate = SendRate::default();
            let started = tokio::time::Instant::now();
            let mut ended = Vec::new();
            for i in 0..30u64 {
                let began = rate.wait(3).await;
                tokio::time::sleep(Duration::from_millis((i * 337) % longest_ms)).await;
                rate.sent(began, 3);
                ended.push(tokio::time::Instant::now());
            }
            for (i, at) in ended.iter().enumerate() {
                let in_window = ended[i..].iter().take_while(|t| **t < *at + Duration::from_secs(1)).count();
                assert!(in_window <= 3, "{in_window} emails within a second of email {i} (calls up to {longest_ms} ms)");
            }
            let seconds = started.elapsed().as_secs_f64();
            assert!(seconds < max_seconds, "30 emails at 3/s took {seconds} s with calls up to {longest_ms} ms");
        }
    }
}
