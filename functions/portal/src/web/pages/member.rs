//! The member's pages: home (what needs attention), invoices, garden and events, messages, profile.

use super::*;

/// What needs the member's attention, for the home page: each list chosen by the domain's
/// rules (what is owed; the ladders' first card and renewal reminders), not by the page.
#[derive(Debug, Default, Serialize)]
struct Attention {
    unpaid: Vec<me::InvoiceView>,
    cards: Vec<me::CardView>,
    renewals: Vec<me::SubscriptionView>,
    next_event: Option<community::EventView>,
}

/// Home: what needs the member's attention. A billed member's page costs three reads
/// whatever the number of invoices: their account (with the events they attend), their
/// customer partition, and the upcoming events.
pub async fn home(
    State(state): State<PortalState>,
    visitor: Result<Visitor, PageError>,
    Query(note): Query<Note>,
) -> Result<Response, PageError> {
    let Ok(visitor) = visitor else { return Ok(redirect("/sign-in")) };
    let caller = visitor.caller.clone();
    let now = Utc::now();
    let mut attention = Attention::default();
    let billed = BILLED.iter().any(|r| caller.has(*r));
    // A billed caller whose account names no customer yet sees the page without bills.
    let file = if billed {
        match me::MemberFile::read(&state, &caller).await {
            Ok(file) => Some(file),
            Err(e) if e.status() == axum::http::StatusCode::NOT_FOUND => None,
            Err(e) => return Err(e.into()),
        }
    } else {
        None
    };
    let (account, attending) = match &file {
        Some(file) => (Some(file.account.clone()), file.attending.clone()),
        None => me::account_and_attendance(&state, &caller.user).await?,
    };
    let who = match &file {
        Some(file) => (i18n::language_of(&file.customer.locale), file.me(&caller)),
        None => language_for(&state, &caller, account.as_ref()).await?,
    };
    if let Some(file) = &file {
        let settings = state.settings.current().await.map_err(ApiError::from)?;
        let ladders = &settings.ladders;
        let terms = me::terms_for(&state, &file.customer).await?;
        if let Ok(page) = file.invoice_page(terms.as_ref(), None, 50, now) {
            attention.unpaid = page.invoices.into_iter().filter(|i| i.owed).collect();
        }
        // The member's own calendar day, as the card reminders count days.
        let today = now.with_timezone(&zone_of(&state, &who.1)).date_naive();
        if let Ok(cards) = file.card_list() {
            attention.cards = cards.payment_methods.into_iter().filter(|c| ladders.card_is_expiring(c.expiry, today)).collect();
        }
        if let Ok(page) = file.subscription_page(None, 20) {
            attention.renewals = page
                .subscriptions
                .into_iter()
                .filter(|s| !s.cancel_at_period_end && ladders.renewal_is_near(s.current_period_end, now))
                .collect();
        }
    }
    if let Ok(page) =
        community::events_page(&state, &caller, account.as_ref(), &attending, &me::PageQuery { cursor: None, limit: Some(50) }).await
    {
        attention.next_event = page.events.into_iter().find(|e| e.registered);
    }
    render(&state, &visitor, Some(who), "home.html", &note, json!(attention)).await
}

/// The member's invoices, subscriptions and cards: two reads (the account, the customer's partition).
pub async fn invoices(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let caller = visitor.caller.clone();
    caller.require_any(&BILLED).map_err(PageError::from)?;
    let file = me::MemberFile::read(&state, &caller).await?;
    let terms = me::terms_for(&state, &file.customer).await?;
    let invoices = file.invoice_page(terms.as_ref(), None, 50, Utc::now())?;
    let subscriptions = file.subscription_page(None, 20)?;
    let cards = file.card_list()?;
    let who = (i18n::language_of(&file.customer.locale), file.me(&caller));
    render(
        &state,
        &visitor,
        Some(who),
        "invoices.html",
        &note,
        json!({"invoices": invoices.invoices, "subscriptions": subscriptions.subscriptions, "cards": cards.payment_methods}),
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
        Ok(Json(page)) => Ok(redirect(&page.url)),
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
        Ok(Json(page)) => Ok(redirect(&page.url)),
        Err(e) => Ok(back("/app/invoices", Err(e))),
    }
}

/// The garden and events: the account with the events attended (one Query), the garden
/// ([`community::garden`]: two to three reads), everyone's news and the upcoming events.
pub async fn garden(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let caller = visitor.caller.clone();
    let (account, attending) = me::account_and_attendance(&state, &caller.user).await?;
    let mut data = json!({});
    if let Some(account) = &account
        && let Some(garden) = community::garden(&state, &caller, account, 10).await?
    {
        data["current"] = json!(garden.current);
        data["site"] = json!(garden.site);
        data["harvests"] = json!(garden.recent);
    }
    let news = community::list_news(
        State(state.clone()),
        caller.clone(),
        Params(community::NewsQuery { site: None, cursor: None, limit: Some(5) }),
    )
    .await?
    .0;
    let events =
        community::events_page(&state, &caller, account.as_ref(), &attending, &me::PageQuery { cursor: None, limit: Some(50) }).await?;
    data["news"] = json!(news.news);
    data["events"] = json!(events.events);
    let who = language_for(&state, &caller, account.as_ref()).await?;
    render(&state, &visitor, Some(who), "garden.html", &note, data).await
}

pub async fn register(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    submit(&headers, &form.csrf, &format!("/app/garden#event-{id}"), community::register(State(state), visitor.caller, Path(id.clone())))
        .await
}

pub async fn cancel(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfOnly>,
) -> Result<Response, PageError> {
    submit(&headers, &form.csrf, &format!("/app/garden#event-{id}"), community::unregister(State(state), visitor.caller, Path(id.clone())))
        .await
}

pub async fn messages(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    let query = MessagesQuery { member: note.member.clone().filter(|_| visitor.caller.has(Role::Admin)), cursor: None, limit: Some(50) };
    let listed = messages::list(State(state.clone()), visitor.caller.clone(), Params(query)).await?.0;
    render(&state, &visitor, None, "messages.html", &note, json!(listed)).await
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
    submit(&headers, &form.csrf, "/app/messages", messages::to_support(State(state), visitor.caller, Body(NewMessage { body: form.body })))
        .await
}

pub async fn answer(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(member): Path<String>,
    Form(form): Form<MessageForm>,
) -> Result<Response, PageError> {
    let to = format!("/app/messages?member={}", url_encode(&member));
    submit(&headers, &form.csrf, &to, messages::to_member(State(state), visitor.caller, Path(member), Body(NewMessage { body: form.body })))
        .await
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
    Ok(back("/app/profile", profile::update_me(State(state), visitor.caller, Body(change)).await.map(|_| ())))
}

#[derive(Deserialize)]
pub struct EraseForm {
    csrf: String,
    /// The box that says the member understands what goes and what stays.
    #[serde(default)]
    confirm: Option<String>,
}

/// Erasure from the profile page, once the member ticked the box that says what it does: on
/// success they are signed out (their account is closed); while something is owed, the
/// page says why not.
pub async fn erase(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Form(form): Form<EraseForm>,
) -> Result<Response, PageError> {
    check_csrf(&headers, &form.csrf)?;
    if form.confirm.as_deref() != Some("yes") {
        return Ok(back("/app/profile#erase", Err(ApiError::bad_request("confirm: tick the box to erase your data"))));
    }
    match profile::erase_me(State(state.clone()), visitor.caller).await {
        Ok(_) => Ok(with_cookies(
            redirect("/sign-in?done=erased"),
            vec![set_cookie(SESSION_COOKIE, "", SameSite::Lax, 0, secure_cookies(&state))],
        )),
        Err(e) if e.status() == axum::http::StatusCode::CONFLICT => Ok(back("/app/profile#erase", Err(e))),
        Err(e) => Err(e.into()),
    }
}

/// The GDPR export, as a file.
/// A customer's export, downloaded from their file by the team (to answer a data request).
pub async fn admin_customer_export(
    State(state): State<PortalState>,
    visitor: Visitor,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let data = profile::admin_export(State(state), visitor.caller, Path(id.clone())).await?.0;
    let body = serde_json::to_string_pretty(&data).map_err(|e| PageError::internal(e.to_string()))?;
    let disposition =
        format!("attachment; filename=\"customer-{}.json\"", id.chars().filter(char::is_ascii_alphanumeric).collect::<String>());
    Ok(([(CONTENT_TYPE, "application/json".to_string()), (CONTENT_DISPOSITION, disposition)], body).into_response())
}

pub async fn export(State(state): State<PortalState>, visitor: Visitor) -> Result<Response, PageError> {
    let data = profile::export(State(state), visitor.caller).await?.0;
    let body = serde_json::to_string_pretty(&data).map_err(|e| PageError::internal(e.to_string()))?;
    Ok(([(CONTENT_TYPE, "application/json"), (CONTENT_DISPOSITION, "attachment; filename=\"my-data.json\"")], body).into_response())
}
