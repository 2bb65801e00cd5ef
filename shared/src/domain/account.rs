//! A sign-in account: the identity provider's user (Cognito's `sub`) and the customer record
//! it sees in the member space. Roles are not stored here: they come with each token.

use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, SiteId};

/// The member space's roles, as the Cognito groups name them (and as a date rule's
/// audience and a customer's record name them: the same snake_case words).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Role {
    Admin,
    Farmer,
    Member,
    MemberB2b,
    Client,
    Sales,
    Ambassador,
}

impl Role {
    /// The Cognito group that grants the role.
    pub fn group(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Farmer => "farmer",
            Role::Member => "member",
            Role::MemberB2b => "member_b2b",
            Role::Client => "client",
            Role::Sales => "sales",
            Role::Ambassador => "ambassador",
        }
    }

    pub const ALL: [Role; 7] = [Role::Admin, Role::Farmer, Role::Member, Role::MemberB2b, Role::Client, Role::Sales, Role::Ambassador];

    pub fn parse(name: &str) -> Option<Role> {
        Some(match name.trim() {
            "admin" => Role::Admin,
            "farmer" => Role::Farmer,
            "member" => Role::Member,
            "member_b2b" => Role::MemberB2b,
            "client" => Role::Client,
            "sales" => Role::Sales,
            "ambassador" => Role::Ambassador,
            _ => return None,
        })
    }
}

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Plot {
    pub site: SiteId,
    /// The plot's label on the site ("B12").
    pub plot: String,
}
