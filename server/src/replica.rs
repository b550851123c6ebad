//! Batches another server committed, applied to this server's memory.
//!
//! Over PostgreSQL each server keeps the whole state in memory, as over sled, and learns of
//! other servers' writes as the batches they committed (`storage::postgres`). A batch is
//! the same storage operations this server would have written itself, so applying one
//! means decoding each key's record with the one codec and filing it where [`State::load`]
//! would have: directory maps, the event indexes, proposals, idempotency records. The
//! histories, the audit log and the change log are not held in memory; the caller mirrors
//! the batch into the local store, where the read paths find them.
//!
//! [`State::load`]: crate::state::State

use std::sync::Arc;

use crate::commit::{Commit, StoredCommit};
use crate::error::Result;
use crate::state::State;
use crate::storage::{self, prefix, wal::Ops};

/// What a batch told besides the records it filed.
#[derive(Debug, Default)]
pub(crate) struct Applied {
    /// The commit it records when it is a new revision (a batch of upkeep, or one
    /// rewriting old change log entries, records none).
    pub commit: Option<Commit>,
    /// The change log's new oldest revision, when the batch compacted it.
    pub oldest: Option<u64>,
}

/// Applies one batch to `state`.
pub(crate) fn apply(state: &mut State, ops: &Ops) -> Result<Applied> {
    let mut applied = Applied::default();
    let changes_since = storage::key(prefix::META, storage::CHANGES_SINCE);
    for (key, value) in ops {
        let value = value.as_deref();
        let p = |pre: &[u8]| key.starts_with(pre);
        if p(prefix::COUNTRY) {
            record::<crate::directory::Country>(state, key, value)?;
        } else if p(prefix::PARTICIPANT) {
            record::<crate::directory::Participant>(state, key, value)?;
        } else if p(prefix::VENUE) {
            record::<crate::directory::Venue>(state, key, value)?;
        } else if p(prefix::FORUM) {
            record::<crate::directory::Forum>(state, key, value)?;
        } else if p(prefix::WORK_CALENDAR) {
            record::<crate::calendar::WorkCalendar>(state, key, value)?;
        } else if p(prefix::CALENDAR_FEED) {
            record::<crate::subscription::CalendarFeed>(state, key, value)?;
        } else if p(prefix::EVENT) {
            // Events are never deleted (a cancelled one stays).
            if let Some(v) = value {
                state.events.insert(crate::storage::events::decode(key, v)?);
            }
        } else if p(prefix::PROPOSAL) {
            if let Some(v) = value {
                let proposal: crate::proposals::Proposal = storage::decode(key, v)?;
                state.proposals.file(Arc::new(proposal));
            }
        } else if p(prefix::REQUEST) {
            let id = storage::stored_request_key(key);
            match value {
                Some(v) => {
                    state.requests.insert(id, storage::decode(key, v)?);
                }
                None => {
                    state.requests.remove(&id);
                }
            }
        } else if p(prefix::AUDIT)
            && let Some(v) = value
        {
            let stored = StoredCommit::decode(key, v)?;
            // Rewrites of old entries (the change log's compaction) are not revisions.
            if stored.audit.sequence > state.revision {
                state.revision = stored.audit.sequence;
                applied.commit = stored.into_commit(key)?;
            }
        } else if *key == changes_since
            && let Some(v) = value
        {
            applied.oldest = Some(storage::decode(key, v)?);
        }
    }
    Ok(applied)
}

/// Files or removes one directory record.
fn record<R: crate::commit::Stored>(
    state: &mut State,
    key: &[u8],
    value: Option<&[u8]>,
) -> Result<()> {
    let id = String::from_utf8_lossy(&key[R::PREFIX.len()..]).into_owned();
    match value {
        Some(v) => {
            let r: R = storage::decode(key, v)?;
            R::map_mut(state).insert(id.as_str().into(), r);
        }
        None => R::map_mut(state).remove(&id),
    }
    Ok(())
}
