//! iCalendar interop: export ([`export`]), subscription feeds ([`feeds`], served over
//! HTTP by `grpc::ics`), and import ([`import`]): how events become VEVENTs and back.
//! The use cases that run them for a principal (`Scheduler::export_calendar`, the feeds'
//! create/list/delete/serve, `Scheduler::import_calendar`) are the service's
//! (`service::{export, feeds, import}`).
//!
//! What an export holds is decided here, once, for the RPC and the feeds alike: the
//! events of a scope that the principal may see, as `ListEvents` would show them. So is
//! how a file is read: [`parse`] and its helpers serve event import and the working
//! calendars' holiday import ([`holidays`]) alike, with one parser (calcard).

pub mod export;
pub mod feeds;
pub mod holidays;
pub mod import;

use std::sync::Arc;

use calcard::icalendar::{
    ICalendar, ICalendarComponent, ICalendarComponentType, ICalendarEntry, ICalendarParameterName,
    ICalendarParameterValue, ICalendarProperty, ICalendarValueType,
};
use chrono::NaiveDate;

use crate::error::{Error, Result};
use crate::events::Event;
use crate::events::index::Axis;
use crate::redact::View;
pub use crate::subscription::Scope;

/// The largest iCalendar file read at once.
pub const MAX_ICS_BYTES: usize = 1 << 20;

/// An iCalendar file sent in the request field `field` (CRLF or LF, folded lines, escaped
/// text), at most [`MAX_ICS_BYTES`].
pub fn parse(text: &str, field: &str) -> Result<ICalendar> {
    if text.len() > MAX_ICS_BYTES {
        return Err(Error::invalid(
            field,
            format!(
                "is {} bytes; at most {MAX_ICS_BYTES} are read at once",
                text.len()
            ),
        ));
    }
    ICalendar::parse(text).map_err(|_| {
        Error::invalid(
            field,
            "is not an iCalendar file (it must start with BEGIN:VCALENDAR and end with \
             END:VCALENDAR)",
        )
    })
}

/// The VEVENTs of a calendar, in file order.
pub fn vevents(cal: &ICalendar) -> impl Iterator<Item = &ICalendarComponent> {
    cal.components
        .iter()
        .filter(|c| c.component_type == ICalendarComponentType::VEvent)
}

/// The first value of property `p`, as text.
pub fn text<'a>(c: &'a ICalendarComponent, p: &ICalendarProperty) -> Option<&'a str> {
    c.property(p)
        .and_then(|e| e.values.first())
        .and_then(|v| v.as_text())
}

/// The date of a whole-day value (`VALUE=DATE`, or a value without a time of day);
/// `None` for a date-time or no date at all.
pub fn date(e: &ICalendarEntry) -> Option<NaiveDate> {
    let pdt = e.values.first()?.as_partial_date_time()?;
    let is_date = matches!(
        e.parameter(&ICalendarParameterName::Value),
        Some(ICalendarParameterValue::Value(ICalendarValueType::Date))
    ) || pdt.hour.is_none();
    is_date
        .then(|| pdt.to_date_time())
        .flatten()
        .map(|d| d.date_time.date())
}

/// The longest window an export may cover, in seconds (400 days).
pub const MAX_WINDOW_SECS: i64 = 400 * 86_400;

/// How to export.
#[derive(Debug, Clone, Default)]
pub struct ExportOptions {
    /// Include cancelled events.
    pub include_cancelled: bool,
    /// UTC instants instead of zoned times.
    pub utc_times: bool,
    /// `X-WR-CALNAME` ("" for none).
    pub name: String,
    /// Past [`MAX_EVENTS`], keep the events that start nearest to this instant (a feed,
    /// which must keep answering) instead of refusing (an export, which can be narrowed).
    pub nearest_to: Option<i64>,
}

/// An export.
#[derive(Debug, Clone)]
pub struct Exported {
    /// The calendar text.
    pub ics: String,
    /// How many VEVENTs.
    pub events: usize,
    /// The revision it was read at.
    pub revision: u64,
}

/// NOT_FOUND unless the scope names a record `view` can read.
pub(crate) fn check_scope(view: View<'_>, scope: &Scope) -> Result<()> {
    let st = view.state();
    match scope {
        Scope::All => {}
        Scope::Participant(p) => {
            st.get::<crate::directory::Participant>(p, "scope.participant_id")?;
        }
        Scope::Venue(v) => {
            st.get::<crate::directory::Venue>(v, "scope.venue_id")?;
        }
        Scope::Forum(f) => {
            st.get::<crate::directory::Forum>(f, "scope.forum_id")?;
        }
        Scope::Programme(e) => {
            crate::policy::visible_event(st, view.who(), e, "scope.parent_event_id")?;
        }
    }
    Ok(())
}

/// The events of `scope` overlapping `window` that the view shows, by start then id.
pub(crate) fn select(
    view: View<'_>,
    scope: &Scope,
    window: Option<(i64, i64)>,
    how: &ExportOptions,
) -> Result<Vec<Arc<Event>>> {
    let include_cancelled = how.include_cancelled;
    let st = view.state();
    let (from, to) = window.unwrap_or((i64::MIN, i64::MAX));
    check_scope(view, scope)?;
    let keep = |e: &Event| (include_cancelled || e.is_live()) && view.sees(e);
    let mut out: Vec<Arc<Event>> = match scope {
        Scope::Programme(id) => std::iter::once(id.clone())
            .chain(st.events.descendants(id).iter().map(|d| d.to_string()))
            .filter_map(|d| st.events.get(&d))
            .filter(|e| e.end.utc > from && e.start.utc < to && keep(e))
            .map(|e| view.event(e))
            .collect(),
        Scope::Participant(p) => st
            .events
            .window(Axis::Participant(p), from, to, None)
            .filter(|e| keep(e) && e.attendance_of(p) != Some(crate::events::Attendance::Declined))
            .map(|e| view.event(e))
            .collect(),
        Scope::Venue(v) => st
            .events
            .window(Axis::Venue(v), from, to, None)
            .filter(|e| keep(e))
            .map(|e| view.event(e))
            .collect(),
        Scope::Forum(f) => st
            .events
            .window(Axis::All, from, to, None)
            .filter(|e| e.forum_id.as_deref() == Some(f.as_str()) && keep(e))
            .map(|e| view.event(e))
            .collect(),
        Scope::All => st
            .events
            .window(Axis::All, from, to, None)
            .filter(|e| keep(e))
            .map(|e| view.event(e))
            .collect(),
    };
    if let Some(now) = how.nearest_to
        && out.len() > MAX_EVENTS
    {
        out.sort_by(|a, b| {
            ((a.start.utc - now).abs(), &a.id).cmp(&((b.start.utc - now).abs(), &b.id))
        });
        out.truncate(MAX_EVENTS);
    }
    out.sort_by(|a, b| (a.start.utc, &a.id).cmp(&(b.start.utc, &b.id)));
    if out.len() > MAX_EVENTS {
        return Err(Error::ResourceExhausted(format!(
            "the export would hold {} events, more than {MAX_EVENTS}: narrow the window or \
             the scope",
            out.len()
        )));
    }
    Ok(out)
}

/// The most events one export holds (some 3 MiB of iCalendar: under the 4 MiB a default
/// gRPC client accepts, so the refusal is a precise one rather than the transport's).
pub const MAX_EVENTS: usize = 5_000;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::Principal;
    use crate::events::{Attendance, EventKind, EventStatus, Timing, Visibility};
    use crate::record::Meta;
    use crate::state::State;
    use crate::time::Zoned;

    fn event(i: i64, start: i64) -> Event {
        let at = |t| Zoned::from_instant(t, chrono_tz::UTC).expect("in range");
        Event {
            id: format!("e{i:05}").into(),
            kind: EventKind::BilateralMeeting,
            title: format!("Event {i}").into(),
            description: String::new(),
            venue_id: "v".into(),
            host_country: "CH".into(),
            forum_id: None,
            participants: vec!["p".into()],
            attendance: vec![Attendance::Confirmed],
            status: EventStatus::Confirmed,
            parent_id: None,
            timing: Timing::Timed,
            start: at(start),
            end: at(start + 1800),
            tzdb_version: crate::time::TZDB_VERSION.into(),
            visibility: Visibility::Public,
            owner_office: Default::default(),
            cancellation_reason: String::new(),
            overrides: Vec::new(),
            meta: Meta::new(0),
        }
    }

    #[test]
    fn past_the_limit_an_export_refuses_and_a_feed_keeps_the_events_nearest_now() {
        let mut st = State::default();
        let hour = 3600;
        let n = MAX_EVENTS as i64 + 100;
        for i in 0..n {
            st.events.insert(event(i, i * hour));
        }
        let who = Principal::system();
        let view = View::new(&st, &who);
        let all = (i64::MIN, i64::MAX);
        let refused = select(view, &Scope::All, Some(all), &ExportOptions::default());
        assert!(
            matches!(refused, Err(Error::ResourceExhausted(_))),
            "{refused:?}"
        );
        // "Now" is the last event's start: the feed keeps the latest MAX_EVENTS, in order.
        let now = (n - 1) * hour;
        let how = ExportOptions {
            nearest_to: Some(now),
            ..Default::default()
        };
        let kept = select(view, &Scope::All, Some(all), &how).expect("trimmed");
        assert_eq!(kept.len(), MAX_EVENTS);
        assert_eq!(kept[0].start.utc, 100 * hour, "the oldest 100 dropped");
        assert_eq!(kept[MAX_EVENTS - 1].start.utc, now);
        assert!(kept.windows(2).all(|w| w[0].start.utc < w[1].start.utc));
    }
}
