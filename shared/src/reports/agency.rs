//! The agency's dashboards: a client's billing by month, a sales person's projected and actual
//! revenue with their bonus estimate, an ambassador's leads and commissions.

use std::collections::{BTreeMap, BTreeSet};

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use super::month::{Month, Series};
use crate::domain::{Currency, Invoice, Lead, LeadStatus, Mission, Money, MoneyError, Rounding};

/// The currencies `amounts` use, in a stable order: one series each.
fn currencies(amounts: impl IntoIterator<Item = Currency>) -> Vec<Currency> {
    let set: BTreeSet<&'static str> = amounts.into_iter().map(|c| c.code()).collect();
    set.into_iter().filter_map(|code| code.parse().ok()).collect()
}

/// A client's view: what was billed and paid each month.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClientDashboard {
    /// Amount invoiced, by month of issue.
    pub billed: Vec<Series>,
    /// Amount paid on those invoices, by month of issue.
    pub paid: Vec<Series>,
    /// Still owed across the client's invoices, per currency.
    pub outstanding: Vec<Money>,
}

impl ClientDashboard {
    pub fn compute(invoices: &[Invoice], months: &[Month]) -> ClientDashboard {
        let live: Vec<&Invoice> = invoices.iter().filter(|i| i.status.counts_as_billed()).collect();
        let used = currencies(live.iter().map(|i| i.currency()));
        let billed =
            used.iter().map(|c| Series::monthly(*c, months, live.iter().map(|i| (Month::of_instant(i.issued_at), i.amount_due)))).collect();
        let paid = used
            .iter()
            .map(|c| Series::monthly(*c, months, live.iter().map(|i| (Month::of_instant(i.issued_at), i.amount_paid))))
            .collect();
        let outstanding = used
            .iter()
            .map(|c| {
                let owed = live.iter().filter(|i| i.currency() == *c).map(|i| i.balance().minor_units()).sum();
                Money::from_minor(owed, *c)
            })
            .collect();
        ClientDashboard { billed, paid, outstanding }
    }
}

/// A bonus rate table: each tier's rate applies to the part of the month's actual revenue
/// above its threshold (marginal tiers, like tax brackets), in basis points (1 % = 100).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BonusRates {
    pub currency: Currency,
    pub tiers: Vec<BonusTier>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct BonusTier {
    /// Minor units of revenue from which this rate applies.
    pub above: i64,
    pub basis_points: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BonusRatesError {
    #[error("RELANCE_BONUS_RATES is not valid: {0}")]
    Invalid(String),
}

impl Default for BonusRates {
    /// 3 % of a month's revenue, 5 % of what passes 10,000.00.
    fn default() -> Self {
        BonusRates {
            currency: Currency::EUR,
            tiers: vec![BonusTier { above: 0, basis_points: 300 }, BonusTier { above: 1_000_000, basis_points: 500 }],
        }
    }
}

impl BonusRates {
    /// Reads a table such as `{"currency":"EUR","tiers":[{"above":0,"basis_points":300}]}`;
    /// tiers must start at 0, rise, and stay between 0 and 100 %.
    pub fn parse(json: &str) -> Result<BonusRates, BonusRatesError> {
        let rates: BonusRates = serde_json::from_str(json).map_err(|e| BonusRatesError::Invalid(e.to_string()))?;
        rates.check()?;
        Ok(rates)
    }

    fn check(&self) -> Result<(), BonusRatesError> {
        let invalid = |why: &str| Err(BonusRatesError::Invalid(why.into()));
        match self.tiers.first() {
            Some(first) if first.above == 0 => {}
            _ => return invalid("the first tier must start at 0"),
        }
        if self.tiers.windows(2).any(|w| w[1].above <= w[0].above) {
            return invalid("tiers must have rising thresholds");
        }
        if self.tiers.iter().any(|t| !(0..=10_000).contains(&t.basis_points)) {
            return invalid("a rate must be between 0 and 10000 basis points");
        }
        Ok(())
    }

    /// The bonus on `revenue`, rounded down to the minor unit (never promise a cent too many).
    pub fn bonus(&self, revenue: Money) -> Result<Money, MoneyError> {
        let mut bonus = Money::zero(revenue.currency());
        for (i, tier) in self.tiers.iter().enumerate() {
            let ceiling = self.tiers.get(i + 1).map_or(i64::MAX, |next| next.above);
            let slice = revenue.minor_units().min(ceiling) - tier.above;
            if slice <= 0 {
                break;
            }
            bonus = bonus.checked_add(Money::from_minor(slice, revenue.currency()).mul_ratio(
                tier.basis_points,
                10_000,
                Rounding::TowardZero,
            )?)?;
        }
        Ok(bonus)
    }
}

/// A sales person's figures for their missions.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SalesDashboard {
    /// What the missions are planned to bill, month by month.
    pub projected: Vec<Series>,
    /// What was invoiced and paid on the missions, by month of issue.
    pub actual: Vec<Series>,
    /// The bonus each month's actual revenue earns (table currency only).
    pub bonus: Series,
    pub bonus_total: Money,
    /// Freelancers on a mission running `today`.
    pub freelancers_on_mission: Vec<String>,
    /// Months whose projected revenue is at least 20 % above the range's monthly average.
    pub peak_periods: Vec<Month>,
}

impl SalesDashboard {
    pub fn compute(
        missions: &[Mission],
        invoices: &[Invoice],
        months: &[Month],
        rates: &BonusRates,
        today: NaiveDate,
    ) -> Result<SalesDashboard, MoneyError> {
        let used = currencies(missions.iter().map(|m| m.monthly_fee.currency()).chain(invoices.iter().map(|i| i.currency())));
        let planned: Vec<(Month, Money)> = months
            .iter()
            .flat_map(|month| {
                missions.iter().filter(|m| m.runs_between(month.first_day(), month.last_day())).map(|m| (*month, m.monthly_fee))
            })
            .collect();
        let projected: Vec<Series> = used.iter().map(|c| Series::monthly(*c, months, planned.iter().copied())).collect();
        let paid = invoices.iter().filter(|i| i.status.counts_as_billed()).map(|i| (Month::of_instant(i.issued_at), i.amount_paid));
        let actual: Vec<Series> = used.iter().map(|c| Series::monthly(*c, months, paid.clone())).collect();

        let in_table_currency =
            actual.iter().find(|s| s.currency == rates.currency).cloned().unwrap_or_else(|| Series::monthly(rates.currency, months, []));
        let mut bonus = in_table_currency.clone();
        for point in &mut bonus.points {
            point.value = rates.bonus(Money::from_minor(point.value, rates.currency))?.minor_units();
        }
        let bonus_total = Money::from_minor(bonus.total(), rates.currency);

        let freelancers: BTreeSet<String> =
            missions.iter().filter(|m| m.runs_between(today, today)).flat_map(|m| m.freelancers.iter().cloned()).collect();

        // Peaks, judged in the currency with the most projected revenue.
        let main = projected.iter().max_by_key(|s| s.total());
        let peak_periods = match main {
            Some(series) if !series.points.is_empty() && series.total() > 0 => {
                let count = i64::try_from(series.points.len()).unwrap_or(i64::MAX);
                // value >= 1.2 × average  ⇔  value × 5 × count >= 6 × total, in integers.
                series
                    .points
                    .iter()
                    .filter(|p| i128::from(p.value) * 5 * i128::from(count) >= 6 * i128::from(series.total()))
                    .map(|p| p.period)
                    .collect()
            }
            _ => Vec::new(),
        };
        Ok(SalesDashboard {
            projected,
            actual,
            bonus,
            bonus_total,
            freelancers_on_mission: freelancers.into_iter().collect(),
            peak_periods,
        })
    }
}

/// An ambassador's leads and what they earned.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AmbassadorDashboard {
    pub leads_by_status: BTreeMap<String, u32>,
    /// Commissions on won leads, by month won.
    pub earned: Vec<Series>,
    /// Commissions paid out, by month paid.
    pub paid: Vec<Series>,
    /// Earned and not yet paid, per currency.
    pub owed: Vec<Money>,
}

impl AmbassadorDashboard {
    pub fn compute(leads: &[Lead], months: &[Month]) -> AmbassadorDashboard {
        let mut leads_by_status = BTreeMap::new();
        for status in ["submitted", "qualified", "won", "lost"] {
            leads_by_status.insert(status.to_string(), 0);
        }
        for lead in leads {
            let key = match lead.status {
                LeadStatus::Submitted => "submitted",
                LeadStatus::Qualified => "qualified",
                LeadStatus::Won => "won",
                LeadStatus::Lost => "lost",
            };
            *leads_by_status.entry(key.to_string()).or_default() += 1;
        }
        let won: Vec<(&Lead, Money)> =
            leads.iter().filter(|l| l.status == LeadStatus::Won).filter_map(|l| l.commission.map(|c| (l, c))).collect();
        let used = currencies(won.iter().map(|(_, c)| c.currency()));
        let earned = used
            .iter()
            .map(|c| {
                Series::monthly(*c, months, won.iter().filter_map(|(l, amount)| l.decided_at.map(|at| (Month::of_instant(at), *amount))))
            })
            .collect();
        let paid = used
            .iter()
            .map(|c| {
                Series::monthly(
                    *c,
                    months,
                    won.iter().filter_map(|(l, amount)| l.commission_paid_at.map(|at| (Month::of_instant(at), *amount))),
                )
            })
            .collect();
        let owed = used
            .iter()
            .map(|c| {
                let unpaid =
                    won.iter().filter(|(l, a)| a.currency() == *c && l.commission_paid_at.is_none()).map(|(_, a)| a.minor_units()).sum();
                Money::from_minor(unpaid, *c)
            })
            .collect();
        AmbassadorDashboard { leads_by_status, earned, paid, owed }
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::domain::{CustomerId, InvoiceId, InvoiceNumber, LeadId, MissionId};

    fn eur(minor: i64) -> Money {
        Money::from_minor(minor, Currency::EUR)
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn months(from: &str, to: &str) -> Vec<Month> {
        Month::range(Month::parse(from).unwrap(), Month::parse(to).unwrap())
    }

    fn mission(id: &str, client: &str, fee: i64, starts: &str, ends: Option<&str>, freelancers: &[&str]) -> Mission {
        Mission {
            id: MissionId::parse(id).unwrap(),
            client: CustomerId::parse(client).unwrap(),
            client_name: client.into(),
            sales: "s1".into(),
            title: id.into(),
            freelancers: freelancers.iter().map(|f| f.to_string()).collect(),
            starts_on: day(starts),
            ends_on: ends.map(day),
            monthly_fee: eur(fee),
            version: 0,
        }
    }

    fn invoice(id: &str, client: &str, issued: &str, due: i64, paid: i64) -> Invoice {
        let mut i = Invoice::open(
            InvoiceId::parse(id).unwrap(),
            CustomerId::parse(client).unwrap(),
            InvoiceNumber::parse(id).unwrap(),
            eur(due),
            at(issued),
            at(issued).date_naive(),
        );
        if paid > 0 {
            i.record_payment(eur(paid)).unwrap();
        }
        i
    }

    /// The fixed data set the figures below were worked out from by hand.
    fn agency() -> (Vec<Mission>, Vec<Invoice>) {
        let missions = vec![
            mission("m1", "client-a", 400_000, "2026-01-01", Some("2026-03-31"), &["Léa", "Karim"]),
            mission("m2", "client-b", 800_000, "2026-03-01", None, &["Noor"]),
        ];
        let mut void = invoice("a-void", "client-a", "2026-02-02T10:00:00Z", 999_900, 0);
        void.void().unwrap();
        let invoices = vec![
            invoice("a-jan", "client-a", "2026-01-31T10:00:00Z", 400_000, 400_000),
            invoice("a-feb", "client-a", "2026-02-28T10:00:00Z", 400_000, 0),
            void,
            invoice("a-mar", "client-a", "2026-03-31T10:00:00Z", 400_000, 400_000),
            invoice("b-mar", "client-b", "2026-03-31T11:00:00Z", 800_000, 800_000),
            invoice("b-apr", "client-b", "2026-04-30T10:00:00Z", 800_000, 250_050),
        ];
        (missions, invoices)
    }

    fn values(series: &Series) -> Vec<i64> {
        series.points.iter().map(|p| p.value).collect()
    }

    #[test]
    fn sales_figures_match_the_hand_computed_ones() {
        let (missions, invoices) = agency();
        let range = months("2026-01", "2026-04");
        let d = SalesDashboard::compute(&missions, &invoices, &range, &BonusRates::default(), day("2026-03-15")).unwrap();
        assert_eq!(values(&d.projected[0]), [400_000, 400_000, 1_200_000, 800_000]);
        assert_eq!(values(&d.actual[0]), [400_000, 0, 1_200_000, 250_050]);
        // 3 % to 10,000.00 then 5 %: 120.00; 0; 300.00 + 100.00; 75.015 rounded down to 75.01.
        assert_eq!(values(&d.bonus), [12_000, 0, 40_000, 7_501]);
        assert_eq!(d.bonus_total, eur(59_501));
        assert_eq!(d.freelancers_on_mission, ["Karim", "Léa", "Noor"]);
        // Average projected 7,000.00; a peak is at least 8,400.00: March only.
        assert_eq!(d.peak_periods, [Month::parse("2026-03").unwrap()]);
        let april = SalesDashboard::compute(&missions, &invoices, &range, &BonusRates::default(), day("2026-04-10")).unwrap();
        assert_eq!(april.freelancers_on_mission, ["Noor"]);
    }

    #[test]
    fn a_clients_billing_by_month() {
        let (_, invoices) = agency();
        let mine: Vec<Invoice> = invoices.into_iter().filter(|i| i.customer_id.as_str() == "client-a").collect();
        let d = ClientDashboard::compute(&mine, &months("2026-01", "2026-04"));
        assert_eq!(values(&d.billed[0]), [400_000, 400_000, 400_000, 0], "the voided invoice does not count");
        assert_eq!(values(&d.paid[0]), [400_000, 0, 400_000, 0]);
        assert_eq!(d.outstanding, [eur(400_000)]);
    }

    #[test]
    fn an_ambassadors_commissions() {
        let lead = |id: &str, status: LeadStatus, commission: Option<i64>, decided: Option<&str>, paid: Option<&str>| Lead {
            id: LeadId::parse(id).unwrap(),
            ambassador: "amb".into(),
            company: id.into(),
            contact_name: "x".into(),
            email: None,
            phone: None,
            note: String::new(),
            status,
            submitted_at: at("2026-01-05T10:00:00Z"),
            decided_at: decided.map(at),
            commission: commission.map(eur),
            commission_paid_at: paid.map(at),
            version: 0,
        };
        let leads = [
            lead("l1", LeadStatus::Won, Some(50_000), Some("2026-02-10T10:00:00Z"), Some("2026-03-05T10:00:00Z")),
            lead("l2", LeadStatus::Won, Some(30_000), Some("2026-03-20T10:00:00Z"), None),
            lead("l3", LeadStatus::Lost, None, Some("2026-02-01T10:00:00Z"), None),
            lead("l4", LeadStatus::Submitted, None, None, None),
        ];
        let d = AmbassadorDashboard::compute(&leads, &months("2026-01", "2026-03"));
        assert_eq!(d.leads_by_status.get("won"), Some(&2));
        assert_eq!(d.leads_by_status.get("qualified"), Some(&0));
        assert_eq!(values(&d.earned[0]), [0, 50_000, 30_000]);
        assert_eq!(values(&d.paid[0]), [0, 0, 50_000]);
        assert_eq!(d.owed, [eur(30_000)]);
    }

    #[test]
    fn bonus_tables_are_checked() {
        assert!(BonusRates::parse(r#"{"currency":"EUR","tiers":[{"above":0,"basis_points":250}]}"#).is_ok());
        for bad in [
            r#"{"currency":"EUR","tiers":[]}"#,
            r#"{"currency":"EUR","tiers":[{"above":100,"basis_points":250}]}"#,
            r#"{"currency":"EUR","tiers":[{"above":0,"basis_points":250},{"above":0,"basis_points":300}]}"#,
            r#"{"currency":"EUR","tiers":[{"above":0,"basis_points":20000}]}"#,
            r#"{"currency":"XXX1","tiers":[{"above":0,"basis_points":1}]}"#,
        ] {
            assert!(BonusRates::parse(bad).is_err(), "{bad}");
        }
    }
}
