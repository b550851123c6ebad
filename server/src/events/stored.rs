//! How an event is stored, and how the older forms are read.
//!
//! Stored values are postcard, which is not self-describing: a record written before a
//! field existed cannot simply be read into a struct that has it. So each event value
//! carries its own format version (the first byte, as every stored value does):
//!
//! - 1: before attendance. Read as if every participant had confirmed, which is what an
//!   event meant then: nothing stored changes behaviour by being read by a newer server.
//! - 2: with [`Attendance`] per participant.
//!
//! Events are always written in the newest form.

use serde::{Deserialize, Serialize};

use super::{Attendance, Event, EventKind, EventStatus, Override, Str, Timing, Visibility};
use crate::error::Result;
use crate::scheduler::Meta;
use crate::storage;
use crate::time::Zoned;

/// The format version events are written in.
pub const EVENT_FORMAT: u8 = 2;

/// An event as stored in format 1: an [`Event`] without attendance.
#[derive(Debug, Deserialize, Serialize)]
struct EventV1 {
    id: Str,
    kind: EventKind,
    title: Str,
    description: String,
    venue_id: Str,
    host_country: Str,
    forum_id: Option<Str>,
    participants: Vec<Str>,
    status: EventStatus,
    parent_id: Option<Str>,
    timing: Timing,
    start: Zoned,
    end: Zoned,
    tzdb_version: Str,
    visibility: Visibility,
    owner_office: Str,
    cancellation_reason: String,
    overrides: Vec<Override>,
    meta: Meta,
}

impl From<EventV1> for Event {
    fn from(e: EventV1) -> Event {
        Event {
            attendance: vec![Attendance::Confirmed; e.participants.len()],
            id: e.id,
            kind: e.kind,
            title: e.title,
            description: e.description,
            venue_id: e.venue_id,
            host_country: e.host_country,
            forum_id: e.forum_id,
            participants: e.participants,
            status: e.status,
            parent_id: e.parent_id,
            timing: e.timing,
            start: e.start,
            end: e.end,
            tzdb_version: e.tzdb_version,
            visibility: e.visibility,
            owner_office: e.owner_office,
            cancellation_reason: e.cancellation_reason,
            overrides: e.overrides,
            meta: e.meta,
        }
    }
}

/// An event's stored bytes.
pub fn encode(e: &Event) -> Vec<u8> {
    storage::encode_version(EVENT_FORMAT, e)
}

/// An event from its stored bytes, in any format this server has written.
pub fn decode(key: &[u8], bytes: &[u8]) -> Result<Event> {
    match bytes.first() {
        Some(&EVENT_FORMAT) => storage::decode_version(EVENT_FORMAT, key, bytes),
        Some(1) => storage::decode_version::<EventV1>(1, key, bytes).map(Event::from),
        _ => storage::decode(key, bytes),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_stored_before_attendance_reads_as_confirmed_by_everyone() {
        let at = |t| Zoned::from_instant(t, chrono_tz::Europe::Moscow).expect("instant");
        let old = EventV1 {
            id: "talks".into(),
            kind: EventKind::BilateralMeeting,
            title: "Talks".into(),
            description: String::new(),
            venue_id: "kremlin".into(),
            host_country: "RU".into(),
            forum_id: None,
            participants: vec!["putin".into(), "pezeshkian".into()],
            status: EventStatus::Confirmed,
            parent_id: None,
            timing: Timing::Timed,
            start: at(1_700_000_000),
            end: at(1_700_003_600),
            tzdb_version: "2024a".into(),
            visibility: Visibility::Parties,
            owner_office: "RU".into(),
            cancellation_reason: String::new(),
            overrides: Vec::new(),
            meta: Meta::new(0),
        };
        // What a format-1 server wrote: the generic encoder's version byte, then the body.
        let bytes = storage::encode(&old);
        assert_eq!(bytes[0], 1);
        let e = decode(b"e/talks", &bytes).expect("a format-1 event is read");
        assert_eq!(e.attendance, vec![Attendance::Confirmed; 2]);
        assert_eq!(e.status_for("pezeshkian"), Some(EventStatus::Confirmed));
        let again = decode(b"e/talks", &encode(&e)).expect("round trip");
        assert_eq!(again, e);
        assert!(decode(b"e/talks", &[9, 0]).is_err());
    }
}
