//! The member space's web pages, served by the portal function itself under `/` and `/app/…`
//! on the same origin as the API. Server-rendered HTML (minijinja templates embedded in the
//! binary), a little CSS, no JavaScript needed, charts as SVG drawn here.
//!
//! Pages are a view over the API: each page calls the same handlers the JSON routes use, with
//! the same [`Caller`], so authorisation is decided in one place. The caller comes from an
//! HttpOnly session cookie holding their token (locally a `make token` token, issued by the
//! sign-in page; in AWS the Cognito ID token from the hosted UI, see [`crate::auth::cognito`]).
//! Every form that changes something carries a CSRF token that must match a SameSite=Strict
//! cookie (double submit).

pub mod charts;
pub mod i18n;
mod pages;
/// The render step of every page, and its note, for the page benchmarks.
pub use pages::{Note, html};

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use minijinja::Environment;
use serde::Serialize;
use subtle::ConstantTimeEq;
use tower_http::set_header::SetResponseHeaderLayer;

use crate::PortalState;
use crate::auth::{Caller, IdentitySource, verify_local};
use relance::api_error::ApiError;

pub const SESSION_COOKIE: &str = "relance_session";
pub const CSRF_COOKIE: &str = "relance_csrf";

/// How people sign in to the pages.
#[derive(Clone)]
pub enum WebSignIn {
    /// `make run`: a page offering the demo users, issuing local tokens.
    Local { choices: Vec<(String, Vec<String>)> },
    /// AWS: Cognito's hosted UI, authorization code with PKCE.
    Cognito(crate::auth::cognito::HostedUi),
    /// No pages (the API alone).
    Off,
}

const TEMPLATES: &[(&str, &str)] = &[
    ("base.html", include_str!("../../web/templates/base.html")),
    ("sign_in.html", include_str!("../../web/templates/sign_in.html")),
    ("home.html", include_str!("../../web/templates/home.html")),
    ("invoices.html", include_str!("../../web/templates/invoices.html")),
    ("garden.html", include_str!("../../web/templates/garden.html")),
    ("messages.html", include_str!("../../web/templates/messages.html")),
    ("profile.html", include_str!("../../web/templates/profile.html")),
    ("farm.html", include_str!("../../web/templates/farm.html")),
    ("admin.html", include_str!("../../web/templates/admin.html")),
    ("admin_nav.html", include_str!("../../web/templates/admin_nav.html")),
    ("admin_customers.html", include_str!("../../web/templates/admin_customers.html")),
    ("admin_customer.html", include_str!("../../web/templates/admin_customer.html")),
    ("admin_import.html", include_str!("../../web/templates/admin_import.html")),
    ("admin_sites.html", include_str!("../../web/templates/admin_sites.html")),
    ("admin_agency.html", include_str!("../../web/templates/admin_agency.html")),
    ("admin_history.html", include_str!("../../web/templates/admin_history.html")),
    ("admin_settings.html", include_str!("../../web/templates/admin_settings.html")),
    ("admin_templates.html", include_str!("../../web/templates/admin_templates.html")),
    ("dashboard.html", include_str!("../../web/templates/dashboard.html")),
    ("error.html", include_str!("../../web/templates/error.html")),
];

const STYLESHEET: &str = include_str!("../../web/app.css");

/// The templates, parsed once.
pub struct Views {
    env: Environment<'static>,
}

impl Default for Views {
    fn default() -> Self {
        Views::new()
    }
}

impl Views {
    pub fn new() -> Views {
        let mut env = Environment::new();
        for (name, source) in TEMPLATES {
            // ok: our own templates, compiled in; a syntax error fails every page test.
            env.add_template(name, source).unwrap_or_else(|e| panic!("template {name}: {e}"));
        }
        env.add_filter("money", money_filter);
        env.add_filter("status", |code: String, lang: Option<String>| i18n::status_text(lang.as_deref().unwrap_or("fr"), &code));
        env.add_filter("day", day_filter);
        env.add_filter("moment", moment_filter);
        env.add_filter("urlencode", |value: String| -> String { url_encode(&value) });
        Views { env }
    }

    /// The templates, parsed once per process.
    pub fn shared() -> &'static Views {
        static VIEWS: std::sync::OnceLock<Views> = std::sync::OnceLock::new();
        VIEWS.get_or_init(Views::new)
    }

    pub fn render(&self, name: &str, context: impl Serialize) -> Result<String, PageError> {
        let template = self.env.get_template(name).map_err(|e| PageError::internal(e.to_string()))?;
        template.render(context).map_err(|e| PageError::internal(format!("{name}: {e:#}")))
    }
}

pub fn routes() -> Router<PortalState> {
    Router::new()
        .route("/", get(pages::home))
        .route("/sign-in", get(pages::sign_in_page).post(pages::sign_in))
        .route("/auth/callback", get(pages::cognito_callback))
        .route("/sign-out", post(pages::sign_out))
        .route("/app/static/app.css", get(stylesheet))
        .route("/app/invoices", get(pages::invoices))
        .route("/app/invoices/{id}/pay", post(pages::pay))
        .route("/app/subscriptions/{id}/renew", post(pages::renew))
        .route("/app/garden", get(pages::garden))
        .route("/app/events/{id}/register", post(pages::register))
        .route("/app/events/{id}/cancel", post(pages::cancel))
        .route("/app/messages", get(pages::messages).post(pages::write_message))
        .route("/app/messages/{member}", post(pages::answer))
        .route("/app/profile", get(pages::profile).post(pages::save_profile))
        .route("/app/profile/export", get(pages::export))
        .route("/app/profile/erase", post(pages::erase))
        .route("/app/farm", get(pages::farm))
        .route("/app/farm/{site}/harvests", post(pages::post_harvest))
        .route("/app/farm/{site}/events", post(pages::create_event))
        .route("/app/admin", get(pages::admin))
        .route("/app/admin/invoices/{id}/{action}", post(pages::invoice_action))
        .route("/app/admin/pause", post(pages::pause_by_id))
        .route("/app/admin/notifications/{id}/resend", post(pages::resend))
        .route("/app/admin/notifications/{id}/formal-notice", get(pages::formal_notice))
        .route("/app/admin/users", post(pages::invite))
        .route("/app/admin/customers", get(pages::admin_customers).post(pages::admin_create_customer))
        .route("/app/admin/customers/{id}", get(pages::admin_customer).post(pages::admin_save_customer))
        .route("/app/admin/customers/{id}/export", get(pages::admin_customer_export))
        .route(
            "/app/admin/import",
            get(pages::admin_import)
                .post(pages::admin_run_import)
                // A file, sent as a form: up to the import's own limit.
                .layer(axum::extract::DefaultBodyLimit::max(crate::api::input::MAX_FILE + 64 * 1024)),
        )
        .route("/app/admin/export/{file}", get(pages::admin_export))
        .route("/app/admin/sites", get(pages::admin_sites).post(pages::admin_create_site))
        .route("/app/admin/sites/{id}/farmers", post(pages::admin_set_farmers))
        .route("/app/admin/agency", get(pages::admin_agency))
        .route("/app/admin/history", get(pages::admin_history))
        .route("/app/admin/settings", get(pages::admin_settings).post(pages::admin_save_settings))
        .route("/app/admin/templates", get(pages::admin_templates).post(pages::admin_template_action))
        .route("/app/admin/missions", post(pages::admin_create_mission))
        .route("/app/admin/invoices/link", post(pages::admin_link_invoice))
        .route("/app/admin/leads/{id}", post(pages::admin_decide_lead))
        .route("/app/farm/events/{id}/cancel", post(pages::cancel_event))
        .route("/app/dashboard", get(pages::dashboard))
        .route("/app/leads", post(pages::submit_lead))
        // The links in messages.
        .route("/go/{kind}", get(pages::go_list))
        .route("/go/{kind}/{id}", get(pages::go))
}

/// Headers on every answer of the portal, pages and API alike:
/// - a Content Security Policy allowing only our own stylesheet (no script at all: the pages
///   have none), inline SVG charts, forms to ourselves or to a provider's https payment page
///   (a form's redirect counts), and no framing (`frame-ancestors 'none'`, and the older
///   `X-Frame-Options` for browsers that predate it);
/// - no referrer sent to the payment pages members are sent to;
/// - `no-store` unless the route set its own caching (the stylesheet): signed-in pages and
///   API answers hold personal data and must not stay in a shared or back-button cache.
pub fn with_security_headers<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    use axum::http::header::{CONTENT_SECURITY_POLICY, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS};
    const CSP: &str =
        "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self' https:; frame-ancestors 'none'; base-uri 'none'";
    router
        .layer(SetResponseHeaderLayer::overriding(CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP)))
        .layer(SetResponseHeaderLayer::overriding(X_FRAME_OPTIONS, HeaderValue::from_static("DENY")))
        .layer(SetResponseHeaderLayer::overriding(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")))
        .layer(SetResponseHeaderLayer::overriding(REFERRER_POLICY, HeaderValue::from_static("no-referrer")))
        .layer(SetResponseHeaderLayer::if_not_present(CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], STYLESHEET).into_response()
}

/// `{{ date|day(lang, tz) }}`: a calendar date (`2026-12-02`) in words; an instant
/// (`2026-12-02T09:00:00Z`) becomes its day in the zone `tz`.
fn day_filter(value: String, lang: Option<String>, tz: Option<String>) -> String {
    let lang = lang.as_deref().unwrap_or("fr");
    if let Ok(day) = chrono::NaiveDate::parse_from_str(&value, "%Y-%m-%d") {
        return relance::notify::format::date(day, lang);
    }
    match (chrono::DateTime::parse_from_rfc3339(&value), zone(tz.as_deref())) {
        (Ok(at), Some(tz)) => relance::notify::format::date(relance::notify::format::local_day(at.to_utc(), tz), lang),
        _ => value,
    }
}

/// `{{ instant|moment(lang, tz) }}`: an instant as the person reads it in their zone
/// (`5 décembre 2026 à 10:00`), daylight saving time included.
fn moment_filter(value: String, lang: Option<String>, tz: Option<String>) -> String {
    match (chrono::DateTime::parse_from_rfc3339(&value), zone(tz.as_deref())) {
        (Ok(at), Some(tz)) => relance::notify::format::when(at.to_utc(), tz, lang.as_deref().unwrap_or("fr")),
        _ => value,
    }
}

fn zone(name: Option<&str>) -> Option<chrono_tz::Tz> {
    relance::domain::time::parse_time_zone(name.unwrap_or("Europe/Paris")).ok()
}

/// One value of a URL's query string, percent-encoded (`form_urlencoded`: the WHATWG rules
/// browsers use, spaces as `+`).
pub fn url_encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// `{{ amount|money(lang) }}`: an API amount (`{"minor_units", "currency"}`) as the language
/// writes it, by the same formatter the messages use.
fn money_filter(value: minijinja::Value, lang: Option<String>) -> String {
    let minor = value.get_attr("minor_units").ok().and_then(|v| i64::try_from(v).ok());
    let currency = value.get_attr("currency").ok().and_then(|v| v.as_str().and_then(|c| c.parse::<relance::domain::Currency>().ok()));
    match (minor, currency) {
        (Some(minor), Some(currency)) => {
            relance::notify::format::money(relance::domain::Money::from_minor(minor, currency), lang.as_deref().unwrap_or("fr"), false)
        }
        _ => String::new(),
    }
}

/// A page that could not be shown: rendered as a page, never as JSON, in the visitor's
/// language (see [`error_pages`]), with our own words for `code` (`i18n::error_text`).
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    code: &'static str,
    sign_in: bool,
}

impl PageError {
    pub fn internal(message: String) -> PageError {
        tracing::error!(%message, "page failed");
        PageError { status: StatusCode::INTERNAL_SERVER_ERROR, code: "internal", sign_in: false }
    }

    /// 400, told as the text `error_<code>`.
    pub fn bad(code: &'static str) -> PageError {
        PageError { status: StatusCode::BAD_REQUEST, code, sign_in: false }
    }

    fn needs_sign_in() -> PageError {
        PageError { status: StatusCode::UNAUTHORIZED, code: "unauthenticated", sign_in: true }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        let status = e.status();
        PageError { status, code: e.code(), sign_in: status == StatusCode::UNAUTHORIZED }
    }
}

/// What [`error_pages`] renders: a page error's status and code, carried out of the handler.
#[derive(Debug, Clone, Copy)]
struct ErrorPage {
    code: &'static str,
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.sign_in {
            return redirect("/sign-in");
        }
        let mut response = self.status.into_response();
        response.extensions_mut().insert(ErrorPage { code: self.code });
        response
    }
}

/// Renders page errors in the visitor's language: their browser's first choice when it is
/// French or English, else the business's. (The handler that failed may not have known who
/// the visitor was.)
pub async fn error_pages(
    axum::extract::State(state): axum::extract::State<PortalState>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let accepted =
        request.headers().get(axum::http::header::ACCEPT_LANGUAGE).and_then(|v| v.to_str().ok()).unwrap_or("").to_ascii_lowercase();
    let lang = match accepted.split([',', ';', '-']).next().map(str::trim) {
        Some("en") => "en",
        Some("fr") => "fr",
        _ => i18n::language_of(&state.defaults.locale),
    };
    let response = next.run(request).await;
    let Some(ErrorPage { code }) = response.extensions().get::<ErrorPage>().copied() else { return response };
    let status = response.status();
    let body = Views::shared()
        .render("error.html", minijinja::context! { status => status.as_u16(), message => i18n::error_text(lang, code), lang => lang, t => i18n::table(lang) })
        .unwrap_or_else(|_| i18n::error_text(lang, code).to_string());
    (status, Html(body)).into_response()
}

/// 303 See Other: after a form, the browser GETs the next page.
pub fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The value of cookie `name`, as axum-extra's cookie jar reads the request's headers.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    CookieJar::from_headers(headers).get(name).map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: HttpOnly, for the whole site. `secure` is off only for `make run`'s
/// plain HTTP; `max_age` 0 removes the cookie.
pub fn set_cookie(name: &str, value: &str, same_site: SameSite, max_age: i64, secure: bool) -> HeaderValue {
    let cookie = Cookie::build((name.to_string(), value.to_string()))
        .path("/")
        .http_only(true)
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(max_age))
        .secure(secure)
        .build();
    HeaderValue::from_str(&cookie.encoded().to_string()).unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
}

pub fn with_cookies(mut response: Response, cookies: Vec<HeaderValue>) -> Response {
    for c in cookies {
        response.headers_mut().append(SET_COOKIE, c);
    }
    response
}

/// Cookies are Secure except on `make run`'s plain http://127.0.0.1.
pub fn secure_cookies(state: &PortalState) -> bool {
    !matches!(state.web, WebSignIn::Local { .. })
}

/// The signed-in person, from the session cookie; pages redirect to sign-in without one.
pub struct Visitor {
    pub caller: Caller,
    /// The CSRF token their forms must carry (the value of the CSRF cookie).
    pub csrf: String,
}

impl FromRequestParts<PortalState> for Visitor {
    type Rejection = PageError;

    async fn from_request_parts(parts: &mut Parts, state: &PortalState) -> Result<Visitor, PageError> {
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or_else(PageError::needs_sign_in)?;
        let caller = match (&state.web, &state.identity) {
            (WebSignIn::Cognito(ui), _) => ui.verify(&token).await?,
            (_, IdentitySource::LocalJwt { secret }) => verify_local(&token, secret)?,
            _ => return Err(PageError::needs_sign_in()),
        };
        relance::store::check_user(&caller.user).map_err(|_| PageError::from(ApiError::unauthenticated()))?;
        let csrf = cookie(&parts.headers, CSRF_COOKIE).unwrap_or_default();
        Ok(Visitor { caller, csrf })
    }
}

/// Refuses a form whose CSRF field does not match the cookie.
pub fn check_csrf(headers: &HeaderMap, submitted: &str) -> Result<(), PageError> {
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default();
    if expected.len() >= 20 && constant_time_eq(expected.as_bytes(), submitted.as_bytes()) {
        Ok(())
    } else {
        Err(PageError { status: StatusCode::FORBIDDEN, code: "form_expired", sign_in: false })
    }
}

/// Equal without telling, by how long it took, how much of `a` matched (`subtle`).
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    bool::from(a.ct_eq(b))
}

/// A fresh CSRF token: a ULID's 80 random bits plus its time, from the OS-seeded generator.
pub fn new_csrf() -> String {
    format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new())
}
