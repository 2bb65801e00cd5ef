//! Settings every function reads from its environment once, at cold start.

use std::env;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
    #[error("environment variable {name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

/// The settings shared by all functions.
#[derive(Debug, Clone)]
pub struct Config {
    /// The DynamoDB table (`RELANCE_TABLE`; `template.yaml` sets it to the stack's table).
    pub table: String,
}

impl Config {
    pub fn from_env() -> Result<Config, ConfigError> {
        let table = env::var("RELANCE_TABLE").map_err(|_| ConfigError::Missing("RELANCE_TABLE"))?;
        Ok(Config { table })
    }
}

/// The AWS SDK configuration from the usual sources (region, credentials, and
/// `AWS_ENDPOINT_URL`, which points every client at moto when run locally).
pub async fn aws_sdk_config() -> aws_config::SdkConfig {
    aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await
}

/// The business's defaults (`RELANCE_CURRENCY`, `RELANCE_DEFAULT_LOCALE`, `RELANCE_TIME_ZONE`),
/// validated at start-up so a typo stops the function instead of mis-dating reminders.
pub fn business_defaults_from_env() -> Result<crate::ingest::BusinessDefaults, ConfigError> {
    let mut defaults = crate::ingest::BusinessDefaults::default();
    let var = |name: &'static str| env::var(name).ok().filter(|v| !v.trim().is_empty());
    if let Some(code) = var("RELANCE_CURRENCY") {
        defaults.currency = code.parse().map_err(|e: crate::domain::MoneyError| ConfigError::Invalid { name: "RELANCE_CURRENCY", reason: e.to_string() })?;
    }
    if let Some(tag) = var("RELANCE_DEFAULT_LOCALE") {
        defaults.locale = crate::domain::Locale::parse(&tag)
            .map_err(|e| ConfigError::Invalid { name: "RELANCE_DEFAULT_LOCALE", reason: e.to_string() })?;
    }
    if let Some(zone) = var("RELANCE_TIME_ZONE") {
        defaults.time_zone = crate::domain::time::parse_time_zone(&zone)
            .map_err(|e| ConfigError::Invalid { name: "RELANCE_TIME_ZONE", reason: e.to_string() })?;
    }
    Ok(defaults)
}
