//! Gardens and who farms them, kept by the admins: `GET /sites` (the sites the caller may
//! see), `POST /sites`, `PATCH /sites/{id}`, `PUT /sites/{id}/farmers`. A farmer's rights over
//! a site come from this list alone; every change is in the audit trail.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use chrono::Utc;
use relance::api_error::ApiError;
use relance::domain::time::parse_time_zone;
use relance::domain::*;
use relance::store::{Attempt, Key, check_user, until_done};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::audit;
use crate::api::input::{Body, text};
use crate::auth::{Caller, Role};

/// A site as the site list shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SiteSummary {
    pub id: SiteId,
    pub name: String,
    pub address: String,
    /// An IANA zone; the business's own when the site has none.
    pub time_zone: String,
    /// How members know their farmers.
    pub farmer_names: Vec<String>,
    /// The farmers' user ids: for admins only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub farmers: Option<Vec<String>>,
}

impl SiteSummary {
    fn of(site: &Site, state: &PortalState, admin: bool) -> SiteSummary {
        SiteSummary {
            id: site.id.clone(),
            name: site.name.clone(),
            address: site.address.clone(),
            time_zone: site.time_zone.unwrap_or(state.defaults.time_zone).name().to_string(),
            farmer_names: site.farmer_names.clone(),
            farmers: admin.then(|| site.farmers.iter().cloned().collect()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SiteList {
    pub sites: Vec<SiteSummary>,
}

/// Every garden the caller may see (all of them for admins), by id.
#[utoipa::path(get, path = "/sites", tag = "community", summary = "The gardens I may see (admins: all)",
    responses((status = 200, body = SiteList)))]
pub async fn list(State(state): State<PortalState>, caller: Caller) -> Result<Json<SiteList>, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let viewer = Viewer {
        user: caller.user.clone(),
        admin: caller.has(Role::Admin),
        b2b: caller.has(Role::MemberB2b),
        garden: account.and_then(|a| a.garden).map(|g| g.site),
    };
    let sites = state.store.list_all::<Site>(Key::SITES).await?;
    let sites = sites.iter().filter(|s| viewer.may_see_site(s)).map(|s| SiteSummary::of(s, &state, viewer.admin)).collect();
    Ok(Json(SiteList { sites }))
}

#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"name": "Jardin de Belleville", "address": "12 rue des Cascades, Paris", "time_zone": "Europe/Paris"}))]
pub struct NewSite {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub name: String,
    #[schema(schema_with = crate::api::input::text_schema::<300>)]
    pub address: String,
    /// An IANA zone (`Europe/Paris`); the business's own when absent.
    pub time_zone: Option<String>,
}

fn zone(field: Option<&str>) -> Result<Option<chrono_tz::Tz>, ApiError> {
    field.map(parse_time_zone).transpose().map_err(|e| ApiError::bad_request(format!("time_zone: {e}")))
}

#[utoipa::path(post, path = "/sites", tag = "community", summary = "Open a garden (admins)", request_body = NewSite,
    responses((status = 201, body = SiteSummary)))]
pub async fn create(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<NewSite>,
) -> Result<(StatusCode, Json<SiteSummary>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    let mut site = Site {
        id: SiteId::generate(),
        name: text("name", &input.name, 200)?,
        address: text("address", &input.address, 300)?,
        farmers: Default::default(),
        farmer_names: Vec::new(),
        time_zone: zone(input.time_zone.as_deref())?,
        version: 0,
    };
    let now = Utc::now();
    let id = site.id.clone();
    state.store.commit(audit::creation(&state, &caller, id.as_str(), &mut site, now)?).await?;
    Ok((StatusCode::CREATED, Json(SiteSummary::of(&site, &state, true))))
}

/// What an admin may change about a garden; absent fields stay as they are.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteChange {
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub name: Option<String>,
    #[schema(schema_with = crate::api::input::text_schema::<300>)]
    pub address: Option<String>,
    pub time_zone: Option<String>,
}

/// Who farms a garden: the users whose accounts may post its harvests, news and events.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Farmers {
    /// User ids (the identity provider's subjects), each with an account here.
    pub farmers: Vec<String>,
}

async fn site(state: &PortalState, id: &str) -> Result<Site, ApiError> {
    let id = SiteId::parse(id).map_err(|_| ApiError::not_found())?;
    state.store.get(&Key::site(&id)).await?.ok_or_else(ApiError::not_found)
}

/// Applies `change` to the site and saves it with its audit entry, from a fresh read again
/// if someone changed it meanwhile (store::until_done).
async fn change_site(
    state: &PortalState,
    caller: &Caller,
    id: &str,
    change: impl Fn(&mut Site) -> Result<(), ApiError>,
) -> Result<Json<SiteSummary>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let change = &change;
    let saved = until_done(|_| async move {
        let before = site(state, id).await?;
        let mut after = before.clone();
        change(&mut after)?;
        if after == before {
            return Ok(Attempt::Done(after));
        }
        let tx = audit::change(state, caller, before.id.as_str(), &before, &mut after, Utc::now())?;
        Ok::<_, ApiError>(Attempt::of(state.store.commit(tx).await)?.map(|()| after))
    })
    .await?;
    let site = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(SiteSummary::of(&site, state, true)))
}

#[utoipa::path(patch, path = "/sites/{id}", tag = "community", summary = "Rename a garden, move it, set its time zone (admins)",
    params(("id" = String, Path, description = "The site's id", example = "belleville")), request_body = SiteChange,
    responses((status = 200, body = SiteSummary)))]
pub async fn update(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<SiteChange>,
) -> Result<Json<SiteSummary>, ApiError> {
    let input = &input;
    change_site(&state, &caller, &id, |site: &mut Site| {
        if let Some(name) = &input.name {
            site.name = text("name", name, 200)?;
        }
        if let Some(address) = &input.address {
            site.address = text("address", address, 300)?;
        }
        if let Some(tz) = zone(input.time_zone.as_deref())? {
            site.time_zone = Some(tz);
        }
        Ok(())
    })
    .await
}

/// At most this many farmers on one garden.
const MAX_FARMERS: usize = 20;

#[utoipa::path(put, path = "/sites/{id}/farmers", tag = "community", summary = "Who farms a garden (admins)",
    params(("id" = String, Path, description = "The site's id", example = "belleville")), request_body = Farmers,
    responses((status = 200, body = SiteSummary)))]
pub async fn set_farmers(
    State(state): State<PortalState>,
    caller: Caller,
    Path(id): Path<String>,
    Body(input): Body<Farmers>,
) -> Result<Json<SiteSummary>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    if input.farmers.len() > MAX_FARMERS {
        return Err(ApiError::bad_request(format!("farmers: at most {MAX_FARMERS}")));
    }
    // Each farmer must have an account; members know them by their name.
    let mut farmers = std::collections::BTreeSet::new();
    let mut names = Vec::new();
    for user in &input.farmers {
        check_user(user).map_err(|_| ApiError::bad_request(format!("farmers: {user:?} is not a user id")))?;
        let account: Account = state
            .store
            .get(&Key::account(user))
            .await?
            .filter(|a: &Account| !a.closed)
            .ok_or_else(|| ApiError::bad_request(format!("farmers: no account for user {user:?}")))?;
        if !farmers.insert(user.clone()) {
            continue;
        }
        let customer: Option<Customer> = match &account.customer_id {
            Some(id) => state.store.get(&Key::customer(id)).await?,
            None => None,
        };
        names.push(customer.map_or_else(|| user.clone(), |c| c.name));
    }
    let (farmers, names) = (&farmers, &names);
    change_site(&state, &caller, &id, |site: &mut Site| {
        site.farmers = farmers.clone();
        site.farmer_names = names.clone();
        Ok(())
    })
    .await
}
