//! Each record kind as the store knows it ([`Stored`]): its key prefix and its kind in the
//! change feed. One list, so that adding a kind is one line here (and one in the domain's
//! `state`, which says which map of the state holds it).

use crate::calendar::WorkCalendar;
use crate::commit::Stored;
use crate::directory::{Country, Forum, Participant, Venue};
use crate::storage::prefix;
use crate::subscription::CalendarFeed;

macro_rules! resource {
    ($t:ident, $prefix:expr) => {
        impl Stored for $t {
            const FEED_KIND: crate::commit::Kind = crate::commit::Kind::$t;
            fn record(self) -> crate::commit::Record {
                crate::commit::Record::$t(std::sync::Arc::new(self))
            }
            const PREFIX: &'static [u8] = $prefix;
        }
    };
}

resource!(Country, prefix::COUNTRY);
resource!(Participant, prefix::PARTICIPANT);
resource!(Venue, prefix::VENUE);
resource!(Forum, prefix::FORUM);
resource!(WorkCalendar, prefix::WORK_CALENDAR);
resource!(CalendarFeed, prefix::CALENDAR_FEED);
