//! The portal as API Gateway hands it requests: any documented route, any id in its path, any
//! query string (page cursors included), any body, as a member, another member, a farmer, an
//! admin, nobody, or with a token taken from the input. Never a panic, and nobody gets anything
//! but 401 from the JSON API.
//!
//! The store points at a closed port with retries off, so a request that gets past its checks
//! fails fast as 503 instead of waiting on the network.
#![no_main]
use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use libfuzzer_sys::fuzz_target;
use tower::ServiceExt;

const SECRET: &str = "fuzz-secret";

struct World {
    runtime: tokio::runtime::Runtime,
    router: axum::Router,
    tokens: Vec<String>,
    /// Every documented operation, from the OpenAPI document.
    routes: Vec<portal::openapi::Route>,
}

fn world() -> &'static World {
    static WORLD: OnceLock<World> = OnceLock::new();
    WORLD.get_or_init(|| {
        // ok: the harness's own set-up; a failure here is not an input's.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let router = runtime.block_on(async {
            let sdk = aws_config::SdkConfig::builder()
                .behavior_version(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new("eu-west-3"))
                .endpoint_url("http://127.0.0.1:9")
                .credentials_provider(aws_sdk_dynamodb::config::SharedCredentialsProvider::new(aws_sdk_dynamodb::config::Credentials::for_tests()))
                .retry_config(aws_config::retry::RetryConfig::disabled())
                .build();
            let store = relance::store::Store::new(aws_sdk_dynamodb::Client::new(&sdk), "fuzz");
            portal::router(portal::PortalState::new(store, portal::IdentitySource::LocalJwt { secret: SECRET.into() }))
        });
        let token = |user: &str, roles: &[&str]| portal::auth::local_token(SECRET, user, Some("fuzz@example.org"), roles, 1).unwrap();
        let tokens = vec![token("member-a", &["member"]), token("member-b", &["member"]), token("farmer-a", &["farmer"]), token("admin-a", &["admin"])];
        World { runtime, router, tokens, routes: portal::openapi::routes() }
    })
}

fuzz_target!(|data: &[u8]| {
    let world = world();
    let [route, who, rest @ ..] = data else { return };
    let routes = &world.routes;
    let route = &routes[usize::from(*route) % routes.len()];
    let mut parts = rest.splitn(4, |b| *b == b'\n');
    let mut line = || String::from_utf8_lossy(parts.next().unwrap_or_default()).into_owned();
    let (id, query, own_token) = (line(), line(), line());
    let body = parts.next().unwrap_or_default().to_vec();
    let id: String = id.bytes().map(|b| if b.is_ascii_alphanumeric() || b == b'-' { b as char } else { '_' }).collect();
    let mut uri = route.path.replace("{id}", if id.is_empty() { "x" } else { &id });
    let query: String = query.bytes().filter(|b| b.is_ascii_graphic()).map(char::from).collect();
    if !query.is_empty() {
        uri = format!("{uri}?{query}");
    }
    let mut request = Request::builder().method(route.method.to_uppercase().as_str()).uri(uri).header("content-type", "application/json");
    let anonymous = match who % 6 {
        n @ 0..=3 => {
            request = request.header("authorization", format!("Bearer {}", world.tokens[usize::from(n)]));
            false
        }
        4 => true,
        _ => {
            request = request.header("authorization", format!("Bearer {own_token}"));
            false
        }
    };
    let Ok(request) = request.body(Body::from(body)) else { return };
    // ok: the router's error type is Infallible; a panic inside a handler is what we look for.
    let response = world.runtime.block_on(world.router.clone().oneshot(request)).unwrap();
    if anonymous {
        assert_eq!(response.status(), 401, "{} {} answered without a token", route.method, route.path);
    }
});
