//! The local SES sender identity: SES (and moto) refuse to send from an unverified address.

use aws_sdk_sesv2::Client;
use aws_sdk_sesv2::error::{DisplayErrorContext, ProvideErrorMetadata};

/// Verifies `address` as a sending identity; an identity that exists already is fine.
pub async fn verify_sender(client: &Client, address: &str) -> Result<(), String> {
    match client.create_email_identity().email_identity(address).send().await {
        Ok(_) => Ok(()),
        Err(e) if e.code() == Some("AlreadyExistsException") => Ok(()),
        Err(e) => Err(DisplayErrorContext(e).to_string()),
    }
}
