//! What makes a domain record storable: its type name, its key, its version and, for records
//! that are followed up, when it is next due. The domain types stay free of storage concerns;
//! this file is the one place that maps them to keys.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::Key;
use crate::domain::{Account, Customer, Invoice, Notification, Payment, PaymentMethod, Subscription};

pub trait Record: Serialize + DeserializeOwned {
    /// The item's `type` attribute, also the record type in provider reference keys.
    const TYPE: &'static str;

    fn key(&self) -> Key;

    /// 0 for a record never saved; the store bumps it on every write.
    fn version(&self) -> u64;
    fn set_version(&mut self, version: u64);

    /// When the scan should next look at this record, if ever.
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// Since when this record waits for a person, if it does: puts it in the follow-up index.
    fn waiting_for_a_person_since(&self) -> Option<DateTime<Utc>> {
        None
    }

    /// When DynamoDB's TTL may delete the item, for records kept only for a while.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
}

/// Implements the version accessors, the same for every record.
macro_rules! versioned {
    () => {
        fn version(&self) -> u64 {
            self.version
        }
        fn set_version(&mut self, version: u64) {
            self.version = version;
        }
    };
}

impl Record for Customer {
    const TYPE: &'static str = "Customer";
    fn key(&self) -> Key {
        Key::customer(&self.id)
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
}

impl Record for Invoice {
    const TYPE: &'static str = "Invoice";
    fn key(&self) -> Key {
        Key::in_customer(&self.customer_id, "INVOICE", self.id.as_str())
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
    /// Past its final notice and still owed: a person takes over.
    fn waiting_for_a_person_since(&self) -> Option<DateTime<Utc>> {
        let owed = matches!(self.status, crate::domain::InvoiceStatus::Open | crate::domain::InvoiceStatus::PartiallyPaid);
        (owed && self.follow_up.needs_manual_action && !self.reminders_paused).then_some(self.issued_at)
    }
}

impl Record for Subscription {
    const TYPE: &'static str = "Subscription";
    fn key(&self) -> Key {
        Key::in_customer(&self.customer_id, "SUBSCRIPTION", self.id.as_str())
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
}

impl Record for PaymentMethod {
    const TYPE: &'static str = "PaymentMethod";
    fn key(&self) -> Key {
        Key::in_customer(&self.customer_id, "PAYMENT_METHOD", self.id.as_str())
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
}

impl Record for Payment {
    const TYPE: &'static str = "Payment";
    fn key(&self) -> Key {
        Key::in_customer(&self.customer_id, "PAYMENT", self.id.as_str())
    }
    versioned!();
}

impl Record for Notification {
    const TYPE: &'static str = "Notification";
    fn key(&self) -> Key {
        Key::in_customer(&self.customer_id, "NOTIFICATION", self.id.as_str())
    }
    versioned!();
    /// Held (no channel) or failed: a person decides what to do.
    fn waiting_for_a_person_since(&self) -> Option<DateTime<Utc>> {
        matches!(self.status, crate::domain::NotificationStatus::Held | crate::domain::NotificationStatus::Failed).then_some(self.created_at)
    }
}

impl Record for Account {
    const TYPE: &'static str = "Account";
    fn key(&self) -> Key {
        Key::account(&self.user)
    }
    versioned!();
}
