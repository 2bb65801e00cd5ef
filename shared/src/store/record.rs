//! What makes a domain record storable: its type name, its key, its version and, for records
//! that are followed up, when it is next due. The domain types stay free of storage concerns;
//! this file is the one place that maps them to keys.

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::keys::Key;
use super::keys::format_instant;
use crate::domain::{
    Account, Attendance, AuditEntry, Customer, CustomerId, Event, EventId, FormalNoticeCopy, Harvest, ImportRun, InboxEntry, Invoice, Lead,
    Message, Mission, MissionLink, News, Notification, Payment, PaymentMethod, ProviderDelivery, Registration, Site, Subscription,
};

pub trait Record: Serialize + DeserializeOwned {
    /// The item's `type` attribute, also the record type in provider reference keys.
    const TYPE: &'static str;

    /// How every sort key of this type begins in its partition (`INVOICE#`): the store lists
    /// a partition's records of one type with it, so callers name the type, never its keys.
    const SK_PREFIX: &'static str;

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

    /// Our id for the record, when something names it without its partition (the admin's
    /// `/admin/invoices/{id}`, a notification to resend, an event). The store writes the
    /// `ID#<type>#<id>` lookup item with every insert of such a record.
    fn lookup_id(&self) -> Option<&str> {
        None
    }

    /// Where the KPIs find this record: a ledger partition (`INVOICES#2026-11`) and the
    /// instant it sorts by there.
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        None
    }

    /// When DynamoDB's TTL may delete the item, for records kept only for a while.
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        None
    }
}

impl Key {
    /// A record of type `R` inside a customer's partition: its sort key is `R`'s prefix and
    /// our id (`INVOICE#<id>`).
    pub fn of_customer<R: Record>(customer_id: &CustomerId, id: &str) -> Key {
        Key { pk: Key::customer_partition(customer_id), sk: format!("{}{id}", R::SK_PREFIX) }
    }

    /// The customer record itself, in its own partition.
    pub fn customer(customer_id: &CustomerId) -> Key {
        Key { pk: Key::customer_partition(customer_id), sk: Customer::SK_PREFIX.into() }
    }

    /// A person's registration for an event, in the event's partition.
    pub fn registration(event: &EventId, user: &str) -> Key {
        Key { pk: Key::event_partition(event), sk: format!("{}{user}", Registration::SK_PREFIX) }
    }

    /// The same registration seen from the person's account partition ("my events").
    pub fn attendance(user: &str, event: &EventId) -> Key {
        Key { pk: Key::account(user).pk, sk: format!("{}{event}", Attendance::SK_PREFIX) }
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
    const SK_PREFIX: &'static str = "CUSTOMER";
    fn key(&self) -> Key {
        Key::customer(&self.id)
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
    /// Every customer, by creation: read only by maintenance jobs (the date-rule backfill).
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        Some((Ledger::CUSTOMERS.into(), self.created_at))
    }
}

impl Record for Invoice {
    const TYPE: &'static str = "Invoice";
    const SK_PREFIX: &'static str = "INVOICE#";
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.id.as_str())
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
    /// Past its final notice, or disputed by the customer, and still owed: a person takes
    /// over (reminders wait for them, or for the dispute's outcome).
    fn waiting_for_a_person_since(&self) -> Option<DateTime<Utc>> {
        (self.is_owed() && (self.follow_up.needs_manual_action || self.disputed) && !self.reminders_paused).then_some(self.issued_at)
    }
    fn lookup_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        Some((Ledger::invoices(self.issued_at), self.issued_at))
    }
}

impl Record for Subscription {
    const TYPE: &'static str = "Subscription";
    const SK_PREFIX: &'static str = "SUBSCRIPTION#";
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.id.as_str())
    }
    versioned!();
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        Some((Ledger::SUBSCRIPTIONS.into(), self.started_at.unwrap_or(self.current_period_start)))
    }
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
}

impl Record for PaymentMethod {
    const TYPE: &'static str = "PaymentMethod";
    const SK_PREFIX: &'static str = "PAYMENT_METHOD#";
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.id.as_str())
    }
    versioned!();
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.follow_up.next_action_at
    }
}

impl Record for FormalNoticeCopy {
    const TYPE: &'static str = "FormalNotice";
    const SK_PREFIX: &'static str = "FORMALNOTICE#";
    /// In the customer's partition, by the notification that carried it.
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.notification_id.as_str())
    }
    versioned!();
}

impl Record for Payment {
    const TYPE: &'static str = "Payment";
    const SK_PREFIX: &'static str = "PAYMENT#";
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.id.as_str())
    }
    versioned!();
}

impl Record for ProviderDelivery {
    const TYPE: &'static str = "ProviderDelivery";
    const SK_PREFIX: &'static str = "DELIVERY#";
    /// In the customer's partition, by arrival: the timeline reads them with the rest.
    fn key(&self) -> Key {
        Key {
            pk: Key::customer_partition(&self.customer_id),
            sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.received_at), self.delivery_id),
        }
    }
    versioned!();
    fn expires_at(&self) -> Option<DateTime<Utc>> {
        Some(self.received_at + chrono::Duration::days(ProviderDelivery::KEPT_DAYS))
    }
}

impl Record for Notification {
    const TYPE: &'static str = "Notification";
    const SK_PREFIX: &'static str = "NOTIFICATION#";
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.customer_id, self.id.as_str())
    }
    versioned!();
    /// Held (no channel) or failed: a person decides what to do. A `sending` claim is indexed
    /// too, from when it was taken: if its invocation stopped before recording the outcome, a
    /// person decides whether to send it again (the view shows only abandoned claims).
    fn waiting_for_a_person_since(&self) -> Option<DateTime<Utc>> {
        use crate::domain::NotificationStatus::{Failed, Held, Sending};
        match self.status {
            Held | Failed => Some(self.created_at),
            Sending => Some(self.sending_since.unwrap_or(self.created_at)),
            _ => None,
        }
    }
    fn lookup_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
    /// Sent ones only: the KPIs count reminders that went out.
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        let sent_at = self.sent_at.filter(|_| self.status == crate::domain::NotificationStatus::Sent)?;
        Some((Ledger::sent(sent_at), sent_at))
    }
}

impl Record for Account {
    const TYPE: &'static str = "Account";
    const SK_PREFIX: &'static str = "USER";
    fn key(&self) -> Key {
        Key::account(&self.user)
    }
    versioned!();
}

impl Record for Site {
    const TYPE: &'static str = "Site";
    const SK_PREFIX: &'static str = "SITE#";
    fn key(&self) -> Key {
        Key::site(&self.id)
    }
    versioned!();
}

impl Record for Harvest {
    const TYPE: &'static str = "Harvest";
    const SK_PREFIX: &'static str = "HARVEST#";
    /// In the site's partition, by date: a season reads in order.
    fn key(&self) -> Key {
        Key { pk: Key::site_partition(&self.site_id), sk: format!("{}{}#{}", Self::SK_PREFIX, self.date, self.id) }
    }
    versioned!();
}

impl Record for News {
    const TYPE: &'static str = "News";
    const SK_PREFIX: &'static str = "NEWS#";
    /// In its scope's partition (everyone's, or one site's), by publication time.
    fn key(&self) -> Key {
        Key {
            pk: Key::news_partition(self.site.as_ref()),
            sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.published_at), self.id),
        }
    }
    versioned!();
}

impl Record for Event {
    const TYPE: &'static str = "Event";
    const SK_PREFIX: &'static str = "EVENT#";
    /// In the one events partition, by start: "upcoming" is a key range.
    fn key(&self) -> Key {
        Key { pk: Key::EVENTS.into(), sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.starts_at), self.id) }
    }
    versioned!();
    /// The eve-of-event reminder to the registered.
    fn next_action_at(&self) -> Option<DateTime<Utc>> {
        self.reminder_at
    }
    fn lookup_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
}

impl Record for Registration {
    const TYPE: &'static str = "Registration";
    const SK_PREFIX: &'static str = "REGISTRATION#";
    fn key(&self) -> Key {
        Key::registration(&self.event_id, &self.user)
    }
    versioned!();
}

impl Record for Message {
    const TYPE: &'static str = "Message";
    const SK_PREFIX: &'static str = "MESSAGE#";
    /// In the member's conversation, in order.
    fn key(&self) -> Key {
        Key { pk: Key::conversation(&self.member), sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.sent_at), self.id) }
    }
    versioned!();
}

impl Record for InboxEntry {
    const TYPE: &'static str = "InboxEntry";
    const SK_PREFIX: &'static str = "MESSAGE#";
    fn key(&self) -> Key {
        Key { pk: Key::INBOX.into(), sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.sent_at), self.message_id) }
    }
    versioned!();
}

impl Record for Attendance {
    const TYPE: &'static str = "Attendance";
    const SK_PREFIX: &'static str = "ATTENDANCE#";
    /// In the person's account partition.
    fn key(&self) -> Key {
        Key::attendance(&self.user, &self.event_id)
    }
    versioned!();
}

impl Record for Mission {
    const TYPE: &'static str = "Mission";
    const SK_PREFIX: &'static str = "MISSION#";
    /// In the client's partition, beside their invoices.
    fn key(&self) -> Key {
        Key::of_customer::<Self>(&self.client, self.id.as_str())
    }
    versioned!();
    /// The back office edits a mission by its id alone.
    fn lookup_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
    /// Every mission, by start: the back office's list.
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        Some((Ledger::MISSIONS.into(), self.starts_on.and_time(chrono::NaiveTime::MIN).and_utc()))
    }
}

impl Record for MissionLink {
    const TYPE: &'static str = "MissionLink";
    const SK_PREFIX: &'static str = "MISSION#";
    /// In the sales person's partition: their missions without searching every client.
    fn key(&self) -> Key {
        Key { pk: Key::sales_partition(&self.sales), sk: format!("{}{}", Self::SK_PREFIX, self.mission) }
    }
    versioned!();
}

impl Record for Lead {
    const TYPE: &'static str = "Lead";
    const SK_PREFIX: &'static str = "LEAD#";
    /// In the ambassador's partition, by submission.
    fn key(&self) -> Key {
        Key {
            pk: Key::ambassador_partition(&self.ambassador),
            sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.submitted_at), self.id),
        }
    }
    versioned!();
    /// The back office decides a lead by its id alone.
    fn lookup_id(&self) -> Option<&str> {
        Some(self.id.as_str())
    }
    /// Every lead, by submission: the back office's list of leads to decide.
    fn ledger_entry(&self) -> Option<(String, DateTime<Utc>)> {
        Some((Ledger::LEADS.into(), self.submitted_at))
    }
}

impl Record for AuditEntry {
    const TYPE: &'static str = "AuditEntry";
    const SK_PREFIX: &'static str = "AUDIT#";
    /// In the changed record's own audit partition, by time: its history reads in order.
    fn key(&self) -> Key {
        Key {
            pk: Key::audit_partition(&self.record_type, &self.record_id),
            sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.at), self.entry_id),
        }
    }
    versioned!();
}

impl Record for ImportRun {
    const TYPE: &'static str = "ImportRun";
    const SK_PREFIX: &'static str = "IMPORT#";
    /// All imports in one partition, by start: the newest read first.
    fn key(&self) -> Key {
        Key { pk: Key::IMPORTS.into(), sk: format!("{}{}#{}", Self::SK_PREFIX, format_instant(self.started_at), self.id) }
    }
    versioned!();
}

impl Record for crate::settings::StoredSettings {
    const TYPE: &'static str = "Settings";
    const SK_PREFIX: &'static str = "SETTINGS";
    /// One item: the settings in force.
    fn key(&self) -> Key {
        Self::key()
    }
    versioned!();
}

impl Record for crate::notify::owner_templates::OwnerTemplate {
    const TYPE: &'static str = "Template";
    const SK_PREFIX: &'static str = "TEMPLATE#";
    /// All of them in one partition: dispatch reads them in one Query (and keeps them a minute).
    fn key(&self) -> Key {
        Key { pk: Self::PARTITION.into(), sk: format!("{}{}", Self::SK_PREFIX, Self::id(self.kind, &self.language, &self.scope)) }
    }
    versioned!();
}

impl Record for crate::domain::CouponPool {
    const TYPE: &'static str = "CouponPool";
    const SK_PREFIX: &'static str = "COUPONS#";
    /// Beside the settings that hold the list.
    fn key(&self) -> Key {
        Key { pk: "SETTINGS".into(), sk: format!("{}{}", Self::SK_PREFIX, self.id) }
    }
    versioned!();
}

impl Record for crate::settings::Rescheduled {
    const TYPE: &'static str = "Rescheduled";
    const SK_PREFIX: &'static str = "RESCHEDULED";
    fn key(&self) -> Key {
        Self::key()
    }
    versioned!();
}

/// The ledger index's partitions.
pub struct Ledger;

impl Ledger {
    /// Every subscription, by start: a business has thousands at most.
    pub const SUBSCRIPTIONS: &'static str = "SUBSCRIPTIONS";
    /// Every customer, by creation.
    pub const CUSTOMERS: &'static str = "CUSTOMERS";
    /// Every agency mission, by start.
    pub const MISSIONS: &'static str = "MISSIONS";
    /// Every ambassador's lead, by submission.
    pub const LEADS: &'static str = "LEADS";

    /// Invoices issued in `at`'s month.
    pub fn invoices(at: DateTime<Utc>) -> String {
        format!("INVOICES#{}", at.format("%Y-%m"))
    }

    /// Notifications sent in `at`'s month.
    pub fn sent(at: DateTime<Utc>) -> String {
        format!("SENT#{}", at.format("%Y-%m"))
    }
}
