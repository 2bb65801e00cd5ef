//! Card facts: a card on file as the provider describes it, its expiry warning, and its
//! removal.

use super::{Work, change_known, find_or_create};
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
        // The first look is at the first rung the scan could climb, the after-expiry notice
        // included (a ladder may have no warnings before it); the scan drops that notice when
        // no renewal needs the card.
        let warning = decide::card_rungs(self.ladders, facts.expiry.last_valid_day(), true, tz).first().map(|rung| rung.at.max(at));
        let Some(tracked) = self.cards.get_mut(&key) else { return Ok(()) };
        tracked.changed |= tracked.record.apply_provider_state(&facts.brand, &facts.last4, facts.expiry, warning, at);
        Ok(())
    }

    pub(super) async fn card_removed(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let at = self.at;
        change_known(self.store, &mut self.refs, &mut self.cards, reference, |card| card.mark_removed(at)).await
    }
}
