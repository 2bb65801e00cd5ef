//! The billing domain: money, contact details, time, and the records Relance follows up.
//!
//! Pure code: nothing here talks to AWS or reads the clock. Every function that needs "now"
//! takes it as an argument, so every rule can be tested for any date.

pub mod account;
pub mod agency;
pub mod audit;
pub mod community;
pub mod contact;
pub mod coupon;
pub mod customer;
pub mod follow_up;
pub mod ids;
pub mod import_run;
pub mod invoice;
pub mod late_payment;
pub mod money;
pub mod notification;
pub mod payment;
pub mod payment_method;
pub mod provider;
pub mod subscription;
pub mod time;

pub use account::{Account, Plot, Role};
pub use agency::{Lead, LeadError, LeadStatus, Mission, MissionLink};
pub use audit::{AuditAction, AuditEntry};
pub use community::{
    Attendance, Audience, Author, Event, Harvest, InboxEntry, Message, News, Registration, RegistrationError, Site, Viewer,
};
pub use contact::{ContactError, Email, Locale, PhoneE164};
pub use coupon::{CouponPool, ThankYouCoupon};
pub use customer::{Channel, Customer, LabelError, OptOuts, label, labels};
pub use follow_up::FollowUp;
pub use ids::{
    CustomerId, EventId, HarvestId, InvalidId, InvoiceId, InvoiceNumber, LeadId, MessageId, MissionId, NewsId, PaymentId, PaymentMethodId,
    RefundId, SiteId, SubscriptionId,
};
pub use import_run::{ImportKind, ImportRun, ImportStatus, LineError};
pub use invoice::{Invoice, InvoiceError, InvoiceStatus};
pub use late_payment::{LatePaymentCharges, LatePaymentTerms, charges_for};
pub use money::{Currency, Money, MoneyError, Rounding};
pub use notification::{
    CLAIM_LIFETIME_MINUTES, ChannelDecision, EmailOutcome, EmailOutcomeKind, FormalNoticeCopy, Notification, NotificationId,
    NotificationKind, NotificationStatus, SentCopy, Target, TargetKind,
};
pub use payment::{Payment, PaymentError, PaymentStatus, Refund};
pub use payment_method::{CardExpiry, Last4, PaymentMethod};
pub use provider::{Provider, ProviderDelivery, ProviderRef};
pub use subscription::{BillingInterval, Subscription, SubscriptionStatus};

/// The OpenAPI schema of a value serde writes as one string (a currency code, a locale, a
/// month), for the types whose schema cannot be derived from their fields.
pub(crate) fn string_schema(description: &str, pattern: &str, example: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    utoipa::openapi::ObjectBuilder::new()
        .schema_type(utoipa::openapi::schema::Type::String)
        .description(Some(description))
        .pattern(Some(pattern))
        .examples([serde_json::Value::from(example)])
        .into()
}
