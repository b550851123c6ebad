//! An event's history: one [`Revision`] per change, attributed and never rewritten (what
//! changed, who changed it, which hard conflicts it overrode).

use serde::{Deserialize, Serialize};

use crate::conflicts::Conflict;

/// What a history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Action {
    /// Created.
    Created,
    /// Changed.
    Updated,
    /// Cancelled.
    Cancelled,
    /// Instants recomputed after a tzdb change.
    InstantsRecomputed,
    /// A participant's office answered (confirmed or declined their attendance).
    AttendanceChanged,
}

/// One entry of an event's history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Revision {
    /// The event's revision after the change.
    pub revision: u64,
    /// What happened.
    pub action: Action,
    /// When (microseconds).
    pub time: i64,
    /// Who.
    pub actor: String,
    /// Changed fields.
    pub changed: Vec<String>,
    /// Overridden hard conflicts.
    pub overridden: Vec<Conflict>,
    /// Free text.
    pub note: String,
}
