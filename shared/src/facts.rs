//! What a provider told us, in our words: the facts a delivery carries about customers,
//! invoices, subscriptions, cards, payments and orders, whichever system sent them.
//!
//! Providers' adapters (`crate::providers`) turn payloads into a [`Delivery`]; the ingest
//! step (`crate::ingest`) applies it to the table. This module sits below both, so neither
//! imports the other's way back. Facts are what the provider knows *now*: the provider is
//! the source of truth for amounts and statuses, we keep the follow-up.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::{
    BillingInterval, CardExpiry, Email, InvoiceStatus, Last4, Locale, Money, PaymentStatus, PhoneE164, Provider, ProviderRef,
    SubscriptionStatus,
};

/// One webhook delivery (or one imported document), normalised.
#[derive(Debug, Clone, PartialEq)]
pub struct Delivery {
    pub provider: Provider,
    /// The provider's id for this delivery (Stripe's event id, Shopify's webhook id, a digest
    /// of Braintree's payload): the idempotency key.
    pub id: String,
    /// The provider's name for what happened (`invoice.paid`, `orders/create`, `check`).
    pub kind: String,
    /// When the provider says it happened: older facts never overwrite newer ones.
    pub occurred_at: DateTime<Utc>,
    /// Empty when the delivery is of a kind we do not act on (recorded as ignored).
    pub facts: Vec<Fact>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Fact {
    /// News about the customer (Stripe's `customer.updated`): what it says wins over what we
    /// hold, unless we hold newer.
    Customer(CustomerFacts),
    /// A copy of the customer's details another record carries, as of that record (an old
    /// Braintree transaction): it only fills what we lack.
    CustomerSnapshot(CustomerFacts),
    CustomerDeleted {
        customer: ProviderRef,
    },
    /// The provider asks us to forget a customer (Shopify's `customers/redact`): erased as
    /// the member's own request would, the books kept.
    CustomerErased {
        customer: ProviderRef,
    },
    /// A customer asked the provider for the data held on them (Shopify's
    /// `customers/data_request`): the team is told, to send them their export.
    DataRequested {
        customer: ProviderRef,
        request: String,
    },
    /// The provider asks us to forget every customer it sent (Shopify's `shop/redact`, 48
    /// hours after the app is removed).
    ProviderCustomersErased,
    Invoice(InvoiceFacts),
    /// The provider no longer has this invoice (Holded answers 404 for a deleted or
    /// cancelled document): if we follow it, it is void and leaves the ladder.
    InvoiceWithdrawn {
        invoice: ProviderRef,
    },
    /// Every unpaid invoice of a subscription we follow is settled or cancelled (a Braintree
    /// subscription's past-due periods, paid together by a successful retry, or ended with the
    /// subscription): a balance carried over several periods is closed whole, not only the
    /// current period's part.
    SubscriptionDebtsClosed {
        subscription: ProviderRef,
        status: InvoiceStatus,
    },
    /// A collection attempt failed: the first reminder is due now.
    PaymentFailed {
        invoice: Option<ProviderRef>,
        subscription: Option<ProviderRef>,
        /// When the provider announced it will try the charge again (Stripe's
        /// `next_payment_attempt`); none: it will not.
        retry_at: Option<DateTime<Utc>>,
    },
    Subscription(SubscriptionFacts),
    /// A subscription we already know changed status (Braintree's notifications carry only
    /// the subscription's id and status).
    SubscriptionStatus {
        subscription: ProviderRef,
        status: SubscriptionStatus,
    },
    /// The provider announces a renewal or a trial end: a renewal notice is due now.
    RenewalSoon {
        subscription: ProviderRef,
    },
    Card(CardFacts),
    CardRemoved {
        card: ProviderRef,
    },
    Payment(PaymentFacts),
    /// Money given back on an invoice (a shop order) we already know.
    Refund {
        invoice: ProviderRef,
        refund: ProviderRef,
        amount: Money,
    },
    /// A purchase in a shop: the post-purchase thank-you notification is queued.
    Order(OrderFacts),
}

/// What a provider knows of a customer; `None` means "not said", not "erase".
#[derive(Debug, Clone, PartialEq)]
pub struct CustomerFacts {
    pub reference: ProviderRef,
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<PhoneE164>,
    pub locale: Option<Locale>,
    /// Business dates the provider keeps for the customer (a lease start), for date rules.
    pub dates: Vec<(String, NaiveDate)>,
    /// The customer's tags and lists when the sender keeps them (our generic format): they
    /// replace ours. None: the sender says nothing about them, ours stay.
    pub tags: Option<std::collections::BTreeSet<String>>,
    pub lists: Option<std::collections::BTreeSet<String>>,
}

impl CustomerFacts {
    pub fn reference_only(reference: ProviderRef) -> CustomerFacts {
        CustomerFacts { tags: None, lists: None, reference, name: None, email: None, phone: None, locale: None, dates: Vec::new() }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct InvoiceFacts {
    pub reference: ProviderRef,
    pub customer: CustomerFacts,
    pub number: Option<String>,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub status: InvoiceStatus,
    pub issued_at: DateTime<Utc>,
    pub due_date: Option<NaiveDate>,
    pub subscription: Option<ProviderRef>,
    /// When the provider will retry the charge itself, if it announced it.
    pub retry_at: Option<DateTime<Utc>>,
    /// The provider's hosted page where the customer pays this invoice, if it has one.
    pub payment_link: Option<String>,
    /// Our agency mission the invoice bills, when the sender names it (our generic format).
    pub mission: Option<crate::domain::MissionId>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionFacts {
    pub reference: ProviderRef,
    pub customer: CustomerFacts,
    pub plan: String,
    pub price: Money,
    pub interval: BillingInterval,
    pub status: SubscriptionStatus,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub cancel_at_period_end: bool,
    /// Renewed by the customer paying an invoice, not by a charge (Stripe's `collection_method:
    /// send_invoice`).
    pub manual_renewal: bool,
    /// The provider's count of charges failed in a row, and of days past due (Braintree).
    pub failure_count: Option<u32>,
    pub days_past_due: Option<u32>,
    /// The card (or other payment method) the provider charges for it, when it says.
    pub payment_method: Option<ProviderRef>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CardFacts {
    pub reference: ProviderRef,
    pub customer: ProviderRef,
    pub brand: String,
    pub last4: Last4,
    pub expiry: CardExpiry,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PaymentFacts {
    pub reference: ProviderRef,
    pub customer: CustomerFacts,
    pub invoice: Option<ProviderRef>,
    pub amount: Money,
    pub status: PaymentStatus,
    pub failure_reason: Option<String>,
    /// Everything refunded so far (providers report the running total).
    pub amount_refunded: Money,
}

#[derive(Debug, Clone, PartialEq)]
pub struct OrderFacts {
    pub reference: ProviderRef,
    pub customer: CustomerFacts,
    pub total: Money,
    pub name: Option<String>,
}
