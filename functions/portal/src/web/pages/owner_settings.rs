//! The owner's settings and templates as pages: the ladders as a list of steps to change, add
//! or remove, the sending window, the thresholds and the date rules; the templates listed with
//! an editor beside the preview of the draft for a real customer. The pages carry no script
//! (see the CSP): "preview" is a button that renders the draft next to the form.

use chrono::{NaiveTime, Weekday};
use relance::domain::{CouponPool, ThankYouCoupon};
use relance::notify::owner_templates::Draft;
use relance::schedule::{DateRule, Step, StopWhen};
use relance::settings::Settings;
use relance::store::Record;

use super::*;
use crate::api::settings as settings_api;
use crate::api::templates::{self, PreviewRequest, ScopeQuery, TestRequest};

const WEEKDAYS: [Weekday; 7] = [Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu, Weekday::Fri, Weekday::Sat, Weekday::Sun];
const STEP_KINDS: [&str; 3] = ["invoice_due_soon", "invoice_overdue", "invoice_final_notice"];

async fn settings_page(
    state: &PortalState,
    visitor: &Visitor,
    note: &Note,
    shown: Option<(u64, Settings)>,
    refused: Option<ApiError>,
) -> Result<Response, PageError> {
    let (version, settings) = match shown {
        Some(shown) => shown,
        None => {
            let stored = settings_api::in_force(state).await?;
            (stored.version, stored.settings)
        }
    };
    let thresholds: Vec<String> = settings
        .email_thresholds
        .iter()
        .map(|(currency, minor)| format!("{currency}:{}", relance::domain::Money::from_minor(*minor, *currency).to_decimal_string()))
        .collect();
    let days: Vec<String> = settings.window.days.iter().map(|d| d.to_string()).collect();
    let coupon = coupon_shown(state, settings.thank_you_coupon.as_ref()).await?;
    let data = json!({
        "version": version,
        "settings": settings,
        "steps": settings.invoice,
        "step_kinds": STEP_KINDS,
        "weekdays": WEEKDAYS.iter().map(|d| d.to_string()).collect::<Vec<_>>(),
        "days": days,
        "card_days": join(&settings.card_days_before_expiry),
        "renewal_days": join(&settings.renewal_days_before_end),
        "thresholds": thresholds.join(", "),
        "date_rules": serde_json::to_string_pretty(&settings.date_rules).unwrap_or_default(),
        "rules": settings.date_rules,
        "late_rate": settings.late_payment.map(|l| format!("{}.{:02}", l.rate_basis_points / 100, l.rate_basis_points % 100)),
        "formal_notice": settings.formal_notice,
        "calendar": serde_json::to_string_pretty(&settings.calendar).unwrap_or_default(),
        "deadlines": settings.calendar,
        "coupon": coupon,
        "refused": refused.as_ref().map(|e| json!({"field": e.field(), "message": e.message()})),
    });
    render(state, visitor, None, "admin_settings.html", note, data).await
}

/// The thank-you coupon as the form shows it, with how many codes of a list are handed out.
async fn coupon_shown(state: &PortalState, coupon: Option<&ThankYouCoupon>) -> Result<Value, PageError> {
    Ok(match coupon {
        None => json!({"kind": "off"}),
        Some(ThankYouCoupon::Fixed { code }) => json!({"kind": "fixed", "code": code}),
        Some(list @ ThankYouCoupon::PerOrder { codes }) => {
            let pool = CouponPool::new(list.pool_id().unwrap_or_default());
            let handed_out = state.store.get::<CouponPool>(&pool.key()).await.map_err(ApiError::from)?.map_or(0, |p| p.handed_out);
            json!({"kind": "per_order", "codes": codes.join("\n"), "handed_out": handed_out, "total": codes.len()})
        }
    })
}

/// The coupon part of the form: off, one code, or a list (one per line, or separated by
/// commas or spaces).
fn coupon_from_form(form: &[(String, String)]) -> Result<Option<ThankYouCoupon>, ApiError> {
    match value(form, "coupon_kind") {
        "" | "off" => Ok(None),
        "fixed" => Ok(Some(ThankYouCoupon::Fixed { code: value(form, "coupon_code").to_string() })),
        "per_order" => {
            let codes =
                value(form, "coupon_codes").split([',', ' ', '\n', '\r', '\t']).filter(|c| !c.is_empty()).map(str::to_string).collect();
            Ok(Some(ThankYouCoupon::PerOrder { codes }))
        }
        _ => Err(refused("thank_you_coupon.kind", "the coupon: off, fixed or per_order")),
    }
}

fn join(days: &[i64]) -> String {
    days.iter().map(i64::to_string).collect::<Vec<_>>().join(", ")
}

pub async fn admin_settings(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    settings_page(&state, &visitor, &note, None, None).await
}

/// The form's fields, in order (steps repeat, days are checkboxes).
fn values<'a>(form: &'a [(String, String)], name: &str) -> Vec<&'a str> {
    form.iter().filter(|(k, _)| k == name).map(|(_, v)| v.trim()).collect()
}

fn value<'a>(form: &'a [(String, String)], name: &str) -> &'a str {
    values(form, name).first().copied().unwrap_or_default()
}

fn refused(field: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid("invalid_settings", field, message)
}

fn day_list(text: &str, field: &str) -> Result<Vec<i64>, ApiError> {
    text.split([',', ' '])
        .filter(|d| !d.is_empty())
        .map(|d| d.parse::<i64>().map_err(|_| refused(field, format!("{field}: days as 30, 7"))))
        .collect()
}

/// The settings the form describes: the steps kept (a removed one left out, a new one added,
/// in the order of their days), the window, thresholds, rules, and a new rule if one was typed.
fn from_form(form: &[(String, String)]) -> Result<Settings, ApiError> {
    let removed = values(form, "step_remove");
    let mut invoice = Vec::new();
    for (index, (days, kind)) in values(form, "step_days").into_iter().zip(values(form, "step_kind")).enumerate() {
        if removed.contains(&index.to_string().as_str()) {
            continue;
        }
        let field = format!("invoice[{index}].offset_days");
        let offset_days = days.parse::<i64>().map_err(|_| refused(&field, format!("{field}: a number of days (−3, 7)")))?;
        let kind = serde_json::from_value(json!(kind)).map_err(|_| refused(&format!("invoice[{index}].kind"), "an invoice message"))?;
        invoice.push(Step { offset_days, kind });
    }
    if let Some(days) = Some(value(form, "new_step_days")).filter(|d| !d.is_empty()) {
        let offset_days = days.parse::<i64>().map_err(|_| refused("new_step_days", "the new step's days: a number (10)"))?;
        let kind =
            serde_json::from_value(json!(value(form, "new_step_kind"))).map_err(|_| refused("new_step_kind", "an invoice message"))?;
        invoice.push(Step { offset_days, kind });
    }
    invoice.sort_by_key(|s| s.offset_days);
    let time = |name: &str| {
        NaiveTime::parse_from_str(value(form, name), "%H:%M")
            .or_else(|_| NaiveTime::parse_from_str(value(form, name), "%H:%M:%S"))
            .map_err(|_| refused(if name == "reminder_time" { "reminder_time" } else { "window" }, format!("{name}: a time as 09:00")))
    };
    let days = values(form, "days")
        .into_iter()
        .map(|d| d.parse::<Weekday>().map_err(|_| refused("window", "window: days as Mon, Tue")))
        .collect::<Result<Vec<_>, _>>()?;
    let policy = relance::notify::ChannelPolicy::parse_thresholds(value(form, "thresholds"))
        .map_err(|e| refused("email_thresholds", format!("email_thresholds: {e} (EUR:50.00)")))?;
    let calendar_text = value(form, "calendar");
    let calendar = if calendar_text.trim().is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(calendar_text).map_err(|e| refused("calendar", format!("calendar: {e}")))?
    };
    let rules_text = value(form, "date_rules");
    let mut date_rules: Vec<DateRule> = if rules_text.is_empty() {
        Vec::new()
    } else {
        serde_json::from_str(rules_text).map_err(|e| refused("date_rules", format!("date_rules: {e}")))?
    };
    if let Some(name) = Some(value(form, "rule_name")).filter(|n| !n.is_empty()) {
        let offset_days =
            value(form, "rule_days").parse::<i64>().map_err(|_| refused("rule_days", "the new rule's days: a number (80)"))?;
        let given = |name: &str| Some(value(form, name)).filter(|v| !v.is_empty()).map(str::to_string);
        let team_email = given("rule_team_email")
            .map(|e| relance::domain::Email::parse(&e).map_err(|_| refused("rule_team_email", "the team's address: an email address")))
            .transpose()?;
        date_rules.push(DateRule {
            name: name.to_string(),
            date_field: value(form, "rule_field").to_string(),
            offset_days,
            audience_list: given("rule_list"),
            audience_tag: given("rule_tag"),
            stop_when: given("rule_stop_registered").map(|kind| StopWhen { registered_to: Some(kind), ..StopWhen::default() }),
            notify_team: team_email.is_some(),
            team_email,
            ..DateRule::default()
        });
    }
    Ok(Settings {
        invoice,
        card_days_before_expiry: day_list(value(form, "card_days"), "card_days_before_expiry")?,
        renewal_days_before_end: day_list(value(form, "renewal_days"), "renewal_days_before_end")?,
        date_rules,
        reminder_time: time("reminder_time")?,
        window: relance::schedule::SendingWindow { opens: time("opens")?, closes: time("closes")?, days },
        email_thresholds: policy.email_from.iter().map(|(currency, amount)| (*currency, amount.minor_units())).collect(),
        late_payment: late_payment(value(form, "late_rate"))?,
        formal_notice: value(form, "formal_notice") == "on",
        calendar,
        thank_you_coupon: coupon_from_form(form)?,
    })
}

/// A yearly rate typed as `14.15` (percent): the business customers' penalties; blank: off.
fn late_payment(text: &str) -> Result<Option<relance::domain::LatePaymentTerms>, ApiError> {
    if text.is_empty() {
        return Ok(None);
    }
    let refused = || refused("late_payment.rate_basis_points", "the penalty rate: a yearly percentage, as 14.15");
    let hundredths =
        relance::domain::Money::parse_decimal(&text.replace(',', "."), relance::domain::Currency::EUR).map_err(|_| refused())?;
    let rate_basis_points = u32::try_from(hundredths.minor_units()).ok().filter(|bp| *bp > 0).ok_or_else(refused)?;
    Ok(Some(relance::domain::LatePaymentTerms { rate_basis_points, indemnity_minor: 4000 }))
}

pub async fn admin_save_settings(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    check_csrf(&headers, value(&form, "csrf"))?;
    let version = value(&form, "version").parse::<u64>().unwrap_or(0);
    let settings = match from_form(&form) {
        Ok(settings) => settings,
        Err(e) => return settings_page(&state, &visitor, &Note::default(), None, Some(e)).await,
    };
    match settings_api::save(&state, &visitor.caller, version, settings.clone()).await {
        Ok(_) => Ok(redirect("/app/admin/settings?done=1")),
        // Refused: the page again, with what was typed and why.
        Err(e) if e.status() == axum::http::StatusCode::BAD_REQUEST => {
            settings_page(&state, &visitor, &Note::default(), Some((version, settings)), Some(e)).await
        }
        Err(e) if e.status() == axum::http::StatusCode::PRECONDITION_FAILED => {
            settings_page(&state, &visitor, &Note::default(), None, Some(e)).await
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct TemplateChoice {
    kind: Option<String>,
    locale: Option<String>,
    step: Option<u32>,
    rule: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct TemplateForm {
    csrf: String,
    kind: String,
    locale: String,
    #[serde(default)]
    step: String,
    #[serde(default)]
    rule: String,
    // A revert's form carries no text.
    #[serde(default)]
    subject: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    sms: String,
    #[serde(default)]
    html: String,
    #[serde(default)]
    customer_id: String,
    #[serde(default)]
    invoice_id: String,
    /// The template's version the editor showed (a save over a newer one is refused), or the
    /// version to go back to.
    #[serde(default)]
    version: String,
    action: String,
}

impl TemplateForm {
    fn draft(&self) -> Draft {
        let html = Some(self.html.trim()).filter(|h| !h.is_empty()).map(str::to_string);
        Draft { subject: self.subject.clone(), html, text: self.text.replace("\r\n", "\n"), sms: self.sms.clone() }
    }

    fn scope(&self) -> ScopeQuery {
        ScopeQuery { step: self.step.trim().parse().ok(), rule: Some(self.rule.trim().to_string()).filter(|r| !r.is_empty()) }
    }
}

#[allow(clippy::too_many_arguments)]
async fn templates_page(
    state: &PortalState,
    visitor: &Visitor,
    note: &Note,
    choice: &TemplateChoice,
    draft: Option<Draft>,
    preview: Option<Value>,
    refused: Option<ApiError>,
    customer: (&str, &str),
) -> Result<Response, PageError> {
    let list = templates::list(State(state.clone()), visitor.caller.clone()).await?.0;
    let kind = choice.kind.as_deref().unwrap_or("invoice_overdue");
    let locale = choice.locale.as_deref().unwrap_or("fr");
    let scope = match (&choice.step, &choice.rule) {
        (Some(step), _) => json!({"applies_to": "step", "value": step}),
        (None, Some(rule)) if !rule.is_empty() => json!({"applies_to": "rule", "value": rule}),
        _ => json!({"applies_to": "all"}),
    };
    let listed = |t: &&templates::TemplateLine| {
        t.kind.as_str() == kind && t.locale == locale && serde_json::to_value(&t.scope).ok().as_ref() == Some(&scope)
    };
    let kind_line = list
        .templates
        .iter()
        .find(|t| t.kind.as_str() == kind && t.locale == locale && t.scope == relance::notify::owner_templates::Scope::All);
    let selected = list.templates.iter().find(listed).or(kind_line);
    let draft = draft.or_else(|| selected.map(|t| t.draft.clone()));
    let history =
        match templates::target(kind, locale, &ScopeQuery { step: choice.step, rule: choice.rule.clone().filter(|r| !r.is_empty()) }) {
            Ok((kind, locale, scope)) => {
                let page = crate::api::me::PageQuery { cursor: None, limit: Some(10) };
                let id = relance::notify::owner_templates::OwnerTemplate::id(kind, &locale, &scope);
                crate::api::audit::page_of(state, "Template", &id, &page).await?.entries
            }
            Err(_) => Vec::new(),
        };
    let data = json!({
        "version": selected.filter(|t| listed(t)).map_or(0, |t| t.version),
        "history": history,
        "templates": list.templates,
        "kind": kind,
        "locale": locale,
        "step": choice.step,
        "rule": choice.rule,
        "source": selected.filter(|t| listed(t)).map(|t| t.source).unwrap_or("default"),
        "variables": selected.map(|t| t.variables.clone()).unwrap_or_default(),
        "draft": draft,
        "preview": preview,
        "refused": refused.as_ref().map(|e| json!({"field": e.field(), "message": e.message()})),
        "customer_id": customer.0,
        "invoice_id": customer.1,
    });
    render(state, visitor, None, "admin_templates.html", note, data).await
}

pub async fn admin_templates(
    State(state): State<PortalState>,
    visitor: Visitor,
    Query(choice): Query<TemplateChoice>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    templates_page(&state, &visitor, &note, &choice, None, None, None, ("", "")).await
}

/// Preview, save or go back to the default, from the editor.
pub async fn admin_template_action(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<TemplateForm>,
) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    check_csrf(&headers, &form.csrf)?;
    let scope = form.scope();
    let choice =
        TemplateChoice { kind: Some(form.kind.clone()), locale: Some(form.locale.clone()), step: scope.step, rule: scope.rule.clone() };
    let back = format!(
        "/app/admin/templates?kind={}&locale={}{}{}",
        url_encode(&form.kind),
        url_encode(&form.locale),
        scope.step.map(|s| format!("&step={s}")).unwrap_or_default(),
        scope.rule.as_deref().map(|r| format!("&rule={}", url_encode(r))).unwrap_or_default(),
    );
    let customer = (form.customer_id.trim(), form.invoice_id.trim());
    let caller = visitor.caller.clone();
    match form.action.as_str() {
        "preview" => {
            let request = PreviewRequest {
                kind: form.kind.clone(),
                draft: form.draft(),
                customer_id: customer.0.to_string(),
                invoice_id: Some(customer.1.to_string()).filter(|i| !i.is_empty()),
                step: scope.step,
            };
            let (preview, refused) = match templates::preview(State(state.clone()), caller, Body(request)).await {
                Ok(Json(preview)) => (serde_json::to_value(preview).ok(), None),
                Err(e) => (None, Some(e)),
            };
            templates_page(&state, &visitor, &Note::default(), &choice, Some(form.draft()), preview, refused, customer).await
        }
        "reset" => {
            let done = templates::reset(State(state.clone()), caller, Path((form.kind.clone(), form.locale.clone())), Params(scope)).await;
            Ok(super::back(&back, done.map(|_| ())))
        }
        "test" => {
            let request = TestRequest {
                kind: form.kind.clone(),
                draft: form.draft(),
                customer_id: customer.0.to_string(),
                invoice_id: Some(customer.1.to_string()).filter(|i| !i.is_empty()),
                step: scope.step,
                channel: None,
            };
            match templates::test(State(state.clone()), caller, Body(request)).await {
                Ok(_) => Ok(redirect(&format!("{back}&done=test"))),
                Err(e) => templates_page(&state, &visitor, &Note::default(), &choice, Some(form.draft()), None, Some(e), customer).await,
            }
        }
        "revert" => {
            let version = form.version.trim().parse::<u64>().map_err(|_| PageError::from(ApiError::bad_request("version: a number")))?;
            let query = templates::RevertQuery { version, step: scope.step, rule: scope.rule.clone() };
            let done = templates::revert(State(state.clone()), caller, Path((form.kind.clone(), form.locale.clone())), Params(query)).await;
            Ok(super::back(&back, done.map(|_| ())))
        }
        _ => {
            match templates::write(&state, &caller, &form.kind, &form.locale, &scope, form.draft(), form.version.trim().parse().ok()).await
            {
                Ok(_) => Ok(redirect(&format!("{back}&done=1"))),
                Err(e)
                    if e.status() == axum::http::StatusCode::BAD_REQUEST || e.status() == axum::http::StatusCode::PRECONDITION_FAILED =>
                {
                    templates_page(&state, &visitor, &Note::default(), &choice, Some(form.draft()), None, Some(e), customer).await
                }
                Err(e) => Err(e.into()),
            }
        }
    }
}
