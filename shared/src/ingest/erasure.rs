//! What erasing a customer does beyond their own record, wherever the erasure comes from (the
//! member's `DELETE /me`, a provider's `customers/redact` or `shop/redact`): the archived
//! deliveries that named them are withheld, and the words of the messages sent to them are
//! forgotten. Their invoices, payments and notifications stay, for the books and for what the
//! business did; none of them names the person any more.

use super::archive;
use crate::domain::{CustomerId, Notification};
use crate::store::{Key, Store, StoreError, WRITE_ATTEMPTS};

/// What [`forget_around`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Forgotten {
    pub archived_bodies: u32,
    pub sent_texts: u32,
}

/// Withholds the customer's archived deliveries and forgets the texts sent to them. Each
/// change is its own write (a customer may have hundreds of notifications, more than one
/// transaction holds); run again, it finds nothing left to do.
pub async fn forget_around(store: &Store, customer: &CustomerId) -> Result<Forgotten, StoreError> {
    let archived_bodies = archive::withhold_for(store, customer).await?;
    let mut sent_texts = 0;
    for listed in store.list_all::<Notification>(&Key::customer_partition(customer)).await? {
        if listed.sent_copy.is_none() {
            continue;
        }
        let key = crate::store::Record::key(&listed);
        let mut current = Some(listed);
        let mut done = false;
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut notification) = current.take() else {
                done = true;
                break;
            };
            if !notification.forget_sent_copy() {
                done = true;
                break;
            }
            match store.update(&mut notification).await {
                Ok(()) => {
                    sent_texts += 1;
                    done = true;
                    break;
                }
                // Dispatch or SES's feedback wrote it meanwhile: forget it on the fresh copy.
                Err(StoreError::Conflict(_)) => current = store.get::<Notification>(&key).await?,
                Err(e) => return Err(e),
            }
        }
        if !done {
            // Not silently: the caller answers so that the erasure is asked for again.
            return Err(StoreError::Conflict(format!("{}: kept changing while its sent text was being forgotten", key.sk)));
        }
    }
    Ok(Forgotten { archived_bodies, sent_texts })
}
