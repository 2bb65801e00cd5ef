//! The channel policy our users run today: "over 50 € an email through SES if we have an
//! address; under 50 €, or without an email, a text message if we have a mobile; otherwise
//! keep it for later". Pure: the customer and the notification in, a decision out.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::domain::{Channel, ChannelDecision, Currency, Customer, Money, Notification, NotificationKind};

/// The amount from which a notice goes by email first, per currency. A currency without a
/// threshold is never converted from another: its notices are held until one is configured.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChannelPolicy {
    pub email_from: BTreeMap<Currency, Money>,
}

impl Default for ChannelPolicy {
    fn default() -> Self {
        ChannelPolicy { email_from: BTreeMap::from([(Currency::EUR, Money::from_minor(5000, Currency::EUR))]) }
    }
}

pub const NO_CHANNEL: &str = "no email address or mobile number we may use";

impl ChannelPolicy {
    /// Reads thresholds written as `EUR:50.00,USD:60.00` (`RELANCE_EMAIL_THRESHOLDS`).
    pub fn parse_thresholds(text: &str) -> Result<ChannelPolicy, String> {
        let mut policy = ChannelPolicy { email_from: BTreeMap::new() };
        for entry in text.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let (code, amount) = entry.split_once(':').ok_or_else(|| format!("{entry:?} is not CODE:AMOUNT"))?;
            let currency: Currency = code.trim().parse().map_err(|e: crate::domain::MoneyError| e.to_string())?;
            let amount = Money::parse_decimal(amount.trim(), currency).map_err(|e| e.to_string())?;
            policy.email_from.insert(currency, amount);
        }
        Ok(policy)
    }

    /// Where `notification` goes for `customer`.
    pub fn choose(&self, notification: &Notification, customer: &Customer) -> ChannelDecision {
        let email = customer.reachable_email().is_some();
        let sms = customer.reachable_phone().is_some();
        let held = |reason: String| ChannelDecision::Held { reason };
        let first_of = |order: [Channel; 2]| {
            order
                .into_iter()
                .find(|c| match c {
                    Channel::Email => email,
                    Channel::Sms => sms,
                })
                .map(|channel| ChannelDecision::Send { channel })
                .unwrap_or_else(|| held(NO_CHANNEL.to_string()))
        };
        if notification.kind.goes_to_the_team() {
            // The team is written to by email, whatever the customer's channels.
            return ChannelDecision::Send { channel: Channel::Email };
        }
        // The thresholds are for money the customer owes (a reminder, a renewal to pay): a
        // thank-you for an order or a commission notice follows the preferred channel,
        // whatever its currency.
        let owed = notification.kind.is_about_money_owed() || notification.kind == NotificationKind::RenewalUpcoming;
        match notification.amount.filter(|_| owed) {
            Some(amount) => match self.email_from.get(&amount.currency()) {
                None => held(format!("no email threshold configured for {}", amount.currency())),
                Some(threshold) if amount.minor_units() >= threshold.minor_units() => first_of([Channel::Email, Channel::Sms]),
                Some(_) => first_of([Channel::Sms, Channel::Email]),
            },
            None => match customer.preferred_channel.unwrap_or(Channel::Email) {
                Channel::Email => first_of([Channel::Email, Channel::Sms]),
                Channel::Sms => first_of([Channel::Sms, Channel::Email]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::*;

    fn customer(email: bool, phone: bool) -> Customer {
        let mut c = Customer::new(
            CustomerId::parse("c1").unwrap(),
            "Camille",
            Locale::french(),
            chrono_tz::Europe::Paris,
            "2026-01-01T00:00:00Z".parse().unwrap(),
        );
        c.email = email.then(|| Email::parse("camille@example.org").unwrap());
        c.phone = phone.then(|| PhoneE164::parse("06 12 34 56 78", Some("FR")).unwrap());
        c
    }

    fn notice(kind: NotificationKind, amount: Option<Money>) -> Notification {
        Notification::pending(
            CustomerId::parse("c1").unwrap(),
            Target { kind: TargetKind::Invoice, id: "i1".into() },
            kind,
            None,
            1,
            amount,
            "2026-11-25T10:00:00Z".parse().unwrap(),
        )
        .unwrap()
    }

    fn eur(minor: i64) -> Option<Money> {
        Some(Money::from_minor(minor, Currency::EUR))
    }

    const EMAIL: ChannelDecision = ChannelDecision::Send { channel: Channel::Email };
    const SMS: ChannelDecision = ChannelDecision::Send { channel: Channel::Sms };

    #[test]
    fn the_threshold_table() {
        let policy = ChannelPolicy::default();
        let held = ChannelDecision::Held { reason: NO_CHANNEL.into() };
        // (amount, has email, has mobile) → decision
        let cases = [
            (eur(5000), true, true, EMAIL.clone()),
            (eur(5001), true, true, EMAIL.clone()),
            (eur(4999), true, true, SMS.clone()),
            (eur(12000), false, true, SMS.clone()),
            (eur(100), true, false, EMAIL.clone()),
            (eur(12000), false, false, held.clone()),
            (eur(100), false, false, held.clone()),
        ];
        for (amount, email, phone, expected) in cases {
            let decision = policy.choose(&notice(NotificationKind::InvoiceOverdue, amount), &customer(email, phone));
            assert_eq!(decision, expected, "{amount:?} email={email} phone={phone}");
        }
    }

    #[test]
    fn opt_outs_bounces_and_landlines_count_as_no_channel() {
        let policy = ChannelPolicy::default();
        let mut c = customer(true, true);
        c.opt_outs.sms = true;
        assert_eq!(policy.choose(&notice(NotificationKind::InvoiceOverdue, eur(100)), &c), EMAIL);
        c.email_undeliverable = true;
        assert!(matches!(policy.choose(&notice(NotificationKind::InvoiceOverdue, eur(100)), &c), ChannelDecision::Held { .. }));
        let mut landline = customer(false, false);
        landline.phone = Some(PhoneE164::parse("01 42 68 53 00", Some("FR")).unwrap());
        assert!(matches!(policy.choose(&notice(NotificationKind::InvoiceOverdue, eur(100)), &landline), ChannelDecision::Held { .. }));
    }

    #[test]
    fn other_currencies_are_never_converted() {
        let policy = ChannelPolicy::default();
        let usd = Some(Money::from_minor(100_000, Currency::USD));
        let decision = policy.choose(&notice(NotificationKind::InvoiceOverdue, usd), &customer(true, true));
        assert_eq!(decision, ChannelDecision::Held { reason: "no email threshold configured for USD".into() });
    }

    #[test]
    fn a_thank_you_goes_by_email_in_a_currency_with_no_threshold() {
        let policy = ChannelPolicy::default();
        let usd = Some(Money::from_minor(2_500, Currency::USD));
        assert_eq!(policy.choose(&notice(NotificationKind::ThankYou, usd), &customer(true, true)), EMAIL);
        let small = eur(100);
        assert_eq!(policy.choose(&notice(NotificationKind::ThankYou, small), &customer(true, true)), EMAIL, "not texted for being small");
        assert_eq!(policy.choose(&notice(NotificationKind::LeadChanged, usd), &customer(true, true)), EMAIL);
        // A renewal to pay keeps the thresholds.
        assert!(matches!(
            policy.choose(&notice(NotificationKind::RenewalUpcoming, usd), &customer(true, true)),
            ChannelDecision::Held { .. }
        ));
    }

    #[test]
    fn notices_without_an_amount_follow_the_preferred_channel() {
        let policy = ChannelPolicy::default();
        let mut c = customer(true, true);
        assert_eq!(policy.choose(&notice(NotificationKind::CardExpiring, None), &c), EMAIL);
        c.preferred_channel = Some(Channel::Sms);
        assert_eq!(policy.choose(&notice(NotificationKind::RenewalUpcoming, None), &c), SMS);
        c.phone = None;
        assert_eq!(policy.choose(&notice(NotificationKind::RenewalUpcoming, None), &c), EMAIL);
        // Internal notices go to the team by email.
        assert_eq!(policy.choose(&notice(NotificationKind::Internal, None), &customer(false, false)), EMAIL);
    }
}
