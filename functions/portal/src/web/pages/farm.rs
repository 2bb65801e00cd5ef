//! The farmers' page: their sites' harvests and events.

use super::*;

pub async fn farm(State(state): State<PortalState>, visitor: Visitor, Query(note): Query<Note>) -> Result<Response, PageError> {
    visitor.caller.require_any(&[Role::Farmer])?;
    let caller = visitor.caller.clone();
    let sites: Vec<Site> = state.store.list::<Site>(Key::SITES, None, 100).await.map_err(ApiError::from)?.records;
    let events = community::list_events(State(state.clone()), caller.clone(), page_query(50)).await?.0;
    let mut mine = Vec::new();
    for site in sites.into_iter().filter(|s| s.farmers.contains(&caller.user)) {
        let mut site_events = Vec::new();
        for event in events.events.iter().filter(|e| matches!(&e.audience, Audience::Site { site: id } if *id == site.id)) {
            let people =
                community::list_registrations(State(state.clone()), caller.clone(), Path(event.id.to_string()), page_query(50)).await?.0;
            site_events.push(json!({"event": event, "registrations": people.registrations}));
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
    /// Empty: a week from the day it was picked.
    #[serde(default)]
    available_until: String,
}

pub async fn post_harvest(
    State(state): State<PortalState>,
    visitor: Visitor,
    headers: HeaderMap,
    Path(site): Path<String>,
    Form(form): Form<HarvestForm>,
) -> Result<Response, PageError> {
    let available_until = match form.available_until.trim() {
        "" => None,
        day => match day.parse() {
            Ok(day) => Some(day),
            Err(_) => return Ok(back("/app/farm", Err(ApiError::bad_request("available_until: a date, please")))),
        },
    };
    let input =
        NewHarvest { date: form.date, crop: form.crop, grams: form.grams, note: String::new(), available_from: None, available_until };
    submit(&headers, &form.csrf, "/app/farm", community::post_harvest(State(state), visitor.caller, Path(site), Body(input))).await
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
        kind: None,
    };
    let result = community::create_event(State(state), visitor.caller, Body(input)).await.map(|_| ());
    Ok(back("/app/farm", result))
}
