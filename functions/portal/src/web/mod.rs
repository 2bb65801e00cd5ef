//! The member space's web pages, served by the portal function itself under `/` and `/app/…`
//! on the same origin as the API. Server-rendered HTML (minijinja templates embedded in the
//! binary), a little CSS, no JavaScript needed, charts as SVG drawn here.
//!
//! Pages are a view over the API: each page calls the same handlers the JSON routes use, with
//! the same [`Caller`], so authorisation is decided in one place. The caller comes from an
//! HttpOnly session cookie holding their token (locally a `make token` token, issued by the
//! sign-in page; in AWS the Cognito ID token from the hosted UI, see [`cognito`]).
//! Every form that changes something carries a CSRF token that must match a SameSite=Strict
//! cookie (double submit).

pub mod charts;
pub mod cognito;
pub mod i18n;
mod pages;

use axum::Router;
use axum::extract::FromRequestParts;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use minijinja::Environment;
use serde::Serialize;

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, IdentitySource, verify_local};

pub const SESSION_COOKIE: &str = "relance_session";
pub const CSRF_COOKIE: &str = "relance_csrf";

/// How people sign in to the pages.
#[derive(Clone)]
pub enum WebSignIn {
    /// `make run`: a page offering the demo users, issuing local tokens.
    Local { choices: Vec<(String, Vec<String>)> },
    /// AWS: Cognito's hosted UI, authorization code with PKCE.
    Cognito(cognito::HostedUi),
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
        env.add_filter("urlencode", |value: String| -> String {
            value
                .bytes()
                .map(|b| match b {
                    b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
                    _ => format!("%{b:02X}"),
                })
                .collect()
        });
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
        .route("/app/farm", get(pages::farm))
        .route("/app/farm/{site}/harvests", post(pages::post_harvest))
        .route("/app/farm/{site}/events", post(pages::create_event))
        .route("/app/admin", get(pages::admin))
        .route("/app/admin/invoices/{id}/{action}", post(pages::invoice_action))
        .route("/app/admin/pause", post(pages::pause_by_id))
        .route("/app/admin/notifications/{id}/resend", post(pages::resend))
        .route("/app/admin/users", post(pages::invite))
        .route("/app/dashboard", get(pages::dashboard))
        .route("/app/leads", post(pages::submit_lead))
        // The links in messages.
        .route("/go/{kind}", get(pages::go_list))
        .route("/go/{kind}/{id}", get(pages::go))
}

async fn stylesheet() -> Response {
    ([(CONTENT_TYPE, "text/css; charset=utf-8"), (CACHE_CONTROL, "public, max-age=3600")], STYLESHEET).into_response()
}

/// `{{ amount|money(lang) }}`: an API amount (`{"minor_units", "currency"}`) as the language
/// writes it, by the same formatter the messages use.
fn money_filter(value: minijinja::Value, lang: Option<String>) -> String {
    let minor = value.get_attr("minor_units").ok().and_then(|v| i64::try_from(v).ok());
    let currency = value.get_attr("currency").ok().and_then(|v| v.as_str().and_then(|c| c.parse::<relance::domain::Currency>().ok()));
    match (minor, currency) {
        (Some(minor), Some(currency)) => relance::notify::format::money(relance::domain::Money::from_minor(minor, currency), lang.as_deref().unwrap_or("fr"), false),
        _ => String::new(),
    }
}

/// A page that could not be shown: rendered as a page, never as JSON.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
    sign_in: bool,
}

impl PageError {
    pub fn internal(message: String) -> PageError {
        tracing::error!(%message, "page failed");
        PageError { status: StatusCode::INTERNAL_SERVER_ERROR, message: "Something went wrong on our side.".into(), sign_in: false }
    }

    pub fn bad(message: impl Into<String>) -> PageError {
        PageError { status: StatusCode::BAD_REQUEST, message: message.into(), sign_in: false }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> PageError {
        let (status, message) = e.parts();
        PageError { status, message: message.to_string(), sign_in: status == StatusCode::UNAUTHORIZED }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        if self.sign_in {
            return redirect("/sign-in");
        }
        let body = Views::shared()
            .render("error.html", minijinja::context! { status => self.status.as_u16(), message => self.message, lang => "en", t => i18n::table("en") })
            .unwrap_or_else(|_| "error".into());
        (self.status, Html(body)).into_response()
    }
}

/// 303 See Other: after a form, the browser GETs the next page.
pub fn redirect(to: &str) -> Response {
    let mut response = StatusCode::SEE_OTHER.into_response();
    if let Ok(value) = HeaderValue::from_str(to) {
        response.headers_mut().insert(LOCATION, value);
    }
    response
}

/// The value of cookie `name`.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_string())
}

/// A `Set-Cookie` value. `secure` is off only for `make run`'s plain HTTP.
pub fn set_cookie(name: &str, value: &str, same_site: &str, max_age: i64, secure: bool) -> HeaderValue {
    let secure = if secure { "; Secure" } else { "" };
    HeaderValue::from_str(&format!("{name}={value}; Path=/; HttpOnly; SameSite={same_site}; Max-Age={max_age}{secure}"))
        .unwrap_or_else(|_| HeaderValue::from_static("invalid=1"))
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
        let token = cookie(&parts.headers, SESSION_COOKIE).ok_or(PageError { status: StatusCode::UNAUTHORIZED, message: String::new(), sign_in: true })?;
        let caller = match (&state.web, &state.identity) {
            (WebSignIn::Cognito(ui), _) => ui.verify(&token).await?,
            (_, IdentitySource::LocalJwt { secret }) => verify_local(&token, secret)?,
            _ => return Err(PageError { status: StatusCode::UNAUTHORIZED, message: String::new(), sign_in: true }),
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
        Err(PageError { status: StatusCode::FORBIDDEN, message: "This form has expired. Go back, reload the page and try again.".into(), sign_in: false })
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh CSRF token: a ULID's 80 random bits plus its time, from the OS-seeded generator.
pub fn new_csrf() -> String {
    format!("{}{}", ulid::Ulid::new(), ulid::Ulid::new())
}
