//! The admins' page: the follow-up list, KPIs, pausing, resending, inviting.

use super::*;

pub async fn admin(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Admin])?;
    let caller = visitor.caller.clone();
    let follow_up = admin::follow_up(State(state.clone()), caller.clone(), page_query(50)).await?.0;
    // Imports of the last week that failed or left rows out: someone fixes the file.
    let week_ago = Utc::now() - chrono::Duration::days(7);
    let imports: Vec<_> = crate::api::files::recent_imports(&state)
        .await?
        .into_iter()
        .filter(|i| i.needs_a_person(Utc::now()) && i.started_at >= week_ago)
        .collect();
    let today = Utc::now().date_naive();
    let first = today.with_day(1).unwrap_or(today);
    let from = note.from.as_deref().and_then(|d| d.parse().ok()).unwrap_or(first);
    let to = note.to.as_deref().and_then(|d| d.parse().ok()).unwrap_or(today);
    let kpis = dashboards::kpis(State(state.clone()), caller, Params(Period { from, to })).await.map(|k| k.0).ok();
    let steps: Vec<(String, i64)> =
        kpis.iter().flat_map(|k| &k.paid_after_step).map(|s| (s.step.to_string(), i64::from(s.invoices))).collect();
    let who = language(&state, &visitor.caller).await?;
    let words = i18n::table(who.0);
    let funnel = bar_chart(
        &Chart { id: "funnel", title: words["paid_after_step"], lang: who.0, unit: Unit::Count },
        &steps.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Bars { name: words["paid"], values: steps.iter().map(|(_, v)| *v).collect(), colour: "#2f6b3a" }],
    );
    let sent: Vec<(String, i64)> =
        kpis.iter().flat_map(|k| &k.reminders_sent).map(|(kind, n)| (i18n::status_text(who.0, kind), i64::from(*n))).collect();
    let reminders = bar_chart(
        &Chart { id: "reminders-sent", title: words["reminders_sent"], lang: who.0, unit: Unit::Count },
        &sent.iter().map(|(l, _)| l.clone()).collect::<Vec<_>>(),
        &[Bars { name: words["reminders_sent"], values: sent.iter().map(|(_, v)| *v).collect(), colour: "#1f5f99" }],
    );
    // What is owed by age, in the first currency owed (the business's own, as a rule).
    let aging = kpis.as_ref().and_then(|k| k.aging.first()).map(|a| {
        let labels: Vec<String> = a
            .lines
            .iter()
            .map(|l| words.get(format!("age_{}", l.bucket.as_str()).as_str()).copied().unwrap_or_default().to_string())
            .collect();
        bar_chart(
            &Chart { id: "aging-chart", title: words["aging"], lang: who.0, unit: Unit::Money(a.currency) },
            &labels,
            &[Bars { name: words["age_total"], values: a.lines.iter().map(|l| l.owed.minor_units()).collect(), colour: "#a33b20" }],
        )
    });
    // What the reminders recovered, month by month and by channel, in that currency.
    let recovered = kpis.as_ref().filter(|k| !k.recovered.is_empty()).map(|k| {
        let currency = k.recovered[0].amount.currency();
        let months: Vec<String> =
            k.recovered.iter().map(|r| r.month.to_string()).collect::<std::collections::BTreeSet<_>>().into_iter().collect();
        let by = |channel: relance::domain::Channel| -> Vec<i64> {
            months
                .iter()
                .map(|m| {
                    k.recovered
                        .iter()
                        .filter(|r| r.month.to_string() == *m && r.channel == channel && r.amount.currency() == currency)
                        .map(|r| r.amount.minor_units())
                        .sum()
                })
                .collect()
        };
        bar_chart(
            &Chart { id: "recovered-chart", title: words["recovered"], lang: who.0, unit: Unit::Money(currency) },
            &months,
            &[
                Bars { name: words["channel_email"], values: by(relance::domain::Channel::Email), colour: "#1f5f99" },
                Bars { name: words["channel_sms"], values: by(relance::domain::Channel::Sms), colour: "#2f6b3a" },
            ],
        )
    });
    render(
        &state,
        &visitor,
        Some(who),
        "admin.html",
        &note,
        json!({"follow_up": follow_up.items, "imports": imports, "kpis": kpis, "from": from, "to": to, "funnel": funnel,
            "reminders_chart": reminders, "aging_chart": aging, "recovered_chart": recovered}),
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
    submit(&headers, &form.csrf, "/app/admin", admin::pause_invoice(State(state), visitor.caller, Path(form.invoice.trim().to_string())))
        .await
}

pub async fn resend(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    submit(&headers, &form.csrf, "/app/admin", admin::resend_notification(State(state), visitor.caller, Path(id))).await
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
    let input = Invitation { email: form.email, name: form.name, roles: vec![form.role], customer_id: None, garden: None, locale: None };
    submit(&headers, &form.csrf, "/app/admin", users::invite(State(state), visitor.caller, Body(input))).await
}
