use aws_lambda_events::event::dynamodb::Event;
use dispatch::DispatchContext;
use lambda_runtime::{LambdaEvent, service_fn};
use relance::config::{Config, aws_sdk_config};
use relance::store::Store;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    relance::telemetry::init();
    let config = Config::from_env()?;
    let sdk = aws_sdk_config().await;
    let context = DispatchContext::from_env(&sdk, Store::connect(&sdk, config.table), None)?;
    let context = &context;
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Event>| async move {
        Ok::<_, std::convert::Infallible>(dispatch::handle(context, event.payload).await)
    }))
    .await
}
