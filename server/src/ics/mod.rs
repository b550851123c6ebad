//! iCalendar interop: export ([`export`]), subscription feeds ([`feeds`], served over
//! HTTP by `grpc::ics`), and import ([`import`]).
//!
//! What an export holds is decided here, once, for the RPC and the feeds alike: the
//! events of a scope that the principal may see, as `ListEvents` would show them.

pub mod export;
pub mod feeds;
pub mod import;

use std::sync::Arc;

use crate::auth::Principal;
use crate::error::{Error, Result};
use crate::events::Event;
use crate::events::index::Axis;
use crate::redact::View;
use crate::scheduler::Scheduler;

/// Which events a calendar holds.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Scope {
    /// Everything the office may see.
    All,
    /// A participant's agenda.
    Participant(String),
    /// A venue's events.
    Venue(String),
    /// A forum's events.
    Forum(String),
    /// A summit and its sidelines.
    Programme(String),
}

/// The longest window an export may cover, in seconds (400 days).
pub const MAX_WINDOW_SECS: i64 = 400 * 86_400;

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

impl Scheduler {
    /// The calendar of `scope` over `window` (required unless the scope is a programme)
    /// through `who`'s eyes.
    pub fn export_calendar(
        &self,
        who: &Principal,
        scope: &Scope,
        window: Option<(i64, i64)>,
        include_cancelled: bool,
        utc_times: bool,
        name: &str,
    ) -> Result<Exported> {
        let opts = export::Options {
            uid_domain: self.settings().ics_uid_domain.clone(),
            utc_times,
            name: name.to_string(),
        };
        self.read(who, |view| {
            let events = select(view, scope, window, include_cancelled)?;
            Ok(Exported {
                ics: export::calendar(view.state(), &events, &opts),
                events: events.len(),
                revision: view.state().revision,
            })
        })
    }
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
fn select(
    view: View<'_>,
    scope: &Scope,
    window: Option<(i64, i64)>,
    include_cancelled: bool,
) -> Result<Vec<Arc<Event>>> {
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
