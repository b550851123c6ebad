//! The slot finder (`FindSlots`): the times at which a set of participants can meet.
//!
//! # What a candidate must satisfy
//! A candidate is a start time `s` (the window's start plus a multiple of the granularity)
//! at one venue (or at no venue when the search names no place), lasting `[s, s + d)`.
//! For each participant, with the constraints of their request (see [`Constraints`]):
//! - **busy**: no event that counts on their calendar overlaps the slot. One that is
//!   CONFIRMED for them is hard, always; a TENTATIVE one is soft (`SOFT_CONFLICT`). Events
//!   count exactly as for conflict checks (`conflicts::check`): live, attendance not
//!   declined, and never the parent event or its own parents.
//! - **buffers**: no counting event touches `[s - before, s)` or `[e, e + after)`.
//! - **travel**: from their previous event (the latest ending at or before `s`; ties: the
//!   latest start, then the smallest id) to the slot's venue, and from it to their next
//!   event (the earliest starting at or after `e`; ties: the smallest id), the gap covers
//!   the journey by the travel-conflict model. Same city needs none; a venue without
//!   coordinates is not checked.
//! - **working hours, work week, holidays**, read in the zone where they will be: the
//!   venue's; without one, that of the venue of their previous event if it ended within
//!   the 24 hours before `s`, else of their next if it starts within the 24 hours after
//!   `e`, else their home zone. Only events the caller may see count for this: a hidden
//!   event blocks time, but its zone is never used, shown or named (its times are told in
//!   the zone the participant is judged in). Every minute of the slot (each minute start `s + 60k`)
//!   read on that zone's wall clock must fall on one local day, within the hours, on a
//!   working day of their country, and not on one of its holidays (ESTIMATED ones are
//!   soft). So a slot that crosses a DST change is judged by the wall times it really
//!   covers.
//! - the **venue** must not host an overlapping event (CONFIRMED: hard, TENTATIVE: soft).
//!
//! A candidate is ruled out by any hard issue of a required participant or of the venue.
//! Its `soft_violations`, by which slots are ranked, is the number of soft issues it
//! lists for the required participants, the available optional ones and the venue: each
//! tentative event overlapping it, each event in a buffer (per side), each tight journey,
//! the hours, the work week, and each day's official or estimated holidays count one.
//! Two soft clashes rank below one. The tests in `tests/tests/slots.rs` hold this to a
//! brute-force oracle that walks every minute.
//!
//! # Cost
//! Everything a candidate needs is gathered once per search: each participant's events
//! near the window (from their index, O(log n + k)), their calendar and each venue's
//! events. A candidate then costs a few binary searches over those short lists and two
//! offset lookups per zone, so a search grows with the events in the window, not with the
//! store.
//!
//! # Why one file of ~1,500 lines
//! The search, its per-candidate walk and the sentences that explain a refused candidate
//! share private types (`Timeline`, `Person`, `Search`, `Words`, `Scratch`) that nothing
//! else may use; split into modules they would have to be visible crate-wide. The query
//! checks and limits at the top and the copy it searches (`reads`) are short.

use chrono::{Datelike, NaiveDate};
use chrono_tz::Tz;

use crate::calendar::{self, HolidayStatus, WorkCalendar};
use crate::conflicts::{self, Conflict, ConflictKind, TravelSettings};
use crate::directory::{Participant, Venue};
use crate::error::{Error, Result};
use crate::events::index::Axis;
use crate::events::{Event, EventStatus, Str, same_city};
use crate::state::State;
use crate::stop::Stop;
use crate::time::Zoned;

/// The state as one caller may see it: all the slot finder asks of redaction. Every
/// event blocks time whoever may see it; only the ones the caller [`Sight::sees`] are
/// named, and conflicts are described as the caller may read them. The service's
/// redaction view (`redact::View`) is the one implementation.
pub trait Sight<'a>: Copy {
    /// The state.
    fn state(&self) -> &'a State;
    /// Whether the caller may see `e`.
    fn sees(&self, e: &Event) -> bool;
    /// `e` in a sentence: its title and id if the caller sees it, else a busy stretch.
    fn mention(&self, e: &Event) -> String;
    /// `cs` as the caller may read them.
    fn conflicts<'c>(&self, cs: &'c [Conflict]) -> std::borrow::Cow<'c, [Conflict]>;
}

/// At most this many checks (candidates × (participants + 1)) in one search: about a
/// quarter of a CPU-second on this project's reference machine (`bench/attack.sh`).
pub const MAX_CHECKS: usize = 2_000_000;
/// At most this many participants.
pub const MAX_PARTICIPANTS: usize = 50;
/// At most this many venues.
pub const MAX_VENUES: usize = 50;
/// At most this many slots returned.
pub const MAX_RESULTS: usize = 100;
/// Slots returned by default.
pub const DEFAULT_RESULTS: usize = 10;
/// The longest window.
pub const MAX_WINDOW_SECS: i64 = 62 * 86_400;
/// The longest meeting.
pub const MAX_DURATION_SECS: i64 = 7 * 86_400;
/// The longest buffer.
pub const MAX_BUFFER_SECS: i64 = 86_400;
/// At most this many candidates (start times × venues) per search.
pub const MAX_CANDIDATES: usize = 200_000;
/// Default granularity.
pub const DEFAULT_GRANULARITY_SECS: i64 = 15 * 60;
/// How far from its events a participant is still taken to be where they were.
const NEARBY_SECS: i64 = 86_400;

/// How much a constraint counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strength {
    /// Rules a slot out.
    Hard,
    /// Ranks a slot lower.
    Soft,
    /// Not checked.
    Off,
}

/// One participant's constraints, resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Constraints {
    /// Working hours as seconds after local midnight, `[start, end)`.
    pub hours: (i64, i64),
    /// How the working hours count.
    pub hours_strength: Strength,
    /// How the work week counts.
    pub work_week: Strength,
    /// How official holidays count (estimated ones are soft at most).
    pub holidays: Strength,
    /// Free seconds before the slot.
    pub buffer_before: i64,
    /// Free seconds after the slot.
    pub buffer_after: i64,
    /// How buffers count.
    pub buffers: Strength,
    /// How travel feasibility counts.
    pub travel: Strength,
}

impl Default for Constraints {
    fn default() -> Constraints {
        Constraints {
            hours: (9 * 3600, 19 * 3600),
            hours_strength: Strength::Hard,
            work_week: Strength::Hard,
            holidays: Strength::Hard,
            buffer_before: 0,
            buffer_after: 0,
            buffers: Strength::Hard,
            travel: Strength::Hard,
        }
    }
}

/// Constraints as a request gives them: each field overrides the one below it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overrides {
    /// Start of working hours, seconds after midnight.
    pub hours_start: Option<i64>,
    /// End of working hours.
    pub hours_end: Option<i64>,
    /// How the hours count.
    pub hours_strength: Option<Strength>,
    /// How the work week counts.
    pub work_week: Option<Strength>,
    /// How holidays count.
    pub holidays: Option<Strength>,
    /// Buffer before, seconds.
    pub buffer_before: Option<i64>,
    /// Buffer after, seconds.
    pub buffer_after: Option<i64>,
    /// How buffers count.
    pub buffers: Option<Strength>,
    /// How travel counts.
    pub travel: Option<Strength>,
}

impl Overrides {
    /// `base` with these applied.
    pub fn over(&self, base: Constraints) -> Constraints {
        Constraints {
            hours: (
                self.hours_start.unwrap_or(base.hours.0),
                self.hours_end.unwrap_or(base.hours.1),
            ),
            hours_strength: self.hours_strength.unwrap_or(base.hours_strength),
            work_week: self.work_week.unwrap_or(base.work_week),
            holidays: self.holidays.unwrap_or(base.holidays),
            buffer_before: self.buffer_before.unwrap_or(base.buffer_before),
            buffer_after: self.buffer_after.unwrap_or(base.buffer_after),
            buffers: self.buffers.unwrap_or(base.buffers),
            travel: self.travel.unwrap_or(base.travel),
        }
    }
}

/// One participant of the meeting.
#[derive(Debug, Clone, Default)]
pub struct Need {
    /// Their id.
    pub participant_id: String,
    /// Whether they may be left out.
    pub optional: bool,
    /// Their own constraints.
    pub overrides: Overrides,
}

/// A search.
#[derive(Debug, Clone, Default)]
pub struct Query {
    /// Who.
    pub participants: Vec<Need>,
    /// How long, seconds (whole minutes).
    pub duration: i64,
    /// Where in time (Unix seconds), unless a parent gives it.
    pub window: Option<(i64, i64)>,
    /// Candidate venues.
    pub venue_ids: Vec<String>,
    /// Every venue in this city.
    pub city: String,
    /// On the sidelines of this event.
    pub parent_event_id: String,
    /// Everyone's constraints.
    pub defaults: Overrides,
    /// Seconds between candidate starts (whole minutes); 0: the default.
    pub granularity: i64,
    /// How many slots; 0: the default.
    pub max_results: usize,
}

/// What is against a slot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Status {
    /// A confirmed event overlaps.
    Busy,
    /// A tentative event overlaps.
    SoftConflict,
    /// An event falls in a buffer.
    Buffer,
    /// Too little time to travel.
    TravelTight,
    /// Outside working hours.
    OutsideHours,
    /// Not a working day.
    Weekend,
    /// A holiday.
    Holiday,
    /// The venue hosts another event.
    VenueBusy,
}

const STATUSES: [Status; 8] = [
    Status::Busy,
    Status::SoftConflict,
    Status::Buffer,
    Status::TravelTight,
    Status::OutsideHours,
    Status::Weekend,
    Status::Holiday,
    Status::VenueBusy,
];

impl Status {
    fn bit(self) -> u16 {
        1 << (self as u16)
    }
}

/// One thing against a slot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Issue {
    /// What.
    pub status: Status,
    /// Whether it rules the slot out (for this participant).
    pub hard: bool,
    /// A sentence.
    pub description: String,
}

/// A participant's view of a slot.
#[derive(Debug, Clone, PartialEq)]
pub struct Attendee {
    /// Who.
    pub participant_id: String,
    /// As requested.
    pub optional: bool,
    /// No hard issue.
    pub available: bool,
    /// Hard first.
    pub issues: Vec<Issue>,
    /// Where they will be.
    pub zone: Tz,
}

/// A slot found.
#[derive(Debug, Clone, PartialEq)]
pub struct Slot {
    /// Start, Unix seconds.
    pub start: i64,
    /// End.
    pub end: i64,
    /// The venue, if the search named places.
    pub venue_id: Option<String>,
    /// One per participant, in request order.
    pub attendees: Vec<Attendee>,
    /// The venue's own issues.
    pub venue_issues: Vec<Issue>,
    /// What CheckConflicts would report for an event here, redacted for the caller.
    pub conflicts: Vec<Conflict>,
    /// Soft issues counted for ranking.
    pub soft_violations: u32,
    /// Optional participants who can come.
    pub optional_available: u32,
}

/// How many candidates one hard constraint ruled out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Whose (empty for a venue's).
    pub participant_id: String,
    /// Which venue's (empty for a participant's).
    pub venue_id: String,
    /// Which constraint.
    pub constraint: Status,
    /// How many candidates it rules out on its own.
    pub excluded: u32,
    /// A sentence.
    pub description: String,
}

/// A search's answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// Best first.
    pub slots: Vec<Slot>,
    /// The revision searched.
    pub revision: u64,
    /// Candidates examined.
    pub candidates: u32,
    /// Candidates with no hard issue.
    pub fitting: u32,
    /// Most excluding first.
    pub diagnostics: Vec<Diagnostic>,
}

/// An event near the window that counts on someone's calendar (or a venue's).
#[derive(Debug, Clone, Copy)]
struct Near<'a> {
    event: &'a Event,
    start: i64,
    end: i64,
    confirmed: bool,
    venue: Option<&'a Venue>,
    /// Whether the caller may see it: a hidden event blocks time, but neither its zone nor
    /// its place may show in an answer.
    shown: bool,
}

impl Near<'_> {
    /// The zone of the place it is held.
    fn zone(&self) -> Tz {
        self.venue.map_or(self.event.zone(), |v| v.zone)
    }

    /// The zone to tell the caller its times in: its own when they may see it, else
    /// `instead` (one they already know).
    fn shown_zone(&self, instead: Tz) -> Tz {
        if self.shown { self.zone() } else { instead }
    }
}

/// Events sorted for the questions a candidate asks.
#[derive(Debug, Default)]
struct Timeline<'a> {
    /// By (start, id).
    by_start: Vec<Near<'a>>,
    /// Indexes into `by_start`, by (end, start, reverse id): the last one ending by `t`
    /// is the previous event.
    by_end: Vec<usize>,
    /// The entries of `by_end` the caller may see, in the same order.
    shown_by_end: Vec<usize>,
    /// Indexes into `by_start` of the events the caller may see.
    shown_by_start: Vec<usize>,
    /// The longest event, so an overlap scan knows where to stop.
    span: i64,
}

impl<'a> Timeline<'a> {
    fn new(mut evs: Vec<Near<'a>>) -> Timeline<'a> {
        evs.sort_by(|a, b| (a.start, &a.event.id).cmp(&(b.start, &b.event.id)));
        let mut by_end: Vec<usize> = (0..evs.len()).collect();
        by_end.sort_by(|&i, &j| {
            let (a, b) = (&evs[i], &evs[j]);
            (a.end, a.start)
                .cmp(&(b.end, b.start))
                .then_with(|| b.event.id.cmp(&a.event.id))
        });
        let span = evs.iter().map(|e| e.end - e.start).max().unwrap_or(0);
        let shown_by_end = by_end.iter().copied().filter(|&i| evs[i].shown).collect();
        let shown_by_start = (0..evs.len()).filter(|&i| evs[i].shown).collect();
        Timeline {
            by_start: evs,
            by_end,
            shown_by_end,
            shown_by_start,
            span,
        }
    }

    /// Events overlapping `[a, b)` (none when it is empty, as a zero buffer is).
    fn overlapping(&self, a: i64, b: i64) -> impl Iterator<Item = &Near<'a>> {
        let hi = if a < b {
            self.by_start.partition_point(|e| e.start < b)
        } else {
            0
        };
        let lo = self.by_start[..hi].partition_point(|e| e.start <= a - self.span);
        self.by_start[lo..hi].iter().filter(move |e| e.end > a)
    }

    /// The latest event ending at or before `t`.
    fn previous(&self, t: i64) -> Option<&Near<'a>> {
        self.latest_ending_by(&self.by_end, t)
    }

    /// The last of `order` (indexes into `by_start`, by end) ending at or before `t`.
    fn latest_ending_by(&self, order: &[usize], t: i64) -> Option<&Near<'a>> {
        let n = order.partition_point(|&i| self.by_start[i].end <= t);
        n.checked_sub(1).map(|k| &self.by_start[order[k]])
    }

    /// The earliest event starting at or after `t`.
    fn next(&self, t: i64) -> Option<&Near<'a>> {
        let k = self.by_start.partition_point(|e| e.start < t);
        self.by_start.get(k)
    }

    /// The latest event the caller may see ending at or before `t`.
    fn previous_shown(&self, t: i64) -> Option<&Near<'a>> {
        self.latest_ending_by(&self.shown_by_end, t)
    }

    /// The earliest event the caller may see starting at or after `t`.
    fn next_shown(&self, t: i64) -> Option<&Near<'a>> {
        let k = self
            .shown_by_start
            .partition_point(|&i| self.by_start[i].start < t);
        self.shown_by_start.get(k).map(|&i| &self.by_start[i])
    }
}

/// One participant, ready to be asked about candidates.
#[derive(Debug)]
struct Person<'a> {
    need: &'a Need,
    who: &'a Participant,
    c: Constraints,
    calendar: std::borrow::Cow<'a, WorkCalendar>,
    days: calendar::Days,
    /// The calendar's holidays as (day number, official), by day.
    holidays: Vec<(i64, bool)>,
    timeline: Timeline<'a>,
}

/// What one participant makes of one candidate: the kinds of its hard issues, and how
/// many soft issues it has (each one the answer lists).
#[derive(Debug, Default, Clone, Copy)]
struct Verdict {
    hard: u16,
    soft: u32,
}

impl Verdict {
    fn add(&mut self, status: Status, hard: bool) {
        if hard {
            self.hard |= status.bit();
        } else {
            self.soft += 1;
        }
    }

    /// Its soft issues.
    fn soft_count(&self) -> u32 {
        self.soft
    }
}

/// A search's working memory, reused from candidate to candidate so that judging one
/// allocates nothing and repeats no costly arithmetic.
#[derive(Debug, Default)]
struct Scratch {
    /// The slot's wall-clock minutes ([`local_ranges`]).
    ranges: Vec<(i64, i64)>,
    /// The last offset lookups: the participants of one candidate at one venue ask the
    /// same two (start and last minute), and a tzdb lookup is a binary search.
    offsets: [(Option<Tz>, i64, i64); 4],
    next_offset: usize,
    /// Seconds of travel between two venues (addresses of the neighbour's venue and of the
    /// candidate's), `None` when not checked: a great-circle distance is trigonometry.
    journeys: hashbrown::HashMap<(usize, usize), Option<i64>>,
}

impl Scratch {
    fn offset(&mut self, zone: Tz, t: i64) -> i64 {
        if let Some(&(_, _, o)) = self
            .offsets
            .iter()
            .find(|(z, at, _)| *z == Some(zone) && *at == t)
        {
            return o;
        }
        let o = offset(zone, t);
        self.offsets[self.next_offset] = (Some(zone), t, o);
        self.next_offset = (self.next_offset + 1) % self.offsets.len();
        o
    }
}

/// UTC offset of `zone` at `t`, seconds.
fn offset(zone: Tz, t: i64) -> i64 {
    use chrono::{Offset, TimeZone};
    let utc = chrono::DateTime::from_timestamp(t, 0)
        .map_or_else(chrono::NaiveDateTime::default, |d| d.naive_utc());
    i64::from(zone.offset_from_utc_datetime(&utc).fix().local_minus_utc())
}

/// The wall-clock minute starts of `[s, e)` in `zone`, as inclusive ranges of local
/// seconds (one range, or one per offset when the slot crosses a change).
fn local_ranges(
    zone: Tz,
    s: i64,
    e: i64,
    out: &mut Vec<(i64, i64)>,
    offset: &mut impl FnMut(Tz, i64) -> i64,
) {
    out.clear();
    let last = e - 60;
    let mut cur = s;
    while cur <= last {
        let o = offset(zone, cur);
        if offset(zone, last) == o {
            out.push((cur + o, last + o));
            return;
        }
        // The last minute start with offset `o`: offsets change at most once in any
        // stretch this short, so a binary search finds it.
        let (mut lo, mut hi) = (0, (last - cur) / 60);
        while lo < hi {
            let mid = (lo + hi + 1) / 2;
            if offset(zone, cur + mid * 60) == o {
                lo = mid;
            } else {
                hi = mid - 1;
            }
        }
        out.push((cur + o, cur + lo * 60 + o));
        cur += (lo + 1) * 60;
    }
}

fn day_of(local: i64) -> i64 {
    local.div_euclid(86_400)
}

fn date_of(day: i64) -> NaiveDate {
    NaiveDate::from_num_days_from_ce_opt((day + 719_163) as i32).unwrap_or_default()
}

/// Monday = 0.
fn weekday_of(day: i64) -> u8 {
    // 1970-01-01 was a Thursday.
    (day + 3).rem_euclid(7) as u8
}

/// The search's fixed inputs.
#[derive(Debug)]
struct Search<'a> {
    people: Vec<Person<'a>>,
    /// `None`: no place named.
    venues: Vec<Option<&'a Venue>>,
    venue_lines: Vec<Timeline<'a>>,
    travel: TravelSettings,
    duration: i64,
}

impl<'a> Search<'a> {
    /// The zone where `p` will be for `[s, e)` at `venue`, as far as the caller may know:
    /// only events they may see say where a participant is.
    fn zone_of(&self, p: &Person<'a>, venue: Option<&Venue>, s: i64, e: i64) -> Tz {
        if let Some(v) = venue {
            return v.zone;
        }
        if let Some(prev) = p
            .timeline
            .previous_shown(s)
            .filter(|x| s - x.end <= NEARBY_SECS)
        {
            return prev.zone();
        }
        if let Some(next) = p
            .timeline
            .next_shown(e)
            .filter(|x| x.start - e <= NEARBY_SECS)
        {
            return next.zone();
        }
        p.who.home_zone
    }

    /// What `p` makes of `[s, s + d)` at `venue`; with `issues`, also why, in words.
    fn assess<'w>(
        &self,
        p: &Person<'a>,
        vi: usize,
        s: i64,
        scratch: &mut Scratch,
        mut issues: Option<&mut Vec<Issue>>,
        words: &Words<impl Sight<'w>>,
    ) -> Verdict {
        let venue = self.venues[vi];
        let e = s + self.duration;
        let c = &p.c;
        let mut v = Verdict::default();
        let mut say = |v: &mut Verdict, status: Status, hard: bool, text: &dyn Fn() -> String| {
            v.add(status, hard);
            if let Some(out) = issues.as_deref_mut() {
                out.push(Issue {
                    status,
                    hard,
                    description: text(),
                });
            }
        };
        // Busy.
        for x in p.timeline.overlapping(s, e) {
            let status = if x.confirmed {
                Status::Busy
            } else {
                Status::SoftConflict
            };
            say(&mut v, status, x.confirmed, &|| {
                let here = self.zone_of(p, venue, s, e);
                words.conflict(p, ConflictKind::Participant, x, here, || {
                    words.busy(p, x, here, "overlaps the slot")
                })
            });
        }
        // Buffers.
        if c.buffers != Strength::Off && (c.buffer_before > 0 || c.buffer_after > 0) {
            let zones = [
                (s - c.buffer_before, s, c.buffer_before, "before"),
                (e, e + c.buffer_after, c.buffer_after, "after"),
            ];
            for (from, to, secs, side) in zones {
                for x in p.timeline.overlapping(from, to) {
                    let hard = c.buffers == Strength::Hard && x.confirmed;
                    say(&mut v, Status::Buffer, hard, &|| {
                        words.busy(
                            p,
                            x,
                            self.zone_of(p, venue, s, e),
                            &format!("falls within the {} buffer {side} the slot", hm(secs)),
                        )
                    });
                }
            }
        }
        // Travel.
        if c.travel != Strength::Off
            && let Some(here) = venue
            && let Some(a) = here.location
        {
            let legs = [(p.timeline.previous(s), true), (p.timeline.next(e), false)];
            for (other, earlier) in legs {
                let Some(x) = other else { continue };
                let Some(there) = x.venue else { continue };
                let key = (std::ptr::from_ref(there) as usize, vi);
                let need = *scratch.journeys.entry(key).or_insert_with(|| {
                    let b = there.location?;
                    (!same_city(here, there))
                        .then(|| self.travel.required_secs(conflicts::great_circle_km(a, b)))
                });
                let Some(need) = need else { continue };
                let gap = if earlier { s - x.end } else { x.start - e };
                if gap < need {
                    let hard = c.travel == Strength::Hard && x.confirmed;
                    say(&mut v, Status::TravelTight, hard, &|| {
                        words.conflict(
                            p,
                            ConflictKind::Travel,
                            x,
                            self.zone_of(p, venue, s, e),
                            || {
                                format!(
                                    "{} has {} to travel to or from {}, too little for the journey",
                                    p.who.display_name,
                                    hm(gap),
                                    words.view.mention(x.event)
                                )
                            },
                        )
                    });
                }
            }
        }
        // The wall clock where they will be.
        let checks_clock = c.hours_strength != Strength::Off
            || c.work_week != Strength::Off
            || c.holidays != Strength::Off;
        if checks_clock {
            let zone = self.zone_of(p, venue, s, e);
            let mut ranges = std::mem::take(&mut scratch.ranges);
            local_ranges(zone, s, e, &mut ranges, &mut |z, t| scratch.offset(z, t));
            if c.hours_strength != Strength::Off {
                let base = day_of(ranges[0].0) * 86_400;
                let inside = ranges
                    .iter()
                    .all(|&(lo, hi)| lo >= base + c.hours.0 && hi <= base + c.hours.1 - 60);
                if !inside {
                    say(
                        &mut v,
                        Status::OutsideHours,
                        c.hours_strength == Strength::Hard,
                        &|| words.outside_hours(p, zone, s, e),
                    );
                }
            }
            let mut seen_weekend = false;
            // Two ranges (a slot across an offset change) may share a day: each day once.
            let mut next_day = i64::MIN;
            for &(lo, hi) in ranges.iter() {
                for day in day_of(lo).max(next_day)..=day_of(hi) {
                    next_day = day + 1;
                    if c.work_week != Strength::Off
                        && !seen_weekend
                        && p.days & (1 << weekday_of(day)) == 0
                    {
                        seen_weekend = true;
                        say(
                            &mut v,
                            Status::Weekend,
                            c.work_week == Strength::Hard,
                            &|| words.weekend(p, day),
                        );
                    }
                    if c.holidays != Strength::Off && !p.holidays.is_empty() {
                        // One issue per day for its official holidays, one for its
                        // estimated ones (each names all of them).
                        let at = p.holidays.partition_point(|&(d, _)| d < day);
                        let on_day = p.holidays[at..].iter().take_while(|h| h.0 == day);
                        let (mut official, mut estimated) = (false, false);
                        for &(_, o) in on_day {
                            official |= o;
                            estimated |= !o;
                        }
                        for (is, o) in [(official, true), (estimated, false)] {
                            if is {
                                let hard = c.holidays == Strength::Hard && o;
                                say(&mut v, Status::Holiday, hard, &|| {
                                    words.holiday(p, date_of(day), o)
                                });
                            }
                        }
                    }
                }
            }
            scratch.ranges = ranges;
        }
        v
    }

    /// What the venue makes of `[s, s + d)`.
    fn assess_venue<'w>(
        &self,
        k: usize,
        s: i64,
        mut issues: Option<&mut Vec<Issue>>,
        words: &Words<impl Sight<'w>>,
    ) -> Verdict {
        let mut v = Verdict::default();
        let Some(venue) = self.venues[k] else {
            return v;
        };
        for x in self.venue_lines[k].overlapping(s, s + self.duration) {
            v.add(Status::VenueBusy, x.confirmed);
            if let Some(out) = issues.as_deref_mut() {
                out.push(Issue {
                    status: Status::VenueBusy,
                    hard: x.confirmed,
                    description: words.venue_conflict(venue, x),
                });
            }
        }
        v
    }
}

/// Sentences, with the caller's eyes: events they may not see are only busy stretches.
struct Words<S> {
    view: S,
    /// What CheckConflicts says of the slot being described (redacted).
    conflicts: Vec<Conflict>,
}

impl<'a, S: Sight<'a>> Words<S> {
    fn at(&self, t: i64, zone: Tz) -> String {
        Zoned::from_instant(t, zone)
            .map(|z| {
                format!(
                    "{} {}",
                    z.local_string()[..16].replacen('T', " ", 1),
                    z.abbreviation()
                )
            })
            .unwrap_or_default()
    }

    /// CheckConflicts' sentence for the conflict with `other`, else `fallback`.
    /// `here` is the zone the participant is judged in (see [`Search::zone_of`]): the
    /// times of an event the caller may not see are told in it, never in the event's own.
    fn conflict(
        &self,
        p: &Person<'_>,
        kind: ConflictKind,
        other: &Near<'_>,
        here: Tz,
        fallback: impl FnOnce() -> String,
    ) -> String {
        self.conflicts
            .iter()
            .find(|c| {
                c.kind == kind
                    && c.participant.as_deref() == Some(p.who.id.as_str())
                    && (!other.shown || c.other_event == other.event.id)
            })
            .map(|c| conflicts::describe(self.view.state(), c, other.shown_zone(here)))
            .unwrap_or_else(fallback)
    }

    fn busy(&self, p: &Person<'_>, x: &Near<'_>, here: Tz, what: &str) -> String {
        let zone = x.shown_zone(here);
        format!(
            "{} is in {} from {} to {}, which {what}",
            p.who.display_name,
            self.view.mention(x.event),
            self.at(x.start, zone),
            self.at(x.end, zone)
        )
    }

    fn venue_conflict(&self, venue: &Venue, x: &Near<'_>) -> String {
        self.conflicts
            .iter()
            .find(|c| {
                c.kind == ConflictKind::Venue
                    && (c.other_event == x.event.id || !self.view.sees(x.event))
            })
            .map(|c| conflicts::describe(self.view.state(), c, venue.zone))
            .unwrap_or_else(|| {
                format!(
                    "{} already hosts {} from {} to {}",
                    venue.display_name,
                    self.view.mention(x.event),
                    self.at(x.start, venue.zone),
                    self.at(x.end, venue.zone)
                )
            })
    }

    fn outside_hours(&self, p: &Person<'_>, zone: Tz, s: i64, e: i64) -> String {
        format!(
            "{} to {} is outside {}'s working hours ({}–{} in {})",
            self.at(s, zone),
            self.at(e, zone),
            p.who.display_name,
            clock(p.c.hours.0),
            clock(p.c.hours.1),
            zone.name()
        )
    }

    fn weekend(&self, p: &Person<'_>, day: i64) -> String {
        let date = date_of(day);
        format!(
            "{} {date} is not a working day in {} ({}'s country)",
            date.weekday(),
            p.who.country_code,
            p.who.display_name
        )
    }

    fn holiday(&self, p: &Person<'_>, date: NaiveDate, official: bool) -> String {
        let wanted = if official {
            HolidayStatus::Official
        } else {
            HolidayStatus::Estimated
        };
        let names: Vec<&str> = p
            .calendar
            .on(date)
            .iter()
            .filter(|h| h.status == wanted)
            .map(|h| h.name.as_str())
            .collect();
        format!(
            "{date} is {} in {}{}",
            names.join(" and "),
            p.who.country_code,
            if official { "" } else { " (estimated date)" }
        )
    }
}

fn clock(secs: i64) -> String {
    format!("{:02}:{:02}", secs / 3600, secs % 3600 / 60)
}

fn hm(secs: i64) -> String {
    let m = secs.max(0) / 60;
    match (m / 60, m % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

fn status_name(s: Status) -> &'static str {
    match s {
        Status::Busy => "their confirmed events",
        Status::SoftConflict => "their tentative events",
        Status::Buffer => "their buffers",
        Status::TravelTight => "travel from and to their other events",
        Status::OutsideHours => "their working hours",
        Status::Weekend => "their country's work week",
        Status::Holiday => "their country's holidays",
        Status::VenueBusy => "its other events",
    }
}

/// Validates what the search's numbers must be.
pub fn check_query(q: &Query) -> Result<()> {
    if q.participants.is_empty() {
        return Err(Error::invalid(
            "participants",
            "name at least one participant",
        ));
    }
    if q.participants.len() > MAX_PARTICIPANTS {
        return Err(Error::invalid(
            "participants",
            format!("at most {MAX_PARTICIPANTS} participants"),
        ));
    }
    if q.venue_ids.len() > MAX_VENUES {
        return Err(Error::invalid(
            "venue_ids",
            format!("at most {MAX_VENUES} venues"),
        ));
    }
    if q.duration < 60 || q.duration > MAX_DURATION_SECS || q.duration % 60 != 0 {
        return Err(Error::invalid(
            "duration",
            "must be whole minutes, at least 1 minute and at most 7 days",
        ));
    }
    if q.granularity != 0
        && (q.granularity < 60 || q.granularity > 86_400 || q.granularity % 60 != 0)
    {
        return Err(Error::invalid(
            "granularity",
            "must be whole minutes, at least 1 minute and at most 24 hours",
        ));
    }
    if q.max_results > MAX_RESULTS {
        return Err(Error::invalid(
            "max_results",
            format!("at most {MAX_RESULTS}"),
        ));
    }
    let defaults = q.defaults.over(Constraints::default());
    check_constraints("constraints", &defaults)?;
    let mut seen = std::collections::HashSet::new();
    for (i, n) in q.participants.iter().enumerate() {
        if !seen.insert(n.participant_id.as_str()) {
            return Err(Error::invalid(
                format!("participants[{i}].participant_id"),
                format!("{:?} is named twice", n.participant_id),
            ));
        }
        if n.overrides != Overrides::default() {
            check_constraints(
                &format!("participants[{i}].constraints"),
                &n.overrides.over(defaults),
            )?;
        }
    }
    Ok(())
}

/// INVALID_ARGUMENT naming `prefix`'s field when `c` cannot be met by construction.
fn check_constraints(prefix: &str, c: &Constraints) -> Result<()> {
    let (start, end) = c.hours;
    if !(0..86_400).contains(&start) || !(60..=86_400).contains(&end) || end <= start {
        return Err(Error::invalid(
            format!("{prefix}.working_hours"),
            format!(
                "{}–{} are not working hours: the start must come before the end, within one day",
                clock(start),
                clock(end)
            ),
        ));
    }
    for (f, v) in [
        ("buffer_before", c.buffer_before),
        ("buffer_after", c.buffer_after),
    ] {
        if !(0..=MAX_BUFFER_SECS).contains(&v) {
            return Err(Error::invalid(
                format!("{prefix}.{f}"),
                "must be between 0 and 24 hours",
            ));
        }
    }
    Ok(())
}

/// Everything a search for `q` can read of `st`, copied into a state of its own: the
/// parent and its parents; the named participants and their countries' work calendars;
/// each participant's events within the farthest reach of the window (see `find`) plus
/// their nearest live engagement beyond it on either side (which the travel check of a
/// slot's conflict report can look as far as); each candidate venue's events in the
/// window; and every venue and participant those events name (names, zones, cities,
/// countries for visibility). Each query `find` makes of the copy thus has the answer it
/// would have in `st`. Costs O(events copied), each a reference count.
pub fn reads(st: &State, q: &Query, travel: &TravelSettings) -> State {
    let mut copy = State::default();
    copy.revision = st.revision;
    let mut events: Vec<&std::sync::Arc<Event>> = Vec::new();
    let parent = st.events.get(q.parent_event_id.trim());
    let mut chain: Vec<Str> = Vec::new();
    if let Some(p) = parent {
        chain.push(p.id.clone());
        chain.extend(st.events.ancestors(p));
        events.extend(chain.iter().filter_map(|id| st.events.get(id)));
    }
    let (mut from, mut to) = match (q.window, parent) {
        (Some(w), _) => w,
        (None, Some(p)) => (p.start.utc, p.end.utc),
        (None, None) => (0, 0),
    };
    if let Some(p) = parent {
        from = from.max(p.start.utc);
        to = to.min(p.end.utc);
    }
    let copy_window = to > from && to - from <= MAX_WINDOW_SECS;
    // At least `find`'s reach, whatever the buffers asked for.
    let reach = travel.required_secs(20_100.0).max(NEARBY_SECS) + MAX_BUFFER_SECS + 60;
    let counts = |e: &Event| e.is_live() && !chain.contains(&e.id);
    for need in &q.participants {
        let id = need.participant_id.trim();
        let Some(p) = st.participants.get(id) else {
            continue;
        };
        copy.participants.insert(p.id.as_str().into(), p.clone());
        if let Some(c) = st.work_calendars.get(&p.country_code) {
            copy.work_calendars
                .insert(p.country_code.as_str().into(), c.clone());
        }
        if !copy_window {
            continue;
        }
        let axis = Axis::Participant(id);
        events.extend(st.events.window(axis, from - reach, to + reach, None));
        let on_itinerary = |e: &Event| counts(e) && e.status_for_named(id).is_some();
        events.extend(st.events.latest_ending_by(axis, from - reach, on_itinerary));
        events.extend(
            st.events
                .earliest_starting_from(axis, to + reach, on_itinerary),
        );
    }
    let parent_venue = parent.and_then(|p| st.venues.get(p.venue_id.as_str()));
    let city = q.city.trim();
    let venues: Vec<&Venue> = if q.venue_ids.is_empty() {
        st.venues
            .values()
            .filter(|v| {
                parent_venue.is_some_and(|pv| same_city(v, pv))
                    || (!city.is_empty() && v.city.trim().eq_ignore_ascii_case(city))
            })
            .collect()
    } else {
        q.venue_ids
            .iter()
            .filter_map(|id| st.venues.get(id.trim()))
            .collect()
    };
    for v in venues {
        copy.venues.insert(v.id.as_str().into(), v.clone());
        if copy_window {
            events.extend(st.events.window(Axis::Venue(&v.id), from, to, None));
        }
    }
    for e in events {
        if copy.events.get(&e.id).is_some() {
            continue;
        }
        if let Some(v) = st.venues.get(e.venue_id.as_str()) {
            copy.venues.insert(v.id.as_str().into(), v.clone());
        }
        for p in &e.participants {
            if let Some(p) = st.participants.get(p.as_str()) {
                copy.participants.insert(p.id.as_str().into(), p.clone());
            }
        }
        copy.events.insert_shared(e.clone());
    }
    copy
}

/// An event as the search holds it, counting as `status`.
fn near<'a>(view: impl Sight<'a>, e: &'a Event, status: EventStatus) -> Near<'a> {
    Near {
        start: e.start.utc,
        end: e.end.utc,
        confirmed: status == EventStatus::Confirmed,
        venue: view.state().venues.get(e.venue_id.as_str()),
        shown: view.sees(e),
        event: e,
    }
}

pub fn find<'a>(
    view: impl Sight<'a>,
    q: &Query,
    travel: TravelSettings,
    stop: &Stop,
) -> Result<Found> {
    let st = view.state();
    // The parent: it bounds the window and the city, and never blocks. One the caller
    // may not see does not exist.
    let parent = if q.parent_event_id.trim().is_empty() {
        None
    } else {
        let id = q.parent_event_id.trim();
        Some(
            st.events
                .get(id)
                .filter(|e| view.sees(e))
                .ok_or_else(|| Error::not_found("event", id, "parent_event_id"))?,
        )
    };
    let mut related: Vec<Str> = Vec::new();
    if let Some(p) = parent {
        if !p.is_live() {
            return Err(Error::FailedPrecondition {
                message: format!(
                    "{} is cancelled: nothing can be placed on its sidelines",
                    view.mention(p)
                ),
                violations: Vec::new(),
            });
        }
        related.push(p.id.clone());
        related.extend(st.events.ancestors(p));
    }
    let (mut from, mut to) = match (q.window, parent) {
        (Some(w), _) => w,
        (None, Some(p)) => (p.start.utc, p.end.utc),
        (None, None) => {
            return Err(Error::invalid(
                "window",
                "is required (or name a parent event)",
            ));
        }
    };
    if let Some(p) = parent {
        from = from.max(p.start.utc);
        to = to.min(p.end.utc);
        if to <= from {
            return Err(Error::FailedPrecondition {
                message: format!("the window does not overlap {}", view.mention(p)),
                violations: Vec::new(),
            });
        }
    }
    if to - from > MAX_WINDOW_SECS {
        return Err(Error::invalid("window", "is longer than 62 days"));
    }
    if to - from < q.duration {
        return Err(Error::invalid(
            "duration",
            format!(
                "a {} meeting does not fit in a window of {}",
                hm(q.duration),
                hm(to - from)
            ),
        ));
    }

    // The venues.
    let parent_venue = parent.and_then(|p| st.venues.get(p.venue_id.as_str()));
    let mut venues: Vec<Option<&Venue>> = Vec::new();
    for (i, id) in q.venue_ids.iter().enumerate() {
        let v = st.get_at::<Venue>(id.trim(), || format!("venue_ids[{i}]"))?;
        if let Some(pv) = parent_venue
            && !same_city(v, pv)
        {
            return Err(Error::invalid(
                format!("venue_ids[{i}]"),
                format!(
                    "{} is in {}, not in {} where the parent event is held",
                    v.display_name, v.city, pv.city
                ),
            ));
        }
        if !q.city.trim().is_empty() && !v.city.trim().eq_ignore_ascii_case(q.city.trim()) {
            return Err(Error::invalid(
                format!("venue_ids[{i}]"),
                format!(
                    "{} is in {}, not in {}",
                    v.display_name,
                    v.city,
                    q.city.trim()
                ),
            ));
        }
        if !venues.iter().any(|x| x.is_some_and(|x| x.id == v.id)) {
            venues.push(Some(v));
        }
    }
    if venues.is_empty() {
        let city = q.city.trim();
        if !city.is_empty() || parent_venue.is_some() {
            let mut all: Vec<&Venue> = st
                .venues
                .values()
                .filter(|v| match parent_venue {
                    Some(pv) => {
                        same_city(v, pv)
                            && (city.is_empty() || v.city.trim().eq_ignore_ascii_case(city))
                    }
                    None => v.city.trim().to_lowercase() == city.to_lowercase(),
                })
                .collect();
            all.truncate(MAX_VENUES);
            if all.is_empty() {
                return Err(Error::invalid(
                    "city",
                    format!("no venue is registered in {}", crate::validate::shown(city)),
                ));
            }
            venues.extend(all.into_iter().map(Some));
        } else {
            venues.push(None);
        }
    }

    let granularity = if q.granularity == 0 {
        DEFAULT_GRANULARITY_SECS
    } else {
        q.granularity
    };
    let starts = ((to - q.duration - from) / granularity + 1) as usize;
    let candidates = starts.saturating_mul(venues.len());
    if candidates > MAX_CANDIDATES {
        return Err(Error::invalid(
            "window",
            format!(
                "{candidates} candidates (start times × venues) is more than {MAX_CANDIDATES}: \
                 narrow the window, coarsen the granularity or name fewer venues"
            ),
        ));
    }
    // Each candidate is judged for its venue and for every participant.
    let checks = candidates.saturating_mul(q.participants.len() + 1);
    if checks > MAX_CHECKS {
        return Err(Error::invalid(
            "window",
            format!(
                "{candidates} candidates for {} participants and the venue is {checks} checks, \
                 more than the {MAX_CHECKS} one search may make: narrow the window, coarsen \
                 the granularity, or name fewer venues or participants",
                q.participants.len()
            ),
        ));
    }

    // Everyone's events near the window: far enough out that an event beyond cannot
    // matter (no overlap, no buffer, any journey done, too far to say where they are).
    let max_buffer = q
        .participants
        .iter()
        .map(|n| {
            let c = n.overrides.over(q.defaults.over(Constraints::default()));
            c.buffer_before.max(c.buffer_after)
        })
        .max()
        .unwrap_or(0);
    let reach = travel.required_secs(20_100.0).max(NEARBY_SECS) + max_buffer + 60;
    let counts = |e: &Event| e.is_live() && !related.contains(&e.id);
    let near = |e: &'a Event, status: EventStatus| near(view, e, status);
    let mut people = Vec::with_capacity(q.participants.len());
    for (i, need) in q.participants.iter().enumerate() {
        let id = need.participant_id.trim();
        let p = st.get_at::<Participant>(id, || format!("participants[{i}].participant_id"))?;
        let cal = match st.work_calendars.get(&p.country_code) {
            Some(c) => std::borrow::Cow::Borrowed(c),
            None => std::borrow::Cow::Owned(WorkCalendar::default_for(&p.country_code)),
        };
        let evs: Vec<Near<'_>> = st
            .events
            .window(Axis::Participant(id), from - reach, to + reach, None)
            .filter(|e| counts(e))
            .filter_map(|e| e.status_for_named(id).map(|s| near(e, s)))
            .collect();
        let epoch = NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
        people.push(Person {
            need,
            who: p,
            c: need.overrides.over(q.defaults.over(Constraints::default())),
            days: cal.days(),
            holidays: cal
                .holidays
                .iter()
                .map(|h| {
                    let day = (h.date - epoch).num_days();
                    (day, h.status == HolidayStatus::Official)
                })
                .collect(),
            calendar: cal,
            timeline: Timeline::new(evs),
        });
    }
    let venue_lines = venues
        .iter()
        .map(|v| match v {
            Some(v) => Timeline::new(
                st.events
                    .window(Axis::Venue(&v.id), from, to, None)
                    .filter(|e| counts(e))
                    .map(|e| near(e, e.status))
                    .collect(),
            ),
            None => Timeline::default(),
        })
        .collect();
    let search = Search {
        people,
        venues,
        venue_lines,
        travel,
        duration: q.duration,
    };

    // Every candidate.
    let quiet = Words {
        view,
        conflicts: Vec::new(),
    };
    let n_people = search.people.len();
    // Per participant, then per venue: how many candidates each kind of issue ruled out.
    let mut excluded = vec![[0u32; STATUSES.len()]; n_people + search.venues.len()];
    let mut fitting: Vec<(u32, u32, u32, u16)> = Vec::new();
    let mut scratch = Scratch::default();
    for k in 0..starts {
        if k % 256 == 0 {
            stop.check()?;
        }
        let s = from + k as i64 * granularity;
        for vi in 0..search.venues.len() {
            let mut ok = true;
            let mut soft = 0u32;
            let mut optional = 0u32;
            let venue_v = search.assess_venue(vi, s, None, &quiet);
            if venue_v.hard != 0 {
                ok = false;
                excluded[n_people + vi][Status::VenueBusy as usize] += 1;
            }
            soft += venue_v.soft_count();
            for (pi, p) in search.people.iter().enumerate() {
                let v = search.assess(p, vi, s, &mut scratch, None, &quiet);
                if p.need.optional {
                    if v.hard == 0 {
                        optional += 1;
                        soft += v.soft_count();
                    }
                    continue;
                }
                if v.hard != 0 {
                    ok = false;
                    for st in STATUSES {
                        if v.hard & st.bit() != 0 {
                            excluded[pi][st as usize] += 1;
                        }
                    }
                }
                soft += v.soft_count();
            }
            if ok {
                fitting.push((soft, u32::MAX - optional, k as u32, vi as u16));
            }
        }
    }
    let n_fitting = fitting.len() as u32;
    let max = if q.max_results == 0 {
        DEFAULT_RESULTS
    } else {
        q.max_results
    };
    if fitting.len() > max {
        fitting.select_nth_unstable(max);
        fitting.truncate(max);
    }
    fitting.sort_unstable();

    // The slots, in words.
    let mut slots = Vec::with_capacity(fitting.len());
    for &(soft, not_optional, k, vi) in &fitting {
        let s = from + i64::from(k) * granularity;
        let e = s + q.duration;
        let venue = search.venues[vi as usize];
        let candidate = candidate_event(&search, venue, parent.map(|p| p.id.clone()), s, e);
        let report = conflicts::check(st, &candidate, &travel);
        let words = Words {
            view,
            conflicts: view.conflicts(&report.conflicts).into_owned(),
        };
        let mut venue_issues = Vec::new();
        search.assess_venue(vi as usize, s, Some(&mut venue_issues), &words);
        let attendees = search
            .people
            .iter()
            .map(|p| {
                let mut issues = Vec::new();
                let v = search.assess(p, vi as usize, s, &mut scratch, Some(&mut issues), &words);
                issues.sort_by_key(|i| (!i.hard, i.status));
                Attendee {
                    participant_id: p.who.id.clone(),
                    optional: p.need.optional,
                    available: v.hard == 0,
                    issues,
                    zone: search.zone_of(p, venue, s, e),
                }
            })
            .collect();
        slots.push(Slot {
            start: s,
            end: e,
            venue_id: venue.map(|v| v.id.clone()),
            attendees,
            venue_issues,
            conflicts: words.conflicts,
            soft_violations: soft,
            optional_available: u32::MAX - not_optional,
        });
    }

    // Why candidates were ruled out.
    let total = candidates as u32;
    let mut diagnostics: Vec<Diagnostic> = excluded
        .into_iter()
        .enumerate()
        .flat_map(|(i, counts)| {
            STATUSES
                .into_iter()
                .filter(move |st| counts[*st as usize] > 0)
                .map(move |st| (i, st, counts[st as usize]))
        })
        .map(|(i, status, n)| {
            let (participant_id, venue_id, whose) = if i < n_people {
                let p = &search.people[i];
                (p.who.id.clone(), String::new(), p.who.display_name.clone())
            } else {
                let v = search.venues[i - n_people].map_or("", |v| v.id.as_str());
                let name = search.venues[i - n_people].map_or("", |v| v.display_name.as_str());
                (String::new(), v.to_string(), name.to_string())
            };
            Diagnostic {
                description: format!(
                    "{whose}: {} rule out {n} of {total} candidate slots",
                    status_name(status)
                ),
                participant_id,
                venue_id,
                constraint: status,
                excluded: n,
            }
        })
        .collect();
    diagnostics.sort_by(|a, b| {
        b.excluded
            .cmp(&a.excluded)
            .then_with(|| a.participant_id.cmp(&b.participant_id))
            .then_with(|| a.venue_id.cmp(&b.venue_id))
            .then_with(|| a.constraint.cmp(&b.constraint))
    });
    Ok(Found {
        slots,
        revision: st.revision,
        candidates: total,
        fitting: n_fitting,
        diagnostics,
    })
}

/// An event at the slot, as CheckConflicts would be asked about it.
fn candidate_event(
    search: &Search<'_>,
    venue: Option<&Venue>,
    parent: Option<Str>,
    s: i64,
    e: i64,
) -> Event {
    let zone = venue.map_or(chrono_tz::UTC, |v| v.zone);
    // The window was parsed within the years entente accepts: the instants are valid.
    let at = |t| {
        Zoned::from_instant(t, zone).unwrap_or(Zoned {
            local: chrono::NaiveDateTime::default(),
            zone,
            offset_secs: 0,
            utc: t,
        })
    };
    Event {
        id: "(proposed)".into(),
        kind: crate::events::EventKind::BilateralMeeting,
        title: Str::default(),
        description: String::new(),
        venue_id: venue.map(|v| Str::from(v.id.as_str())).unwrap_or_default(),
        host_country: venue
            .map(|v| Str::from(v.country_code.as_str()))
            .unwrap_or_default(),
        forum_id: None,
        participants: search
            .people
            .iter()
            .map(|p| Str::from(p.who.id.as_str()))
            .collect(),
        attendance: vec![crate::events::Attendance::Confirmed; search.people.len()],
        status: EventStatus::Confirmed,
        parent_id: parent,
        timing: crate::events::Timing::Timed,
        start: at(s),
        end: at(e),
        tzdb_version: crate::time::TZDB_VERSION.into(),
        visibility: crate::events::Visibility::default(),
        owner_office: Str::default(),
        cancellation_reason: String::new(),
        overrides: Vec::new(),
        meta: crate::record::Meta::new(0),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_ranges_split_at_an_offset_change() {
        // Lord Howe moves its clocks back 30 minutes at 02:00 local on 2024-04-07
        // (15:00 UTC on the 6th): 01:30–02:00 happens twice.
        let zone: Tz = "Australia/Lord_Howe".parse().unwrap();
        let s = chrono::DateTime::parse_from_rfc3339("2024-04-06T14:45:00Z")
            .unwrap()
            .timestamp();
        let mut out = Vec::new();
        local_ranges(zone, s, s + 30 * 60, &mut out, &mut offset);
        assert_eq!(out.len(), 2, "{out:?}");
        let local = |t: i64| date_of(day_of(t)).to_string() + " " + &clock(t.rem_euclid(86_400));
        assert_eq!(local(out[0].0), "2024-04-07 01:45");
        assert_eq!(local(out[0].1), "2024-04-07 01:59");
        assert_eq!(local(out[1].0), "2024-04-07 01:30");
        assert_eq!(local(out[1].1), "2024-04-07 01:44");
        assert_eq!(weekday_of(day_of(out[0].0)), 6, "a Sunday");
    }
}
