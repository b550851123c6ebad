//! Calendar subscriptions as records: which events a calendar holds ([`Scope`]) and a
//! stored subscription feed ([`CalendarFeed`]). What a feed serves, and to whom, is the
//! service's (`ics::feeds`); how it is stored is the store's (`storage::feeds`).

use serde::{Deserialize, Serialize};

use crate::record::Meta;

/// Which events a calendar holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Scope {
    /// Everything the office may see.
    All,
    /// A participant's agenda.
    Participant(String),
    /// A venue's events.
    Venue(String),
    /// A forum's events.
    Forum(String),
    /// A summit and its sidelines.
    Programme(String),
}

/// A stored feed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CalendarFeed {
    /// Its id.
    pub id: String,
    /// The office's name for it.
    pub display_name: String,
    /// Which events.
    pub scope: Scope,
    /// The office whose visibility it serves.
    pub office: String,
    /// Created by an ADMIN: it sees what an administrator sees.
    pub admin: bool,
    /// The forums the office was secretariat of when the feed was created.
    pub secretariat_of: Vec<String>,
    /// SHA-256 of the secret, lowercase hex.
    pub secret_sha256: String,
    /// Days before today covered; 0: every past event.
    pub past_days: u32,
    /// Days after today covered; 0: every future event.
    pub future_days: u32,
    /// UTC instants instead of zoned times.
    pub utc_times: bool,
    /// Version and timestamps.
    pub meta: Meta,
    /// The credential of the token that created it (empty: none, see the module doc).
    pub creator: String,
}

impl CalendarFeed {
    /// "calendar feed", in messages.
    pub const KIND: &'static str = "calendar feed";
}
