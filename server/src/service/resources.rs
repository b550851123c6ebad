//! Each stored record kind as the state and the store know it ([`Resource`]): its name,
//! its key prefix, its kind in the change feed, and the map of the state that holds it.
//! One list, so that adding a kind is one line here.

use crate::calendar::WorkCalendar;
use crate::commit::Stored;
use crate::directory::{Country, Forum, Participant, Venue};
use crate::record::Meta;
use crate::state::{Resource, State};
use crate::storage::prefix;
use crate::subscription::CalendarFeed;

macro_rules! resource {
    ($t:ident, $prefix:expr, $map:ident, $id:ident) => {
        impl Stored for $t {
            const FEED_KIND: crate::commit::Kind = crate::commit::Kind::$t;
            fn record(self) -> crate::commit::Record {
                crate::commit::Record::$t(std::sync::Arc::new(self))
            }
            const PREFIX: &'static [u8] = $prefix;
        }

        impl Resource for $t {
            const KIND: &'static str = $t::KIND;
            fn id(&self) -> &str {
                &self.$id
            }
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn map(state: &State) -> &crate::state::Directory<Self> {
                &state.$map
            }
            fn map_mut(state: &mut State) -> &mut crate::state::Directory<Self> {
                &mut state.$map
            }
        }
    };
}

resource!(Country, prefix::COUNTRY, countries, code);
resource!(Participant, prefix::PARTICIPANT, participants, id);
resource!(Venue, prefix::VENUE, venues, id);
resource!(Forum, prefix::FORUM, forums, id);
resource!(
    WorkCalendar,
    prefix::WORK_CALENDAR,
    work_calendars,
    country_code
);
resource!(CalendarFeed, prefix::CALENDAR_FEED, calendar_feeds, id);
