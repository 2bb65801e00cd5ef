//! The OpenAPI document and the router agree: every documented operation is served (and
//! asks for a token), every success names a typed schema, request bodies refuse unknown
//! fields, and the document is valid JSON with the shape OpenAPI 3 tools read. Schemathesis then fuzzes it against `make run`'s
//! stack in `make test` (infra/local/schemathesis.sh).

use axum::body::Body;
use axum::http::Request;

#[tokio::test]
async fn every_documented_operation_is_served_and_authenticated() {
    let store = relance_tests::fresh_store("openapi").await;
    let router = portal::router(relance_tests::portal_state(&store));
    let answer = relance_tests::send(&router, Request::get("/openapi.json").body(Body::empty()).unwrap()).await;
    assert_eq!(answer.status, 200);
    let document: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(document["openapi"], "3.1.0");

    let mut operations = 0;
    for (path, item) in document["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            operations += 1;
            let concrete = path.replace("{id}", "x").replace("{member}", "x");
            let answer = relance_tests::send(
                &router,
                Request::builder().method(method.to_uppercase().as_str()).uri(&concrete).body(Body::empty()).unwrap(),
            )
            .await;
            let (status, body) = (answer.status, answer.json());
            if path == "/health" {
                assert_eq!(status, 200);
                continue;
            }
            assert_eq!((status, body["error"].as_str()), (401, Some("unauthenticated")), "{method} {path} is served and needs a token");
            // Every success has its own typed schema, so schemathesis's response checks test something.
            let successes: Vec<(&String, &serde_json::Value)> =
                operation["responses"].as_object().unwrap().iter().filter(|(code, _)| code.starts_with('2')).collect();
            assert!(!successes.is_empty(), "{method} {path} documents its success");
            for (code, response) in successes {
                if response["content"]["text/csv"].is_object() || response["content"]["application/pdf"].is_object() {
                    continue; // a file to download: a CSV's columns are the import's, a PDF's text is read back, both tested there
                }
                let reference = response["content"]["application/json"]["schema"]["$ref"].as_str();
                let name = reference.and_then(|r| r.strip_prefix("#/components/schemas/"));
                let schema = name.map(|n| &document["components"]["schemas"][n]);
                assert!(
                    schema.is_some_and(|s| s["properties"].is_object() || s["oneOf"].is_array() || s["allOf"].is_array()),
                    "{method} {path} {code} names a typed schema: {response}"
                );
            }
            assert!(operation["responses"]["401"].is_object(), "{method} {path} documents 401");
            if let Some(reference) = operation["requestBody"]["content"]["application/json"]["schema"]["$ref"].as_str() {
                let name = reference.rsplit('/').next().unwrap();
                let schema = &document["components"]["schemas"][name];
                assert_eq!(schema["additionalProperties"], false, "{name} refuses unknown fields, as its Rust type does");
            }
        }
    }
    assert_eq!(operations, portal::openapi::routes().len() + 1);

    // What is not documented is not served.
    assert_eq!(relance_tests::send(&router, Request::get("/admin/everything").body(Body::empty()).unwrap()).await.status, 404);
}
