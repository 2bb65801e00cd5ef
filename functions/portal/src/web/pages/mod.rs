//! The page handlers: each reads through the API's own handlers (same caller, same checks)
//! and renders a template; each form checks its CSRF token, calls the API handler, and
//! redirects (303) to the page with a short "done" or error note. One file per page family;
//! this one holds what they share (the layout's context, the note, the redirect back).

mod administration;
mod agency;
mod back_office;
mod farm;
mod member;
mod owner_settings;
mod sign_in;

pub use administration::*;
pub use agency::*;
pub use back_office::*;
pub use farm::*;
pub use member::*;
pub use owner_settings::*;
pub use sign_in::*;

use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use axum::{Form, Json};
use chrono::{Datelike, NaiveDate, Utc};
use relance::domain::{Audience, Channel, Site};
use relance::store::Key;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::charts::{Bars, Chart, Unit, bar_chart};
use axum_extra::extract::cookie::SameSite;

use super::{
    CSRF_COOKIE, PageError, SESSION_COOKIE, Views, Visitor, WebSignIn, check_csrf, cookie, i18n, new_csrf, redirect, secure_cookies,
    set_cookie, url_encode, with_cookies,
};
use crate::PortalState;
use crate::api::admin;
use crate::api::community::{self, NewEvent, NewHarvest};
use crate::api::dashboards::{self, MonthRange, NewLead, Period};
use crate::api::input::{Body, Params};
use crate::api::me::{self, Me, PageQuery};
use crate::api::messages::{self, MessagesQuery, NewMessage};
use crate::api::profile::{self, OptOutsChange, ProfileChange};
use crate::api::users::{self, Invitation};
use crate::auth;
use crate::auth::{Role, local_token};
use relance::api_error::ApiError;

const BILLED: [Role; 3] = [Role::Member, Role::MemberB2b, Role::Client];

fn page_query(limit: i32) -> Params<PageQuery> {
    Params(PageQuery { cursor: None, limit: Some(limit) })
}

/// The flash note a redirect carries.
#[derive(Debug, Default, Deserialize)]
pub struct Note {
    pub done: Option<String>,
    pub error: Option<String>,
    pub member: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
}

/// The language pages speak to this person (their customer record's, else the business's),
/// and who they are.
async fn language(state: &PortalState, caller: &crate::auth::Caller) -> Result<(&'static str, Me), PageError> {
    let me = me::me(State(state.clone()), caller.clone()).await?.0;
    let locale = me.customer.as_ref().map_or(&state.defaults.locale, |c| &c.locale);
    Ok((i18n::language_of(locale), me))
}

/// The page `template` for `caller`, in the layout (language, words, navigation, CSRF token),
/// with `data`: the render step of every page, reading nothing (the benchmarks time it alone).
#[allow(clippy::too_many_arguments)]
pub fn html(
    caller: &crate::auth::Caller,
    lang: &'static str,
    me: Me,
    tz: chrono_tz::Tz,
    csrf: &str,
    template: &str,
    note: &Note,
    data: Value,
) -> Result<String, PageError> {
    let roles: Vec<&str> = caller.roles.iter().map(|r| r.group()).collect();
    let has = |r: Role| caller.has(r);
    let context = json!({
        "lang": lang,
        "tz": tz.name(),
        "t": i18n::table(lang),
        "me": me,
        "roles": roles,
        "nav": {
            "billing": BILLED.iter().any(|r| has(*r)),
            "garden": has(Role::Member) || has(Role::MemberB2b) || has(Role::Farmer) || has(Role::Admin),
            "farm": has(Role::Farmer),
            "admin": has(Role::Admin),
            "dashboard": has(Role::Client) || has(Role::Sales) || has(Role::Ambassador),
        },
        "csrf": csrf,
        "done": note.done,
        "error": note.error.as_deref().map(|code| i18n::error_text(lang, code)),
        "page": template.trim_end_matches(".html"),
        "data": data,
    });
    Views::shared().render(template, context)
}

/// [`language`] for a caller whose account is already read: only their customer record is.
async fn language_for(
    state: &PortalState,
    caller: &crate::auth::Caller,
    account: Option<&relance::domain::Account>,
) -> Result<(&'static str, Me), PageError> {
    let customer = match account.and_then(|a| a.customer_id.as_ref()) {
        Some(id) => state.store.get::<relance::domain::Customer>(&Key::customer(id)).await.map_err(ApiError::from)?,
        None => None,
    };
    let me = Me::of(caller, customer.as_ref());
    let locale = me.customer.as_ref().map_or(&state.defaults.locale, |c| &c.locale);
    Ok((i18n::language_of(locale), me))
}

/// The zone a person reads and types times in: their customer record's, else the
/// business's. Pages show times in it and forms read times in it, the same one.
fn zone_of(state: &PortalState, me: &Me) -> chrono_tz::Tz {
    me.customer.as_ref().and_then(|c| relance::domain::time::parse_time_zone(&c.time_zone).ok()).unwrap_or(state.defaults.time_zone)
}

/// Renders `template` with the layout's context (language, words, navigation, CSRF token)
/// and `data`.
/// `known`: the caller's language and profile when the handler already read them (for its
/// charts' words), so a page reads them once.
async fn render(
    state: &PortalState,
    visitor: &Visitor,
    known: Option<(&'static str, Me)>,
    template: &str,
    note: &Note,
    data: Value,
) -> Result<Response, PageError> {
    let (lang, me) = match known {
        Some(known) => known,
        None => language(state, &visitor.caller).await?,
    };
    // The first page after a sign-in elsewhere (Cognito) has no CSRF cookie yet: one token,
    // both in the forms and in the cookie.
    let fresh = visitor.csrf.len() < 20;
    let csrf = if fresh { new_csrf() } else { visitor.csrf.clone() };
    let tz = zone_of(state, &me);
    let html = html(&visitor.caller, lang, me, tz, &csrf, template, note, data)?;
    let mut response = Html(html).into_response();
    if fresh {
        response = with_cookies(response, vec![set_cookie(CSRF_COOKIE, &csrf, SameSite::Strict, 60 * 60 * 12, secure_cookies(state))]);
    }
    Ok(response)
}

/// A form's answer: its CSRF token checked, then `action` (an API handler's call), then back
/// to `to` with its outcome.
async fn submit<T>(
    headers: &HeaderMap,
    csrf: &str,
    to: &str,
    action: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<Response, PageError> {
    check_csrf(headers, csrf)?;
    Ok(back(to, action.await.map(|_| ())))
}

/// Back to `to` with a note (`done=…` or `error=…`).
fn back(to: &str, result: Result<(), ApiError>) -> Response {
    let separator = if to.contains('?') { '&' } else { '?' };
    let (path, anchor) = to.split_once('#').map_or((to, String::new()), |(p, a)| (p, format!("#{a}")));
    match result {
        Ok(()) => redirect(&format!("{path}{separator}done=1{anchor}")),
        // A code, never a text: the page shows our own words for it.
        Err(e) => redirect(&format!("{path}{separator}error={}{anchor}", url_encode(e.code()))),
    }
}

#[derive(Deserialize)]
pub struct CsrfOnly {
    csrf: String,
}
