//! Reminder schedules: the ladders (configuration), the sending window (quiet hours), and
//! the pure decisions the scan takes for each record that has an action due.

pub mod calendar;
pub mod decide;
pub mod ladder;
mod window;

pub use calendar::CalendarRule;
pub use decide::Plan;
pub use ladder::{DateRule, LadderError, Ladders, SendingWindow, Step, StopWhen};
