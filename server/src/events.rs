//! Events: the stored record, its time-aware validation, and the indexes that serve window
//! queries and conflict checks.

use crate::error::Result;
use crate::storage::Store;

/// All events and their indexes.
#[derive(Debug, Default)]
pub struct EventStore {}

impl EventStore {
    /// Rebuilds everything from the stored events.
    pub fn load(_store: &Store) -> Result<EventStore> {
        Ok(EventStore::default())
    }

    /// Ids of events that refer to a participant, venue or forum.
    pub fn referrers(&self, _kind: &str, _id: &str) -> Vec<String> {
        Vec::new()
    }
}
