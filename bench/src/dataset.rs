//! The shared workload's JSON Lines files (`../shared/bench/gen_dataset.py`).

use std::path::Path;

use anyhow::Context;
use serde::Deserialize;

/// One event or booking candidate.
#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    /// 1..N for the dataset, N+1.. for bookings.
    pub id: u64,
    /// Title.
    pub title: String,
    /// "bilateral", "multilateral", ...
    pub kind: String,
    /// Venue number.
    pub venue_id: u32,
    /// Participant numbers.
    pub participant_ids: Vec<u32>,
    /// "2025-01-01T02:15:00Z".
    pub start_utc: String,
    /// Exclusive end.
    pub end_utc: String,
    /// The venue's IANA zone.
    pub zone: String,
    /// Bookings only: "ok" or "conflict".
    #[serde(default)]
    pub expect: String,
}

/// One conflict query.
#[derive(Debug, Clone, Deserialize)]
pub struct Query {
    /// Participant number.
    pub participant_id: u32,
    /// Window start.
    pub start_utc: String,
    /// Window end.
    pub end_utc: String,
    /// How many dataset events of that participant overlap the window.
    pub expect_hits: usize,
}

/// Reads one JSON Lines file.
pub fn read<T: serde::de::DeserializeOwned>(dir: &Path, name: &str) -> anyhow::Result<Vec<T>> {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("cannot read {}", path.display()))?;
    text.lines()
        .enumerate()
        .map(|(i, l)| {
            serde_json::from_str(l).with_context(|| format!("{}:{}", path.display(), i + 1))
        })
        .collect()
}
