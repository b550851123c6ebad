//! Durable storage: the only module that knows sled.
//!
//! The scheduler keeps its working state in memory and treats storage as an append of
//! atomic batches plus a full load at start-up. That is the whole [`Backend`] trait, narrow
//! enough that a PostgreSQL backend can sit behind it later.
//!
//! Layout: one sled tree, keys prefixed by record kind (`c/RU`, `p/putin`, `e/<id>`,
//! `h/<event>/<rev>`, ...). A single tree makes every batch atomic with
//! `Tree::apply_batch`, across record kinds, without sled's multi-tree transactions.
//! Values are a format version byte followed by postcard-encoded domain records (never proto
//! messages: the wire contract can evolve without a data migration).
//!
//! Durability: [`Store::sync`] returns once everything applied before it was called is
//! flushed to disk. Concurrent callers share flushes (group commit): one background task
//! flushes, and every caller that queued while a flush was running is covered by the next
//! one, so N concurrent writers cost about one fsync, not N.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::{mpsc, oneshot};

use crate::error::{Error, Result};

/// The format of stored values. Bump it when a record's shape changes and teach
/// [`decode`] to read the old one.
pub const FORMAT_VERSION: u8 = 1;

/// Key prefixes, one per record kind.
pub mod prefix {
    /// Countries by code.
    pub const COUNTRY: &[u8] = b"c/";
    /// Participants by id.
    pub const PARTICIPANT: &[u8] = b"p/";
    /// Venues by id.
    pub const VENUE: &[u8] = b"v/";
    /// Forums by id.
    pub const FORUM: &[u8] = b"f/";
    /// Events by id.
    pub const EVENT: &[u8] = b"e/";
    /// Event history: `h/<event id>\0<revision, 8 bytes big-endian>`.
    pub const EVENT_HISTORY: &[u8] = b"h/";
    /// Proposals by id.
    pub const PROPOSAL: &[u8] = b"x/";
    /// Proposal history: `y/<proposal id>\0<sequence, 8 bytes big-endian>`.
    pub const PROPOSAL_HISTORY: &[u8] = b"y/";
    /// Idempotency records: `q/<request id>`.
    pub const REQUEST: &[u8] = b"q/";
    /// Audit log: `a/<sequence, 8 bytes big-endian>`.
    pub const AUDIT: &[u8] = b"a/";
    /// Server metadata (`m/tzdb`, ...).
    pub const META: &[u8] = b"m/";
}

/// `prefix` + `id`.
pub fn key(prefix: &[u8], id: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(prefix.len() + id.len());
    k.extend_from_slice(prefix);
    k.extend_from_slice(id.as_bytes());
    k
}

/// `prefix` + `id` + NUL + `seq` (big-endian, so keys sort by sequence).
pub fn seq_key(prefix: &[u8], id: &str, seq: u64) -> Vec<u8> {
    let mut k = key(prefix, id);
    k.push(0);
    k.extend_from_slice(&seq.to_be_bytes());
    k
}

/// Encodes a record with its format version.
pub fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut out = vec![FORMAT_VERSION];
    // postcard only fails on writer errors, and a Vec writer cannot fail.
    out.extend(postcard::to_stdvec(value).unwrap_or_default());
    out
}

/// Decodes a record, naming the key when it cannot.
pub fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| Error::Corrupt {
        key: String::from_utf8_lossy(key).escape_debug().to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((&FORMAT_VERSION, body)) => {
            postcard::from_bytes(body).map_err(|e| corrupt(e.to_string()))
        }
        Some((v, _)) => Err(corrupt(format!("unknown format version {v}"))),
        None => Err(corrupt("empty value".into())),
    }
}

/// One atomic write: puts and deletes applied all together or not at all.
#[derive(Debug, Default)]
pub struct Batch {
    ops: Vec<(Vec<u8>, Option<Vec<u8>>)>,
}

impl Batch {
    /// Stores `value` under `key`.
    pub fn put<T: Serialize>(&mut self, key: Vec<u8>, value: &T) {
        self.ops.push((key, Some(encode(value))));
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }
}

/// What the scheduler needs from a storage engine.
pub trait Backend: Send + Sync + 'static {
    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// Applies a batch atomically (not yet durable).
    fn apply(&self, batch: Batch) -> Result<()>;
    /// Makes everything applied so far durable. Blocking.
    fn flush(&self) -> Result<()>;
}

/// The embedded default: sled.
#[derive(Debug, Clone)]
pub struct SledBackend {
    db: sled::Db,
}

impl SledBackend {
    /// Opens (or creates) a store in `dir`.
    ///
    /// sled releases its lock on the folder a moment after the last handle is dropped (its
    /// I/O threads hold the file briefly), so a store reopened in the same process, as tests
    /// and embedders do, may find it still locked. That one error is retried for up to two
    /// seconds; a folder held by another live process still fails.
    pub fn open(dir: &Path) -> Result<SledBackend> {
        let config = sled::Config::new()
            .path(dir)
            // The scheduler flushes explicitly; sled's timer flush would only add I/O.
            .flush_every_ms(None);
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
        loop {
            match config.open() {
                Ok(db) => return Ok(SledBackend { db }),
                Err(sled::Error::Io(e))
                    if e.to_string().contains("could not acquire lock")
                        && std::time::Instant::now() < deadline =>
                {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
                Err(e) => return Err(e.into()),
            }
        }
    }

    /// A store that lives in a temporary folder and disappears when dropped.
    pub fn temporary() -> Result<SledBackend> {
        let db = sled::Config::new()
            .temporary(true)
            .flush_every_ms(None)
            .open()?;
        Ok(SledBackend { db })
    }
}

impl Backend for SledBackend {
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.db
            .scan_prefix(prefix)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(Error::from)
            })
            .collect()
    }

    fn apply(&self, batch: Batch) -> Result<()> {
        let mut b = sled::Batch::default();
        for (k, v) in batch.ops {
            match v {
                Some(v) => b.insert(k, v),
                None => b.remove(k),
            }
        }
        self.db.apply_batch(b)?;
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        self.db.flush()?;
        Ok(())
    }
}

type Waiter = oneshot::Sender<Result<(), String>>;

/// A storage backend plus the group-commit flusher.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    flushes: mpsc::UnboundedSender<Waiter>,
    poisoned: Arc<AtomicBool>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("poisoned", &self.poisoned.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Wraps a backend and starts its flusher task on the current tokio runtime.
    pub fn new(backend: Arc<dyn Backend>) -> Store {
        let (tx, rx) = mpsc::unbounded_channel();
        // The flusher holds the backend weakly: when the last Store is dropped the engine
        // closes at once (releasing sled's lock on its folder), not whenever the task ends.
        tokio::spawn(flusher(Arc::downgrade(&backend), rx));
        Store {
            backend,
            flushes: tx,
            poisoned: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Every record under `prefix`, decoded.
    pub fn load<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>> {
        self.backend
            .scan(prefix)?
            .iter()
            .map(|(k, v)| decode(k, v))
            .collect()
    }

    /// Raw records under `prefix`.
    pub fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.backend.scan(prefix)
    }

    /// Applies a batch atomically. A failure poisons the store: memory already holds the
    /// change, so no later write may pretend the two agree.
    pub fn apply(&self, batch: Batch) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        if batch.is_empty() {
            return Ok(());
        }
        self.backend.apply(batch).inspect_err(|e| {
            tracing::error!(error = %e, "write failed; refusing further writes");
            self.poisoned.store(true, Ordering::Release);
        })
    }

    /// Whether an earlier write failed.
    pub fn check_healthy(&self) -> Result<()> {
        if self.poisoned.load(Ordering::Acquire) {
            Err(Error::Poisoned)
        } else {
            Ok(())
        }
    }

    /// Waits until everything applied before this call is on disk.
    pub async fn sync(&self) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.flushes.send(tx).map_err(|_| Error::Poisoned)?;
        match rx.await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(reason)) => {
                self.poisoned.store(true, Ordering::Release);
                Err(Error::Corrupt {
                    key: "(flush)".into(),
                    reason,
                })
            }
            Err(_) => Err(Error::Poisoned),
        }
    }

    /// Flushes now, blocking (used at shutdown).
    pub fn flush_blocking(&self) -> Result<()> {
        self.backend.flush()
    }
}

/// The group-commit loop: take every waiter queued so far, flush once, answer them all.
async fn flusher(backend: Weak<dyn Backend>, mut rx: mpsc::UnboundedReceiver<Waiter>) {
    while let Some(first) = rx.recv().await {
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let Some(b) = backend.upgrade() else {
            return;
        };
        let result = match tokio::task::spawn_blocking(move || b.flush()).await {
            Ok(r) => r.map_err(|e| e.to_string()),
            Err(e) => Err(format!("flush task failed: {e}")),
        };
        for w in waiters {
            // A caller that gave up waiting is fine: its write is flushed all the same.
            let _ = w.send(result.clone());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_records_name_their_key() {
        let err = decode::<String>(b"e/kazan", &[9, 1, 2]).expect_err("bad version");
        assert!(err.to_string().contains("e/kazan"), "{err}");
        assert!(err.to_string().contains("format version 9"), "{err}");
        let err = decode::<String>(b"e/kazan", &[FORMAT_VERSION, 200]).expect_err("truncated");
        assert!(err.to_string().contains("e/kazan"), "{err}");
        let err = decode::<String>(b"e/x", &[]).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
        let ok: String = decode(b"k", &encode(&"Kazan".to_string())).expect("round trip");
        assert_eq!(ok, "Kazan");
    }

    #[test]
    fn sequence_keys_sort_by_sequence() {
        let a = seq_key(prefix::EVENT_HISTORY, "e1", 9);
        let b = seq_key(prefix::EVENT_HISTORY, "e1", 10);
        assert!(a < b);
        // A longer id sharing a prefix never interleaves with e1's history.
        let c = seq_key(prefix::EVENT_HISTORY, "e10", 1);
        assert!(b < c);
    }
}
