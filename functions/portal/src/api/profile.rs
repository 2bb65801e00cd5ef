//! The caller's own profile: contact details, language and channel choices (`PATCH /me`),
//! and the GDPR rights: a copy of everything we hold (`GET /me/export`) and erasure
//! (`DELETE /me`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::store::{Attempt, Key, Record, until_done};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::PortalState;
use crate::api::input::{Body, text};
use crate::api::me::CustomerView;
use crate::auth::Caller;
use relance::api_error::ApiError;

/// What a member may change about themselves. Absent fields stay as they are; `email` or
/// `phone` set to `null` removes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "crate::api::input::present")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    #[schema(value_type = Option<Locale>)]
    pub locale: Option<String>,
    pub opt_outs: Option<OptOutsChange>,
    pub preferred_channel: Option<Channel>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutsChange {
    pub email: Option<bool>,
    pub sms: Option<bool>,
}

impl ProfileChange {
    /// Applies the change to `customer`, or says which field is wrong (nothing is applied).
    fn apply(self, customer: &mut Customer) -> Result<(), ApiError> {
        let mut changed = customer.clone();
        // A national number is read in the country the customer's locale named so far: a
        // member switching the portal to English keeps their French mobile.
        let country = customer.locale.region().map(str::to_string);
        if let Some(name) = self.name {
            changed.name = text("name", &name, 200)?;
        }
        if let Some(locale) = self.locale {
            changed.locale = Locale::parse(&locale).map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        if let Some(email) = self.email {
            changed.set_email(email.map(|e| Email::parse(&e)).transpose().map_err(|e| ApiError::bad_request(e.to_string()))?);
        }
        if let Some(phone) = self.phone {
            changed.phone =
                phone.map(|p| PhoneE164::parse(&p, country.as_deref())).transpose().map_err(|e| ApiError::bad_request(e.to_string()))?;
        }
        if let Some(opt_outs) = self.opt_outs {
            changed.opt_outs.email = opt_outs.email.unwrap_or(changed.opt_outs.email);
            changed.opt_outs.sms = opt_outs.sms.unwrap_or(changed.opt_outs.sms);
        }
        if let Some(channel) = self.preferred_channel {
            changed.preferred_channel = Some(channel);
        }
        *customer = changed;
        Ok(())
    }
}

/// The caller's account and customer, or 404 when the account is nobody's customer.
async fn account_and_customer(state: &PortalState, caller: &Caller) -> Result<(Account, Customer), ApiError> {
    let account: Account = state.store.get(&Key::account(&caller.user)).await?.ok_or_else(ApiError::not_found)?;
    let id = account.customer_id.clone().ok_or_else(ApiError::not_found)?;
    let customer = state.store.get(&Key::customer(&id)).await?.ok_or_else(ApiError::not_found)?;
    Ok((account, customer))
}

/// The customer record after a change.
#[derive(Debug, Serialize, ToSchema)]
pub struct Profile {
    pub customer: CustomerView,
}

/// A change of one's own details, saved from a fresh read again if a webhook or a bounce
/// changed the customer meanwhile (store::until_done).
#[utoipa::path(patch, path = "/me", tag = "me", summary = "Change contact details, language, channel choices",
    request_body = ProfileChange, responses((status = 200, body = Profile)))]
pub async fn update_me(
    State(state): State<PortalState>,
    caller: Caller,
    Body(change): Body<ProfileChange>,
) -> Result<Json<Profile>, ApiError> {
    let (state, caller, change) = (&state, &caller, &change);
    let saved = until_done(|_| async move {
        let (_, mut customer) = account_and_customer(state, caller).await?;
        change.clone().apply(&mut customer)?;
        Ok::<_, ApiError>(Attempt::of(state.store.update(&mut customer).await)?.map(|()| customer))
    })
    .await?;
    let customer = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(Profile { customer: CustomerView::of(&customer) }))
}

/// Everything held about the caller. The records are exported exactly as stored (every
/// field, the ones the API does not show included): that is what the right of access asks.
#[derive(Debug, Serialize, ToSchema)]
pub struct Export {
    pub exported_at: DateTime<Utc>,
    pub user: String,
    pub email: Option<String>,
    pub roles: Vec<Role>,
    pub garden: Option<Plot>,
    /// Absent when the account is nobody's customer.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    pub customer: Option<Value>,
    #[schema(value_type = Vec<Object>)]
    pub invoices: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub subscriptions: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub payments: Vec<Value>,
    /// What is held of a card is already only its brand, last four digits and expiry.
    #[schema(value_type = Vec<Object>)]
    pub payment_methods: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub notifications: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub messages: Vec<Value>,
    #[schema(value_type = Vec<Object>)]
    pub event_registrations: Vec<Value>,
}

/// Records as stored, for the export.
fn as_stored<R: Serialize>(records: Vec<R>) -> Result<Vec<Value>, ApiError> {
    records.iter().map(serde_json::to_value).collect::<Result<_, _>>().map_err(|e| {
        tracing::error!(error = %e, "a stored record did not serialise");
        ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", "temporarily unavailable, try again")
    })
}

/// Everything we hold about the caller, in one JSON document (GDPR art. 15 and 20).
#[utoipa::path(get, path = "/me/export", tag = "me", summary = "Everything held about me (GDPR)", responses((status = 200, body = Export)))]
pub async fn export(State(state): State<PortalState>, caller: Caller) -> Result<Json<Export>, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let mut export = Export::empty(caller.user.clone(), caller.email.clone(), caller.roles.iter().copied().collect());
    export.garden = account.as_ref().and_then(|a| a.garden.clone());
    export.messages = as_stored(state.store.list_all::<Message>(&Key::conversation(&caller.user)).await?)?;
    export.event_registrations = as_stored(state.store.list_all::<Attendance>(&Key::account(&caller.user).pk).await?)?;
    if let Some(customer_id) = account.as_ref().and_then(|a| a.customer_id.clone()) {
        export.customer_records(&state, &customer_id).await?;
    }
    Ok(Json(export))
}

impl Export {
    /// An export of nothing yet, made now, for this sign-in.
    fn empty(user: String, email: Option<String>, roles: Vec<Role>) -> Export {
        Export {
            exported_at: Utc::now(),
            user,
            email,
            roles,
            garden: None,
            customer: None,
            invoices: Vec::new(),
            subscriptions: Vec::new(),
            payments: Vec::new(),
            payment_methods: Vec::new(),
            notifications: Vec::new(),
            messages: Vec::new(),
            event_registrations: Vec::new(),
        }
    }

    /// What the customer's partition holds: the customer and everything about them.
    async fn customer_records(&mut self, state: &PortalState, customer_id: &CustomerId) -> Result<(), ApiError> {
        let partition = Key::customer_partition(customer_id);
        let customer: Option<Customer> = state.store.get(&Key::customer(customer_id)).await?;
        self.customer = as_stored(customer.into_iter().collect())?.pop();
        self.invoices = as_stored(state.store.list_all::<Invoice>(&partition).await?)?;
        self.subscriptions = as_stored(state.store.list_all::<Subscription>(&partition).await?)?;
        self.payments = as_stored(state.store.list_all::<Payment>(&partition).await?)?;
        self.payment_methods = as_stored(state.store.list_all::<PaymentMethod>(&partition).await?)?;
        self.notifications = as_stored(state.store.list_all::<Notification>(&partition).await?)?;
        Ok(())
    }
}

/// A customer's export, for the team to answer a request for their data made elsewhere (a
/// provider's `customers/data_request`, a letter): the same document as `GET /me/export`,
/// of the customer's records (the member space's account, its messages and registrations
/// are the member's own export).
#[utoipa::path(get, path = "/admin/customers/{id}/export", tag = "admin", summary = "Everything held about a customer (GDPR request)",
    params(("id" = String, Path, description = "Our id for the customer")), responses((status = 200, body = Export)))]
pub async fn admin_export(
    State(state): State<PortalState>,
    caller: Caller,
    axum::extract::Path(id): axum::extract::Path<String>,
) -> Result<Json<Export>, ApiError> {
    caller.require_any(&[Role::Admin])?;
    let customer_id = CustomerId::parse(&id).map_err(|_| ApiError::not_found())?;
    let mut export = Export::empty(String::new(), None, Vec::new());
    export.customer_records(&state, &customer_id).await?;
    if export.customer.is_none() {
        return Err(ApiError::not_found());
    }
    Ok(Json(export))
}

/// What erasure removed and what it kept, and why.
#[derive(Debug, Serialize, ToSchema)]
pub struct Erasure {
    pub erased: Vec<&'static str>,
    pub kept: Vec<&'static str>,
    pub why_kept: &'static str,
    pub erased_at: DateTime<Utc>,
}

/// Erasure (GDPR art. 17): contact details and personal dates are wiped at once, reminders
/// stop, and the account no longer sees a customer record. Invoices and payments stay, with
/// their amounts and numbers, because accounting law requires keeping them (ten years in
/// France, Code de commerce L123-22); they now name an erased customer.
///
/// While something is still owed, erasure is refused (409): the business keeps what it needs
/// to collect a debt (GDPR art. 17(3)(e)), and erasing would otherwise stop the reminders
/// without anyone being told.
#[utoipa::path(delete, path = "/me", tag = "me", summary = "Request erasure (GDPR): contact details wiped, books kept",
    responses((status = 202, body = Erasure)))]
pub async fn erase_me(State(state): State<PortalState>, caller: Caller) -> Result<(StatusCode, Json<Erasure>), ApiError> {
    let (mut account, mut customer) = account_and_customer(&state, &caller).await?;
    let owed = state.store.list_all::<Invoice>(&Key::customer_partition(&customer.id)).await?.iter().any(|i| i.balance().is_positive());
    if owed {
        return Err(ApiError::conflict_because(
            "unpaid_invoices",
            "invoices are still unpaid: settle them, or write to support, before your data can be erased",
        ));
    }
    // What the providers said of them, and what they wrote to support, go first: a failure
    // here leaves nothing erased yet, and the request can simply be made again.
    relance::ingest::erasure::forget_around(&state.store, &customer.id).await?;
    anonymise_messages(&state, &caller.user).await?;
    let now: DateTime<Utc> = Utc::now();
    customer.erase(now);
    account.customer_id = None;
    account.garden = None;
    account.closed = true;
    let mut tx = state.store.transaction();
    tx.update(&mut customer)?;
    tx.update(&mut account)?;
    // The farmers' attendee lists named the person too.
    for attendance in state.store.list_all::<Attendance>(&Key::account(&caller.user).pk).await? {
        let key = Key::registration(&attendance.event_id, &caller.user);
        if let Some(mut registration) = state.store.get::<Registration>(&key).await? {
            registration.name = "(erased)".into();
            tx.update(&mut registration)?;
        }
    }
    state.store.commit(tx).await?;
    // Once more now that they are erased: a message dispatch was sending meanwhile may have
    // kept its words after the first pass (nothing is sent to an erased customer after this).
    // The erasure itself is done: a failure here is logged, not answered.
    if let Err(e) = relance::ingest::erasure::forget_around(&state.store, &customer.id).await {
        tracing::error!(error = %e, customer = %customer.id, "second pass over the sent texts failed");
    }
    Ok((
        StatusCode::ACCEPTED,
        Json(Erasure {
            erased: vec!["name", "email", "phone", "custom_dates", "tags", "lists", "messages", "archived_deliveries", "sent_texts"],
            kept: vec!["invoices", "payments"],
            why_kept: "accounting law requires keeping invoices and payments; they no longer carry your contact details",
            erased_at: now,
        }),
    ))
}

/// The member's own messages to support, and the inbox's excerpts of them, lose their words;
/// support's answers stay (they are the business's), in a conversation that names no one.
async fn anonymise_messages(state: &PortalState, member: &str) -> Result<(), ApiError> {
    let messages: Vec<Message> = state.store.list_all(&Key::conversation(member)).await?;
    for mut message in messages.into_iter().filter(|m| m.author == Author::Member && m.body != ERASED_WORDS) {
        let inbox = Key {
            pk: Key::INBOX.into(),
            sk: format!("{}{}#{}", <InboxEntry as Record>::SK_PREFIX, relance::store::format_instant(message.sent_at), message.id),
        };
        message.body = ERASED_WORDS.into();
        state.store.update(&mut message).await?;
        if let Some(mut entry) = state.store.get::<InboxEntry>(&inbox).await? {
            entry.excerpt = ERASED_WORDS.into();
            state.store.update(&mut entry).await?;
        }
    }
    Ok(())
}

/// What an erased member's messages say instead.
const ERASED_WORDS: &str = "(erased)";
