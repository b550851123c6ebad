//! Each stored record kind as the state and the store know it ([`Resource`]): its name,
//! its key prefix, its kind in the change feed, and the map of the state that holds it.
//! One list, so that adding a kind is one line here.

use crate::calendar::WorkCalendar;
use crate::directory::{Country, Forum, Participant, Venue};
use crate::ics::feeds::CalendarFeed;
use crate::scheduler::{Meta, Resource, State};
use crate::storage::prefix;

macro_rules! resource {
    ($t:ident, $kind:literal, $prefix:expr, $map:ident, $id:ident) => {
        impl Resource for $t {
            const KIND: &'static str = $kind;
            const FEED_KIND: crate::commit::Kind = crate::commit::Kind::$t;
            fn record(self) -> crate::commit::Record {
                crate::commit::Record::$t(std::sync::Arc::new(self))
            }
            const PREFIX: &'static [u8] = $prefix;
            fn id(&self) -> &str {
                &self.$id
            }
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn map(state: &State) -> &crate::scheduler::Directory<Self> {
                &state.$map
            }
            fn map_mut(state: &mut State) -> &mut crate::scheduler::Directory<Self> {
                &mut state.$map
            }
        }
    };
}

resource!(Country, "country", prefix::COUNTRY, countries, code);
resource!(
    Participant,
    "participant",
    prefix::PARTICIPANT,
    participants,
    id
);
resource!(Venue, "venue", prefix::VENUE, venues, id);
resource!(Forum, "forum", prefix::FORUM, forums, id);
resource!(
    WorkCalendar,
    "work calendar",
    prefix::WORK_CALENDAR,
    work_calendars,
    country_code
);
resource!(
    CalendarFeed,
    "calendar feed",
    prefix::CALENDAR_FEED,
    calendar_feeds,
    id
);
