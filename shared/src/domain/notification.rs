//! A notification: one message we intend to send, written by the webhook or the scan and
//! consumed by dispatch (the outbox record).
//!
//! Its id is derived from what it is about (target, kind, step), never random, so that two
//! scans deciding the same reminder write the same item and the store's conditional insert
//! keeps only one. Its status only moves forward through the transitions below; dispatch
//! writes each transition with a version check, so a redelivered stream record cannot send
//! the same message twice.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use super::customer::Channel;
use super::ids::{CustomerId, InvalidId, check_key_part};
use super::money::Money;

/// What a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationKind {
    /// A courtesy notice before the due date.
    InvoiceDueSoon,
    InvoiceOverdue,
    /// The last reminder; the invoice is then flagged for manual follow-up.
    InvoiceFinalNotice,
    PaymentFailed,
    CardExpiring,
    CardExpired,
    RenewalUpcoming,
    /// After a purchase (Shopify's orders/create), with a coupon when configured.
    ThankYou,
    /// Money given back to the customer (a shop refund, a refunded card charge): once per
    /// refund.
    RefundIssued,
    EventConfirmation,
    EventReminder,
    /// The time or place of an event the person registered for changed.
    EventChanged,
    /// An event the person registered for is cancelled; their place is given back.
    EventCancelled,
    /// An admin invited the person to the member space.
    Invitation,
    /// Support answered the member's message.
    MessageReceived,
    /// A business-defined date rule (a lease anniversary, a tax deadline).
    DateRule,
    /// An ambassador's lead moved on (qualified, won with its commission, lost) or its
    /// commission was paid: one notice per change.
    LeadChanged,
    /// A message to the business's own team address.
    Internal,
    /// A deadline of the business's own calendar (the VAT return): to the team, about no
    /// customer.
    TeamDeadline,
}

impl NotificationKind {
    /// Every kind, money owed first: the templates list, and what tests go through.
    pub const ALL: [NotificationKind; 19] = [
        NotificationKind::InvoiceDueSoon,
        NotificationKind::InvoiceOverdue,
        NotificationKind::InvoiceFinalNotice,
        NotificationKind::PaymentFailed,
        NotificationKind::CardExpiring,
        NotificationKind::CardExpired,
        NotificationKind::RenewalUpcoming,
        NotificationKind::DateRule,
        NotificationKind::ThankYou,
        NotificationKind::RefundIssued,
        NotificationKind::EventConfirmation,
        NotificationKind::EventReminder,
        NotificationKind::EventChanged,
        NotificationKind::EventCancelled,
        NotificationKind::MessageReceived,
        NotificationKind::Invitation,
        NotificationKind::LeadChanged,
        NotificationKind::Internal,
        NotificationKind::TeamDeadline,
    ];

    /// A reminder about money owed on an invoice: moot once the invoice stops accepting
    /// reminders (paid, paused, disputed).
    pub fn is_about_money_owed(self) -> bool {
        matches!(
            self,
            NotificationKind::InvoiceDueSoon
                | NotificationKind::InvoiceOverdue
                | NotificationKind::InvoiceFinalNotice
                | NotificationKind::PaymentFailed
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            NotificationKind::InvoiceDueSoon => "invoice_due_soon",
            NotificationKind::InvoiceOverdue => "invoice_overdue",
            NotificationKind::InvoiceFinalNotice => "invoice_final_notice",
            NotificationKind::PaymentFailed => "payment_failed",
            NotificationKind::CardExpiring => "card_expiring",
            NotificationKind::CardExpired => "card_expired",
            NotificationKind::RenewalUpcoming => "renewal_upcoming",
            NotificationKind::ThankYou => "thank_you",
            NotificationKind::RefundIssued => "refund_issued",
            NotificationKind::EventConfirmation => "event_confirmation",
            NotificationKind::EventReminder => "event_reminder",
            NotificationKind::EventChanged => "event_changed",
            NotificationKind::EventCancelled => "event_cancelled",
            NotificationKind::MessageReceived => "message_received",
            NotificationKind::Invitation => "invitation",
            NotificationKind::DateRule => "date_rule",
            NotificationKind::LeadChanged => "lead_changed",
            NotificationKind::Internal => "internal",
            NotificationKind::TeamDeadline => "team_deadline",
        }
    }

    /// Written to the business's team (their address, by email), not to a customer.
    pub fn goes_to_the_team(self) -> bool {
        matches!(self, NotificationKind::Internal | NotificationKind::TeamDeadline)
    }
}

/// The record a notification is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum TargetKind {
    Invoice,
    Subscription,
    PaymentMethod,
    Customer,
    Event,
    Order,
    Message,
    /// An ambassador's lead.
    Lead,
}

impl TargetKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TargetKind::Invoice => "invoice",
            TargetKind::Subscription => "subscription",
            TargetKind::PaymentMethod => "payment_method",
            TargetKind::Customer => "customer",
            TargetKind::Event => "event",
            TargetKind::Order => "order",
            TargetKind::Message => "message",
            TargetKind::Lead => "lead",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    pub kind: TargetKind,
    pub id: String,
}

/// A notification's id: `invoice.01J….invoice_overdue.2`, the same for the same decision.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(try_from = "String", into = "String")]
pub struct NotificationId(String);

impl NotificationId {
    /// The id of step `step` of `kind` about `target`. `rule` names the date rule, if any,
    /// so that two rules on the same record do not collide.
    pub fn for_step(target: &Target, kind: NotificationKind, rule: Option<&str>, step: u32) -> Result<NotificationId, InvalidId> {
        let rule = rule.map(|r| format!(".{r}")).unwrap_or_default();
        let id = format!("{}{}{}.{}", NotificationId::prefix_about(target.kind, Some(&target.id)), kind.as_str(), rule, step);
        check_key_part("NotificationId", &id)?;
        Ok(NotificationId(id))
    }

    /// How the ids of every notification about `target` begin (`invoice.<id>.`): a
    /// customer's notifications about one record, or one kind of record, are a key range.
    pub fn prefix_about(target_kind: TargetKind, target_id: Option<&str>) -> String {
        match target_id {
            Some(id) => format!("{}.{id}.", target_kind.as_str()),
            None => format!("{}.", target_kind.as_str()),
        }
    }

    /// The id of a copy of this notification sent again by a person at `at`: one per second
    /// at most, so a double click resends once.
    pub fn resend(&self, at: DateTime<Utc>) -> Result<NotificationId, InvalidId> {
        let id = format!("{}.resend-{}", self.0, at.timestamp());
        check_key_part("NotificationId", &id)?;
        Ok(NotificationId(id))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for NotificationId {
    type Error = InvalidId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        check_key_part("NotificationId", &s)?;
        Ok(NotificationId(s))
    }
}

impl From<NotificationId> for String {
    fn from(id: NotificationId) -> String {
        id.0
    }
}

/// Which channel dispatch chose, or why it could not choose one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "decision", rename_all = "snake_case")]
pub enum ChannelDecision {
    Send {
        channel: Channel,
    },
    /// Kept for a person to act on (listed in the admin's follow-up view).
    Held {
        reason: String,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NotificationStatus {
    /// Written, waiting for dispatch.
    Pending,
    /// Dispatch has claimed it and is talking to SES or SNS.
    Sending,
    Sent,
    /// Permanently failed (bad number, rejected address) after any fallback.
    Failed,
    /// No channel available: waits for a person.
    Held,
    /// Decided but not sent, because a later step superseded it (a missed run caught up).
    Skipped,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a {from:?} notification cannot become {to:?}")]
pub struct InvalidTransition {
    pub from: NotificationStatus,
    pub to: NotificationStatus,
}

/// What became of a sent email once it left SES.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EmailOutcomeKind {
    /// The recipient's mail server accepted it.
    Delivered,
    /// Refused for good (no such mailbox): the address is marked undeliverable.
    Bounced,
    /// The recipient marked it as spam: the address is not written to again.
    Complained,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct EmailOutcome {
    pub outcome: EmailOutcomeKind,
    pub at: DateTime<Utc>,
}

impl Notification {
    /// Records SES's word on the email. A complaint or a bounce outweighs a delivery (a
    /// complaint comes after the delivery; a late delivery report does not undo a bounce).
    /// Answers whether anything changed.
    pub fn note_email_outcome(&mut self, outcome: EmailOutcome) -> bool {
        let replaces = self.email_outcome.is_none_or(|known| outcome.outcome > known.outcome);
        if replaces {
            self.email_outcome = Some(outcome);
        }
        replaces
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub id: NotificationId,
    pub customer_id: CustomerId,
    #[serde(default)]
    pub version: u64,
    pub kind: NotificationKind,
    /// The date rule that produced it, for `DateRule` notifications.
    pub rule: Option<String>,
    pub step: u32,
    pub target: Target,
    /// The amount the message is about (the balance due), which decides the channel.
    pub amount: Option<Money>,
    pub channel: Option<ChannelDecision>,
    pub status: NotificationStatus,
    /// SES's MessageId or SNS's MessageId once sent.
    pub provider_message_id: Option<String>,
    #[serde(default)]
    pub attempts: u32,
    pub error: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Not before this instant (quiet hours push it to the next sending window).
    pub send_after: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// When dispatch claimed it (`sending`): a claim older than any invocation can live was
    /// abandoned by one that stopped between sending and recording (see [`Notification::claim_abandoned`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sending_since: Option<DateTime<Utc>>,
    /// The copy a person sent in its place: it is sent again once, not once per click.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resent_as: Option<NotificationId>,
    /// What the recipient's mail server did with a sent email, as SES reported it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email_outcome: Option<EmailOutcome>,
    /// The owner's template for this message could not render (why): the default went instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub template_fallback: Option<String>,
    /// The formal notice (PDF) this email carried, by its file name: its copy is the
    /// [`FormalNoticeCopy`] of this notification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub formal_notice: Option<String>,
    /// The discount code a thank-you offers (the owner's `thank_you_coupon`), taken when the
    /// thank-you was queued: a code from a list belongs to this order only, resent or not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon: Option<String>,
    /// The words that went, as sent: what the member's export shows of it. It names the
    /// person, so erasure forgets it ([`Notification::forget_sent_copy`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sent_copy: Option<SentCopy>,
}

/// A sent message's words: an email's subject and plain text, or a text message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SentCopy {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    pub text: String,
}

/// Lambda stops any invocation after 15 minutes: a `sending` claim older than that belongs to
/// an invocation that is gone.
pub const CLAIM_LIFETIME_MINUTES: i64 = 15;

impl Notification {
    /// A new pending notification for step `step` of `kind` about `target`.
    #[allow(clippy::too_many_arguments)]
    pub fn pending(
        customer_id: CustomerId,
        target: Target,
        kind: NotificationKind,
        rule: Option<String>,
        step: u32,
        amount: Option<Money>,
        now: DateTime<Utc>,
    ) -> Result<Notification, InvalidId> {
        let id = NotificationId::for_step(&target, kind, rule.as_deref(), step)?;
        Ok(Notification {
            id,
            customer_id,
            version: 0,
            kind,
            rule,
            step,
            target,
            amount,
            channel: None,
            status: NotificationStatus::Pending,
            provider_message_id: None,
            attempts: 0,
            error: None,
            created_at: now,
            send_after: now,
            sent_at: None,
            sending_since: None,
            resent_as: None,
            email_outcome: None,
            template_fallback: None,
            formal_notice: None,
            coupon: None,
            sent_copy: None,
        })
    }

    /// A notice to one person about an event many attend: the customer's id goes into the
    /// notification id, so each attendee's `event.<id>.event_reminder.<customer>.1` is unique.
    pub fn for_attendee(
        customer_id: CustomerId,
        event_id: &str,
        kind: NotificationKind,
        step: u32,
        now: DateTime<Utc>,
    ) -> Result<Notification, InvalidId> {
        let target = Target { kind: TargetKind::Event, id: event_id.to_string() };
        let mut notification = Notification::pending(customer_id.clone(), target, kind, None, step, None, now)?;
        notification.id = NotificationId::for_step(&notification.target, kind, Some(customer_id.as_str()), step)?;
        Ok(notification)
    }

    fn move_to(&mut self, allowed_from: &[NotificationStatus], to: NotificationStatus) -> Result<(), InvalidTransition> {
        if allowed_from.contains(&self.status) {
            self.status = to;
            Ok(())
        } else {
            Err(InvalidTransition { from: self.status, to })
        }
    }

    /// A person sent it again as `copy`: a held or failed notice leaves the follow-up list.
    pub fn superseded_by(&mut self, copy: &NotificationId) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Held, NotificationStatus::Failed], NotificationStatus::Skipped)?;
        let again = format!("sent again as {}", copy.as_str());
        self.error = Some(match self.error.take() {
            Some(reason) => format!("{reason}; {again}"),
            None => again,
        });
        Ok(())
    }

    /// A fresh pending copy with id `id`, for a person's "send again".
    pub fn copy_for_resend(&self, id: NotificationId, now: DateTime<Utc>) -> Notification {
        Notification {
            id,
            version: 0,
            channel: None,
            status: NotificationStatus::Pending,
            provider_message_id: None,
            attempts: 0,
            error: None,
            created_at: now,
            send_after: now,
            sent_at: None,
            sending_since: None,
            resent_as: None,
            email_outcome: None,
            ..self.clone()
        }
    }

    /// Dispatch claims the notification before calling SES or SNS.
    pub fn begin_sending(&mut self, channel: Channel, now: DateTime<Utc>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Pending], NotificationStatus::Sending)?;
        self.channel = Some(ChannelDecision::Send { channel });
        self.attempts += 1;
        self.sending_since = Some(now);
        Ok(())
    }

    /// Claimed for sending by an invocation that stopped before recording the outcome: the
    /// message may or may not have gone. Nothing sends it again by itself (SES and SNS take no
    /// idempotency key, so a retry could be a second email); an admin may send it again.
    pub fn claim_abandoned(&self, now: DateTime<Utc>) -> bool {
        self.status == NotificationStatus::Sending
            && self.sending_since.is_none_or(|since| now - since > chrono::Duration::minutes(CLAIM_LIFETIME_MINUTES))
    }

    pub fn mark_sent(&mut self, provider_message_id: String, at: DateTime<Utc>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Sending], NotificationStatus::Sent)?;
        self.provider_message_id = Some(provider_message_id);
        self.sent_at = Some(at);
        self.error = None;
        Ok(())
    }

    /// Sent, and these were its words.
    pub fn mark_sent_as(&mut self, provider_message_id: String, copy: SentCopy, at: DateTime<Utc>) -> Result<(), InvalidTransition> {
        self.mark_sent(provider_message_id, at)?;
        self.sent_copy = Some(copy);
        Ok(())
    }

    /// The customer was erased: the words sent to them go (the notification stays, with its
    /// kind, dates and outcome: what the business did, not who it was to). Answers whether
    /// there was a copy.
    pub fn forget_sent_copy(&mut self) -> bool {
        self.sent_copy.take().is_some()
    }

    /// A transient failure (throttling, a 5xx): back to pending for another attempt.
    pub fn mark_retryable(&mut self, error: impl Into<String>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Sending], NotificationStatus::Pending)?;
        self.error = Some(error.into());
        Ok(())
    }

    /// A permanent failure: this message will not be sent on this channel.
    pub fn mark_failed(&mut self, error: impl Into<String>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Sending], NotificationStatus::Failed)?;
        self.error = Some(error.into());
        Ok(())
    }

    /// The provider's answer was lost (a timeout after the request went): the notification
    /// stays `sending`, with the reason, so nothing sends it again by itself and an admin sees
    /// it (see [`Notification::claim_abandoned`]).
    pub fn note_unknown_outcome(&mut self, reason: impl Into<String>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Sending], NotificationStatus::Sending)?;
        self.error = Some(reason.into());
        Ok(())
    }

    /// No channel can carry it: a person must act.
    pub fn hold(&mut self, reason: impl Into<String>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Pending, NotificationStatus::Sending], NotificationStatus::Held)?;
        self.channel = Some(ChannelDecision::Held { reason: reason.into() });
        Ok(())
    }

    /// An admin asks to try a held or failed notification again.
    pub fn release(&mut self) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Held, NotificationStatus::Failed], NotificationStatus::Pending)?;
        self.channel = None;
        self.error = None;
        Ok(())
    }

    /// A later step made this one pointless.
    pub fn skip(&mut self, reason: impl Into<String>) -> Result<(), InvalidTransition> {
        self.move_to(&[NotificationStatus::Pending], NotificationStatus::Skipped)?;
        self.error = Some(reason.into());
        Ok(())
    }
}

/// A formal notice as it was sent: the PDF's bytes, kept beside the notification that carried
/// it, so the owner can show what the customer received and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FormalNoticeCopy {
    pub customer_id: CustomerId,
    pub notification_id: NotificationId,
    /// The invoice it is about.
    pub invoice_id: String,
    pub file_name: String,
    pub created_at: DateTime<Utc>,
    /// The PDF, base64, and its SHA-256 (hex): the fingerprint to quote if it is disputed.
    pub pdf: String,
    pub sha256: String,
    #[serde(default)]
    pub version: u64,
}

impl FormalNoticeCopy {
    /// The PDF's bytes, as sent.
    pub fn pdf_bytes(&self) -> Result<Vec<u8>, base64::DecodeError> {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.decode(&self.pdf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn invoice_target() -> Target {
        Target { kind: TargetKind::Invoice, id: "01JINV".into() }
    }

    fn notification() -> Notification {
        Notification::pending(
            CustomerId::parse("01JCUS").unwrap(),
            invoice_target(),
            NotificationKind::InvoiceOverdue,
            None,
            2,
            None,
            "2026-11-25T08:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    #[test]
    fn the_id_is_the_same_for_the_same_decision() {
        let a = NotificationId::for_step(&invoice_target(), NotificationKind::InvoiceOverdue, None, 2).unwrap();
        let b = NotificationId::for_step(&invoice_target(), NotificationKind::InvoiceOverdue, None, 2).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.as_str(), "invoice.01JINV.invoice_overdue.2");
        let other_step = NotificationId::for_step(&invoice_target(), NotificationKind::InvoiceOverdue, None, 3).unwrap();
        assert_ne!(a, other_step);
        let rule = NotificationId::for_step(&invoice_target(), NotificationKind::DateRule, Some("lease_80"), 1).unwrap();
        assert_eq!(rule.as_str(), "invoice.01JINV.date_rule.lease_80.1");
        assert!(NotificationId::for_step(&invoice_target(), NotificationKind::DateRule, Some("bad#rule"), 1).is_err());
    }

    #[test]
    fn a_notification_is_sent_once() {
        let mut n = notification();
        n.begin_sending(Channel::Email, Utc::now()).unwrap();
        assert_eq!(n.attempts, 1);
        n.mark_sent("ses-123".into(), "2026-11-25T08:00:01Z".parse().unwrap()).unwrap();
        assert_eq!(n.status, NotificationStatus::Sent);
        // A redelivered stream record finds it sent and cannot claim it again.
        assert_eq!(
            n.begin_sending(Channel::Email, Utc::now()),
            Err(InvalidTransition { from: NotificationStatus::Sent, to: NotificationStatus::Sending })
        );
        assert!(n.hold("x").is_err());
        assert!(n.skip("x").is_err());
    }

    #[test]
    fn retryable_failures_return_to_pending_and_permanent_ones_stop() {
        let mut n = notification();
        n.begin_sending(Channel::Sms, Utc::now()).unwrap();
        n.mark_retryable("Throttling").unwrap();
        assert_eq!(n.status, NotificationStatus::Pending);
        n.begin_sending(Channel::Sms, Utc::now()).unwrap();
        assert_eq!(n.attempts, 2);
        n.mark_failed("invalid number").unwrap();
        assert_eq!(n.status, NotificationStatus::Failed);
        assert!(n.mark_sent("x".into(), n.created_at).is_err());
        n.release().unwrap();
        assert_eq!(n.status, NotificationStatus::Pending);
        assert_eq!(n.error, None);
    }

    #[test]
    fn held_notifications_keep_their_reason() {
        let mut n = notification();
        n.hold("no email and no mobile").unwrap();
        assert_eq!(n.status, NotificationStatus::Held);
        assert_eq!(n.channel, Some(ChannelDecision::Held { reason: "no email and no mobile".into() }));
        let json = serde_json::to_value(&n.channel).unwrap();
        assert_eq!(json, serde_json::json!({"decision": "held", "reason": "no email and no mobile"}));
    }
}
