//! Logging: JSON lines in Lambda (CloudWatch parses them), readable lines on a laptop.
//! The filter comes from `RUST_LOG`, else the function's LoggingConfig level (Lambda sets
//! `AWS_LAMBDA_LOG_LEVEL`), else `info`.

use tracing_subscriber::EnvFilter;

/// The filter directive for Lambda's log level names (`TRACE` … `FATAL`).
fn lambda_level(level: &str) -> &'static str {
    match level.to_ascii_uppercase().as_str() {
        "TRACE" => "trace",
        "DEBUG" => "debug",
        "WARN" => "warn",
        "ERROR" | "FATAL" => "error",
        _ => "info",
    }
}

pub fn init() {
    let level = crate::config::var("AWS_LAMBDA_LOG_LEVEL").map_or("info", |l| lambda_level(&l));
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let in_lambda = crate::config::var("AWS_LAMBDA_FUNCTION_NAME").is_some();
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(false);
    // try_init: a second call (tests, the local server hosting several functions) is harmless.
    let _ = if in_lambda { builder.json().without_time().try_init() } else { builder.try_init() };
}

#[cfg(test)]
mod tests {
    #[test]
    fn lambdas_log_levels_become_filters() {
        assert_eq!(super::lambda_level("WARN"), "warn");
        assert_eq!(super::lambda_level("FATAL"), "error");
        assert_eq!(super::lambda_level("debug"), "debug");
        assert_eq!(super::lambda_level("INFO"), "info");
    }
}

/// CloudWatch metrics without an agent: a log line in the embedded metric format, which
/// CloudWatch Logs turns into metrics of the `Relance` namespace (the alarms and the dashboard
/// in `template.yaml` read them). One line per unit of work, with its counts.
pub mod metrics {
    use serde_json::{Map, Value, json};

    pub const NAMESPACE: &str = "Relance";

    /// The EMF line for `counts` (metric name, value) under one set of `dimensions`.
    pub fn line(dimensions: &[(&str, &str)], counts: &[(&str, u64)], timestamp_ms: i64) -> String {
        let mut object = Map::new();
        let names: Vec<&str> = dimensions.iter().map(|(name, _)| *name).collect();
        let metrics: Vec<Value> = counts.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect();
        object.insert(
            "_aws".into(),
            json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [{"Namespace": NAMESPACE, "Dimensions": [names], "Metrics": metrics}]}),
        );
        for (name, value) in dimensions {
            object.insert((*name).into(), json!(value));
        }
        for (name, value) in counts {
            object.insert((*name).into(), json!(value));
        }
        Value::Object(object).to_string()
    }

    /// Writes the line to standard output, where Lambda sends it to CloudWatch Logs (and, on
    /// a laptop, where the local stack's output shows it). Nothing for no counts.
    pub fn emit(dimensions: &[(&str, &str)], counts: &[(&str, u64)]) {
        if counts.iter().all(|(_, value)| *value == 0) {
            return;
        }
        println!("{}", line(dimensions, counts, chrono::Utc::now().timestamp_millis()));
    }

    #[cfg(test)]
    mod tests {
        #[test]
        fn a_line_declares_its_metrics_and_carries_their_values() {
            let line = super::line(&[("Channel", "email")], &[("NotificationsSent", 3), ("NotificationsHeld", 1)], 1_764_000_000_000);
            let value: serde_json::Value = serde_json::from_str(&line).unwrap();
            let declared = &value["_aws"]["CloudWatchMetrics"][0];
            assert_eq!(declared["Namespace"], "Relance");
            assert_eq!(declared["Dimensions"], serde_json::json!([["Channel"]]));
            assert_eq!(declared["Metrics"][1], serde_json::json!({"Name": "NotificationsHeld", "Unit": "Count"}));
            assert_eq!((value["Channel"].as_str(), value["NotificationsSent"].as_u64()), (Some("email"), Some(3)));
            assert_eq!(value["_aws"]["Timestamp"], 1_764_000_000_000_i64);
        }
    }
}
