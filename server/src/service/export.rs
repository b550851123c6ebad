//! Exporting a calendar: the events of a scope over a window, as the caller may see them,
//! as one iCalendar file.

use crate::auth::Principal;
use crate::error::Result;
use crate::ics::*;
use crate::scheduler::Scheduler;
pub use crate::subscription::Scope;

impl Scheduler {
    /// The calendar of `scope` over `window` (required unless the scope is a programme)
    /// through `who`'s eyes.
    pub fn export_calendar(
        &self,
        who: &Principal,
        scope: &Scope,
        window: Option<(i64, i64)>,
        how: &ExportOptions,
    ) -> Result<Exported> {
        let opts = export::Options {
            uid_domain: self.settings().ics_uid_domain.clone(),
            utc_times: how.utc_times,
            name: how.name.clone(),
        };
        // Under the read lock only the choice of events and a copy of the names they
        // mention (their venues and participants); the rendering, which for thousands of
        // events takes far longer, runs on the copy, without holding up writers.
        let (events, names) = self.read(who, |view| {
            let events = select(view, scope, window, how)?;
            let st = view.state();
            let mut names = crate::state::State::default();
            names.revision = st.revision;
            for e in &events {
                if let Some(v) = st.venues.get(&e.venue_id) {
                    names.venues.insert(v.id.as_str().into(), v.clone());
                }
                for p in &e.participants {
                    if let Some(p) = st.participants.get(p) {
                        names.participants.insert(p.id.as_str().into(), p.clone());
                    }
                }
            }
            Ok::<_, crate::error::Error>((events, names))
        })?;
        Ok(Exported {
            ics: export::calendar(&names, &events, &opts),
            events: events.len(),
            revision: names.revision,
        })
    }
}
