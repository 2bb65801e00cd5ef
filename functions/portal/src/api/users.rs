//! `POST /admin/users`: an admin invites someone. In AWS the user is created in the Cognito
//! user pool with their role groups, and Cognito emails the invitation with a temporary
//! password. Locally (no user pool), the account is recorded here and the invitation is
//! queued as a notification that dispatch sends through SES, like any other message.
//!
//! Either way the user gets an account in the table linked to a customer (contact) record,
//! so notices reach them: an existing customer when the admin names one, a new one otherwise.

use aws_sdk_cognitoidentityprovider::Client as Cognito;
use aws_sdk_cognitoidentityprovider::types::{AttributeType, DeliveryMediumType};
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::Utc;
use relance::domain::*;
use relance::store::{Key, Record};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::input::{Body, text};
use crate::auth::{Caller, Role};
use relance::api_error::ApiError;

/// Where sign-in users live.
#[derive(Clone)]
pub enum Directory {
    /// The Cognito user pool (AWS, or moto in tests).
    Cognito { client: Cognito, user_pool_id: String },
    /// No user pool: `make run` signs users in with local tokens.
    Local,
}

impl Directory {
    /// Cognito when a user pool is configured (`RELANCE_USER_POOL_ID`: the template sets it),
    /// else local.
    pub fn new(sdk: &aws_config::SdkConfig, user_pool_id: Option<String>) -> Directory {
        match user_pool_id {
            Some(user_pool_id) => Directory::Cognito { client: Cognito::new(sdk), user_pool_id },
            None => Directory::Local,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Invitation {
    #[schema(format = Email)]
    pub email: String,
    #[schema(schema_with = crate::api::input::text_schema::<200>)]
    pub name: String,
    /// At least one.
    #[schema(value_type = Vec<Role>, min_items = 1)]
    pub roles: Vec<String>,
    /// An existing customer this user is (a member already billed, say).
    pub customer_id: Option<String>,
    /// For members: their garden and plot.
    pub garden: Option<GardenInput>,
    /// `fr`, `en-GB`…; the business's default when absent.
    #[schema(value_type = Option<Locale>)]
    pub locale: Option<String>,
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct GardenInput {
    pub site: String,
    pub plot: String,
}

/// Checked invitation input.
struct Invitee {
    email: Email,
    name: String,
    roles: Vec<Role>,
    locale: Option<Locale>,
}

fn check(input: &Invitation) -> Result<Invitee, ApiError> {
    let email = Email::parse(&input.email).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let name = text("name", &input.name, 200)?;
    if input.roles.is_empty() {
        return Err(ApiError::bad_request("roles: give at least one"));
    }
    let roles = input
        .roles
        .iter()
        .map(|r| Role::parse(r).ok_or_else(|| ApiError::bad_request(format!("roles: {r:?} is not a role"))))
        .collect::<Result<Vec<_>, _>>()?;
    let locale = match &input.locale {
        Some(l) => Some(Locale::parse(l).map_err(|e| ApiError::bad_request(e.to_string()))?),
        None => None,
    };
    Ok(Invitee { email, name, roles, locale })
}

/// The user invited.
#[derive(Debug, Serialize, ToSchema)]
pub struct Invited {
    pub user: String,
    pub email: Email,
    pub roles: Vec<Role>,
    pub customer_id: CustomerId,
    /// Who sent the invitation: `cognito` (it emails a temporary password) or `relance`.
    pub invitation: &'static str,
    /// The invitation queued for dispatch, when Relance sends it.
    pub notification: Option<NotificationId>,
}

#[utoipa::path(post, path = "/admin/users", tag = "admin", summary = "Invite a user with their roles", request_body = Invitation,
    responses((status = 201, body = Invited)))]
pub async fn invite(
    State(state): State<PortalState>,
    caller: Caller,
    Body(input): Body<Invitation>,
) -> Result<(StatusCode, Json<Invited>), ApiError> {
    caller.require_any(&[Role::Admin])?;
    let invitee = check(&input)?;
    let garden = match &input.garden {
        Some(g) => {
            let site = SiteId::parse(&g.site).map_err(|_| ApiError::bad_request("garden.site: no such site"))?;
            state.store.get::<Site>(&Key::site(&site)).await?.ok_or_else(|| ApiError::bad_request("garden.site: no such site"))?;
            Some(Plot { site, plot: text("garden.plot", &g.plot, 20)? })
        }
        None => None,
    };
    let existing = match &input.customer_id {
        Some(id) => {
            let id = CustomerId::parse(id).map_err(|_| ApiError::bad_request("customer_id: no such customer"))?;
            Some(
                state
                    .store
                    .get::<Customer>(&Key::customer(&id))
                    .await?
                    .ok_or_else(|| ApiError::bad_request("customer_id: no such customer"))?,
            )
        }
        None => None,
    };

    // The identity first: its subject names the account.
    let (user, invited_by) = match &state.directory {
        Directory::Cognito { client, user_pool_id } => (create_in_cognito(client, user_pool_id, &invitee).await?, "cognito"),
        Directory::Local => (format!("local-{}", CustomerId::generate().as_str().to_lowercase()), "email"),
    };
    let now = Utc::now();
    let mut tx = state.store.transaction();
    let roles = invitee.roles.iter().copied();
    let customer = match existing {
        Some(mut customer) => {
            // The roles are recorded on the customer for date rules' role audience.
            customer.roles.extend(roles);
            tx.update(&mut customer)?;
            customer
        }
        None => {
            let mut contact = Customer::new(
                CustomerId::generate(),
                invitee.name.clone(),
                invitee.locale.clone().unwrap_or_else(|| state.defaults.locale.clone()),
                state.defaults.time_zone,
                now,
            );
            contact.email = Some(invitee.email.clone());
            contact.roles.extend(roles);
            tx.insert(&mut contact)?;
            contact
        }
    };
    let mut account = Account::new(user.clone(), Some(customer.id.clone()));
    account.garden = garden;
    tx.insert(&mut account)?;
    // One sign-in account per customer record: whoever changes or erases the record is the
    // only person it describes.
    tx.register_id("CustomerAccount", customer.id.as_str(), &account.key())?;
    let mut queued = None;
    if matches!(state.directory, Directory::Local) {
        let target = Target { kind: TargetKind::Customer, id: customer.id.to_string() };
        let mut invitation =
            Notification::pending(customer.id.clone(), target, NotificationKind::Invitation, Some(user.clone()), 1, None, now)
                .map_err(|e| ApiError::bad_request(e.to_string()))?;
        tx.insert(&mut invitation)?;
        queued = Some(invitation.id);
    }
    if let Err(e) = state.store.commit(tx).await {
        // Nothing was written here: undo the user pool's side, so that a retry starts clean.
        if let Directory::Cognito { client, user_pool_id } = &state.directory {
            let _ = client.admin_delete_user().user_pool_id(user_pool_id).username(invitee.email.as_str()).send().await;
        }
        return Err(match e {
            relance::store::StoreError::Conflict(_) => {
                ApiError::conflict_because("account_exists", "this user or this customer already has an account")
            }
            other => other.into(),
        });
    }
    Ok((
        StatusCode::CREATED,
        Json(Invited {
            user,
            email: invitee.email,
            roles: invitee.roles,
            customer_id: customer.id,
            invitation: invited_by,
            notification: queued,
        }),
    ))
}

/// Creates the user (Cognito emails the invitation) and puts them in their role groups.
async fn create_in_cognito(client: &Cognito, user_pool_id: &str, invitee: &Invitee) -> Result<String, ApiError> {
    let unavailable = |e: String| {
        tracing::error!(error = %e, "user pool failure");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "the user directory is unavailable, try again")
    };
    let attribute =
        |name: &str, value: &str| AttributeType::builder().name(name).value(value).build().map_err(|e| unavailable(e.to_string()));
    let created = client
        .admin_create_user()
        .user_pool_id(user_pool_id)
        .username(invitee.email.as_str())
        .user_attributes(attribute("email", invitee.email.as_str())?)
        .user_attributes(attribute("email_verified", "true")?)
        .user_attributes(attribute("name", &invitee.name)?)
        .desired_delivery_mediums(DeliveryMediumType::Email)
        .send()
        .await;
    let created = match created {
        Ok(created) => created,
        Err(e) if e.as_service_error().is_some_and(|s| s.is_username_exists_exception()) => {
            return Err(ApiError::conflict_because("account_exists", "a user with this email exists already"));
        }
        Err(e) => return Err(unavailable(aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e).to_string())),
    };
    let sub = created
        .user()
        .and_then(|u| u.attributes().iter().find(|a| a.name() == "sub"))
        .and_then(|a| a.value())
        .map(str::to_string)
        .ok_or_else(|| unavailable("the created user has no sub".into()))?;
    for role in &invitee.roles {
        client
            .admin_add_user_to_group()
            .user_pool_id(user_pool_id)
            .username(invitee.email.as_str())
            .group_name(role.group())
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(e).to_string()))?;
    }
    Ok(sub)
}
