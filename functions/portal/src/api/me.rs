//! The member's own records: `/me` and the billing routes. The customer is always the one
//! the caller's account names; no id in the request can point elsewhere.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Cursor, Key, Record};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::Params;
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

/// Roles that have bills to see.
const BILLED: [Role; 3] = [Role::Member, Role::MemberB2b, Role::Client];

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

impl PageQuery {
    /// The page to continue from; none, or an empty `cursor=` (a form's empty field), is the first.
    pub fn cursor(&self) -> Result<Option<Cursor>, ApiError> {
        self.cursor.as_deref().filter(|c| !c.is_empty()).map(Cursor::parse).transpose().map_err(ApiError::from)
    }

    pub fn limit(&self) -> i32 {
        self.limit.unwrap_or(20).clamp(1, 50)
    }
}

/// The caller's customer record, or 404 when the account is nobody's customer.
async fn my_customer(state: &PortalState, caller: &Caller) -> Result<Customer, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let customer_id = account.and_then(|a| a.customer_id).ok_or_else(ApiError::not_found)?;
    state.store.get(&Key::customer(&customer_id)).await?.ok_or_else(ApiError::not_found)
}

/// Who is signed in, with their roles and customer record.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Me {
    /// The identity provider's subject.
    pub user: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    /// None when the account is nobody's customer (a farmer, a sales person).
    pub customer: Option<CustomerView>,
}

#[utoipa::path(get, path = "/me", tag = "me", summary = "Profile and roles", responses((status = 200, body = Me)))]
pub async fn me(State(state): State<PortalState>, caller: Caller) -> Result<Json<Me>, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let customer = match account.and_then(|a| a.customer_id) {
        Some(id) => state.store.get::<Customer>(&Key::customer(&id)).await?,
        None => None,
    };
    Ok(Json(Me::of(&caller, customer.as_ref())))
}

impl Me {
    /// The caller as `/me` shows them, with their customer record if they are a customer.
    pub fn of(caller: &Caller, customer: Option<&Customer>) -> Me {
        Me {
            user: caller.user.clone(),
            email: caller.email.clone(),
            roles: caller.roles.iter().copied().collect(),
            customer: customer.map(CustomerView::of),
        }
    }
}

/// The customer as the member sees and edits it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CustomerView {
    pub id: CustomerId,
    pub name: String,
    pub email: Option<Email>,
    /// The address bounced: notices go by SMS until it is changed.
    pub email_undeliverable: bool,
    pub phone: Option<PhoneE164>,
    pub locale: Locale,
    /// An IANA time zone (`Europe/Paris`): the one dates and sending hours are read in.
    pub time_zone: String,
    pub opt_outs: OptOuts,
    pub preferred_channel: Option<Channel>,
}

impl CustomerView {
    pub fn of(c: &Customer) -> CustomerView {
        CustomerView {
            id: c.id.clone(),
            name: c.name.clone(),
            email: c.email.clone(),
            email_undeliverable: c.email_undeliverable,
            phone: c.phone.clone(),
            locale: c.locale.clone(),
            time_zone: c.time_zone.name().to_string(),
            opt_outs: c.opt_outs.clone(),
            preferred_channel: c.preferred_channel,
        }
    }
}

/// A reminder sent (or on its way) about an invoice.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReminderView {
    pub kind: NotificationKind,
    pub step: u32,
    pub status: NotificationStatus,
    pub sent_at: Option<DateTime<Utc>>,
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct InvoiceView {
    pub id: InvoiceId,
    pub number: InvoiceNumber,
    pub status: InvoiceStatus,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub balance: Money,
    /// Something is still to be paid (the domain's [`Invoice::is_owed`]).
    pub owed: bool,
    pub issued_at: DateTime<Utc>,
    pub due_date: NaiveDate,
    pub reminders: Vec<ReminderView>,
    /// A business customer's late-payment penalties and indemnity to today, when the owner
    /// turned them on and the invoice is past due; and the balance with them.
    pub late_payment: Option<LatePaymentCharges>,
    pub total_with_charges: Option<Money>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct InvoicePage {
    pub invoices: Vec<InvoiceView>,
    /// The cursor of the next page; none on the last.
    pub next: Option<String>,
}

/// What the member's pages show about the caller, read in two calls whatever the number of
/// invoices: the account's partition (which customer the caller is, and the events they
/// attend), then the customer's partition (the customer, their invoices and the reminders
/// about them, their cards and subscriptions: one Query, filtered on type).
pub struct MemberFile {
    pub account: Account,
    pub customer: Customer,
    /// The rest of the partition, decoded section by section as a page asks (one damaged
    /// record spoils its own section, not the others).
    partition: relance::store::Partition,
    pub attending: std::collections::BTreeSet<EventId>,
}

/// The caller's account and the events they attend, in one Query of the account's partition.
pub async fn account_and_attendance(
    state: &PortalState,
    user: &str,
) -> Result<(Option<Account>, std::collections::BTreeSet<EventId>), ApiError> {
    let key = Key::account(user);
    let partition = state.store.partition(&key.pk, &[Account::TYPE, Attendance::TYPE]).await?;
    let account = partition.record::<Account>(&key)?;
    let attending = partition.records::<Attendance>()?.into_iter().filter(|a| a.active).map(|a| a.event_id).collect();
    Ok((account, attending))
}

impl MemberFile {
    /// The caller's file, or 404 when the account is nobody's customer.
    pub async fn read(state: &PortalState, caller: &Caller) -> Result<MemberFile, ApiError> {
        let (account, attending) = account_and_attendance(state, &caller.user).await?;
        let account = account.ok_or_else(ApiError::not_found)?;
        let key = Key::customer(account.customer_id.as_ref().ok_or_else(ApiError::not_found)?);
        let shown = [Customer::TYPE, Invoice::TYPE, Notification::TYPE, PaymentMethod::TYPE, Subscription::TYPE];
        let partition = state.store.partition(&key.pk, &shown).await?;
        MemberFile::of(account, partition, attending)?.ok_or_else(ApiError::not_found)
    }

    /// The file from what the reads returned: the account, the customer's partition and the
    /// events attended; none when the partition holds no customer record.
    pub fn of(
        account: Account,
        partition: relance::store::Partition,
        attending: std::collections::BTreeSet<EventId>,
    ) -> Result<Option<MemberFile>, ApiError> {
        let Some(customer_id) = account.customer_id.clone() else { return Ok(None) };
        let Some(customer) = partition.record::<Customer>(&Key::customer(&customer_id))? else { return Ok(None) };
        Ok(Some(MemberFile { account, customer, partition, attending }))
    }

    /// Who is signed in, as `/me` answers.
    pub fn me(&self, caller: &Caller) -> Me {
        Me::of(caller, Some(&self.customer))
    }

    /// A page of the invoices with their reminders: `limit` after the `cursor`'s invoice.
    /// `terms`: the owner's late-payment terms, when the customer is a business.
    pub fn invoice_page(
        &self,
        terms: Option<&LatePaymentTerms>,
        cursor: Option<&Cursor>,
        limit: i32,
        now: DateTime<Utc>,
    ) -> Result<InvoicePage, ApiError> {
        let partition = Key::customer_partition(&self.customer.id);
        let after = cursor.map(|c| c.key_within(&partition)).transpose()?;
        let today = now.with_timezone(&self.customer.time_zone).date_naive();
        // Reminders by the invoice they are about: notification ids begin with it.
        let mut reminders_of: std::collections::HashMap<&str, Vec<&Notification>> = Default::default();
        let (invoices, notifications): (Vec<Invoice>, Vec<Notification>) = (self.partition.records()?, self.partition.records()?);
        for n in &notifications {
            if n.target.kind == TargetKind::Invoice && n.status != NotificationStatus::Skipped {
                reminders_of.entry(n.target.id.as_str()).or_default().push(n);
            }
        }
        let (shown, next) = page_after(&invoices, after.as_ref(), limit);
        let invoices = shown
            .into_iter()
            .map(|invoice| {
                let late_payment = charges_for(terms, &self.customer, invoice, today);
                InvoiceView {
                    total_with_charges: late_payment.and_then(|c| c.total_with(invoice.balance()).ok()),
                    late_payment,
                    balance: invoice.balance(),
                    owed: invoice.is_owed(),
                    reminders: reminders_of
                        .get(invoice.id.as_str())
                        .into_iter()
                        .flatten()
                        .map(|n| ReminderView { kind: n.kind, step: n.step, status: n.status, sent_at: n.sent_at })
                        .collect(),
                    id: invoice.id.clone(),
                    number: invoice.number.clone(),
                    status: invoice.status,
                    amount_due: invoice.amount_due,
                    amount_paid: invoice.amount_paid,
                    issued_at: invoice.issued_at,
                    due_date: invoice.due_date,
                }
            })
            .collect();
        Ok(InvoicePage { invoices, next })
    }

    /// The subscriptions, `limit` after the `cursor`'s.
    pub fn subscription_page(&self, cursor: Option<&Cursor>, limit: i32) -> Result<SubscriptionPage, ApiError> {
        let after = cursor.map(|c| c.key_within(&Key::customer_partition(&self.customer.id))).transpose()?;
        let subscriptions: Vec<Subscription> = self.partition.records()?;
        let (shown, next) = page_after(&subscriptions, after.as_ref(), limit);
        Ok(SubscriptionPage { subscriptions: shown.into_iter().map(SubscriptionView::of).collect(), next })
    }

    /// The cards still in the wallet.
    pub fn card_list(&self) -> Result<CardList, ApiError> {
        let cards: Vec<PaymentMethod> = self.partition.records()?;
        let payment_methods = cards
            .iter()
            .filter(|c| !c.removed)
            .map(|c| CardView {
                id: c.id.clone(),
                brand: c.brand.clone(),
                last4: c.last4.clone(),
                expiry: c.expiry,
                is_default: c.is_default,
            })
            .collect();
        Ok(CardList { payment_methods })
    }
}

/// A page of `records` (in key order): the first `limit` after the key `after`, and the
/// cursor of the next page when there are more.
fn page_after<'a, R: Record>(records: &'a [R], after: Option<&Key>, limit: i32) -> (Vec<&'a R>, Option<String>) {
    let limit = usize::try_from(limit).unwrap_or(1);
    let mut remaining = records.iter().filter(|r| after.is_none_or(|after| r.key() > *after));
    let shown: Vec<&R> = remaining.by_ref().take(limit).collect();
    let next = match (remaining.next(), shown.last()) {
        (Some(_), Some(last)) => Some(Cursor::after(&last.key()).as_str().to_string()),
        _ => None,
    };
    (shown, next)
}

/// The owner's late-payment terms when `customer` is a business (only their invoices carry charges).
pub async fn terms_for(state: &PortalState, customer: &Customer) -> Result<Option<LatePaymentTerms>, ApiError> {
    Ok(if customer.business { state.settings.current().await?.settings.late_payment } else { None })
}

#[utoipa::path(get, path = "/me/invoices", tag = "billing", summary = "My invoices with the reminders sent", params(PageQuery),
    responses((status = 200, body = InvoicePage)))]
pub async fn invoices(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<InvoicePage>, ApiError> {
    caller.require_any(&BILLED)?;
    let file = MemberFile::read(&state, &caller).await?;
    let terms = terms_for(&state, &file.customer).await?;
    Ok(Json(file.invoice_page(terms.as_ref(), page.cursor()?.as_ref(), page.limit(), Utc::now())?))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SubscriptionView {
    pub id: SubscriptionId,
    pub plan: String,
    pub price: Money,
    pub interval: BillingInterval,
    pub status: SubscriptionStatus,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
}

impl SubscriptionView {
    fn of(s: &Subscription) -> SubscriptionView {
        SubscriptionView {
            id: s.id.clone(),
            plan: s.plan.clone(),
            price: s.price,
            interval: s.interval,
            status: s.status,
            current_period_end: s.current_period_end,
            cancel_at_period_end: s.cancel_at_period_end,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubscriptionPage {
    pub subscriptions: Vec<SubscriptionView>,
    pub next: Option<String>,
}

#[utoipa::path(get, path = "/me/subscriptions", tag = "billing", summary = "My subscriptions", params(PageQuery),
    responses((status = 200, body = SubscriptionPage)))]
pub async fn subscriptions(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<SubscriptionPage>, ApiError> {
    caller.require_any(&BILLED)?;
    let file = MemberFile::read(&state, &caller).await?;
    Ok(Json(file.subscription_page(page.cursor()?.as_ref(), page.limit())?))
}

/// A card as the member sees it: brand, last four digits and expiry, never more.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CardView {
    pub id: PaymentMethodId,
    pub brand: String,
    pub last4: Last4,
    pub expiry: CardExpiry,
    pub is_default: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct CardList {
    pub payment_methods: Vec<CardView>,
}

#[utoipa::path(get, path = "/me/payment-methods", tag = "billing", summary = "My cards: brand, last four digits, expiry",
    responses((status = 200, body = CardList)))]
pub async fn payment_methods(State(state): State<PortalState>, caller: Caller) -> Result<Json<CardList>, ApiError> {
    caller.require_any(&BILLED)?;
    Ok(Json(MemberFile::read(&state, &caller).await?.card_list()?))
}

/// An invoice of the caller's, by our id, or 404 (another member's invoice is "not found").
async fn my_invoice(state: &PortalState, customer: &Customer, id: &str) -> Result<Invoice, ApiError> {
    let id = InvoiceId::parse(id).map_err(|_| ApiError::not_found())?;
    state.store.get(&Key::of_customer::<Invoice>(&customer.id, id.as_str())).await?.ok_or_else(ApiError::not_found)
}

/// Where to pay an invoice.
#[derive(Debug, Serialize, ToSchema)]
pub struct PaymentPage {
    /// The provider's hosted payment page.
    pub url: String,
    pub invoice: InvoiceId,
    pub balance: Money,
}

/// Where to pay an invoice: the provider's hosted page for it. 409 when nothing is owed or
/// the provider gave no page (the member writes to support instead).
#[utoipa::path(post, path = "/me/invoices/{id}/pay", tag = "billing", summary = "The provider's payment page for an invoice",
    params(("id" = String, Path, description = "The invoice's id")), responses((status = 200, body = PaymentPage)))]
pub async fn pay_invoice(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<PaymentPage>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let invoice = my_invoice(&state, &customer, &id).await?;
    if !invoice.is_owed() || !invoice.balance().is_positive() {
        return Err(ApiError::conflict_because("nothing_owed", "nothing is owed on this invoice"));
    }
    let url = invoice
        .payment_link
        .clone()
        .ok_or_else(|| ApiError::conflict_because("no_payment_page", "no online payment page for this invoice; write to support"))?;
    Ok(Json(PaymentPage { url, balance: invoice.balance(), invoice: invoice.id }))
}

/// Which page renewing leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RenewalKind {
    /// The payment page of the subscription's open invoice.
    Invoice,
    /// The business's self-service billing page.
    BillingPortal,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RenewalPage {
    pub url: String,
    pub kind: RenewalKind,
    /// The invoice to pay, when `kind` is `invoice`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invoice: Option<InvoiceId>,
    /// The subscription, when `kind` is `billing_portal`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<SubscriptionId>,
}

/// Where to renew a subscription or update its card: the payment page of its oldest open
/// invoice if it has one (renewing means paying it), else the business's billing portal.
#[utoipa::path(post, path = "/me/subscriptions/{id}/renew", tag = "billing", summary = "Where to renew or update the card",
    params(("id" = String, Path, description = "The subscription's id")), responses((status = 200, body = RenewalPage)))]
pub async fn renew_subscription(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<RenewalPage>, ApiError> {
    caller.require_any(&BILLED)?;
    let customer = my_customer(&state, &caller).await?;
    let id = SubscriptionId::parse(&id).map_err(|_| ApiError::not_found())?;
    let partition = Key::customer_partition(&customer.id);
    let subscription: Subscription =
        state.store.get(&Key::of_customer::<Subscription>(&customer.id, id.as_str())).await?.ok_or_else(ApiError::not_found)?;
    let mut cursor = None;
    loop {
        let page = state.store.list::<Invoice>(&partition, cursor.as_ref(), 100).await?;
        let open = page.records.into_iter().filter(|i| i.subscription_id.as_ref() == Some(&subscription.id) && i.balance().is_positive());
        if let Some((invoice, url)) = open.filter_map(|i| i.payment_link.clone().map(|url| (i, url))).min_by_key(|(i, _)| i.issued_at) {
            return Ok(Json(RenewalPage { url, kind: RenewalKind::Invoice, invoice: Some(invoice.id), subscription: None }));
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    let url = state
        .billing_portal_url
        .clone()
        .ok_or_else(|| ApiError::conflict_because("no_renewal_page", "no online renewal page is configured; write to support"))?;
    Ok(Json(RenewalPage { url, kind: RenewalKind::BillingPortal, invoice: None, subscription: Some(subscription.id) }))
}
