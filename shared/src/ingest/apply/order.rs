//! Order facts: a shop purchase queues its post-purchase thank-you, once per order.

use super::{Tracked, Work};
use crate::domain::{CouponPool, Notification, NotificationKind, Target, TargetKind, ThankYouCoupon};
use crate::facts::OrderFacts;
use crate::store::{Record, StoreError};

use super::customer::Authority;

impl Work<'_> {
    pub(super) async fn order(&mut self, facts: &OrderFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, _) = self.customer_zone(&customer_key);
        let target = Target { kind: TargetKind::Order, id: facts.reference.id.clone() };
        let Ok(mut thank_you) =
            Notification::pending(customer_id, target, NotificationKind::ThankYou, None, 1, Some(facts.total), self.now)
        else {
            return Ok(());
        };
        // One thank-you per order, whichever topic (orders/create, orders/paid) told us first.
        if self.store.get::<Notification>(&thank_you.key()).await?.is_none() && !self.notifications.iter().any(|n| n.id == thank_you.id) {
            thank_you.coupon = self.hand_out_coupon().await?;
            self.notifications.push(thank_you);
        }
        Ok(())
    }

    /// The code this order's thank-you offers, if the owner turned the coupon on: the fixed
    /// code, or the next one of the list (none once it is used up).
    async fn hand_out_coupon(&mut self) -> Result<Option<String>, StoreError> {
        let Some(coupon) = self.coupon else { return Ok(None) };
        let codes = match coupon {
            ThankYouCoupon::Fixed { code } => return Ok(Some(code.clone())),
            ThankYouCoupon::PerOrder { codes } => codes,
        };
        if self.coupon_pool.is_none() {
            let id = coupon.pool_id().unwrap_or_default();
            let pool = CouponPool::new(id);
            self.coupon_pool = Some(match self.store.get::<CouponPool>(&pool.key()).await? {
                Some(record) => Tracked { record, is_new: false, changed: false },
                None => Tracked { record: pool, is_new: true, changed: false },
            });
        }
        let Some(pool) = self.coupon_pool.as_mut() else { return Ok(None) };
        let code = pool.record.hand_out(codes);
        match &code {
            Some(_) => pool.changed = true,
            None => tracing::warn!(pool = %pool.record.id, "the thank-you coupon list is used up: this thank-you goes without a code"),
        }
        Ok(code)
    }
}
