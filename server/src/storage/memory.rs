//! A [`Backend`] held in memory: the local copy a server keeps of a shared (PostgreSQL)
//! store.
//!
//! With PostgreSQL the database is where a write becomes durable (see [`super::postgres`]);
//! each server still answers reads from memory, and the histories, audit log and change log
//! that the read paths scan are mirrored here, batch by batch, in the order the database
//! committed them. "Durable" for this backend therefore means "applied": the database
//! already holds every batch applied here.

use std::collections::BTreeMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{Backend, Batch, Visitor};
use crate::error::Result;

/// Records in a sorted map.
#[derive(Debug, Default)]
pub struct MemoryBackend {
    map: RwLock<BTreeMap<Vec<u8>, Vec<u8>>>,
    applied: AtomicU64,
}

impl MemoryBackend {
    /// A backend holding `records`.
    pub fn with(records: impl IntoIterator<Item = (Vec<u8>, Vec<u8>)>) -> MemoryBackend {
        MemoryBackend {
            map: RwLock::new(records.into_iter().collect()),
            applied: AtomicU64::new(0),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, BTreeMap<Vec<u8>, Vec<u8>>> {
        // Nothing panics while holding it; a poisoned map is still consistent.
        self.map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl Backend for MemoryBackend {
    fn visit(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        let map = self.read();
        for (k, v) in map.range(prefix.to_vec()..) {
            if !k.starts_with(prefix) {
                break;
            }
            f(k, v)?;
        }
        Ok(())
    }

    fn scan_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut start = prefix.to_vec();
        start.extend_from_slice(from);
        Ok(self
            .read()
            .range(start..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .take(limit)
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect())
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        Ok(self
            .read()
            .range(prefix.to_vec()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .last()
            .map(|(k, v)| (k.clone(), v.clone())))
    }

    fn apply(&self, batch: Batch) -> Result<u64> {
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for (k, v) in batch.ops {
            match v {
                Some(v) => map.insert(k, v),
                None => map.remove(&k),
            };
        }
        Ok(self.applied.fetch_add(1, Ordering::SeqCst) + 1)
    }

    fn flush_then(&self, durable: &mut dyn FnMut(u64)) -> Result<()> {
        durable(self.applied.load(Ordering::SeqCst));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scans_stay_within_their_prefix_and_order() {
        let b = MemoryBackend::default();
        let mut batch = Batch::default();
        for k in ["e/b", "e/a", "f/a", "d/z"] {
            batch.put_bytes(k.as_bytes().to_vec(), k.as_bytes().to_vec());
        }
        b.apply(batch).expect("apply");
        let keys = |rows: Vec<(Vec<u8>, Vec<u8>)>| -> Vec<String> {
            rows.into_iter()
                .map(|(k, _)| String::from_utf8(k).expect("utf8"))
                .collect()
        };
        assert_eq!(keys(b.scan(b"e/").expect("scan")), ["e/a", "e/b"]);
        assert_eq!(keys(b.scan_from(b"e/", b"b", 5).expect("from")), ["e/b"]);
        assert_eq!(
            b.last(b"e/").expect("last").map(|(k, _)| k),
            Some(b"e/b".to_vec())
        );
        assert_eq!(b.last(b"x/").expect("last"), None);
        let mut batch = Batch::default();
        batch.delete(b"e/a".to_vec());
        b.apply(batch).expect("apply");
        assert_eq!(keys(b.scan(b"e/").expect("scan")), ["e/b"]);
    }
}
