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

/// A city, and its coordinates, for each of the generator's zones: venues in one zone are
/// in one city, so travel checks run between zones as they would between capitals.
pub fn city_of(zone: &str) -> (&'static str, f64, f64) {
    match zone {
        "Europe/Moscow" => ("Moscow", 55.7558, 37.6173),
        "Asia/Tehran" => ("Tehran", 35.6892, 51.3890),
        "Asia/Ashgabat" => ("Ashgabat", 37.9601, 58.3261),
        "America/New_York" => ("New York", 40.7128, -74.0060),
        "Europe/London" => ("London", 51.5072, -0.1276),
        "Asia/Kolkata" => ("New Delhi", 28.6139, 77.2090),
        "Australia/Lord_Howe" => ("Lord Howe Island", -31.5553, 159.0821),
        "America/Sao_Paulo" => ("Brasilia", -15.7939, -47.8828),
        "Europe/Paris" => ("Paris", 48.8566, 2.3522),
        "Asia/Tokyo" => ("Tokyo", 35.6762, 139.6503),
        "Africa/Cairo" => ("Cairo", 30.0444, 31.2357),
        "Asia/Kathmandu" => ("Kathmandu", 27.7172, 85.3240),
        _ => ("Elsewhere", 0.0, 0.0),
    }
}
