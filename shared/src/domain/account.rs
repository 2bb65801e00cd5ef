//! A sign-in account: the identity provider's user (Cognito's `sub`) and the customer record
//! it sees in the member space. Roles are not stored here: they come with each token.

use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, SiteId};

/// The member space's roles, as the Cognito groups name them.
pub const ROLES: [&str; 7] = ["admin", "farmer", "member", "member_b2b", "client", "sales", "ambassador"];

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Account {
    /// The identity provider's subject.
    pub user: String,
    /// The customer this user is, if any (an admin or a farmer may be nobody's customer).
    pub customer_id: Option<CustomerId>,
    /// The member's garden and plot, if they have one. Which sites a farmer manages is
    /// recorded on the site itself ([`super::Site::farmers`]), the one place that grants it.
    #[serde(default)]
    pub garden: Option<Plot>,
    /// Erasure requested (GDPR): the account no longer signs in to anything.
    #[serde(default)]
    pub closed: bool,
    #[serde(default)]
    pub version: u64,
}

impl Account {
    pub fn new(user: impl Into<String>, customer_id: Option<CustomerId>) -> Account {
        Account { user: user.into(), customer_id, garden: None, closed: false, version: 0 }
    }
}

/// A member's plot in a garden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Plot {
    pub site: SiteId,
    /// The plot's label on the site ("B12").
    pub plot: String,
}
