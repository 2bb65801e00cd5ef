//! Braintree's API, for what a notification leaves out: a subscription notified before any
//! transaction names its customer (a new subscription, a cancellation) is matched to them
//! through its payment method, as Braintree's SDKs do it (`PaymentMethod.find`, then
//! `Customer.find`): `GET /merchants/{merchant}/payment_methods/any/{token}` answers the
//! method with its `customer-id` (and the card's brand, last 4 and expiry),
//! `GET /merchants/{merchant}/customers/{id}` the customer's name, email and phone. A
//! subscription with no transaction states no currency either: its merchant account's is
//! asked (`MerchantAccount.find`, `GET /merchants/{merchant}/merchant_accounts/{id}`). All
//! with the API keys in HTTP Basic, API version 6, XML.
//!
//! Every key pair configured is tried in turn (during a rotation only one may be live). Only
//! a failure that may pass (Braintree unreachable, a 5xx, throttling) is worth Braintree
//! sending the notification again; keys Braintree refuses or an answer we cannot read will
//! not change on a retry ([`LookupError::is_transient`]).

use crate::domain::Currency;
use crate::providers::braintree::{self, Found};
use crate::secrets::BraintreeKeys;

/// Braintree's gateway, in production and in its sandbox.
pub const PRODUCTION_URL: &str = "https://api.braintreegateway.com";
pub const SANDBOX_URL: &str = "https://api.sandbox.braintreegateway.com";

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("Braintree refused every API key pair configured (HTTP {0})")]
    Unauthorized(u16),
    #[error("Braintree answered HTTP {status} for {what}")]
    Http { status: u16, what: &'static str },
    #[error("cannot reach Braintree: {0}")]
    Unreachable(String),
    #[error("Braintree's answer is not what its API documents: {0}")]
    Unreadable(String),
}

impl LookupError {
    /// Whether asking again later may succeed.
    pub fn is_transient(&self) -> bool {
        match self {
            LookupError::Unreachable(_) => true,
            LookupError::Http { status, .. } => *status == 429 || *status >= 500,
            LookupError::Unauthorized(_) | LookupError::Unreadable(_) => false,
        }
    }
}

#[derive(Clone)]
pub struct BraintreeApi {
    http: reqwest::Client,
    base_url: String,
    merchant_id: String,
    keys: Vec<BraintreeKeys>,
}

impl std::fmt::Debug for BraintreeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BraintreeApi")
            .field("base_url", &self.base_url)
            .field("merchant_id", &self.merchant_id)
            .field("key_pairs", &self.keys.len())
            .finish_non_exhaustive()
    }
}

impl BraintreeApi {
    pub fn new(base_url: impl Into<String>, merchant_id: impl Into<String>, keys: &[BraintreeKeys]) -> BraintreeApi {
        BraintreeApi { http: crate::http::https_client(), base_url: base_url.into(), merchant_id: merchant_id.into(), keys: keys.to_vec() }
    }

    /// The body of `GET {path}`, or None when Braintree has no such record (404). A key pair
    /// Braintree refuses gives way to the next one.
    async fn get(&self, path: &str, what: &'static str) -> Result<Option<String>, LookupError> {
        let url = format!("{}/merchants/{}{path}", self.base_url.trim_end_matches('/'), self.merchant_id);
        let mut refused = LookupError::Unauthorized(401);
        for keys in &self.keys {
            let response = self
                .http
                .get(&url)
                .basic_auth(&keys.public_key, Some(&keys.private_key))
                .header("accept", "application/xml")
                .header("x-apiversion", "6")
                .send()
                .await
                .map_err(|e| LookupError::Unreachable(e.to_string()))?;
            let status = response.status().as_u16();
            match status {
                200 => return response.text().await.map(Some).map_err(|e| LookupError::Unreachable(e.to_string())),
                404 => return Ok(None),
                401 | 403 => refused = LookupError::Unauthorized(status),
                _ => return Err(LookupError::Http { status, what }),
            }
        }
        Err(refused)
    }

    /// The customer (and card) a payment method belongs to, with the currency of
    /// `merchant_account` when one is to be looked up; None when Braintree knows no such
    /// method or customer.
    pub async fn find_by_payment_method(&self, token: &str, merchant_account: Option<&str>) -> Result<Option<Found>, LookupError> {
        let token = encode(token);
        let Some(method) = self.get(&format!("/payment_methods/any/{token}"), "the payment method").await? else { return Ok(None) };
        let (card, is_card) = braintree::read_payment_method(&method).map_err(|e| LookupError::Unreadable(e.0))?;
        let Some(customer_id) = card.customer_id().map(encode) else {
            return Err(LookupError::Unreadable("the payment method names no customer-id".into()));
        };
        let Some(customer) = self.get(&format!("/customers/{customer_id}"), "the customer").await? else { return Ok(None) };
        let customer = braintree::read_customer(&customer).map_err(|e| LookupError::Unreadable(e.0))?;
        // The currency is a detail beside who the customer is: keys without the merchant
        // account permission, or an answer we cannot read, leave the default currency.
        let currency = match merchant_account {
            Some(account) => match self.currency_of(account).await {
                Ok(currency) => currency,
                Err(e) if e.is_transient() => return Err(e),
                Err(e) => {
                    tracing::warn!(error = %e, account, "the merchant account's currency is unknown; the business's default is used");
                    None
                }
            },
            None => None,
        };
        Ok(Some(Found { customer, card: is_card.then_some(card), currency }))
    }

    /// The currency a merchant account bills in; None when Braintree has no such account.
    pub async fn currency_of(&self, merchant_account: &str) -> Result<Option<Currency>, LookupError> {
        let Some(account) = self.get(&format!("/merchant_accounts/{}", encode(merchant_account)), "the merchant account").await? else {
            return Ok(None);
        };
        braintree::read_merchant_account_currency(&account).map(Some).map_err(|e| LookupError::Unreadable(e.0))
    }
}

fn encode(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes()).collect()
}

/// The customer of the notification's subscription when we follow it already: no call to
/// Braintree is needed to know who it is, nor its currency.
pub async fn known_customer(store: &crate::store::Store, notice: &braintree::Notice) -> Result<Option<Found>, crate::store::StoreError> {
    use crate::domain::{Customer, Provider, ProviderRef, Subscription};
    let Some(reference) = notice.subscription_id().and_then(|id| ProviderRef::new(Provider::Braintree, id).ok()) else {
        return Ok(None);
    };
    let Some(key) = store.find_by_provider_ref("Subscription", &reference).await? else { return Ok(None) };
    let Some(subscription) = store.get::<Subscription>(&key).await? else { return Ok(None) };
    let Some(customer) = store.get::<Customer>(&crate::store::Key::customer(&subscription.customer_id)).await? else { return Ok(None) };
    let id = customer.provider_refs.iter().find(|r| r.provider == Provider::Braintree).map(|r| r.id.clone());
    let currency = Some(subscription.price.currency());
    Ok(id.map(|id| Found { customer: braintree::BtCustomer::with_id(&id), card: None, currency }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_what_may_pass_is_retried() {
        assert!(LookupError::Unreachable("timeout".into()).is_transient());
        assert!(LookupError::Http { status: 503, what: "the customer" }.is_transient());
        assert!(LookupError::Http { status: 429, what: "the customer" }.is_transient());
        assert!(!LookupError::Http { status: 422, what: "the customer" }.is_transient());
        assert!(!LookupError::Unauthorized(401).is_transient(), "refused keys stay refused");
        assert!(!LookupError::Unreadable("no customer-id".into()).is_transient());
    }
}
