//! A conflict as a value: what clashes between a proposed event and a stored one, and how
//! much it matters. An event stores the ones it was written over (its overrides), so the
//! value sits with the event record; finding them is `conflicts`'.

use serde::{Deserialize, Serialize};

use super::Str;

/// Participant, venue or travel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ConflictKind {
    /// The same participant in two overlapping events.
    Participant,
    /// The same venue hosting two overlapping events.
    Venue,
    /// Too little time to travel between consecutive events.
    Travel,
}

/// Hard conflicts block writes; soft ones are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Severity {
    /// Blocks the write unless overridden.
    Hard,
    /// Reported only.
    Soft,
}

/// The travel figures behind a travel conflict.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Travel {
    /// Great-circle distance, km.
    pub distance_km: f64,
    /// Seconds between the two events.
    pub available_secs: i64,
    /// Seconds needed.
    pub required_secs: i64,
    /// City of the earlier event.
    pub from_city: String,
    /// City of the later event.
    pub to_city: String,
}

/// One conflict between a candidate event and a stored one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Conflict {
    /// What clashes.
    pub kind: ConflictKind,
    /// How much it matters.
    pub severity: Severity,
    /// The stored event.
    pub other_event: Str,
    /// Its title.
    pub other_title: Str,
    /// The shared participant (participant and travel conflicts).
    pub participant: Option<Str>,
    /// The shared venue (venue conflicts).
    pub venue: Option<Str>,
    /// Start of the overlap, or of the travel gap (Unix seconds).
    pub start: i64,
    /// End of the overlap, or of the travel gap.
    pub end: i64,
    /// Travel figures.
    pub travel: Option<Travel>,
    /// The participant's name when the conflict was overridden (empty: read it from the
    /// directory). A stored override says forever what it said when it was written, so
    /// its sentence does not follow a later renaming (`conflicts::freeze_names`).
    pub participant_name: Str,
    /// The venue's name, likewise.
    pub venue_name: Str,
}
