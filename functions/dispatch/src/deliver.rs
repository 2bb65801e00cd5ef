//! One notification, from its pending item to its recorded outcome: the customer and what
//! it is about read again, the channel chosen, the message rendered, the item claimed, the
//! message sent (with one fallback to the other channel), the outcome recorded.

use chrono::Utc;
use relance::domain::notification::InvalidTransition;
use relance::domain::*;
use relance::notify::compose::{self, About};
use relance::notify::send::{Attachment, SendError};
use relance::notify::{formal_notice, owner_templates};
use relance::schedule::calendar;
use relance::store::{Key, Record, Store, StoreError};

use crate::{DispatchContext, Outcome};

/// Why a record goes back to the stream for another try.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Retry {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Send(String),
}

/// The notification itself, the customer (unless `with_customer` is false: a deadline of the
/// business's calendar) and what the notification is about, read afresh in one call (with
/// an invoice, a card, a subscription: the customer's records, as for nearly every message).
/// The notification is read with them so that a stale stream image (a retried batch, a
/// notice skipped since) is found out before anything is made from it (a formal notice's copy).
async fn customer_and_about(
    store: &Store,
    notification: &Notification,
    with_customer: bool,
) -> Result<(Option<Notification>, Option<Customer>, About), StoreError> {
    let (customer_id, id) = (&notification.customer_id, notification.target.id.as_str());
    let customer_key = Key::customer(customer_id);
    let target = match notification.target.kind {
        TargetKind::Invoice => Some(Key::of_customer::<Invoice>(customer_id, id)),
        TargetKind::PaymentMethod => Some(Key::of_customer::<PaymentMethod>(customer_id, id)),
        TargetKind::Subscription => Some(Key::of_customer::<Subscription>(customer_id, id)),
        _ => None,
    };
    let own_key = notification.key();
    let keys: Vec<Key> = [own_key.clone()].into_iter().chain(with_customer.then(|| customer_key.clone())).chain(target.clone()).collect();
    let mut read = store.fetch(&keys).await?;
    let fresh = read.take::<Notification>(&own_key)?;
    let customer = if with_customer { read.take::<Customer>(&customer_key)? } else { None };
    let about = match (notification.target.kind, &target) {
        (TargetKind::Invoice, Some(key)) => read.take(key)?.map_or(About::Nothing, About::Invoice),
        (TargetKind::PaymentMethod, Some(key)) => read.take(key)?.map_or(About::Nothing, About::Card),
        (TargetKind::Subscription, Some(key)) => read.take(key)?.map_or(About::Nothing, About::Subscription),
        (TargetKind::Event, _) => store.get_by_id::<relance::domain::Event>(id).await?.map_or(About::Nothing, About::Event),
        (TargetKind::Message, _) => About::Message,
        (TargetKind::Lead, _) => store.get_by_id::<Lead>(id).await?.map_or(About::Nothing, About::Lead),
        _ => About::Nothing,
    };
    Ok((fresh, customer, about))
}

/// Whether a notification's new state was recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Settled {
    Saved,
    /// The state machine refused the step, or another writer saved the item first: either
    /// way the item is not in the state this dispatcher read, so someone else owns it now.
    NotOurs,
}

/// The one place a notification's outcome is recorded: `step` is a transition of its state
/// machine (`hold`, `skip`, `begin_sending`, `mark_sent`…); the item is saved, version-checked,
/// only if the machine allows the step. A refused step is logged and nothing is written.
async fn settle(
    store: &Store,
    notification: &mut Notification,
    step: impl FnOnce(&mut Notification) -> Result<(), InvalidTransition>,
) -> Result<Settled, StoreError> {
    if let Err(refused) = step(notification) {
        tracing::warn!(notification = %notification.id.as_str(), %refused, "transition refused; nothing recorded");
        return Ok(Settled::NotOurs);
    }
    match store.update(notification).await {
        Ok(()) => Ok(Settled::Saved),
        Err(StoreError::Conflict(_)) => Ok(Settled::NotOurs),
        Err(e) => Err(e),
    }
}

/// Records the send. SES's report of the email (a delivery, through the feedback topic) may
/// have been recorded on the item between the claim and now, moving its version on: while
/// the item is still this claim, the send is recorded on the fresh copy, report kept. Without
/// this the item would stay `sending`, and the follow-up list would ask a person to send a
/// delivered message again.
async fn record_sent(store: &Store, notification: &mut Notification, message_id: String, copy: SentCopy) -> Result<Settled, StoreError> {
    let (claimed, channel) = (notification.sending_since, notification.channel.clone());
    let mut settled = settle(store, notification, |n| n.mark_sent_as(message_id.clone(), copy.clone(), Utc::now())).await?;
    for _ in 0..relance::store::WRITE_ATTEMPTS {
        if settled == Settled::Saved {
            break;
        }
        let Some(mut fresh) = store.get::<Notification>(&notification.key()).await? else { break };
        if fresh.status != NotificationStatus::Sending || fresh.sending_since != claimed {
            break; // someone else's now
        }
        fresh.channel = channel.clone();
        settled = settle(store, &mut fresh, |n| n.mark_sent_as(message_id.clone(), copy.clone(), Utc::now())).await?;
        *notification = fresh;
    }
    Ok(settled)
}

/// Keeps the formal notice's copy, unless an earlier try of the same notification kept one:
/// that one stands (it may have gone), and is what this try sends. Returns the copy kept.
async fn keep_copy(store: &Store, mut copy: FormalNoticeCopy) -> Result<FormalNoticeCopy, StoreError> {
    if let Some(kept) = store.get::<FormalNoticeCopy>(&copy.key()).await? {
        return Ok(kept);
    }
    match store.insert(&mut copy).await {
        Ok(()) => Ok(copy),
        // Another dispatcher kept one between our read and our write: theirs stands.
        Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => {
            store.get::<FormalNoticeCopy>(&copy.key()).await?.ok_or_else(|| StoreError::Conflict("formal notice copy".into()))
        }
        Err(e) => Err(e),
    }
}

/// Records that the notification waits for a person, and why.
async fn hold(store: &Store, mut notification: Notification, reason: String) -> Result<Outcome, Retry> {
    Ok(match settle(store, &mut notification, |n| n.hold(reason.clone())).await? {
        Settled::Saved => Outcome::Held(reason),
        Settled::NotOurs => Outcome::AlreadyHandled,
    })
}

/// Dispatches the notification at `key`, starting from `image`, the stream's copy of it, when
/// there is one: it saves reading the item. Every write is under the copy's version, so a copy
/// gone stale (a retried batch, a notification changed since) fails its first write and the
/// item is read afresh and dispatched from that. `emailed` is set once SES has been called.
pub(crate) async fn dispatch_one(
    context: &DispatchContext,
    key: &Key,
    image: Option<Notification>,
    emailed: &mut bool,
) -> Result<Outcome, Retry> {
    if let Some(notification) = image.filter(|n| n.status == NotificationStatus::Pending) {
        match dispatch_notification(context, notification, emailed).await? {
            // Stale, or someone else's now: the item itself says which.
            Outcome::AlreadyHandled => {}
            outcome => return Ok(outcome),
        }
    }
    let Some(notification) = context.store.get::<Notification>(key).await? else { return Ok(Outcome::AlreadyHandled) };
    if notification.status != NotificationStatus::Pending {
        return Ok(Outcome::AlreadyHandled);
    }
    dispatch_notification(context, notification, emailed).await
}

/// One pending notification, from its copy in hand to its recorded outcome.
async fn dispatch_notification(context: &DispatchContext, mut notification: Notification, emailed: &mut bool) -> Result<Outcome, Retry> {
    let store = &context.store;
    let settings = context.settings.current().await?;
    // A deadline of the business's calendar is about no customer: the business stands in.
    let deadline = match notification.kind {
        NotificationKind::TeamDeadline => {
            let rule = notification.rule.as_deref().and_then(|r| calendar::rule_of(&settings.settings.calendar, r));
            let Some(rule) = rule.cloned() else {
                return hold(store, notification, "the deadline is no longer in the settings".into()).await;
            };
            Some(rule)
        }
        _ => None,
    };
    let (fresh, found, about) = customer_and_about(store, &notification, deadline.is_none()).await?;
    match fresh {
        // The copy in hand is the item: go on from it.
        Some(fresh) if fresh.version == notification.version => {}
        // Changed since the copy was made: from the item as it is, if it still waits.
        Some(fresh) if fresh.status == NotificationStatus::Pending => notification = fresh,
        _ => return Ok(Outcome::AlreadyHandled),
    }
    let customer = match (&deadline, found) {
        (Some(_), _) => {
            let locale = Locale::parse(&context.default_language).unwrap_or_else(|_| Locale::french());
            Customer::new(notification.customer_id.clone(), context.branding.business.clone(), locale, chrono_tz::UTC, Utc::now())
        }
        (None, Some(customer)) => customer,
        (None, None) => return hold(store, notification, "customer not found".into()).await,
    };
    // A date rule's team note goes to the rule's own address (the workshop), a deadline to
    // its own, else the team's.
    let rule_team = match &deadline {
        Some(rule) => rule.team_email.clone(),
        None => notification.rule.as_deref().and_then(|r| settings.ladders.rule_of(r)).and_then(|r| r.team_email.clone()),
    };
    let team = rule_team.or_else(|| context.team_email.clone());
    if notification.kind.goes_to_the_team() && team.is_none() {
        return hold(store, notification, "no team address configured (RELANCE_TEAM_EMAIL)".into()).await;
    }
    let channel = match settings.policy.choose(&notification, &customer) {
        ChannelDecision::Held { reason } => return hold(store, notification, reason).await,
        ChannelDecision::Send { channel } => channel,
    };
    if let Some(reason) = moot(&notification, &customer, &about) {
        return Ok(match settle(store, &mut notification, |n| n.skip(reason)).await? {
            Settled::Saved => Outcome::Held(reason.to_string()),
            Settled::NotOurs => Outcome::AlreadyHandled,
        });
    }
    let languages = [customer.locale.language(), context.default_language.as_str()];
    let Some(language) = context.renderer.language_for(notification.kind, &languages) else {
        let reason = format!("no {} template", notification.kind.as_str());
        return hold(store, notification, reason).await;
    };
    let mut message_context = compose::context(&notification, &customer, &about, &context.branding, &language);
    if let Some(rule) = &deadline {
        message_context.note = rule.note.clone();
        message_context.rule = rule.name.clone();
    }
    let today = Utc::now().with_timezone(&customer.time_zone).date_naive();
    compose::late_payment(
        &mut message_context,
        &notification,
        &customer,
        &about,
        settings.settings.late_payment.as_ref(),
        today,
        &language,
    );
    // The owner's words when they wrote some for this message; the default otherwise, or if
    // theirs cannot render (recorded on the notification, so a person sees why).
    let owners =
        owner_templates::choose(&settings.templates, notification.kind, &language, notification.step, notification.rule.as_deref());
    let owned = owners.and_then(|t| t.draft.as_ref()).map(|d| owner_templates::render(notification.kind, d, &message_context, &language));
    let message = match owned {
        Some(Ok(message)) => message,
        other => {
            if let Some(Err(e)) = other {
                tracing::warn!(notification = %notification.id.as_str(), error = %e, "the owner's template did not render; the default goes");
                notification.template_fallback = Some(e.to_string());
            }
            match context.renderer.render(notification.kind, &[&language], &message_context) {
                Ok(message) => message,
                Err(e) => return hold(store, notification, e.to_string()).await,
            }
        }
    };

    // The formal notice, when the owner attaches one to the final notice: kept before
    // anything is claimed or sent, and what goes is the copy kept (the first one made, if an
    // earlier try made one), so the copy is always what the customer got.
    let formal_notice = match &about {
        About::Invoice(invoice) if notification.kind == NotificationKind::InvoiceFinalNotice && settings.settings.formal_notice => {
            // The letter's amounts are today's: the balance beside the charges it adds up with.
            let mut letter_context = message_context.clone();
            letter_context.amount = relance::notify::format::money(invoice.balance(), &language, false);
            let letter = formal_notice::Letter {
                context: &letter_context,
                language: &language,
                dated: relance::notify::format::date(today, &language),
                reference: notification.id.as_str(),
            };
            let pdf = match formal_notice::pdf(&letter) {
                Ok(pdf) => pdf,
                Err(e) => return hold(store, notification, e.to_string()).await,
            };
            let file_name = formal_notice::file_name(&language, invoice.number.as_str());
            let kept = keep_copy(store, formal_notice::copy(&notification, invoice, file_name, &pdf, Utc::now())).await?;
            match kept.pdf_bytes() {
                Ok(bytes) => Some((kept.file_name, bytes)),
                Err(e) => return hold(store, notification, format!("the kept formal notice cannot be read: {e}")).await,
            }
        }
        _ => None,
    };
    let attachment = formal_notice.as_ref().map(|(file_name, pdf)| Attachment { file_name, content_type: "application/pdf", bytes: pdf });
    // The notification names the formal notice only when an email carries it.
    let names = |channel: Channel| formal_notice.as_ref().filter(|_| channel == Channel::Email).map(|(name, _)| name.clone());
    notification.formal_notice = names(channel);

    // Claim the item: only one dispatcher gets past this write.
    let claimed = match settle(store, &mut notification, |n| n.begin_sending(channel, Utc::now())).await {
        Ok(settled) => settled,
        // The claim's answer was lost (the SDK's retries failed too): it may have landed, and a
        // retry of this record would then find the item `sending` and leave it, unsent. Read
        // back whether the item is this claim.
        Err(e) => match store.get::<Notification>(&notification.key()).await? {
            Some(stored)
                if stored.status == NotificationStatus::Sending
                    && stored.sending_since == notification.sending_since
                    && stored.version == notification.version + 1 =>
            {
                notification = stored;
                Settled::Saved
            }
            _ => return Err(e.into()),
        },
    };
    if claimed == Settled::NotOurs {
        return Ok(Outcome::AlreadyHandled);
    }
    *emailed |= channel == Channel::Email;
    let mut result = send(context, &notification, &customer, team.as_ref(), channel, &message, attachment.as_ref()).await;
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
        if reachable && !notification.kind.goes_to_the_team() {
            tracing::info!(notification = %notification.id.as_str(), %reason, "falling back to the other channel");
            used = other;
            notification.channel = Some(ChannelDecision::Send { channel: other });
            // A text message cannot carry the formal notice; its copy stays, unsent.
            notification.formal_notice = names(other);
            *emailed |= other == Channel::Email;
            let attachment = attachment.as_ref().filter(|_| other == Channel::Email);
            result = send(context, &notification, &customer, team.as_ref(), other, &message, attachment).await;
        }
    }
    // Once sent, the outcome is what happened, whether or not its record lands: a store
    // failure goes back to the stream for a retry, and a record someone else changed first is
    // logged, so that a person who sees it does not send a delivered message again.
    let id = notification.id.as_str().to_string();
    let lost = |what: &str| tracing::warn!(notification = %id, outcome = what, "the outcome was not recorded: the item changed meanwhile");
    match result {
        Ok(message_id) => {
            let copy = match used {
                Channel::Email => SentCopy { subject: Some(message.subject.clone()), text: message.text.clone() },
                Channel::Sms => SentCopy { subject: None, text: message.sms.clone() },
            };
            if record_sent(store, &mut notification, message_id, copy).await? == Settled::NotOurs {
                lost("sent");
            }
            Ok(Outcome::Sent(used))
        }
        Err(SendError::Retryable(reason)) => {
            if settle(store, &mut notification, |n| n.mark_retryable(reason.clone())).await? == Settled::NotOurs {
                lost("retryable");
            }
            Err(Retry::Send(reason))
        }
        Err(SendError::Permanent(reason)) => {
            notification.formal_notice = None; // refused: it carried nothing
            if settle(store, &mut notification, |n| n.mark_failed(reason.clone())).await? == Settled::NotOurs {
                lost("failed");
            }
            Ok(Outcome::Failed(reason))
        }
        Err(SendError::Unknown(reason)) => {
            // Left `sending`, with the reason: at most once, and visible to the admin.
            if settle(store, &mut notification, |n| n.note_unknown_outcome(reason.clone())).await? == Settled::NotOurs {
                lost("unknown");
            }
            Ok(Outcome::Failed(format!("outcome unknown: {reason}")))
        }
    }
}

/// A reason not to send after all, found by reading the records again just before sending:
/// the customer was paused, the invoice was paid, or the event was called off or is over,
/// since the notification was written.
fn moot(notification: &Notification, customer: &Customer, about: &About) -> Option<&'static str> {
    if customer.reminders_stopped() && !notification.kind.goes_to_the_team() {
        return Some("customer paused");
    }
    match about {
        About::Invoice(invoice) if notification.kind.is_about_money_owed() => invoice.reminders_stopped_because(),
        About::Event(event) if notification.kind != NotificationKind::EventCancelled => {
            if event.cancelled_at.is_some() {
                Some("event cancelled")
            } else if notification.kind == NotificationKind::EventReminder && chrono::Utc::now() >= event.starts_at {
                Some("event over")
            } else {
                None
            }
        }
        _ => None,
    }
}

async fn send(
    context: &DispatchContext,
    notification: &Notification,
    customer: &Customer,
    team: Option<&Email>,
    channel: Channel,
    message: &relance::notify::Message,
    attachment: Option<&Attachment<'_>>,
) -> Result<String, SendError> {
    let internal = notification.kind.goes_to_the_team();
    match channel {
        Channel::Email => {
            let to = if internal { team } else { customer.reachable_email() };
            let to = to.ok_or_else(|| SendError::Permanent("no address".into()))?;
            let mut tags = vec![
                ("kind", notification.kind.as_str().to_string()),
                ("step", notification.step.to_string()),
                ("customer", customer.id.to_string()),
            ];
            // SES's delivery, bounce and complaint reports name the notification by this tag.
            if let Some(tag) = relance::notify::feedback::notification_tag(&notification.id) {
                tags.push(("notification", tag));
            }
            // Reminders about money owed are transactional; the rest can be unsubscribed from.
            let optional =
                matches!(notification.kind, NotificationKind::DateRule | NotificationKind::ThankYou | NotificationKind::EventReminder);
            let unsubscribe = optional.then(|| format!("{}/me/preferences", context.branding.portal_url.trim_end_matches('/')));
            match attachment {
                Some(attachment) => context.senders.email_with_attachment(to, message, &tags, attachment).await,
                None => context.senders.email(to, message, &tags, unsubscribe.as_deref()).await,
            }
        }
        Channel::Sms => {
            let to = customer.reachable_phone().ok_or_else(|| SendError::Permanent("no mobile".into()))?;
            context.senders.sms(to, &message.sms).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> chrono::DateTime<Utc> {
        text.parse().unwrap()
    }

    fn reminder_about(invoice: &Invoice, kind: NotificationKind) -> Notification {
        let target = Target { kind: TargetKind::Invoice, id: invoice.id.to_string() };
        Notification::pending(invoice.customer_id.clone(), target, kind, None, 2, Some(invoice.balance()), at("2026-12-01T09:00:00Z"))
            .unwrap()
    }

    #[test]
    fn a_reminder_is_moot_when_its_invoice_no_longer_accepts_reminders() {
        let customer = Customer::new(
            CustomerId::parse("c1").unwrap(),
            "Camille",
            Locale::french(),
            relance::domain::time::parse_time_zone("Europe/Paris").unwrap(),
            at("2026-01-01T00:00:00Z"),
        );
        let open = Invoice::open(
            InvoiceId::parse("i1").unwrap(),
            customer.id.clone(),
            InvoiceNumber::parse("F-1").unwrap(),
            Money::from_minor(12_000, Currency::EUR),
            at("2026-11-01T00:00:00Z"),
            chrono::NaiveDate::from_ymd_opt(2026, 11, 15).unwrap(),
        );
        let check = |invoice: &Invoice| {
            moot(&reminder_about(invoice, NotificationKind::InvoiceOverdue), &customer, &About::Invoice(invoice.clone()))
        };
        assert_eq!(check(&open), None);
        // The scan decided before the dispute was known: dispatch must not send it (it did).
        let mut disputed = open.clone();
        disputed.disputed = true;
        assert_eq!(check(&disputed), Some("disputed"));
        let mut paused = open.clone();
        paused.reminders_paused = true;
        assert_eq!(check(&paused), Some("invoice paused"));
        let mut paid = open.clone();
        paid.apply_provider_state(paid.amount_due, paid.amount_due, InvoiceStatus::Paid, at("2026-11-20T00:00:00Z"));
        assert_eq!(check(&paid), Some("invoice no longer owed"));
        // A thank-you about a paid invoice is not a reminder of money owed.
        assert_eq!(moot(&reminder_about(&paid, NotificationKind::ThankYou), &customer, &About::Invoice(paid.clone())), None);
    }
}
