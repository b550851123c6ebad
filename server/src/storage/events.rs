//! How an event is stored, and how the older forms are read: the event codec, which
//! lives with the store (the events module knows the record, not its bytes).
//!
//! Stored values are postcard, which is not self-describing: a record written before a
//! field existed cannot simply be read into a struct that has it. So each event value
//! carries its own format version (the first byte, as every stored value does):
//!
//! - 1: before attendance. Read as if every participant had confirmed, which is what an
//!   event meant then: nothing stored changes behaviour by being read by a newer server.
//! - 2: with [`Attendance`] per participant.
//! - 3: each overridden conflict keeps the participant's and venue's names as they were
//!   when it was overridden (`Conflict::participant_name`, `venue_name`), so that history
//!   reads the same forever. Older overrides have none, and read today's names.
//!
//! An event's history entries ([`Revision`]) carry overridden conflicts too, and have
//! their own format: 1 before the names, 2 with them.
//!
//! Records are always written in the newest form.

use serde::{Deserialize, Serialize};

use crate::conflicts::{Conflict, ConflictKind, Severity, Travel};
use crate::error::Result;
use crate::events::{Attendance, Event, EventKind, EventStatus, Override, Str, Timing, Visibility};
use crate::history::{Action, Revision};
use crate::record::Meta;
use crate::storage;
use crate::time::Zoned;

/// The format version events are written in.
pub const EVENT_FORMAT: u8 = 3;

/// The format version history entries are written in.
pub const REVISION_FORMAT: u8 = 2;

/// A conflict as stored before it kept names (event formats 1 and 2, revision format 1).
#[derive(Debug, Deserialize, Serialize)]
struct ConflictV1 {
    kind: ConflictKind,
    severity: Severity,
    other_event: Str,
    other_title: Str,
    participant: Option<Str>,
    venue: Option<Str>,
    start: i64,
    end: i64,
    travel: Option<Travel>,
}

impl From<ConflictV1> for Conflict {
    fn from(c: ConflictV1) -> Conflict {
        Conflict {
            kind: c.kind,
            severity: c.severity,
            other_event: c.other_event,
            other_title: c.other_title,
            participant: c.participant,
            venue: c.venue,
            start: c.start,
            end: c.end,
            travel: c.travel,
            participant_name: Str::default(),
            venue_name: Str::default(),
        }
    }
}

/// An override as stored in event formats 1 and 2.
#[derive(Debug, Deserialize, Serialize)]
struct OverrideV1 {
    time: i64,
    actor: String,
    conflicts: Vec<ConflictV1>,
}

impl From<OverrideV1> for Override {
    fn from(o: OverrideV1) -> Override {
        Override {
            time: o.time,
            actor: o.actor,
            conflicts: o.conflicts.into_iter().map(Conflict::from).collect(),
        }
    }
}

/// An event as stored in format 2: an [`Event`] whose overrides keep no names.
#[derive(Debug, Deserialize, Serialize)]
struct EventV2 {
    id: Str,
    kind: EventKind,
    title: Str,
    description: String,
    venue_id: Str,
    host_country: Str,
    forum_id: Option<Str>,
    participants: Vec<Str>,
    attendance: Vec<Attendance>,
    status: EventStatus,
    parent_id: Option<Str>,
    timing: Timing,
    start: Zoned,
    end: Zoned,
    tzdb_version: Str,
    visibility: Visibility,
    owner_office: Str,
    cancellation_reason: String,
    overrides: Vec<OverrideV1>,
    meta: Meta,
}

impl From<EventV2> for Event {
    fn from(e: EventV2) -> Event {
        Event {
            id: e.id,
            kind: e.kind,
            title: e.title,
            description: e.description,
            venue_id: e.venue_id,
            host_country: e.host_country,
            forum_id: e.forum_id,
            participants: e.participants,
            attendance: e.attendance,
            status: e.status,
            parent_id: e.parent_id,
            timing: e.timing,
            start: e.start,
            end: e.end,
            tzdb_version: e.tzdb_version,
            visibility: e.visibility,
            owner_office: e.owner_office,
            cancellation_reason: e.cancellation_reason,
            overrides: e.overrides.into_iter().map(Override::from).collect(),
            meta: e.meta,
        }
    }
}

/// A history entry as stored in revision format 1.
#[derive(Debug, Deserialize, Serialize)]
struct RevisionV1 {
    revision: u64,
    action: Action,
    time: i64,
    actor: String,
    changed: Vec<String>,
    overridden: Vec<ConflictV1>,
    note: String,
}

/// A history entry's stored bytes.
pub fn encode_revision(r: &Revision) -> Vec<u8> {
    storage::encode_version(REVISION_FORMAT, r)
}

/// A history entry from its stored bytes, in any format this server has written.
pub fn decode_revision(key: &[u8], bytes: &[u8]) -> Result<Revision> {
    if bytes.first() == Some(&REVISION_FORMAT) {
        return storage::decode_version(REVISION_FORMAT, key, bytes);
    }
    let r: RevisionV1 = storage::decode(key, bytes)?;
    Ok(Revision {
        revision: r.revision,
        action: r.action,
        time: r.time,
        actor: r.actor,
        changed: r.changed,
        overridden: r.overridden.into_iter().map(Conflict::from).collect(),
        note: r.note,
    })
}

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
    overrides: Vec<OverrideV1>,
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
            overrides: e.overrides.into_iter().map(Override::from).collect(),
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
        Some(2) => storage::decode_version::<EventV2>(2, key, bytes).map(Event::from),
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

    fn old_conflict() -> ConflictV1 {
        ConflictV1 {
            kind: ConflictKind::Participant,
            severity: Severity::Hard,
            other_event: "first".into(),
            other_title: "First".into(),
            participant: Some("putin".into()),
            venue: None,
            start: 1,
            end: 2,
            travel: None,
        }
    }

    #[test]
    fn overrides_stored_before_names_read_with_none() {
        let at = |t| Zoned::from_instant(t, chrono_tz::Europe::Moscow).expect("instant");
        let old = EventV2 {
            id: "talks".into(),
            kind: EventKind::BilateralMeeting,
            title: "Talks".into(),
            description: String::new(),
            venue_id: "kremlin".into(),
            host_country: "RU".into(),
            forum_id: None,
            participants: vec!["putin".into()],
            attendance: vec![Attendance::Confirmed],
            status: EventStatus::Confirmed,
            parent_id: None,
            timing: Timing::Timed,
            start: at(1_700_000_000),
            end: at(1_700_003_600),
            tzdb_version: "2024a".into(),
            visibility: Visibility::Parties,
            owner_office: "RU".into(),
            cancellation_reason: String::new(),
            overrides: vec![OverrideV1 {
                time: 5,
                actor: "me".into(),
                conflicts: vec![old_conflict()],
            }],
            meta: Meta::new(0),
        };
        let bytes = storage::encode_version(2, &old);
        let e = decode(b"e/talks", &bytes).expect("a format-2 event is read");
        let c = &e.overrides[0].conflicts[0];
        assert_eq!(
            (c.other_event.as_str(), c.participant_name.as_str()),
            ("first", "")
        );
        let mut named = e.clone();
        named.overrides[0].conflicts[0].participant_name = "Vladimir Putin".into();
        assert_eq!(
            decode(b"e/talks", &encode(&named)).expect("format 3"),
            named
        );

        let rev = RevisionV1 {
            revision: 1,
            action: Action::Created,
            time: 5,
            actor: "me".into(),
            changed: vec![],
            overridden: vec![old_conflict()],
            note: String::new(),
        };
        let r = decode_revision(b"h/talks", &storage::encode(&rev)).expect("revision format 1");
        assert_eq!(r.overridden[0].other_title, "First");
        assert_eq!(
            decode_revision(b"h/talks", &encode_revision(&r)).expect("format 2"),
            r
        );
    }
}

#[cfg(test)]
mod load_tests {
    use super::*;
    use crate::events::index::Axis;
    use crate::events::{Event, EventStore, Str};
    use crate::events::{EventKind, EventStatus, Timing, Visibility};
    use crate::record::Meta;
    use crate::storage::{Batch, SledBackend, Store, prefix};
    use crate::time::Zoned;
    use std::sync::Arc;

    fn event(i: i64) -> Event {
        let at = |t: i64| Zoned::from_instant(t, chrono_tz::UTC).expect("in range");
        let start = 1_700_000_000 + (i % 5000) * 3600;
        Event {
            id: format!("e{i}").into(),
            kind: EventKind::BilateralMeeting,
            title: format!("Bilateral {i}").into(),
            description: String::new(),
            venue_id: format!("v{}", i % 7).into(),
            host_country: "RU".into(),
            forum_id: None,
            participants: vec![format!("p{}", i % 13).into(), format!("p{}", i % 17).into()],
            attendance: vec![crate::events::Attendance::Confirmed; 2],
            status: EventStatus::Confirmed,
            parent_id: (i % 100 == 1).then(|| Str::from("e0")),
            timing: Timing::Timed,
            start: at(start),
            end: at(start + 1800 + (i % 4) * 900),
            tzdb_version: crate::time::TZDB_VERSION.into(),
            visibility: Visibility::Parties,
            owner_office: Str::default(),
            cancellation_reason: String::new(),
            overrides: Vec::new(),
            meta: Meta::new(0),
        }
    }

    fn load(store: &Store) -> crate::error::Result<EventStore> {
        EventStore::load(|f| store.visit(prefix::EVENT, f), decode)
    }

    fn store_of(events: impl Iterator<Item = Event>) -> Store {
        let store = Store::new(Arc::new(SledBackend::temporary().expect("sled")));
        let mut batch = Batch::default();
        for e in events {
            batch.put_bytes(crate::storage::key(prefix::EVENT, &e.id), encode(&e));
        }
        store.apply(batch).expect("apply");
        store
    }

    #[test]
    fn a_bulk_load_indexes_exactly_as_inserting_one_by_one() {
        // More than two chunks of the reader, so the hand-over is exercised.
        let n = 10_000;
        let loaded = load(&store_of((0..n).map(event))).expect("load");
        let mut inserted = EventStore::default();
        (0..n).map(event).for_each(|e| inserted.insert(e));
        assert_eq!(loaded.len(), n as usize);
        let ids = |it: Box<dyn Iterator<Item = &Arc<Event>> + '_>| -> Vec<Str> {
            it.map(|e| e.id.clone()).collect()
        };
        for (from, to) in [
            (1_700_000_000, 1_700_090_000),
            (1_703_000_000, 1_718_000_000),
        ] {
            for axis in [Axis::All, Axis::Participant("p3"), Axis::Venue("v5")] {
                let a = ids(Box::new(loaded.window(axis, from, to, None)));
                let b = ids(Box::new(inserted.window(axis, from, to, None)));
                assert!(!a.is_empty());
                assert_eq!(a, b, "{axis:?} {from}..{to}");
            }
        }
        assert_eq!(loaded.children("e0"), inserted.children("e0"));
        // The id table is built after the load: every id finds its own event, and the
        // table still grows and replaces afterwards.
        let mut loaded = loaded;
        for i in 0..n {
            let id = format!("e{i}");
            assert_eq!(loaded.get(&id).map(|e| e.id.as_str()), Some(id.as_str()));
        }
        assert!(loaded.get("e10000").is_none());
        let mut moved = event(4242);
        moved.title = "Moved".into();
        loaded.insert(moved);
        (n..n + 5000).map(event).for_each(|e| loaded.insert(e));
        assert_eq!(loaded.len(), n as usize + 5000);
        assert_eq!(
            loaded.get("e4242").map(|e| e.title.clone()),
            Some("Moved".into())
        );
        assert_eq!(
            loaded.get("e14999").map(|e| e.title.clone()),
            Some("Bilateral 14999".into())
        );
    }

    #[test]
    fn a_corrupt_record_fails_the_load_and_names_its_key() {
        let store = store_of((0..9000).map(event));
        let mut batch = Batch::default();
        batch.put(
            crate::storage::key(prefix::EVENT, "e5000"),
            &"not an event".to_string(),
        );
        store.apply(batch).expect("apply");
        let err = load(&store).expect_err("corrupt");
        assert!(err.to_string().contains("e5000"), "{err}");
    }
}
