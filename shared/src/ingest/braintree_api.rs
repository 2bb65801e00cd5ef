//! Braintree's API, for what a notification leaves out: a subscription notified before any
//! transaction names its customer (a new subscription, a cancellation) is matched to them
//! through its payment method, as Braintree's SDKs do it (`PaymentMethod.find`, then
//! `Customer.find`): `GET /merchants/{merchant}/payment_methods/any/{token}` answers the
//! method with its `customer-id` (and the card's brand, last 4 and expiry),
//! `GET /merchants/{merchant}/customers/{id}` the customer's name, email and phone. Both
//! with the API keys in HTTP Basic, API version 6, XML.

use crate::providers::braintree::{self, Found};

/// Braintree's gateway, in production and in its sandbox.
pub const PRODUCTION_URL: &str = "https://api.braintreegateway.com";
pub const SANDBOX_URL: &str = "https://api.sandbox.braintreegateway.com";

#[derive(Debug, thiserror::Error)]
pub enum LookupError {
    #[error("Braintree refused the API keys (HTTP {0})")]
    Unauthorized(u16),
    #[error("Braintree answered HTTP {status} for {what}")]
    Http { status: u16, what: &'static str },
    #[error("cannot reach Braintree: {0}")]
    Unreachable(String),
    #[error("Braintree's answer is not what its API documents: {0}")]
    Unreadable(String),
}

#[derive(Clone)]
pub struct BraintreeApi {
    http: reqwest::Client,
    base_url: String,
    merchant_id: String,
    public_key: String,
    private_key: String,
}

impl std::fmt::Debug for BraintreeApi {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BraintreeApi").field("base_url", &self.base_url).field("merchant_id", &self.merchant_id).finish_non_exhaustive()
    }
}

impl BraintreeApi {
    pub fn new(base_url: impl Into<String>, merchant_id: impl Into<String>, keys: &crate::secrets::BraintreeKeys) -> BraintreeApi {
        BraintreeApi {
            http: crate::http::https_client(),
            base_url: base_url.into(),
            merchant_id: merchant_id.into(),
            public_key: keys.public_key.clone(),
            private_key: keys.private_key.clone(),
        }
    }

    /// The body of `GET {path}`, or None when Braintree has no such record (404).
    async fn get(&self, path: &str, what: &'static str) -> Result<Option<String>, LookupError> {
        let url = format!("{}/merchants/{}{path}", self.base_url.trim_end_matches('/'), self.merchant_id);
        let response = self
            .http
            .get(&url)
            .basic_auth(&self.public_key, Some(&self.private_key))
            .header("accept", "application/xml")
            .header("x-apiversion", "6")
            .send()
            .await
            .map_err(|e| LookupError::Unreachable(e.to_string()))?;
        let status = response.status().as_u16();
        match status {
            200 => response.text().await.map(Some).map_err(|e| LookupError::Unreachable(e.to_string())),
            404 => Ok(None),
            401 | 403 => Err(LookupError::Unauthorized(status)),
            _ => Err(LookupError::Http { status, what }),
        }
    }

    /// The customer (and card) a payment method belongs to; None when Braintree knows no such
    /// method or customer.
    pub async fn find_by_payment_method(&self, token: &str) -> Result<Option<Found>, LookupError> {
        let token = form_urlencoded::byte_serialize(token.as_bytes()).collect::<String>();
        let Some(method) = self.get(&format!("/payment_methods/any/{token}"), "the payment method").await? else { return Ok(None) };
        let (card, is_card) = braintree::read_payment_method(&method).map_err(|e| LookupError::Unreadable(e.0))?;
        let Some(customer_id) = card.customer_id().map(|id| form_urlencoded::byte_serialize(id.as_bytes()).collect::<String>()) else {
            return Err(LookupError::Unreadable("the payment method names no customer-id".into()));
        };
        let Some(customer) = self.get(&format!("/customers/{customer_id}"), "the customer").await? else { return Ok(None) };
        let customer = braintree::read_customer(&customer).map_err(|e| LookupError::Unreadable(e.0))?;
        Ok(Some(Found { customer, card: is_card.then_some(card) }))
    }
}

/// The customer of the notification's subscription when we follow it already: no call to
/// Braintree is needed to know who it is.
pub async fn known_customer(store: &crate::store::Store, notice: &braintree::Notice) -> Result<Option<Found>, crate::store::StoreError> {
    use crate::domain::{Customer, Provider, ProviderRef, Subscription};
    let Some(reference) = notice.subscription_id().and_then(|id| ProviderRef::new(Provider::Braintree, id).ok()) else {
        return Ok(None);
    };
    let Some(key) = store.find_by_provider_ref("Subscription", &reference).await? else { return Ok(None) };
    let Some(subscription) = store.get::<Subscription>(&key).await? else { return Ok(None) };
    let Some(customer) = store.get::<Customer>(&crate::store::Key::customer(&subscription.customer_id)).await? else { return Ok(None) };
    let id = customer.provider_refs.iter().find(|r| r.provider == Provider::Braintree).map(|r| r.id.clone());
    Ok(id.map(|id| Found { customer: braintree::BtCustomer::with_id(&id), card: None }))
}
