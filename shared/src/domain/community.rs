//! The member space's community: gardens (sites) with their farmers, harvests, news, events
//! with registrations, and the messages between members and support.
//!
//! Who may see or do what is decided here, from facts about the person ([`Viewer`]), so the
//! rules are tested without a server and the portal only asks.

use std::collections::BTreeSet;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use super::ids::{CustomerId, EventId, HarvestId, MessageId, NewsId, SiteId};

/// A garden: plots rented by members, looked after by one or more farmers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Site {
    pub id: SiteId,
    pub name: String,
    pub address: String,
    /// The users (identity provider subjects) who farm this site: the one grant of a
    /// farmer's rights over it.
    pub farmers: BTreeSet<String>,
    /// How members know their farmers ("Léa, Karim").
    #[serde(default)]
    pub farmer_names: Vec<String>,
    /// Where the garden is: its events' times are read and shown in this zone. None: the
    /// business's own.
    #[serde(default)]
    pub time_zone: Option<chrono_tz::Tz>,
    #[serde(default)]
    pub version: u64,
}

/// What a farmer picked on a site one day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Harvest {
    pub id: HarvestId,
    pub site_id: SiteId,
    pub date: NaiveDate,
    pub crop: String,
    /// Weight in grams: an integer, like money.
    pub grams: u64,
    #[serde(default)]
    pub note: String,
    pub posted_by: String,
    pub posted_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
    /// The first day members may come and pick it; none (older records): the day it was picked.
    #[serde(default)]
    pub available_from: Option<NaiveDate>,
    /// The last day it may be picked; none (older records): the day it was picked.
    #[serde(default)]
    pub available_until: Option<NaiveDate>,
}

impl Harvest {
    /// How long a harvest stays on offer at most: the current ones are read from the key
    /// range of the harvests picked in that many days before today.
    pub const MAX_DAYS_ON_OFFER: i64 = 60;

    pub fn available_from(&self) -> NaiveDate {
        self.available_from.unwrap_or(self.date)
    }

    pub fn available_until(&self) -> NaiveDate {
        self.available_until.unwrap_or(self.date)
    }

    /// Members may come and pick it on `day` (the garden's day).
    pub fn available_on(&self, day: NaiveDate) -> bool {
        self.available_from() <= day && day <= self.available_until()
    }
}

/// A piece of news, for everyone (`site` unset) or for one garden.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct News {
    pub id: NewsId,
    pub site: Option<SiteId>,
    pub title: String,
    pub body: String,
    pub author: String,
    pub published_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// Who an event is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Audience {
    /// Anyone signed in.
    Public,
    /// The members and farmers of one garden.
    Site { site: SiteId },
    /// Business members (`member_b2b`): their own workshops and team days.
    B2b,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Event {
    pub id: EventId,
    pub title: String,
    #[serde(default)]
    pub description: String,
    pub starts_at: DateTime<Utc>,
    pub location: String,
    pub audience: Audience,
    /// What sort of event it is (`welcome_workshop`): registering records it on the
    /// customer, where date rules' stop conditions read it.
    #[serde(default)]
    pub kind: Option<String>,
    /// Places available; `None` is unlimited.
    pub capacity: Option<u32>,
    /// Places taken: moved in the same transaction as each registration.
    #[serde(default)]
    pub registered: u32,
    pub created_by: String,
    /// When the eve-of-event reminder is due (a date rule on the event's start), until sent.
    #[serde(default)]
    pub reminder_at: Option<DateTime<Utc>>,
    /// Called off: listed no more, no place taken, no reminder.
    #[serde(default)]
    pub cancelled_at: Option<DateTime<Utc>>,
    /// How many times its time or place changed: numbers the notices about each change, and
    /// the eve reminder for each time it was set for.
    #[serde(default)]
    pub moves: u32,
    #[serde(default)]
    pub version: u64,
}

/// Why a registration was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RegistrationError {
    #[error("the event is full")]
    Full,
    #[error("the event has started")]
    Started,
    #[error("the event is cancelled")]
    Cancelled,
}

impl Event {
    /// Takes one place, if there is one and the event has not started.
    pub fn take_place(&mut self, now: DateTime<Utc>) -> Result<(), RegistrationError> {
        if self.cancelled_at.is_some() {
            return Err(RegistrationError::Cancelled);
        }
        if now >= self.starts_at {
            return Err(RegistrationError::Started);
        }
        if self.capacity.is_some_and(|capacity| self.registered >= capacity) {
            return Err(RegistrationError::Full);
        }
        self.registered += 1;
        Ok(())
    }

    /// Gives a place back (a cancellation).
    pub fn release_place(&mut self) {
        self.registered = self.registered.saturating_sub(1);
    }

    pub fn places_left(&self) -> Option<u32> {
        self.capacity.map(|capacity| capacity.saturating_sub(self.registered))
    }

    /// The eve-of-event reminder goes this long before the start (the scan's quiet hours then
    /// move it into the person's sending window).
    pub const REMINDER_BEFORE: chrono::Duration = chrono::Duration::hours(24);

    /// Plans the eve-of-event reminder from the start, if it is still ahead of `now`.
    pub fn plan_reminder(&mut self, now: DateTime<Utc>) {
        let at = self.starts_at - Event::REMINDER_BEFORE;
        self.reminder_at = (at > now && self.cancelled_at.is_none()).then_some(at);
    }

    /// Calls the event off at `now`: every place is given back and no reminder goes. False
    /// when it was already cancelled.
    pub fn cancel(&mut self, now: DateTime<Utc>) -> bool {
        if self.cancelled_at.is_some() {
            return false;
        }
        self.cancelled_at = Some(now);
        self.registered = 0;
        self.reminder_at = None;
        true
    }
}

/// One person's place at an event. Cancelling keeps the record (with its history), so a
/// second registration reuses it and its confirmation gets the next number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub event_id: EventId,
    pub user: String,
    /// How the farmer's list names the person (the customer's name, else the sign-in email).
    pub name: String,
    /// The customer to notify, when the user is one.
    pub customer_id: Option<CustomerId>,
    pub active: bool,
    /// How many times this user registered for this event: numbers the confirmations.
    pub times: u32,
    pub registered_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// A person's own list of the events they registered for (in their account's partition), so
/// "my next event" and the GDPR export need no search through every event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attendance {
    pub user: String,
    pub event_id: EventId,
    pub title: String,
    pub starts_at: DateTime<Utc>,
    pub active: bool,
    #[serde(default)]
    pub version: u64,
}

/// Who wrote a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Author {
    /// The member whose conversation it is.
    Member,
    /// The business's support team (an admin).
    Support,
}

/// A message in a member's private conversation with support.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Message {
    pub id: MessageId,
    /// The member whose conversation this is.
    pub member: String,
    pub author: Author,
    /// The admin who answered, for support's messages.
    pub written_by: String,
    pub body: String,
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

/// A member's message as the admins' inbox lists it (newest first, across members).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InboxEntry {
    pub member: String,
    pub message_id: MessageId,
    /// The first words, so the list reads without opening every conversation.
    pub excerpt: String,
    pub sent_at: DateTime<Utc>,
    #[serde(default)]
    pub version: u64,
}

impl InboxEntry {
    pub fn of(message: &Message) -> InboxEntry {
        let excerpt: String = message.body.chars().take(120).collect();
        InboxEntry { member: message.member.clone(), message_id: message.id.clone(), excerpt, sent_at: message.sent_at, version: 0 }
    }
}

/// The facts about a person that decide what community records they may see and change.
#[derive(Debug, Clone, Default)]
pub struct Viewer {
    pub user: String,
    pub admin: bool,
    pub b2b: bool,
    /// The garden the person rents a plot in.
    pub garden: Option<SiteId>,
}

impl Viewer {
    /// A farmer manages `site` when the site lists them.
    pub fn farms(&self, site: &Site) -> bool {
        site.farmers.contains(&self.user)
    }

    /// Sees the site's page: its members, its farmers, admins.
    pub fn may_see_site(&self, site: &Site) -> bool {
        self.admin || self.farms(site) || self.garden.as_ref() == Some(&site.id)
    }

    /// Posts harvests, creates events and news for the site.
    pub fn may_manage_site(&self, site: &Site) -> bool {
        self.admin || self.farms(site)
    }

    /// Sees an event. `farmed` are the sites the person farms (a farmer sees their own
    /// sites' events even without a plot there).
    pub fn may_see_event(&self, event: &Event, farmed: &BTreeSet<SiteId>) -> bool {
        match &event.audience {
            Audience::Public => true,
            Audience::B2b => self.admin || self.b2b,
            Audience::Site { site } => self.admin || self.garden.as_ref() == Some(site) || farmed.contains(site),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    fn event(capacity: Option<u32>, audience: Audience) -> Event {
        Event {
            id: EventId::parse("ev1").unwrap(),
            title: "Atelier compost".into(),
            description: String::new(),
            starts_at: at("2026-12-05T09:00:00Z"),
            location: "Jardin Nord".into(),
            audience,
            kind: None,
            capacity,
            registered: 0,
            created_by: "farmer".into(),
            reminder_at: None,
            cancelled_at: None,
            moves: 0,
            version: 0,
        }
    }

    fn site(id: &str, farmers: &[&str]) -> Site {
        Site {
            id: SiteId::parse(id).unwrap(),
            name: id.into(),
            address: String::new(),
            farmers: farmers.iter().map(|f| f.to_string()).collect(),
            farmer_names: Vec::new(),
            time_zone: None,
            version: 0,
        }
    }

    #[test]
    fn capacity_is_never_exceeded_and_places_come_back() {
        let now = at("2026-11-25T10:00:00Z");
        let mut e = event(Some(2), Audience::Public);
        assert_eq!(e.take_place(now), Ok(()));
        assert_eq!(e.take_place(now), Ok(()));
        assert_eq!(e.take_place(now), Err(RegistrationError::Full));
        assert_eq!(e.places_left(), Some(0));
        e.release_place();
        assert_eq!(e.take_place(now), Ok(()));
        let mut unlimited = event(None, Audience::Public);
        for _ in 0..1000 {
            unlimited.take_place(now).unwrap();
        }
        assert_eq!(unlimited.take_place(at("2026-12-05T09:00:00Z")), Err(RegistrationError::Started));
    }

    #[test]
    fn who_sees_what() {
        let north = site("north", &["farmer-n"]);
        let south = site("south", &["farmer-s"]);
        let member = Viewer { user: "m".into(), garden: Some(north.id.clone()), ..Viewer::default() };
        let farmer = Viewer { user: "farmer-n".into(), ..Viewer::default() };
        let b2b = Viewer { user: "b".into(), b2b: true, ..Viewer::default() };
        let admin = Viewer { user: "a".into(), admin: true, ..Viewer::default() };
        let farmed_n: BTreeSet<SiteId> = [north.id.clone()].into();
        let none = BTreeSet::new();

        assert!(member.may_see_site(&north) && !member.may_see_site(&south));
        assert!(!member.may_manage_site(&north));
        assert!(farmer.may_manage_site(&north) && !farmer.may_manage_site(&south));
        assert!(admin.may_manage_site(&south));

        let north_event = event(None, Audience::Site { site: north.id.clone() });
        let b2b_event = event(None, Audience::B2b);
        assert!(member.may_see_event(&north_event, &none));
        assert!(!member.may_see_event(&b2b_event, &none));
        assert!(farmer.may_see_event(&north_event, &farmed_n));
        assert!(!farmer.may_see_event(&north_event, &none));
        assert!(b2b.may_see_event(&b2b_event, &none) && !b2b.may_see_event(&north_event, &none));
        assert!(admin.may_see_event(&north_event, &none) && admin.may_see_event(&b2b_event, &none));
        assert!(b2b.may_see_event(&event(None, Audience::Public), &none));
    }
}
