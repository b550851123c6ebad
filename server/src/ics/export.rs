//! Events to an RFC 5545 calendar, with calcard doing the format (escaping, 75-octet
//! folding, CRLF) and the VTIMEZONEs.
//!
//! Times are written as entered: `DTSTART;TZID=Europe/Moscow:20241022T090000`, the IANA
//! name and the stored wall time, so Google (which wants IANA TZIDs) and Outlook (which
//! wants a VTIMEZONE) both read what the protocol office typed. Each zone used gets one
//! VTIMEZONE built by calcard from the transitions of the chrono-tz tzdb this server runs
//! (the same one that derived the stored instants), covering the exported span with a
//! margin; a rule still in force is written as a yearly RRULE pair, which is what Outlook
//! reads (it ignores RDATEs and keeps one STANDARD/DAYLIGHT pair). With `utc_times` every
//! time is the UTC instant and there are no VTIMEZONEs.
//!
//! One exception: a wall time that its zone repeats (01:30 on New York's fall-back night)
//! names two instants. RFC 5545 (§3.3.5) reads it as the first, so the second cannot be
//! written with its TZID at all, and readers that ignore the rule (or an importer told to
//! read LATER) would misplace the first. Such a DTSTART or DTEND is written as its UTC
//! instant (`DTSTART:20241103T063000Z`), which every reader places exactly; the TZID
//! form is kept for every wall time that names one instant ([`unambiguous`]).

use calcard::common::PartialDateTime;
use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameter,
    ICalendarParameterName, ICalendarParameterValue, ICalendarParticipationRole,
    ICalendarParticipationStatus, ICalendarProperty, ICalendarStatus, ICalendarValue,
    ICalendarValueType, Uri,
};
use chrono::{Datelike, NaiveDate, NaiveDateTime, Timelike};

use crate::events::{Attendance, Event, EventKind, EventStatus, Timing};
use crate::state::State;

/// The URI scheme entente writes attendees with (`urn:entente:participant:putin`), and
/// reads back on import.
pub const ATTENDEE_URN: &str = "urn:entente:participant:";

/// The property that carries an event's forum id (`X-ENTENTE-FORUM:brics`): RFC 5545 has
/// none, CATEGORIES already carries the kind, and an `X-` property is what other apps
/// keep and ignore.
pub const FORUM_PROPERTY: &str = "X-ENTENTE-FORUM";

/// How to write.
#[derive(Debug, Clone)]
pub struct Options {
    /// UIDs are `<event id>@<uid_domain>`.
    pub uid_domain: String,
    /// UTC instants instead of zoned wall times.
    pub utc_times: bool,
    /// `X-WR-CALNAME`: the name a subscribing app shows.
    pub name: String,
}

/// The calendar of `events` (already chosen and redacted for the caller), in order.
pub fn calendar(st: &State, events: &[std::sync::Arc<Event>], opts: &Options) -> String {
    let mut root = ICalendarComponent::new(ICalendarComponentType::VCalendar);
    root.add_property(ICalendarProperty::Version, "2.0");
    root.add_property(
        ICalendarProperty::Prodid,
        "-//entente//entente scheduler//EN",
    );
    root.add_property(ICalendarProperty::Calscale, "GREGORIAN");
    root.add_property(ICalendarProperty::Method, "PUBLISH");
    if !opts.name.is_empty() {
        root.add_property(
            ICalendarProperty::Other("X-WR-CALNAME".into()),
            opts.name.as_str(),
        );
    }
    let mut cal = ICalendar {
        components: vec![root],
    };
    for e in events {
        let id = cal.components.len() as u32;
        cal.components.push(vevent(st, e, opts));
        cal.components[0].component_ids.push(id);
    }
    if !opts.utc_times {
        add_timezones(&mut cal, events);
    }
    cal.to_string()
}

/// One VTIMEZONE per TZID used, over the years that zone's own events span (plus calcard's
/// margins: a day before, two years after), in the order the zones are first used, as
/// calcard writes them. calcard's `add_missing_timezones` gives every zone the span of all
/// the events together, so one event in 1900 and one in 2126 made each zone's VTIMEZONE
/// scan 226 years.
fn add_timezones(cal: &mut ICalendar, events: &[std::sync::Arc<Event>]) {
    let mut spans: Vec<(&str, i64, i64)> = Vec::new();
    let mut at: std::collections::HashMap<&str, usize> = std::collections::HashMap::new();
    for e in events.iter().filter(|e| matches!(e.timing, Timing::Timed)) {
        let tz = e.start.zone.name();
        let i = *at.entry(tz).or_insert_with(|| {
            spans.push((tz, e.start.utc, e.end.utc));
            spans.len() - 1
        });
        let (_, lo, hi) = &mut spans[i];
        *lo = (*lo).min(e.start.utc);
        *hi = (*hi).max(e.end.utc);
    }
    let year = |t: i64| chrono::DateTime::from_timestamp(t, 0).map_or(1970, |d| d.year());
    let year_start = |y: i32| {
        NaiveDate::from_ymd_opt(y, 1, 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .map_or(0, |t| t.and_utc().timestamp())
    };
    for (tz, lo, hi) in spans {
        let from = year_start(year(lo)).saturating_sub(86_400);
        let to = year_start(year(hi).saturating_add(2));
        cal.add_timezone(tz, from, to);
    }
}

fn vevent(st: &State, e: &Event, opts: &Options) -> ICalendarComponent {
    let mut c = ICalendarComponent::new(ICalendarComponentType::VEvent);
    c.add_uid(&uid(&e.id, &opts.uid_domain));
    // The first version is SEQUENCE 0; every stored change of the event adds one, so a
    // client that imported it before replaces it.
    c.add_sequence(e.meta.revision.saturating_sub(1) as i64);
    // DTSTAMP is the event's last change, not the time of the export: the same calendar
    // exported twice is byte for byte the same (feeds' ETags rely on it).
    c.add_dtstamp(PartialDateTime::from_utc_timestamp(
        e.meta.update_time.div_euclid(1_000_000),
    ));
    match e.timing {
        Timing::AllDay { first, last } => {
            c.entries
                .push(date_entry(ICalendarProperty::Dtstart, first));
            // DTEND of a VALUE=DATE event is exclusive.
            let end = last.succ_opt().unwrap_or(last);
            c.entries.push(date_entry(ICalendarProperty::Dtend, end));
        }
        Timing::Timed if opts.utc_times => {
            c.add_property(
                ICalendarProperty::Dtstart,
                PartialDateTime::from_utc_timestamp(e.start.utc),
            );
            c.add_property(
                ICalendarProperty::Dtend,
                PartialDateTime::from_utc_timestamp(e.end.utc),
            );
        }
        Timing::Timed => {
            for (name, at) in [
                (ICalendarProperty::Dtstart, &e.start),
                (ICalendarProperty::Dtend, &e.end),
            ] {
                if unambiguous(at) {
                    c.entries.push(zoned_entry(name, at.local, at.zone.name()));
                } else {
                    c.add_property(name, PartialDateTime::from_utc_timestamp(at.utc));
                }
            }
        }
    }
    c.add_property(ICalendarProperty::Summary, e.title.as_str());
    if !e.description.is_empty() {
        c.add_property(ICalendarProperty::Description, e.description.as_str());
    }
    if let Some(v) = st.venues.get(&e.venue_id) {
        c.add_property(
            ICalendarProperty::Location,
            format!("{}, {}", v.display_name, v.city),
        );
        if let Some(at) = &v.location {
            c.entries.push(ICalendarEntry {
                name: ICalendarProperty::Geo,
                params: Vec::new(),
                values: vec![
                    ICalendarValue::Float(at.latitude),
                    ICalendarValue::Float(at.longitude),
                ],
            });
        }
    } else if !e.venue_id.is_empty() {
        c.add_property(ICalendarProperty::Location, e.venue_id.as_str());
    }
    c.add_property(
        ICalendarProperty::Status,
        match e.status {
            EventStatus::Tentative => ICalendarStatus::Tentative,
            EventStatus::Confirmed => ICalendarStatus::Confirmed,
            EventStatus::Cancelled => ICalendarStatus::Cancelled,
        },
    );
    c.add_property(ICalendarProperty::Categories, kind_category(e.kind));
    if let Some(forum) = &e.forum_id {
        c.add_property(
            ICalendarProperty::Other(FORUM_PROPERTY.into()),
            forum.as_str(),
        );
    }
    if let Some(parent) = &e.parent_id {
        // RELTYPE defaults to PARENT.
        c.add_property(
            ICalendarProperty::RelatedTo,
            uid(parent, &opts.uid_domain).as_str(),
        );
    }
    for (p, answer) in e.participants.iter().zip(&e.attendance) {
        let name = st
            .participants
            .get(p)
            .map_or_else(|| p.to_string(), |x| x.display_name.clone());
        c.entries.push(ICalendarEntry {
            name: ICalendarProperty::Attendee,
            params: vec![
                ICalendarParameter {
                    name: ICalendarParameterName::Cn,
                    value: ICalendarParameterValue::Text(name),
                },
                ICalendarParameter {
                    name: ICalendarParameterName::Role,
                    value: ICalendarParameterValue::Role(
                        ICalendarParticipationRole::ReqParticipant,
                    ),
                },
                ICalendarParameter {
                    name: ICalendarParameterName::Partstat,
                    value: ICalendarParameterValue::Partstat(match answer {
                        Attendance::Confirmed => ICalendarParticipationStatus::Accepted,
                        Attendance::Declined => ICalendarParticipationStatus::Declined,
                        Attendance::Requested => ICalendarParticipationStatus::NeedsAction,
                    }),
                },
            ],
            values: vec![ICalendarValue::Uri(Uri::Location(format!(
                "{ATTENDEE_URN}{p}"
            )))],
        });
    }
    c
}

/// `<id>@<domain>`.
pub fn uid(id: &str, domain: &str) -> String {
    format!("{id}@{domain}")
}

/// The CATEGORIES word for a kind ("Bilateral meeting"), read back by import.
pub fn kind_category(k: EventKind) -> &'static str {
    match k {
        EventKind::Summit => "Summit",
        EventKind::Conference => "Conference",
        EventKind::BilateralMeeting => "Bilateral meeting",
        EventKind::OfficialVisit => "Official visit",
        EventKind::StateVisit => "State visit",
        EventKind::SigningCeremony => "Signing ceremony",
        EventKind::Other => "Other",
    }
}

/// The kind a CATEGORIES word names (any case), if any.
pub fn category_kind(word: &str) -> Option<EventKind> {
    let w = word.trim();
    [
        EventKind::Summit,
        EventKind::Conference,
        EventKind::BilateralMeeting,
        EventKind::OfficialVisit,
        EventKind::StateVisit,
        EventKind::SigningCeremony,
        EventKind::Other,
    ]
    .into_iter()
    .find(|k| kind_category(*k).eq_ignore_ascii_case(w))
}

fn date_entry(name: ICalendarProperty, d: NaiveDate) -> ICalendarEntry {
    ICalendarEntry {
        name,
        params: vec![ICalendarParameter {
            name: ICalendarParameterName::Value,
            value: ICalendarParameterValue::Value(ICalendarValueType::Date),
        }],
        values: vec![ICalendarValue::PartialDateTime(Box::new(PartialDateTime {
            year: Some(d.year() as u16),
            month: Some(d.month() as u8),
            day: Some(d.day() as u8),
            ..Default::default()
        }))],
    }
}

/// Whether `TZID=<zone>:<wall time>` names `at`'s instant and no other: the wall time is
/// neither repeated nor skipped in its zone.
fn unambiguous(at: &crate::time::Zoned) -> bool {
    crate::time::resolve(at.local, at.zone, crate::time::Disambiguation::Reject)
        .is_ok_and(|z| z.utc == at.utc)
}

fn zoned_entry(name: ICalendarProperty, local: NaiveDateTime, tz: &str) -> ICalendarEntry {
    ICalendarEntry {
        name,
        params: vec![ICalendarParameter {
            name: ICalendarParameterName::Tzid,
            value: ICalendarParameterValue::Text(tz.to_string()),
        }],
        values: vec![ICalendarValue::PartialDateTime(Box::new(PartialDateTime {
            year: Some(local.year() as u16),
            month: Some(local.month() as u8),
            day: Some(local.day() as u8),
            hour: Some(local.hour() as u8),
            minute: Some(local.minute() as u8),
            second: Some(local.second() as u8),
            ..Default::default()
        }))],
    }
}
