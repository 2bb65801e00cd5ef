//! The member's pages: home (what needs attention), invoices, garden and events, messages, profile.

use super::*;

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
