//! Card facts: a card on file as the provider describes it, its expiry warning, and its
//! removal.

use super::{Work, find_or_create, is_stale, lookup};
use crate::domain::{FollowUp, PaymentMethod, PaymentMethodId, ProviderRef};
use crate::facts::{CardFacts, CustomerFacts};
use crate::schedule::decide;
use crate::store::StoreError;

use super::customer::Authority;

impl Work<'_> {
    pub(super) async fn card(&mut self, facts: &CardFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&CustomerFacts::reference_only(facts.customer.clone()), Authority::FillBlanks).await?;
        let (customer_id, tz) = self.customer_zone(&customer_key);
        let added_at = self.at;
        let make = || {
            Some(PaymentMethod {
                id: PaymentMethodId::generate(),
                customer_id,
                version: 0,
                brand: facts.brand.clone(),
                last4: facts.last4.clone(),
                expiry: facts.expiry,
                is_default: false,
                provider_ref: Some(facts.reference.clone()),
                added_at,
                removed: false,
                follow_up: FollowUp::default(),
                provider_updated_at: None,
            })
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.cards, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) };
        let at = self.at;
        let warning = decide::card_rungs(self.ladders, facts.expiry.last_valid_day(), false, tz).first().map(|rung| rung.at.max(at));
        let Some(tracked) = self.cards.get_mut(&key) else { return Ok(()) };
        let card = &mut tracked.record;
        if is_stale(card.provider_updated_at, at) {
            return Ok(());
        }
        let new_expiry = card.expiry != facts.expiry;
        card.brand = facts.brand.clone();
        card.last4 = facts.last4.clone();
        card.expiry = facts.expiry;
        card.removed = false;
        card.provider_updated_at = Some(at);
        if new_expiry || card.follow_up.next_action_at.is_none() && card.follow_up.step == 0 {
            // A renewed card starts its warnings afresh.
            card.follow_up = FollowUp::default();
            if let Some(warning) = warning {
                card.follow_up.schedule(warning);
            }
        }
        tracked.changed = true;
        Ok(())
    }

    pub(super) async fn card_removed(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        if let Some(key) = lookup(self.store, &mut self.refs, &mut self.cards, reference).await? {
            if let Some(tracked) = self.cards.get_mut(&key) {
                let card = &mut tracked.record;
                if !is_stale(card.provider_updated_at, at) && !card.removed {
                    card.removed = true;
                    card.follow_up.clear();
                    card.provider_updated_at = Some(at);
                    tracked.changed = true;
                }
            }
        }
        Ok(())
    }
}
