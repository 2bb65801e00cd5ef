//! Provider keys and webhook secrets, read once at cold start.
//!
//! In AWS they come from one Secrets Manager secret whose ARN is in `RELANCE_SECRETS_ARN`: a
//! JSON object whose keys are the variable names below. Locally (or when no ARN is set) they
//! come from the same-named environment variables. Lists (for rotation: the new secret and
//! the old one side by side) are comma-separated.

use std::collections::HashMap;

use aws_sdk_secretsmanager::error::DisplayErrorContext;

pub const STRIPE_WEBHOOK_SECRET: &str = "STRIPE_WEBHOOK_SECRET";
pub const BRAINTREE_PUBLIC_KEY: &str = "BRAINTREE_PUBLIC_KEY";
pub const BRAINTREE_PRIVATE_KEY: &str = "BRAINTREE_PRIVATE_KEY";
pub const SHOPIFY_WEBHOOK_SECRET: &str = "SHOPIFY_WEBHOOK_SECRET";
pub const RELANCE_WEBHOOK_SECRET: &str = "RELANCE_WEBHOOK_SECRET";
pub const HOLDED_API_KEY: &str = "HOLDED_API_KEY";

/// Every name, as the Secrets Manager JSON and the environment spell them.
pub const NAMES: [&str; 6] =
    [STRIPE_WEBHOOK_SECRET, BRAINTREE_PUBLIC_KEY, BRAINTREE_PRIVATE_KEY, SHOPIFY_WEBHOOK_SECRET, RELANCE_WEBHOOK_SECRET, HOLDED_API_KEY];

/// A Braintree API key pair: webhooks are signed with the private key and name the public one.
#[derive(Clone)]
pub struct BraintreeKeys {
    pub public_key: String,
    pub private_key: String,
}

#[derive(Clone, Default)]
pub struct Secrets {
    pub stripe_webhook: Vec<String>,
    pub braintree: Vec<BraintreeKeys>,
    pub shopify_webhook: Vec<String>,
    pub generic_webhook: Vec<String>,
    pub holded_api_key: Option<String>,
}

impl std::fmt::Debug for Secrets {
    /// Never prints a secret: only which ones are set.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Secrets")
            .field("stripe_webhook", &self.stripe_webhook.len())
            .field("braintree", &self.braintree.len())
            .field("shopify_webhook", &self.shopify_webhook.len())
            .field("generic_webhook", &self.generic_webhook.len())
            .field("holded_api_key", &self.holded_api_key.is_some())
            .finish()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum SecretsError {
    #[error("cannot read secret {arn}: {reason}")]
    Read { arn: String, reason: String },
    #[error("secret {0} is not a JSON object of strings")]
    NotJson(String),
}

fn list(value: Option<&String>) -> Vec<String> {
    value.map(|v| v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_string).collect()).unwrap_or_default()
}

impl Secrets {
    /// Builds the secrets from name → value pairs (the secret's JSON, or the environment).
    pub fn from_values(values: &HashMap<String, String>) -> Secrets {
        let public = list(values.get(BRAINTREE_PUBLIC_KEY));
        let private = list(values.get(BRAINTREE_PRIVATE_KEY));
        Secrets {
            stripe_webhook: list(values.get(STRIPE_WEBHOOK_SECRET)),
            braintree: public.into_iter().zip(private).map(|(public_key, private_key)| BraintreeKeys { public_key, private_key }).collect(),
            shopify_webhook: list(values.get(SHOPIFY_WEBHOOK_SECRET)),
            generic_webhook: list(values.get(RELANCE_WEBHOOK_SECRET)),
            holded_api_key: values.get(HOLDED_API_KEY).filter(|k| !k.trim().is_empty()).cloned(),
        }
    }

    /// From the environment variables of the same names.
    pub fn from_env() -> Secrets {
        let values = NAMES.iter().filter_map(|name| crate::config::var(name).map(|v| (name.to_string(), v))).collect();
        Secrets::from_values(&values)
    }

    /// From Secrets Manager when `RELANCE_SECRETS_ARN` is set, else from the environment.
    pub async fn load(sdk: &aws_config::SdkConfig) -> Result<Secrets, SecretsError> {
        let Some(arn) = crate::config::var("RELANCE_SECRETS_ARN") else {
            return Ok(Secrets::from_env());
        };
        Secrets::from_secrets_manager(&aws_sdk_secretsmanager::Client::new(sdk), &arn).await
    }

    pub async fn from_secrets_manager(client: &aws_sdk_secretsmanager::Client, arn: &str) -> Result<Secrets, SecretsError> {
        let output = client
            .get_secret_value()
            .secret_id(arn)
            .send()
            .await
            .map_err(|e| SecretsError::Read { arn: arn.to_string(), reason: DisplayErrorContext(e).to_string() })?;
        let text = output.secret_string().unwrap_or("{}");
        let values: HashMap<String, String> = serde_json::from_str(text).map_err(|_| SecretsError::NotJson(arn.to_string()))?;
        Ok(Secrets::from_values(&values))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists_allow_rotation_and_debug_hides_values() {
        let values: HashMap<String, String> = [
            (STRIPE_WEBHOOK_SECRET.to_string(), "whsec_new, whsec_old".to_string()),
            (BRAINTREE_PUBLIC_KEY.to_string(), "pub".to_string()),
            (BRAINTREE_PRIVATE_KEY.to_string(), "priv".to_string()),
        ]
        .into();
        let secrets = Secrets::from_values(&values);
        assert_eq!(secrets.stripe_webhook, vec!["whsec_new", "whsec_old"]);
        assert_eq!(secrets.braintree.len(), 1);
        assert!(secrets.shopify_webhook.is_empty());
        assert!(!format!("{secrets:?}").contains("whsec"));
    }
}
