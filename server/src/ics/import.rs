//! `.ics` files to events: calcard parses (CRLF or LF, folded lines, escaped text), this
//! module reads each VEVENT into an [`EventInput`] and hands it to the ordinary write
//! paths (`create_event`, `update_event`), so an imported event meets every rule a typed
//! one does: access, validation, conflicts, history, audit.
//!
//! Times: `TZID=` an IANA name; a Windows or Outlook name ("Russian Standard Time",
//! "(UTC+03:00) Moscow, St. Petersburg"), mapped to IANA by calcard's table from CLDR's
//! windowsZones; a TZID whose VTIMEZONE in the file names its IANA zone
//! (`X-LIC-LOCATION`, `X-MICROSOFT-CDO-TZID`); UTC (`Z`); a floating time only with the
//! request's `default_time_zone`. A zone that none of these resolves is refused by name
//! rather than guessed. Recurring VEVENTs are refused until entente has recurrence.
//!
//! A wall time that its zone repeats or skips is read as RFC 5545 §3.3.5 says: a repeated
//! time is its first occurrence, a skipped one moves forward by the length of the gap
//! (Temporal's COMPATIBLE); the request's `disambiguation` may choose otherwise, REJECT
//! included. A DTSTART or DTEND in UTC beside one with a TZID keeps that zone (entente
//! writes a second occurrence in UTC this way), and its exact instant.
//!
//! Matching: a UID `<id>@<this server's uid domain>` (entente's own export) is the event
//! `<id>`; any other UID becomes the id `ics-<first 16 hex digits of its SHA-256>`, so a
//! second import of the same file finds the same events. Venues and attendees are
//! matched by id, by entente's own export shapes, or by the request's maps; an unknown
//! one refuses the VEVENT and is named, never invented.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use calcard::common::timezone::Tz as CalTz;
use calcard::icalendar::{
    ICalendarComponent, ICalendarEntry, ICalendarParameterName, ICalendarProperty, ICalendarStatus,
    ICalendarValue,
};
use chrono::{NaiveDate, NaiveDateTime};
use chrono_tz::Tz;
use sha2::{Digest, Sha256};

use super::export::{ATTENDEE_URN, FORUM_PROPERTY, category_kind};
use super::text;
use crate::conflicts::Conflict;
use crate::directory::FieldMask;
use crate::error::Error;
use crate::events::{Event, EventInput, EventKind, EventStatus, TimingInput, Visibility};
use crate::state::State;

/// How to import.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Write nothing.
    pub dry_run: bool,
    /// Status of the events; `None`: TENTATIVE for new ones, unchanged for those imported
    /// before.
    pub status: Option<EventStatus>,
    /// Zone of floating times.
    pub default_zone: Option<Tz>,
    /// LOCATION text to venue id.
    pub venue_map: HashMap<String, String>,
    /// Venue when LOCATION is absent or unknown.
    pub default_venue: String,
    /// Attendee (CN or address) to participant id; an empty id leaves the attendee out.
    pub participant_map: HashMap<String, String>,
    /// Kind when CATEGORIES names none.
    pub kind: Option<EventKind>,
    /// Visibility of created events.
    pub visibility: Option<Visibility>,
    /// Write over hard conflicts.
    pub allow_conflicts: bool,
    /// Who imports, for the history.
    pub actor: String,
    /// How wall times in a gap or fold are read (RFC 5545: COMPATIBLE).
    pub disambiguation: crate::time::Disambiguation,
}

/// What happened to a VEVENT.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Created (or would be).
    Created,
    /// Updated (or would be).
    Updated,
    /// Already as the file says.
    Unchanged,
    /// Not imported.
    Refused,
}

/// One VEVENT's result.
#[derive(Debug, Clone)]
pub struct ImportResult {
    /// Its UID.
    pub uid: String,
    /// Its SUMMARY.
    pub summary: String,
    /// What happened.
    pub outcome: Outcome,
    /// The event's id.
    pub event_id: String,
    /// Why it was refused.
    pub reason: String,
    /// Conflicts found, as the caller may see them.
    pub conflicts: Vec<Conflict>,
}

/// A VEVENT read into an event, or why it cannot be.
#[derive(Clone)]
pub(crate) struct Read {
    pub(crate) uid: String,
    pub(crate) summary: String,
    /// `STATUS:CANCELLED` in the file.
    pub(crate) cancelled: bool,
    pub(crate) input: std::result::Result<EventInput, String>,
}

/// A time as the file gives it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum When {
    Date(NaiveDate),
    Local(NaiveDateTime, Tz),
    Utc(NaiveDateTime),
}

/// What a dry run would have written so far: the events as the file's earlier VEVENTs
/// left them, so that a later VEVENT is judged as the real import would judge it (a UID
/// repeated in the file updates what its first VEVENT created; two VEVENTs that clash
/// conflict, unless one is on the other's sidelines). `scratch` holds those events, and
/// the venues and participants they name, for the conflict check.
#[derive(Default)]
pub(crate) struct DryRun {
    pub(crate) events: HashMap<String, Arc<Event>>,
    scratch: State,
    /// The parent in the file of each VEVENT whose parent the dry run has not written.
    pub(crate) parents: HashMap<String, String>,
}

impl DryRun {
    /// The parent `id` has in the file, as the dry run sees it.
    fn parent_of(&self, id: &str) -> Option<&str> {
        self.parents
            .get(id)
            .map(String::as_str)
            .or_else(|| self.events.get(id)?.parent_id.as_deref())
    }

    /// Whether `ancestor` is a parent of `id`, or a parent's parent…, in the file. Walked
    /// only for the few events a VEVENT clashes with, so a long chain of sidelines stays
    /// linear to read (a set of every ancestor per VEVENT would not).
    fn descends(&self, id: &str, ancestor: &str) -> bool {
        let mut at = id;
        for _ in 0..=self.events.len() {
            match self.parent_of(at) {
                Some(p) if p == ancestor => return true,
                Some(p) => at = p,
                None => return false,
            }
        }
        false
    }

    /// The conflicts of `built` with the events written so far: none with itself, its
    /// parents or its sidelines (as the write would count them).
    pub(crate) fn conflicts(
        &self,
        built: &Event,
        travel: &crate::conflicts::TravelSettings,
    ) -> Vec<Conflict> {
        if self.events.is_empty() {
            return Vec::new();
        }
        crate::conflicts::check(&self.scratch, built, travel)
            .conflicts
            .into_iter()
            .filter(|c| {
                c.other_event != built.id
                    && !self.descends(&built.id, &c.other_event)
                    && !self.descends(&c.other_event, &built.id)
            })
            .collect()
    }

    /// Copies what the conflict check reads of `built` (its venue and participants) from
    /// the state, before [`DryRun::wrote`] records it.
    pub(crate) fn known(&mut self, st: &State, built: &Event) {
        if let Some(v) = st.venues.get(built.venue_id.as_str()) {
            self.scratch.venues.insert(v.id.as_str().into(), v.clone());
        }
        for p in &built.participants {
            if let Some(p) = st.participants.get(p.as_str()) {
                self.scratch
                    .participants
                    .insert(p.id.as_str().into(), p.clone());
            }
        }
    }

    /// Records `built` as written. A later VEVENT of its UID edits it as built.
    pub(crate) fn wrote(&mut self, built: Event) {
        self.scratch.events.insert(built.clone());
        self.events.insert(built.id.to_string(), Arc::new(built));
    }
}

/// The order to write `reads` in: each VEVENT after the ones in the file it is on the
/// sidelines of, otherwise file order.
///
/// Written as passes over the file, each placing, in file order, every VEVENT whose parent
/// is placed (earlier in this pass or before) or not in the file; what a cycle leaves
/// unplaced goes last, in file order. A VEVENT's pass is therefore the largest over the
/// other VEVENTs with its parent's id of their pass, plus one for those after it in the
/// file: computed here once per VEVENT, linear in the file when its UIDs are distinct (a
/// UID repeated k times costs k for each VEVENT on its sidelines). Running the passes was
/// quadratic for a chain written child first, and the search for each parent linear more.
pub(crate) fn parents_first(reads: &[Read]) -> Vec<usize> {
    const UNPLACED: u32 = u32::MAX;
    let n = reads.len();
    // Each id the file brings, and its VEVENTs in file order.
    let mut groups: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, r) in reads.iter().enumerate() {
        if let Ok(input) = &r.input {
            groups.entry(input.id.as_str()).or_default().push(i);
        }
    }
    let parent_group = |i: usize| -> Option<&Vec<usize>> {
        let input = reads[i].input.as_ref().ok()?;
        let members = groups.get(input.parent_event_id.as_str())?;
        // A VEVENT alone under its own id waits for nobody.
        (!(members.len() == 1 && members[0] == i)).then_some(members)
    };
    // pass[i]: 0 not yet known, then 1.. or UNPLACED. Depth-first, without recursion (a
    // chain is as deep as the file is long); `open` marks VEVENTs on the current path, so a
    // cycle is found where it closes.
    let mut pass = vec![0u32; n];
    let mut open = vec![false; n];
    for root in 0..n {
        if pass[root] != 0 {
            continue;
        }
        let mut stack = vec![root];
        while let Some(&i) = stack.last() {
            if pass[i] != 0 {
                stack.pop();
                continue;
            }
            let Some(members) = parent_group(i) else {
                pass[i] = 1;
                open[i] = false;
                stack.pop();
                continue;
            };
            let unknown: Vec<usize> = members
                .iter()
                .copied()
                .filter(|&j| j != i && pass[j] == 0)
                .collect();
            if !open[i] && !unknown.is_empty() {
                open[i] = true;
                if unknown.iter().any(|&j| open[j]) {
                    // A cycle through `i`: nothing on it is ever placed.
                    pass[i] = UNPLACED;
                    open[i] = false;
                    stack.pop();
                } else {
                    stack.extend(unknown);
                }
                continue;
            }
            open[i] = false;
            let mut p = 1u32;
            for &j in members.iter().filter(|&&j| j != i) {
                let theirs = match pass[j] {
                    // Still open below us: a cycle.
                    0 | UNPLACED => UNPLACED,
                    q if j > i => q.saturating_add(1),
                    q => q,
                };
                p = p.max(theirs);
            }
            pass[i] = p;
            stack.pop();
        }
    }
    let mut order: Vec<usize> = (0..n).collect();
    order.sort_by_key(|&i| (pass[i], i));
    order
}

/// The fields an import updates: those a VEVENT carries.
pub(crate) fn update_mask(input: &EventInput, opts: &Options) -> FieldMask {
    let mut paths: Vec<String> = [
        "kind",
        "title",
        "description",
        "venue_id",
        "participant_ids",
        "status",
        "timing",
    ]
    .map(String::from)
    .to_vec();
    if !input.parent_event_id.is_empty() {
        paths.push("parent_event_id".into());
    }
    if !input.forum_id.is_empty() {
        paths.push("forum_id".into());
    }
    if opts.visibility.is_some() {
        paths.push("visibility".into());
    }
    FieldMask::Paths(paths.into_iter().collect())
}

pub(crate) fn refused(mut out: ImportResult, err: &Error) -> ImportResult {
    out.outcome = Outcome::Refused;
    out.event_id.clear();
    // The scheduler's messages already pass the redaction point.
    out.reason = err.to_string();
    out
}

/// Whether `built` (the file's version) says nothing new about `old`.
pub(crate) fn same(old: &Event, built: &Event) -> bool {
    old.title == built.title
        && old.description == built.description
        && old.kind == built.kind
        && old.venue_id == built.venue_id
        && old.participants == built.participants
        && old.status == built.status
        && old.parent_id == built.parent_id
        && old.forum_id == built.forum_id
        && old.timing == built.timing
        && old.start == built.start
        && old.end == built.end
}

/// The event id a UID stands for.
pub(crate) fn event_id(uid: &str, domain: &str) -> String {
    if let Some(id) = uid.strip_suffix(domain).and_then(|s| s.strip_suffix('@'))
        && crate::validate::id("uid", id).is_ok()
    {
        return id.to_string();
    }
    let hash = Sha256::digest(uid.as_bytes());
    let hex: String = hash.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("ics-{hex}")
}

/// What reading a VEVENT needs besides the VEVENT.
pub(crate) struct Ctx<'a> {
    pub(crate) st: &'a State,
    pub(crate) resolver: &'a calcard::icalendar::timezone::TzResolver<String>,
    pub(crate) opts: &'a Options,
    pub(crate) domain: &'a str,
    /// The event ids of the file's VEVENTs.
    pub(crate) in_file: &'a HashSet<String>,
}

pub(crate) fn read_vevent(cx: &Ctx<'_>, c: &ICalendarComponent) -> Read {
    let uid = c.uid().unwrap_or_default().to_string();
    let summary = text(c, &ICalendarProperty::Summary)
        .unwrap_or_default()
        .to_string();
    let cancelled = matches!(c.status(), Some(ICalendarStatus::Cancelled));
    let input = event_input(cx, c, &uid, &summary);
    Read {
        uid,
        summary,
        cancelled,
        input,
    }
}

fn event_input(
    cx: &Ctx<'_>,
    c: &ICalendarComponent,
    uid: &str,
    summary: &str,
) -> std::result::Result<EventInput, String> {
    let (st, resolver, opts, domain) = (cx.st, cx.resolver, cx.opts, cx.domain);
    if uid.is_empty() {
        return Err("the VEVENT has no UID, so a later import could not find it".into());
    }
    if c.is_recurrent_or_override() {
        return Err(
            "recurring events (RRULE, RDATE, RECURRENCE-ID) are not supported yet: import \
             each occurrence as its own VEVENT"
                .into(),
        );
    }
    if summary.trim().is_empty() {
        return Err("the VEVENT has no SUMMARY (an event needs a title)".into());
    }
    let start = c
        .property(&ICalendarProperty::Dtstart)
        .ok_or("the VEVENT has no DTSTART")?;
    let start = when(start, resolver, opts.default_zone)?;
    let end = match c.property(&ICalendarProperty::Dtend) {
        Some(e) => Some(when(e, resolver, opts.default_zone)?),
        None => duration_end(c, start)?,
    };
    let timing = timing(start, end, opts.disambiguation)?;
    let location = text(c, &ICalendarProperty::Location).unwrap_or_default();
    let venue_id = venue(st, location, opts)?;
    let mut participants = Vec::new();
    for a in c.properties(&ICalendarProperty::Attendee) {
        if let Some(p) = attendee(st, a, opts)?
            && !participants.contains(&p)
        {
            participants.push(p);
        }
    }
    let kind = text(c, &ICalendarProperty::Categories)
        .and_then(|cats| cats.split(',').find_map(category_kind))
        .or(opts.kind)
        .unwrap_or(EventKind::BilateralMeeting);
    let forum_id = match text(c, &ICalendarProperty::Other(FORUM_PROPERTY.into())) {
        None => String::new(),
        Some(f) if st.forums.get(f.trim()).is_some() => f.trim().to_string(),
        Some(f) => {
            return Err(format!(
                "{FORUM_PROPERTY} {} is not a forum here",
                crate::validate::shown(f)
            ));
        }
    };
    let parent_event_id = text(c, &ICalendarProperty::RelatedTo)
        .map(|u| event_id(u, domain))
        .filter(|id| st.events.get(id).is_some() || cx.in_file.contains(id))
        .unwrap_or_default();
    Ok(EventInput {
        id: event_id(uid, domain),
        kind: Some(kind),
        title: summary.trim().to_string(),
        description: text(c, &ICalendarProperty::Description)
            .unwrap_or_default()
            .to_string(),
        venue_id,
        host_country_code: String::new(),
        forum_id,
        participant_ids: participants,
        status: Some(opts.status.unwrap_or(EventStatus::Tentative)),
        parent_event_id,
        timing: Some(timing),
        visibility: opts.visibility,
    })
}

fn when(
    e: &ICalendarEntry,
    resolver: &calcard::icalendar::timezone::TzResolver<String>,
    default_zone: Option<Tz>,
) -> std::result::Result<When, String> {
    let name = e.name.as_str();
    if let Some(d) = super::date(e) {
        return Ok(When::Date(d));
    }
    let dt = e
        .values
        .first()
        .and_then(|v| v.as_partial_date_time())
        .and_then(|p| p.to_date_time())
        .ok_or_else(|| format!("{name} is not a valid date or date-time"))?;
    if let Some(off) = dt.offset {
        return utc_of(dt.date_time, off, name);
    }
    match e.tz_id() {
        Some(tzid) => match resolver.resolve(tzid) {
            Some(CalTz::Tz(tz)) => Ok(When::Local(dt.date_time, tz)),
            Some(CalTz::Fixed(off)) => utc_of(dt.date_time, off, name),
            _ => Err(format!(
                "{name}: time zone {} is not an IANA name, a Windows name, nor a VTIMEZONE \
                 that names one",
                crate::validate::shown(tzid)
            )),
        },
        None => match default_zone {
            Some(tz) => Ok(When::Local(dt.date_time, tz)),
            None => Err(format!(
                "{name} is a floating time (no TZID, no Z): give default_time_zone to say \
                 where it is"
            )),
        },
    }
}

/// The UTC time of a wall time at a fixed offset.
fn utc_of(
    local: NaiveDateTime,
    off: chrono::FixedOffset,
    name: &str,
) -> std::result::Result<When, String> {
    local
        .checked_sub_offset(off)
        .map(When::Utc)
        .ok_or_else(|| format!("{name} is out of range"))
}

fn duration_end(c: &ICalendarComponent, start: When) -> std::result::Result<Option<When>, String> {
    let Some(ICalendarValue::Duration(d)) = c
        .property(&ICalendarProperty::Duration)
        .and_then(|e| e.values.first())
    else {
        return Ok(None);
    };
    let secs = d.to_time_delta().map(|t| t.num_seconds()).unwrap_or(0);
    // The longest event entente takes is far shorter; this bound only keeps the
    // arithmetic below in range for any file (a crafted DURATION must not panic).
    const MAX_SECS: i64 = 366 * 86_400;
    if !(1..=MAX_SECS).contains(&secs) {
        return Err("DURATION must be positive and at most a year".into());
    }
    let delta = chrono::TimeDelta::seconds(secs);
    let out_of_range = || "DTSTART plus DURATION is out of range".to_string();
    Ok(Some(match start {
        When::Date(d) => When::Date(
            d.checked_add_signed(chrono::TimeDelta::days((secs / 86_400).max(1)))
                .ok_or_else(out_of_range)?,
        ),
        When::Local(t, tz) => {
            When::Local(t.checked_add_signed(delta).ok_or_else(out_of_range)?, tz)
        }
        When::Utc(t) => When::Utc(t.checked_add_signed(delta).ok_or_else(out_of_range)?),
    }))
}

fn iso(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%dT%H:%M:%S").to_string()
}

/// `t` as a wall time in `tz` with its offset ("2024-11-03T01:30:00-05:00"): the instant
/// exactly, whichever occurrence of a repeated wall time it is.
fn exact(t: chrono::DateTime<chrono::Utc>, tz: Tz) -> String {
    t.with_timezone(&tz)
        .format("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

fn timing(
    start: When,
    end: Option<When>,
    disambiguation: crate::time::Disambiguation,
) -> std::result::Result<TimingInput, String> {
    Ok(match (start, end) {
        (When::Date(first), end) => {
            // DTEND of a date is exclusive; without one, the event is that day.
            let last = match end {
                None => first,
                Some(When::Date(e)) if e > first => e.pred_opt().unwrap_or(first),
                Some(When::Date(_)) => first,
                Some(_) => return Err("DTSTART is a date but DTEND a date-time".into()),
            };
            TimingInput::AllDay {
                start_date: first.to_string(),
                end_date: last.to_string(),
                time_zone: String::new(),
            }
        }
        (_, None) => return Err("the VEVENT has neither DTEND nor DURATION".into()),
        // The end in the start's zone (files may give them in two zones).
        (When::Local(s, tz), Some(end)) => TimingInput::Timed {
            start: iso(s),
            end: match end {
                // The same zone: the wall time as given (the write resolves gaps and folds
                // with the request's disambiguation).
                When::Local(e, etz) if etz == tz => iso(e),
                other => exact(instant(other, disambiguation)?, tz),
            },
            time_zone: tz.name().to_string(),
        },
        // A UTC start beside a zoned end: the zone is the end's, the start exact in it.
        (When::Utc(s), Some(When::Local(e, tz))) => TimingInput::Timed {
            start: exact(s.and_utc(), tz),
            end: iso(e),
            time_zone: tz.name().to_string(),
        },
        // UTC instants, stored in the venue's zone.
        (When::Utc(s), Some(end)) => TimingInput::Timed {
            start: format!("{}Z", iso(s)),
            end: format!("{}Z", iso(instant(end, disambiguation)?.naive_utc())),
            time_zone: String::new(),
        },
    })
}

/// The instant a date-time names.
fn instant(
    w: When,
    disambiguation: crate::time::Disambiguation,
) -> std::result::Result<chrono::DateTime<chrono::Utc>, String> {
    match w {
        When::Utc(t) => Ok(t.and_utc()),
        When::Local(t, tz) => crate::time::resolve(t, tz, disambiguation)
            .map(|z| z.instant())
            .map_err(|e| format!("DTEND: {e}")),
        When::Date(_) => Err("DTSTART is a date-time but DTEND a date".into()),
    }
}

fn venue(st: &State, location: &str, opts: &Options) -> std::result::Result<String, String> {
    let location = location.trim();
    if let Some(v) = opts.venue_map.get(location) {
        return Ok(v.clone());
    }
    if !location.is_empty() {
        if st.venues.get(location).is_some() {
            return Ok(location.to_string());
        }
        // entente's own export: "<name>, <city>".
        let found = st
            .venues
            .values()
            .find(|v| location.eq_ignore_ascii_case(&format!("{}, {}", v.display_name, v.city)));
        if let Some(v) = found {
            return Ok(v.id.clone());
        }
    }
    if !opts.default_venue.is_empty() {
        return Ok(opts.default_venue.clone());
    }
    Err(if location.is_empty() {
        "the VEVENT has no LOCATION: give default_venue_id".into()
    } else {
        format!(
            "LOCATION {} is not a venue: map it with venue_map (or give default_venue_id)",
            crate::validate::shown(location)
        )
    })
}

/// The participant an ATTENDEE stands for; `None` when the map leaves it out.
fn attendee(
    st: &State,
    a: &ICalendarEntry,
    opts: &Options,
) -> std::result::Result<Option<String>, String> {
    let raw = a
        .values
        .first()
        .and_then(|v| v.as_text())
        .unwrap_or_default();
    let address = a.calendar_address().unwrap_or_default();
    let address = address.strip_prefix(ATTENDEE_URN).unwrap_or(address);
    let cn = a
        .parameter(&ICalendarParameterName::Cn)
        .and_then(|v| v.as_text())
        .unwrap_or_default();
    for key in [cn, address, raw] {
        if !key.is_empty()
            && let Some(p) = opts.participant_map.get(key)
        {
            return Ok((!p.is_empty()).then(|| p.clone()));
        }
    }
    if st.participants.get(address).is_some() {
        return Ok(Some(address.to_string()));
    }
    Err(format!(
        "attendee {} is not a participant: map it with participant_map (to an id, or to \"\" \
         to leave it out)",
        crate::validate::shown(if cn.is_empty() { address } else { cn })
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The passes as they were first written (quadratic per pass): the reference.
    fn passes(reads: &[Read]) -> Vec<usize> {
        let id_of = |r: &Read| r.input.as_ref().map(|i| i.id.clone()).ok();
        let parent_of = |r: &Read| {
            r.input
                .as_ref()
                .ok()
                .map(|i| i.parent_event_id.clone())
                .filter(|p| !p.is_empty())
        };
        let mut done: Vec<usize> = Vec::new();
        let mut placed = vec![false; reads.len()];
        loop {
            let before = done.len();
            for (i, r) in reads.iter().enumerate() {
                if placed[i] {
                    continue;
                }
                let waits = parent_of(r).is_some_and(|p| {
                    reads.iter().enumerate().any(|(j, o)| {
                        !placed[j] && j != i && id_of(o).as_deref() == Some(p.as_str())
                    })
                });
                if !waits {
                    placed[i] = true;
                    done.push(i);
                }
            }
            if done.len() == reads.len() {
                return done;
            }
            if done.len() == before {
                done.extend((0..reads.len()).filter(|i| !placed[*i]));
                return done;
            }
        }
    }

    fn read(id: u8, parent: Option<u8>, unreadable: bool) -> Read {
        Read {
            uid: id.to_string(),
            summary: String::new(),
            cancelled: false,
            input: if unreadable {
                Err("unreadable".into())
            } else {
                Ok(EventInput {
                    id: format!("e{id}"),
                    parent_event_id: parent.map(|p| format!("e{p}")).unwrap_or_default(),
                    ..EventInput::default()
                })
            },
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]
        /// Files of up to 12 VEVENTs over 6 ids (so repeated UIDs, self-references,
        /// cycles and parents outside the file all come up): the same order as the passes.
        #[test]
        fn parents_first_is_the_passes_order(
            file in prop::collection::vec((0u8..6, prop::option::of(0u8..8), prop::bool::weighted(0.1)), 0..12)
        ) {
            let reads: Vec<Read> = file.iter().map(|&(id, p, bad)| read(id, p, bad)).collect();
            let want = passes(&reads);
            prop_assert_eq!(parents_first(&reads), want);
        }
    }
}
