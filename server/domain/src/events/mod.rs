//! Events: the stored record and how a client's input becomes one.
//!
//! An event's *timing* is kept as the office entered it (wall times and zone, or whole days
//! and zone); the UTC instants beside it are derived, with the tzdb version that derived
//! them, and are recomputed from the wall time when the zone's rules change.
//!
//! Each participant of an event has an [`Attendance`] (RFC 5546's PARTSTAT in diplomatic
//! terms): only the participant's own office answers for them, so naming another country's
//! head of state in an event *requests* their attendance; it does not book them.
//!
//! - [`index`]: the in-memory indexes (by time, per participant, per venue, sidelines).
//!
//! Elsewhere: create, update, cancel, attendance and the queries are the service's
//! (`service::events`, as `Scheduler` methods); how an event is encoded at rest is the
//! store's (`storage::events`).

pub mod conflict;
pub mod index;

use std::sync::Arc;

use chrono::NaiveDate;
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

pub use index::EventStore;

use crate::directory::Venue;
use crate::error::{Error, Result, Violations};
use crate::record::Meta;
use crate::time::{self, Disambiguation, OffsetPolicy, TimeError, Zoned};
use crate::validate;

/// Longest event, end minus start: a state visit or a long conference fits; a typo in the
/// year does not.
pub const MAX_DURATION_SECS: i64 = 60 * 86_400;
/// Most participants one event may list.
pub const MAX_PARTICIPANTS: usize = 500;

/// What sort of event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EventKind {
    /// A summit.
    Summit,
    /// A conference.
    Conference,
    /// Talks between two parties.
    BilateralMeeting,
    /// An official visit.
    OfficialVisit,
    /// A state visit.
    StateVisit,
    /// A signing ceremony.
    SigningCeremony,
    /// Anything else.
    Other,
}

/// Where an event stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum EventStatus {
    /// Pencilled in.
    #[default]
    Tentative,
    /// Fixed.
    Confirmed,
    /// Called off; kept, never conflicts.
    Cancelled,
}

/// A participant's answer to an event that names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Attendance {
    /// Named by another office; awaiting their own office's answer. Counts as TENTATIVE.
    Requested,
    /// Their office confirmed (or wrote the event itself).
    Confirmed,
    /// Their office declined: the event does not count on their calendar.
    Declined,
}

/// Who may see an event or proposal.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Visibility {
    /// Every authenticated office.
    Public,
    /// The parties' offices, the host and the forum secretariat.
    #[default]
    Parties,
    /// Only the owner.
    Private,
}

/// When an event happens, as entered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Timing {
    /// Start and end wall times in one zone (kept in the event's `start`/`end`).
    Timed,
    /// Whole days, inclusive, in a zone.
    AllDay {
        /// First day.
        first: NaiveDate,
        /// Last day (inclusive).
        last: NaiveDate,
    },
}

/// A hard conflict written over with `allow_conflicts`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Override {
    /// When, microseconds since the epoch.
    pub time: i64,
    /// Who.
    pub actor: String,
    /// What was overridden.
    pub conflicts: Vec<conflict::Conflict>,
}

/// Short strings (ids, titles, codes) stored inline: up to 24 bytes need no allocation,
/// which for a million events is a quarter of their memory and of the time to load them.
/// Serialized as a plain string, so stored records are unchanged.
pub type Str = compact_str::CompactString;

/// A stored event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Stable id.
    pub id: Str,
    /// Kind.
    pub kind: EventKind,
    /// Title.
    pub title: Str,
    /// Free text.
    pub description: String,
    /// Venue id.
    pub venue_id: Str,
    /// Host country, ISO code.
    pub host_country: Str,
    /// Forum id, if any.
    pub forum_id: Option<Str>,
    /// Participant ids, in the order given.
    pub participants: Vec<Str>,
    /// Each participant's attendance, in the order of `participants`.
    pub attendance: Vec<Attendance>,
    /// Status.
    pub status: EventStatus,
    /// The event this one is on the sidelines of.
    pub parent_id: Option<Str>,
    /// How the time was entered.
    pub timing: Timing,
    /// Start: wall time and zone as entered, instant derived.
    pub start: Zoned,
    /// End (exclusive).
    pub end: Zoned,
    /// tzdb release that derived the instants.
    pub tzdb_version: Str,
    /// Who may see it.
    pub visibility: Visibility,
    /// The office that created it ("" without access control).
    pub owner_office: Str,
    /// Why it was cancelled.
    pub cancellation_reason: String,
    /// Hard conflicts it was written over.
    pub overrides: Vec<Override>,
    /// Version and timestamps.
    pub meta: Meta,
}

impl Event {
    /// The event's zone.
    pub fn zone(&self) -> Tz {
        self.start.zone
    }

    /// Whether `[self.start, self.end)` and `[start, end)` share an instant.
    pub fn overlaps(&self, start: i64, end: i64) -> bool {
        self.start.utc < end && start < self.end.utc
    }

    /// Whether it still counts (not cancelled).
    pub fn is_live(&self) -> bool {
        self.status != EventStatus::Cancelled
    }

    /// The attendance of participant `p`, if the event names them.
    pub fn attendance_of(&self, p: &str) -> Option<Attendance> {
        let i = self.participants.iter().position(|x| x == p)?;
        // Stored events always carry one attendance per participant; a missing one (a
        // record written by hand) is read as the pre-attendance meaning, confirmed.
        Some(
            self.attendance
                .get(i)
                .copied()
                .unwrap_or(Attendance::Confirmed),
        )
    }

    /// How the event counts on participant `p`'s calendar: CONFIRMED only when both the
    /// event and their attendance are; TENTATIVE while either is pencilled in; `None` when
    /// it does not count for them at all (cancelled, declined, or not naming them).
    pub fn status_for(&self, p: &str) -> Option<EventStatus> {
        if !self.is_live() {
            return None;
        }
        self.status_of_named(self.attendance_of(p)?)
    }

    /// [`Event::status_for`] a participant the caller knows the event names (it came from
    /// that participant's index): when everyone has confirmed, as is usual, no search.
    pub fn status_for_named(&self, p: &str) -> Option<EventStatus> {
        if !self.is_live() {
            return None;
        }
        if self.attendance.iter().all(|a| *a == Attendance::Confirmed) {
            return Some(self.status);
        }
        self.status_of_named(self.attendance_of(p)?)
    }

    fn status_of_named(&self, a: Attendance) -> Option<EventStatus> {
        match a {
            Attendance::Declined => None,
            Attendance::Confirmed if self.status == EventStatus::Confirmed => {
                Some(EventStatus::Confirmed)
            }
            _ => Some(EventStatus::Tentative),
        }
    }
}

/// Timing as a client sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimingInput {
    /// Start and end strings (local, RFC 3339 or RFC 9557) and an optional zone.
    Timed {
        /// Start.
        start: String,
        /// End.
        end: String,
        /// IANA zone; defaults to the venue's.
        time_zone: String,
    },
    /// Whole days.
    AllDay {
        /// "2024-10-22".
        start_date: String,
        /// "2024-10-24" (inclusive); defaults to `start_date`.
        end_date: String,
        /// IANA zone; defaults to the venue's.
        time_zone: String,
    },
}

/// An event as a client sends it, unvalidated.
#[derive(Debug, Clone, Default)]
pub struct EventInput {
    /// Optional readable id (create) or the id (update).
    pub id: String,
    /// Required on create.
    pub kind: Option<EventKind>,
    /// Required.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Required unless it is on the sidelines of a parent (then the parent's venue).
    pub venue_id: String,
    /// Defaults to the venue's country.
    pub host_country_code: String,
    /// Optional.
    pub forum_id: String,
    /// Participant ids.
    pub participant_ids: Vec<String>,
    /// `None`: CONFIRMED on create.
    pub status: Option<EventStatus>,
    /// Optional parent.
    pub parent_event_id: String,
    /// Required on create.
    pub timing: Option<TimingInput>,
    /// `None`: PARTIES.
    pub visibility: Option<Visibility>,
}

/// How to read the times of a write.
#[derive(Debug, Clone, Copy, Default)]
pub struct TimeOptions {
    /// For gaps and folds.
    pub disambiguation: Disambiguation,
    /// For numeric offsets.
    pub offset_policy: OffsetPolicy,
}

/// The resolved start, end and timing of an event.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// How it was entered.
    pub timing: Timing,
    /// Start.
    pub start: Zoned,
    /// End.
    pub end: Zoned,
}

/// Resolves a timing input against the venue's zone.
pub fn resolve_timing(input: &TimingInput, venue_zone: Tz, opts: TimeOptions) -> Result<Resolved> {
    // Field names under F. The two passed on every call are spelled out whole; the rest
    // are formatted only when there is an error to report.
    const F: &str = "event.timing";
    match input {
        TimingInput::Timed {
            start,
            end,
            time_zone,
        } => {
            let mut v = Violations::default();
            let explicit = v.check(validate::optional_zone(
                "event.timing.timed.time_zone",
                time_zone,
            ));
            let s = v.check(
                time::parse_time(start).map_err(|e| Error::time(format!("{F}.timed.start"), e)),
            );
            let e = v
                .check(time::parse_time(end).map_err(|e| Error::time(format!("{F}.timed.end"), e)));
            v.finish()?;
            let (Some(explicit), Some(s), Some(e)) = (explicit, s, e) else {
                unreachable!("Violations::finish returned Ok with a missing field");
            };
            // The zone: the explicit field, else a bracketed zone in the strings, else the
            // venue's. Every bracketed zone must then agree with it.
            let zone = explicit.or(s.zone).or(e.zone).unwrap_or(venue_zone);
            let mut v = Violations::default();
            for (field, p) in [("start", &s), ("end", &e)] {
                if p.date_only {
                    v.add(
                        format!("{F}.timed.{field}"),
                        "a date alone is not a time of day; use all_day for whole days",
                    );
                }
            }
            v.finish()?;
            let start_z = time::resolve_parsed(&s, zone, opts.disambiguation, opts.offset_policy)
                .map_err(|err| Error::time(format!("{F}.timed.start"), err))?;
            let end_z = time::resolve_parsed(&e, zone, opts.disambiguation, opts.offset_policy)
                .map_err(|err| Error::time(format!("{F}.timed.end"), err))?;
            check_span(start_z, end_z)?;
            Ok(Resolved {
                timing: Timing::Timed,
                start: start_z,
                end: end_z,
            })
        }
        TimingInput::AllDay {
            start_date,
            end_date,
            time_zone,
        } => {
            let mut v = Violations::default();
            let zone = v.check(validate::optional_zone(
                "event.timing.all_day.time_zone",
                time_zone,
            ));
            let first = v.check(
                time::parse_date(start_date)
                    .map_err(|e| Error::time(format!("{F}.all_day.start_date"), e)),
            );
            let last = if end_date.trim().is_empty() {
                first
            } else {
                v.check(
                    time::parse_date(end_date)
                        .map_err(|e| Error::time(format!("{F}.all_day.end_date"), e)),
                )
            };
            v.finish()?;
            let (Some(zone), Some(first), Some(last)) = (zone, first, last) else {
                unreachable!("Violations::finish returned Ok with a missing field");
            };
            let zone = zone.unwrap_or(venue_zone);
            if last < first {
                return Err(Error::invalid(
                    format!("{F}.all_day.end_date"),
                    format!("the last day {last} is before the first day {first}"),
                ));
            }
            let after = last.succ_opt().ok_or_else(|| {
                Error::time(
                    format!("{F}.all_day.end_date"),
                    TimeError::YearOutOfRange(9999),
                )
            })?;
            let start = time::start_of_day(first, zone)
                .map_err(|e| Error::time(format!("{F}.all_day.start_date"), e))?;
            let end = time::start_of_day(after, zone)
                .map_err(|e| Error::time(format!("{F}.all_day.end_date"), e))?;
            check_span(start, end)?;
            Ok(Resolved {
                timing: Timing::AllDay { first, last },
                start,
                end,
            })
        }
    }
}

fn check_span(start: Zoned, end: Zoned) -> Result<()> {
    if end.utc <= start.utc {
        return Err(Error::invalid(
            "event.timing",
            format!(
                "the end ({}) must be after the start ({})",
                end.rfc9557(),
                start.rfc9557()
            ),
        ));
    }
    if end.utc - start.utc > MAX_DURATION_SECS {
        return Err(Error::invalid(
            "event.timing",
            format!(
                "the event lasts {} days; at most {} are allowed",
                (end.utc - start.utc) / 86_400,
                MAX_DURATION_SECS / 86_400
            ),
        ));
    }
    Ok(())
}

/// Re-derives the instants of a stored timing from its wall time with this server's tzdb.
/// The recorded offset keeps the same side of a fold where the rules still allow it
/// (Temporal's `offset: prefer`); a wall time that now falls in a gap moves forward.
pub fn recompute(event: &Event) -> Result<Resolved, TimeError> {
    let zone = event.zone();
    match &event.timing {
        Timing::Timed => {
            let again = |z: &Zoned| {
                let parsed = time::ParsedTime {
                    local: z.local,
                    date_only: false,
                    offset: chrono::FixedOffset::east_opt(z.offset_secs)
                        .map(time::OffsetSpec::Fixed),
                    zone: None,
                };
                time::resolve_parsed(
                    &parsed,
                    zone,
                    Disambiguation::Compatible,
                    OffsetPolicy::Prefer,
                )
            };
            Ok(Resolved {
                timing: Timing::Timed,
                start: again(&event.start)?,
                end: again(&event.end)?,
            })
        }
        Timing::AllDay { first, last } => {
            let after = last.succ_opt().ok_or(TimeError::YearOutOfRange(9999))?;
            Ok(Resolved {
                timing: event.timing.clone(),
                start: time::start_of_day(*first, zone)?,
                end: time::start_of_day(after, zone)?,
            })
        }
    }
}

/// Whether two venues are in the same city (same country, city names equal ignoring case
/// and surrounding space).
pub fn same_city(a: &Venue, b: &Venue) -> bool {
    if a.id == b.id {
        return true;
    }
    // Every conflict check asks this of each neighbouring event: the two-letter country
    // codes settle most pairs before the city names are trimmed and compared.
    if a.country_code != b.country_code {
        return false;
    }
    let (x, y) = (a.city.trim(), b.city.trim());
    if x.is_ascii() && y.is_ascii() {
        // No allocation for the usual ASCII names.
        x.eq_ignore_ascii_case(y)
    } else {
        x.to_lowercase() == y.to_lowercase()
    }
}

/// Options of an event write.
#[derive(Debug, Clone, Default)]
pub struct WriteOptions {
    /// How to read times.
    pub time: TimeOptions,
    /// Write despite hard conflicts (recorded).
    pub allow_conflicts: bool,
    /// Who writes, for the history (the authenticated office is the principal's).
    pub actor: String,
    /// AIP-155 idempotency key, scoped by the principal's office.
    pub request_id: String,
    /// Zone to describe conflicts in; the event's own zone when `None`.
    pub view_zone: Option<Tz>,
    /// Write only if the store is still at this revision (ABORTED otherwise).
    pub expected_revision: Option<u64>,
}

/// How to cancel an event (`Scheduler::cancel_event`).
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// Why, for the history and the readers.
    pub reason: String,
    /// Cancel its live sidelines events too.
    pub cascade: bool,
    /// Who, for the history.
    pub actor: String,
    /// AIP-155 idempotency key: a retry returns the first result.
    pub request_id: String,
}

/// An event that moved when its instants were recomputed.
#[derive(Debug, Clone)]
pub struct Moved {
    /// The event after recomputation.
    pub event: Arc<Event>,
    /// The tzdb version of the old instants.
    pub previous_tzdb: String,
    /// Old start instant.
    pub previous_start: i64,
    /// Old end instant.
    pub previous_end: i64,
}

/// Result of a recomputation.
#[derive(Debug, Clone, Default)]
pub struct Recomputed {
    /// Events examined.
    pub examined: usize,
    /// Those that moved.
    pub moved: Vec<Moved>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn venue(id: &str, city: &str, country: &str) -> Venue {
        Venue {
            id: id.into(),
            display_name: id.into(),
            city: city.into(),
            country_code: country.into(),
            zone: chrono_tz::UTC,
            location: None,
            meta: Meta::new(0),
        }
    }

    #[test]
    fn cities_match_ignoring_case_and_spaces_within_one_country() {
        let kazan = venue("a", "Kazan", "RU");
        assert!(same_city(&kazan, &venue("b", "  kAZAN ", "RU")));
        assert!(!same_city(&kazan, &venue("c", "Kazan", "KZ")));
        assert!(!same_city(&kazan, &venue("d", "Moscow", "RU")));
        // Beyond ASCII, full Unicode lower-casing.
        assert!(same_city(
            &venue("e", "ÅLESUND", "NO"),
            &venue("f", "Ålesund", "NO")
        ));
        assert!(same_city(
            &venue("g", "ΑΘΗΝΑ", "GR"),
            &venue("h", "αθηνα", "GR")
        ));
        // The same venue is in its own city whatever its name says.
        assert!(same_city(&kazan, &venue("a", "", "")));
    }
}
