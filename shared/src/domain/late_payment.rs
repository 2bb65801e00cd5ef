//! Late-payment penalties for business customers, as French law sets them (article L441-10
//! of the Code de commerce): interest at the agreed rate (by default the ECB's refinancing
//! rate plus 10 points, which the owner updates each half-year) on the balance overdue, for
//! each day late, and a fixed recovery indemnity of 40 € per invoice. Consumers never owe
//! them. Computed in integer cents with one rounding, half up, as invoices print amounts.

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::money::{Currency, Money, MoneyError, Rounding};

/// The owner's penalty terms, when they turned them on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LatePaymentTerms {
    /// The yearly rate in hundredths of a percent: 1415 is 14.15 % (a 4.15 % refinancing
    /// rate plus 10 points).
    pub rate_basis_points: u32,
    /// The fixed indemnity per invoice, in the invoice's minor units (4000: 40 €). Charged on
    /// euro invoices only: the law states it in euros.
    #[serde(default = "forty_euros")]
    pub indemnity_minor: i64,
}

fn forty_euros() -> i64 {
    4000
}

/// What a late invoice owes on top of its balance, on one day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LatePaymentCharges {
    /// Days past the due date.
    pub days_late: i64,
    pub penalties: Money,
    pub indemnity: Money,
}

impl LatePaymentCharges {
    /// The balance with both added.
    pub fn total_with(&self, balance: Money) -> Result<Money, MoneyError> {
        balance.checked_add(self.penalties)?.checked_add(self.indemnity)
    }
}

impl LatePaymentTerms {
    /// What `balance`, due on `due`, owes on `on`: nothing before it is late.
    /// `balance × rate × days ÷ 365`, rounded once.
    pub fn charges(&self, balance: Money, due: NaiveDate, on: NaiveDate) -> Result<Option<LatePaymentCharges>, MoneyError> {
        let days_late = (on - due).num_days();
        if days_late <= 0 || !balance.is_positive() {
            return Ok(None);
        }
        let penalties = balance.mul_ratio(i64::from(self.rate_basis_points) * days_late, 10_000 * 365, Rounding::HalfUp)?;
        let indemnity =
            Money::from_minor(if balance.currency() == Currency::EUR { self.indemnity_minor.max(0) } else { 0 }, balance.currency());
        Ok(Some(LatePaymentCharges { days_late, penalties, indemnity }))
    }
}

/// What an invoice of a customer owes in late-payment charges on `today` (their day): only a
/// business customer's, only while the invoice is owed and past due, only when the owner
/// turned the terms on. The final notice, the invoice pages and the export all ask this.
pub fn charges_for(
    terms: Option<&LatePaymentTerms>,
    customer: &super::Customer,
    invoice: &super::Invoice,
    today: NaiveDate,
) -> Option<LatePaymentCharges> {
    let terms = terms?;
    if !customer.business || !invoice.is_owed() {
        return None;
    }
    terms.charges(invoice.balance(), invoice.due_date, today).ok().flatten()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).unwrap()
    }

    #[test]
    fn penalties_accrue_per_day_late_with_one_rounding() {
        let terms = LatePaymentTerms { rate_basis_points: 1415, indemnity_minor: 4000 };
        let balance = Money::from_minor(123_456, Currency::EUR);
        // 1 234,56 € × 14.15 % × 30 / 365 = 14.3580… €: 14,36 €.
        let charges = terms.charges(balance, day(10, 1), day(10, 31)).unwrap().unwrap();
        assert_eq!((charges.days_late, charges.penalties.minor_units(), charges.indemnity.minor_units()), (30, 1436, 4000));
        assert_eq!(charges.total_with(balance).unwrap().minor_units(), 123_456 + 1436 + 4000);
        // Not late yet, or nothing owed: nothing.
        assert_eq!(terms.charges(balance, day(10, 1), day(10, 1)).unwrap(), None);
        assert_eq!(terms.charges(Money::zero(Currency::EUR), day(10, 1), day(10, 31)).unwrap(), None);
        // The indemnity is in euros: not added to a dollar invoice.
        let usd = terms.charges(Money::from_minor(100_000, Currency::USD), day(10, 1), day(10, 31)).unwrap().unwrap();
        assert_eq!(usd.indemnity.minor_units(), 0);
    }
}
