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
    let ladders = relance::config::ladders()?;
    let context = ScanContext {
        ingest: Ingest::new(store.clone(), BusinessDefaults::from_env()?, ladders.clone()),
        holded: holded_client(&secrets)?,
        ladders,
        store,
    };
    let context = &context;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| async move {
        scan::handle(context, event.payload, chrono::Utc::now()).await.map_err(lambda_runtime::Error::from)
    }))
    .await
}
