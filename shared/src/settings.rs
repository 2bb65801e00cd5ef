//! The owner's settings: the reminder ladders, the sending window, the email thresholds per
//! currency and the date rules, written from the back office and kept in the table.
//!
//! The deployment's parameters (`RELANCE_LADDERS`, `RELANCE_SENDING_HOURS`,
//! `RELANCE_EMAIL_THRESHOLDS`…) are the first settings only: once an owner has saved theirs,
//! the stored version wins. [`Settings`] is the document the API reads and writes (the shape
//! `RELANCE_LADDERS` takes, plus `email_thresholds`); [`LiveSettings`] is how the functions
//! read the current version, with a short cache so a busy dispatch does not read the table for
//! every message.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{Currency, Money};
use crate::notify::ChannelPolicy;
use crate::notify::owner_templates::OwnerTemplate;
use crate::schedule::{CalendarRule, DateRule, Ladders, SendingWindow, Step};
use crate::store::{Key, Store, StoreError};

/// How long a function keeps the settings it read: a change reaches dispatch, the webhook and
/// the pages within this time; the scan reads them afresh on every run.
pub const CACHE_FOR: Duration = Duration::from_secs(60);

/// The settings as the owner writes them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The invoice ladder: days from the due date (negative: before it) and the message.
    #[schema(value_type = Vec<Object>)]
    pub invoice: Vec<Step>,
    /// Days before a card's last valid day, the first warning first (most days).
    pub card_days_before_expiry: Vec<i64>,
    /// Days before a subscription's period ends, the first reminder first.
    pub renewal_days_before_end: Vec<i64>,
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub date_rules: Vec<DateRule>,
    /// The local time of day a step falls due (`09:00:00`).
    #[schema(value_type = String, example = "09:00:00")]
    pub reminder_time: NaiveTime,
    #[schema(value_type = Object)]
    pub window: SendingWindow,
    /// From which amount (minor units, per currency) a notice about money goes by email
    /// first; below it, by text message. A currency without one holds its notices.
    #[schema(value_type = BTreeMap<String, i64>, example = json!({"EUR": 5000}))]
    pub email_thresholds: BTreeMap<Currency, i64>,
    /// Late-payment penalties and the 40 € indemnity for business customers (article L441-10
    /// of the Code de commerce), stated in the final notice; none: off.
    #[serde(default)]
    pub late_payment: Option<crate::domain::LatePaymentTerms>,
    /// Attach a formal notice ("mise en demeure", a PDF of the invoice, the amounts with any
    /// late-payment charges, and the date) to the final notice when it goes by email; its
    /// copy is kept with the notification.
    #[serde(default)]
    pub formal_notice: bool,
    /// The business's own deadlines (VAT, taxes): reminders to the team, about no customer.
    #[serde(default)]
    #[schema(value_type = Vec<Object>)]
    pub calendar: Vec<CalendarRule>,
    /// A code for the next order on the shop's thank-you (one for all, or one per order from
    /// a list); none: thank-yous carry no code.
    #[serde(default)]
    pub thank_you_coupon: Option<crate::domain::ThankYouCoupon>,
}

/// Why settings were refused: where in the document (`invoice[2].offset_days`) and what.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct SettingsError {
    pub field: String,
    pub message: String,
}

impl Settings {
    /// The settings made of the deployment's ladders and channel policy.
    pub fn from_parts(ladders: &Ladders, policy: &ChannelPolicy) -> Settings {
        Settings {
            invoice: ladders.invoice.clone(),
            card_days_before_expiry: ladders.card_days_before_expiry.clone(),
            renewal_days_before_end: ladders.renewal_days_before_end.clone(),
            date_rules: ladders.date_rules.clone(),
            reminder_time: ladders.reminder_time,
            window: ladders.window.clone(),
            email_thresholds: policy.email_from.iter().map(|(currency, amount)| (*currency, amount.minor_units())).collect(),
            late_payment: None,
            formal_notice: false,
            calendar: Vec::new(),
            thank_you_coupon: None,
        }
    }

    pub fn ladders(&self) -> Ladders {
        Ladders {
            invoice: self.invoice.clone(),
            card_days_before_expiry: self.card_days_before_expiry.clone(),
            renewal_days_before_end: self.renewal_days_before_end.clone(),
            date_rules: self.date_rules.clone(),
            reminder_time: self.reminder_time,
            window: self.window.clone(),
        }
    }

    pub fn policy(&self) -> ChannelPolicy {
        ChannelPolicy {
            email_from: self.email_thresholds.iter().map(|(currency, minor)| (*currency, Money::from_minor(*minor, *currency))).collect(),
        }
    }

    /// Reads a document as sent to the API: a field of the wrong shape is named by its path,
    /// then the whole is checked ([`Settings::validate`]).
    pub fn parse(json: &[u8]) -> Result<Settings, SettingsError> {
        let deserializer = &mut serde_json::Deserializer::from_slice(json);
        let settings: Settings = serde_path_to_error::deserialize(deserializer).map_err(|e| {
            let field = e.path().to_string();
            let field = if field == "." { String::new() } else { field };
            SettingsError { field, message: e.into_inner().to_string() }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    /// The ladders' own rules ([`Ladders::validate`]), and thresholds that are amounts.
    pub fn validate(&self) -> Result<(), SettingsError> {
        self.ladders().validate().map_err(|e| SettingsError { field: e.field(), message: e.to_string() })?;
        for (index, rule) in self.calendar.iter().enumerate() {
            rule.validate().map_err(|e| SettingsError { field: format!("calendar[{index}].{}", e.field), message: e.message })?;
            if self.calendar[..index].iter().any(|r| r.name == rule.name) {
                return Err(SettingsError { field: format!("calendar[{index}].name"), message: "another deadline has this name".into() });
            }
        }
        for (index, rule) in self.date_rules.iter().enumerate() {
            if crate::domain::ids::check_key_part("date_field", &rule.date_field).is_err() {
                return Err(SettingsError {
                    field: format!("date_rules[{index}].date_field"),
                    message: "the name of one of the customers' date fields (lease_start)".into(),
                });
            }
        }
        if let Some(coupon) = &self.thank_you_coupon {
            coupon.validate().map_err(|e| SettingsError { field: format!("thank_you_coupon.{}", e.field), message: e.message })?;
        }
        if let Some((currency, _)) = self.email_thresholds.iter().find(|(_, minor)| **minor < 0) {
            return Err(SettingsError {
                field: format!("email_thresholds.{currency}"),
                message: "a threshold is an amount in minor units, 0 or more".into(),
            });
        }
        Ok(())
    }
}

/// The settings as stored: the document and who saved it when. Version 0 is the
/// deployment's parameters, never saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredSettings {
    pub settings: Settings,
    pub version: u64,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

impl StoredSettings {
    pub fn key() -> Key {
        Key { pk: "SETTINGS".into(), sk: "SETTINGS".into() }
    }
}

/// What the scan last rescheduled the table for: the settings version, and the ladders the
/// records' steps were decided on before it (to place steps decided before steps were tracked
/// by day).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rescheduled {
    pub settings_version: u64,
    pub ladders: Ladders,
    pub at: DateTime<Utc>,
    pub version: u64,
}

impl Rescheduled {
    pub fn key() -> Key {
        Key { pk: "SETTINGS".into(), sk: "RESCHEDULED".into() }
    }
}

/// The settings in force: what the functions decide and send by.
#[derive(Debug, Clone, PartialEq)]
pub struct Current {
    /// 0: the deployment's parameters.
    pub version: u64,
    pub settings: Settings,
    pub ladders: Ladders,
    pub policy: ChannelPolicy,
    pub updated_at: Option<DateTime<Utc>>,
    /// The owner's templates (`crate::notify::owner_templates`), read with the settings.
    pub templates: Vec<OwnerTemplate>,
}

impl Current {
    fn of(stored: StoredSettings) -> Current {
        Current {
            templates: Vec::new(),
            version: stored.version,
            ladders: stored.settings.ladders(),
            policy: stored.settings.policy(),
            settings: stored.settings,
            updated_at: stored.updated_at,
        }
    }
}

/// The current settings, read from the table (or fixed, for tests and tools that pin them).
#[derive(Clone)]
pub struct LiveSettings {
    source: Source,
}

/// The settings last read, and when.
type LastRead = (Instant, Arc<Current>);

#[derive(Clone)]
enum Source {
    Fixed(Arc<Current>),
    Stored { store: Store, initial: Arc<Current>, keep: Duration, cache: Arc<std::sync::Mutex<Option<LastRead>>> },
}

impl std::fmt::Debug for LiveSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.source {
            Source::Fixed(_) => f.write_str("LiveSettings(fixed)"),
            Source::Stored { keep, .. } => write!(f, "LiveSettings(stored, kept {keep:?})"),
        }
    }
}

impl LiveSettings {
    /// Always these ladders and this policy, whatever the table holds.
    pub fn fixed(ladders: Ladders, policy: ChannelPolicy) -> LiveSettings {
        let settings = Settings::from_parts(&ladders, &policy);
        LiveSettings {
            source: Source::Fixed(Arc::new(Current { version: 0, settings, ladders, policy, updated_at: None, templates: Vec::new() })),
        }
    }

    /// The stored settings, `initial` (the deployment's) until an owner saves some; each read
    /// kept for `keep` ([`CACHE_FOR`] in the functions, zero for the scan).
    pub fn stored(store: Store, initial: Settings, keep: Duration) -> LiveSettings {
        let initial = Arc::new(Current::of(StoredSettings { settings: initial, version: 0, updated_at: None, updated_by: None }));
        LiveSettings { source: Source::Stored { store, initial, keep, cache: Default::default() } }
    }

    /// The deployment's settings (version 0).
    pub fn initial(&self) -> Arc<Current> {
        match &self.source {
            Source::Fixed(current) | Source::Stored { initial: current, .. } => current.clone(),
        }
    }

    /// Forgets the last read: the next [`LiveSettings::current`] reads the table (after this
    /// function saved new settings itself).
    pub fn forget(&self) {
        if let Source::Stored { cache, .. } = &self.source
            && let Ok(mut guard) = cache.lock()
        {
            *guard = None;
        }
    }

    /// The settings in force now, and the owner's templates: one GetItem and one Query at most
    /// every `keep`.
    pub async fn current(&self) -> Result<Arc<Current>, StoreError> {
        let Source::Stored { store, initial, keep, cache } = &self.source else { return Ok(self.initial()) };
        if let Ok(guard) = cache.lock()
            && let Some((read_at, current)) = guard.as_ref()
            && read_at.elapsed() < *keep
        {
            return Ok(current.clone());
        }
        let templates = store.list_all::<OwnerTemplate>(OwnerTemplate::PARTITION).await?;
        let mut current = match read(store).await? {
            Some(stored) => Current::of(stored),
            None => (**initial).clone(),
        };
        current.templates = templates;
        let current = Arc::new(current);
        if let Ok(mut guard) = cache.lock() {
            *guard = Some((Instant::now(), current.clone()));
        }
        Ok(current)
    }
}

/// The saved settings, if an owner saved any.
pub async fn read(store: &Store) -> Result<Option<StoredSettings>, StoreError> {
    store.get::<StoredSettings>(&StoredSettings::key()).await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn document() -> serde_json::Value {
        serde_json::to_value(Settings::from_parts(&Ladders::default(), &ChannelPolicy::default())).unwrap()
    }

    fn refusal(value: serde_json::Value) -> SettingsError {
        Settings::parse(value.to_string().as_bytes()).unwrap_err()
    }

    #[test]
    fn the_deployments_settings_round_trip_through_the_document() {
        let settings = Settings::parse(document().to_string().as_bytes()).unwrap();
        assert_eq!(settings.ladders(), Ladders::default());
        assert_eq!(settings.policy(), ChannelPolicy::default());
        assert_eq!(document()["email_thresholds"], serde_json::json!({"EUR": 5000}));
    }

    #[test]
    fn a_refusal_names_the_field_a_person_would_fix() {
        let mut doc = document();
        doc["invoice"][2]["offset_days"] = 30.into();
        assert_eq!(refusal(doc).field, "invoice[3].offset_days");
        let mut doc = document();
        doc["invoice"][2]["offset_days"] = "seven".into();
        let e = refusal(doc);
        assert_eq!(e.field, "invoice[2].offset_days", "{e}");
        let mut doc = document();
        doc["email_thresholds"] = serde_json::json!({"EUR": -1});
        assert_eq!(refusal(doc).field, "email_thresholds.EUR");
        let mut doc = document();
        doc["email_thresholds"] = serde_json::json!({"EURO": 5000});
        assert_eq!(refusal(doc).field, "email_thresholds.EURO", "an unknown currency");
        let mut doc = document();
        doc["colour"] = "green".into();
        assert!(refusal(doc).message.contains("colour"));
        let mut doc = document();
        doc["date_rules"] = serde_json::json!([{"name": "lease-80", "date_field": "", "offset_days": 80}]);
        assert_eq!(refusal(doc).field, "date_rules[0].date_field");
    }
}
