//! Logging: JSON lines in Lambda (CloudWatch parses them), readable lines on a laptop.
//! The filter comes from `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_lambda = crate::config::var("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // try_init: a second call (tests, the local server hosting several functions) is harmless.
    let _ = if in_lambda { builder.json().without_time().try_init() } else { builder.try_init() };
}
