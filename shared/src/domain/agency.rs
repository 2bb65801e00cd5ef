//! The agency side: missions sold to clients and staffed with freelancers, the sales people
//! who own them, and the ambassadors who bring leads for a commission.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::contact::{Email, PhoneE164};
use super::ids::{CustomerId, LeadId, MissionId};
use super::money::Money;

/// A piece of work for a client, billed monthly.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mission {
    pub id: MissionId,
    /// The client (a customer of the agency).
    pub client: CustomerId,
    pub client_name: String,
    /// The sales person (user) who sold it and whose figures it counts in.
    pub sales: String,
    pub title: String,
    /// The freelancers staffed on it.
    pub freelancers: Vec<String>,
    pub starts_on: NaiveDate,
    /// Open-ended when unset.
    pub ends_on: Option<NaiveDate>,
    /// What the mission is planned to bill each month it runs: the "projected" revenue.
    pub monthly_fee: Money,
    #[serde(default)]
    pub version: u64,
}

impl Mission {
    /// True when the mission runs on at least one day between `first` and `last`.
    pub fn runs_between(&self, first: NaiveDate, last: NaiveDate) -> bool {
        self.starts_on <= last && self.ends_on.is_none_or(|end| end >= first)
    }
}

/// The sales person's pointer to a mission in the client's partition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MissionLink {
    pub sales: String,
    pub client: CustomerId,
    pub mission: MissionId,
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LeadStatus {
    Submitted,
    Contacted,
    Won,
    Lost,
}

/// A prospect an ambassador introduced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lead {
    pub id: LeadId,
    pub ambassador: String,
    pub company: String,
    pub contact_name: String,
    pub email: Option<Email>,
    pub phone: Option<PhoneE164>,
    #[serde(default)]
    pub note: String,
    pub status: LeadStatus,
    pub submitted_at: DateTime<Utc>,
    /// When it was won or lost.
    #[serde(default)]
    pub decided_at: Option<DateTime<Utc>>,
    /// The ambassador's commission, set when the lead is won.
    #[serde(default)]
    pub commission: Option<Money>,
    #[serde(default)]
    pub commission_paid_at: Option<DateTime<Utc>>,
    #[serde(default)]
    pub version: u64,
}
