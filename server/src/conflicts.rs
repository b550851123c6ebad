//! Conflict detection: participants, venues and travel.

/// How travel feasibility is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TravelSettings {
    /// Cruising speed, km/h.
    pub speed_kmh: f64,
    /// Fixed overhead per journey (transfers, security), minutes.
    pub overhead_minutes: i64,
    /// Whether a too-short gap is HARD (it is SOFT by default).
    pub hard: bool,
}

impl Default for TravelSettings {
    fn default() -> TravelSettings {
        TravelSettings {
            speed_kmh: 800.0,
            overhead_minutes: 120,
            hard: false,
        }
    }
}
