//! The one HTTPS client for calls that are not AWS APIs (Holded's API, Cognito's hosted UI and
//! key set).
//!
//! It shares the AWS SDK's TLS stack (rustls with aws-lc-rs) instead of bringing its own: a
//! second crypto library would add about half a megabyte to every bootstrap that links it.
//! reqwest is built without a provider of its own, so every client must come from here:
//! `reqwest::Client::new()` elsewhere would panic for want of one.

/// A client builder with the TLS provider in place, for clients that need other settings.
pub fn client_builder() -> reqwest::ClientBuilder {
    // Installing fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    reqwest::Client::builder()
}

/// A client that verifies servers against the system's root certificates.
#[allow(clippy::expect_used, reason = "a cold start without TLS cannot serve anything: stop it")]
pub fn https_client() -> reqwest::Client {
    // Building fails only when the TLS back end cannot start: without it no call can be made,
    // so the cold start should stop here rather than at the first request.
    client_builder().build().expect("the HTTPS client starts with the aws-lc-rs provider")
}
