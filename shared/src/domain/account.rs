//! A sign-in account: the identity provider's user (Cognito's `sub`) and the customer record
//! it sees in the member space. Roles are not stored here: they come with each token.

use serde::{Deserialize, Serialize};

use super::ids::CustomerId;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The identity provider's subject.
    pub user: String,
    /// The customer this user is, if any (an admin or a farmer may be nobody's customer).
    pub customer_id: Option<CustomerId>,
    #[serde(default)]
    pub version: u64,
}
