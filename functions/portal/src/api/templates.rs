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
const KINDS: [NotificationKind; 17] = NotificationKind::ALL;

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

fn target(kind: &str, locale: &str, query: &ScopeQuery) -> Result<(NotificationKind, String, Scope), ApiError> {
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

/// Saves `draft` (none: back to the default) as a new version of the template, with its audit entry.
async fn save(
    state: &PortalState,
    caller: &Caller,
    kind: NotificationKind,
    locale: String,
    scope: Scope,
    draft: Option<Draft>,
) -> Result<OwnerTemplate, ApiError> {
    let now = Utc::now();
    let mut after = OwnerTemplate { kind, language: locale, scope, draft, updated_at: now, updated_by: caller.user.clone(), version: 0 };
    let id = OwnerTemplate::id(kind, &after.language, &after.scope);
    let before: Option<OwnerTemplate> = state.store.get(&after.key()).await?;
    let mut entry = audit::entry(caller, &id, before.as_ref(), &after, now)?;
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
    state.store.commit(tx).await?;
    state.settings.forget();
    Ok(after)
}

#[utoipa::path(put, path = "/admin/templates/{kind}/{locale}", tag = "admin", summary = "Write a message's subject, text, SMS and HTML",
    params(("kind" = String, Path, description = "The notification kind (invoice_overdue)"), ("locale" = String, Path, description = "fr or en"), ScopeQuery),
    request_body = Draft,
    responses((status = 200, body = TemplateLine),
        (status = 400, description = "Refused: `error` is `invalid_template`, `field` the part (subject, html, text, sms)", body = relance::api_error::ErrorBody)))]
pub async fn put(
    State(state): State<PortalState>,
    caller: Caller,
    Path((kind, locale)): Path<(String, String)>,
    Params(query): Params<ScopeQuery>,
    Body(draft): Body<Draft>,
) -> Result<Json<TemplateLine>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let (kind, locale, scope) = target(&kind, &locale, &query)?;
    check(kind, &locale, &draft)?;
    let saved = save(&state, &caller, kind, locale, scope, Some(draft)).await?;
    line(saved.kind, &saved.language, saved.scope.clone(), Some(&saved)).map(Json).ok_or_else(ApiError::not_found)
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
    let saved = save(&state, &caller, kind, locale, scope, None).await?;
    line(saved.kind, &saved.language, saved.scope.clone(), Some(&saved)).map(Json).ok_or_else(ApiError::not_found)
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
    Ok(Json(Preview {
        locale: language,
        subject: message.subject,
        text: message.text,
        html: message.html,
        sms: message.sms,
        sms_segments,
        sms_encoding,
        channel,
    }))
}

/// The name and member-space address messages carry, as dispatch reads them.
fn branding() -> Branding {
    Branding {
        business: relance::config::var("RELANCE_BUSINESS_NAME").unwrap_or_else(|| "Relance".into()),
        portal_url: relance::config::web_address("RELANCE_PORTAL_URL").ok().flatten().unwrap_or_else(|| "http://127.0.0.1:3000".into()),
    }
}
