//! One scan: every shard of the due index read in parallel, page by page; for each record
//! due, the decision taken (`relance::schedule::decide`) and written with the record's new
//! follow-up in one transaction.
//!
//! Exactly once per (target, ladder, step): notification ids are derived from what they are
//! about, inserted only if absent, and the record's version must not have moved. Two scans
//! at once, a retried scan, or a re-run for the same `now`: the loser of each race re-reads
//! the record, finds the step already taken, and writes nothing.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Utc};
use relance::domain::{
    Customer, CustomerId, Event, FollowUp, InvalidId, Invoice, Notification, NotificationStatus, PaymentMethod, Registration, Subscription,
};
use relance::schedule::decide::AttendeeReminder;
use relance::schedule::{Ladders, Plan, decide};
use relance::store::{Attempt, Cursor, DUE_SHARDS, DueItem, Key, Record, Store, StoreError, WRITE_ATTEMPTS};
use serde::Serialize;

/// Page size of the due-index queries.
const PAGE: i32 = 100;

/// What a scan did (or, in a dry run, would do).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct ScanReport {
    /// Items read from the due index (DynamoDB's count): grows with what is due, not with the table.
    pub read: u64,
    /// Customer records read for those items (once per customer per page of the index).
    pub customers_read: u64,
    /// Notifications to send, by kind.
    pub notifications: BTreeMap<String, u32>,
    /// Steps overtaken by a later one (missed runs), recorded as skipped.
    pub skipped_steps: u32,
    /// Records with nothing sent, by reason (quiet hours, paused, paid…).
    pub held: BTreeMap<String, u32>,
    /// Records another writer changed under us; decided again from a fresh read.
    pub retried: u32,
    /// Reminders of the business's own deadlines written to the team (the calendar).
    pub team_deadlines: u32,
    /// In a dry run, the notifications that would be written.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub would_write: Vec<Planned>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Planned {
    pub id: String,
    pub customer_id: String,
    pub kind: String,
    pub status: NotificationStatus,
}

impl ScanReport {
    fn merge(&mut self, other: ScanReport) {
        self.read += other.read;
        self.customers_read += other.customers_read;
        for (kind, n) in other.notifications {
            *self.notifications.entry(kind).or_default() += n;
        }
        self.skipped_steps += other.skipped_steps;
        for (reason, n) in other.held {
            *self.held.entry(reason).or_default() += n;
        }
        self.retried += other.retried;
        self.would_write.extend(other.would_write);
    }

    fn count(&mut self, plan: &Plan, dry_run: bool) {
        for n in &plan.notifications {
            match n.status {
                NotificationStatus::Skipped => self.skipped_steps += 1,
                _ => *self.notifications.entry(n.kind.as_str().to_string()).or_default() += 1,
            }
            if dry_run {
                self.would_write.push(Planned {
                    id: n.id.as_str().to_string(),
                    customer_id: n.customer_id.to_string(),
                    kind: n.kind.as_str().to_string(),
                    status: n.status,
                });
            }
        }
        if let Some(reason) = plan.held_because {
            *self.held.entry(reason.to_string()).or_default() += 1;
        }
    }
}

/// Scans every shard in parallel and adds up what each did.
pub async fn scan(store: &Store, ladders: &Ladders, now: DateTime<Utc>, dry_run: bool) -> Result<ScanReport, StoreError> {
    let mut shards = tokio::task::JoinSet::new();
    for shard in 0..DUE_SHARDS {
        let (store, ladders) = (store.clone(), ladders.clone());
        shards.spawn(async move { scan_shard(&store, &ladders, &format!("{shard:02}"), now, dry_run).await });
    }
    let mut report = ScanReport::default();
    while let Some(result) = shards.join_next().await {
        let shard = result.map_err(|e| StoreError::Unavailable(format!("a shard's scan stopped: {e}")))??;
        report.merge(shard);
    }
    Ok(report)
}

async fn scan_shard(store: &Store, ladders: &Ladders, shard: &str, now: DateTime<Utc>, dry_run: bool) -> Result<ScanReport, StoreError> {
    let mut report = ScanReport::default();
    let mut customers = Customers::default();
    let mut cursor: Option<Cursor> = None;
    loop {
        let page = store.due_page(shard, now, cursor.as_ref(), PAGE).await?;
        report.read += page.read;
        // Customers are remembered for one page only, so that memory stays the same however
        // much is due; the page's customers are read together, in one call per 100.
        customers.clear();
        customers.read_ahead(store, &mut report, page.items.iter().filter_map(owner_of)).await;
        for item in &page.items {
            // One bad record (corrupt, or contended past our attempts) must not hold up the
            // rest of the shard: it is counted, logged and looked at again next run.
            if let Err(e) = handle(store, ladders, item, now, dry_run, &mut customers, &mut report).await {
                tracing::warn!(key = %item.key.sk, error = %e, "record left for the next run");
                *report.held.entry("error (retried next run)".into()).or_default() += 1;
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok(report),
        }
    }
}

/// The customer record that a due item's decision reads: the customer of an invoice, a card
/// or a subscription, whose partition it shares. A customer (date rules) is its own; an event
/// reads its attendees page by page.
fn owner_of(item: &DueItem) -> Option<Key> {
    let customer_owned = matches!(item.record_type.as_str(), "Invoice" | "Subscription" | "PaymentMethod");
    (customer_owned && item.key.pk.starts_with("CUSTOMER#")).then(|| Key { pk: item.key.pk.clone(), sk: Customer::SK_PREFIX.into() })
}

/// The customers read for one page of work, by key; `None` for a customer known to be missing.
#[derive(Default)]
struct Customers {
    known: HashMap<Key, Option<Customer>>,
}

impl Customers {
    fn clear(&mut self) {
        self.known.clear();
    }

    /// Reads the customers at `keys` not known yet, together (BatchGetItem). A record that
    /// cannot be decoded is left out, and so are all of them if the read fails: each item that
    /// needs one then reads it alone and reports what went wrong, as one item's error, not the
    /// page's.
    async fn read_ahead(&mut self, store: &Store, report: &mut ScanReport, keys: impl Iterator<Item = Key>) {
        let mut wanted: Vec<Key> = keys.filter(|k| !self.known.contains_key(k)).collect();
        wanted.sort();
        wanted.dedup();
        if wanted.is_empty() {
            return;
        }
        report.customers_read += wanted.len() as u64;
        let mut fetched = match store.fetch(&wanted).await {
            Ok(fetched) => fetched,
            Err(e) => {
                tracing::warn!(customers = wanted.len(), error = %e, "customers not read ahead; each item reads its own");
                return;
            }
        };
        for key in wanted {
            match fetched.take::<Customer>(&key) {
                Ok(customer) => {
                    self.known.insert(key, customer);
                }
                Err(e) => tracing::warn!(key = %key.pk, error = %e, "customer record unreadable"),
            }
        }
    }

    /// The customer `id`, from what was read ahead, else read now.
    async fn get(&mut self, store: &Store, report: &mut ScanReport, id: &CustomerId) -> Result<Option<Customer>, StoreError> {
        let key = Key::customer(id);
        if let Some(known) = self.known.get(&key) {
            return Ok(known.clone());
        }
        report.customers_read += 1;
        let customer: Option<Customer> = store.get(&key).await?;
        self.known.insert(key, customer.clone());
        Ok(customer)
    }
}

/// A record type the scan can decide for.
trait FollowedUp: Record + Clone {
    fn follow_up(&self) -> &FollowUp;
    fn follow_up_mut(&mut self) -> &mut FollowUp;
    fn customer_id(&self) -> &CustomerId;
    /// The record itself when it is a customer (date rules).
    fn as_customer(&self) -> Option<&Customer> {
        None
    }
}

macro_rules! followed_up {
    ($($t:ty),*) => {$(
        impl FollowedUp for $t {
            fn follow_up(&self) -> &FollowUp {
                &self.follow_up
            }
            fn follow_up_mut(&mut self) -> &mut FollowUp {
                &mut self.follow_up
            }
            fn customer_id(&self) -> &CustomerId {
                &self.customer_id
            }
        }
    )*};
}
followed_up!(Invoice, PaymentMethod, Subscription);

impl FollowedUp for Customer {
    fn follow_up(&self) -> &FollowUp {
        &self.follow_up
    }
    fn follow_up_mut(&mut self) -> &mut FollowUp {
        &mut self.follow_up
    }
    fn customer_id(&self) -> &CustomerId {
        &self.id
    }
    fn as_customer(&self) -> Option<&Customer> {
        Some(self)
    }
}

async fn handle(
    store: &Store,
    ladders: &Ladders,
    item: &DueItem,
    now: DateTime<Utc>,
    dry_run: bool,
    customers: &mut Customers,
    report: &mut ScanReport,
) -> Result<(), StoreError> {
    let mut scan = ItemScan { store, now, dry_run, customers, report };
    match item.record_type.as_str() {
        "Invoice" => scan.decide_and_write(item.decode::<Invoice>()?, |i, c| decide::invoice(i, c, ladders, now)).await,
        "Subscription" => scan.decide_and_write(item.decode::<Subscription>()?, |s, c| decide::renewal(s, c, ladders, now)).await,
        "Customer" => scan.decide_and_write(item.decode::<Customer>()?, |c, _| decide::date_rules(c, ladders, now)).await,
        "PaymentMethod" => {
            let card: PaymentMethod = item.decode()?;
            // The rest of the customer's wallet, and whether a renewal will need a card.
            // Both in one read of the partition: the cards' keys sort just before the subscriptions'.
            let partition = Key::customer_partition(&card.customer_id);
            let types = [PaymentMethod::TYPE, Subscription::TYPE];
            let wallet = store.partition_between(&partition, PaymentMethod::SK_PREFIX, Subscription::SK_PREFIX, &types).await?;
            let others = wallet.records::<PaymentMethod>()?;
            let subscriptions = wallet.records::<Subscription>()?;
            let renewing = subscriptions.iter().any(Subscription::renews);
            scan.decide_and_write(card, |card, c| decide::card(card, c, &others, renewing, ladders, now)).await
        }
        "Event" => event_reminders(store, ladders, item.decode::<Event>()?, now, dry_run, report).await,
        other => {
            tracing::warn!(record_type = other, key = %item.key.sk, "unexpected record in the due index");
            Ok(())
        }
    }
}

/// The state one record's decision needs.
struct ItemScan<'a> {
    store: &'a Store,
    now: DateTime<Utc>,
    dry_run: bool,
    customers: &'a mut Customers,
    report: &'a mut ScanReport,
}

impl ItemScan<'_> {
    /// Decides for `record` and writes the plan; after a lost race, re-reads and decides again.
    async fn decide_and_write<R, F>(&mut self, mut record: R, decide: F) -> Result<(), StoreError>
    where
        R: FollowedUp,
        F: Fn(&R, &Customer) -> Result<Plan, InvalidId>,
    {
        for attempt in 0..WRITE_ATTEMPTS {
            if attempt > 0 {
                self.report.retried += 1;
                match self.store.get::<R>(&record.key()).await? {
                    Some(fresh) => record = fresh,
                    None => return Ok(()),
                }
            }
            // The index is eventually consistent: a record no longer due is left alone.
            if !record.follow_up().is_due(self.now) {
                return Ok(());
            }
            let customer = match record.as_customer() {
                Some(customer) => customer.clone(),
                None => match self.customers.get(self.store, self.report, record.customer_id()).await? {
                    Some(customer) => customer,
                    None => {
                        *self.report.held.entry("customer missing".into()).or_default() += 1;
                        return Ok(());
                    }
                },
            };
            let plan = match decide(&record, &customer) {
                Ok(plan) => plan,
                Err(e) => {
                    tracing::warn!(error = %e, key = %record.key().sk, "cannot name a notification; record left as is");
                    *self.report.held.entry("invalid id".into()).or_default() += 1;
                    return Ok(());
                }
            };
            if self.dry_run {
                self.report.count(&plan, true);
                return Ok(());
            }
            if let Attempt::Done(()) = Attempt::of(write(self.store, &mut record, &plan, attempt > 0).await)? {
                self.report.count(&plan, false);
                return Ok(());
            }
        }
        Err(StoreError::Conflict("the record kept changing while the scan decided".into()))
    }
}

/// Writes the plan: the record's new follow-up and the new notifications, together.
async fn write<R: FollowedUp>(store: &Store, record: &mut R, plan: &Plan, retry: bool) -> Result<(), StoreError> {
    let mut notifications: Vec<Notification> = plan.notifications.clone();
    if retry {
        // A notification written by the attempt that lost the race on the record is not
        // written again (its id would refuse it anyway).
        let mut fresh = Vec::new();
        for n in notifications {
            if store.get::<Notification>(&n.key()).await?.is_none() {
                fresh.push(n);
            }
        }
        notifications = fresh;
    }
    let unchanged = *record.follow_up() == plan.follow_up && notifications.is_empty();
    if unchanged {
        return Ok(());
    }
    *record.follow_up_mut() = plan.follow_up.clone();
    let mut tx = store.transaction();
    tx.update(record)?;
    for notification in &mut notifications {
        tx.insert(notification)?;
    }
    store.commit(tx).await
}

/// The eve-of-event reminder: one notice per registered person, each in their own sending
/// window. Each notice is its own conditional insert (an event may have more attendees than
/// a transaction holds items), so a re-run or a parallel scan writes none twice; the event
/// then waits for the earliest window still to come, or leaves the due index when all went.
async fn event_reminders(
    store: &Store,
    ladders: &Ladders,
    event: Event,
    now: DateTime<Utc>,
    dry_run: bool,
    report: &mut ScanReport,
) -> Result<(), StoreError> {
    if event.reminder_at.is_none_or(|at| at > now) {
        return Ok(());
    }
    // The attendees apart from the due page's customers, which the page's later items need.
    let mut customers = Customers::default();
    let mut wait_until: Option<DateTime<Utc>> = None;
    let mut cursor = None;
    loop {
        let page = store.list::<Registration>(&Key::event_partition(&event.id), cursor.as_ref(), 100).await?;
        // Attendees are remembered for one page of registrations, like records for one page
        // of the due index: memory stays bounded by a page whatever the event's size.
        customers.clear();
        customers.read_ahead(store, report, page.records.iter().filter_map(|r| r.customer_id.as_ref().map(Key::customer))).await;
        for registration in &page.records {
            let Some(customer_id) = &registration.customer_id else { continue };
            let Some(customer) = customers.get(store, report, customer_id).await? else { continue };
            match decide::event_reminder(&event, registration, &customer, ladders, now) {
                Ok(AttendeeReminder::Send(notification)) => {
                    let mut notification = *notification;
                    if dry_run {
                        report.count(&Plan { notifications: vec![notification], follow_up: FollowUp::default(), held_because: None }, true);
                        continue;
                    }
                    match store.insert(&mut notification).await {
                        Ok(()) => *report.notifications.entry(notification.kind.as_str().to_string()).or_default() += 1,
                        // Written by an earlier run for this person: nothing more to do.
                        Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => {}
                        Err(e) => return Err(e),
                    }
                }
                Ok(AttendeeReminder::Wait(at)) => {
                    *report.held.entry("quiet hours".into()).or_default() += 1;
                    wait_until = Some(wait_until.map_or(at, |w| w.min(at)));
                }
                Ok(AttendeeReminder::Nothing) => {}
                Err(e) => tracing::warn!(error = %e, event = %event.id, "cannot name a reminder; skipped"),
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    if dry_run {
        return Ok(());
    }
    // A registration may move the count meanwhile: `modify` keeps its change and sets ours.
    store
        .modify::<Event>(&event.key(), |fresh| {
            // Cancelled meanwhile: nothing more to remind.
            fresh.reminder_at = if fresh.cancelled_at.is_some() { None } else { wait_until };
            true
        })
        .await?;
    Ok(())
}

/// What a date-rule backfill did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct BackfillReport {
    /// Customers read (every one: this is the one job that must see them all).
    pub read: usize,
    /// Customers whose next date rule changed and was saved.
    pub rescheduled: usize,
    /// Customers changed by someone else meanwhile (their own write scheduled them).
    pub conflicts: usize,
}

/// Schedules the date rules for customers written before the rules existed: reads every
/// customer through the ledger index's customer partition (a Query, page by page, never a
/// Scan) and sets their next date-rule instant. Run by hand after changing the ladders;
/// every later write of a customer keeps it current by itself.
pub async fn backfill_date_rules(
    store: &Store,
    ladders: &Ladders,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<BackfillReport, StoreError> {
    let mut report = BackfillReport::default();
    let epoch = DateTime::<Utc>::from_timestamp(0, 0).unwrap_or(now);
    let far = now + chrono::Duration::days(365 * 200);
    for mut customer in store.ledger::<Customer>(relance::store::Ledger::CUSTOMERS, epoch, far).await? {
        report.read += 1;
        let next = decide::next_date_rule(&customer, ladders, now);
        if next == customer.follow_up.next_action_at {
            continue;
        }
        report.rescheduled += 1;
        if dry_run {
            continue;
        }
        customer.follow_up.next_action_at = next;
        match store.update(&mut customer).await {
            Ok(()) => {}
            Err(StoreError::Conflict(_)) => {
                report.rescheduled -= 1;
                report.conflicts += 1;
            }
            Err(e) => return Err(e),
        }
    }
    Ok(report)
}

/// What a reschedule after a settings change did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct RescheduleReport {
    /// The settings version the table now follows.
    pub settings_version: u64,
    /// Records read from the due index (all of it, whatever their date).
    pub read: u64,
    /// Records whose next look moved earlier, or whose last step got its day.
    pub moved: u64,
    /// Records that could not be read or written (logged): the reschedule runs again next time.
    pub errors: u64,
    /// The date rules changed: every customer's next date rule, again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub date_rules: Option<BackfillReport>,
}

/// Brings the records already in the table to the ladders in force, once per settings
/// version: every record in the due index (future looks too) gets the day of its last step
/// from the ladders it was decided on (`previous`), and a next look no later than the new
/// ladder's next step; when the date rules changed, every customer's next date rule is set
/// again. Records whose ladder ran out (no next look) are left as they are: a step added after
/// the final notice does not reopen an invoice a person has taken over.
pub async fn reschedule(store: &Store, previous: &Ladders, current: &Ladders, now: DateTime<Utc>) -> Result<RescheduleReport, StoreError> {
    let mut report = RescheduleReport::default();
    let everything = now + chrono::Duration::days(365 * 200);
    for shard in 0..DUE_SHARDS {
        let shard = format!("{shard:02}");
        let mut cursor: Option<Cursor> = None;
        let mut customers = Customers::default();
        let mut ignored = ScanReport::default();
        loop {
            let page = store.due_page(&shard, everything, cursor.as_ref(), PAGE).await?;
            report.read += page.read;
            customers.clear();
            customers.read_ahead(store, &mut ignored, page.items.iter().filter_map(owner_of)).await;
            for item in &page.items {
                match reschedule_one(store, previous, current, item, &mut customers).await {
                    Ok(moved) => report.moved += u64::from(moved),
                    // One bad record must not hold up the others, nor the scan after it.
                    Err(e) => {
                        tracing::warn!(key = %item.key.sk, error = %e, "record not rescheduled; tried again next run");
                        report.errors += 1;
                    }
                }
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => break,
            }
        }
    }
    if previous.date_rules != current.date_rules || previous.reminder_time != current.reminder_time {
        report.date_rules = Some(backfill_date_rules(store, current, now, false).await?);
    }
    Ok(report)
}

/// One record of the due index brought to the new ladders: whether it changed.
async fn reschedule_one(
    store: &Store,
    previous: &Ladders,
    current: &Ladders,
    item: &DueItem,
    customers: &mut Customers,
) -> Result<bool, StoreError> {
    let mut ignored = ScanReport::default();
    let moved = match item.record_type.as_str() {
        "Invoice" => {
            let invoice: Invoice = item.decode()?;
            let Some(customer) = customers.get(store, &mut ignored, &invoice.customer_id).await? else { return Ok(false) };
            let tz = customer.time_zone;
            let rungs = |ladders: &Ladders| decide::invoice_rungs(ladders, invoice.due_date, tz);
            move_follow_up::<Invoice>(store, &item.key, rungs(previous), rungs(current)).await?
        }
        "Subscription" => {
            let subscription: Subscription = item.decode()?;
            let Some(customer) = customers.get(store, &mut ignored, &subscription.customer_id).await? else { return Ok(false) };
            let tz = customer.time_zone;
            let (start, end) = (subscription.current_period_start, subscription.current_period_end);
            let rungs = |ladders: &Ladders| decide::renewal_rungs(ladders, start, end, tz);
            move_follow_up::<Subscription>(store, &item.key, rungs(previous), rungs(current)).await?
        }
        "PaymentMethod" => {
            let card: PaymentMethod = item.decode()?;
            let Some(customer) = customers.get(store, &mut ignored, &card.customer_id).await? else { return Ok(false) };
            let tz = customer.time_zone;
            // The warnings before expiry, then the one after it (when a renewal needs the card).
            let rungs = |ladders: &Ladders| decide::card_rungs(ladders, card.expiry.last_valid_day(), true, tz);
            move_follow_up::<PaymentMethod>(store, &item.key, rungs(previous), rungs(current)).await?
        }
        // Date rules are set again below when they changed; events follow their own start.
        _ => false,
    };
    Ok(moved)
}

/// Saves the record's rescheduled follow-up, if it changed (re-read and done again on a lost race).
async fn move_follow_up<R: FollowedUp>(
    store: &Store,
    key: &Key,
    previous: Vec<relance::schedule::decide::Rung>,
    current: Vec<relance::schedule::decide::Rung>,
) -> Result<bool, StoreError> {
    let mut moved = false;
    store
        .modify::<R>(key, |record| {
            let follow_up = decide::rescheduled(record.follow_up(), &previous, &current);
            moved = follow_up != *record.follow_up();
            *record.follow_up_mut() = follow_up;
            moved
        })
        .await?;
    Ok(moved)
}

/// The team's reminders of the business's own deadlines due by now: today's from the reminder
/// time on (in the business's zone), and yesterday's if no scan wrote them then. Each is
/// written once, by its id; a dry run writes nothing and counts what it would.
pub async fn calendar(
    store: &Store,
    rules: &[relance::schedule::CalendarRule],
    reminder_time: chrono::NaiveTime,
    tz: chrono_tz::Tz,
    now: DateTime<Utc>,
    dry_run: bool,
) -> Result<u32, StoreError> {
    let today = now.with_timezone(&tz).date_naive();
    let mut written = 0;
    for day in [today.pred_opt(), Some(today)].into_iter().flatten() {
        if relance::domain::time::local_to_utc(day, reminder_time, tz) > now {
            continue;
        }
        for rule in rules {
            for (deadline, before) in rule.reminders_on(day) {
                let Ok(mut reminder) = relance::schedule::calendar::reminder(rule, deadline, before, now) else { continue };
                if dry_run {
                    written += u32::from(store.get::<Notification>(&reminder.key()).await?.is_none());
                    continue;
                }
                match store.insert(&mut reminder).await {
                    Ok(()) => written += 1,
                    Err(StoreError::Duplicate(_) | StoreError::Conflict(_)) => {} // written by an earlier run
                    Err(e) => return Err(e),
                }
            }
        }
    }
    Ok(written)
}
