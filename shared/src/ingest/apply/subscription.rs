//! Subscription facts: a subscription's plan, period and status as the provider reports
//! them, and the renewal and failure reminders that follow from them.

use super::{Work, due_by, find_or_create, is_stale, lookup};
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
        let make = || {
            Some(Subscription {
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
                payment_method_id: None,
                provider_ref: Some(facts.reference.clone()),
                follow_up: FollowUp::default(),
                provider_updated_at: None,
                started_at: None,
                ended_at: None,
            })
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.subscriptions, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) };
        // The member's first subscription start is a date rules can follow (a welcome workshop).
        if let Some(customer) = self.customers.get_mut(&customer_key) {
            let start = local_date(facts.current_period_start, tz);
            if !customer.record.custom_dates.contains_key(SUBSCRIPTION_START) {
                customer.record.custom_dates.insert(SUBSCRIPTION_START.to_string(), start);
                customer.changed = true;
            }
        }
        let at = self.at;
        let renewal_notice =
            decide::renewal_rungs(self.ladders, facts.current_period_start, facts.current_period_end, tz).first().map(|rung| rung.at.max(at));
        let Some(tracked) = self.subscriptions.get_mut(&key) else { return Ok(()) };
        let subscription = &mut tracked.record;
        if is_stale(subscription.provider_updated_at, at) {
            return Ok(());
        }
        let renewed = subscription.current_period_end != facts.current_period_end;
        subscription.plan = facts.plan.clone();
        subscription.price = facts.price;
        subscription.interval = facts.interval;
        subscription.status = facts.status;
        subscription.current_period_start = facts.current_period_start;
        subscription.current_period_end = facts.current_period_end;
        subscription.cancel_at_period_end = facts.cancel_at_period_end;
        subscription.provider_updated_at = Some(at);
        if subscription.status != SubscriptionStatus::PastDue {
            subscription.follow_up.failure_pending = false; // paid again before the notice went
        }
        if !subscription.renews() {
            subscription.follow_up.clear();
        } else if renewed || subscription.follow_up.next_action_at.is_none() {
            // A new period starts its own renewal reminders.
            subscription.follow_up = FollowUp::default();
            if let Some(notice) = renewal_notice {
                subscription.follow_up.schedule(notice);
            }
        }
        tracked.changed = true;
        Ok(())
    }

    pub(super) async fn subscription_status(&mut self, reference: &ProviderRef, status: SubscriptionStatus) -> Result<(), StoreError> {
        let at = self.at;
        let Some(key) = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await? else {
            return Ok(()); // a subscription we never saw: nothing of ours to change
        };
        let Some(tracked) = self.subscriptions.get_mut(&key) else { return Ok(()) };
        let subscription = &mut tracked.record;
        if is_stale(subscription.provider_updated_at, at) {
            return Ok(());
        }
        let was_past_due = subscription.status == SubscriptionStatus::PastDue;
        subscription.status = status;
        subscription.provider_updated_at = Some(at);
        if status != SubscriptionStatus::PastDue {
            subscription.follow_up.failure_pending = false;
        }
        if !subscription.renews() {
            subscription.follow_up.clear();
        } else if was_past_due && status == SubscriptionStatus::Active {
            // Paid again: the past-due reminders stop, the renewal ones resume. The customer
            // (and so their zone) is not read here: the scan looks now and climbs the
            // period's notices in the customer's zone, waiting for the next one.
            subscription.follow_up = FollowUp::default();
            subscription.follow_up.schedule(at);
        }
        tracked.changed = true;
        Ok(())
    }

    pub(super) async fn renewal_soon(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        if let Some(key) = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await? {
            if let Some(tracked) = self.subscriptions.get_mut(&key) {
                if tracked.record.renews() {
                    due_by(&mut tracked.record.follow_up, at);
                    tracked.changed = true;
                }
            }
        }
        Ok(())
    }

    /// A renewal payment failed: the subscription is past due, and its failure notice is due
    /// now when it carries it (`notify`).
    pub(super) async fn subscription_payment_failed(&mut self, reference: &ProviderRef, notify: bool) -> Result<(), StoreError> {
        let at = self.at;
        if let Some(key) = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await? {
            if let Some(tracked) = self.subscriptions.get_mut(&key) {
                let subscription = &mut tracked.record;
                if subscription.status.is_live() && !is_stale(subscription.provider_updated_at, at) {
                    subscription.status = SubscriptionStatus::PastDue;
                    if notify {
                        subscription.follow_up.failure_pending = true;
                        due_by(&mut subscription.follow_up, at);
                    }
                    tracked.changed = true;
                }
            }
        }
        Ok(())
    }
}
