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
    /// Seen and worth pursuing (stored as `contacted` before it was named so).
    #[serde(alias = "contacted")]
    Qualified,
    Won,
    Lost,
}

impl LeadStatus {
    /// As stored and as templates read it.
    pub fn as_str(self) -> &'static str {
        match self {
            LeadStatus::Submitted => "submitted",
            LeadStatus::Qualified => "qualified",
            LeadStatus::Won => "won",
            LeadStatus::Lost => "lost",
        }
    }

    /// Won and lost are decisions; nothing moves a lead on from them.
    pub fn is_decided(self) -> bool {
        matches!(self, LeadStatus::Won | LeadStatus::Lost)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LeadError {
    #[error("status: a {from:?} lead cannot become {to:?} (submitted → qualified → won or lost)")]
    Transition { from: LeadStatus, to: LeadStatus },
    #[error("commission: a won lead needs its commission, a positive amount")]
    CommissionMissing,
    #[error("commission: only a won lead earns one")]
    CommissionWithoutWin,
    #[error("commission: it is paid once, after the lead is won")]
    NotPayable,
}

/// A prospect an ambassador introduced.
///
/// It moves `submitted → qualified → won | lost` (straight to a decision is allowed); a win
/// carries the ambassador's commission, which is then paid once.
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

impl Lead {
    /// Moves the lead to `status` at `now`; on a win, `commission` is what the ambassador
    /// earns (it may be corrected while unpaid). True when anything changed.
    pub fn move_to(&mut self, status: LeadStatus, commission: Option<Money>, now: DateTime<Utc>) -> Result<bool, LeadError> {
        let allowed = status == self.status
            || match self.status {
                LeadStatus::Submitted => status != LeadStatus::Submitted,
                LeadStatus::Qualified => status.is_decided(),
                LeadStatus::Won | LeadStatus::Lost => false,
            };
        if !allowed {
            return Err(LeadError::Transition { from: self.status, to: status });
        }
        match (status, commission) {
            (LeadStatus::Won, Some(amount)) if amount.is_positive() => {
                if self.commission_paid_at.is_some() && self.commission != Some(amount) {
                    return Err(LeadError::NotPayable);
                }
            }
            (LeadStatus::Won, None) if self.commission.is_some() => {}
            (LeadStatus::Won, _) => return Err(LeadError::CommissionMissing),
            (_, Some(_)) => return Err(LeadError::CommissionWithoutWin),
            (_, None) => {}
        }
        let before = (self.status, self.commission);
        if status != self.status {
            self.status = status;
            self.decided_at = status.is_decided().then_some(now);
        }
        if let Some(amount) = commission {
            self.commission = Some(amount);
        }
        Ok((self.status, self.commission) != before)
    }

    /// Records the commission as paid at `at` (once; a second time changes nothing).
    pub fn mark_commission_paid(&mut self, at: DateTime<Utc>) -> Result<bool, LeadError> {
        if self.status != LeadStatus::Won || self.commission.is_none() {
            return Err(LeadError::NotPayable);
        }
        if self.commission_paid_at.is_some() {
            return Ok(false);
        }
        self.commission_paid_at = Some(at);
        Ok(true)
    }
}

impl Mission {
    /// What a mission must be to bill: a title, a start before its end, a fee not below zero.
    pub fn check(&self) -> Result<(), &'static str> {
        if self.title.trim().is_empty() {
            return Err("title must not be empty");
        }
        if self.ends_on.is_some_and(|end| end < self.starts_on) {
            return Err("ends_on must not be before starts_on");
        }
        if self.monthly_fee.is_negative() {
            return Err("monthly_fee must not be negative");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Currency;

    fn lead() -> Lead {
        Lead {
            id: LeadId::parse("lead-1").unwrap(),
            ambassador: "amb-1".into(),
            company: "Librairie du Parc".into(),
            contact_name: "Mme Roux".into(),
            email: None,
            phone: None,
            note: String::new(),
            status: LeadStatus::Submitted,
            submitted_at: at(1),
            decided_at: None,
            commission: None,
            commission_paid_at: None,
            version: 0,
        }
    }

    fn at(day: u32) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(&format!("2026-11-{day:02}T10:00:00Z")).unwrap().with_timezone(&Utc)
    }

    #[test]
    fn a_lead_moves_forward_to_a_decision_and_a_win_carries_its_commission() {
        let eur = |minor| Money::from_minor(minor, Currency::EUR);
        let mut l = lead();
        assert_eq!(l.move_to(LeadStatus::Qualified, None, at(2)), Ok(true));
        assert_eq!(l.move_to(LeadStatus::Qualified, None, at(3)), Ok(false), "the same status again changes nothing");
        assert_eq!(l.move_to(LeadStatus::Won, None, at(4)), Err(LeadError::CommissionMissing));
        assert_eq!(l.move_to(LeadStatus::Won, Some(eur(0)), at(4)), Err(LeadError::CommissionMissing));
        assert_eq!(l.move_to(LeadStatus::Won, Some(eur(15_000)), at(4)), Ok(true));
        assert_eq!((l.decided_at, l.commission), (Some(at(4)), Some(eur(15_000))));
        assert_eq!(l.move_to(LeadStatus::Won, Some(eur(12_000)), at(5)), Ok(true), "corrected while unpaid");
        assert_eq!(l.move_to(LeadStatus::Lost, None, at(5)), Err(LeadError::Transition { from: LeadStatus::Won, to: LeadStatus::Lost }));
        assert_eq!(l.mark_commission_paid(at(6)), Ok(true));
        assert_eq!(l.mark_commission_paid(at(7)), Ok(false));
        assert_eq!(l.move_to(LeadStatus::Won, Some(eur(1)), at(8)), Err(LeadError::NotPayable), "a paid commission stays as paid");

        let mut other = lead();
        assert_eq!(other.move_to(LeadStatus::Lost, Some(eur(100)), at(2)), Err(LeadError::CommissionWithoutWin));
        assert_eq!(other.mark_commission_paid(at(2)), Err(LeadError::NotPayable));
        assert_eq!(other.move_to(LeadStatus::Lost, None, at(2)), Ok(true));
        assert!(other.move_to(LeadStatus::Submitted, None, at(3)).is_err(), "a decision is final");
    }
}
