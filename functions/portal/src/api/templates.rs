//! The owner's templates, from the back office (`relance::notify::owner_templates`): every
//! kind and language with its variables and the text in force, a save checked before it is
//! stored, a way back to the default, and a preview of a draft exactly as one customer would
//! get it. Each save is in the audit trail (`GET /admin/audit?record=Template/<id>`).

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use relance::api_error::ApiError;
use relance::domain::*;
use relance::notify::compose::{self, About, Branding};
use relance::notify::owner_templates::{self, Draft, OwnerTemplate, Scope};
use relance::notify::sms::{self, Encoding};
use relance::notify::templates::{LANGUAGES, MessageContext, default_draft};
use relance::store::{Key, Record};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::audit;
use crate::api::input::{Body, Params};
use crate::auth::{Caller, Role};

/// Every kind an owner may write for.
const KINDS: [NotificationKind; 19] = NotificationKind::ALL;

/// One template as the editor lists it.
#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateLine {
    #[schema(value_type = String, example = "invoice_overdue")]
    pub kind: NotificationKind,
    /// `fr`, `en`.
    pub locale: String,
    pub scope: Scope,
    /// `default`: the compiled-in text; `custom`: the owner's.
    pub source: &'static str,
    /// The owner's saves of this template (0: never saved).
    pub version: u64,
    /// What the text may use, as `{{ name }}`.
    pub variables: Vec<&'static str>,
    pub draft: Draft,
    pub updated_at: Option<DateTime<Utc>>,
    pub updated_by: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TemplateList {
    pub templates: Vec<TemplateLine>,
}

fn line(kind: NotificationKind, locale: &str, scope: Scope, stored: Option<&OwnerTemplate>) -> Option<TemplateLine> {
    let custom = stored.and_then(|t| t.draft.clone());
    let source = if custom.is_some() { "custom" } else { "default" };
    let draft = custom.or_else(|| default_draft(kind, locale))?;
    Some(TemplateLine {
        kind,
        locale: locale.to_string(),
        scope,
        source,
        version: stored.map_or(0, |t| t.version),
        variables: owner_templates::variables(kind),
        draft,
        updated_at: stored.map(|t| t.updated_at),
        updated_by: stored.map(|t| t.updated_by.clone()),
    })
}

#[utoipa::path(get, path = "/admin/templates", tag = "admin", summary = "Every message's template: its variables, source and version",
    responses((status = 200, body = TemplateList)))]
pub async fn list(State(state): State<PortalState>, caller: Caller) -> Result<Json<TemplateList>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let stored: Vec<OwnerTemplate> = state.store.list_all(OwnerTemplate::PARTITION).await?;
    let mut templates = Vec::new();
    for kind in KINDS {
        for locale in LANGUAGES {
            let all = stored.iter().find(|t| t.kind == kind && t.language == locale && t.scope == Scope::All);
            templates.extend(line(kind, locale, Scope::All, all));
        }
    }
    // The steps' and rules' own templates, after the kinds'.
    for template in stored.iter().filter(|t| t.scope != Scope::All && t.draft.is_some()) {
        templates.extend(line(template.kind, &template.language, template.scope.clone(), Some(template)));
    }
    Ok(Json(TemplateList { templates }))
}

/// Which step or rule a template is for; neither: every notification of the kind.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ScopeQuery {
    /// One ladder step (the invoice ladder's 2: its first overdue reminder).
    #[param(minimum = 1, maximum = 50)]
    pub step: Option<u32>,
    /// One date rule, by name.
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub rule: Option<String>,
}

pub(crate) fn target(kind: &str, locale: &str, query: &ScopeQuery) -> Result<(NotificationKind, String, Scope), ApiError> {
    let kind = KINDS
        .into_iter()
        .find(|k| k.as_str() == kind)
        .ok_or_else(|| ApiError::invalid("bad_request", "kind", format!("kind: one of {}", KINDS.map(|k| k.as_str()).join(", "))))?;
    let locale = LANGUAGES
        .into_iter()
        .find(|l| *l == locale)
        .ok_or_else(|| ApiError::invalid("bad_request", "locale", format!("locale: one of {}", LANGUAGES.join(", "))))?;
    let scope = match (query.step, &query.rule) {
        (None, None) => Scope::All,
        (Some(step), None) if (1..=50).contains(&step) => Scope::Step(step),
        (None, Some(rule))
            if !rule.is_empty() && rule.len() <= 64 && rule.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') =>
        {
            Scope::Rule(rule.clone())
        }
        (Some(_), Some(_)) => return Err(ApiError::invalid("bad_request", "step", "step or rule, not both")),
        (Some(_), None) => return Err(ApiError::invalid("bad_request", "step", "step: 1 to 50")),
        (None, Some(_)) => return Err(ApiError::invalid("bad_request", "rule", "rule: a date rule's name (letters, digits, - and _)")),
    };
    Ok((kind, locale.to_string(), scope))
}

/// Long, real-looking values a saved template must fit (the SMS's segments are counted on
/// them), with a business's late-payment charges stated.
fn sample(language: &str) -> MessageContext {
    let money = |minor| relance::notify::format::money(Money::from_minor(minor, Currency::EUR), language, false);
    MessageContext {
        phone: Some("+33612345678".into()),
        rule: "atelier-bienvenue-2026-12-02".into(),
        penalties: money(1436),
        indemnity: money(4000),
        total_due: money(128_892),
        ..MessageContext::sample(language)
    }
}

fn check(kind: NotificationKind, locale: &str, draft: &Draft) -> Result<(), ApiError> {
    owner_templates::validate(kind, draft, &sample(locale)).map_err(|e| ApiError::invalid("invalid_template", e.part, e.to_string()))
}

/// Saves `draft` (none: back to the default) as a new version of the template, with its audit
/// entry (which carries the version it made, for `revert`). `read`: the version the editor
/// read (`If-Match`), refused with 412 when someone saved since.
pub(crate) async fn save(
    state: &PortalState,
    caller: &Caller,
    kind: NotificationKind,
    locale: String,
    scope: Scope,
    draft: Option<Draft>,
    read: Option<u64>,
) -> Result<OwnerTemplate, ApiError> {
    let now = Utc::now();
    let mut after = OwnerTemplate { kind, language: locale, scope, draft, updated_at: now, updated_by: caller.user.clone(), version: 0 };
    let id = OwnerTemplate::id(kind, &after.language, &after.scope);
    let before: Option<OwnerTemplate> = state.store.get(&after.key()).await?;
    let current = before.as_ref().map_or(0, |b| b.version);
    if read.is_some_and(|read| read != current) {
        return Err(stale(current));
    }
    let made = OwnerTemplate { version: current + 1, ..after.clone() };
    let mut entry = audit::entry(caller, &id, before.as_ref(), &made, now)?;
    let mut tx = state.store.transaction();
    match &before {
        Some(before) => {
            after.version = before.version;
            tx.update(&mut after)?;
        }
        None => {
            tx.insert(&mut after)?;
        }
    }
    tx.insert(&mut entry)?;
    match state.store.commit(tx).await {
        Ok(()) => {}
        Err(relance::store::StoreError::Conflict(_) | relance::store::StoreError::Duplicate(_)) => {
            let now_at = state.store.get::<OwnerTemplate>(&after.key()).await?.map_or(0, |t| t.version);
            return Err(stale(now_at));
        }
        Err(e) => return Err(e.into()),
    }
    state.settings.forget();
    Ok(after)
}

fn stale(version: u64) -> ApiError {
    ApiError::new(
        axum::http::StatusCode::PRECONDITION_FAILED,
        "stale_version",
        format!("this template was saved by someone else meanwhile (now version {version}): read it again and redo your change"),
    )
}

#[utoipa::path(put, path = "/admin/templates/{kind}/{locale}", tag = "admin", summary = "Write a message's subject, text, SMS and HTML",
    params(("kind" = String, Path, description = "The notification kind (invoice_overdue)"), ("locale" = String, Path, description = "fr or en"), ScopeQuery,
        ("If-Match" = Option<String>, Header, description = "The version read (`version` in the list): refused with 412 if someone saved since")),
    request_body = Draft,
    responses((status = 200, body = TemplateLine),
        (status = 400, description = "Refused: `error` is `invalid_template`, `field` the part (subject, html, text, sms)", body = relance::api_error::ErrorBody),
        (status = 412, description = "Saved by someone else since the version named", body = relance::api_error::ErrorBody)))]
pub async fn put(
    State(state): State<PortalState>,
    caller: Caller,
    Path((kind, locale)): Path<(String, String)>,
    Params(query): Params<ScopeQuery>,
    headers: axum::http::HeaderMap,
    Body(draft): Body<Draft>,
) -> Result<Json<TemplateLine>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let read = crate::api::settings::if_match_given(&headers)?;
    write(&state, &caller, &kind, &locale, &query, draft, read).await.map(Json)
}

/// Checks and saves the owner's `draft` over version `read` (if given): the API's `PUT` and the editor page.
pub(crate) async fn write(
    state: &PortalState,
    caller: &Caller,
    kind: &str,
    locale: &str,
    query: &ScopeQuery,
    draft: Draft,
    read: Option<u64>,
) -> Result<TemplateLine, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (kind, locale, scope) = target(kind, locale, query)?;
    check(kind, &locale, &draft)?;
    let saved = save(state, caller, kind, locale, scope, Some(draft), read).await?;
    line(saved.kind, &saved.language, saved.scope.clone(), Some(&saved)).ok_or_else(ApiError::not_found)
}

#[utoipa::path(delete, path = "/admin/templates/{kind}/{locale}", tag = "admin", summary = "Go back to the default text",
    params(("kind" = String, Path, description = "The notification kind"), ("locale" = String, Path, description = "fr or en"), ScopeQuery),
    responses((status = 200, body = TemplateLine)))]
pub async fn reset(
    State(state): State<PortalState>,
    caller: Caller,
    Path((kind, locale)): Path<(String, String)>,
    Params(query): Params<ScopeQuery>,
) -> Result<Json<TemplateLine>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (kind, locale, scope) = target(&kind, &locale, &query)?;
    let saved = save(&state, &caller, kind, locale, scope, None, None).await?;
    line(saved.kind, &saved.language, saved.scope.clone(), Some(&saved)).map(Json).ok_or_else(ApiError::not_found)
}

/// One template's page of history, or the version to go back to.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    #[param(minimum = 1, maximum = 50)]
    pub step: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub rule: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

#[utoipa::path(get, path = "/admin/templates/{kind}/{locale}/history", tag = "admin", summary = "Every saved version of a template: who, when, the text before and after",
    params(("kind" = String, Path, description = "The notification kind"), ("locale" = String, Path, description = "fr or en"), HistoryQuery),
    responses((status = 200, body = audit::AuditPage)))]
pub async fn history(
    State(state): State<PortalState>,
    caller: Caller,
    Path((kind, locale)): Path<(String, String)>,
    Params(query): Params<HistoryQuery>,
) -> Result<Json<audit::AuditPage>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (kind, locale, scope) = target(&kind, &locale, &ScopeQuery { step: query.step, rule: query.rule.clone() })?;
    let page = crate::api::me::PageQuery { cursor: query.cursor, limit: query.limit };
    audit::page_of(&state, OwnerTemplate::TYPE, &OwnerTemplate::id(kind, &locale, &scope), &page).await.map(Json)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RevertQuery {
    /// The version to bring back, as the history names it (`after.version`).
    #[param(minimum = 1)]
    pub version: u64,
    #[param(minimum = 1, maximum = 50)]
    pub step: Option<u32>,
    #[param(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub rule: Option<String>,
}

#[utoipa::path(post, path = "/admin/templates/{kind}/{locale}/revert", tag = "admin", summary = "Bring back an earlier version of a template, as a new version",
    params(("kind" = String, Path, description = "The notification kind"), ("locale" = String, Path, description = "fr or en"), RevertQuery),
    responses((status = 200, body = TemplateLine),
        (status = 400, description = "That version no longer passes today's checks", body = relance::api_error::ErrorBody),
        (status = 404, description = "No such version", body = relance::api_error::ErrorBody)))]
pub async fn revert(
    State(state): State<PortalState>,
    caller: Caller,
    Path((kind, locale)): Path<(String, String)>,
    Params(query): Params<RevertQuery>,
) -> Result<Json<TemplateLine>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    if query.version == 0 {
        return Err(ApiError::invalid("bad_request", "version", "version: 1 or more, as the history names it"));
    }
    let (kind, locale, scope) = target(&kind, &locale, &ScopeQuery { step: query.step, rule: query.rule.clone() })?;
    let draft = version_of(&state, &OwnerTemplate::id(kind, &locale, &scope), query.version).await?;
    if let Some(draft) = &draft {
        check(kind, &locale, draft)?;
    }
    let saved = save(&state, &caller, kind, locale, scope, draft, None).await?;
    line(saved.kind, &saved.language, saved.scope.clone(), Some(&saved)).map(Json).ok_or_else(ApiError::not_found)
}

/// The text version `version` of template `id` had (none: it was the default), from its audit trail.
pub(crate) async fn version_of(state: &PortalState, id: &str, version: u64) -> Result<Option<Draft>, ApiError> {
    let partition = Key::audit_partition(OwnerTemplate::TYPE, id);
    let mut cursor = None;
    loop {
        let page = state.store.list_latest::<relance::domain::AuditEntry>(&partition, cursor.as_ref(), 50).await?;
        for entry in page.records {
            let Some(after) = entry.after else { continue };
            if after.get("version").and_then(serde_json::Value::as_u64) == Some(version) {
                let saved: OwnerTemplate = serde_json::from_value(after).map_err(|e| {
                    tracing::error!(error = %e, template = id, "an audit entry of a template does not read back");
                    ApiError::unavailable("that version cannot be read")
                })?;
                return Ok(saved.draft);
            }
        }
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Err(ApiError::not_found()),
        }
    }
}

/// A draft to see as one customer would get it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    #[schema(value_type = String, example = "invoice_overdue")]
    pub kind: String,
    pub draft: Draft,
    pub customer_id: String,
    /// The invoice, for the kinds about one.
    pub invoice_id: Option<String>,
    /// The ladder step the message would be (default 2: the first overdue reminder).
    pub step: Option<u32>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Preview {
    /// The customer's language, the message is written in.
    pub locale: String,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub sms: String,
    pub sms_segments: usize,
    pub sms_encoding: Encoding,
    /// `email` or `sms` as the channel policy would choose for this customer and amount, or
    /// why the message would wait (`held`).
    pub channel: String,
}

#[utoipa::path(post, path = "/admin/templates/preview", tag = "admin", summary = "A draft as one customer would get it",
    request_body = PreviewRequest, responses((status = 200, body = Preview)))]
pub async fn preview(
    State(state): State<PortalState>,
    caller: Caller,
    Body(request): Body<PreviewRequest>,
) -> Result<Json<Preview>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    Ok(Json(render_for(&state, &request).await?.0))
}

/// `request`'s draft rendered for its customer, and the message itself.
async fn render_for(state: &PortalState, request: &PreviewRequest) -> Result<(Preview, relance::notify::Message), ApiError> {
    let (kind, _, _) = target(&request.kind, "fr", &ScopeQuery { step: None, rule: None })?;
    let customer_id = CustomerId::parse(&request.customer_id)
        .map_err(|_| ApiError::invalid("bad_request", "customer_id", "customer_id: our id for a customer"))?;
    let customer: Customer = state.store.get(&Key::customer(&customer_id)).await?.ok_or_else(ApiError::not_found)?;
    let about = match &request.invoice_id {
        Some(id) => {
            relance::domain::ids::check_key_part("invoice_id", id)
                .map_err(|e| ApiError::invalid("bad_request", "invoice_id", e.to_string()))?;
            let invoice: Invoice =
                state.store.get(&Key::of_customer::<Invoice>(&customer_id, id)).await?.ok_or_else(ApiError::not_found)?;
            About::Invoice(invoice)
        }
        None => About::Nothing,
    };
    let (target, amount) = match &about {
        About::Invoice(invoice) => (Target { kind: TargetKind::Invoice, id: invoice.id.to_string() }, Some(invoice.balance())),
        _ => (Target { kind: TargetKind::Customer, id: customer.id.to_string() }, None),
    };
    let step = request.step.unwrap_or(2).clamp(1, 50);
    let notification = Notification::pending(customer.id.clone(), target, kind, None, step, amount, Utc::now())
        .map_err(|e| ApiError::invalid("bad_request", "customer_id", e.to_string()))?;
    let language = if LANGUAGES.contains(&customer.locale.language()) {
        customer.locale.language().to_string()
    } else {
        state.defaults.locale.language().to_string()
    };
    let mut context = compose::context(&notification, &customer, &about, &branding(), &language);
    let settings = state.settings.current().await?;
    let today = Utc::now().with_timezone(&customer.time_zone).date_naive();
    compose::late_payment(&mut context, &notification, &customer, &about, settings.settings.late_payment.as_ref(), today, &language);
    let message = owner_templates::render(kind, &request.draft, &context, &language)
        .map_err(|e| ApiError::invalid("invalid_template", e.part, e.to_string()))?;
    let (sms_encoding, sms_segments) = sms::segments(&message.sms);
    let channel = match settings.policy.choose(&notification, &customer) {
        ChannelDecision::Send { channel: Channel::Email } => "email".to_string(),
        ChannelDecision::Send { channel: Channel::Sms } => "sms".to_string(),
        ChannelDecision::Held { reason } => format!("held: {reason}"),
    };
    let preview = Preview {
        locale: language,
        subject: message.subject.clone(),
        text: message.text.clone(),
        html: message.html.clone(),
        sms: message.sms.clone(),
        sms_segments,
        sms_encoding,
        channel,
    };
    Ok((preview, message))
}

/// A draft to send to oneself, rendered for one customer.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestRequest {
    #[schema(value_type = String, example = "invoice_overdue")]
    pub kind: String,
    pub draft: Draft,
    pub customer_id: String,
    pub invoice_id: Option<String>,
    pub step: Option<u32>,
    /// `email` (the default): to the signed-in admin's email; `sms`: to their phone
    /// (the `phone_number` of their sign-in).
    #[schema(value_type = Option<String>, example = "email")]
    pub channel: Option<Channel>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TestSent {
    #[schema(value_type = String)]
    pub channel: Channel,
    /// The admin's own address or number it went to.
    pub to: String,
    /// SES's or SNS's id for it.
    pub message_id: String,
}

#[utoipa::path(post, path = "/admin/templates/test", tag = "admin", summary = "Send a draft, rendered for a customer, to oneself",
    request_body = TestRequest,
    responses((status = 200, body = TestSent),
        (status = 400, description = "The draft does not render, or the signed-in admin has no email or phone", body = relance::api_error::ErrorBody),
        (status = 503, description = "Sending is not set up for the back office (RELANCE_SENDER)", body = relance::api_error::ErrorBody)))]
pub async fn test(State(state): State<PortalState>, caller: Caller, Body(request): Body<TestRequest>) -> Result<Json<TestSent>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let channel = request.channel.unwrap_or(Channel::Email);
    let preview = PreviewRequest {
        kind: request.kind,
        draft: request.draft,
        customer_id: request.customer_id,
        invoice_id: request.invoice_id,
        step: request.step,
    };
    let (_, mut message) = render_for(&state, &preview).await?;
    let senders =
        state.senders.as_ref().ok_or_else(|| ApiError::unavailable("sending is not set up for the back office (RELANCE_SENDER)"))?;
    let sent =
        match channel {
            Channel::Email => {
                let to =
                    caller.email.as_deref().and_then(|e| Email::parse(e).ok()).ok_or_else(|| {
                        ApiError::invalid("bad_request", "channel", "your sign-in has no email address to send the test to")
                    })?;
                message.subject = format!("[Test] {}", message.subject);
                senders.email(&to, &message, &[("kind", "template_test".to_string())], None).await.map(|id| (to.to_string(), id))
            }
            Channel::Sms => {
                let to =
                    caller.phone.as_deref().and_then(|p| PhoneE164::parse(p, None).ok()).ok_or_else(|| {
                        ApiError::invalid("bad_request", "channel", "your sign-in has no mobile number to send the test to")
                    })?;
                senders.sms(&to, &message.sms).await.map(|id| (to.to_string(), id))
            }
        };
    let (to, message_id) = sent.map_err(|e| {
        tracing::warn!(error = %e, "a template test did not go");
        match e {
            // The address or number was refused (unverified in SES's sandbox, opted out…).
            relance::notify::send::SendError::Permanent(reason) => {
                ApiError::invalid("bad_request", "channel", format!("your address or number was refused: {reason}"))
            }
            other => ApiError::unavailable(format!("the test did not go: {other}")),
        }
    })?;
    Ok(Json(TestSent { channel, to, message_id }))
}

/// The name and member-space address messages carry, as dispatch reads them.
fn branding() -> Branding {
    Branding {
        business: relance::config::var("RELANCE_BUSINESS_NAME").unwrap_or_else(|| "Relance".into()),
        portal_url: relance::config::web_address("RELANCE_PORTAL_URL").ok().flatten().unwrap_or_else(|| "http://127.0.0.1:3000".into()),
    }
}
