//! Order facts: a shop purchase queues its post-purchase thank-you, once per order.

use super::Work;
use crate::domain::{Notification, NotificationKind, Target, TargetKind};
use crate::facts::OrderFacts;
use crate::store::{Record, StoreError};

use super::customer::Authority;

impl Work<'_> {
    pub(super) async fn order(&mut self, facts: &OrderFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, _) = self.customer_zone(&customer_key);
        let target = Target { kind: TargetKind::Order, id: facts.reference.id.clone() };
        let Ok(thank_you) = Notification::pending(customer_id, target, NotificationKind::ThankYou, None, 1, Some(facts.total), self.now)
        else {
            return Ok(());
        };
        // One thank-you per order, whichever topic (orders/create, orders/paid) told us first.
        if self.store.get::<Notification>(&thank_you.key()).await?.is_none() && !self.notifications.iter().any(|n| n.id == thank_you.id) {
            self.notifications.push(thank_you);
        }
        Ok(())
    }
}
