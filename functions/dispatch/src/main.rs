use aws_lambda_events::event::dynamodb::Event;
use aws_lambda_events::event::sns::SnsEvent;
use dispatch::DispatchContext;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use relance::config::{Config, aws_sdk_config};
use relance::store::Store;
use serde_json::Value;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let context = DispatchContext::from_env(&sdk, Store::connect(&sdk, config.table), None)?;
    let context = &context;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| async move {
        // Failures are reported under their own names (`BadEvent`, `StoreUnavailable`).
        let bad_event = |e: serde_json::Error| Diagnostic { error_type: "BadEvent".into(), error_message: e.to_string() };
        if dispatch::is_feedback(&event.payload) {
            let feedback: SnsEvent = serde_json::from_value(event.payload).map_err(bad_event)?;
            let marked = dispatch::handle_feedback(&context.store, feedback)
                .await
                .map_err(|e| Diagnostic { error_type: e.error_type().into(), error_message: e.to_string() })?;
            return Ok::<Value, Diagnostic>(serde_json::json!({ "marked_undeliverable": marked }));
        }
        let batch: Event = serde_json::from_value(event.payload).map_err(bad_event)?;
        serde_json::to_value(dispatch::handle(context, batch).await).map_err(bad_event)
    }))
    .await
}
