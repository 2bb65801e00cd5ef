//! Braintree: form-encoded `bt_signature` and `bt_payload` (base64 XML).
//!
//! `bt_signature` is `public_key|hex(HMAC-SHA1(key = SHA1(private_key), bt_payload))`;
//! several pairs may be joined with `&`, and the one naming our public key is checked. As the
//! SDKs do, a payload with characters outside base64's alphabet and newlines is refused, and a
//! signature over the payload plus a trailing newline is accepted. The delivery id is the
//! SHA-256 of the payload: Braintree resends the same payload when it retries.
//!
//! A notification about a subscription carries the whole subscription as the gateway keeps
//! it (plan, price, period, failure count, payment method token, its transactions with their
//! customer and card details). From it come our subscription, its customer and card, and for
//! a failed charge the period's unpaid balance, followed up as an invoice: the unpaid ladder
//! then runs as for any invoice, until a charge succeeds or the subscription ends. A
//! subscription with no transaction naming its customer needs a lookup through Braintree's
//! API first ([`Notice::payment_method_to_look_up`], `crate::ingest::braintree_api`). The
//! SDKs' webhook samples carry only the subscription's id: they change what we already know.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Deserialize;

use super::hmac_check;
use super::{PayloadError, SignatureError};
use crate::config::BusinessDefaults;
use crate::domain::{
    BillingInterval, CardExpiry, Currency, Email, InvoiceStatus, Last4, Money, PaymentStatus, PhoneE164, Provider, ProviderRef,
    SubscriptionStatus,
};
use crate::facts::{CardFacts, CustomerFacts, Delivery, Fact, InvoiceFacts, PaymentFacts, SubscriptionFacts};
use crate::secrets::BraintreeKeys;

/// The two form fields of a delivery, read from the raw body.
pub fn form_fields(body: &[u8]) -> Result<(String, String), SignatureError> {
    let mut signature = None;
    let mut payload = None;
    for (name, value) in form_urlencoded::parse(body) {
        match name.as_ref() {
            "bt_signature" => signature = Some(value.into_owned()),
            "bt_payload" => payload = Some(value.into_owned()),
            _ => {}
        }
    }
    Ok((signature.ok_or(SignatureError::Missing("bt_signature"))?, payload.ok_or(SignatureError::Missing("bt_payload"))?))
}

pub fn verify(signature: &str, payload: &str, keys: &[BraintreeKeys]) -> Result<(), SignatureError> {
    if keys.is_empty() {
        return Err(SignatureError::NoSecret);
    }
    if !payload.bytes().all(|b| b.is_ascii_alphanumeric() || b"+=/\n".contains(&b)) {
        return Err(SignatureError::Malformed("payload contains illegal characters".into()));
    }
    for pair in signature.split('&') {
        let Some((public_key, hex_signature)) = pair.split_once('|') else { continue };
        let Some(keys) = keys.iter().find(|k| k.public_key == public_key) else { continue };
        let Ok(signature) = hex::decode(hex_signature.trim()) else { continue };
        let with_newline = format!("{payload}\n");
        if hmac_check::braintree_matches(&keys.private_key, payload.as_bytes(), &signature)
            || hmac_check::braintree_matches(&keys.private_key, with_newline.as_bytes(), &signature)
        {
            return Ok(());
        }
        return Err(SignatureError::Mismatch);
    }
    Err(SignatureError::Mismatch)
}

/// The answer to Braintree's endpoint check (`GET …?bt_challenge=…`).
pub fn answer_challenge(challenge: &str, keys: &BraintreeKeys) -> Result<String, SignatureError> {
    let valid = (20..=32).contains(&challenge.len()) && challenge.bytes().all(|b| matches!(b, b'a'..=b'f' | b'0'..=b'9'));
    if !valid {
        return Err(SignatureError::Malformed("bt_challenge must be 20 to 32 lowercase hex digits".into()));
    }
    Ok(format!("{}|{}", keys.public_key, hmac_check::braintree_hex(&keys.private_key, challenge.as_bytes())))
}

/// A signature for `payload`, as Braintree computes it (tests, local `curl`).
pub fn sign(payload: &str, keys: &BraintreeKeys) -> String {
    format!("{}|{}", keys.public_key, hmac_check::braintree_hex(&keys.private_key, payload.as_bytes()))
}

/// An element's text, whatever its attributes (`type="integer"`, `nil="true"`): Braintree's
/// XML types every field, and marks empty ones `nil`.
#[derive(Deserialize, Default, Debug, Clone)]
struct Text {
    #[serde(rename = "$text", default)]
    text: Option<String>,
}

fn text(field: &Option<Text>) -> Option<&str> {
    field.as_ref().and_then(|f| f.text.as_deref()).map(str::trim).filter(|t| !t.is_empty())
}

#[derive(Deserialize)]
struct Notification {
    timestamp: Text,
    kind: Text,
    #[serde(default)]
    subject: Subject,
}

#[derive(Deserialize, Default)]
struct Subject {
    subscription: Option<BtSubscription>,
    #[serde(rename = "paypal-account", alias = "paypal_account")]
    paypal_account: Option<BtPaymentMethod>,
    #[serde(rename = "credit-card", alias = "credit_card")]
    credit_card: Option<BtPaymentMethod>,
}

/// A subscription as the gateway sends it (the SDKs' webhook samples hold only its id and
/// transactions, with underscores where the gateway writes dashes: both are read).
#[derive(Deserialize)]
struct BtSubscription {
    id: Option<Text>,
    #[serde(rename = "plan-id", alias = "plan_id")]
    plan_id: Option<Text>,
    price: Option<Text>,
    balance: Option<Text>,
    status: Option<Text>,
    #[serde(rename = "billing-period-start-date", alias = "billing_period_start_date")]
    billing_period_start_date: Option<Text>,
    #[serde(rename = "billing-period-end-date", alias = "billing_period_end_date")]
    billing_period_end_date: Option<Text>,
    #[serde(rename = "next-billing-date", alias = "next_billing_date")]
    next_billing_date: Option<Text>,
    #[serde(rename = "failure-count", alias = "failure_count")]
    failure_count: Option<Text>,
    #[serde(rename = "days-past-due", alias = "days_past_due")]
    days_past_due: Option<Text>,
    #[serde(rename = "payment-method-token", alias = "payment_method_token")]
    payment_method_token: Option<Text>,
    #[serde(rename = "never-expires", alias = "never_expires")]
    never_expires: Option<Text>,
    #[serde(rename = "number-of-billing-cycles", alias = "number_of_billing_cycles")]
    number_of_billing_cycles: Option<Text>,
    #[serde(rename = "current-billing-cycle", alias = "current_billing_cycle")]
    current_billing_cycle: Option<Text>,
    /// The merchant account it bills through: each has one currency.
    #[serde(rename = "merchant-account-id", alias = "merchant_account_id")]
    merchant_account_id: Option<Text>,
    #[serde(default)]
    transactions: Option<BtTransactions>,
}

#[derive(Deserialize, Default)]
struct BtTransactions {
    #[serde(default)]
    transaction: Vec<BtTransaction>,
}

#[derive(Deserialize)]
struct BtTransaction {
    id: Option<Text>,
    amount: Option<Text>,
    status: Option<Text>,
    #[serde(rename = "currency-iso-code", alias = "currency_iso_code")]
    currency: Option<Text>,
    customer: Option<BtCustomer>,
    #[serde(rename = "credit-card", alias = "credit_card")]
    credit_card: Option<BtCard>,
    #[serde(rename = "processor-response-text", alias = "processor_response_text")]
    processor_response: Option<Text>,
}

/// A customer as the gateway writes it, in a transaction's `customer` details or in the
/// answer to a customer lookup.
#[derive(Deserialize, Debug, Clone, Default)]
pub struct BtCustomer {
    id: Option<Text>,
    #[serde(rename = "first-name", alias = "first_name")]
    first_name: Option<Text>,
    #[serde(rename = "last-name", alias = "last_name")]
    last_name: Option<Text>,
    company: Option<Text>,
    email: Option<Text>,
    phone: Option<Text>,
}

/// A card as the gateway writes it (a transaction's `credit-card` details, a payment method
/// lookup's answer).
#[derive(Deserialize, Debug, Clone, Default)]
pub struct BtCard {
    token: Option<Text>,
    #[serde(rename = "customer-id", alias = "customer_id")]
    customer_id: Option<Text>,
    #[serde(rename = "card-type", alias = "card_type")]
    card_type: Option<Text>,
    #[serde(rename = "last-4", alias = "last_4")]
    last4: Option<Text>,
    #[serde(rename = "expiration-month", alias = "expiration_month")]
    expiration_month: Option<Text>,
    #[serde(rename = "expiration-year", alias = "expiration_year")]
    expiration_year: Option<Text>,
}

#[derive(Deserialize)]
struct BtPaymentMethod {
    token: Option<Text>,
}

impl BtCustomer {
    fn id(&self) -> Option<&str> {
        text(&self.id)
    }

    /// A customer known by Braintree's id alone (one we already follow).
    pub fn with_id(id: &str) -> BtCustomer {
        BtCustomer { id: Some(Text { text: Some(id.to_string()) }), ..BtCustomer::default() }
    }
}

impl BtCard {
    pub fn customer_id(&self) -> Option<&str> {
        text(&self.customer_id)
    }
}

/// What a lookup through Braintree's API found for a payment method: its customer, and the
/// card when it is one (`crate::ingest::braintree_api`).
#[derive(Debug, Clone, Default)]
pub struct Found {
    pub customer: BtCustomer,
    pub card: Option<BtCard>,
    /// The subscription's currency, when no transaction states it: the one we hold for it,
    /// or its merchant account's.
    pub currency: Option<crate::domain::Currency>,
}

/// Reads the currency of the gateway's answer to `GET …/merchant_accounts/{id}`.
pub fn read_merchant_account_currency(xml: &str) -> Result<crate::domain::Currency, PayloadError> {
    #[derive(Deserialize)]
    struct MerchantAccount {
        #[serde(rename = "currency-iso-code")]
        currency: Option<Text>,
    }
    let account: MerchantAccount =
        quick_xml::de::from_str(xml).map_err(|e| PayloadError::new(format!("not a Braintree merchant account: {e}")))?;
    let code = text(&account.currency).ok_or_else(|| PayloadError::new("the merchant account states no currency-iso-code"))?;
    code.parse().map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))
}

/// Reads the gateway's answer to `GET …/customers/{id}`.
pub fn read_customer(xml: &str) -> Result<BtCustomer, PayloadError> {
    quick_xml::de::from_str(xml).map_err(|e| PayloadError::new(format!("not a Braintree customer: {e}")))
}

/// Reads the gateway's answer to `GET …/payment_methods/any/{token}`: a card (`credit-card`)
/// or another payment method, which holds its customer's id but no card to follow.
pub fn read_payment_method(xml: &str) -> Result<(BtCard, bool), PayloadError> {
    let card: BtCard = quick_xml::de::from_str(xml).map_err(|e| PayloadError::new(format!("not a Braintree payment method: {e}")))?;
    Ok((card, root_element(xml).as_deref() == Some("credit-card")))
}

/// The name of a document's root element.
fn root_element(xml: &str) -> Option<String> {
    let mut reader = quick_xml::Reader::from_str(xml);
    loop {
        match reader.read_event().ok()? {
            quick_xml::events::Event::Start(e) | quick_xml::events::Event::Empty(e) => {
                return Some(e.name().0.to_string());
            }
            quick_xml::events::Event::Eof => return None,
            _ => {}
        }
    }
}

/// A verified notification, read: its facts are made by [`Notice::into_delivery`], once what
/// it lacks (the customer of a subscription without transactions) has been looked up.
pub struct Notice {
    id: String,
    kind: String,
    occurred_at: DateTime<Utc>,
    subject: Subject,
}

/// Reads a notification's payload (base64 XML).
pub fn read(payload: &str) -> Result<Notice, PayloadError> {
    use base64::Engine;
    let compact: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    let xml = base64::engine::general_purpose::STANDARD
        .decode(compact)
        .map_err(|e| PayloadError::new(format!("bt_payload is not base64: {e}")))?;
    let xml = String::from_utf8(xml).map_err(|_| PayloadError::new("bt_payload is not UTF-8 XML"))?;
    let notification: Notification =
        quick_xml::de::from_str(&xml).map_err(|e| PayloadError::new(format!("not a Braintree notification: {e}")))?;
    let timestamp = notification.timestamp.text.unwrap_or_default();
    let occurred_at: DateTime<Utc> = timestamp.trim().parse().map_err(|_| PayloadError::new(format!("timestamp {timestamp:?}")))?;
    Ok(Notice {
        // Signatures are accepted with or without a trailing newline: so is the id.
        id: hmac_check::digest_hex(payload.trim_end_matches('\n').as_bytes()),
        kind: notification.kind.text.unwrap_or_default().trim().to_string(),
        occurred_at,
        subject: notification.subject,
    })
}

/// Reads a notification that needs no lookup (tests, replays, benches).
pub fn parse(payload: &str, defaults: &BusinessDefaults) -> Result<Delivery, PayloadError> {
    read(payload)?.into_delivery(None, defaults)
}

/// The kinds that tell of a subscription's state.
const SUBSCRIPTION_KINDS: [&str; 8] = [
    "subscription_trial_ended",
    "subscription_billing_skipped",
    "subscription_charged_successfully",
    "subscription_charged_unsuccessfully",
    "subscription_went_past_due",
    "subscription_expired",
    "subscription_canceled",
    "subscription_went_active",
];

impl Notice {
    pub fn kind(&self) -> &str {
        &self.kind
    }

    /// Braintree's id of the subscription the notification is about, if it is about one.
    pub fn subscription_id(&self) -> Option<&str> {
        self.subject.subscription.as_ref().and_then(|s| text(&s.id))
    }

    /// The payment method to look up through Braintree's API: a subscription described in
    /// full whose transactions do not name its customer (a new subscription before its first
    /// charge, a cancellation). None when the notification says who, or says too little.
    pub fn payment_method_to_look_up(&self) -> Option<&str> {
        let subscription = self.subject.subscription.as_ref()?;
        if !SUBSCRIPTION_KINDS.contains(&self.kind.as_str())
            || subscription.plan_id.is_none()
            || transaction_customer(subscription).is_some()
        {
            return None;
        }
        text(&subscription.payment_method_token)
    }

    /// The merchant account whose currency the subscription bills in, when none of its
    /// transactions states a currency (a subscription before its first charge).
    pub fn merchant_account_to_look_up(&self) -> Option<&str> {
        let subscription = self.subject.subscription.as_ref()?;
        if subscription.transactions.iter().flat_map(|t| &t.transaction).any(|t| text(&t.currency).is_some()) {
            return None;
        }
        text(&subscription.merchant_account_id)
    }

    /// The facts, with `found`: what a lookup of [`Notice::payment_method_to_look_up`] found.
    pub fn into_delivery(self, found: Option<Found>, defaults: &BusinessDefaults) -> Result<Delivery, PayloadError> {
        let facts = facts(&self.kind, &self.subject, found, defaults)?;
        Ok(Delivery { provider: Provider::Braintree, id: self.id, kind: self.kind, occurred_at: self.occurred_at, facts })
    }
}

fn reference(id: &str) -> Result<ProviderRef, PayloadError> {
    ProviderRef::new(Provider::Braintree, id).map_err(|e| PayloadError::new(e.to_string()))
}

fn decimal(value: &str, currency: Currency, field: &str) -> Result<Money, PayloadError> {
    Money::parse_decimal(value, currency).map_err(|e| PayloadError::new(format!("{field}: {e}")))
}

fn date(field: &Option<Text>, name: &str) -> Result<Option<NaiveDate>, PayloadError> {
    text(field)
        .map(|t| NaiveDate::parse_from_str(t, "%Y-%m-%d").map_err(|_| PayloadError::new(format!("{name} {t:?} is not a date"))))
        .transpose()
}

fn count(field: &Option<Text>, name: &str) -> Result<Option<u32>, PayloadError> {
    text(field).map(|t| t.parse().map_err(|_| PayloadError::new(format!("{name} {t:?} is not a count")))).transpose()
}

/// The subscription's newest transaction that names its customer.
fn transaction_customer(subscription: &BtSubscription) -> Option<&BtTransaction> {
    let transactions = subscription.transactions.as_ref()?;
    // The gateway lists a subscription's transactions newest first.
    transactions.transaction.iter().find(|t| t.customer.as_ref().and_then(BtCustomer::id).is_some())
}

fn customer_facts(customer: &BtCustomer, defaults: &BusinessDefaults) -> Result<Option<CustomerFacts>, PayloadError> {
    let Some(id) = customer.id() else { return Ok(None) };
    let name = [text(&customer.first_name), text(&customer.last_name)].into_iter().flatten().collect::<Vec<_>>().join(" ");
    let name = Some(name).filter(|n| !n.is_empty()).or_else(|| text(&customer.company).map(str::to_string));
    Ok(Some(CustomerFacts {
        name,
        email: text(&customer.email).and_then(|e| Email::parse(e).ok()),
        phone: text(&customer.phone).and_then(|p| PhoneE164::parse(p, Some(&defaults.country)).ok()),
        ..CustomerFacts::reference_only(reference(id)?)
    }))
}

/// A card to follow, when the details name a card in full (a PayPal account has no expiry).
fn card_facts(card: &BtCard, customer: &ProviderRef) -> Result<Option<CardFacts>, PayloadError> {
    let (Some(token), Some(last4), Some(month), Some(year)) =
        (text(&card.token), text(&card.last4), text(&card.expiration_month), text(&card.expiration_year))
    else {
        return Ok(None);
    };
    let (Ok(month), Ok(year)) = (month.parse::<u32>(), year.parse::<i32>()) else {
        return Err(PayloadError::new(format!("card {token}: expiry {month}/{year}")));
    };
    Ok(Some(CardFacts {
        reference: reference(token)?,
        customer: customer.clone(),
        brand: text(&card.card_type).unwrap_or("card").to_lowercase(),
        last4: Last4::parse(last4).map_err(|e| PayloadError::new(format!("card {token}: {e}")))?,
        expiry: CardExpiry::new(month, year).map_err(|e| PayloadError::new(format!("card {token}: {e}")))?,
    }))
}

fn status(value: &str) -> Result<SubscriptionStatus, PayloadError> {
    Ok(match value {
        "Active" => SubscriptionStatus::Active,
        "Past Due" => SubscriptionStatus::PastDue,
        "Canceled" => SubscriptionStatus::Canceled,
        "Expired" => SubscriptionStatus::Expired,
        // Its first billing date is still to come.
        "Pending" => SubscriptionStatus::Trialing,
        other => return Err(PayloadError::new(format!("subscription status {other:?}"))),
    })
}

/// The billing interval a period spans (Braintree's plans bill every N months).
fn interval(start: NaiveDate, next: NaiveDate) -> BillingInterval {
    match (next - start).num_days() {
        ..=8 => BillingInterval::Week,
        9..=31 => BillingInterval::Month,
        32..=92 => BillingInterval::Quarter,
        _ => BillingInterval::Year,
    }
}

/// The unpaid balance of a billing period is followed as an invoice of ours, keyed by the
/// subscription and the period's first day: the retries of one period are one debt, and a
/// new period that fails is another.
fn period_invoice(subscription: &str, start: NaiveDate) -> String {
    format!("{subscription}~{start}")
}

/// The facts a subscription described in full gives: the subscription itself with its
/// customer and card, and, for a failed charge, the unpaid period to follow up.
struct Full {
    subscription: SubscriptionFacts,
    card: Option<CardFacts>,
    period_start: NaiveDate,
    /// What the period owes: the failed charge's amount, else the balance, else the price.
    owed: Money,
    /// The customer's details are a transaction's copy of them (as of that charge), not
    /// Braintree's answer about the customer now.
    customer_from_transaction: bool,
}

fn full_subscription(
    subscription: &BtSubscription,
    found: Option<&Found>,
    defaults: &BusinessDefaults,
) -> Result<Option<Full>, PayloadError> {
    let id = text(&subscription.id).ok_or_else(|| PayloadError::new("subscription without an id"))?;
    let (Some(plan), Some(price)) = (text(&subscription.plan_id), text(&subscription.price)) else { return Ok(None) };
    let transaction = transaction_customer(subscription);
    let customer_from_transaction = transaction.is_some();
    let (customer, card) = match (transaction, found) {
        (Some(t), _) => (t.customer.clone().unwrap_or_default(), t.credit_card.clone()),
        (None, Some(found)) => (found.customer.clone(), found.card.clone()),
        (None, None) => return Ok(None),
    };
    let Some(customer) = customer_facts(&customer, defaults)? else { return Ok(None) };
    let currency = match subscription.transactions.iter().flat_map(|t| &t.transaction).find_map(|t| text(&t.currency)) {
        Some(code) => code.parse().map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?,
        None => found.and_then(|f| f.currency).unwrap_or(defaults.currency),
    };
    let start = date(&subscription.billing_period_start_date, "billing-period-start-date")?;
    let end = date(&subscription.billing_period_end_date, "billing-period-end-date")?;
    let next = date(&subscription.next_billing_date, "next-billing-date")?;
    // The period ends the day after its last day. The next billing date only stands in
    // when the period's end is missing: while past due, Braintree sets it to the next retry.
    let Some(next) = end.and_then(|e| e.succ_opt()).or(next) else { return Ok(None) };
    let start = start.unwrap_or_else(|| next.checked_sub_months(chrono::Months::new(1)).unwrap_or(next));
    let midnight = |day: NaiveDate| crate::domain::time::local_to_utc(day, chrono::NaiveTime::MIN, defaults.time_zone);
    let status = status(text(&subscription.status).unwrap_or("Active"))?;
    // A subscription with a set number of cycles ends after the last one: it will not renew.
    let last_cycle = text(&subscription.never_expires) == Some("false")
        && text(&subscription.number_of_billing_cycles).is_some()
        && text(&subscription.number_of_billing_cycles) == text(&subscription.current_billing_cycle);
    let price = decimal(price, currency, "price")?;
    let failed_amount = subscription
        .transactions
        .iter()
        .flat_map(|t| &t.transaction)
        .find(|t| matches!(text(&t.status), Some("failed" | "processor_declined" | "gateway_rejected")))
        .and_then(|t| text(&t.amount));
    let owed = match (failed_amount, text(&subscription.balance)) {
        (Some(amount), _) => decimal(amount, currency, "transaction amount")?,
        (None, Some(balance)) if decimal(balance, currency, "balance")?.is_positive() => decimal(balance, currency, "balance")?,
        _ => price,
    };
    let card = card.as_ref().map(|c| card_facts(c, &customer.reference)).transpose()?.flatten();
    Ok(Some(Full {
        subscription: SubscriptionFacts {
            reference: reference(id)?,
            customer,
            plan: plan.to_string(),
            price,
            interval: interval(start, next),
            status,
            current_period_start: midnight(start),
            current_period_end: midnight(next),
            cancel_at_period_end: last_cycle,
            manual_renewal: false,
            failure_count: count(&subscription.failure_count, "failure-count")?,
            days_past_due: count(&subscription.days_past_due, "days-past-due")?,
            payment_method: text(&subscription.payment_method_token).map(reference).transpose()?,
        },
        card,
        period_start: start,
        owed,
        customer_from_transaction,
    }))
}

fn facts(kind: &str, subject: &Subject, found: Option<Found>, defaults: &BusinessDefaults) -> Result<Vec<Fact>, PayloadError> {
    if kind == "payment_method_revoked_by_customer" {
        let method = subject
            .paypal_account
            .as_ref()
            .or(subject.credit_card.as_ref())
            .ok_or_else(|| PayloadError::new("no payment method in the notification"))?;
        let token = text(&method.token).unwrap_or_default();
        return Ok(vec![Fact::CardRemoved { card: reference(token)? }]);
    }
    if kind == "check" || !SUBSCRIPTION_KINDS.contains(&kind) {
        return Ok(Vec::new());
    }
    let subscription = subject.subscription.as_ref().ok_or_else(|| PayloadError::new("no subscription in the notification"))?;
    let id = reference(text(&subscription.id).ok_or_else(|| PayloadError::new("subscription without an id"))?)?;
    let full = full_subscription(subscription, found.as_ref(), defaults)?;
    let mut facts = Vec::new();
    if let Some(full) = &full {
        // The customer as Braintree has them now, then the card the subscription is charged
        // to, so that the subscription can name it.
        // A charge's notification carries that charge, so its copy of the customer is as of
        // now; any other kind's newest transaction may be a month old, and its copy only
        // fills what we lack (the customer may have changed their email since).
        let customer = full.subscription.customer.clone();
        let charged_now = matches!(kind, "subscription_charged_successfully" | "subscription_charged_unsuccessfully");
        facts.push(if full.customer_from_transaction && !charged_now {
            Fact::CustomerSnapshot(customer)
        } else {
            Fact::Customer(customer)
        });
        facts.extend(full.card.clone().map(Fact::Card));
        facts.push(Fact::Subscription(full.subscription.clone()));
    }
    // The period's debt, when the notification describes the subscription in full.
    let period = full.as_ref().map(|f| reference(&period_invoice(&id.id, f.period_start))).transpose()?;
    let owed_invoice = |full: &Full, invoice: &ProviderRef| InvoiceFacts {
        reference: invoice.clone(),
        customer: CustomerFacts::reference_only(full.subscription.customer.reference.clone()),
        number: Some(invoice.id.replace('~', "-")),
        amount_due: full.owed,
        amount_paid: Money::zero(full.owed.currency()),
        status: InvoiceStatus::Open,
        issued_at: full.subscription.current_period_start,
        // Owed from the period's billing date, when the charge was due.
        due_date: Some(full.period_start),
        subscription: Some(id.clone()),
        retry_at: None,
        payment_link: None,
        mission: None,
    };
    match kind {
        "subscription_charged_successfully" => {
            if full.is_none() {
                facts.push(Fact::SubscriptionStatus { subscription: id.clone(), status: SubscriptionStatus::Active });
            }
            // The period is paid: recorded so, even if we never saw it owed, so that a late
            // copy of its failure cannot open it again (a closed invoice stays closed).
            if let (Some(full), Some(invoice)) = (&full, &period) {
                facts.push(Fact::Invoice(InvoiceFacts {
                    amount_paid: full.owed,
                    status: InvoiceStatus::Paid,
                    ..owed_invoice(full, invoice)
                }));
            }
            // A successful charge brings the subscription's balance to nothing: every period
            // still owed, not only this one, is paid.
            facts.push(Fact::SubscriptionDebtsClosed { subscription: id.clone(), status: InvoiceStatus::Paid });
            facts.extend(payments(subscription, PaymentStatus::Succeeded, period.as_ref(), defaults)?);
        }
        "subscription_charged_unsuccessfully" | "subscription_went_past_due" => {
            if let (Some(full), Some(invoice)) = (&full, &period) {
                facts.push(Fact::Invoice(owed_invoice(full, invoice)));
            }
            if kind == "subscription_charged_unsuccessfully" {
                // A charge failed: its notice is due now, the invoice's when there is one.
                facts.push(Fact::PaymentFailed { invoice: period.clone(), subscription: Some(id.clone()), retry_at: None });
                facts.extend(payments(subscription, PaymentStatus::Failed, period.as_ref(), defaults)?);
            } else if full.is_none() {
                facts.push(Fact::PaymentFailed { invoice: None, subscription: Some(id.clone()), retry_at: None });
            } else {
                facts.push(Fact::SubscriptionStatus { subscription: id.clone(), status: SubscriptionStatus::PastDue });
            }
        }
        "subscription_expired" | "subscription_canceled" => {
            let ended = if kind == "subscription_expired" { SubscriptionStatus::Expired } else { SubscriptionStatus::Canceled };
            facts.push(Fact::SubscriptionStatus { subscription: id.clone(), status: ended });
            // Over: its unpaid periods are no longer followed up either.
            facts.push(Fact::SubscriptionDebtsClosed { subscription: id.clone(), status: InvoiceStatus::Void });
        }
        "subscription_went_active" if full.is_none() => {
            facts.push(Fact::SubscriptionStatus { subscription: id.clone(), status: SubscriptionStatus::Active });
        }
        _ => {}
    }
    Ok(facts)
}

/// The subscription's transactions of the notification's outcome, as payments of the customer
/// they name (samples may name none: those are left out).
fn payments(
    subscription: &BtSubscription,
    status: PaymentStatus,
    invoice: Option<&ProviderRef>,
    defaults: &BusinessDefaults,
) -> Result<Vec<Fact>, PayloadError> {
    let Some(transactions) = subscription.transactions.as_ref() else { return Ok(Vec::new()) };
    // The subscription lists every transaction it had, newest first: the notification is
    // about the newest, and the older ones were told of when they happened.
    let Some(transaction) = transactions.transaction.first() else { return Ok(Vec::new()) };
    let mut facts = Vec::new();
    if let (Some(customer), Some(id)) = (transaction.customer.as_ref().and_then(BtCustomer::id), text(&transaction.id)) {
        let currency = match text(&transaction.currency) {
            Some(code) => code.parse().map_err(|e: crate::domain::MoneyError| PayloadError::new(e.to_string()))?,
            None => defaults.currency,
        };
        let amount = decimal(text(&transaction.amount).unwrap_or("0"), currency, "transaction amount")?;
        facts.push(Fact::Payment(PaymentFacts {
            reference: reference(id)?,
            customer: CustomerFacts::reference_only(reference(customer)?),
            invoice: invoice.cloned(),
            amount,
            status,
            failure_reason: if status == PaymentStatus::Failed { text(&transaction.processor_response).map(str::to_string) } else { None },
            amount_refunded: Money::zero(currency),
        }));
    }
    Ok(facts)
}

#[cfg(test)]
mod tests {
    use super::*;

    macro_rules! fixture {
        ($name:literal) => {
            include_str!(concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/webhooks/", $name))
        };
    }

    fn keys() -> Vec<BraintreeKeys> {
        vec![BraintreeKeys { public_key: "integration_public_key".into(), private_key: "integration_private_key".into() }]
    }

    #[test]
    fn answers_the_official_challenge_vector() {
        assert_eq!(
            answer_challenge("20f9f8ed05f77439fe955c977e4c8a53", &keys()[0]).unwrap(),
            "integration_public_key|d9b899556c966b3f06945ec21311865d35df3ce4"
        );
        assert!(answer_challenge("not-hex", &keys()[0]).is_err());
        assert!(answer_challenge("20F9F8ED05F77439FE955C977E4C8A53", &keys()[0]).is_err());
    }

    #[test]
    fn the_hmac_is_keyed_by_the_sha1_of_the_private_key() {
        // braintree_python's Crypto.sha1_hmac_hash("secretKey", "hello world").
        assert_eq!(hmac_check::braintree_hex("secretKey", b"hello world"), "d503d7a1a6adba1e6474e9ff2c4167f9dfdf4247");
    }

    #[test]
    fn verifies_and_reads_every_sample_notification() {
        let samples: serde_json::Value = serde_json::from_str(fixture!("braintree_sample_notifications.json")).unwrap();
        let samples = samples["notifications"].as_array().or_else(|| samples.as_array()).cloned().unwrap_or_default();
        assert!(samples.len() >= 7, "{samples:?}");
        for sample in samples {
            let file = sample["bt_payload_file"].as_str().unwrap();
            let payload = &std::fs::read_to_string(format!("{}/../tests/fixtures/webhooks/{file}", env!("CARGO_MANIFEST_DIR"))).unwrap();
            let signature = sample["bt_signature"].as_str().unwrap();
            verify(signature, payload, &keys()).unwrap();
            let delivery = parse(payload, &BusinessDefaults::default()).unwrap();
            assert_eq!(delivery.occurred_at, "2025-01-15T12:00:00Z".parse::<DateTime<Utc>>().unwrap());
            assert_eq!(Some(delivery.kind.as_str()), sample["kind"].as_str());
            // Tampering with one character breaks the signature.
            let mut tampered = payload.to_string();
            tampered.replace_range(10..11, if &payload[10..11] == "A" { "B" } else { "A" });
            assert_eq!(verify(signature, &tampered, &keys()), Err(SignatureError::Mismatch));
        }
    }

    #[test]
    fn maps_each_kind_to_facts() {
        let read = |payload: &str| parse(payload, &BusinessDefaults::default()).unwrap().facts;
        let sub = |id: &str| ProviderRef::new(Provider::Braintree, id).unwrap();
        assert_eq!(read(fixture!("braintree_sample_check.bt_payload.txt")), vec![]);
        assert_eq!(
            read(fixture!("braintree_sample_subscription_charged_successfully.bt_payload.txt")),
            vec![
                Fact::SubscriptionStatus { subscription: sub("sub_charged_ok_id"), status: SubscriptionStatus::Active },
                Fact::SubscriptionDebtsClosed { subscription: sub("sub_charged_ok_id"), status: InvoiceStatus::Paid },
            ]
        );
        assert_eq!(
            read(fixture!("braintree_sample_subscription_went_past_due.bt_payload.txt")),
            vec![Fact::PaymentFailed { invoice: None, subscription: Some(sub("sub_past_due_id")), retry_at: None }]
        );
        assert_eq!(
            read(fixture!("braintree_sample_subscription_canceled.bt_payload.txt")),
            vec![
                Fact::SubscriptionStatus { subscription: sub("sub_canceled_id"), status: SubscriptionStatus::Canceled },
                Fact::SubscriptionDebtsClosed { subscription: sub("sub_canceled_id"), status: InvoiceStatus::Void },
            ]
        );
        assert_eq!(
            read(fixture!("braintree_sample_payment_method_revoked_by_customer.bt_payload.txt")),
            vec![Fact::CardRemoved { card: sub("revoked_pm_token") }]
        );
    }

    fn encoded(xml: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(xml)
    }

    #[test]
    fn reads_a_subscription_as_the_gateway_sends_it() {
        let xml = fixture!("braintree_gateway_subscription_charged_unsuccessfully.xml");
        let notice = read(&encoded(xml)).unwrap();
        assert_eq!(notice.payment_method_to_look_up(), None, "the transaction names the customer");
        let facts = notice.into_delivery(None, &BusinessDefaults::default()).unwrap().facts;
        let r = |id: &str| ProviderRef::new(Provider::Braintree, id).unwrap();
        let Fact::Customer(customer) = &facts[0] else { panic!("{facts:?}") };
        assert_eq!((customer.name.as_deref(), customer.email.as_ref().map(Email::as_str)), (Some("Léa Martin"), Some("lea@example.org")));
        assert_eq!(customer.phone.as_ref().map(PhoneE164::as_str), Some("+33612345678"));
        let Fact::Card(card) = &facts[1] else { panic!("{facts:?}") };
        assert_eq!(
            (card.brand.as_str(), card.last4.as_str(), card.expiry, &card.customer),
            ("visa", "1111", CardExpiry::new(1, 2027).unwrap(), &r("cust-lea"))
        );
        let Fact::Subscription(sub) = &facts[2] else { panic!("{facts:?}") };
        assert_eq!(
            (sub.plan.as_str(), sub.price.minor_units(), sub.status, sub.interval),
            ("potager-solo", 2500, SubscriptionStatus::PastDue, BillingInterval::Month)
        );
        // Dates are the business's (Paris): the period runs from 1 January to 1 February, midnight.
        assert_eq!(
            (sub.current_period_start.to_rfc3339(), sub.current_period_end.to_rfc3339()),
            ("2026-12-31T23:00:00+00:00".into(), "2027-01-31T23:00:00+00:00".into())
        );
        assert_eq!((sub.failure_count, sub.days_past_due, sub.payment_method.clone()), (Some(1), None, Some(r("card-lea"))));
        assert!(!sub.cancel_at_period_end, "never expires");
        let Fact::Invoice(owed) = &facts[3] else { panic!("{facts:?}") };
        assert_eq!(
            (owed.reference.id.as_str(), owed.number.as_deref(), owed.amount_due.minor_units()),
            ("sub-lea~2027-01-01", Some("sub-lea-2027-01-01"), 2500)
        );
        assert_eq!(
            (owed.status, owed.due_date, owed.subscription.clone()),
            (InvoiceStatus::Open, NaiveDate::from_ymd_opt(2027, 1, 1), Some(r("sub-lea")))
        );
        assert_eq!(
            facts[4],
            Fact::PaymentFailed { invoice: Some(r("sub-lea~2027-01-01")), subscription: Some(r("sub-lea")), retry_at: None }
        );
        let Fact::Payment(payment) = &facts[5] else { panic!("{facts:?}") };
        assert_eq!(
            (payment.reference.id.as_str(), payment.status, payment.failure_reason.as_deref()),
            ("txn-lea-2", PaymentStatus::Failed, Some("Insufficient Funds"))
        );
        assert_eq!(facts.len(), 6);
    }

    #[test]
    fn an_old_transactions_copy_of_the_customer_only_fills_blanks() {
        // A cancellation lists the last charge, from weeks ago: its customer details are a
        // snapshot of then, not news. The charge's own notification is news.
        let xml = fixture!("braintree_gateway_subscription_charged_unsuccessfully.xml");
        let canceled = xml.replace("subscription_charged_unsuccessfully", "subscription_canceled").replace("Past Due", "Canceled");
        let facts = read(&encoded(&canceled)).unwrap().into_delivery(None, &BusinessDefaults::default()).unwrap().facts;
        assert!(
            matches!(&facts[0], Fact::CustomerSnapshot(c) if c.email.as_ref().map(Email::as_str) == Some("lea@example.org")),
            "{facts:?}"
        );
        let facts = read(&encoded(xml)).unwrap().into_delivery(None, &BusinessDefaults::default()).unwrap().facts;
        assert!(matches!(&facts[0], Fact::Customer(_)), "{facts:?}");
    }

    #[test]
    fn a_retry_date_is_not_the_end_of_the_period() {
        // While past due, Braintree's next billing date is the next retry (here 6 January):
        // the period still ends with its last day, and the plan stays monthly.
        let xml = fixture!("braintree_gateway_subscription_charged_unsuccessfully.xml")
            .replace(">2027-02-01</next-billing-date>", ">2027-01-06</next-billing-date>");
        let facts = read(&encoded(&xml)).unwrap().into_delivery(None, &BusinessDefaults::default()).unwrap().facts;
        let sub = facts.iter().find_map(|f| if let Fact::Subscription(s) = f { Some(s) } else { None }).unwrap();
        assert_eq!((sub.current_period_end.to_rfc3339(), sub.interval), ("2027-01-31T23:00:00+00:00".into(), BillingInterval::Month));
    }

    #[test]
    fn a_subscription_without_transactions_asks_for_a_lookup_and_takes_its_answer() {
        let xml = fixture!("braintree_gateway_subscription_charged_unsuccessfully.xml");
        let start = xml.find("<transactions").unwrap();
        let end = xml.find("</transactions>").unwrap() + "</transactions>".len();
        let canceled = xml[..start].to_string() + "<transactions type=\"array\"/>" + &xml[end..];
        let canceled = canceled.replace("subscription_charged_unsuccessfully", "subscription_canceled").replace("Past Due", "Canceled");
        let notice = read(&encoded(&canceled)).unwrap();
        assert_eq!(notice.payment_method_to_look_up(), Some("card-lea"));
        // Without an answer (no API configured), only what we know changes.
        let thin = read(&encoded(&canceled)).unwrap().into_delivery(None, &BusinessDefaults::default()).unwrap().facts;
        let r = |id: &str| ProviderRef::new(Provider::Braintree, id).unwrap();
        assert_eq!(
            thin,
            vec![
                Fact::SubscriptionStatus { subscription: r("sub-lea"), status: SubscriptionStatus::Canceled },
                Fact::SubscriptionDebtsClosed { subscription: r("sub-lea"), status: InvoiceStatus::Void },
            ]
        );
        // The gateway's answers to the payment method and customer lookups.
        let (card, is_card) = read_payment_method(
            "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<credit-card><token>card-lea</token><customer-id>cust-lea</customer-id>\
             <card-type>Visa</card-type><last-4>1111</last-4><expiration-month>01</expiration-month><expiration-year>2027</expiration-year></credit-card>",
        )
        .unwrap();
        assert!(is_card);
        assert_eq!(card.customer_id(), Some("cust-lea"));
        let (paypal, is_card) =
            read_payment_method("<paypal-account><token>pp</token><customer-id>cust-lea</customer-id></paypal-account>").unwrap();
        assert!(!is_card && paypal.customer_id() == Some("cust-lea"));
        let customer = read_customer("<customer><id>cust-lea</id><first-name>Léa</first-name><last-name>Martin</last-name><email>lea@example.org</email><phone nil=\"true\"/></customer>").unwrap();
        let facts =
            notice.into_delivery(Some(Found { customer, card: Some(card), currency: None }), &BusinessDefaults::default()).unwrap().facts;
        assert!(matches!(&facts[0], Fact::Customer(c) if c.name.as_deref() == Some("Léa Martin") && c.phone.is_none()), "{facts:?}");
        assert!(matches!(&facts[1], Fact::Card(c) if c.reference == r("card-lea")), "{facts:?}");
        assert!(matches!(&facts[2], Fact::Subscription(s) if s.status == SubscriptionStatus::Canceled), "{facts:?}");
        assert_eq!(facts[3], Fact::SubscriptionStatus { subscription: r("sub-lea"), status: SubscriptionStatus::Canceled });
        assert_eq!(facts[4], Fact::SubscriptionDebtsClosed { subscription: r("sub-lea"), status: InvoiceStatus::Void });
    }

    #[test]
    fn refuses_bad_signatures_and_payloads() {
        let payload = fixture!("braintree_sample_check.bt_payload.txt");
        let signature = "integration_public_key|6451aba92fe0d82e2fca3834973cfaa694d2edf4";
        assert!(verify(signature, payload, &keys()).is_ok());
        assert!(verify(&format!("other_key|abc&{signature}"), payload, &keys()).is_ok(), "pairs joined with &");
        assert_eq!(verify("other_key|6451aba92fe0d82e2fca3834973cfaa694d2edf4", payload, &keys()), Err(SignatureError::Mismatch));
        assert_eq!(verify("garbage", payload, &keys()), Err(SignatureError::Mismatch));
        assert!(matches!(verify(signature, "<xml>", &keys()), Err(SignatureError::Malformed(_))));
        assert_eq!(verify(signature, payload, &[]), Err(SignatureError::NoSecret));
        assert!(parse("bm90IHhtbA==", &BusinessDefaults::default()).is_err());
        assert!(parse("!!!", &BusinessDefaults::default()).is_err());
    }

    #[test]
    fn form_fields_come_from_the_raw_body() {
        let body = b"bt_signature=pub%7Cabc&bt_payload=PG5vdGlmaWNhdGlvbj4%3D%0A";
        let (signature, payload) = form_fields(body).unwrap();
        assert_eq!(signature, "pub|abc");
        assert_eq!(payload, "PG5vdGlmaWNhdGlvbj4=\n");
        assert_eq!(form_fields(b"bt_payload=x"), Err(SignatureError::Missing("bt_signature")));
    }
}
