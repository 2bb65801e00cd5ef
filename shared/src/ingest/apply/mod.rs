//! Applying a [`Delivery`] to the table.
//!
//! For each delivery: read the records its facts touch (found through the provider
//! reference items), decide every change in memory, then write them all in one transaction
//! together with the delivery's idempotency key. So a delivery is applied completely or not
//! at all, and a second copy of it is refused by the key. A write that lost a race (another
//! delivery changed the same invoice meanwhile) is decided again from fresh reads.
//!
//! The first reminder of a new or newly failed record is put in the due index here; which
//! step it is and whether it goes out is the scan's decision.
//!
//! This file holds what every kind of record shares: [`Ingest`] and its retry loop, the
//! `Work` one delivery decides in memory, finding or creating a record by its provider id,
//! and the final write. What a fact means for a record kind is in that kind's module; how a
//! record takes the provider's word (older facts never win, what is left out is kept) is the
//! record's own method in [`crate::domain`], tested there:
//!
//! - `customer`: a customer's details and deletion, and the customer every other record
//!   hangs on.
//! - `invoice`: an invoice's state, its first reminder, and a failed collection.
//! - `subscription`: a subscription's period and status, and its renewal reminders.
//! - `card`: a card on file and its expiry warnings.
//! - `payment`: payments and their refunds.
//! - `order`: a shop order's thank-you notification.

mod card;
mod customer;
mod invoice;
mod order;
mod payment;
mod subscription;

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};

use crate::config::BusinessDefaults;
use crate::domain::{Customer, CustomerId, Invoice, Notification, Payment, PaymentMethod, ProviderDelivery, ProviderRef, Subscription};
use crate::facts::{Delivery, Fact};
use crate::schedule::{Ladders, decide};
use crate::settings::LiveSettings;
use crate::store::{Attempt, IdempotencyKey, Key, Record, Store, StoreError, WRITE_ATTEMPTS, until_done};

use customer::Authority;
pub use subscription::SUBSCRIPTION_START;

/// How long a delivery's idempotency key is kept: far longer than any provider retries
/// (Stripe three days, Shopify two).
const IDEMPOTENCY_DAYS: i64 = 90;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// This delivery was applied before: nothing was written.
    AlreadyApplied,
    /// Nothing in it concerns us (an unknown kind, a card on no customer).
    Ignored,
}

/// Whether the delivery's idempotency key is claimed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// A delivery from the provider: applied at most once.
    Once,
    /// Re-applying an archived delivery after a fix: the key is already claimed, and the
    /// order rules (older facts never win) keep a replay from undoing newer changes.
    Replay,
}

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("gave up after {WRITE_ATTEMPTS} attempts: other writes kept changing the same records")]
    Contended,
}

/// Applies deliveries to the table.
#[derive(Clone, Debug)]
pub struct Ingest {
    store: Store,
    defaults: BusinessDefaults,
    /// The ladders in force: when a new record's first reminder falls due, and which date
    /// rules apply to a customer's dates.
    settings: LiveSettings,
}

impl Ingest {
    /// On fixed `ladders` (tests, tools); the functions use [`Ingest::live`].
    pub fn new(store: Store, defaults: BusinessDefaults, ladders: Ladders) -> Ingest {
        Ingest { store, defaults, settings: LiveSettings::fixed(ladders, Default::default()) }
    }

    /// On the settings in force: the owner's, read from the table (required, so no caller
    /// can apply facts on ladders other than the business's; the local replay once did).
    pub fn live(store: Store, defaults: BusinessDefaults, settings: LiveSettings) -> Ingest {
        Ingest { store, defaults, settings }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn defaults(&self) -> &BusinessDefaults {
        &self.defaults
    }

    pub async fn apply(&self, delivery: &Delivery, mode: Mode, now: DateTime<Utc>) -> Result<Outcome, IngestError> {
        Ok(self.apply_noting(delivery, mode, now).await?.outcome)
    }

    /// [`Ingest::apply`], with what erasure asks of the archive: whether the delivery named a
    /// customer who was erased (its own archived body must not be kept), and the customers it
    /// erased (the archived bodies of their earlier deliveries must be withheld).
    pub async fn apply_noting(&self, delivery: &Delivery, mode: Mode, now: DateTime<Utc>) -> Result<Applied, IngestError> {
        self.apply_archiving(delivery, mode, now, None).await
    }

    /// [`Ingest::apply_noting`], writing `archive` (the delivery as received, its outcome
    /// `Applied`) in the same transaction as the changes: a delivery applied costs one write.
    /// Archived withheld if the delivery names or erases a customer who asked to be forgotten.
    /// A delivery applied before or ignored is not archived here.
    pub async fn apply_archiving(
        &self,
        delivery: &Delivery,
        mode: Mode,
        now: DateTime<Utc>,
        archive: Option<crate::ingest::archive::ArchivedDelivery>,
    ) -> Result<Applied, IngestError> {
        if delivery.facts.is_empty() {
            return Ok(Applied { outcome: Outcome::Ignored, names_erased: false, erased: Vec::new() });
        }
        // Forgetting every customer of a provider is no one delivery's transaction: each is
        // erased on its own (again, harmlessly, if the provider sends it again).
        let mut mass_erased = Vec::new();
        if delivery.facts.iter().any(|f| matches!(f, Fact::ProviderCustomersErased)) {
            mass_erased = self.erase_provider_customers(delivery.provider, now).await?;
        }
        let flag = std::sync::atomic::AtomicBool::new(false);
        let names_erased = &flag;
        let erased_ids = std::sync::Mutex::new(Vec::new());
        let erased_now = &erased_ids;
        let settings = self.settings.current().await?;
        let ladders = &settings.ladders;
        let coupon = settings.settings.thank_you_coupon.as_ref();
        let claim = IdempotencyKey {
            scope: delivery.provider.as_str().to_string(),
            key: delivery.id.clone(),
            expires_at: now + Duration::days(IDEMPOTENCY_DAYS),
        };
        let claim_key = Key::idempotency(&claim.scope, &claim.key);
        // A copy of a delivery applied before is answered from the first read. Not an
        // erasure's: its retry must run the clean-up after it again (the clean-up failed,
        // which is why the provider retries).
        let erases = delivery.facts.iter().any(|f| matches!(f, Fact::CustomerErased { .. } | Fact::ProviderCustomersErased));
        let check_claim = (mode == Mode::Once && !erases).then_some(&claim_key);
        let (claim, archive) = (&claim, &archive);
        // A provider's mass erasure (`shop/redact`) erased customers before this transaction.
        let erased_before = !mass_erased.is_empty();
        let outcome = until_done(|_| async move {
            let mut work = Work::new(&self.store, &self.defaults, ladders, delivery.occurred_at, now);
            work.coupon = coupon;
            if work.read_ahead(&delivery.facts, check_claim).await? {
                return Ok(Attempt::Done(Outcome::AlreadyApplied));
            }
            for fact in &delivery.facts {
                work.apply(fact).await?;
            }
            let erased_named = work.customers.values().any(|t| t.record.is_erased());
            if erased_named {
                names_erased.store(true, std::sync::atomic::Ordering::Relaxed);
            }
            if let Ok(mut ids) = erased_now.lock() {
                ids.clone_from(&work.erased);
            }
            let mut tx = self.store.transaction();
            if mode == Mode::Once {
                tx.claim(claim)?;
            }
            if let Some(archive) = archive {
                let mut archived = archive.clone();
                if erased_named || erased_before || !work.erased.is_empty() {
                    // The person asked to be forgotten: the books follow the delivery, the
                    // archive does not keep it.
                    archived.withhold();
                }
                tx.insert(&mut archived)?;
            }
            work.write_into(&mut tx, delivery, mode)?;
            match self.store.commit(tx).await {
                Err(StoreError::Duplicate(_)) => Ok::<_, IngestError>(Attempt::Done(Outcome::AlreadyApplied)),
                written => Ok(Attempt::of(written.map(|()| Outcome::Applied))?),
            }
        })
        .await?;
        let mut erased = erased_ids.into_inner().unwrap_or_default();
        erased.extend(mass_erased);
        Ok(Applied {
            outcome: outcome.ok_or(IngestError::Contended)?,
            names_erased: flag.load(std::sync::atomic::Ordering::Relaxed) || !erased.is_empty(),
            erased,
        })
    }

    /// Erases every customer `provider` sent us (Shopify's `shop/redact`), through the ledger's
    /// customer partition (a paginated Query). A customer changed meanwhile fails the whole,
    /// for the provider to send it again.
    async fn erase_provider_customers(&self, provider: crate::domain::Provider, now: DateTime<Utc>) -> Result<Vec<CustomerId>, StoreError> {
        let mut erased = Vec::new();
        let mut cursor = None;
        loop {
            let page = self.store.ledger_page::<Customer>(crate::store::Ledger::CUSTOMERS, cursor.as_ref(), 100).await?;
            for listed in page.records.iter().filter(|c| c.provider_refs.iter().any(|r| r.provider == provider)) {
                // Erased already (by an earlier copy whose clean-up may have failed): named
                // again, for the clean-up to run again.
                if listed.is_erased() {
                    erased.push(listed.id.clone());
                    continue;
                }
                // The index may be a moment behind: the record itself is read and written.
                let Some(mut customer) = self.store.get::<Customer>(&Key::customer(&listed.id)).await? else { continue };
                if customer.is_erased() {
                    erased.push(customer.id);
                    continue;
                }
                customer.erase(now);
                self.store.update(&mut customer).await?;
                erased.push(customer.id);
            }
            match page.next {
                Some(next) => cursor = Some(next),
                None => return Ok(erased),
            }
        }
    }
}

/// What a delivery did, and what erasure asks of the archive ([`Ingest::apply_noting`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Applied {
    pub outcome: Outcome,
    /// It named a customer who is erased: its archived body is not kept.
    pub names_erased: bool,
    /// The customers it erased: their earlier deliveries' archived bodies are withheld.
    pub erased: Vec<CustomerId>,
}

/// A record read (or created) for this delivery, and whether it needs writing.
struct Tracked<R> {
    record: R,
    is_new: bool,
    changed: bool,
}

impl<R> Tracked<R> {
    /// Created or changed by this delivery: written, and in the delivery's note.
    fn touched(&self) -> bool {
        self.is_new || self.changed
    }
}

type Records<R> = BTreeMap<Key, Tracked<R>>;

/// Everything one delivery touches, decided in memory before one transaction writes it.
struct Work<'a> {
    store: &'a Store,
    defaults: &'a BusinessDefaults,
    ladders: &'a Ladders,
    /// When the provider says the facts were true.
    at: DateTime<Utc>,
    now: DateTime<Utc>,
    refs: Refs,
    links: Vec<(&'static str, ProviderRef, Key)>,
    customers: Records<Customer>,
    invoices: Records<Invoice>,
    subscriptions: Records<Subscription>,
    cards: Records<PaymentMethod>,
    payments: Records<Payment>,
    notifications: Vec<Notification>,
    /// The owner's thank-you coupon, and the count of a list's codes handed out once this
    /// delivery read it (written with the thank-yous that took codes).
    coupon: Option<&'a crate::domain::ThankYouCoupon>,
    coupon_pool: Option<Tracked<crate::domain::CouponPool>>,
    /// Customers this delivery erased (a provider's `customers/redact`).
    erased: Vec<CustomerId>,
}

/// Our records' keys for the provider ids a delivery names, found once each. The delivery's
/// reference items are read up front in one call and the records they point to in another
/// ([`Work::read_ahead`]), so finding a record costs no call of its own; an id the read-ahead
/// did not foresee is looked up alone.
#[derive(Default)]
struct Refs {
    found: HashMap<(&'static str, ProviderRef), Key>,
    /// Each reference item read ahead: the key it points to, or `None`: there is none.
    read_ahead: HashMap<Key, Option<Key>>,
    /// The records they point to, read ahead.
    records: crate::store::Fetched,
}

impl Refs {
    fn get(&self, found: &(&'static str, ProviderRef)) -> Option<&Key> {
        self.found.get(found)
    }

    fn insert(&mut self, found: (&'static str, ProviderRef), key: Key) {
        self.found.insert(found, key);
    }
}

/// The provider ids a fact names, with the type of our record each one stands for: what
/// [`Work::read_ahead`] reads. A fact that finds more (a subscription's invoices) reads those
/// itself.
fn named_refs(fact: &Fact) -> Vec<(&'static str, &ProviderRef)> {
    fn customer(c: &crate::facts::CustomerFacts) -> (&'static str, &ProviderRef) {
        (Customer::TYPE, &c.reference)
    }
    match fact {
        Fact::Customer(c) | Fact::CustomerSnapshot(c) => vec![customer(c)],
        Fact::CustomerDeleted { customer } | Fact::CustomerErased { customer } | Fact::DataRequested { customer, .. } => {
            vec![(Customer::TYPE, customer)]
        }
        Fact::ProviderCustomersErased => Vec::new(),
        Fact::Invoice(f) => {
            let mut named = vec![customer(&f.customer), (Invoice::TYPE, &f.reference)];
            named.extend(f.subscription.iter().map(|s| (Subscription::TYPE, s)));
            named
        }
        Fact::InvoiceWithdrawn { invoice } => vec![(Invoice::TYPE, invoice)],
        Fact::SubscriptionDebtsClosed { subscription, .. }
        | Fact::SubscriptionStatus { subscription, .. }
        | Fact::RenewalSoon { subscription } => vec![(Subscription::TYPE, subscription)],
        Fact::PaymentFailed { invoice, subscription, .. } => {
            invoice.iter().map(|i| (Invoice::TYPE, i)).chain(subscription.iter().map(|s| (Subscription::TYPE, s))).collect()
        }
        Fact::Subscription(f) => {
            let mut named = vec![customer(&f.customer), (Subscription::TYPE, &f.reference)];
            named.extend(f.payment_method.iter().map(|p| (PaymentMethod::TYPE, p)));
            named
        }
        Fact::Card(f) => vec![(Customer::TYPE, &f.customer), (PaymentMethod::TYPE, &f.reference)],
        Fact::CardRemoved { card } => vec![(PaymentMethod::TYPE, card)],
        Fact::Payment(f) => {
            let mut named = vec![customer(&f.customer), (Payment::TYPE, &f.reference)];
            named.extend(f.invoice.iter().map(|i| (Invoice::TYPE, i)));
            named
        }
        Fact::Refund { invoice, refund, .. } => vec![(Invoice::TYPE, invoice), (Payment::TYPE, refund)],
        Fact::Order(f) => vec![customer(&f.customer), (Invoice::TYPE, &f.reference)],
    }
}

// `lookup`, `find_or_create` and `change_known` take Work's parts rather than `&mut Work`, so
// that a caller can hand over one of its record maps beside the reference cache.

/// Finds our record for a provider id, reading it into `records` once.
async fn lookup<R: Record>(
    store: &Store,
    refs: &mut Refs,
    records: &mut Records<R>,
    reference: &ProviderRef,
) -> Result<Option<Key>, StoreError> {
    let cache_key = (R::TYPE, reference.clone());
    if let Some(key) = refs.get(&cache_key) {
        return Ok(Some(key.clone()));
    }
    let item = Key::provider_ref(reference.provider, R::TYPE, &reference.id);
    let found = match refs.read_ahead.get(&item) {
        Some(found) => found.clone(),
        None => store.find_by_provider_ref(R::TYPE, reference).await?,
    };
    let Some(key) = found else {
        return Ok(None);
    };
    if !records.contains_key(&key) {
        let read_ahead = refs.records.take::<R>(&key)?;
        let record = match read_ahead {
            Some(record) => Some(record),
            None => store.get::<R>(&key).await?,
        };
        let Some(record) = record else {
            return Err(StoreError::Corrupt {
                key: key.pk,
                record_type: R::TYPE,
                reason: format!("{reference} points to a missing record"),
            });
        };
        records.insert(key.clone(), Tracked { record, is_new: false, changed: false });
    }
    refs.insert(cache_key, key.clone());
    Ok(Some(key))
}

/// Our record for a provider id, created by `make` on first sight and linked to that id.
async fn find_or_create<R: Record>(
    store: &Store,
    refs: &mut Refs,
    links: &mut Vec<(&'static str, ProviderRef, Key)>,
    records: &mut Records<R>,
    reference: &ProviderRef,
    make: impl FnOnce() -> Option<R>,
) -> Result<Option<Key>, StoreError> {
    if let Some(key) = lookup(store, refs, records, reference).await? {
        return Ok(Some(key));
    }
    let Some(record) = make() else { return Ok(None) };
    let key = record.key();
    refs.insert((R::TYPE, reference.clone()), key.clone());
    links.push((R::TYPE, reference.clone(), key.clone()));
    records.insert(key.clone(), Tracked { record, is_new: true, changed: true });
    Ok(Some(key))
}

/// Applies `change` to our record for a provider id, if we have one: a fact about a record we
/// never saw has nothing of ours to change. `change` says whether the record needs writing.
async fn change_known<R: Record>(
    store: &Store,
    refs: &mut Refs,
    records: &mut Records<R>,
    reference: &ProviderRef,
    change: impl FnOnce(&mut R) -> bool,
) -> Result<(), StoreError> {
    let Some(key) = lookup(store, refs, records, reference).await? else { return Ok(()) };
    if let Some(tracked) = records.get_mut(&key) {
        tracked.changed |= change(&mut tracked.record);
    }
    Ok(())
}

impl<'a> Work<'a> {
    fn new(store: &'a Store, defaults: &'a BusinessDefaults, ladders: &'a Ladders, at: DateTime<Utc>, now: DateTime<Utc>) -> Work<'a> {
        Work {
            store,
            defaults,
            ladders,
            at,
            now,
            refs: Refs::default(),
            links: Vec::new(),
            customers: BTreeMap::new(),
            invoices: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            cards: BTreeMap::new(),
            payments: BTreeMap::new(),
            notifications: Vec::new(),
            coupon: None,
            coupon_pool: None,
            erased: Vec::new(),
        }
    }

    /// Reads what the delivery's facts name, in two calls: the reference items (with the
    /// delivery's idempotency key, `claim`, when there is one), then the records they point
    /// to. Answers whether `claim` is taken already: the delivery was applied before.
    async fn read_ahead(&mut self, facts: &[Fact], claim: Option<&Key>) -> Result<bool, StoreError> {
        let named: Vec<Key> = facts.iter().flat_map(named_refs).map(|(t, r)| Key::provider_ref(r.provider, t, &r.id)).collect();
        let keys: Vec<Key> = named.iter().chain(claim).cloned().collect();
        if keys.is_empty() {
            return Ok(false);
        }
        let found = self.store.peek(&keys).await?;
        if claim.is_some_and(|claim| found.contains_key(claim)) {
            return Ok(true);
        }
        for item in named {
            match found.get(&item) {
                // No reference item: no record of ours for that id yet.
                None => _ = self.refs.read_ahead.insert(item, None),
                Some(Some(target)) => _ = self.refs.read_ahead.insert(item, Some(target.clone())),
                // An item there that points nowhere: left to the lookup, which reports it.
                Some(None) => {}
            }
        }
        let targets: Vec<Key> = self.refs.read_ahead.values().flatten().cloned().collect();
        if !targets.is_empty() {
            self.refs.records = self.store.fetch(&targets).await?;
        }
        Ok(false)
    }

    async fn apply(&mut self, fact: &Fact) -> Result<(), StoreError> {
        match fact {
            Fact::Customer(facts) => {
                self.customer(facts, Authority::Overwrite).await?;
            }
            Fact::CustomerSnapshot(facts) => {
                self.customer(facts, Authority::FillBlanks).await?;
            }
            Fact::CustomerDeleted { customer } => self.customer_deleted(customer).await?,
            Fact::Invoice(facts) => self.invoice(facts).await?,
            Fact::InvoiceWithdrawn { invoice } => self.invoice_withdrawn(invoice).await?,
            Fact::SubscriptionDebtsClosed { subscription, status } => self.subscription_debts_closed(subscription, *status).await?,
            Fact::PaymentFailed { invoice, subscription, retry_at } => {
                if let Some(reference) = invoice {
                    self.invoice_payment_failed(reference, *retry_at).await?;
                }
                if let Some(reference) = subscription {
                    // One failure, one notice: the invoice's when the provider has invoices.
                    self.subscription_payment_failed(reference, invoice.is_none()).await?;
                }
            }
            Fact::Subscription(facts) => self.subscription(facts).await?,
            Fact::SubscriptionStatus { subscription, status } => self.subscription_status(subscription, *status).await?,
            Fact::RenewalSoon { subscription } => self.renewal_soon(subscription).await?,
            Fact::Card(facts) => self.card(facts).await?,
            Fact::CardRemoved { card } => self.card_removed(card).await?,
            Fact::Payment(facts) => self.payment(facts).await?,
            Fact::Refund { invoice, refund, amount } => self.refund(invoice, refund, *amount).await?,
            Fact::Order(facts) => self.order(facts).await?,
            Fact::CustomerErased { customer } => {
                let (now, erased) = (self.now, &mut self.erased);
                change_known(self.store, &mut self.refs, &mut self.customers, customer, |c| {
                    // Named even when erased already: if the clean-up after an earlier copy
                    // of this delivery failed, the provider's retry must run it again.
                    erased.push(c.id.clone());
                    if c.is_erased() {
                        return false;
                    }
                    c.erase(now);
                    true
                })
                .await?
            }
            Fact::DataRequested { customer, request } => self.data_requested(customer, request).await?,
            // Done before the delivery's own transaction (`Ingest::erase_provider_customers`).
            Fact::ProviderCustomersErased => {}
        }
        Ok(())
    }

    /// What this delivery changed, per customer, as their timeline shows it.
    fn changes_by_customer(&self) -> BTreeMap<CustomerId, Vec<String>> {
        let mut changed: BTreeMap<CustomerId, Vec<String>> = BTreeMap::new();
        for t in self.customers.values().filter(|t| t.touched()) {
            changed.entry(t.record.id.clone()).or_default().push("customer".into());
        }
        for t in self.invoices.values().filter(|t| t.touched()) {
            changed.entry(t.record.customer_id.clone()).or_default().push(format!("invoice {}", t.record.number));
        }
        for t in self.subscriptions.values().filter(|t| t.touched()) {
            changed.entry(t.record.customer_id.clone()).or_default().push(format!("subscription {}", t.record.plan));
        }
        for t in self.cards.values().filter(|t| t.touched()) {
            changed.entry(t.record.customer_id.clone()).or_default().push(format!("card ••{}", t.record.last4.as_str()));
        }
        for t in self.payments.values().filter(|t| t.touched()) {
            changed.entry(t.record.customer_id.clone()).or_default().push("payment".into());
        }
        changed
    }

    /// Adds every decided write to `tx`, and to each customer it changed the delivery's note
    /// for their timeline (a replay's delivery has its note from when it first came).
    fn write_into(mut self, tx: &mut crate::store::Transaction, delivery: &Delivery, mode: Mode) -> Result<(), StoreError> {
        let notes = if mode == Mode::Once { self.changes_by_customer() } else { BTreeMap::new() };
        for (customer_id, changed) in notes {
            let mut note = ProviderDelivery {
                customer_id,
                provider: delivery.provider,
                delivery_id: delivery.id.clone(),
                kind: delivery.kind.clone(),
                occurred_at: delivery.occurred_at,
                received_at: self.now,
                changed,
                version: 0,
            };
            tx.insert(&mut note)?;
        }
        // A customer whose dates changed may have a date rule to follow up.
        for tracked in self.customers.values_mut().filter(|t| t.changed) {
            let next = decide::next_date_rule(&tracked.record, self.ladders, self.now);
            if next.is_some() && next != tracked.record.follow_up.next_action_at {
                tracked.record.follow_up.next_action_at = next;
            }
        }
        for (record_type, reference, key) in &self.links {
            tx.link_provider_ref(record_type, reference, key)?;
        }
        fn write<R: Record>(tx: &mut crate::store::Transaction, records: &mut Records<R>) -> Result<(), StoreError> {
            for tracked in records.values_mut() {
                if tracked.is_new {
                    tx.insert(&mut tracked.record)?;
                } else if tracked.changed {
                    tx.update(&mut tracked.record)?;
                }
            }
            Ok(())
        }
        let at = self.at;
        for tracked in self.invoices.values_mut().filter(|t| t.is_new || t.changed) {
            tracked.record.note_settlement(at);
        }
        for tracked in self.subscriptions.values_mut().filter(|t| t.is_new || t.changed) {
            tracked.record.note_lifecycle(at);
        }
        write(tx, &mut self.customers)?;
        write(tx, &mut self.invoices)?;
        write(tx, &mut self.subscriptions)?;
        write(tx, &mut self.cards)?;
        write(tx, &mut self.payments)?;
        for notification in &mut self.notifications {
            tx.insert(notification)?;
        }
        if let Some(pool) = self.coupon_pool.as_mut().filter(|p| p.touched()) {
            // Under its version: another order that took the same code meanwhile fails this
            // transaction, and the delivery is decided again with the new count.
            if pool.is_new {
                tx.insert(&mut pool.record)?;
            } else {
                tx.update(&mut pool.record)?;
            }
        }
        Ok(())
    }
}
