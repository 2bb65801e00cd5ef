//! The caller's own profile: contact details, language and channel choices (`PATCH /me`),
//! and the GDPR rights: a copy of everything we hold (`GET /me/export`) and erasure
//! (`DELETE /me`).

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use chrono::{DateTime, Utc};
use relance::domain::*;
use relance::store::{Attempt, Key, until_done};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::PortalState;
use crate::error::ApiError;
use crate::identity::Caller;
use crate::input::{Body, text};
use crate::me::customer_view;

/// What a member may change about themselves. Absent fields stay as they are; `email` or
/// `phone` set to `null` removes it.
#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileChange {
    pub name: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub email: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(value_type = Option<String>, nullable)]
    pub phone: Option<Option<String>>,
    pub locale: Option<String>,
    pub opt_outs: Option<OptOutsChange>,
    #[schema(value_type = Option<String>, pattern = "^(email|sms)$")]
    pub preferred_channel: Option<Channel>,
}

#[derive(Debug, Clone, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct OptOutsChange {
    pub email: Option<bool>,
    pub sms: Option<bool>,
}

/// Tells `"field": null` (remove) from an absent field (keep).
fn present<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
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
            let email = email.map(|e| Email::parse(&e)).transpose().map_err(|e| ApiError::bad_request(e.to_string()))?;
            if email != changed.email {
                // A new address has not bounced yet.
                changed.email_undeliverable = false;
            }
            changed.email = email;
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

/// A change of one's own details, saved from a fresh read again if a webhook or a bounce
/// changed the customer meanwhile (store::until_done).
pub async fn update_me(
    State(state): State<PortalState>,
    caller: Caller,
    Body(change): Body<ProfileChange>,
) -> Result<Json<Value>, ApiError> {
    let (state, caller, change) = (&state, &caller, &change);
    let saved = until_done(|_| async move {
        let (_, mut customer) = account_and_customer(state, caller).await?;
        change.clone().apply(&mut customer)?;
        Ok::<_, ApiError>(Attempt::of(state.store.update(&mut customer).await)?.map(|()| customer))
    })
    .await?;
    let customer = saved.ok_or_else(|| ApiError::conflict("changed meanwhile; read it again and retry"))?;
    Ok(Json(json!({ "customer": customer_view(&customer) })))
}

/// Everything we hold about the caller, in one JSON document (GDPR art. 15 and 20).
pub async fn export(State(state): State<PortalState>, caller: Caller) -> Result<Json<Value>, ApiError> {
    let account: Option<Account> = state.store.get(&Key::account(&caller.user)).await?;
    let mut export = json!({
        "exported_at": Utc::now(),
        "user": caller.user,
        "email": caller.email,
        "roles": caller.roles,
        "garden": account.as_ref().and_then(|a| a.garden.clone()),
    });
    if let Some(customer_id) = account.as_ref().and_then(|a| a.customer_id.clone()) {
        let partition = Key::customer_partition(&customer_id);
        let customer: Option<Customer> = state.store.get(&Key::customer(&customer_id)).await?;
        export["customer"] = json!(customer);
        export["invoices"] = json!(state.store.list_all::<Invoice>(&partition).await?);
        export["subscriptions"] = json!(state.store.list_all::<Subscription>(&partition).await?);
        export["payments"] = json!(state.store.list_all::<Payment>(&partition).await?);
        // Cards: what we hold is already only brand, last four digits and expiry.
        export["payment_methods"] = json!(state.store.list_all::<PaymentMethod>(&partition).await?);
        export["notifications"] = json!(state.store.list_all::<Notification>(&partition).await?);
    }
    export["messages"] = json!(state.store.list_all::<Message>(&Key::conversation(&caller.user)).await?);
    export["event_registrations"] = json!(state.store.list_all::<Attendance>(&Key::account(&caller.user).pk).await?);
    Ok(Json(export))
}

/// Erasure (GDPR art. 17): contact details and personal dates are wiped at once, reminders
/// stop, and the account no longer sees a customer record. Invoices and payments stay, with
/// their amounts and numbers, because accounting law requires keeping them (ten years in
/// France, Code de commerce L123-22); they now name an erased customer.
///
/// While something is still owed, erasure is refused (409): the business keeps what it needs
/// to collect a debt (GDPR art. 17(3)(e)), and erasing would otherwise stop the reminders
/// without anyone being told.
pub async fn erase_me(State(state): State<PortalState>, caller: Caller) -> Result<(StatusCode, Json<Value>), ApiError> {
    let (mut account, mut customer) = account_and_customer(&state, &caller).await?;
    let owed = state.store.list_all::<Invoice>(&Key::customer_partition(&customer.id)).await?.iter().any(|i| i.balance().is_positive());
    if owed {
        return Err(ApiError::conflict_because(
            "unpaid_invoices",
            "invoices are still unpaid: settle them, or write to support, before your data can be erased",
        ));
    }
    let now: DateTime<Utc> = Utc::now();
    erase(&mut customer, now);
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
    Ok((
        StatusCode::ACCEPTED,
        Json(json!({
            "erased": ["name", "email", "phone", "custom_dates", "tags", "lists"],
            "kept": ["invoices", "payments"],
            "why_kept": "accounting law requires keeping invoices and payments; they no longer carry your contact details",
            "erased_at": now,
        })),
    ))
}

fn erase(customer: &mut Customer, now: DateTime<Utc>) {
    customer.name = "(erased)".into();
    customer.email = None;
    customer.phone = None;
    customer.custom_dates.clear();
    customer.tags.clear();
    customer.lists.clear();
    customer.deleted_at = Some(now);
    customer.follow_up.clear();
}
