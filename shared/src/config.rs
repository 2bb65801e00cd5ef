//! Settings every function reads from its environment once, at cold start.

use std::env;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("environment variable {0} is not set")]
    Missing(&'static str),
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
