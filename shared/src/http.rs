//! The one HTTPS client for calls that are not AWS APIs (Holded's API, Cognito's hosted UI and
//! key set).
//!
//! It shares the AWS SDK's TLS stack (rustls with aws-lc-rs) instead of bringing its own: a
//! second crypto library would add about half a megabyte to every bootstrap that links it.

/// A client that verifies servers against the system's root certificates.
pub fn https_client() -> reqwest::Client {
    // Installing fails only when a provider is already installed, which is what we want.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    // Building fails only when the TLS back end cannot start: without it no call can be made,
    // so the cold start should stop here rather than at the first request.
    reqwest::Client::builder().build().expect("the HTTPS client starts with the aws-lc-rs provider")
}
