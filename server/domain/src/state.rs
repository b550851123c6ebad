//! The state: every record in memory, in maps by id and the events' and proposals'
//! indexes, as the domain's rules read it. Plain values and lookups; how a change is
//! written (`commit::Tx`) and under which lock (`scheduler`) are the layers above.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::calendar::WorkCalendar;
use crate::directory::{Country, Forum, Participant, Venue};
use crate::error::{Error, Result};
use crate::events::Str;
use crate::record::Meta;
use crate::subscription::CalendarFeed;

/// What the first attempt of an idempotent request produced (AIP-155), so a retry with the
/// same `request_id` from the same office returns it instead of applying twice. Request ids
/// are scoped by office: another office's id never answers for this one.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct RequestRecord {
    /// The client's request id.
    pub request_id: String,
    /// The RPC it was used with.
    pub method: String,
    /// The resource it created or changed.
    pub resource_id: String,
    /// An encoded snapshot of the result, where the current state would not do.
    pub snapshot: Vec<u8>,
    /// When (microseconds).
    pub time: i64,
}

/// A record kept in a map of the state by id. How it is stored and carried by the change
/// feed is the store's business (`commit::Stored`).
pub trait Resource: Clone + Send + Sync + 'static {
    /// Human name of the kind: "venue".
    const KIND: &'static str;
    /// The id.
    fn id(&self) -> &str;
    /// Version and timestamps.
    fn meta(&self) -> &Meta;
    /// The map in the state that holds this kind.
    fn map(state: &State) -> &Directory<Self>;
    /// The same, mutable.
    fn map_mut(state: &mut State) -> &mut Directory<Self>;
}

/// Which map of the state holds each record kind, and its id.
macro_rules! resource {
    ($t:ident, $map:ident, $id:ident) => {
        impl Resource for $t {
            const KIND: &'static str = $t::KIND;
            fn id(&self) -> &str {
                &self.$id
            }
            fn meta(&self) -> &Meta {
                &self.meta
            }
            fn map(state: &State) -> &Directory<Self> {
                &state.$map
            }
            fn map_mut(state: &mut State) -> &mut Directory<Self> {
                &mut state.$map
            }
        }
    };
}

resource!(Country, countries, code);
resource!(Participant, participants, id);
resource!(Venue, venues, id);
resource!(Forum, forums, id);
resource!(WorkCalendar, work_calendars, country_code);
resource!(CalendarFeed, calendar_feeds, id);

/// One kind of directory record by id: hashed for lookups, ordered for listings.
///
/// Every conflict check and booking looks up each of its participants and the venues of
/// its neighbouring events. In a B-tree of `String` keys each of those lookups compared
/// some 18 keys, each behind its own pointer (~840 instructions and ~16 cache misses per
/// participant at 1,000 participants); a hash lookup reads one or two cache lines. Ids
/// are [`Str`]s, inline up to 24 bytes, so the ordered set of ids usually costs no
/// allocation per record.
#[derive(Debug)]
pub struct Directory<R> {
    by_id: hashbrown::HashMap<Str, R>,
    order: std::collections::BTreeSet<Str>,
}

impl<R> Default for Directory<R> {
    fn default() -> Directory<R> {
        Directory {
            by_id: hashbrown::HashMap::new(),
            order: std::collections::BTreeSet::new(),
        }
    }
}

impl<R> Directory<R> {
    /// The record `id`.
    pub fn get(&self, id: &str) -> Option<&R> {
        self.by_id.get(id)
    }

    /// Whether `id` exists.
    pub fn contains_key(&self, id: &str) -> bool {
        self.by_id.contains_key(id)
    }

    /// Stores or replaces a record.
    pub fn insert(&mut self, id: Str, record: R) {
        if self.by_id.insert(id.clone(), record).is_none() {
            self.order.insert(id);
        }
    }

    /// Removes a record, if present.
    pub fn remove(&mut self, id: &str) {
        if self.by_id.remove(id).is_some() {
            self.order.remove(id);
        }
    }

    /// Every record, in id order.
    pub fn values(&self) -> impl Iterator<Item = &R> {
        self.order
            .iter()
            .filter_map(|id| self.by_id.get(id.as_str()))
    }

    /// Records in id order, their ids within `ids` (as [`crate::validate::PageRequest::rest`]
    /// gives them).
    pub fn range<'a>(
        &'a self,
        ids: (std::ops::Bound<&str>, std::ops::Bound<&str>),
    ) -> impl Iterator<Item = (&'a Str, &'a R)> {
        self.order
            .range::<str, _>(ids)
            .filter_map(|id| self.by_id.get(id.as_str()).map(|r| (id, r)))
    }
}

/// Everything the scheduler knows, in memory.
#[derive(Debug, Default)]
pub struct State {
    /// Countries by code.
    pub countries: Directory<Country>,
    /// Participants by id.
    pub participants: Directory<Participant>,
    /// Venues by id.
    pub venues: Directory<Venue>,
    /// Forums by id.
    pub forums: Directory<Forum>,
    /// Stored working calendars by country code.
    pub work_calendars: Directory<WorkCalendar>,
    /// iCalendar subscription feeds by id.
    pub calendar_feeds: Directory<CalendarFeed>,
    /// Events and their indexes.
    pub events: crate::events::EventStore,
    /// Proposals and their indexes.
    pub proposals: crate::proposals::ProposalStore,
    /// Idempotency records by [`request_key`] (office and request id): what the first
    /// attempt returned.
    pub requests: BTreeMap<String, RequestRecord>,
    /// The revision of the last committed write (the last audit record's sequence).
    pub revision: u64,
    id_counter: u64,
}

/// The key of an idempotency record: the office that sent it, then its id, so two offices
/// choosing the same id never meet.
pub fn request_key(office: &str, request_id: &str) -> String {
    format!("{office}\0{request_id}")
}

impl State {
    /// The events and proposals that refer to a directory resource.
    pub fn referrers(&self, kind: &str, id: &str) -> crate::directory::Referrers {
        crate::directory::Referrers {
            events: self.events.referrers(kind, id),
            proposals: self.proposals.referrers(kind, id),
        }
    }
}

impl State {
    /// Looks up a resource by id; NOT_FOUND names `field`.
    pub fn get<R: Resource>(&self, id: &str, field: &str) -> Result<&R> {
        self.get_at(id, || field.to_string())
    }

    /// [`State::get`] for a field whose name is built (`event.participant_ids[3]`): only
    /// a miss builds it, so hot paths do not format a name per element.
    pub fn get_at<R: Resource>(&self, id: &str, field: impl FnOnce() -> String) -> Result<&R> {
        R::map(self)
            .get(id)
            .ok_or_else(|| Error::not_found(R::KIND, id, field()))
    }

    /// The id a new resource gets: the client's choice (validated, unique) or a fresh one.
    pub fn new_id<R: Resource>(
        &mut self,
        field: &str,
        requested: &str,
        now: i64,
    ) -> Result<String> {
        if !requested.is_empty() {
            let id = crate::validate::id(field, requested)?;
            if R::map(self).contains_key(id.as_str()) {
                return Err(Error::AlreadyExists { kind: R::KIND, id });
            }
            return Ok(id);
        }
        Ok(self.fresh_id(R::KIND, now, |s, id| R::map(s).contains_key(id)))
    }

    /// A fresh opaque id with a short kind prefix, e.g. "event-19a3f0c2d4e5-1".
    pub fn fresh_id(
        &mut self,
        kind: &str,
        now: i64,
        taken: impl Fn(&State, &str) -> bool,
    ) -> String {
        loop {
            self.id_counter += 1;
            let id = format!("{kind}-{now:x}-{:x}", self.id_counter);
            if !taken(self, &id) {
                return id;
            }
        }
    }
}
