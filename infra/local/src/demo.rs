//! What the demo's parts share: how many members there are, their ids, and reading the
//! demo's fixed values. Below both [`crate::seed`] (the members and their billing) and
//! [`crate::demo_space`] (gardens, events, agency), so neither reaches into the other.

use relance::domain::CustomerId;

/// How many members the demo business has.
pub const MEMBERS: usize = 100;

/// The id of demo member `index` (`demo-0001` …), stable across runs.
pub fn demo_customer_id(index: usize) -> CustomerId {
    parsed(format!("demo-{:04}", index + 1))
}

/// Demo ids, numbers and cards are built from fixed patterns that always parse; the seed
/// test writes all of them, so a pattern that stopped parsing would fail there.
pub(crate) fn parsed<T: std::str::FromStr>(text: impl AsRef<str>) -> T
where
    T::Err: std::fmt::Debug,
{
    let text = text.as_ref();
    // ok: fixed patterns, see above.
    text.parse().unwrap_or_else(|e| panic!("demo value {text:?}: {e:?}"))
}
