//! `GET /openapi.json`: the portal's OpenAPI 3 document, built from this table of routes and
//! from the request body types themselves (their schemas are derived by `utoipa` from the
//! same structs the handlers deserialize, unknown fields refused included). A test checks
//! that every documented operation is served by the router.

use std::collections::BTreeMap;

use axum::Json;
use serde_json::{Map, Value, json};
use utoipa::ToSchema;
use utoipa::openapi::RefOr;
use utoipa::openapi::schema::Schema;

use crate::community::{NewEvent, NewHarvest, NewNews};
use crate::dashboards::NewLead;
use crate::messages::NewMessage;
use crate::profile::ProfileChange;
use crate::users::Invitation;

/// A query parameter: name, JSON schema, description.
type Param = (&'static str, fn() -> Value, &'static str);

fn string() -> Value {
    json!({"type": "string"})
}
fn limit() -> Value {
    json!({"type": "integer", "minimum": 1, "maximum": 50})
}
fn month() -> Value {
    json!({"type": "string", "pattern": "^[0-9]{4}-[0-9]{2}$"})
}
fn date() -> Value {
    json!({"type": "string", "format": "date"})
}

const PAGE: &[Param] = &[("cursor", string, "The `next` of the previous page."), ("limit", limit, "Items per page (default 20).")];
const MONTHS: &[Param] = &[("from", month, "First month (YYYY-MM)."), ("to", month, "Last month (YYYY-MM).")];
const NEWS: &[Param] = &[
    ("site", string, "A site's news instead of everyone's."),
    ("cursor", string, "The `next` of the previous page."),
    ("limit", limit, "Items per page (default 20)."),
];
const MESSAGES: &[Param] = &[
    ("member", string, "Admins: one member's conversation instead of the inbox."),
    ("cursor", string, "The `next` of the previous page."),
    ("limit", limit, "Items per page (default 20)."),
];
/// Required query parameters.
const PERIOD: &[Param] = &[("from", date, "First day, included."), ("to", date, "Last day, included.")];

/// A named schema.
type Named = (String, RefOr<Schema>);
/// A request body type: its name, schema and the schemas it refers to.
type BodySchema = fn() -> (String, RefOr<Schema>, Vec<Named>);

fn body<T: ToSchema>() -> (String, RefOr<Schema>, Vec<Named>) {
    let mut referenced = Vec::new();
    T::schemas(&mut referenced);
    (T::name().into_owned(), T::schema(), referenced)
}

pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    tag: &'static str,
    query: &'static [Param],
    required_query: bool,
    body: Option<BodySchema>,
    /// The status of a successful answer.
    pub success: u16,
    /// Other successful answers (an idempotent repeat).
    also: &'static [u16],
}

const fn route(method: &'static str, path: &'static str, tag: &'static str, summary: &'static str, success: u16) -> Route {
    Route { method, path, summary, tag, query: &[], required_query: false, body: None, success, also: &[] }
}

const fn with_query(mut r: Route, query: &'static [Param]) -> Route {
    r.query = query;
    r
}

const fn with_body(mut r: Route, body: BodySchema) -> Route {
    r.body = Some(body);
    r
}

/// Every portal route but `/health` and this document.
pub const ROUTES: &[Route] = &[
    route("get", "/me", "me", "Profile and roles", 200),
    with_body(route("patch", "/me", "me", "Change contact details, language, channel choices", 200), body::<ProfileChange>),
    route("delete", "/me", "me", "Request erasure (GDPR): contact details wiped, books kept", 202),
    route("get", "/me/export", "me", "Everything held about me (GDPR)", 200),
    with_query(route("get", "/me/invoices", "billing", "My invoices with the reminders sent", 200), PAGE),
    route("post", "/me/invoices/{id}/pay", "billing", "The provider's payment page for an invoice", 200),
    with_query(route("get", "/me/subscriptions", "billing", "My subscriptions", 200), PAGE),
    route("post", "/me/subscriptions/{id}/renew", "billing", "Where to renew or update the card", 200),
    route("get", "/me/payment-methods", "billing", "My cards: brand, last four digits, expiry", 200),
    route("get", "/sites/{id}", "community", "A garden: plot, farmers, news", 200),
    with_query(route("get", "/sites/{id}/harvests", "community", "A garden's harvests, newest first", 200), PAGE),
    with_body(route("post", "/sites/{id}/harvests", "community", "Record a harvest (the site's farmer, admins)", 201), body::<NewHarvest>),
    with_query(route("get", "/news", "community", "News for everyone or one site, newest first", 200), NEWS),
    with_body(route("post", "/news", "community", "Publish news (admins: everyone's; farmers: their site's)", 201), body::<NewNews>),
    with_query(route("get", "/events", "community", "Upcoming events I may see", 200), PAGE),
    with_body(route("post", "/events", "community", "Create an event (farmers: their site; admins: any)", 201), body::<NewEvent>),
    Route {
        also: &[200],
        ..route(
            "post",
            "/events/{id}/registrations",
            "community",
            "Register: takes a place, queues the confirmation (200: already registered)",
            201,
        )
    },
    route("delete", "/events/{id}/registrations/me", "community", "Cancel my registration", 200),
    with_query(route("get", "/events/{id}/registrations", "community", "Who comes (the site's farmers, admins)", 200), PAGE),
    with_query(route("get", "/messages", "messages", "My conversation with support; admins: the inbox", 200), MESSAGES),
    with_body(route("post", "/messages", "messages", "Write to support", 201), body::<NewMessage>),
    with_body(route("post", "/messages/{member}", "messages", "Answer one member, privately (admins)", 201), body::<NewMessage>),
    with_query(route("get", "/dashboards/client", "dashboards", "A client's missions and billing by month", 200), MONTHS),
    with_query(route("get", "/dashboards/sales", "dashboards", "Projected and actual revenue, bonus, peaks", 200), MONTHS),
    with_query(route("get", "/dashboards/ambassador", "dashboards", "Leads and commissions", 200), MONTHS),
    with_body(route("post", "/leads", "dashboards", "Submit a lead (ambassadors)", 201), body::<NewLead>),
    with_body(route("post", "/admin/users", "admin", "Invite a user with their roles", 201), body::<Invitation>),
    with_query(route("get", "/admin/follow-up", "admin", "Held notifications and invoices flagged for a person", 200), PAGE),
    route("post", "/admin/invoices/{id}/pause", "admin", "Stop reminders for an invoice", 200),
    route("post", "/admin/invoices/{id}/resume", "admin", "Resume reminders for an invoice", 200),
    route("post", "/admin/invoices/{id}/mark-paid", "admin", "Record the balance as paid", 200),
    route("post", "/admin/notifications/{id}/resend", "admin", "Send a notification again", 202),
    Route { required_query: true, ..with_query(route("get", "/admin/kpis", "admin", "The KPIs for a period", 200), PERIOD) },
];

fn error_response(description: &str) -> Value {
    json!({"description": description, "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}})
}

fn operation(route: &Route, components: &mut BTreeMap<String, Value>) -> Value {
    let mut parameters: Vec<Value> = route
        .path
        .split('/')
        .filter_map(|segment| segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
        .map(|name| json!({"name": name, "in": "path", "required": true, "schema": {"type": "string"}}))
        .collect();
    parameters.extend(
        route.query.iter().map(|(name, schema, description)| json!({"name": name, "in": "query", "required": route.required_query, "description": description, "schema": schema()})),
    );
    let mut responses = Map::new();
    for status in std::iter::once(&route.success).chain(route.also) {
        responses
            .insert(status.to_string(), json!({"description": "Done", "content": {"application/json": {"schema": {"type": "object"}}}}));
    }
    for (status, description) in [
        ("400", "Invalid input: a malformed body, an unknown field, a bad value or cursor"),
        ("401", "No valid token"),
        ("403", "The caller's role may not do this"),
        ("404", "No such record, or not the caller's to see"),
        ("409", "The record's state does not allow it, or it changed meanwhile"),
        ("503", "The table is unavailable: try again"),
    ] {
        responses.insert(status.into(), error_response(description));
    }
    let mut operation = json!({
        "summary": route.summary,
        "operationId": format!("{}{}", route.method, route.path.replace(['/', '{', '}', '-'], "_")),
        "tags": [route.tag],
        "parameters": parameters,
        "security": [{"bearer": []}],
    });
    if let Some(schema) = route.body {
        let (name, root, referenced) = schema();
        components.insert(name.clone(), serde_json::to_value(root).unwrap_or(Value::Null));
        for (n, s) in referenced {
            components.insert(n, serde_json::to_value(s).unwrap_or(Value::Null));
        }
        operation["requestBody"] =
            json!({"required": true, "content": {"application/json": {"schema": {"$ref": format!("#/components/schemas/{name}")}}}});
        responses.insert("413".into(), error_response("The body is larger than 64 KiB"));
        responses.insert("415".into(), error_response("The body is not sent as application/json"));
    }
    operation["responses"] = Value::Object(responses);
    operation
}

/// The whole document.
pub fn document() -> Value {
    let mut components = BTreeMap::new();
    components.insert(
        "Error".to_string(),
        json!({"type": "object", "required": ["error", "message"],
               "properties": {"error": {"type": "string"}, "message": {"type": "string"}}}),
    );
    let mut paths: BTreeMap<&str, Map<String, Value>> = BTreeMap::new();
    for route in ROUTES {
        let op = operation(route, &mut components);
        paths.entry(route.path).or_default().insert(route.method.to_string(), op);
    }
    paths.entry("/health").or_default().insert(
        "get".into(),
        json!({"summary": "Liveness", "operationId": "get_health", "tags": ["meta"], "security": [],
               "responses": {"200": {"description": "Up", "content": {"application/json": {"schema": {"type": "object"}}}}}}),
    );
    json!({
        // utoipa writes JSON Schema 2020-12 (`"type": ["string", "null"]`), which is OpenAPI
        // 3.1's dialect: labelled 3.0.3, the document did not validate.
        "openapi": "3.1.0",
        "info": {"title": "Relance portal API", "version": env!("CARGO_PKG_VERSION"),
                 "description": "The member space, partner dashboards and admin tools. JSON in and out; list routes paginate with an opaque cursor; amounts are integer minor units with their currency."},
        "paths": paths,
        "components": {
            "schemas": components,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT",
                "description": "In AWS a Cognito token, checked by the HTTP API's JWT authorizer; locally a token from `make token`."}},
        },
    })
}

pub async fn serve() -> Json<Value> {
    Json(document())
}
