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

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, Duration, Utc};
use chrono_tz::Tz;

use crate::facts::*;
use crate::config::BusinessDefaults;
use crate::domain::time::local_date;
use crate::domain::*;
use crate::schedule::{Ladders, decide};
use crate::store::{Attempt, IdempotencyKey, Key, Record, Store, StoreError, WRITE_ATTEMPTS, until_done};

/// The customer date set from their first subscription's start, for date rules.
pub const SUBSCRIPTION_START: &str = "subscription_start";

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
    /// For scheduling date rules when a customer's dates change.
    ladders: Ladders,
}

impl Ingest {
    pub fn new(store: Store, defaults: BusinessDefaults) -> Ingest {
        Ingest { store, defaults, ladders: Ladders::default() }
    }

    /// The ladders whose date rules apply to customers' dates (the defaults have none).
    pub fn with_ladders(mut self, ladders: Ladders) -> Ingest {
        self.ladders = ladders;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn defaults(&self) -> &BusinessDefaults {
        &self.defaults
    }

    pub async fn apply(&self, delivery: &Delivery, mode: Mode, now: DateTime<Utc>) -> Result<Outcome, IngestError> {
        if delivery.facts.is_empty() {
            return Ok(Outcome::Ignored);
        }
        let outcome = until_done(|_| async move {
            let mut work = Work::new(&self.store, &self.defaults, &self.ladders, delivery.occurred_at, now);
            for fact in &delivery.facts {
                work.apply(fact).await?;
            }
            let mut tx = self.store.transaction();
            if mode == Mode::Once {
                tx.claim(&IdempotencyKey {
                    scope: delivery.provider.as_str().to_string(),
                    key: delivery.id.clone(),
                    expires_at: now + Duration::days(IDEMPOTENCY_DAYS),
                })?;
            }
            work.write_into(&mut tx)?;
            match self.store.commit(tx).await {
                Err(StoreError::Duplicate(_)) => Ok::<_, IngestError>(Attempt::Done(Outcome::AlreadyApplied)),
                written => Ok(Attempt::of(written.map(|()| Outcome::Applied))?),
            }
        })
        .await?;
        outcome.ok_or(IngestError::Contended)
    }
}

/// A record read (or created) for this delivery, and whether it needs writing.
struct Tracked<R> {
    record: R,
    is_new: bool,
    changed: bool,
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
    refs: HashMap<(&'static str, ProviderRef), Key>,
    links: Vec<(&'static str, ProviderRef, Key)>,
    customers: Records<Customer>,
    invoices: Records<Invoice>,
    subscriptions: Records<Subscription>,
    cards: Records<PaymentMethod>,
    payments: Records<Payment>,
    notifications: Vec<Notification>,
}

/// Finds our record for a provider id, reading it into `records` once.
async fn lookup<R: Record>(
    store: &Store,
    refs: &mut HashMap<(&'static str, ProviderRef), Key>,
    records: &mut Records<R>,
    reference: &ProviderRef,
) -> Result<Option<Key>, StoreError> {
    let cache_key = (R::TYPE, reference.clone());
    if let Some(key) = refs.get(&cache_key) {
        return Ok(Some(key.clone()));
    }
    let Some(key) = store.find_by_provider_ref(R::TYPE, reference).await? else {
        return Ok(None);
    };
    if !records.contains_key(&key) {
        let Some(record) = store.get::<R>(&key).await? else {
            return Err(StoreError::Corrupt { key: key.pk, record_type: R::TYPE, reason: format!("{reference} points to a missing record") });
        };
        records.insert(key.clone(), Tracked { record, is_new: false, changed: false });
    }
    refs.insert(cache_key, key.clone());
    Ok(Some(key))
}

/// Our record for a provider id, created by `make` on first sight and linked to that id.
async fn find_or_create<R: Record>(
    store: &Store,
    refs: &mut HashMap<(&'static str, ProviderRef), Key>,
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

fn is_stale(last: Option<DateTime<Utc>>, at: DateTime<Utc>) -> bool {
    last.is_some_and(|last| at < last)
}

/// Moves a follow-up earlier (never later): a failure known now is due now.
fn due_by(follow_up: &mut FollowUp, at: DateTime<Utc>) {
    if follow_up.next_action_at.is_none_or(|current| at < current) {
        follow_up.schedule(at);
    }
}

/// Whether customer facts may overwrite what we hold, or only fill blanks (an invoice's
/// copy of the customer's email is a snapshot, not news about the customer).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Authority {
    Overwrite,
    FillBlanks,
}

impl<'a> Work<'a> {
    fn new(store: &'a Store, defaults: &'a BusinessDefaults, ladders: &'a Ladders, at: DateTime<Utc>, now: DateTime<Utc>) -> Work<'a> {
        Work {
            store,
            defaults,
            ladders,
            at,
            now,
            refs: HashMap::new(),
            links: Vec::new(),
            customers: BTreeMap::new(),
            invoices: BTreeMap::new(),
            subscriptions: BTreeMap::new(),
            cards: BTreeMap::new(),
            payments: BTreeMap::new(),
            notifications: Vec::new(),
        }
    }

    async fn apply(&mut self, fact: &Fact) -> Result<(), StoreError> {
        match fact {
            Fact::Customer(facts) => {
                self.customer(facts, Authority::Overwrite).await?;
            }
            Fact::CustomerDeleted { customer } => self.customer_deleted(customer).await?,
            Fact::Invoice(facts) => self.invoice(facts).await?,
            Fact::PaymentFailed { invoice, subscription, retry_pending } => {
                self.payment_failed(invoice.as_ref(), subscription.as_ref(), *retry_pending).await?
            }
            Fact::Subscription(facts) => self.subscription(facts).await?,
            Fact::SubscriptionStatus { subscription, status } => self.subscription_status(subscription, *status).await?,
            Fact::RenewalSoon { subscription } => self.renewal_soon(subscription).await?,
            Fact::Card(facts) => self.card(facts).await?,
            Fact::CardRemoved { card } => self.card_removed(card).await?,
            Fact::Payment(facts) => self.payment(facts).await?,
            Fact::Refund { invoice, refund, amount } => self.refund(invoice, refund, *amount).await?,
            Fact::Order(facts) => self.order(facts).await?,
        }
        Ok(())
    }

    /// Our customer for `facts.reference`, created on first sight.
    async fn customer(&mut self, facts: &CustomerFacts, authority: Authority) -> Result<Key, StoreError> {
        let (defaults, now) = (self.defaults, self.now);
        let make = || {
            let name = facts
                .name
                .clone()
                .or_else(|| facts.email.as_ref().map(|e| e.to_string()))
                .unwrap_or_else(|| format!("{} customer {}", facts.reference.provider, facts.reference.id));
            let locale = facts.locale.clone().unwrap_or_else(|| defaults.locale.clone());
            let mut customer = Customer::new(CustomerId::generate(), name, locale, defaults.time_zone, now);
            customer.provider_refs.insert(facts.reference.clone());
            Some(customer)
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.customers, &facts.reference, make).await?;
        let Some(key) = found else {
            return Err(StoreError::Encode { record_type: "Customer", reason: "no customer could be made".into() });
        };
        let at = self.at;
        if let Some(tracked) = self.customers.get_mut(&key) {
            let customer = &mut tracked.record;
            let mut changed = false;
            match authority {
                Authority::Overwrite if !is_stale(customer.provider_updated_at, at) => {
                    if let Some(name) = &facts.name {
                        changed |= customer.name != *name;
                        customer.name = name.clone();
                    }
                    if facts.email.is_some() && customer.email != facts.email {
                        customer.email = facts.email.clone();
                        customer.email_undeliverable = false;
                        changed = true;
                    }
                    if facts.phone.is_some() && customer.phone != facts.phone {
                        customer.phone = facts.phone.clone();
                        changed = true;
                    }
                    if let Some(locale) = &facts.locale {
                        changed |= customer.locale != *locale;
                        customer.locale = locale.clone();
                    }
                    for (field, date) in &facts.dates {
                        changed |= customer.custom_dates.insert(field.clone(), *date) != Some(*date);
                    }
                    customer.provider_updated_at = Some(at);
                    changed |= tracked.is_new;
                }
                Authority::Overwrite => {}
                Authority::FillBlanks => {
                    if customer.email.is_none() && facts.email.is_some() {
                        customer.email = facts.email.clone();
                        changed = true;
                    }
                    if customer.phone.is_none() && facts.phone.is_some() {
                        customer.phone = facts.phone.clone();
                        changed = true;
                    }
                }
            }
            tracked.changed |= changed;
        }
        Ok(key)
    }

    fn customer_zone(&self, key: &Key) -> (CustomerId, Tz) {
        match self.customers.get(key) {
            Some(t) => (t.record.id.clone(), t.record.time_zone),
            None => (CustomerId::generate(), self.defaults.time_zone),
        }
    }

    async fn customer_deleted(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
        let Some(key) = lookup(self.store, &mut self.refs, &mut self.customers, reference).await? else {
            return Ok(()); // never heard of them: nothing to stop
        };
        let at = self.at;
        if let Some(tracked) = self.customers.get_mut(&key) {
            let customer = &mut tracked.record;
            if !is_stale(customer.provider_updated_at, at) && customer.deleted_at.is_none() {
                customer.deleted_at = Some(at);
                customer.reminders_paused = true;
                customer.provider_updated_at = Some(at);
                tracked.changed = true;
            }
        }
        Ok(())
    }

    async fn subscription_id(&mut self, reference: Option<&ProviderRef>) -> Result<Option<SubscriptionId>, StoreError> {
        let Some(reference) = reference else { return Ok(None) };
        let key = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await?;
        Ok(key.and_then(|k| self.subscriptions.get(&k)).map(|t| t.record.id.clone()))
    }

    async fn invoice(&mut self, facts: &InvoiceFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, tz) = self.customer_zone(&customer_key);
        let subscription_id = self.subscription_id(facts.subscription.as_ref()).await?;
        let number = facts
            .number
            .as_deref()
            .and_then(|n| InvoiceNumber::parse(n).ok())
            .or_else(|| InvoiceNumber::parse(&facts.reference.id).ok());
        let due_date = facts.due_date.unwrap_or_else(|| local_date(facts.issued_at, tz));
        let make = || {
            let mut invoice = Invoice::open(InvoiceId::generate(), customer_id, number.clone()?, facts.amount_due, facts.issued_at, due_date);
            invoice.provider_ref = Some(facts.reference.clone());
            Some(invoice)
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.invoices, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) }; // no number to give it
        let at = self.at;
        let first_reminder = decide::invoice_rungs(self.ladders, due_date, tz).first().map(|rung| rung.at);
        let Some(tracked) = self.invoices.get_mut(&key) else { return Ok(()) };
        let invoice = &mut tracked.record;
        if is_stale(invoice.provider_updated_at, at) {
            return Ok(());
        }
        let mut changed = invoice.apply_provider_state(facts.amount_due, facts.amount_paid, facts.status, at);
        if invoice.provider_updated_at == Some(at) {
            // Accepted: the descriptive fields follow the provider too.
            if let Some(number) = number.filter(|n| facts.number.is_some() && *n != invoice.number) {
                invoice.number = number;
                changed = true;
            }
            if invoice.due_date != due_date {
                invoice.due_date = due_date;
                changed = true;
            }
            if facts.payment_link.is_some() && invoice.payment_link != facts.payment_link {
                invoice.payment_link = facts.payment_link.clone();
                changed = true;
            }
            if subscription_id.is_some() && invoice.subscription_id != subscription_id {
                invoice.subscription_id = subscription_id;
                changed = true;
            }
            if matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) {
                changed |= invoice.autopay_retry_pending != facts.retry_pending;
                if invoice.autopay_retry_pending && !facts.retry_pending && invoice.follow_up.step > 0 {
                    // The provider stopped retrying: the paused ladder resumes now.
                    due_by(&mut invoice.follow_up, at);
                }
                invoice.autopay_retry_pending = facts.retry_pending;
                if invoice.follow_up.next_action_at.is_none() && invoice.follow_up.step == 0 {
                    if let Some(first) = first_reminder {
                        invoice.follow_up.schedule(first);
                        changed = true;
                    }
                }
            }
        }
        tracked.changed |= changed;
        Ok(())
    }

    async fn payment_failed(
        &mut self,
        invoice: Option<&ProviderRef>,
        subscription: Option<&ProviderRef>,
        retry_pending: bool,
    ) -> Result<(), StoreError> {
        let at = self.at;
        if let Some(reference) = invoice {
            if let Some(key) = lookup(self.store, &mut self.refs, &mut self.invoices, reference).await? {
                if let Some(tracked) = self.invoices.get_mut(&key) {
                    let invoice = &mut tracked.record;
                    // An older failure (one that still had a retry coming) must not undo a newer state.
                    if matches!(invoice.status, InvoiceStatus::Open | InvoiceStatus::PartiallyPaid) && !is_stale(invoice.provider_updated_at, at) {
                        invoice.autopay_retry_pending = retry_pending;
                        invoice.follow_up.failure_pending = true;
                        invoice.provider_updated_at = Some(at);
                        due_by(&mut invoice.follow_up, at);
                        tracked.changed = true;
                    }
                }
            }
        }
        if let Some(reference) = subscription {
            if let Some(key) = lookup(self.store, &mut self.refs, &mut self.subscriptions, reference).await? {
                if let Some(tracked) = self.subscriptions.get_mut(&key) {
                    let subscription = &mut tracked.record;
                    if subscription.status.is_live() && !is_stale(subscription.provider_updated_at, at) {
                        subscription.status = SubscriptionStatus::PastDue;
                        // One failure, one notice: the invoice's when the provider has invoices.
                        if invoice.is_none() {
                            subscription.follow_up.failure_pending = true;
                            due_by(&mut subscription.follow_up, at);
                        }
                        tracked.changed = true;
                    }
                }
            }
        }
        Ok(())
    }

    async fn subscription(&mut self, facts: &SubscriptionFacts) -> Result<(), StoreError> {
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

    async fn subscription_status(&mut self, reference: &ProviderRef, status: SubscriptionStatus) -> Result<(), StoreError> {
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

    async fn renewal_soon(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
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

    async fn card(&mut self, facts: &CardFacts) -> Result<(), StoreError> {
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

    async fn card_removed(&mut self, reference: &ProviderRef) -> Result<(), StoreError> {
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

    async fn payment(&mut self, facts: &PaymentFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, _) = self.customer_zone(&customer_key);
        let invoice_id = match &facts.invoice {
            Some(reference) => {
                let key = lookup(self.store, &mut self.refs, &mut self.invoices, reference).await?;
                key.and_then(|k| self.invoices.get(&k)).map(|t| t.record.id.clone())
            }
            None => None,
        };
        let occurred_at = self.at;
        let linked_invoice = invoice_id.clone();
        let make = || {
            Some(Payment {
                id: PaymentId::generate(),
                customer_id,
                version: 0,
                invoice_id: linked_invoice,
                amount: facts.amount,
                status: facts.status,
                provider: facts.reference.provider,
                provider_ref: Some(facts.reference.clone()),
                failure_reason: None,
                refunds: Vec::new(),
                occurred_at,
                provider_updated_at: None,
            })
        };
        let found = find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.payments, &facts.reference, make).await?;
        let Some(key) = found else { return Ok(()) };
        let at = self.at;
        let Some(tracked) = self.payments.get_mut(&key) else { return Ok(()) };
        let payment = &mut tracked.record;
        if is_stale(payment.provider_updated_at, at) {
            return Ok(());
        }
        if payment.refunds.is_empty() {
            payment.status = facts.status;
        }
        payment.amount = facts.amount;
        payment.failure_reason = facts.failure_reason.clone();
        if invoice_id.is_some() {
            payment.invoice_id = invoice_id;
        }
        payment.provider_updated_at = Some(at);
        // Providers report the refunded total; the difference is a new refund, named after
        // the total it brings us to so that the same report twice adds nothing.
        let refunded = payment.refunded().unwrap_or(Money::zero(facts.amount.currency()));
        if let Ok(extra) = facts.amount_refunded.checked_sub(refunded) {
            if extra.is_positive() {
                let id = RefundId::parse(&format!("{}-refunded-{}", facts.reference.id, facts.amount_refunded.minor_units()));
                if let Ok(id) = id {
                    let refund = Refund { id, amount: extra, refunded_at: at };
                    if let Err(e) = payment.refund(refund) {
                        tracing::warn!(error = %e, payment = %payment.id, "refund not recorded");
                    }
                }
            }
        }
        tracked.changed = true;
        Ok(())
    }

    async fn refund(&mut self, invoice: &ProviderRef, refund: &ProviderRef, amount: Money) -> Result<(), StoreError> {
        let Some(invoice_key) = lookup(self.store, &mut self.refs, &mut self.invoices, invoice).await? else {
            return Ok(()); // a refund on an order we never saw
        };
        let Some(invoice) = self.invoices.get(&invoice_key).map(|t| t.record.clone()) else { return Ok(()) };
        let at = self.at;
        // A refund already recorded is found, not created again.
        let make = || {
            Some(Payment {
                id: PaymentId::generate(),
                customer_id: invoice.customer_id,
                version: 0,
                invoice_id: Some(invoice.id),
                amount,
                status: PaymentStatus::Refunded,
                provider: refund.provider,
                provider_ref: Some(refund.clone()),
                failure_reason: None,
                refunds: Vec::new(),
                occurred_at: at,
                provider_updated_at: Some(at),
            })
        };
        find_or_create(self.store, &mut self.refs, &mut self.links, &mut self.payments, refund, make).await?;
        Ok(())
    }

    async fn order(&mut self, facts: &OrderFacts) -> Result<(), StoreError> {
        let customer_key = self.customer(&facts.customer, Authority::FillBlanks).await?;
        let (customer_id, _) = self.customer_zone(&customer_key);
        let target = Target { kind: TargetKind::Order, id: facts.reference.id.clone() };
        let Ok(thank_you) = Notification::pending(customer_id, target, NotificationKind::ThankYou, None, 1, Some(facts.total), self.now)
        else {
            return Ok(());
        };
        // One thank-you per order, whichever topic (orders/create, orders/paid) told us first.
        if self.store.get::<Notification>(&thank_you.key()).await?.is_none()
            && !self.notifications.iter().any(|n| n.id == thank_you.id)
        {
            self.notifications.push(thank_you);
        }
        Ok(())
    }

    /// Adds every decided write to `tx`.
    fn write_into(mut self, tx: &mut crate::store::Transaction) -> Result<(), StoreError> {
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
        Ok(())
    }
}
