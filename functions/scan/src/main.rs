use lambda_runtime::{LambdaEvent, service_fn};
use relance::config::{BusinessDefaults, Config, aws_sdk_config};
use relance::ingest::Ingest;
use relance::secrets::Secrets;
use relance::store::Store;
use scan::{ScanContext, holded_client};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let store = Store::connect(&sdk, config.table);
    let secrets = Secrets::load(&sdk).await?;
    let context = ScanContext {
        // The import applies many deliveries in a run: one read of the settings per minute.
        ingest: Ingest::live(
            store.clone(),
            BusinessDefaults::from_env()?,
            relance::config::live_settings(store.clone(), relance::settings::CACHE_FOR)?,
        ),
        holded: holded_client(&secrets)?,
        settings: relance::config::live_settings(store.clone(), std::time::Duration::ZERO)?,
        store,
    };
    let context = &context;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        // A failure is reported under its own name (`HoldedNotConfigured`, `StoreUnavailable`).
        scan::handle(context, event.payload, chrono::Utc::now()).await.map_err(lambda_runtime::Diagnostic::from)
    }))
    .await
}
