//! Figures for dashboards and KPIs, computed from records already read (pure, like the
//! domain): the portal reads through the store's indexes and hands the records here.
//!
//! Amounts stay integer minor units in one currency per series; a series never mixes
//! currencies (one series per currency instead), and nothing is converted.

pub mod agency;
pub mod kpis;
pub mod month;
pub mod receivables;

pub use agency::{AmbassadorDashboard, BonusRates, ClientDashboard, SalesDashboard};
pub use kpis::Kpis;
pub use month::{Month, Point, Series};
pub use receivables::{AgeBucket, Aging, Recovered};
