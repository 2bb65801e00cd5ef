//! The page handlers: each reads through the API's own handlers (same caller, same checks)
//! and renders a template; each form checks its CSRF token, calls the API handler, and
//! redirects (303) to the page with a short "done" or error note.

use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{Html, IntoResponse, Response};
use chrono::{Datelike, Duration, NaiveDate, Utc};
use relance::domain::{Audience, Channel, Site};
use relance::store::Key;
use serde::Deserialize;
use serde_json::{Value, json};

use super::charts::{Bars, Chart, Unit, bar_chart};
use axum_extra::extract::cookie::SameSite;

use super::{
    CSRF_COOKIE, PageError, SESSION_COOKIE, Views, Visitor, WebSignIn, check_csrf, cookie, i18n, new_csrf, redirect, secure_cookies,
    set_cookie, url_encode, with_cookies,
};
use crate::PortalState;
use crate::community::{self, NewEvent, NewHarvest};
use crate::dashboards::{self, MonthRange, NewLead, Period};
use crate::error::ApiError;
use crate::identity::{Role, local_token};
use crate::input::{Body, Params};
use crate::me::{self, PageQuery};
use crate::messages::{self, MessagesQuery, NewMessage};
use crate::profile::{self, OptOutsChange, ProfileChange};
use crate::users::{self, Invitation};
use crate::{admin, identity};

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

/// The language pages speak to this person: their customer record's, else the business's.
async fn language(state: &PortalState, caller: &crate::identity::Caller) -> Result<(&'static str, Value), PageError> {
    let me = me::me(State(state.clone()), caller.clone()).await?.0;
    let lang = match me["customer"]["locale"].as_str() {
        Some(locale) if locale.starts_with("en") => "en",
        Some(_) => "fr",
        None => {
            if state.defaults.locale.language() == "en" {
                "en"
            } else {
                "fr"
            }
        }
    };
    Ok((lang, me))
}

/// The zone a person reads and types times in: their customer record's, else the
/// business's. Pages show times in it and forms read times in it, the same one.
fn zone_of(state: &PortalState, me: &Value) -> chrono_tz::Tz {
    me["customer"]["time_zone"]
        .as_str()
        .and_then(|name| relance::domain::time::parse_time_zone(name).ok())
        .unwrap_or(state.defaults.time_zone)
}

/// Renders `template` with the layout's context (language, words, navigation, CSRF token)
/// and `data`.
/// `known`: the caller's language and profile when the handler already read them (for its
/// charts' words), so a page reads them once.
async fn render(
    state: &PortalState,
    visitor: &Visitor,
    known: Option<(&'static str, Value)>,
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
    let roles: Vec<&str> = visitor.caller.roles.iter().map(|r| r.group()).collect();
    let has = |r: Role| visitor.caller.has(r);
    let tz = zone_of(state, &me).name();
    let context = json!({
        "lang": lang,
        "tz": tz,
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
    let html = Views::shared().render(template, context)?;
    let mut response = Html(html).into_response();
    if fresh {
        response = with_cookies(response, vec![set_cookie(CSRF_COOKIE, &csrf, SameSite::Strict, 60 * 60 * 12, secure_cookies(state))]);
    }
    Ok(response)
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

// ---------------------------------------------------------------- signing in and out

pub async fn sign_in_page(State(state): State<PortalState>, headers: HeaderMap) -> Result<Response, PageError> {
    match &state.web {
        WebSignIn::Local { choices } => {
            let csrf = cookie(&headers, CSRF_COOKIE).filter(|c| c.len() >= 20).unwrap_or_else(new_csrf);
            let lang = if state.defaults.locale.language() == "en" { "en" } else { "fr" };
            let users: Vec<Value> = choices.iter().map(|(user, roles)| json!({"user": user, "roles": roles.join(",")})).collect();
            let html = Views::shared()
                .render("sign_in.html", json!({"lang": lang, "t": i18n::table(lang), "csrf": csrf, "users": users, "nav": {}}))?;
            Ok(with_cookies(
                Html(html).into_response(),
                vec![set_cookie(CSRF_COOKIE, &csrf, SameSite::Strict, 60 * 60 * 12, secure_cookies(&state))],
            ))
        }
        WebSignIn::Cognito(ui) => {
            let (attempt, verifier) = (new_csrf(), format!("{}{}", new_csrf(), new_csrf()));
            let pkce = set_cookie("relance_pkce", &format!("{attempt}.{verifier}"), SameSite::Lax, 600, true);
            Ok(with_cookies(redirect(&ui.authorize_url(&attempt, &verifier)), vec![pkce]))
        }
        WebSignIn::Off => Err(PageError::from(ApiError::not_found())),
    }
}

#[derive(Deserialize)]
pub struct SignInForm {
    csrf: String,
    user: String,
    roles: String,
}

/// Local only: signs in as one of the offered demo users.
pub async fn sign_in(State(state): State<PortalState>, headers: HeaderMap, Form(form): Form<SignInForm>) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let (WebSignIn::Local { choices }, identity::IdentitySource::LocalJwt { secret }) = (&state.web, &state.identity) else {
        return Err(PageError::from(ApiError::not_found()));
    };
    let Some((user, roles)) = choices.iter().find(|(user, roles)| *user == form.user && roles.join(",") == form.roles) else {
        return Err(PageError::bad("not_a_demo_user"));
    };
    let roles: Vec<&str> = roles.iter().map(String::as_str).collect();
    let token = local_token(secret, user, None, &roles, 12).map_err(|e| PageError::internal(e.to_string()))?;
    Ok(with_cookies(redirect("/"), vec![set_cookie(SESSION_COOKIE, &token, SameSite::Lax, 60 * 60 * 12, secure_cookies(&state))]))
}

#[derive(Deserialize)]
pub struct Callback {
    code: String,
    state: String,
}

/// AWS: the hosted UI sends the browser back here with a code.
pub async fn cognito_callback(
    State(state): State<PortalState>,
    headers: HeaderMap,
    Query(callback): Query<Callback>,
) -> Result<Response, PageError> {
    let WebSignIn::Cognito(ui) = &state.web else { return Err(PageError::from(ApiError::not_found())) };
    let pkce = cookie(&headers, "relance_pkce").unwrap_or_default();
    let (attempt, verifier) = pkce.split_once('.').ok_or_else(|| PageError::bad("sign_in_expired"))?;
    if attempt != callback.state {
        return Err(PageError::bad("sign_in_expired"));
    }
    let token = ui.exchange(&callback.code, verifier).await?;
    ui.verify(&token).await?;
    Ok(with_cookies(
        redirect("/"),
        vec![
            set_cookie(SESSION_COOKIE, &token, SameSite::Lax, 60 * 60, true),
            set_cookie("relance_pkce", "", SameSite::Lax, 0, true),
            set_cookie(CSRF_COOKIE, &new_csrf(), SameSite::Strict, 60 * 60 * 12, true),
        ],
    ))
}

pub async fn sign_out(State(state): State<PortalState>, headers: HeaderMap, Form(form): Form<CsrfOnly>) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    Ok(with_cookies(redirect("/sign-in"), vec![set_cookie(SESSION_COOKIE, "", SameSite::Lax, 0, secure_cookies(&state))]))
}

// ---------------------------------------------------------------- member pages

/// Home: what needs the member's attention.
pub async fn home(
    State(state): State<PortalState>,
    visitor: Result<Visitor, PageError>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    let Ok(visitor) = visitor else { return Ok(redirect("/sign-in")) };
    let caller = visitor.caller.clone();
    let mut attention = json!({});
    if BILLED.iter().any(|r| caller.has(*r)) {
        if let Ok(invoices) = me::invoices(State(state.clone()), caller.clone(), page_query(50)).await {
            let unpaid: Vec<Value> = invoices.0["invoices"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|i| i["balance"]["minor_units"].as_i64().unwrap_or(0) > 0 && i["status"] != "void")
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            attention["unpaid"] = json!(unpaid);
        }
        if let Ok(cards) = me::payment_methods(State(state.clone()), caller.clone()).await {
            let soon = Utc::now().date_naive() + Duration::days(60);
            let expiring: Vec<Value> = cards.0["payment_methods"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|c| {
                            let month = c["expiry"]["month"].as_u64().unwrap_or(12) as u32;
                            let year = c["expiry"]["year"].as_i64().unwrap_or(9999) as i32;
                            NaiveDate::from_ymd_opt(year, month, 1).is_some_and(|first| first <= soon)
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            attention["cards"] = json!(expiring);
        }
        if let Ok(subscriptions) = me::subscriptions(State(state.clone()), caller.clone(), page_query(20)).await {
            let horizon = (Utc::now() + Duration::days(30)).to_rfc3339();
            let renewing: Vec<Value> = subscriptions.0["subscriptions"]
                .as_array()
                .map(|list| {
                    list.iter()
                        .filter(|s| {
                            s["current_period_end"].as_str().is_some_and(|end| end <= horizon.as_str())
                                && s["cancel_at_period_end"] == false
                        })
                        .cloned()
                        .collect()
                })
                .unwrap_or_default();
            attention["renewals"] = json!(renewing);
        }
    }
    if let Ok(events) = community::list_events(State(state.clone()), caller.clone(), page_query(50)).await {
        attention["next_event"] =
            events.0["events"].as_array().and_then(|list| list.iter().find(|e| e["registered"] == true)).cloned().unwrap_or(Value::Null);
    }
    render(&state, &visitor, None, "home.html", &note, attention).await
}

pub async fn invoices(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let caller = visitor.caller.clone();
    let invoices = me::invoices(State(state.clone()), caller.clone(), page_query(50)).await?.0;
    let subscriptions = me::subscriptions(State(state.clone()), caller.clone(), page_query(20)).await?.0;
    let cards = me::payment_methods(State(state.clone()), caller).await?.0;
    render(
        &state,
        &visitor,
        None,
        "invoices.html",
        &note,
        json!({"invoices": invoices["invoices"], "subscriptions": subscriptions["subscriptions"], "cards": cards["payment_methods"]}),
    )
    .await
}

/// Pay: off to the provider's payment page.
pub async fn pay(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    match me::pay_invoice(State(state), visitor.caller, Path(id)).await {
        Ok(link) => Ok(redirect(link.0["url"].as_str().unwrap_or("/app/invoices"))),
        Err(e) => Ok(back("/app/invoices", Err(e))),
    }
}

pub async fn renew(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    match me::renew_subscription(State(state), visitor.caller, Path(id)).await {
        Ok(link) => Ok(redirect(link.0["url"].as_str().unwrap_or("/app/invoices"))),
        Err(e) => Ok(back("/app/invoices", Err(e))),
    }
}

pub async fn garden(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let caller = visitor.caller.clone();
    let account: Option<relance::domain::Account> = state.store.get(&Key::account(&caller.user)).await.map_err(ApiError::from)?;
    let mut data = json!({});
    if let Some(garden) = account.and_then(|a| a.garden) {
        let site = community::get_site(State(state.clone()), caller.clone(), Path(garden.site.to_string())).await?.0;
        let harvests =
            community::list_harvests(State(state.clone()), caller.clone(), Path(garden.site.to_string()), page_query(10)).await?.0;
        data["site"] = site;
        data["harvests"] = harvests["harvests"].clone();
    }
    let news = community::list_news(
        State(state.clone()),
        caller.clone(),
        Params(community::NewsQuery { site: None, cursor: None, limit: Some(5) }),
    )
    .await?
    .0;
    let events = community::list_events(State(state.clone()), caller, page_query(50)).await?.0;
    data["news"] = news["news"].clone();
    data["events"] = events["events"].clone();
    render(&state, &visitor, None, "garden.html", &note, data).await
}

pub async fn register(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result = community::register(State(state), visitor.caller, Path(id.clone())).await.map(|_| ());
    Ok(back(&format!("/app/garden#event-{id}"), result))
}

pub async fn cancel(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result = community::unregister(State(state), visitor.caller, Path(id.clone())).await.map(|_| ());
    Ok(back(&format!("/app/garden#event-{id}"), result))
}

pub async fn messages(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let query = MessagesQuery { member: note.member.clone().filter(|_| visitor.caller.has(Role::Admin)), cursor: None, limit: Some(50) };
    let listed = messages::list(State(state.clone()), visitor.caller.clone(), Params(query)).await?.0;
    render(&state, &visitor, None, "messages.html", &note, listed).await
}

#[derive(Deserialize)]
pub struct MessageForm {
    csrf: String,
    body: String,
}

pub async fn write_message(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result = messages::to_support(State(state), visitor.caller, Body(NewMessage { body: form.body })).await.map(|_| ());
    Ok(back("/app/messages", result))
}

pub async fn answer(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(member): Path<String>,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result =
        messages::to_member(State(state), visitor.caller, Path(member.clone()), Body(NewMessage { body: form.body })).await.map(|_| ());
    Ok(back(&format!("/app/messages?member={}", url_encode(&member)), result))
}

pub async fn profile(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    render(&state, &visitor, None, "profile.html", &note, json!({})).await
}

#[derive(Deserialize)]
pub struct ProfileForm {
    csrf: String,
    name: String,
    email: String,
    phone: String,
    locale: String,
    #[serde(default)]
    no_email: Option<String>,
    #[serde(default)]
    no_sms: Option<String>,
    preferred_channel: String,
}

pub async fn save_profile(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<ProfileForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let optional = |v: String| if v.trim().is_empty() { None } else { Some(v) };
    let change = ProfileChange {
        name: Some(form.name),
        email: Some(optional(form.email)),
        phone: Some(optional(form.phone)),
        locale: Some(form.locale),
        opt_outs: Some(OptOutsChange { email: Some(form.no_email.is_some()), sms: Some(form.no_sms.is_some()) }),
        preferred_channel: match form.preferred_channel.as_str() {
            "sms" => Some(Channel::Sms),
            _ => Some(Channel::Email),
        },
    };
    let result = profile::update_me(State(state), visitor.caller, Body(change)).await.map(|_| ());
    Ok(back("/app/profile", result))
}

/// The GDPR export, as a file.
pub async fn export(State(state): State<PortalState>, visitor: Visitor) -> Result<Response, PageError> {
    let data = profile::export(State(state), visitor.caller).await?.0;
    let body = serde_json::to_string_pretty(&data).map_err(|e| PageError::internal(e.to_string()))?;
    Ok(([(CONTENT_TYPE, "application/json"), (CONTENT_DISPOSITION, "attachment; filename=\"my-data.json\"")], body).into_response())
}

// ---------------------------------------------------------------- farmers

pub async fn farm(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Farmer])?;
    let caller = visitor.caller.clone();
    let sites: Vec<Site> = state.store.list::<Site>(Key::SITES, None, 100).await.map_err(ApiError::from)?.records;
    let events = community::list_events(State(state.clone()), caller.clone(), page_query(50)).await?.0;
    let mut mine = Vec::new();
    for site in sites.into_iter().filter(|s| s.farmers.contains(&caller.user)) {
        let mut site_events = Vec::new();
        for event in events["events"].as_array().into_iter().flatten() {
            if event["audience"]["site"].as_str() == Some(site.id.as_str()) {
                let id = event["id"].as_str().unwrap_or_default().to_string();
                let people = community::list_registrations(State(state.clone()), caller.clone(), Path(id), page_query(50)).await?.0;
                site_events.push(json!({"event": event, "registrations": people["registrations"]}));
            }
        }
        mine.push(json!({"id": site.id, "name": site.name, "events": site_events}));
    }
    render(&state, &visitor, None, "farm.html", &note, json!({"sites": mine, "today": Utc::now().date_naive()})).await
}

#[derive(Deserialize)]
pub struct HarvestForm {
    csrf: String,
    date: NaiveDate,
    crop: String,
    grams: u64,
}

pub async fn post_harvest(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(site): Path<String>,
    Form(form): Form<HarvestForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let input = NewHarvest { date: form.date, crop: form.crop, grams: form.grams, note: String::new() };
    let result = community::post_harvest(State(state), visitor.caller, Path(site), Body(input)).await.map(|_| ());
    Ok(back("/app/farm", result))
}

#[derive(Deserialize)]
pub struct EventForm {
    csrf: String,
    title: String,
    /// `2026-12-05T10:00` from a datetime-local input, in the farmer's time zone (`zone_of`).
    starts_at: String,
    location: String,
    capacity: String,
}

pub async fn create_event(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(site): Path<String>,
    Form(form): Form<EventForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    // The farmer types a wall-clock time in the zone the page shows times in (daylight
    // saving time included); we store the instant.
    let zone = zone_of(&state, &language(&state, &visitor.caller).await?.1);
    let starts_at = chrono::NaiveDateTime::parse_from_str(&form.starts_at, "%Y-%m-%dT%H:%M")
        .map(|local| relance::domain::time::local_to_utc(local.date(), local.time(), zone));
    let Ok(starts_at) = starts_at else { return Ok(back("/app/farm", Err(ApiError::bad_request("starts_at: a date and time, please")))) };
    let capacity = form.capacity.trim().parse::<u32>().ok();
    let input = NewEvent {
        title: form.title,
        description: String::new(),
        starts_at,
        location: form.location,
        audience: Audience::Site { site: relance::domain::SiteId::parse(&site).map_err(|_| PageError::from(ApiError::not_found()))? },
        capacity,
    };
    let result = community::create_event(State(state), visitor.caller, Body(input)).await.map(|_| ());
    Ok(back("/app/farm", result))
}

// ---------------------------------------------------------------- admins

pub async fn admin(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let caller = visitor.caller.clone();
    let follow_up = admin::follow_up(State(state.clone()), caller.clone(), page_query(50)).await?.0;
    let today = Utc::now().date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let from = note.from.as_deref().and_then(|d| d.parse().ok()).unwrap_or(first);
    let to = note.to.as_deref().and_then(|d| d.parse().ok()).unwrap_or(today);
    let kpis = dashboards::kpis(State(state.clone()), caller, Params(Period { from, to })).await.map(|k| k.0).unwrap_or(Value::Null);
    let steps: Vec<(String, i64)> = kpis["paid_after_step"]
        .as_array()
        .map(|list| list.iter().map(|s| (s["step"].to_string(), s["invoices"].as_i64().unwrap_or(0))).collect())
        .unwrap_or_default();
    let who = language(&state, &visitor.caller).await?;
    let words = i18n::table(who.0);
    let funnel = bar_chart(
        &Chart { id: "funnel", title: words["paid_after_step"], lang: who.0, unit: Unit::Count },
        &steps.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Bars { name: words["paid"], values: steps.iter().map(|(_, v)| *v).collect(), colour: "#2f6b3a" }],
    );
    let sent: Vec<(String, i64)> = kpis["reminders_sent"]
        .as_object()
        .map(|m| m.iter().map(|(kind, v)| (i18n::status_text(who.0, kind), v.as_i64().unwrap_or(0))).collect())
        .unwrap_or_default();
    let reminders = bar_chart(
        &Chart { id: "reminders-sent", title: words["reminders_sent"], lang: who.0, unit: Unit::Count },
        &sent.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Bars { name: words["reminders_sent"], values: sent.iter().map(|(_, v)| *v).collect(), colour: "#1f5f99" }],
    );
    render(
        &state,
        &visitor,
        Some(who),
        "admin.html",
        &note,
        json!({"follow_up": follow_up["items"], "kpis": kpis, "from": from, "to": to, "funnel": funnel, "reminders_chart": reminders}),
    )
    .await
}

pub async fn invoice_action(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path((id, action)): Path<(String, String)>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let (state, caller, path) = (State(state), visitor.caller, Path(id));
    let result = match action.as_str() {
        "pause" => admin::pause_invoice(state, caller, path).await.map(|_| ()),
        "resume" => admin::resume_invoice(state, caller, path).await.map(|_| ()),
        "mark-paid" => admin::mark_invoice_paid(state, caller, path).await.map(|_| ()),
        _ => Err(ApiError::not_found()),
    };
    Ok(back("/app/admin", result))
}

#[derive(Deserialize)]
pub struct PauseForm {
    csrf: String,
    invoice: String,
}

/// Pauses reminders on any invoice, by its id (the follow-up list only shows flagged ones).
pub async fn pause_by_id(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<PauseForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result = admin::pause_invoice(State(state), visitor.caller, Path(form.invoice.trim().to_string())).await.map(|_| ());
    Ok(back("/app/admin", result))
}

pub async fn resend(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let result = admin::resend_notification(State(state), visitor.caller, Path(id)).await.map(|_| ());
    Ok(back("/app/admin", result))
}

#[derive(Deserialize)]
pub struct InviteForm {
    csrf: String,
    email: String,
    name: String,
    role: String,
}

pub async fn invite(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<InviteForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let input = Invitation { email: form.email, name: form.name, roles: vec![form.role], customer_id: None, garden: None, locale: None };
    let result = users::invite(State(state), visitor.caller, Body(input)).await.map(|_| ());
    Ok(back("/app/admin", result))
}

// ---------------------------------------------------------------- agency dashboards

fn series_values(series: &Value) -> (Vec<String>, Vec<i64>) {
    let points = series["points"].as_array().cloned().unwrap_or_default();
    (
        points.iter().map(|p| p["period"].as_str().unwrap_or_default().to_string()).collect(),
        points.iter().map(|p| p["value"].as_i64().unwrap_or(0)).collect(),
    )
}

/// Two money series of one currency side by side; `id` is the chart's on the page.
fn two_series_chart(id: &str, title: &str, lang: &str, a: (&str, &Value), b: (&str, &Value)) -> String {
    let (labels, first) = series_values(a.1);
    let (_, second) = series_values(b.1);
    let unit = a.1["currency"].as_str().and_then(|c| c.parse().ok()).map_or(Unit::Count, Unit::Money);
    bar_chart(
        &Chart { id, title, lang, unit },
        &labels,
        &[Bars { name: a.0, values: first, colour: "#1f5f99" }, Bars { name: b.0, values: second, colour: "#2f6b3a" }],
    )
}

pub async fn dashboard(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Client, Role::Sales, Role::Ambassador])?;
    let caller = visitor.caller.clone();
    let range = || Params(MonthRange { from: None, to: None });
    let who = language(&state, &caller).await?;
    let w = i18n::table(who.0);
    let mut data = json!({});
    if caller.has(Role::Client) {
        let client = dashboards::client(State(state.clone()), caller.clone(), range()).await?.0;
        data["client_chart"] = json!(two_series_chart(
            "client-billed",
            w["billed_paid"],
            who.0,
            (w["billed"], &client["billed"][0]),
            (w["paid"], &client["paid"][0])
        ));
        data["client"] = client;
    }
    if caller.has(Role::Sales) {
        let sales = dashboards::sales(State(state.clone()), caller.clone(), range()).await?.0;
        data["sales_chart"] = json!(two_series_chart(
            "sales-projected",
            w["projected_actual"],
            who.0,
            (w["projected"], &sales["projected"][0]),
            (w["actual"], &sales["actual"][0])
        ));
        data["sales"] = sales;
    }
    if caller.has(Role::Ambassador) {
        let ambassador = dashboards::ambassador(State(state.clone()), caller.clone(), range()).await?.0;
        data["ambassador_chart"] = json!(two_series_chart(
            "ambassador-commissions",
            w["commissions"],
            who.0,
            (w["earned"], &ambassador["earned"][0]),
            (w["paid"], &ambassador["paid"][0])
        ));
        data["ambassador"] = ambassador;
    }
    render(&state, &visitor, Some(who), "dashboard.html", &note, data).await
}

#[derive(Deserialize)]
pub struct LeadForm {
    csrf: String,
    company: String,
    contact_name: String,
    email: String,
    phone: String,
}

pub async fn submit_lead(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<LeadForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    let optional = |v: String| if v.trim().is_empty() { None } else { Some(v) };
    let input = NewLead {
        company: form.company,
        contact_name: form.contact_name,
        email: optional(form.email),
        phone: optional(form.phone),
        note: String::new(),
    };
    let result = dashboards::submit_lead(State(state), visitor.caller, Body(input)).await.map(|_| ());
    Ok(back("/app/dashboard#leads", result))
}

/// The short links in text messages: the page, without the place.
pub async fn go_list(Path(kind): Path<String>) -> Response {
    go(Path((kind, String::new()))).await
}

/// The links in messages land on the page that shows what they are about.
pub async fn go(Path((kind, id)): Path<(String, String)>) -> Response {
    let id = url_encode(&id);
    let place = |prefix: &str| if id.is_empty() { String::new() } else { format!("#{prefix}-{id}") };
    match kind.as_str() {
        "i" => redirect(&format!("/app/invoices{}", place("invoice"))),
        "s" => redirect(&format!("/app/invoices{}", if id.is_empty() { "#subscriptions".into() } else { place("subscription") })),
        "c" => redirect("/app/invoices#cards"),
        "e" => redirect(&format!("/app/garden{}", place("event"))),
        "m" => redirect("/app/messages"),
        _ => redirect("/"),
    }
}
