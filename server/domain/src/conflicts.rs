//! Conflict detection: a participant in two places at once, a venue hosting two events at
//! once, and itineraries that leave too little time to travel between cities.
//!
//! Semantics (pinned by the tests in `tests/tests/conflicts.rs`):
//! - intervals are half-open `[start, end)` instants, so back-to-back events never overlap,
//!   whatever zones they were entered in;
//! - an event never conflicts with its own ancestors or sidelines events (a bilateral on
//!   the sidelines of a summit is inside it on purpose); siblings and unrelated events do;
//! - CANCELLED events never conflict; between two CONFIRMED events a clash is HARD; if
//!   either is TENTATIVE it is SOFT; travel warnings are SOFT unless configured HARD;
//! - on a participant's calendar an event counts as CONFIRMED only when both the event and
//!   that participant's attendance are confirmed: a REQUESTED attendance (another office
//!   named them) counts as TENTATIVE, so it never blocks their own office, and a DECLINED
//!   one does not count at all;
//! - travel: for each participant, the event just before and just after the candidate (in
//!   a different city) must leave `distance / speed + overhead` between them.
//!
//! Cost: each check walks only the candidate's participants' and venue's indexes around
//! its window (see `events::index`), O(log n + k) per scope.
//!
//! Atomicity is not this module's job: it reads a consistent state, and the scheduler runs
//! it and the write under one lock (see `scheduler`).

use chrono_tz::Tz;

use crate::directory::{LatLng, Participant, Venue};
use crate::events::index::Axis;
use crate::events::{Event, EventStatus, Str, same_city};
use crate::state::State;
use crate::time::Zoned;

/// How travel feasibility is judged.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TravelSettings {
    /// Cruising speed, km/h.
    pub speed_kmh: f64,
    /// Fixed overhead per journey (transfers, motorcade, security), minutes.
    pub overhead_minutes: i64,
    /// Whether an infeasible connection between two confirmed events is HARD.
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

impl TravelSettings {
    /// Seconds needed to cover `km`.
    pub fn required_secs(&self, km: f64) -> i64 {
        (km / self.speed_kmh * 3600.0).ceil() as i64 + self.overhead_minutes * 60
    }
}

pub use crate::events::conflict::{Conflict, ConflictKind, Severity, Travel};

/// Records in `c` the names its sentence uses, as the directory has them now: done when a
/// conflict is stored (an override), so that history never changes when read later.
pub fn freeze_names(st: &State, c: &mut Conflict) {
    if let Some(p) = c
        .participant
        .as_ref()
        .and_then(|p| st.participants.get(p.as_str()))
    {
        c.participant_name = p.display_name.as_str().into();
    }
    if let Some(v) = c.venue.as_ref().and_then(|v| st.venues.get(v.as_str())) {
        c.venue_name = v.display_name.as_str().into();
    }
}

/// A travel check that could not be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TravelSkip {
    /// Whose itinerary.
    pub participant: Str,
    /// The neighbouring event.
    pub other_event: Str,
    /// The venue without coordinates.
    pub venue: Str,
    /// That venue's name. It and the two cities are kept apart, not pre-rendered, so a
    /// caller who reads only the ids pays for no sentence ([`TravelSkip::reason`]).
    pub venue_name: Str,
    /// The proposed event's city.
    pub here_city: Str,
    /// The neighbouring event's city.
    pub there_city: Str,
    /// Whether the venue without coordinates is the proposed event's own.
    pub venue_is_here: bool,
}

impl TravelSkip {
    /// Why the check was skipped, as a sentence.
    pub fn reason(&self) -> String {
        if self.other_event.is_empty() {
            // The neighbour is not visible to the reader: neither it nor its city is named.
            return format!(
                "{} has no coordinates, so the journey between {} and {} was not checked",
                if self.venue_is_here {
                    format!("venue {:?}", self.venue_name.as_str())
                } else {
                    "a venue".to_string()
                },
                self.here_city,
                crate::error::HIDDEN_EVENT
            );
        }
        format!(
            "venue {:?} has no coordinates, so the journey between {} and {} was not checked",
            self.venue_name.as_str(),
            self.here_city,
            self.there_city
        )
    }
}

/// Everything a check found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Report {
    /// Conflicts, hard first, then by start.
    pub conflicts: Vec<Conflict>,
    /// Travel checks that could not be made.
    pub skipped: Vec<TravelSkip>,
}

impl Report {
    /// The hard conflicts.
    pub fn hard(&self) -> Vec<Conflict> {
        self.conflicts
            .iter()
            .filter(|c| c.severity == Severity::Hard)
            .cloned()
            .collect()
    }
}

fn severity(a: EventStatus, b: EventStatus) -> Severity {
    if a == EventStatus::Confirmed && b == EventStatus::Confirmed {
        Severity::Hard
    } else {
        Severity::Soft
    }
}

/// Every conflict `candidate` would have with the stored events (itself excluded, so an
/// edit of a stored event is checked against everything else).
pub fn check(st: &State, candidate: &Event, travel: &TravelSettings) -> Report {
    let mut report = Report::default();
    if !candidate.is_live() {
        return report;
    }
    // Almost always just the candidate itself: a Vec beats hashing every id.
    let related: Vec<Str> = st
        .events
        .ancestors(candidate)
        .into_iter()
        .chain(st.events.descendants(&candidate.id))
        .chain(std::iter::once(candidate.id.clone()))
        .collect();
    let counts = |e: &Event| e.is_live() && !related.contains(&e.id);
    let (from, to) = (candidate.start.utc, candidate.end.utc);

    // An overlap with a stored event, on a shared participant or the venue.
    let overlap = |kind, other: &Event, participant: Option<&Str>, venue: Option<&Str>| Conflict {
        kind,
        severity: severity(candidate.status, other.status),
        other_event: other.id.clone(),
        other_title: other.title.clone(),
        participant: participant.cloned(),
        venue: venue.cloned(),
        start: from.max(other.start.utc),
        end: to.min(other.end.utc),
        travel: None,
        participant_name: Str::default(),
        venue_name: Str::default(),
    };
    for p in &candidate.participants {
        // A participant who declined is not there; one whose attendance is only requested
        // is pencilled in.
        let Some(mine) = candidate.status_for(p) else {
            continue;
        };
        for other in st.events.window(Axis::Participant(p), from, to, None) {
            if let Some(theirs) = other.status_for_named(p).filter(|_| counts(other)) {
                let mut c = overlap(ConflictKind::Participant, other, Some(p), None);
                c.severity = severity(mine, theirs);
                report.conflicts.push(c);
            }
        }
        travel_checks(st, candidate, p, mine, &counts, travel, &mut report);
    }
    let venue = Axis::Venue(&candidate.venue_id);
    for other in st.events.window(venue, from, to, None) {
        if counts(other) {
            let c = overlap(ConflictKind::Venue, other, None, Some(&candidate.venue_id));
            report.conflicts.push(c);
        }
    }
    report.conflicts.sort_by(|a, b| {
        let key = |c: &Conflict| (c.severity != Severity::Hard, c.start);
        key(a)
            .cmp(&key(b))
            .then_with(|| a.other_event.cmp(&b.other_event))
    });
    report
}

/// The connections into and out of `candidate` on `participant`'s itinerary, where the
/// candidate counts as `mine` for them.
fn travel_checks(
    st: &State,
    candidate: &Event,
    participant: &str,
    mine: EventStatus,
    counts: &dyn Fn(&Event) -> bool,
    settings: &TravelSettings,
    report: &mut Report,
) {
    let axis = Axis::Participant(participant);
    let on_itinerary = |e: &Event| counts(e) && e.status_for_named(participant).is_some();
    let before = st
        .events
        .latest_ending_by(axis, candidate.start.utc, on_itinerary);
    let after = st
        .events
        .earliest_starting_from(axis, candidate.end.utc, on_itinerary);
    let Some(here) = st.venues.get(candidate.venue_id.as_str()) else {
        return;
    };
    for (other, earlier_is_other) in [(before, true), (after, false)] {
        let Some(other) = other else { continue };
        let Some(there) = st.venues.get(other.venue_id.as_str()) else {
            continue;
        };
        if same_city(here, there) {
            continue;
        }
        let (Some(a), Some(b)) = (here.location, there.location) else {
            let missing = if here.location.is_none() { here } else { there };
            report.skipped.push(TravelSkip {
                participant: participant.into(),
                other_event: other.id.clone(),
                venue: missing.id.as_str().into(),
                venue_name: missing.display_name.as_str().into(),
                here_city: here.city.as_str().into(),
                there_city: there.city.as_str().into(),
                venue_is_here: here.location.is_none(),
            });
            continue;
        };
        let (gap_start, gap_end, from_city, to_city) = if earlier_is_other {
            (other.end.utc, candidate.start.utc, &there.city, &here.city)
        } else {
            (candidate.end.utc, other.start.utc, &here.city, &there.city)
        };
        let km = great_circle_km(a, b);
        let required = settings.required_secs(km);
        let available = gap_end - gap_start;
        if available < required {
            let theirs = other
                .status_for(participant)
                .unwrap_or(EventStatus::Tentative);
            let sev = if settings.hard {
                severity(mine, theirs)
            } else {
                Severity::Soft
            };
            report.conflicts.push(Conflict {
                kind: ConflictKind::Travel,
                severity: sev,
                other_event: other.id.clone(),
                other_title: other.title.clone(),
                participant: Some(participant.into()),
                venue: None,
                start: gap_start,
                end: gap_end,
                travel: Some(Travel {
                    distance_km: (km * 10.0).round() / 10.0,
                    available_secs: available,
                    required_secs: required,
                    from_city: from_city.clone(),
                    to_city: to_city.clone(),
                }),
                participant_name: Str::default(),
                venue_name: Str::default(),
            });
        }
    }
}

/// Great-circle (haversine) distance in km on a sphere of the Earth's mean radius.
pub fn great_circle_km(a: LatLng, b: LatLng) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (a.latitude.to_radians(), b.latitude.to_radians());
    let dp = p2 - p1;
    let dl = (b.longitude - a.longitude).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

fn hm(secs: i64) -> String {
    let m = secs.max(0) / 60;
    format!("{}h{:02}", m / 60, m % 60)
}

/// A sentence about a conflict, with times in `zone`.
pub fn describe(st: &State, c: &Conflict, zone: Tz) -> String {
    let at = |t: i64| {
        Zoned::from_instant(t, zone)
            .map(|z| {
                format!(
                    "{} {}",
                    z.local_string()[..16].replacen('T', " ", 1),
                    z.abbreviation()
                )
            })
            .unwrap_or_default()
    };
    let who = |id: &Option<Str>| {
        if !c.participant_name.is_empty() {
            return c.participant_name.to_string();
        }
        id.as_ref()
            .map(|p| {
                st.participants
                    .get(p.as_str())
                    .map_or_else(|| p.to_string(), |x: &Participant| x.display_name.clone())
            })
            .unwrap_or_default()
    };
    let sev = match c.severity {
        Severity::Hard => "hard",
        Severity::Soft => "soft",
    };
    // A conflict redacted for its reader (`redact::View::conflict`) has no other event:
    // it is named only as a busy stretch.
    let hidden = c.other_event.is_empty();
    let other = if hidden {
        crate::error::HIDDEN_EVENT.to_string()
    } else {
        format!("{:?} ({})", c.other_title, c.other_event)
    };
    match c.kind {
        ConflictKind::Participant => format!(
            "{} is already in {other} from {} to {} ({sev} conflict)",
            who(&c.participant),
            at(c.start),
            at(c.end)
        ),
        ConflictKind::Venue => {
            let venue = c
                .venue
                .as_ref()
                .map(|v| {
                    if !c.venue_name.is_empty() {
                        return c.venue_name.to_string();
                    }
                    st.venues
                        .get(v.as_str())
                        .map_or_else(|| v.to_string(), |x: &Venue| x.display_name.clone())
                })
                .unwrap_or_default();
            format!(
                "{venue} already hosts {other} from {} to {} ({sev} conflict)",
                at(c.start),
                at(c.end)
            )
        }
        ConflictKind::Travel if c.travel.is_none() => format!(
            "{} has {} between {} and {} to travel to or from {other}, too little for the \
             journey ({sev} conflict)",
            who(&c.participant),
            hm(c.end - c.start),
            at(c.start),
            at(c.end),
        ),
        ConflictKind::Travel => {
            let t = c.travel.as_ref();
            format!(
                "{} has {} between {} and {} to travel {:.0} km from {} to {} (next to {other}), \
                 but needs {} ({sev} conflict)",
                who(&c.participant),
                hm(t.map_or(0, |t| t.available_secs)),
                at(c.start),
                at(c.end),
                t.map_or(0.0, |t| t.distance_km),
                t.map_or("", |t| t.from_city.as_str()),
                t.map_or("", |t| t.to_city.as_str()),
                hm(t.map_or(0, |t| t.required_secs)),
            )
        }
    }
}

/// Precondition type names for a conflict's kind.
pub fn kind_name(k: ConflictKind) -> &'static str {
    match k {
        ConflictKind::Participant => "PARTICIPANT_CONFLICT",
        ConflictKind::Venue => "VENUE_CONFLICT",
        ConflictKind::Travel => "TRAVEL_CONFLICT",
    }
}

/// One merged busy stretch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// Start (Unix seconds), clipped to the window.
    pub start: i64,
    /// End, clipped to the window.
    pub end: i64,
    /// The events that make it up.
    pub events: Vec<String>,
}

/// Merged busy intervals on `axis` within `[from, to)`; touching intervals merge too.
pub fn busy(st: &State, axis: Axis<'_>, from: i64, to: i64, include_tentative: bool) -> Vec<Busy> {
    let mut out: Vec<Busy> = Vec::new();
    for e in st.events.window(axis, from, to, None) {
        let status = match axis {
            Axis::Participant(p) => e.status_for(p),
            _ => Some(e.status),
        };
        let counts = match status {
            Some(EventStatus::Confirmed) => true,
            Some(EventStatus::Tentative) => include_tentative,
            Some(EventStatus::Cancelled) | None => false,
        };
        if !counts {
            continue;
        }
        let (s, t) = (e.start.utc.max(from), e.end.utc.min(to));
        match out.last_mut() {
            Some(last) if s <= last.end => {
                last.end = last.end.max(t);
                last.events.push(e.id.to_string());
            }
            _ => out.push(Busy {
                start: s,
                end: t,
                events: vec![e.id.to_string()],
            }),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kazan_to_ashgabat_is_about_two_thousand_km() {
        let kazan = LatLng {
            latitude: 55.7963,
            longitude: 49.1088,
        };
        let ashgabat = LatLng {
            latitude: 37.9601,
            longitude: 58.3261,
        };
        let km = great_circle_km(kazan, ashgabat);
        assert!((2050.0..2150.0).contains(&km), "{km}");
        let need = TravelSettings::default().required_secs(km);
        // 2,100 km at 800 km/h is about 2h38, plus the 2h overhead.
        assert!((4 * 3600..5 * 3600).contains(&need), "{need}");
        assert_eq!(great_circle_km(kazan, kazan), 0.0);
    }
}
