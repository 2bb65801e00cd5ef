//! Read, decide, write, and again if the write lost a race: the one loop every
//! read-modify-write in Relance goes through, with one limit.
//!
//! Writes are version-checked (see the module above), so two writers of one record never
//! overwrite each other: the loser gets [`StoreError::Conflict`] and decides again from fresh
//! reads. Whatever it decides must come from what it read in *that* attempt, which is why the
//! loop takes the whole attempt as a closure rather than just the write.

use super::dynamo::Store;
use super::error::StoreError;
use super::keys::Key;
use super::record::Record;

/// How many times a change is decided again after losing a race before the caller is told
/// it could not be made (a webhook answers 5xx and the provider retries; a person gets 409).
pub const WRITE_ATTEMPTS: usize = 4;

/// What one attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt<T> {
    Done(T),
    /// Another writer changed what this attempt read: read again and decide again.
    LostRace,
}

impl<T> Attempt<T> {
    /// A write's result as an attempt: a lost race is tried again, any other error stops.
    pub fn of(result: Result<T, StoreError>) -> Result<Attempt<T>, StoreError> {
        match result {
            Ok(done) => Ok(Attempt::Done(done)),
            Err(StoreError::Conflict(what)) => {
                tracing::debug!(%what, "lost a race; deciding again");
                Ok(Attempt::LostRace)
            }
            Err(other) => Err(other),
        }
    }
}

/// Runs `attempt` (given its number, from 0) until one is done, at most [`WRITE_ATTEMPTS`]
/// times. `None`: every attempt lost its race, and the caller says what that means.
///
/// The closure returns a new future each time, holding what it needs by reference (an
/// async *closure* would make the future not `Send`, which axum's handlers need); an attempt
/// that must carry state to the next (a record re-read) loops over [`WRITE_ATTEMPTS`] itself.
pub async fn until_done<T, E, F, Fut>(mut attempt: F) -> Result<Option<T>, E>
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<Attempt<T>, E>>,
{
    for number in 0..WRITE_ATTEMPTS {
        if let Attempt::Done(done) = attempt(number).await? {
            return Ok(Some(done));
        }
    }
    Ok(None)
}

impl Store {
    /// Reads the record at `key`, lets `change` edit it and saves it, version-checked, again
    /// from a fresh read if someone else saved it meanwhile. `change` answers whether there is
    /// anything to save (false: the record is returned as read). `Ok(None)`: no such record.
    /// A record still contended after [`WRITE_ATTEMPTS`] is a [`StoreError::Conflict`].
    pub async fn modify<R: Record>(&self, key: &Key, mut change: impl FnMut(&mut R) -> bool) -> Result<Option<R>, StoreError> {
        for _ in 0..WRITE_ATTEMPTS {
            let Some(mut record) = self.get::<R>(key).await? else { return Ok(None) };
            if !change(&mut record) {
                return Ok(Some(record));
            }
            if let Attempt::Done(()) = Attempt::of(self.update(&mut record).await)? {
                return Ok(Some(record));
            }
        }
        Err(StoreError::Conflict(format!("{}/{} kept changing", key.pk, key.sk)))
    }
}

impl<T> Attempt<T> {
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Attempt<U> {
        match self {
            Attempt::Done(done) => Attempt::Done(f(done)),
            Attempt::LostRace => Attempt::LostRace,
        }
    }
}
