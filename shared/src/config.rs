//! Every setting a function reads from its environment, parsed here, once, at cold start.
//!
//! One way for all of them: a variable that is unset or blank is "not set" (CloudFormation
//! passes an empty string for an optional parameter left out), and a value that is set but
//! invalid stops the start with a [`ConfigError`] naming the variable, so a typo in a
//! deployment is a failed start, never a silent default. What a value *means* is checked by
//! the type it becomes (`Locale::parse`, `Ladders::validate`, `BonusRates::parse`…); reading
//! it is done only here.

use std::env;
use std::fmt::Display;

use chrono_tz::Tz;

use crate::domain::{Currency, Email, Locale};
use crate::notify::ChannelPolicy;
use crate::reports::BonusRates;
use crate::schedule::Ladders;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// `name`'s value, trimmed; `None` when unset or blank.
pub fn var(name: &'static str) -> Option<String> {
    env::var(name).ok().map(|v| v.trim().to_string()).filter(|v| !v.is_empty())
}

/// `name`'s value, which must be set.
pub fn required(name: &'static str) -> Result<String, ConfigError> {
    var(name).ok_or(ConfigError::Missing(name))
}

/// `name` read by `parse` when set; an error from `parse` names the variable.
pub fn parsed<T, E: Display>(name: &'static str, parse: impl FnOnce(&str) -> Result<T, E>) -> Result<Option<T>, ConfigError> {
    var(name).map(|value| parse(&value).map_err(|e| ConfigError::Invalid { name, reason: e.to_string() })).transpose()
}

/// An address people open or we call (a portal, a payment page, an API): `https://…`, or
/// plain `http://` to this machine only (the local stack and its stand-ins). Read as a URL,
/// so `http://localhost.example.org` or `http://127.0.0.1@example.org` are not "this machine".
pub fn web_address(name: &'static str) -> Result<Option<String>, ConfigError> {
    parsed(name, |value| {
        let url = reqwest::Url::parse(value).map_err(|e| format!("{value:?} is not an address: {e}"))?;
        let host = url.host_str().unwrap_or_default();
        let loopback = host.trim_start_matches('[').trim_end_matches(']').parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
        let this_machine = host == "localhost" || loopback;
        let allowed = url.scheme() == "https" || (url.scheme() == "http" && this_machine);
        if !allowed || !url.username().is_empty() || url.password().is_some() {
            return Err(format!("{value:?} is not an https:// address (plain http is for this machine only)"));
        }
        Ok(value.trim_end_matches('/').to_string())
    })
}

/// Holded's invoicing API, in production.
pub const HOLDED_API_URL: &str = "https://api.holded.com/api/invoicing/v1";

/// Holded's API address (`HOLDED_API_URL` points the import at a stand-in).
pub fn holded_api_url() -> Result<String, ConfigError> {
    Ok(web_address("HOLDED_API_URL")?.unwrap_or_else(|| HOLDED_API_URL.to_string()))
}

/// Braintree's API, when a merchant id is configured (`BRAINTREE_MERCHANT_ID`): the production
/// gateway, its sandbox (`BRAINTREE_ENVIRONMENT=sandbox`), or a stand-in (`BRAINTREE_API_URL`).
pub fn braintree_api_url() -> Result<Option<(String, String)>, ConfigError> {
    let Some(merchant) = var("BRAINTREE_MERCHANT_ID") else { return Ok(None) };
    let url = match (web_address("BRAINTREE_API_URL")?, var("BRAINTREE_ENVIRONMENT").as_deref()) {
        (Some(url), _) => url,
        (None, None | Some("production")) => crate::ingest::braintree_api::PRODUCTION_URL.to_string(),
        (None, Some("sandbox")) => crate::ingest::braintree_api::SANDBOX_URL.to_string(),
        (None, Some(other)) => {
            return Err(ConfigError::Invalid { name: "BRAINTREE_ENVIRONMENT", reason: format!("{other:?}: production or sandbox") });
        }
    };
    Ok(Some((url, merchant)))
}

/// The settings shared by all functions.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`RELANCE_TABLE`; `template.yaml` sets it to the stack's table).
    pub table: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        Ok(Config { table: required("RELANCE_TABLE")? })
    }
}

/// The AWS SDK configuration from the usual sources (region, credentials, and
/// `AWS_ENDPOINT_URL`, which points every client at moto when run locally).
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The business's defaults for customers a provider tells us about first. When reminders
/// fall due is not here: that is the ladders' ([`Ladders`]) alone.
#[derive(Debug, Clone)]
pub struct BusinessDefaults {
    /// The currency of amounts that come without one (Braintree transactions).
    pub currency: Currency,
    /// The language of new customers, and of messages with no template in a customer's own.
    pub locale: Locale,
    pub time_zone: Tz,
    /// The business's country (`FR`): where a phone number written the national way
    /// (`06 12 34 56 78`) is read, when neither the customer's row nor locale says.
    pub country: String,
}

impl Default for BusinessDefaults {
    fn default() -> Self {
        BusinessDefaults { currency: Currency::EUR, locale: Locale::french(), time_zone: chrono_tz::Europe::Paris, country: "FR".into() }
    }
}

impl BusinessDefaults {
    /// Where a customer's national phone number is read: the region of the business's locale
    /// (`fr-BE`), else its country.
    pub fn phone_country(&self) -> &str {
        self.locale.region().unwrap_or(&self.country)
    }

    /// `RELANCE_CURRENCY`, `RELANCE_DEFAULT_LOCALE`, `RELANCE_TIME_ZONE`, `RELANCE_COUNTRY`, each optional.
    pub fn from_env() -> Result<BusinessDefaults, ConfigError> {
        let mut defaults = BusinessDefaults::default();
        if let Some(currency) = parsed("RELANCE_CURRENCY", |code| code.parse::<Currency>())? {
            defaults.currency = currency;
        }
        if let Some(locale) = parsed("RELANCE_DEFAULT_LOCALE", Locale::parse)? {
            defaults.locale = locale;
        }
        if let Some(zone) = parsed("RELANCE_TIME_ZONE", crate::domain::time::parse_time_zone)? {
            defaults.time_zone = zone;
        }
        if let Some(country) = parsed("RELANCE_COUNTRY", |code| {
            let code = code.trim().to_ascii_uppercase();
            if code.len() == 2 && code.bytes().all(|b| b.is_ascii_alphabetic()) { Ok(code) } else { Err("a two-letter country code (FR)") }
        })? {
            defaults.country = country;
        }
        Ok(defaults)
    }
}

/// The ladders: the defaults, or `RELANCE_LADDERS` (JSON of the same shape), then the quiet
/// hours of `RELANCE_SENDING_HOURS` (`08:00-20:00`) and `RELANCE_SENDING_DAYS`
/// (`Mon,Tue,…`) when set (the template's `QuietHours` parameters), validated.
pub fn ladders() -> Result<Ladders, ConfigError> {
    let mut ladders = parsed("RELANCE_LADDERS", |json| serde_json::from_str::<Ladders>(json))?.unwrap_or_default();
    if let Some(hours) = var("RELANCE_SENDING_HOURS") {
        ladders.window.set_hours(&hours).map_err(|e| ConfigError::Invalid { name: "RELANCE_SENDING_HOURS", reason: e.to_string() })?;
    }
    if let Some(days) = var("RELANCE_SENDING_DAYS") {
        ladders.window.set_days(&days).map_err(|e| ConfigError::Invalid { name: "RELANCE_SENDING_DAYS", reason: e.to_string() })?;
    }
    ladders.validate().map_err(|e| ConfigError::Invalid { name: "RELANCE_LADDERS", reason: e.to_string() })?;
    Ok(ladders)
}

/// The deployment's settings: the ladders ([`ladders`]) and `RELANCE_EMAIL_THRESHOLDS`. They
/// are the first settings only: once the owner saves theirs from the back office, the stored
/// ones win (`crate::settings`).
pub fn initial_settings() -> Result<crate::settings::Settings, ConfigError> {
    let policy = parsed("RELANCE_EMAIL_THRESHOLDS", ChannelPolicy::parse_thresholds)?.unwrap_or_default();
    Ok(crate::settings::Settings::from_parts(&ladders()?, &policy))
}

/// The settings in force, read from the table (the deployment's until the owner saves some),
/// each read kept for `keep`.
pub fn live_settings(store: crate::store::Store, keep: std::time::Duration) -> Result<crate::settings::LiveSettings, ConfigError> {
    Ok(crate::settings::LiveSettings::stored(store, initial_settings()?, keep))
}

/// What dispatch needs to send, besides the AWS clients.
#[derive(Debug, Clone)]
pub struct DispatchSettings {
    /// The verified SES identity messages come from (`RELANCE_SENDER`).
    pub sender: String,
    /// Where internal notifications go (`RELANCE_TEAM_EMAIL`).
    pub team_email: Option<Email>,
    /// SES's sending rate (`RELANCE_SES_MAX_PER_SECOND`, 14 by default: SES's production
    /// default in most regions).
    pub max_emails_per_second: u32,
    pub configuration_set: Option<String>,
    pub sms_sender_id: Option<String>,
    /// The name in messages (`RELANCE_BUSINESS_NAME`).
    pub business_name: String,
    /// The member space's address, for links in messages (`RELANCE_PORTAL_URL`).
    pub portal_url: String,
    /// The language of messages with no template in the customer's.
    pub default_locale: Locale,
}

impl DispatchSettings {
    /// `fallback_sender` stands in for an unset `RELANCE_SENDER` (the local stack's identity).
    pub fn from_env(fallback_sender: Option<&str>) -> Result<DispatchSettings, ConfigError> {
        let sender = var("RELANCE_SENDER").or_else(|| fallback_sender.map(str::to_string)).ok_or(ConfigError::Missing("RELANCE_SENDER"))?;
        let max_emails_per_second = parsed("RELANCE_SES_MAX_PER_SECOND", |n| match n.parse::<u32>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{n:?} is not a whole number of emails per second above 0")),
        })?;
        Ok(DispatchSettings {
            sender,
            team_email: parsed("RELANCE_TEAM_EMAIL", Email::parse)?,
            max_emails_per_second: max_emails_per_second.unwrap_or(14),
            configuration_set: var("RELANCE_SES_CONFIGURATION_SET"),
            sms_sender_id: var("RELANCE_SMS_SENDER_ID"),
            business_name: var("RELANCE_BUSINESS_NAME").unwrap_or_else(|| "Relance".into()),
            portal_url: web_address("RELANCE_PORTAL_URL")?.unwrap_or_else(|| "http://127.0.0.1:3000".into()),
            default_locale: BusinessDefaults::from_env()?.locale,
        })
    }
}

/// The portal's own settings.
#[derive(Debug, Clone, Default)]
pub struct PortalSettings {
    /// The business's self-service billing page (`RELANCE_BILLING_PORTAL_URL`).
    pub billing_portal_url: Option<String>,
    /// The sales bonus table (`RELANCE_BONUS_RATES`, JSON).
    pub bonus_rates: BonusRates,
    /// The Cognito user pool invited users are created in (`RELANCE_USER_POOL_ID`); none:
    /// local sign-in.
    pub user_pool_id: Option<String>,
    /// Cognito's hosted sign-in pages, when configured.
    pub hosted_ui: Option<HostedUiSettings>,
}

/// Cognito's hosted UI: `RELANCE_COGNITO_DOMAIN`, `RELANCE_COGNITO_CLIENT_ID`,
/// `RELANCE_PORTAL_URL`, `RELANCE_USER_POOL_ID` and `AWS_REGION`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostedUiSettings {
    pub domain: String,
    pub client_id: String,
    pub portal_url: String,
    pub user_pool_id: String,
    pub region: String,
}

impl PortalSettings {
    pub fn from_env() -> Result<PortalSettings, ConfigError> {
        let user_pool_id = var("RELANCE_USER_POOL_ID");
        // The hosted UI needs all of its settings: some but not all is a broken deployment.
        let hosted_ui = match (var("RELANCE_COGNITO_DOMAIN"), var("RELANCE_COGNITO_CLIENT_ID")) {
            (None, None) => None,
            (domain, client_id) => Some(HostedUiSettings {
                domain: domain.ok_or(ConfigError::Missing("RELANCE_COGNITO_DOMAIN"))?.trim_end_matches('/').to_string(),
                client_id: client_id.ok_or(ConfigError::Missing("RELANCE_COGNITO_CLIENT_ID"))?,
                portal_url: web_address("RELANCE_PORTAL_URL")?.ok_or(ConfigError::Missing("RELANCE_PORTAL_URL"))?,
                user_pool_id: user_pool_id.clone().ok_or(ConfigError::Missing("RELANCE_USER_POOL_ID"))?,
                region: required("AWS_REGION")?,
            }),
        };
        Ok(PortalSettings {
            billing_portal_url: web_address("RELANCE_BILLING_PORTAL_URL")?,
            bonus_rates: parsed("RELANCE_BONUS_RATES", BonusRates::parse)?.unwrap_or_default(),
            user_pool_id,
            hosted_ui,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The environment is one per process: these tests use variables no other test reads.
    #[allow(unsafe_code, reason = "setting variables is unsafe in edition 2024; LOCK serialises these tests")]
    fn with_env<T>(vars: &[(&'static str, &str)], f: impl FnOnce() -> T) -> T {
        static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
        let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
        for (name, value) in vars {
            // SAFETY: serialised by LOCK; no other test of this crate reads these variables.
            unsafe { env::set_var(name, value) };
        }
        let result = f();
        for (name, _) in vars {
            unsafe { env::remove_var(name) };
        }
        result
    }

    fn invalid_names(result: Result<impl std::fmt::Debug, ConfigError>) -> &'static str {
        match result {
            Err(ConfigError::Invalid { name, .. }) | Err(ConfigError::Missing(name)) => name,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn an_invalid_default_locale_stops_every_function_that_reads_it() {
        with_env(&[("RELANCE_DEFAULT_LOCALE", "français"), ("RELANCE_SENDER", "a@example.org")], || {
            assert_eq!(invalid_names(BusinessDefaults::from_env()), "RELANCE_DEFAULT_LOCALE");
            // Dispatch used to fall back to `fr` silently.
            assert_eq!(invalid_names(DispatchSettings::from_env(None)), "RELANCE_DEFAULT_LOCALE");
        });
    }

    #[test]
    fn the_business_country_reads_national_phone_numbers_when_the_locale_has_no_region() {
        with_env(&[("RELANCE_COUNTRY", " be "), ("RELANCE_DEFAULT_LOCALE", "fr")], || {
            let defaults = BusinessDefaults::from_env().unwrap();
            assert_eq!((defaults.country.as_str(), defaults.phone_country()), ("BE", "BE"));
        });
        with_env(&[("RELANCE_COUNTRY", "BE"), ("RELANCE_DEFAULT_LOCALE", "fr-CH")], || {
            assert_eq!(BusinessDefaults::from_env().unwrap().phone_country(), "CH", "the locale's region first");
        });
        with_env(&[("RELANCE_COUNTRY", "Belgique")], || {
            assert_eq!(invalid_names(BusinessDefaults::from_env()), "RELANCE_COUNTRY");
        });
    }

    #[test]
    fn a_billing_portal_that_is_not_https_stops_the_start() {
        // It used to be dropped silently, and "renew" then had nowhere to go.
        with_env(&[("RELANCE_BILLING_PORTAL_URL", "http://billing.example.org")], || {
            assert_eq!(invalid_names(PortalSettings::from_env()), "RELANCE_BILLING_PORTAL_URL");
        });
        with_env(&[("RELANCE_BILLING_PORTAL_URL", "https://billing.example.org/")], || {
            assert_eq!(PortalSettings::from_env().unwrap().billing_portal_url.as_deref(), Some("https://billing.example.org"));
        });
    }

    #[test]
    fn half_a_hosted_ui_configuration_names_what_is_missing() {
        with_env(&[("RELANCE_COGNITO_DOMAIN", "https://relance.auth.eu-west-3.amazoncognito.com")], || {
            assert_eq!(invalid_names(PortalSettings::from_env()), "RELANCE_COGNITO_CLIENT_ID");
        });
    }

    #[test]
    fn every_dispatch_setting_names_itself_when_invalid() {
        for (name, value) in [
            ("RELANCE_TEAM_EMAIL", "not an address"),
            ("RELANCE_SES_MAX_PER_SECOND", "0"),
            ("RELANCE_PORTAL_URL", "ftp://portal"),
            ("RELANCE_PORTAL_URL", "http://localhost.example.org"),
            ("RELANCE_PORTAL_URL", "http://127.0.0.1@example.org"),
        ] {
            with_env(&[(name, value), ("RELANCE_SENDER", "a@example.org")], || {
                assert_eq!(invalid_names(DispatchSettings::from_env(None)), name);
            });
        }
        with_env(&[("RELANCE_SENDING_HOURS", "9h-18h")], || assert_eq!(invalid_names(ladders()), "RELANCE_SENDING_HOURS"));
        with_env(&[("RELANCE_LADDERS", "{")], || assert_eq!(invalid_names(ladders()), "RELANCE_LADDERS"));
        with_env(&[("RELANCE_EMAIL_THRESHOLDS", "EUR=50")], || assert_eq!(invalid_names(initial_settings()), "RELANCE_EMAIL_THRESHOLDS"));
        with_env(&[("RELANCE_BONUS_RATES", "[]")], || assert_eq!(invalid_names(PortalSettings::from_env()), "RELANCE_BONUS_RATES"));
    }

    #[test]
    fn plain_http_is_for_this_machine_only() {
        for local in ["http://127.0.0.1:3000", "http://localhost:3000/", "http://[::1]:3000", "HTTPS://Portal.Example.org"] {
            with_env(&[("RELANCE_PORTAL_URL", local), ("RELANCE_SENDER", "a@example.org")], || {
                assert!(DispatchSettings::from_env(None).is_ok(), "{local}");
            });
        }
    }

    #[test]
    fn blank_is_unset() {
        with_env(&[("RELANCE_SENDER", "a@example.org"), ("RELANCE_TEAM_EMAIL", "  ")], || {
            let settings = DispatchSettings::from_env(None).unwrap();
            assert_eq!(settings.team_email, None);
            assert_eq!(settings.max_emails_per_second, 14);
        });
    }
}
