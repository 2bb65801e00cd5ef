use aws_lambda_events::event::dynamodb::Event;
use lambda_runtime::{LambdaEvent, service_fn};
use relance::config::{Config, aws_sdk_config};
use relance::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let store = Store::connect(&aws_sdk_config().await, config.table);
    let store = &store;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, std::convert::Infallible>(dispatch::handle(store, event.payload).await)
    }))
    .await
}
