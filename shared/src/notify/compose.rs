//! What a message says, from the records it is about: the notification, the customer, and
//! the target (the invoice, the card, the subscription).

use super::format;
use super::templates::MessageContext;
use crate::domain::*;

/// The record a notification is about, as dispatch read it.
#[derive(Debug, Clone)]
pub enum About {
    Invoice(Invoice),
    Card(PaymentMethod),
    Subscription(Subscription),
    Event(Event),
    /// A message from support: the link opens the conversation.
    Message,
    /// An ambassador's lead: its company, status and commission.
    Lead(Lead),
    /// The customer themselves (date rules, orders, internal notes).
    Nothing,
}

/// Business-wide wording and links.
#[derive(Debug, Clone)]
pub struct Branding {
    pub business: String,
    /// The member space's base URL, for "pay", "renew" and "update my card" links.
    pub portal_url: String,
}

/// The member-space page where the customer acts on `about`, for emails: the portal's
/// `/go/…` route lands on the right page and place.
pub fn link(branding: &Branding, about: &About) -> String {
    let base = branding.portal_url.trim_end_matches('/');
    match about {
        About::Invoice(invoice) => format!("{base}/go/i/{}", invoice.id),
        About::Card(card) => format!("{base}/go/c/{}", card.id),
        About::Subscription(subscription) => format!("{base}/go/s/{}", subscription.id),
        About::Event(event) => format!("{base}/go/e/{}", event.id),
        About::Message => format!("{base}/go/m/-"),
        About::Lead(lead) => format!("{base}/go/l/{}", lead.id),
        About::Nothing => format!("{base}/"),
    }
}

/// The same page for a text message: no record id, so the message keeps its one segment
/// whole whatever the portal's address (`/go/i` lands on the invoices page).
pub fn sms_link(branding: &Branding, about: &About) -> String {
    let base = branding.portal_url.trim_end_matches('/');
    match about {
        About::Invoice(_) => format!("{base}/go/i"),
        About::Card(_) => format!("{base}/go/c"),
        About::Subscription(_) => format!("{base}/go/s"),
        About::Event(_) => format!("{base}/go/e"),
        About::Message => format!("{base}/go/m"),
        About::Lead(_) => format!("{base}/go/l"),
        About::Nothing => format!("{base}/"),
    }
}

/// The template context for `notification` in `language`.
pub fn context(notification: &Notification, customer: &Customer, about: &About, branding: &Branding, language: &str) -> MessageContext {
    let tz = customer.time_zone;
    let mut context = MessageContext {
        business: branding.business.clone(),
        name: customer.name.clone(),
        link: link(branding, about),
        sms_link: sms_link(branding, about),
        rule: notification.rule.clone().unwrap_or_default(),
        email: customer.email.as_ref().map(|e| e.to_string()),
        phone: customer.phone.as_ref().map(|p| p.to_string()),
        coupon: notification.coupon.clone(),
        ..MessageContext::default()
    };
    if notification.kind == NotificationKind::Internal {
        // A note to the team about a customer (a date rule's, a support message, a data
        // request) opens their file in the back office, their export one click away.
        context.link = format!("{}/app/admin/customers/{}", branding.portal_url.trim_end_matches('/'), customer.id);
    }
    if let Some(amount) = notification.amount {
        context.amount = format::money(amount, language, false);
        context.amount_sms = format::money(amount, language, true);
    }
    match about {
        About::Invoice(invoice) => {
            context.number = invoice.number.to_string();
            context.due_date = format::date(invoice.due_date, language);
            // The invoice ladder's first overdue reminder is step 2: "reminder 1".
            context.reminder_number = notification.step.saturating_sub(1).max(1);
        }
        About::Card(card) => {
            context.card = format!("{} ••{}", capitalise(&card.brand), card.last4.as_str());
            context.expiry = format!("{:02}/{}", card.expiry.month(), card.expiry.year());
        }
        About::Subscription(subscription) => {
            context.plan = subscription.plan.clone();
            context.period_end = format::date(format::local_day(subscription.current_period_end, tz), language);
            if context.amount.is_empty() {
                context.amount = format::money(subscription.price, language, false);
                context.amount_sms = format::money(subscription.price, language, true);
            }
        }
        About::Event(event) => {
            context.event = event.title.clone();
            context.event_when = format::when(event.starts_at, tz, language);
            context.location = event.location.clone();
        }
        About::Lead(lead) => {
            // The change the notice is about, as it was made (the lead may have moved on).
            let change = notification.rule.as_deref().unwrap_or(lead.status.as_str());
            context.lead = lead.company.clone();
            context.commission_paid = change == "commission_paid";
            context.lead_status = change.to_string();
            if let Some(commission) = lead.commission {
                context.amount = format::money(commission, language, false);
                context.amount_sms = format::money(commission, language, true);
            }
        }
        About::Message | About::Nothing => {
            // A date rule's day (`welcome-7-2026-12-02`): the planned date its messages name.
            let day = notification.rule.as_deref().and_then(|r| r.get(r.len().saturating_sub(10)..));
            if let Some(day) = day.and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok()) {
                context.due_date = format::date(day, language);
            }
        }
    }
    context
}

fn capitalise(word: &str) -> String {
    let mut chars = word.chars();
    chars.next().map(|first| first.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// States a business customer's late-payment charges in the final notice, when the owner
/// turned them on (`terms`): penalties to `today` (the customer's day), the fixed indemnity,
/// and the total. Consumers never get them.
pub fn late_payment(
    context: &mut MessageContext,
    notification: &Notification,
    customer: &Customer,
    about: &About,
    terms: Option<&LatePaymentTerms>,
    today: chrono::NaiveDate,
    language: &str,
) {
    let (Some(terms), About::Invoice(invoice)) = (terms, about) else { return };
    if notification.kind != NotificationKind::InvoiceFinalNotice {
        return;
    }
    let Some(charges) = charges_for(Some(terms), customer, invoice, today) else { return };
    let Ok(total) = charges.total_with(invoice.balance()) else { return };
    context.penalties = format::money(charges.penalties, language, false);
    context.indemnity = format::money(charges.indemnity, language, false);
    context.total_due = format::money(total, language, false);
    context.penalty_rate = format::percent(terms.rate_basis_points, language);
    context.days_late = charges.days_late;
}
