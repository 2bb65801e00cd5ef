//! Gardens, harvests, news and events. Who may see or change what is decided by
//! [`relance::domain::Viewer`]; this module reads the records, asks, and writes.
//! A record the caller may not see answers 404, exactly like one that does not exist.

use std::collections::BTreeSet;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::{DateTime, Duration, NaiveDate, Utc};
use relance::domain::*;
use relance::store::{Attempt, Key, Record, StoreError, format_instant, until_done};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::PortalState;
use crate::api::input::{Body, Params, text};
use crate::api::me::PageQuery;
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

/// The facts about the caller that decide what they see: roles from the token, their
/// garden from their account.
async fn viewer(state: &PortalState, caller: &Caller) -> Result<(Viewer, Option<Account>), ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    Ok((viewer_of(caller, account.as_ref()), account))
}

fn viewer_of(caller: &Caller, account: Option<&Account>) -> Viewer {
    Viewer {
        user: caller.user.clone(),
        admin: caller.has(Role::Admin),
        b2b: caller.has(Role::MemberB2b),
        garden: account.and_then(|a| a.garden.as_ref()).map(|g| g.site.clone()),
    }
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

/// A garden as its members see it.
#[derive(Debug, Serialize, ToSchema)]
pub struct SiteView {
    pub id: SiteId,
    pub name: String,
    pub address: String,
    /// How members know their farmers.
    pub farmers: Vec<String>,
    /// The caller's plot there, if they rent one.
    pub plot: Option<String>,
    pub you_farm_it: bool,
    /// The latest news of the site.
    pub news: Vec<NewsView>,
}

/// The member's garden: the site, its farmers, the caller's plot there, and recent news.
#[utoipa::path(get, path = "/sites/{id}", tag = "community", summary = "A garden: plot, farmers, news",
    params(("id" = String, Path, description = "The site's id", example = "belleville")), responses((status = 200, body = SiteView)))]
pub async fn get_site(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<SiteView>, ApiError> {
    let (viewer, account) = viewer(&state, &caller).await?;
    let site = visible_site(&state, &viewer, &id).await?;
    Ok(Json(site_view(&state, &viewer, account.as_ref(), site).await?))
}

/// The garden as its members see it, with its five latest news (one Query).
async fn site_view(state: &PortalState, viewer: &Viewer, account: Option<&Account>, site: Site) -> Result<SiteView, ApiError> {
    let plot = account.and_then(|a| a.garden.as_ref()).filter(|g| g.site == site.id).map(|g| g.plot.clone());
    let news = state.store.list_latest::<News>(&Key::news_partition(Some(&site.id)), None, 5).await?.records;
    Ok(SiteView {
        you_farm_it: viewer.farms(&site),
        id: site.id,
        name: site.name,
        address: site.address,
        farmers: site.farmer_names,
        plot,
        news: news.iter().map(NewsView::of).collect(),
    })
}

/// A member's garden page: the site, its latest harvests and those on offer today.
#[derive(Debug, Serialize)]
pub struct Garden {
    pub site: SiteView,
    pub recent: Vec<HarvestView>,
    pub current: Vec<HarvestView>,
}

/// The caller's garden, for an account already read: the site (GetItem), its news (Query),
/// and one Query of the harvests picked in the last 60 days, which holds both those on offer
/// today and, unless the garden picked fewer than `recent` in that time, the latest ones.
pub async fn garden(state: &PortalState, caller: &Caller, account: &Account, recent: usize) -> Result<Option<Garden>, ApiError> {
    let Some(membership) = &account.garden else { return Ok(None) };
    let viewer = viewer_of(caller, Some(account));
    let site = visible_site(state, &viewer, membership.site.as_str()).await?;
    let (today, window) = harvest_window(state, &site).await?;
    let current: Vec<HarvestView> = window.iter().rev().filter(|h| h.available_on(today)).map(HarvestView::of).collect();
    let latest: Vec<HarvestView> = if window.len() >= recent {
        window.iter().rev().take(recent).map(HarvestView::of).collect()
    } else {
        let limit = i32::try_from(recent).unwrap_or(10);
        state.store.list_latest::<Harvest>(&Key::site_partition(&site.id), None, limit).await?.records.iter().map(HarvestView::of).collect()
    };
    let site = site_view(state, &viewer, Some(account), site).await?;
    Ok(Some(Garden { site, recent: latest, current }))
}

/// The garden's day, and every harvest picked since the longest a harvest stays on offer
/// (oldest first): the current ones are among them, a key range (their sort key begins with
/// the day).
async fn harvest_window(state: &PortalState, site: &Site) -> Result<(NaiveDate, Vec<Harvest>), ApiError> {
    let today = Utc::now().with_timezone(&site.time_zone.unwrap_or(state.defaults.time_zone)).date_naive();
    let since = today - Duration::days(Harvest::MAX_DAYS_ON_OFFER);
    let pk = Key::site_partition(&site.id);
    let mut window = Vec::new();
    let mut cursor = None;
    loop {
        let page = state.store.list_from::<Harvest>(&pk, &since.to_string(), cursor.as_ref(), 100).await?;
        window.extend(page.records);
        match page.next {
            Some(next) => cursor = Some(next),
            None => return Ok((today, window)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HarvestView {
    pub id: HarvestId,
    /// The day it was picked.
    pub date: NaiveDate,
    pub crop: String,
    /// The quantity on offer, in grams.
    pub grams: u64,
    pub note: String,
    /// The days members may come and pick it, both included.
    pub available_from: NaiveDate,
    pub available_until: NaiveDate,
}

impl HarvestView {
    fn of(h: &Harvest) -> HarvestView {
        HarvestView {
            id: h.id.clone(),
            date: h.date,
            crop: h.crop.clone(),
            grams: h.grams,
            note: h.note.clone(),
            available_from: h.available_from(),
            available_until: h.available_until(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct HarvestPage {
    pub harvests: Vec<HarvestView>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HarvestQuery {
    /// `true`: only what members may come and pick today (the garden's day), in one answer
    /// without pages; `cursor` and `limit` do not apply.
    pub current: Option<bool>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

#[utoipa::path(get, path = "/sites/{id}/harvests", tag = "community", summary = "A garden's harvests, newest first",
    params(("id" = String, Path, description = "The site's id", example = "belleville"), HarvestQuery), responses((status = 200, body = HarvestPage)))]
pub async fn list_harvests(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(query): Params<HarvestQuery>,
) -> Result<Json<HarvestPage>, ApiError> {
    let (viewer, _) = viewer(&state, &caller).await?;
    let site = visible_site(&state, &viewer, &id).await?;
    let pk = Key::site_partition(&site.id);
    if query.current == Some(true) {
        let (today, window) = harvest_window(&state, &site).await?;
        let current = window.iter().rev().filter(|h| h.available_on(today)).map(HarvestView::of).collect();
        return Ok(Json(HarvestPage { harvests: current, next: None }));
    }
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let listed = state.store.list_latest::<Harvest>(&pk, page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(HarvestPage { harvests: listed.records.iter().map(HarvestView::of).collect(), next: next(listed.next) }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"date": "2026-11-28", "crop": "Tomates cerises", "grams": 4200, "available_until": "2026-12-02"}))]
pub struct NewHarvest {
    /// The day it was picked: today or earlier (tomorrow is allowed, for a site in another time zone).
    pub date: NaiveDate,
    #[schema(schema_with = crate::api::input::text_schema::<100>)]
    pub crop: String,
    /// The quantity on offer.
    #[schema(minimum = 1, maximum = 10_000_000)]
    pub grams: u64,
    /// Kept to its first 1,000 characters.
    #[serde(default)]
    pub note: String,
    /// The first day members may pick it: the day it was picked or later (default: that day).
    #[serde(default)]
    pub available_from: Option<NaiveDate>,
    /// The last day: at most 60 days after it was picked (default: a week from `available_from`).
    #[serde(default)]
    pub available_until: Option<NaiveDate>,
}

/// How long a harvest is on offer when the farmer does not say: a week.
const DEFAULT_DAYS_ON_OFFER: i64 = 6;

impl NewHarvest {
    /// The days it is on offer, or a 400 naming the field that is wrong.
    fn offer(&self) -> Result<(NaiveDate, NaiveDate), ApiError> {
        let from = self.available_from.unwrap_or(self.date);
        if from < self.date {
            return Err(ApiError::bad_request("available_from: cannot be before the day it was picked"));
        }
        let max = Harvest::MAX_DAYS_ON_OFFER;
        let last = self.date.checked_add_signed(Duration::days(max)).ok_or_else(|| ApiError::bad_request("date: out of range"))?;
        if from > last {
            return Err(ApiError::bad_request(format!("available_from: at most {max} days after the day it was picked")));
        }
        let until = match self.available_until {
            Some(until) => until,
            None => from.checked_add_signed(Duration::days(DEFAULT_DAYS_ON_OFFER)).unwrap_or(last).min(last),
        };
        if until < from {
            return Err(ApiError::bad_request("available_until: cannot be before available_from"));
        }
        if until > last {
            return Err(ApiError::bad_request(format!("available_until: at most {max} days after the day it was picked")));
        }
        Ok((from, until))
    }
}

/// The heaviest harvest we believe is not a typo: ten tonnes.
const MAX_GRAMS: u64 = 10_000_000;

#[utoipa::path(post, path = "/sites/{id}/harvests", tag = "community", summary = "Record a harvest (the site's farmer, admins)",
    params(("id" = String, Path, description = "The site's id", example = "belleville")), request_body = NewHarvest, responses((status = 201, body = HarvestView)))]
pub async fn post_harvest(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<NewHarvest>,
) -> Result<(StatusCode, Json<HarvestView>), ApiError> {
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
    let (available_from, available_until) = input.offer()?;
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
        available_from: Some(available_from),
        available_until: Some(available_until),
    };
    state.store.insert(&mut harvest).await?;
    Ok((StatusCode::CREATED, Json(HarvestView::of(&harvest))))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewsView {
    pub id: NewsId,
    /// None: everyone's news.
    pub site: Option<SiteId>,
    pub title: String,
    pub body: String,
    pub published_at: DateTime<Utc>,
}

impl NewsView {
    fn of(n: &News) -> NewsView {
        NewsView { id: n.id.clone(), site: n.site.clone(), title: n.title.clone(), body: n.body.clone(), published_at: n.published_at }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct NewsPage {
    pub news: Vec<NewsView>,
    pub next: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NewsQuery {
    /// A site's news instead of everyone's.
    pub site: Option<String>,
    /// The `next` of the previous page.
    pub cursor: Option<String>,
    /// Items per page (default 20).
    #[param(minimum = 1, maximum = 50)]
    pub limit: Option<i32>,
}

/// News for everyone, or for one site the caller may see (`?site=`), newest first.
#[utoipa::path(get, path = "/news", tag = "community", summary = "News for everyone or one site, newest first", params(NewsQuery),
    responses((status = 200, body = NewsPage)))]
pub async fn list_news(
    State(state): State<PortalState>,
    caller: Caller,
    Params(query): Params<NewsQuery>,
) -> Result<Json<NewsPage>, ApiError> {
    let partition = match &query.site {
        Some(id) => {
            let (viewer, _) = viewer(&state, &caller).await?;
            Key::news_partition(Some(&visible_site(&state, &viewer, id).await?.id))
        }
        None => Key::news_partition(None),
    };
    let page = PageQuery { cursor: query.cursor, limit: query.limit };
    let listed = state.store.list_latest::<News>(&partition, page.cursor()?.as_ref(), page.limit()).await?;
    Ok(Json(NewsPage { news: listed.records.iter().map(NewsView::of).collect(), next: next(listed.next) }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewNews {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub title: String,
    #[schema(schema_with = crate::api::input::text_schema::<10000>)]
    pub body: String,
    /// A site's news (its farmer or an admin); none is everyone's news (admins only).
    pub site: Option<String>,
}

#[utoipa::path(post, path = "/news", tag = "community", summary = "Publish news (admins: everyone's; farmers: their site's)",
    request_body = NewNews, responses((status = 201, body = NewsView)))]
pub async fn post_news(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewNews>,
) -> Result<(StatusCode, Json<NewsView>), ApiError> {
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
    Ok((StatusCode::CREATED, Json(NewsView::of(&news))))
}

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventView {
    pub id: EventId,
    pub title: String,
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub location: String,
    pub audience: Audience,
    /// None: no limit.
    pub capacity: Option<u32>,
    pub places_left: Option<u32>,
    /// The caller holds a place.
    pub registered: bool,
    /// Called off (then listed no more).
    pub cancelled: bool,
}

impl EventView {
    fn of(e: &Event, registered: bool) -> EventView {
        EventView {
            id: e.id.clone(),
            title: e.title.clone(),
            description: e.description.clone(),
            starts_at: e.starts_at,
            location: e.location.clone(),
            audience: e.audience.clone(),
            capacity: e.capacity,
            places_left: e.places_left(),
            registered,
            cancelled: e.cancelled_at.is_some(),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    pub events: Vec<EventView>,
    pub next: Option<String>,
}

/// The events the caller has an active registration for.
/// Upcoming events the caller may see, soonest first. A page may hold fewer than `limit`
/// events (those the caller may not see are left out); `next` continues.
#[utoipa::path(get, path = "/events", tag = "community", summary = "Upcoming events I may see", params(PageQuery),
    responses((status = 200, body = EventPage)))]
pub async fn list_events(
    State(state): State<PortalState>,
    caller: Caller,
    Params(page): Params<PageQuery>,
) -> Result<Json<EventPage>, ApiError> {
    // The account and the events the caller attends share a partition: one read.
    let (account, attending) = crate::api::me::account_and_attendance(&state, &caller.user).await?;
    Ok(Json(events_page(&state, &caller, account.as_ref(), &attending, &page).await?))
}

/// A page of upcoming events for a caller whose account and attendances are already read.
pub async fn events_page(
    state: &PortalState,
    caller: &Caller,
    account: Option<&Account>,
    attending: &BTreeSet<EventId>,
    page: &PageQuery,
) -> Result<EventPage, ApiError> {
    let viewer = viewer_of(caller, account);
    let farmed = farmed_sites(state, caller).await?;
    let listed = state.store.list_from::<Event>(Key::EVENTS, &format_instant(Utc::now()), page.cursor()?.as_ref(), page.limit()).await?;
    let events = listed
        .records
        .iter()
        .filter(|e| e.cancelled_at.is_none() && viewer.may_see_event(e, &farmed))
        .map(|e| EventView::of(e, attending.contains(&e.id)))
        .collect();
    Ok(EventPage { events, next: next(listed.next) })
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Atelier compost", "starts_at": "2099-06-06T08:00:00Z", "location": "Jardin de Belleville",
    "audience": {"kind": "site", "site": "belleville"}, "capacity": 12}))]
pub struct NewEvent {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub title: String,
    /// Kept to its first 5,000 characters.
    #[serde(default)]
    pub description: String,
    /// In the future.
    pub starts_at: DateTime<Utc>,
    #[schema(schema_with = crate::api::input::text_schema::<300>)]
    pub location: String,
    pub audience: Audience,
    /// Leave it out for no limit.
    #[schema(minimum = 1)]
    pub capacity: Option<u32>,
    /// What sort of event it is (`welcome_workshop`), for date rules that stop once a member
    /// registered to one.
    #[serde(default)]
    #[schema(pattern = "^[A-Za-z0-9_-]{1,64}$")]
    pub kind: Option<String>,
}

/// An event's kind: letters, digits, `-` and `_`.
fn event_kind(kind: &str) -> Result<String, ApiError> {
    let ok = !kind.is_empty() && kind.len() <= 64 && kind.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok { Ok(kind.to_string()) } else { Err(ApiError::bad_request("kind: letters, digits, - and _ (welcome_workshop)")) }
}

#[utoipa::path(post, path = "/events", tag = "community", summary = "Create an event (farmers: their site; admins: any)",
    request_body = NewEvent, responses((status = 201, body = EventView)))]
pub async fn create_event(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewEvent>,
) -> Result<(StatusCode, Json<EventView>), ApiError> {
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
    let mut event = Event {
        id: EventId::generate(),
        title: text("title", &input.title, 200)?,
        description: input.description.trim().chars().take(5000).collect(),
        starts_at: input.starts_at,
        location: text("location", &input.location, 300)?,
        audience: input.audience,
        kind: input.kind.as_deref().map(event_kind).transpose()?,
        capacity: input.capacity,
        registered: 0,
        created_by: caller.user.clone(),
        reminder_at: None,
        cancelled_at: None,
        moves: 0,
        version: 0,
    };
    event.plan_reminder(now);
    state.store.insert(&mut event).await?;
    Ok((StatusCode::CREATED, Json(EventView::of(&event, false))))
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

/// A place taken (or already held).
#[derive(Debug, Serialize, ToSchema)]
pub struct Registered {
    pub event: EventView,
    /// The caller held a place already: nothing changed (200).
    pub already_registered: bool,
    /// The confirmation queued, when the caller is a customer we can write to.
    pub confirmation: Option<NotificationId>,
}

/// Takes a place and queues the confirmation, all in one transaction: the event's count,
/// the registration, the caller's attendance and the notification move together, so a full
/// event never gets one registration too many and a confirmation is never sent for a place
/// not taken.
#[utoipa::path(post, path = "/events/{id}/registrations", tag = "community",
    summary = "Register: takes a place, queues the confirmation (200: already registered)",
    params(("id" = String, Path, description = "The event's id")),
    responses((status = 201, body = Registered), (status = 200, description = "Already registered", body = Registered)))]
pub async fn register(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<Registered>), ApiError> {
    let (state, caller, id) = (&state, &caller, &id);
    // A lost race for the last places is decided again from fresh reads (store::until_done).
    let registered = until_done(|_| async move {
        let (mut event, _, account) = visible_event(state, caller, id).await?;
        let existing: Option<Registration> = state.store.get(&Key::registration(&event.id, &caller.user)).await?;
        if existing.as_ref().is_some_and(|r| r.active) {
            let registered = Registered { event: EventView::of(&event, true), already_registered: true, confirmation: None };
            return Ok(Attempt::Done((StatusCode::OK, Json(registered))));
        }
        let now = Utc::now();
        event.take_place(now).map_err(|e| match e {
            relance::domain::RegistrationError::Full => ApiError::conflict_because("event_full", e.to_string()),
            relance::domain::RegistrationError::Cancelled => ApiError::conflict_because("event_cancelled", e.to_string()),
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
        // The kind of event the customer registered to, for date rules that stop on it.
        let mut customer = customer;
        if let (Some(kind), Some(c)) = (&event.kind, customer.as_mut())
            && c.deleted_at.is_none()
            && c.registered_kinds.insert(kind.clone())
        {
            tx.update(c)?;
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
                let registered = Registered { event: EventView::of(&event, true), already_registered: false, confirmation };
                Ok(Attempt::Done((StatusCode::CREATED, Json(registered))))
            }
            Err(StoreError::Conflict(_) | StoreError::Duplicate(_)) => Ok(Attempt::LostRace),
            Err(e) => Err(ApiError::from(e)),
        }
    })
    .await?;
    registered.ok_or_else(|| ApiError::conflict("many people are registering at once; try again"))
}

/// The event after a place was given back.
#[derive(Debug, Serialize, ToSchema)]
pub struct Unregistered {
    pub event: EventView,
}

/// Gives the caller's place back.
#[utoipa::path(delete, path = "/events/{id}/registrations/me", tag = "community", summary = "Cancel my registration",
    params(("id" = String, Path, description = "The event's id")), responses((status = 200, body = Unregistered)))]
pub async fn unregister(State(state): State<PortalState>, caller: Caller, Path(id): Path<String>) -> Result<Json<Unregistered>, ApiError> {
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
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| Json(Unregistered { event: EventView::of(&event, false) })))
    })
    .await?;
    released.ok_or_else(|| ApiError::conflict("the event changed meanwhile; try again"))
}

/// Someone who comes.
#[derive(Debug, Serialize, ToSchema)]
pub struct Attendee {
    pub name: String,
    pub registered_at: DateTime<Utc>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Attendees {
    pub event: EventView,
    pub registrations: Vec<Attendee>,
    pub next: Option<String>,
}

/// Who comes: for the farmers of the event's site and the admins.
#[utoipa::path(get, path = "/events/{id}/registrations", tag = "community", summary = "Who comes (the site's farmers, admins)",
    params(("id" = String, Path, description = "The event's id"), PageQuery), responses((status = 200, body = Attendees)))]
pub async fn list_registrations(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Params(page): Params<PageQuery>,
) -> Result<Json<Attendees>, ApiError> {
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
    let registrations =
        listed.records.iter().filter(|r| r.active).map(|r| Attendee { name: r.name.clone(), registered_at: r.registered_at }).collect();
    Ok(Json(Attendees { event: EventView::of(&event, false), registrations, next: next(listed.next) }))
}

/// An event the caller may change: its site's farmer or an admin (403 for other roles, 404
/// for an event they may not see).
async fn manageable_event(state: &PortalState, caller: &Caller, id: &str) -> Result<Event, ApiError> {
    caller.require_any(&[Role::Farmer, Role::Admin])?;
    let (event, viewer, _) = visible_event(state, caller, id).await?;
    let farms_it = match &event.audience {
        Audience::Site { site: id } => site(state, id).await.is_ok_and(|s| viewer.farms(&s)),
        _ => false,
    };
    if viewer.admin || farms_it { Ok(event) } else { Err(ApiError::forbidden()) }
}

/// What may change about an event; absent fields stay as they are, `capacity: null` lifts
/// the limit.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct EventChange {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub title: Option<String>,
    /// Kept to its first 5,000 characters.
    pub description: Option<String>,
    /// In the future.
    pub starts_at: Option<DateTime<Utc>>,
    #[schema(schema_with = crate::api::input::text_schema::<300>)]
    pub location: Option<String>,
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<u32>, nullable, minimum = 1)]
    pub capacity: Option<Option<u32>>,
}

/// The registered people of an event (active places only).
async fn attendees(state: &PortalState, event: &EventId) -> Result<Vec<Registration>, ApiError> {
    Ok(state.store.list_all::<Registration>(&Key::event_partition(event)).await?.into_iter().filter(|r| r.active).collect())
}

/// Tells one registered person about a change (`kind`, numbered `step`), their registration
/// and attendance changed by `change` in the same transaction. Once: a notice already written
/// for this step means the person was told (a retried request).
async fn tell_attendee(
    state: &PortalState,
    event: &Event,
    user: &str,
    kind: NotificationKind,
    step: u32,
    change: impl Fn(&mut Registration, &mut Attendance),
) -> Result<bool, ApiError> {
    let change = &change;
    let told = until_done(|_| async move {
        let Some(before) = state.store.get::<Registration>(&Key::registration(&event.id, user)).await? else {
            return Ok(Attempt::Done(false));
        };
        let mut registration = before.clone();
        let mut attendance = state.store.get::<Attendance>(&Key::attendance(user, &event.id)).await?;
        let mut tx = state.store.transaction();
        let mut scratch = Attendance {
            user: user.to_string(),
            event_id: event.id.clone(),
            title: event.title.clone(),
            starts_at: event.starts_at,
            active: registration.active,
            version: 0,
        };
        change(&mut registration, attendance.as_mut().unwrap_or(&mut scratch));
        if let Some(attendance) = attendance.as_mut() {
            tx.update(attendance)?;
        }
        if registration != before {
            tx.update(&mut registration)?;
        }
        let customer: Option<Customer> = match &registration.customer_id {
            Some(id) => state.store.get(&Key::customer(id)).await?,
            None => None,
        };
        let mut notice = match customer.filter(|c| c.deleted_at.is_none()) {
            Some(customer) => Some(
                Notification::for_attendee(customer.id, event.id.as_str(), kind, step, Utc::now())
                    .map_err(|e| ApiError::bad_request(e.to_string()))?,
            ),
            None => None,
        };
        if let Some(notice) = notice.as_mut() {
            if state.store.get_by_id::<Notification>(notice.id.as_str()).await?.is_some() {
                return Ok(Attempt::Done(false)); // told before
            }
            tx.insert(notice)?;
        }
        if tx.is_empty() {
            return Ok(Attempt::Done(false));
        }
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| notice.is_some()))
    })
    .await?;
    told.ok_or_else(|| ApiError::conflict("registrations changed meanwhile; try again"))
}

/// An event after a change, and how many registered people were told.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventChanged {
    pub event: EventView,
    /// Registered people notified (of a new time or place, or of the cancellation).
    pub notified: u32,
}

#[utoipa::path(patch, path = "/events/{id}", tag = "community",
    summary = "Change an event (its site's farmer, admins): the registered are told of a new time or place",
    params(("id" = String, Path, description = "The event's id")), request_body = EventChange,
    responses((status = 200, body = EventChanged)))]
pub async fn update_event(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<EventChange>,
) -> Result<Json<EventChanged>, ApiError> {
    let (state_ref, caller_ref, input_ref, id_ref) = (&state, &caller, &input, &id);
    let saved = until_done(|_| async move {
        let (state, caller, input) = (state_ref, caller_ref, input_ref);
        let before = manageable_event(state, caller, id_ref).await?;
        if before.cancelled_at.is_some() {
            return Err(ApiError::conflict_because("event_cancelled", "this event is cancelled"));
        }
        let now = Utc::now();
        let mut after = before.clone();
        if let Some(title) = &input.title {
            after.title = text("title", title, 200)?;
        }
        if let Some(description) = &input.description {
            after.description = description.trim().chars().take(5000).collect();
        }
        if let Some(location) = &input.location {
            after.location = text("location", location, 300)?;
        }
        if let Some(starts_at) = input.starts_at {
            if starts_at <= now {
                return Err(ApiError::bad_request("starts_at must be in the future"));
            }
            after.starts_at = starts_at;
            after.plan_reminder(now);
        }
        if let Some(capacity) = input.capacity {
            if capacity.is_some_and(|c| c == 0 || c < after.registered) {
                return Err(ApiError::bad_request(format!("capacity: at least 1 and at least the {} places taken", after.registered)));
            }
            after.capacity = capacity;
        }
        if after == before {
            return Ok(Attempt::Done(after));
        }
        if after.starts_at != before.starts_at || after.location != before.location {
            after.moves += 1;
        }
        let mut entry = crate::api::audit::entry(caller, after.id.as_str(), Some(&before), &after, now)?;
        let mut tx = state.store.transaction();
        tx.relocate(&mut after, &before.key())?.insert(&mut entry)?;
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| after))
    })
    .await?;
    let event = saved.ok_or_else(|| ApiError::conflict("the event changed meanwhile; try again"))?;
    let mut notified = 0;
    // The registered hear of the latest time and place once (numbered by the move). Whenever a
    // request names a time or place, whoever was not told yet is told: a request retried
    // after a failure midway finishes the job.
    if event.moves > 0 && (input.starts_at.is_some() || input.location.is_some()) {
        let step = event.moves;
        for registration in attendees(&state, &event.id).await? {
            let told = tell_attendee(&state, &event, &registration.user, NotificationKind::EventChanged, step, |_, attendance| {
                attendance.title = event.title.clone();
                attendance.starts_at = event.starts_at;
            })
            .await?;
            notified += u32::from(told);
        }
    }
    Ok(Json(EventChanged { event: EventView::of(&event, false), notified }))
}

#[utoipa::path(post, path = "/events/{id}/cancel", tag = "community",
    summary = "Cancel an event (its site's farmer, admins): places freed, the registered told",
    params(("id" = String, Path, description = "The event's id")), responses((status = 200, body = EventChanged)))]
pub async fn cancel_event(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<EventChanged>, ApiError> {
    let (state_ref, caller_ref, id_ref) = (&state, &caller, &id);
    let saved = until_done(|_| async move {
        let (state, caller) = (state_ref, caller_ref);
        let before = manageable_event(state, caller, id_ref).await?;
        let mut after = before.clone();
        let now = Utc::now();
        if !after.cancel(now) {
            // Cancelled before: go on telling whoever was not told yet (a retried request).
            return Ok(Attempt::Done(after));
        }
        let tx = crate::api::audit::change(state, caller, before.id.as_str(), &before, &mut after, now)?;
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| after))
    })
    .await?;
    let event = saved.ok_or_else(|| ApiError::conflict("the event changed meanwhile; try again"))?;
    let mut notified = 0;
    for registration in attendees(&state, &event.id).await? {
        let told = tell_attendee(&state, &event, &registration.user, NotificationKind::EventCancelled, 1, |registration, attendance| {
            registration.active = false;
            attendance.active = false;
        })
        .await?;
        notified += u32::from(told);
    }
    Ok(Json(EventChanged { event: EventView::of(&event, false), notified }))
}
