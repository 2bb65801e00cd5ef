//! Subscription facts: a subscription's plan, period and status as the provider reports
//! them, and the renewal and failure reminders that follow from them.

use super::{Work, change_known, find_or_create, lookup};
use crate::domain::time::local_date;
use crate::domain::{FollowUp, ProviderRef, Subscription, SubscriptionId, SubscriptionStatus};
use crate::facts::SubscriptionFacts;
use crate::schedule::decide;
use crate::store::StoreError;

use super::customer::Authority;

/// The customer date set from their first subscription's start, for date rules.
pub const SUBSCRIPTION_START: &str = "subscription_start";

impl Work<'_> {
    /// Our id for a subscription the provider names, if we know it.
    pub(super) async fn subscription_id(&mut self, reference: Option<&ProviderRef>) -> Result<Option<SubscriptionId>, StoreError> {
        let Some(reference) = reference else { return Ok(None) };
        let key = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await?;
        Ok(key.and_then(|k| self.subscriptions.get(&k)).map(|t| t.record.id.clone()))
    }

    pub(super) async fn subscription(&mut self, facts: &SubscriptionFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, tz) = self.customer_zone(&customer_key);
        let payment_method_id = match &facts.payment_method {
            Some(reference) => {
                let key = lookup(self.store, &mut self.refs, &mut self.cards, reference).await?;
                key.and_then(|k| self.cards.get(&k)).map(|t| t.record.id.clone())
            }
            None => None,
        };
        // The subscription as the provider describes it: stored as it is on first sight, and
        // the plan and period a known one takes.
        let latest = Subscription {
            id: SubscriptionId::generate(),
            customer_id,
            version: 0,
            plan: facts.plan.clone(),
            price: facts.price,
            interval: facts.interval,
            status: facts.status,
            current_period_start: facts.current_period_start,
            current_period_end: facts.current_period_end,
            cancel_at_period_end: facts.cancel_at_period_end,
            manual_renewal: facts.manual_renewal,
            payment_method_id,
            provider_ref: Some(facts.reference.clone()),
            follow_up: FollowUp::default(),
            provider_updated_at: None,
            started_at: None,
            ended_at: None,
            failure_count: facts.failure_count,
            days_past_due: facts.days_past_due,
        };
        let make = || Some(latest.clone());
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.subscriptions, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) };
        // The member's first subscription start is a date rules can follow (a welcome workshop).
        if let Some(customer) = self.customers.get_mut(&customer_key) {
            customer.changed |= customer.record.note_first_date(SUBSCRIPTION_START, local_date(facts.current_period_start, tz));
        }
        let at = self.at;
        let renewal_notice = decide::renewal_rungs(self.ladders, facts.current_period_start, facts.current_period_end, tz)
            .first()
            .map(|rung| rung.at.max(at));
        let Some(tracked) = self.subscriptions.get_mut(&key) else { return Ok(()) };
        tracked.changed |= tracked.record.apply_provider_state(&latest, renewal_notice, at);
        Ok(())
    }

    /// A status alone (Braintree's notifications). The customer, and so their zone, is not
    /// read: a subscription paid again is looked at now, and the scan finds the period's next
    /// notice in the customer's zone.
    pub(super) async fn subscription_status(&mut self, reference: &ProviderRef, status: SubscriptionStatus) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.subscriptions, reference, |sub| sub.apply_provider_status(status, at)).await
    }

    /// The provider announces a renewal or a trial end: a renewal notice is due now.
    pub(super) async fn renewal_soon(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.subscriptions, reference, |sub| sub.renewal_due_by(at)).await
    }

    /// A renewal payment failed: the subscription is past due, and its failure notice is due
    /// now when it carries it (`notify`).
    pub(super) async fn subscription_payment_failed(&mut self, reference: &ProviderRef, notify: bool) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.subscriptions, reference, |sub| sub.record_payment_failure(notify, at)).await
    }
}
