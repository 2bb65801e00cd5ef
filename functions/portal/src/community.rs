//! Gardens, harvests, news and events. Who may see or change what is decided by
//! [`relance::domain::Viewer`]; this module reads the records, asks, and writes.
//! A record the caller may not see answers 404, exactly like one that does not exist.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Attempt, Key, StoreError, format_instant, until_done};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::{Caller, Role};
use crate::input::{Body, Params, text};
use crate::me::PageQuery;

/// The facts about the caller that decide what they see: roles from the token, their
/// garden from their account.
async fn viewer(state: &PortalState, caller: &Caller) -> Result<(Viewer, Option<Account>), ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let viewer = Viewer {
        user: caller.user.clone(),
        admin: caller.has(Role::Admin),
        b2b: caller.has(Role::MemberB2b),
        garden: account.as_ref().and_then(|a| a.garden.as_ref()).map(|g| g.site.clone()),
    };
    Ok((viewer, account))
}

fn site_id(id: &str) -> Result<SiteId, ApiError> {
    // An id that cannot exist is "not found", not a validation error: ids are not secrets.
    SiteId::parse(id).map_err(|_| ApiError::not_found())
}

async fn site(state: &PortalState, id: &SiteId) -> Result<Site, ApiError> {
    state.store.get(&Key::site(id)).await?.ok_or_else(ApiError::not_found)
}

/// A site the caller may see, or 404.
async fn visible_site(state: &PortalState, viewer: &Viewer, id: &str) -> Result<Site, ApiError> {
    let site = site(state, &site_id(id)?).await?;
    if viewer.may_see_site(&site) { Ok(site) } else { Err(ApiError::not_found()) }
}

/// The sites the caller farms (one short partition read, only for farmers).
async fn farmed_sites(state: &PortalState, caller: &Caller) -> Result<BTreeSet<SiteId>, ApiError> {
    if !caller.has(Role::Farmer) {
        return Ok(BTreeSet::new());
    }
    let sites = state.store.list::<Site>(Key::SITES, None, 100).await?.records;
    Ok(sites.into_iter().filter(|s| s.farmers.contains(&caller.user)).map(|s| s.id).collect())
}

fn next(page_next: Option<relance::store::Cursor>) -> Option<String> {
    page_next.map(|c| c.as_str().to_string())
}

/// The member's garden: the site, its farmers, the caller's plot there, and recent news.
pub async fn get_site(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (viewer, account) = viewer(&state, &caller).await?;
    let site = visible_site(&state, &viewer, &id).await?;
    let plot = account.and_then(|a| a.garden).filter(|g| g.site == site.id).map(|g| g.plot);
    let news = state.store.list_latest::<News>(&Key::news_partition(Some(&site.id)), None, 5).await?.records;
    Ok(Json(json!({
        "id": site.id, "name": site.name, "address": site.address,
        "farmers": site.farmer_names, "plot": plot,
        "you_farm_it": viewer.farms(&site),
        "news": news.iter().map(news_view).collect::<Vec<_>>(),
    })))
}

pub async fn list_harvests(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(page): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (viewer, _) = viewer(&state, &caller).await?;
    let site = visible_site(&state, &viewer, &id).await?;
    let listed = state.store.list_latest::<Harvest>(&Key::site_partition(&site.id), page.cursor()?.as_ref(), page.limit()).await?;
    let harvests: Vec<Value> =
        listed.records.iter().map(|h| json!({"id": h.id, "date": h.date, "crop": h.crop, "grams": h.grams, "note": h.note})).collect();
    Ok(Json(json!({ "harvests": harvests, "next": next(listed.next) })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewHarvest {
    pub date: NaiveDate,
    pub crop: String,
    pub grams: u64,
    #[serde(default)]
    pub note: String,
}

/// The heaviest harvest we believe is not a typo: ten tonnes.
const MAX_GRAMS: u64 = 10_000_000;

pub async fn post_harvest(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<NewHarvest>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_any(&[Role::Farmer, Role::Admin])?;
    let (viewer, _) = viewer(&state, &caller).await?;
    let site = visible_site(&state, &viewer, &id).await?;
    if !viewer.may_manage_site(&site) {
        return Err(ApiError::forbidden());
    }
    let now = Utc::now();
    if input.date > now.date_naive() + Duration::days(1) {
        return Err(ApiError::bad_request("date is in the future"));
    }
    if input.grams == 0 || input.grams > MAX_GRAMS {
        return Err(ApiError::bad_request(format!("grams must be between 1 and {MAX_GRAMS}")));
    }
    let mut harvest = Harvest {
        id: HarvestId::generate(),
        site_id: site.id,
        date: input.date,
        crop: text("crop", &input.crop, 100)?,
        grams: input.grams,
        note: input.note.trim().chars().take(1000).collect(),
        posted_by: caller.user.clone(),
        posted_at: now,
        version: 0,
    };
    state.store.insert(&mut harvest).await?;
    Ok((StatusCode::CREATED, Json(json!({"id": harvest.id, "date": harvest.date, "crop": harvest.crop, "grams": harvest.grams}))))
}

fn news_view(n: &News) -> Value {
    json!({"id": n.id, "site": n.site, "title": n.title, "body": n.body, "published_at": n.published_at})
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewsQuery {
    pub site: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<i32>,
}

/// News for everyone, or for one site the caller may see (`?site=`), newest first.
pub async fn list_news(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<NewsQuery>,
) -> Result<Json<Value>, ApiError> {
    let partition = match &query.site {
        Some(id) => {
            let (viewer, _) = viewer(&state, &caller).await?;
            Key::news_partition(Some(&visible_site(&state, &viewer, id).await?.id))
        }
        None => Key::news_partition(None),
    };
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let listed = state.store.list_latest::<News>(&partition, page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(json!({ "news": listed.records.iter().map(news_view).collect::<Vec<_>>(), "next": next(listed.next) })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNews {
    pub title: String,
    pub body: String,
    /// A site's news (its farmer or an admin); none is everyone's news (admins only).
    pub site: Option<String>,
}

pub async fn post_news(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewNews>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_any(&[Role::Farmer, Role::Admin])?;
    let site = match &input.site {
        Some(id) => {
            let (viewer, _) = viewer(&state, &caller).await?;
            let site = visible_site(&state, &viewer, id).await?;
            if !viewer.may_manage_site(&site) {
                return Err(ApiError::forbidden());
            }
            Some(site.id)
        }
        None if caller.has(Role::Admin) => None,
        None => return Err(ApiError::forbidden()),
    };
    let mut news = News {
        id: NewsId::generate(),
        site,
        title: text("title", &input.title, 200)?,
        body: text("body", &input.body, 10_000)?,
        author: caller.user.clone(),
        published_at: Utc::now(),
        version: 0,
    };
    state.store.insert(&mut news).await?;
    Ok((StatusCode::CREATED, Json(news_view(&news))))
}

fn event_view(e: &Event, registered: bool) -> Value {
    json!({
        "id": e.id, "title": e.title, "description": e.description, "starts_at": e.starts_at,
        "location": e.location, "audience": e.audience, "capacity": e.capacity,
        "places_left": e.places_left(), "registered": registered,
    })
}

/// The events the caller has an active registration for.
async fn my_events(state: &PortalState, user: &str) -> Result<BTreeSet<EventId>, ApiError> {
    let attending = state.store.list_all::<Attendance>(&Key::account(user).pk).await?;
    Ok(attending.into_iter().filter(|a| a.active).map(|a| a.event_id).collect())
}

/// Upcoming events the caller may see, soonest first. A page may hold fewer than `limit`
/// events (those the caller may not see are left out); `next` continues.
pub async fn list_events(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (viewer, _) = viewer(&state, &caller).await?;
    let farmed = farmed_sites(&state, &caller).await?;
    let mine = my_events(&state, &caller.user).await?;
    let listed = state.store.list_from::<Event>(Key::EVENTS, &format_instant(Utc::now()), page.cursor()?.as_ref(), page.limit()).await?;
    let events: Vec<Value> =
        listed.records.iter().filter(|e| viewer.may_see_event(e, &farmed)).map(|e| event_view(e, mine.contains(&e.id))).collect();
    Ok(Json(json!({ "events": events, "next": next(listed.next) })))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewEvent {
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub location: String,
    #[schema(value_type = AudienceInput)]
    pub audience: Audience,
    pub capacity: Option<u32>,
}

/// The audience as the OpenAPI document describes it (the domain's [`Audience`] is what is read).
#[derive(utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[allow(dead_code)]
pub enum AudienceInput {
    Public,
    Site { site: String },
    B2b,
}

/// When the eve-of-event reminder goes: 24 hours before the start (the scan's quiet hours
/// then move it into the customer's sending window).
pub const REMINDER_BEFORE: Duration = Duration::hours(24);

pub async fn create_event(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewEvent>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    caller.require_any(&[Role::Farmer, Role::Admin])?;
    // A farmer creates events for a site they farm; public and B2B events are the admins'.
    if !caller.has(Role::Admin) {
        let Audience::Site { site: id } = &input.audience else { return Err(ApiError::forbidden()) };
        let (viewer, _) = viewer(&state, &caller).await?;
        let site = visible_site(&state, &viewer, id.as_str()).await?;
        if !viewer.may_manage_site(&site) {
            return Err(ApiError::forbidden());
        }
    } else if let Audience::Site { site: id } = &input.audience {
        site(&state, id).await.map_err(|_| ApiError::bad_request("audience.site: no such site"))?;
    }
    let now = Utc::now();
    if input.starts_at <= now {
        return Err(ApiError::bad_request("starts_at must be in the future"));
    }
    if input.capacity == Some(0) {
        return Err(ApiError::bad_request("capacity must be at least 1 (leave it out for no limit)"));
    }
    let reminder_at = input.starts_at - REMINDER_BEFORE;
    let mut event = Event {
        id: EventId::generate(),
        title: text("title", &input.title, 200)?,
        description: input.description.trim().chars().take(5000).collect(),
        starts_at: input.starts_at,
        location: text("location", &input.location, 300)?,
        audience: input.audience,
        capacity: input.capacity,
        registered: 0,
        created_by: caller.user.clone(),
        reminder_at: (reminder_at > now).then_some(reminder_at),
        version: 0,
    };
    state.store.insert(&mut event).await?;
    Ok((StatusCode::CREATED, Json(event_view(&event, false))))
}

/// An event the caller may see, or 404.
async fn visible_event(state: &PortalState, caller: &Caller, id: &str) -> Result<(Event, Viewer, Option<Account>), ApiError> {
    let id = EventId::parse(id).map_err(|_| ApiError::not_found())?;
    let key = state.store.find_by_id::<Event>(id.as_str()).await?.ok_or_else(ApiError::not_found)?;
    let event: Event = state.store.get(&key).await?.ok_or_else(ApiError::not_found)?;
    let (viewer, account) = viewer(state, caller).await?;
    let farmed = farmed_sites(state, caller).await?;
    if viewer.may_see_event(&event, &farmed) { Ok((event, viewer, account)) } else { Err(ApiError::not_found()) }
}

/// Takes a place and queues the confirmation, all in one transaction: the event's count,
/// the registration, the caller's attendance and the notification move together, so a full
/// event never gets one registration too many and a confirmation is never sent for a place
/// not taken.
pub async fn register(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (state, caller, id) = (&state, &caller, &id);
    // A lost race for the last places is decided again from fresh reads (store::until_done).
    let registered = until_done(|_| async move {
        let (mut event, _, account) = visible_event(state, caller, id).await?;
        let existing: Option<Registration> = state.store.get(&Key::registration(&event.id, &caller.user)).await?;
        if existing.as_ref().is_some_and(|r| r.active) {
            return Ok(Attempt::Done((StatusCode::OK, Json(json!({"event": event_view(&event, true), "already_registered": true})))));
        }
        let now = Utc::now();
        event.take_place(now).map_err(|e| match e {
            relance::domain::RegistrationError::Full => ApiError::conflict_because("event_full", e.to_string()),
            relance::domain::RegistrationError::Started => ApiError::conflict(e.to_string()),
        })?;
        let customer_id = account.and_then(|a| a.customer_id);
        let customer: Option<Customer> = match &customer_id {
            Some(id) => state.store.get(&Key::customer(id)).await?,
            None => None,
        };
        let name = customer.as_ref().map(|c| c.name.clone()).or(caller.email.clone()).unwrap_or_else(|| caller.user.clone());
        let mut tx = state.store.transaction();
        tx.update(&mut event)?;
        let times = match existing {
            Some(mut again) => {
                again.active = true;
                again.times += 1;
                again.registered_at = now;
                again.name = name;
                tx.update(&mut again)?;
                again.times
            }
            None => {
                let mut first = Registration {
                    event_id: event.id.clone(),
                    user: caller.user.clone(),
                    name,
                    customer_id: customer_id.clone(),
                    active: true,
                    times: 1,
                    registered_at: now,
                    version: 0,
                };
                tx.insert(&mut first)?;
                first.times
            }
        };
        match state.store.get::<Attendance>(&Key::attendance(&caller.user, &event.id)).await? {
            Some(mut a) => {
                a.active = true;
                tx.update(&mut a)?;
            }
            None => {
                let mut a = Attendance {
                    user: caller.user.clone(),
                    event_id: event.id.clone(),
                    title: event.title.clone(),
                    starts_at: event.starts_at,
                    active: true,
                    version: 0,
                };
                tx.insert(&mut a)?;
            }
        }
        let confirmation = match customer.filter(|c| c.deleted_at.is_none()) {
            Some(customer) => {
                let mut n = Notification::for_attendee(customer.id, event.id.as_str(), NotificationKind::EventConfirmation, times, now)
                    .map_err(|e| ApiError::bad_request(e.to_string()))?;
                tx.insert(&mut n)?;
                Some(n.id)
            }
            None => None,
        };
        // A registration inserted meanwhile by the same person's other tab: decide again.
        match state.store.commit(tx).await {
            Ok(()) => {
                Ok(Attempt::Done((StatusCode::CREATED, Json(json!({"event": event_view(&event, true), "confirmation": confirmation})))))
            }
            Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => Ok(Attempt::LostRace),
            Err(e) => Err(ApiError::from(e)),
        }
    })
    .await?;
    registered.ok_or_else(|| ApiError::conflict("many people are registering at once; try again"))
}

/// Gives the caller's place back.
pub async fn unregister(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Value>, ApiError> {
    let (state, caller, id) = (&state, &caller, &id);
    let released = until_done(|_| async move {
        let (mut event, _, _) = visible_event(state, caller, id).await?;
        let mut registration: Registration = state
            .store
            .get(&Key::registration(&event.id, &caller.user))
            .await?
            .filter(|r: &Registration| r.active)
            .ok_or_else(ApiError::not_found)?;
        registration.active = false;
        event.release_place();
        let mut tx = state.store.transaction();
        tx.update(&mut event)?.update(&mut registration)?;
        if let Some(mut attendance) = state.store.get::<Attendance>(&Key::attendance(&caller.user, &event.id)).await? {
            attendance.active = false;
            tx.update(&mut attendance)?;
        }
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| Json(json!({"event": event_view(&event, false)}))))
    })
    .await?;
    released.ok_or_else(|| ApiError::conflict("the event changed meanwhile; try again"))
}

/// Who comes: for the farmers of the event's site and the admins.
pub async fn list_registrations(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(page): Params<PageQuery>,
) -> Result<Json<Value>, ApiError> {
    let (event, viewer, _) = visible_event(&state, &caller, &id).await?;
    let allowed = match &event.audience {
        _ if viewer.admin => true,
        Audience::Site { site: id } => site(&state, id).await.is_ok_and(|s| viewer.farms(&s)),
        _ => false,
    };
    if !allowed {
        return Err(ApiError::forbidden());
    }
    let listed = state.store.list::<Registration>(&Key::event_partition(&event.id), page.cursor()?.as_ref(), page.limit()).await?;
    let people: Vec<Value> =
        listed.records.iter().filter(|r| r.active).map(|r| json!({"name": r.name, "registered_at": r.registered_at})).collect();
    Ok(Json(json!({ "event": event_view(&event, false), "registrations": people, "next": next(listed.next) })))
}
