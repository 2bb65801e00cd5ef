//! `relance-local run`: creates the table and sender identity in moto, seeds the demo
//! business and serves the functions on http://127.0.0.1:3000 until interrupted.
//! `relance-local setup` and `relance-local seed` do the first steps alone.
//! `relance-local sign PROVIDER FILE` prints the signature a provider would send for FILE
//! (for `curl`), and `relance-local replay PROVIDER YYYY-MM-DD` re-applies the deliveries
//! archived that day.

use std::net::SocketAddr;
use std::process::ExitCode;

use std::collections::HashMap;

use relance::domain::Provider;
use relance::ingest::Ingest;
use relance::ingest::replay::replay_day;
use relance::providers::{braintree, generic, shopify, stripe};
use relance::secrets::{self, Secrets};
use relance::store::Store;
use relance_local::{seed, server, ses, table, template_path};

struct Settings {
    table: String,
    sender: String,
    addr: SocketAddr,
}

impl Settings {
    fn from_env() -> Result<Settings, String> {
        let var = |name: &'static str, default: &str| relance::config::var(name).unwrap_or_else(|| default.to_string());
        let addr = var("RELANCE_HTTP_ADDR", "127.0.0.1:3000");
        Ok(Settings {
            table: var("RELANCE_TABLE", "relance"),
            sender: var("RELANCE_SENDER", "relance@example.org"),
            addr: addr.parse().map_err(|_| format!("RELANCE_HTTP_ADDR {addr:?} is not an address:port"))?,
        })
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    relance::telemetry::init();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = args.first().cloned().unwrap_or_else(|| "run".to_string());
    match run(&command, &args[args.len().min(1)..]).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("relance-local {command}: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: &str, args: &[String]) -> Result<(), String> {
    if command == "sign" {
        return sign(args);
    }
    if command == "token" {
        return token(args);
    }
    let settings = Settings::from_env()?;
    let sdk = relance::config::aws_sdk_config().await;
    let store = Store::connect(&sdk, &settings.table);
    match command {
        "setup" => setup(&sdk, &settings).await,
        "seed" => demo(&store).await,
        "run" => {
            setup(&sdk, &settings).await?;
            demo(&store).await?;
            serve(&sdk, store, &settings).await
        }
        "replay" => replay(store, args).await,
        other => Err(format!("unknown command {other:?} (expected run, setup, seed, sign, token or replay)")),
    }
}

async fn setup(sdk: &aws_config::SdkConfig, settings: &Settings) -> Result<(), String> {
    let definition = table::TableDefinition::from_template_file(&template_path()).map_err(|e| e.to_string())?;
    let dynamodb = aws_sdk_dynamodb::Client::new(sdk);
    let created = definition.ensure(&dynamodb, &settings.table).await.map_err(|e| e.to_string())?;
    println!("table {} {}", settings.table, if created { "created from template.yaml" } else { "already there" });
    ses::verify_sender(&aws_sdk_sesv2::Client::new(sdk), &settings.sender).await?;
    println!("sender identity {} verified", settings.sender);
    Ok(())
}

async fn demo(store: &Store) -> Result<(), String> {
    let ladders = ladders()?;
    let summary = seed::seed(store, &ladders, chrono::Utc::now()).await.map_err(|e| e.to_string())?;
    // The demo business's own settings (its welcome-workshop rule), saved as an owner saves
    // theirs from the back office: what the functions read is the stored version.
    if seed::save_settings(store, &ladders, chrono::Utc::now()).await.map_err(|e| e.to_string())? {
        println!("demo business settings saved (version 1: the welcome workshop date rule)");
    }
    if summary.already_seeded {
        println!("demo business already seeded");
    } else {
        println!(
            "demo business seeded: {} customers, {} subscriptions, {} invoices, {} cards, {} payments ({} records due now)",
            summary.customers, summary.subscriptions, summary.invoices, summary.payment_methods, summary.payments, summary.due_now
        );
    }
    Ok(())
}

/// `RELANCE_LADDERS` when set, else the demo business's ladders.
fn ladders() -> Result<relance::schedule::Ladders, String> {
    if relance::config::var("RELANCE_LADDERS").is_some() {
        return relance::config::ladders().map_err(|e| e.to_string());
    }
    Ok(seed::demo_ladders())
}

/// The secret local portal tokens are signed with (`RELANCE_LOCAL_JWT_SECRET`).
fn jwt_secret() -> String {
    relance::config::var("RELANCE_LOCAL_JWT_SECRET").unwrap_or_else(|| "relance-local-jwt-secret".into())
}

/// Prints a local portal token: `token ROLE[,ROLE…] USER` (`make token ROLE=member USER=demo-0002`).
fn token(args: &[String]) -> Result<(), String> {
    let roles: Vec<&str> = args.first().map(|r| r.split(',').collect()).unwrap_or_default();
    let user = args.get(1).ok_or("usage: relance-local token ROLE[,ROLE...] USER")?;
    let token = portal::auth::local_token(&jwt_secret(), user, None, &roles, 12).map_err(|e| e.to_string())?;
    println!("{token}");
    Ok(())
}

/// Local webhook secrets, used unless the environment sets others; printed at start so a
/// developer can sign test deliveries with them.
pub const LOCAL_SECRETS: [(&str, &str); 5] = [
    (secrets::STRIPE_WEBHOOK_SECRET, "whsec_relance_local"),
    (secrets::BRAINTREE_PUBLIC_KEY, "relance_local_public_key"),
    (secrets::BRAINTREE_PRIVATE_KEY, "relance_local_private_key"),
    (secrets::SHOPIFY_WEBHOOK_SECRET, "shpss_relance_local"),
    (secrets::RELANCE_WEBHOOK_SECRET, "relance_local_secret"),
];

/// The local secrets, each overridden by its environment variable when set (HOLDED_API_KEY
/// has no local default: the import runs only when one is given).
fn local_secret_values() -> HashMap<String, String> {
    secrets::NAMES
        .iter()
        .filter_map(|name| {
            let default = LOCAL_SECRETS.iter().find(|(n, _)| n == name).map(|(_, v)| v.to_string());
            relance::config::var(name).or(default).map(|value| (name.to_string(), value))
        })
        .collect()
}

fn provider(name: Option<&String>) -> Result<Provider, String> {
    match name.map(String::as_str) {
        Some("stripe") => Ok(Provider::Stripe),
        Some("braintree") => Ok(Provider::Braintree),
        Some("shopify") => Ok(Provider::Shopify),
        Some("generic") => Ok(Provider::Generic),
        other => Err(format!("expected a provider (stripe, braintree, shopify, generic), got {other:?}")),
    }
}

/// Prints what the provider would send with FILE: the signature header's value, or for
/// Braintree the whole form body (the file then holds the bt_payload).
fn sign(args: &[String]) -> Result<(), String> {
    let provider = provider(args.first())?;
    let file = args.get(1).ok_or("usage: relance-local sign PROVIDER FILE")?;
    let body = std::fs::read(file).map_err(|e| format!("cannot read {file}: {e}"))?;
    let secrets = Secrets::from_values(&local_secret_values());
    let first = |list: &[String]| list.first().cloned().ok_or_else(|| "no secret configured".to_string());
    let now = chrono::Utc::now().timestamp();
    let out = match provider {
        Provider::Stripe => stripe::sign(&body, &first(&secrets.stripe_webhook)?, now),
        Provider::Generic => generic::sign(&body, &first(&secrets.generic_webhook)?, now),
        Provider::Shopify => shopify::sign(&body, &first(&secrets.shopify_webhook)?),
        Provider::Braintree => {
            let keys = secrets.braintree.first().ok_or("no Braintree keys configured")?;
            let payload = String::from_utf8(body).map_err(|_| "the payload file is not text")?;
            form_urlencoded::Serializer::new(String::new())
                .append_pair("bt_signature", &braintree::sign(&payload, keys))
                .append_pair("bt_payload", &payload)
                .finish()
        }
        _ => unreachable!("provider() returns webhook providers only"),
    };
    println!("{out}");
    Ok(())
}

async fn replay(store: Store, args: &[String]) -> Result<(), String> {
    let provider = provider(args.first())?;
    let date: chrono::NaiveDate = args
        .get(1)
        .ok_or("usage: relance-local replay PROVIDER YYYY-MM-DD")?
        .parse()
        .map_err(|_| "the date must be YYYY-MM-DD".to_string())?;
    let defaults = relance::config::BusinessDefaults::from_env().map_err(|e| e.to_string())?;
    // The same settings as `make run`'s server: a replay schedules as the live path would.
    let settings = relance::config::live_settings(store.clone(), relance::settings::CACHE_FOR).map_err(|e| e.to_string())?;
    let ingest = Ingest::live(store, defaults, settings);
    let summary = replay_day(&ingest, provider, date, chrono::Utc::now()).await.map_err(|e| e.to_string())?;
    println!("{}", serde_json::to_string_pretty(&summary).map_err(|e| e.to_string())?);
    Ok(())
}

async fn serve(sdk: &aws_config::SdkConfig, store: Store, settings: &Settings) -> Result<(), String> {
    let mut dispatch = dispatch::DispatchContext::from_env(sdk, store.clone(), Some(&settings.sender)).map_err(|e| e.to_string())?;
    if dispatch.team_email.is_none() {
        // The demo business's team, so that internal notes are seen in data.json too.
        dispatch.team_email = relance::domain::Email::parse("equipe@potagers-belleville.example.org").ok();
    }
    if relance::config::var("RELANCE_BUSINESS_NAME").is_none() {
        // The demo business's name, where a deployment would name its own.
        dispatch.branding.business = "Les Potagers de Belleville".into();
    }
    let dispatch = std::sync::Arc::new(dispatch);
    // Lambda's stream event source mapping, locally: new pending notifications go to dispatch.
    let (feed_sdk, feed_table, feed_dispatch) = (sdk.clone(), settings.table.clone(), dispatch.clone());
    let moto_data = format!("{}/moto-api/data.json", relance::config::var("AWS_ENDPOINT_URL").unwrap_or_default());
    tokio::spawn(async move {
        let report = |t: &relance_local::stream::Totals| {
            println!(
                "dispatch so far: {} emails, {} SMS, {} held, {} failed (sent ones are in {moto_data})",
                t.emails, t.sms, t.held, t.failed
            );
        };
        if let Err(e) = relance_local::stream::feed(&feed_sdk, &feed_table, feed_dispatch, report).await {
            eprintln!("the stream feed to dispatch stopped: {e}");
        }
    });
    let values = local_secret_values();
    let secrets = Secrets::from_values(&values);
    let defaults = relance::config::BusinessDefaults::from_env().map_err(|e| e.to_string())?;
    let endpoint = relance::config::var("AWS_ENDPOINT_URL").unwrap_or_else(|| "(AWS_ENDPOINT_URL not set)".into());
    let listener = tokio::net::TcpListener::bind(settings.addr).await.map_err(|e| format!("cannot listen on {}: {e}", settings.addr))?;
    println!(
        "\nRelance is running.\n\
         \x20 health:          http://{addr}/health\n\
         \x20 webhooks:        http://{addr}/webhooks/{{stripe,braintree,shopify,generic}}\n\
         \x20 invoke scan:     curl -X POST http://{addr}/2015-03-31/functions/scan/invocations -d '{{}}'\n\
         \x20 table:           {table} (moto at {endpoint})\n\
         \x20 sent email/SMS:  {endpoint}/moto-api/data.json\n\
         Webhook secrets (override with the same environment variables):\n{secrets_list}\n\
         \x20 portal tokens:   RELANCE_LOCAL_JWT_SECRET={jwt}; make token ROLE=member USER=demo-0002\n\
         \x20 demo users:      {users}\n\
         \x20 API document:    http://{addr}/openapi.json\n\
         Press Ctrl-C to stop.",
        addr = settings.addr,
        table = settings.table,
        jwt = jwt_secret(),
        users = relance_local::demo_space::DEMO_USERS.iter().map(|(user, role)| format!("{user} ({role})")).collect::<Vec<_>>().join(", "),
        secrets_list = LOCAL_SECRETS.iter().map(|(name, _)| format!("  {name}={}", values[*name])).collect::<Vec<_>>().join("\n"),
    );
    axum::serve(
        listener,
        server::router(
            store.clone(),
            secrets,
            defaults,
            relance::config::live_settings(store.clone(), relance::settings::CACHE_FOR).map_err(|e| e.to_string())?,
            dispatch,
            server::local_portal(store, &jwt_secret())?,
        )?,
    )
    .with_graceful_shutdown(async {
        let _ = tokio::signal::ctrl_c().await;
    })
    .await
    .map_err(|e| e.to_string())
}
