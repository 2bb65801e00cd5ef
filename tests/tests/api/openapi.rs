//! The OpenAPI document and the router agree: every documented operation is served (and
//! asks for a token), request bodies refuse unknown fields, and the document is valid JSON
//! with the shape OpenAPI 3 tools read. Schemathesis then fuzzes it against `make run`'s
//! stack in `make test` (infra/local/schemathesis.sh).

use axum::body::Body;
use axum::http::Request;
use tower::ServiceExt;

#[tokio::test]
async fn every_documented_operation_is_served_and_authenticated() {
    let store = relance_tests::fresh_store("openapi").await;
    let router = portal::router(portal::PortalState::new(store, portal::IdentitySource::LocalJwt { secret: "s".into() }));
    let response = router.clone().oneshot(Request::get("/openapi.json").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let document: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 22).await.unwrap()).unwrap();
    assert_eq!(document["openapi"], "3.0.3");

    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace("{id}", "x").replace("{member}", "x");
            let request = Request::builder().method(method.to_uppercase().as_str()).uri(&concrete).body(Body::empty()).unwrap();
            let response = router.clone().oneshot(request).await.unwrap();
            let status = response.status().as_u16();
            let body: serde_json::Value = serde_json::from_slice(&axum::body::to_bytes(response.into_body(), 1 << 20).await.unwrap()).unwrap_or_default();
            if path == "/health" {
                assert_eq!(status, 200);
                continue;
            }
            assert_eq!((status, body["error"].as_str()), (401, Some("unauthenticated")), "{method} {path} is served and needs a token");
            assert!(operation["responses"]["401"].is_object(), "{method} {path} documents 401");
            if let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                let name = reference.rsplit('/').next().unwrap();
                let schema = &document["components"]["schemas"][name];
                assert_eq!(schema["additionalProperties"], false, "{name} refuses unknown fields, as its Rust type does");
            }
        }
    }
    assert_eq!(operations, portal::openapi::ROUTES.len() + 1);

    // What is not documented is not served.
    let response = router.clone().oneshot(Request::get("/admin/everything").body(Body::empty()).unwrap()).await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
}
