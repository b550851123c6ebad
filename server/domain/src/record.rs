//! What every stored record carries besides its own fields: [`Meta`], its revision (the
//! etag clients see and send back) and timestamps. A domain type: the record modules
//! (events, directory, proposals) use it, and it knows nothing of the state or the store.

use serde::Serialize;

use crate::error::{Error, Result, shown};

/// Version and timestamps every stored resource carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, serde::Deserialize)]
pub struct Meta {
    /// 1 on create, +1 per write.
    pub revision: u64,
    /// Microseconds since the Unix epoch.
    pub create_time: i64,
    /// Microseconds since the Unix epoch.
    pub update_time: i64,
}

impl Meta {
    /// Metadata of a resource created at `now`.
    pub fn new(now: i64) -> Meta {
        Meta {
            revision: 1,
            create_time: now,
            update_time: now,
        }
    }

    /// The opaque etag clients see.
    pub fn etag(&self) -> String {
        format!("r{}", self.revision)
    }

    /// ABORTED when `given` is set and is not the current etag.
    pub fn check_etag(&self, given: &str, kind: &str, id: &str) -> Result<()> {
        if given.is_empty() || given == self.etag() {
            Ok(())
        } else {
            Err(Error::Aborted(format!(
                "{kind} {id:?} has changed since you read it (your etag {}, current {:?}); \
                 read it again and retry",
                shown(given),
                self.etag()
            )))
        }
    }

    /// The metadata after one more write at `now`.
    pub fn bumped(&self, now: i64) -> Meta {
        Meta {
            revision: self.revision + 1,
            create_time: self.create_time,
            update_time: now,
        }
    }
}
