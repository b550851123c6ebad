//! The slot finder's use case: the search runs on a copy of what it reads
//! ([`crate::slots::reads`]), taken under the state's read lock, so a long search never
//! holds up a writer.

use crate::auth::Principal;
use crate::conflicts::TravelSettings;
use crate::error::Result;
use crate::redact::View;
use crate::scheduler::Scheduler;
use crate::slots::{Found, Query, check_query, find, reads};
use crate::state::State;
use crate::stop::Stop;

impl Scheduler {
    /// The slots for `q`, through `who`'s eyes: every event blocks, but only those `who`
    /// may see are described.
    pub fn find_slots(&self, who: &Principal, q: &Query) -> Result<Found> {
        self.find_slots_until(who, q, &Stop::never())
    }

    /// [`Scheduler::find_slots`], giving up with DEADLINE_EXCEEDED once `stop` is set.
    ///
    /// The state lock is held only to copy what the search reads ([`reads`]); the search
    /// itself runs on that copy, so a long search never holds up a writer, nor (with the
    /// lock's writer preference) every reader queued behind that writer.
    pub fn find_slots_until(&self, who: &Principal, q: &Query, stop: &Stop) -> Result<Found> {
        check_query(q)?;
        let travel = self.settings().travel;
        let copy = self.read(who, |view| reads(view.state(), q, &travel));
        stop.check()?;
        find(View::new(&copy, who), q, travel, stop)
    }
}

/// The slots for `q` in `st`, through `who`'s eyes: the pure search behind
/// [`Scheduler::find_slots`] (benchmarks call it on a state they build).
pub fn search(st: &State, who: &Principal, q: &Query, travel: &TravelSettings) -> Result<Found> {
    check_query(q)?;
    find(View::new(st, who), q, *travel, &Stop::never())
}
