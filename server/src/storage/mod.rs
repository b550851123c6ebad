//! Durable storage: the codec, the key schema, and the stores (sled, memory, PostgreSQL).
//!
//! The scheduler keeps its working state in memory and treats storage as an append of
//! atomic batches plus a full load at start-up. That is the whole [`Backend`] trait.
//!
//! Over PostgreSQL ([`postgres`]) the database is where a batch commits, under a commit
//! lock shared by every server, and each server keeps a [`memory`] backend as its local
//! mirror for the read paths (histories, the audit log, the change log); the keys and
//! encodings are these same ones. (A deviation from ARCHITECTURE.md's "one store
//! abstraction" worth stating: the domain still talks to one `Backend` for what it reads,
//! and the commit point in `cluster` decides where a batch commits. A trait over both
//! commit paths would have had to be async for one and blocking for the other.)
//!
//! Layout: one sled tree, keys prefixed by record kind (`c/RU`, `p/putin`, `e/<id>`,
//! `h/<event>/<rev>`, ...). A batch is atomic across record kinds through the write-ahead
//! log (see [`wal`]), or through `Tree::apply_batch` for a temporary store.
//! Values are a format version byte followed by postcard-encoded domain records (never proto
//! messages: the wire contract can evolve without a data migration).
//!
//! Durability: [`Store::sync`] returns once everything applied before it was called is
//! durable (in the write-ahead log for a sled folder, in sled itself for a temporary store)
//! and readable from sled. In a folder, sled receives a batch only after the log holds it
//! (write-behind), on every path (group commit, rotation, checkpoint): until then the batch
//! lives in the scheduler's memory and the log's pending buffer, so the writer's lock
//! covers no sled work at all. Writers are answered as soon as the log is synced, before
//! sled receives their batches; a read of sled waits for that hand-off (and only for it:
//! never for an fsync or for sled's own flush), so it still sees every acknowledged write.
//! Concurrent callers share flushes (group commit): one background thread flushes, and
//! every caller that queued while a flush was running is covered by the next one, so N
//! concurrent writers cost about one fsync, not N.
//!
//! # Why one file of ~960 lines
//! About 170 of them are tests. The rest is one unit whose invariants read best together:
//! the `Store`, the sled backend with its write-ahead-log recovery and group commit, and
//! the order in which a batch reaches the log, then sled (see "Durability" in the README).

pub mod events;
pub mod feeds;
pub mod memory;
pub mod postgres;
pub mod wal;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};

use serde::Serialize;
use serde::de::DeserializeOwned;
use tokio::sync::oneshot;

use crate::error::{Error, Result};
use crate::lock;

/// The format of stored values. Bump it when a record's shape changes and teach
/// [`decode`] to read the old one.
pub const FORMAT_VERSION: u8 = 1;

/// Key prefixes, one per record kind.
/// The name, under [`prefix::META`], of the oldest revision whose changes the log holds.
pub const CHANGES_SINCE: &str = "changes-since";

/// The [`request_key`](crate::state::request_key) of an idempotency record stored under `key`: `q/<office>\0<id>`;
/// records written before ids were scoped by office are `q/<id>` and belong to the
/// office-less caller of a server without access control.
pub fn stored_request_key(key: &[u8]) -> String {
    let rest = String::from_utf8_lossy(&key[prefix::REQUEST.len()..]).into_owned();
    if rest.contains('\0') {
        rest
    } else {
        crate::state::request_key("", &rest)
    }
}

pub mod prefix {
    /// Countries by code.
    pub const COUNTRY: &[u8] = b"c/";
    /// Participants by id.
    pub const PARTICIPANT: &[u8] = b"p/";
    /// Venues by id.
    pub const VENUE: &[u8] = b"v/";
    /// Forums by id.
    pub const FORUM: &[u8] = b"f/";
    /// Working calendars by country code.
    pub const WORK_CALENDAR: &[u8] = b"w/";
    /// iCalendar subscription feeds by id.
    pub const CALENDAR_FEED: &[u8] = b"s/";
    /// Events by id.
    pub const EVENT: &[u8] = b"e/";
    /// Event history: `h/<event id>\0<revision, 8 bytes big-endian>`.
    pub const EVENT_HISTORY: &[u8] = b"h/";
    /// Proposals by id.
    pub const PROPOSAL: &[u8] = b"x/";
    /// Proposal history: `y/<proposal id>\0<sequence, 8 bytes big-endian>`.
    pub const PROPOSAL_HISTORY: &[u8] = b"y/";
    /// Idempotency records: `q/<office>\0<method>\0<request id>` (before issue 17:
    /// `q/<request id>`).
    pub const REQUEST: &[u8] = b"q/";
    /// Audit log and change log: `a/` + revision as 8 bytes big-endian
    /// (`commit::StoredCommit`: the audit record, and the changes while retained).
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
    encode_version(FORMAT_VERSION, value)
}

/// Encodes a record behind a format version of its kind's own (see `storage::events`).
pub fn encode_version<T: Serialize>(version: u8, value: &T) -> Vec<u8> {
    let mut out = vec![version];
    // postcard only fails on writer errors, and a Vec writer cannot fail.
    out.extend(postcard::to_stdvec(value).unwrap_or_default());
    out
}

/// Decodes a record, naming the key when it cannot.
pub fn decode<T: DeserializeOwned>(key: &[u8], bytes: &[u8]) -> Result<T> {
    decode_version(FORMAT_VERSION, key, bytes)
}

/// Decodes a record written in format `version`, naming the key when it cannot.
pub fn decode_version<T: DeserializeOwned>(version: u8, key: &[u8], bytes: &[u8]) -> Result<T> {
    let corrupt = |reason: String| Error::Corrupt {
        key: String::from_utf8_lossy(key).escape_debug().to_string(),
        reason,
    };
    match bytes.split_first() {
        Some((v, body)) if *v == version => {
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

    /// Stores already-encoded bytes under `key`.
    pub fn put_bytes(&mut self, key: Vec<u8>, bytes: Vec<u8>) {
        self.ops.push((key, Some(bytes)));
    }

    /// Removes `key`.
    pub fn delete(&mut self, key: Vec<u8>) {
        self.ops.push((key, None));
    }

    /// Its operations, in order: a key and its new value, or `None` for a delete.
    pub fn ops(&self) -> &wal::Ops {
        &self.ops
    }

    /// A batch of these operations.
    pub fn from_ops(ops: wal::Ops) -> Batch {
        Batch { ops }
    }

    /// Whether nothing was recorded.
    pub fn is_empty(&self) -> bool {
        self.ops.is_empty()
    }

    /// The first key written, if any.
    pub fn first_key(&self) -> Option<&[u8]> {
        self.ops.first().map(|(k, _)| k.as_slice())
    }

    /// The first key of a record a client can name: not an idempotency record nor server
    /// metadata (which a write may store before the record it changes).
    pub fn first_record_key(&self) -> Option<&[u8]> {
        self.ops
            .iter()
            .map(|(k, _)| k.as_slice())
            .find(|k| !k.starts_with(prefix::REQUEST) && !k.starts_with(prefix::META))
    }
}

/// A callback over `(key, value)` pairs.
pub type Visitor<'a> = dyn FnMut(&[u8], &[u8]) -> Result<()> + 'a;

/// What the scheduler needs from a storage engine.
pub trait Backend: Send + Sync + 'static {
    /// Calls `f` with every `(key, value)` whose key starts with `prefix`, in key order,
    /// without copying them all first (a start-up load reads millions).
    fn visit(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()>;
    /// Every `(key, value)` whose key starts with `prefix`, in key order.
    fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let mut out = Vec::new();
        self.visit(prefix, &mut |k, v| {
            out.push((k.to_vec(), v.to_vec()));
            Ok(())
        })?;
        Ok(out)
    }
    /// Up to `limit` entries under `prefix` from `prefix + from` on, in key order.
    fn scan_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>>;
    /// The last entry under `prefix`, if any.
    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>>;
    /// Applies a batch atomically (not yet durable); returns its sequence number, which
    /// increases with every batch applied.
    fn apply(&self, batch: Batch) -> Result<u64>;
    /// Makes everything applied so far durable. Blocking.
    fn flush(&self) -> Result<()> {
        self.flush_then(&mut |_| {})
    }
    /// [`Backend::flush`], calling `durable(n)` as soon as every batch up to sequence `n`
    /// (everything applied so far) is durable, before the write-behind work the flush also
    /// does. Reads that could see that work wait for it, so a caller told at `durable`
    /// still reads its own write.
    fn flush_then(&self, durable: &mut dyn FnMut(u64)) -> Result<()>;
    /// Makes everything durable in its final place (used at shutdown).
    fn checkpoint(&self) -> Result<()> {
        self.flush()
    }
}

/// The write-ahead log of a sled folder and the records waiting for the next flush.
#[derive(Debug)]
struct Log {
    /// Held by the flusher across a flush: appends, fsyncs, rotations. Readers never
    /// take it.
    wal: Mutex<wal::Wal>,
    pending: Mutex<Pending>,
    lsn: AtomicU64,
    /// The last lsn appended to the log and synced.
    logged: AtomicU64,
    /// Held for writing while logged records are handed to sled, from before their writers
    /// are told they are durable until sled has them; readers take it for reading, so a
    /// read that starts after an acknowledgement sees the write, and waits for nothing
    /// else.
    handoff: std::sync::RwLock<()>,
}

/// Batches applied but not yet logged: their encoded log records, and their operations
/// for sled once the log holds them.
#[derive(Debug, Default)]
struct Pending {
    bytes: Vec<u8>,
    records: Vec<wal::Ops>,
    last_lsn: u64,
}

const LSN_KEY: &[u8] = b"m/lsn";

/// sled's page cache. The scheduler holds every live record in memory and reads sled only
/// at start-up and for histories and the audit log, so sled's default (1 GiB) would mostly
/// keep a second copy of the events: after opening a 1M-event store it held ~450 MiB.
const SLED_CACHE_BYTES: u64 = 64 << 20;

/// The embedded default: sled, behind a write-ahead log when it has a folder.
#[derive(Debug)]
pub struct SledBackend {
    db: sled::Db,
    log: Option<Log>,
    /// Batches applied to a store without a log (a temporary one).
    applied: AtomicU64,
}

impl SledBackend {
    /// Opens (or creates) a store in `dir`, its log rotated at the default size.
    pub fn open(dir: &Path) -> Result<SledBackend> {
        SledBackend::open_rotating_at(dir, wal::DEFAULT_ROTATE_BYTES)
    }

    /// Opens (or creates) a store in `dir` whose log is rotated (sled flushed, a new log
    /// file started) once it holds `rotate_bytes`. Small values make rotations frequent,
    /// which the crash tests use to kill the server during them.
    pub fn open_rotating_at(dir: &Path, rotate_bytes: u64) -> Result<SledBackend> {
        SledBackend::recover(open_sled(dir)?, &dir.join("wal"), rotate_bytes)
    }

    /// Opens and closes the closed store in `dir`, so that sled writes a fresh snapshot of
    /// its page table. sled writes one only while opening, by replaying its log from the
    /// previous snapshot on; without this, the first start after a long session replays
    /// that whole session (about 1.8 s of work after loading 1M events, against 0.5 s
    /// here). A graceful shutdown pays it instead of the next start.
    pub fn compact(dir: &Path) -> Result<()> {
        drop(open_sled(dir)?);
        Ok(())
    }

    /// A store that lives in a temporary folder and disappears when dropped.
    pub fn temporary() -> Result<SledBackend> {
        let db = sled::Config::new()
            .temporary(true)
            .flush_every_ms(None)
            .open()
            .map_err(sled_failed)?;
        Ok(SledBackend {
            db,
            log: None,
            applied: AtomicU64::new(0),
        })
    }

    /// Replays the log records sled has not stored yet, makes them durable in sled, and
    /// starts a fresh log.
    fn recover(db: sled::Db, wal_dir: &Path, rotate_bytes: u64) -> Result<SledBackend> {
        let mut lsn: u64 = match db.get(LSN_KEY).map_err(sled_failed)? {
            Some(v) => decode(LSN_KEY, &v)?,
            None => 0,
        };
        let (records, generation) = wal::Wal::recover(wal_dir, lsn)?;
        if !records.is_empty() {
            tracing::info!(
                records = records.len(),
                from_lsn = lsn,
                "replaying the write-ahead log"
            );
            for (l, ops) in records {
                apply_in_order(&db, ops)?;
                lsn = l;
            }
            db.insert(LSN_KEY, encode(&lsn)).map_err(sled_failed)?;
            db.flush().map_err(sled_failed)?;
        }
        let wal = wal::Wal::start(wal_dir, generation, rotate_bytes)?;
        Ok(SledBackend {
            db,
            log: Some(Log {
                wal: Mutex::new(wal),
                pending: Mutex::new(Pending::default()),
                lsn: AtomicU64::new(lsn),
                logged: AtomicU64::new(lsn),
                handoff: std::sync::RwLock::new(()),
            }),
            applied: AtomicU64::new(0),
        })
    }
}

/// Applies a logged batch key by key, in order.
///
/// Not `sled::Tree::apply_batch`: in sled 0.34 every batch seals sled's I/O buffer and
/// hands it to sled's writer threads, which cost more CPU per booking than the booking's own
/// work (profiled: seven `sled-io` threads switching ~1.5 times per write each). Atomicity
/// comes from the write-ahead log instead: sled recovers a prefix of its own log, and
/// `m/lsn` is written after the records it covers, so when it reads N every operation of
/// records up to N is in sled; a record only partly there is newer than N, is in the log
/// (see [`SledBackend::settle`]) and is replayed whole (a replay writes absolute values,
/// so it converges on the same state).
fn apply_in_order(db: &sled::Db, ops: wal::Ops) -> Result<()> {
    for (k, v) in ops {
        match v {
            Some(v) => db.insert(k, v).map_err(sled_failed)?,
            None => db.remove(k).map_err(sled_failed)?,
        };
    }
    Ok(())
}

/// Opens sled in `dir` with entente's settings.
///
/// sled releases its lock on the folder a moment after the last handle is dropped (its
/// I/O threads hold the file briefly), so a store reopened in the same process, as tests
/// and embedders do, may find it still locked. That one error is retried for up to two
/// seconds; a folder held by another live process still fails.
fn open_sled(dir: &Path) -> Result<sled::Db> {
    let config = sled::Config::new()
        .path(dir)
        .cache_capacity(SLED_CACHE_BYTES)
        // The scheduler flushes explicitly; sled's timer flush would only add I/O.
        .flush_every_ms(None);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(2);
    loop {
        // Each time: a handle still closing holds the lock until it is gone.
        remove_unfinished_snapshots(dir)?;
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(e)) if e.to_string().contains("could not acquire lock") => {
                if std::time::Instant::now() >= deadline {
                    return Err(Error::StoreInUse(dir.to_path_buf()));
                }
                std::thread::sleep(std::time::Duration::from_millis(20));
            }
            Err(e) => return Err(sled_failed(e)),
        }
    }
}

/// sled 0.34.7 writes a snapshot of its page table to `snap.<lsn>.generating`, syncs it,
/// and renames it `snap.<lsn>`; but when it opens a folder it reads whichever `snap.` file
/// sorts last, an unfinished `.generating` one included, and refuses a torn one as
/// corrupt ("Read corrupted data at file offset None"; sled issue #1527). A server killed
/// while writing one (SIGKILL during the snapshot a graceful stop writes, `compact`) left
/// a store that would not open again. An unfinished snapshot is never needed: the one
/// before it stays until it is renamed, and sled replays its own log from there. So they
/// are removed before sled opens the folder, unless another process holds it (sled's lock
/// on its `db` file, which is then refused as in use).
fn remove_unfinished_snapshots(dir: &Path) -> Result<()> {
    use fs2::FileExt;
    let Ok(db) = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(dir.join("db"))
    else {
        // A new store, or one sled will say why it cannot open.
        return Ok(());
    };
    if db.try_lock_exclusive().is_err() {
        return Ok(());
    }
    let io = |context: String| move |source| Error::Io { context, source };
    let entries = std::fs::read_dir(dir).map_err(io(format!("list {}", dir.display())))?;
    for entry in entries {
        let path = entry.map_err(io(format!("list {}", dir.display())))?.path();
        let unfinished = path
            .file_name()
            .and_then(|n| n.to_str())
            .is_some_and(|n| n.starts_with("snap.") && n.ends_with(".generating"));
        if unfinished {
            tracing::warn!(file = %path.display(), "removing an unfinished sled snapshot left by a crash");
            std::fs::remove_file(&path).map_err(io(format!("remove {}", path.display())))?;
        }
    }
    // The lock goes with `db`, before sled takes it.
    Ok(())
}

fn sled_batch(ops: wal::Ops) -> sled::Batch {
    let mut b = sled::Batch::default();
    for (k, v) in ops {
        match v {
            Some(v) => b.insert(k, v),
            None => b.remove(k),
        }
    }
    b
}

impl Backend for SledBackend {
    fn visit(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        let _settled = self.settled();
        for r in self.db.scan_prefix(prefix) {
            let (k, v) = r.map_err(sled_failed)?;
            f(&k, &v)?;
        }
        Ok(())
    }

    fn scan_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        let _settled = self.settled();
        let mut start = prefix.to_vec();
        start.extend_from_slice(from);
        self.db
            .range(start..)
            .take_while(|r| r.as_ref().map_or(true, |(k, _)| k.starts_with(prefix)))
            .take(limit)
            .map(|r| {
                r.map(|(k, v)| (k.to_vec(), v.to_vec()))
                    .map_err(sled_failed)
            })
            .collect()
    }

    fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        let _settled = self.settled();
        Ok(self
            .db
            .scan_prefix(prefix)
            .next_back()
            .transpose()
            .map_err(sled_failed)?
            .map(|(k, v)| (k.to_vec(), v.to_vec())))
    }

    fn apply(&self, batch: Batch) -> Result<u64> {
        let Some(log) = &self.log else {
            self.db
                .apply_batch(sled_batch(batch.ops))
                .map_err(sled_failed)?;
            return Ok(self.applied.fetch_add(1, Ordering::SeqCst) + 1);
        };
        // Callers apply one batch at a time (under the scheduler's write lock), so log
        // order and lsn order agree.
        let lsn = log.lsn.fetch_add(1, Ordering::SeqCst) + 1;
        let rec = wal::record(lsn, &batch.ops);
        let mut pending = lock(&log.pending);
        pending.bytes.extend_from_slice(&rec);
        pending.records.push(batch.ops);
        pending.last_lsn = lsn;
        Ok(lsn)
    }

    fn flush_then(&self, durable: &mut dyn FnMut(u64)) -> Result<()> {
        let Some(log) = &self.log else {
            // Batches applied before the flush begins are covered by it.
            let covered = self.applied.load(Ordering::SeqCst);
            self.db.flush().map_err(sled_failed)?;
            durable(covered);
            return Ok(());
        };
        // The log lock orders flushes: records reach the log, then sled, in lsn order.
        let mut wal = lock(&log.wal);
        let pending = std::mem::take(&mut *lock(&log.pending));
        if pending.records.is_empty() {
            durable(log.logged.load(Ordering::SeqCst));
            return Ok(());
        }
        self.log_then_settle(log, &mut wal, pending, durable)?;
        if wal.wants_rotation() {
            // Everything logged so far is in sled: make sled durable, and the log has
            // nothing left to protect. Readers do not wait for this (nor writers for
            // their acknowledgement, which they already have).
            self.db.flush().map_err(sled_failed)?;
            wal.rotate()?;
        }
        Ok(())
    }

    fn checkpoint(&self) -> Result<()> {
        let Some(log) = &self.log else {
            self.db.flush().map_err(sled_failed)?;
            return Ok(());
        };
        let mut wal = lock(&log.wal);
        let pending = std::mem::take(&mut *lock(&log.pending));
        self.log_then_settle(log, &mut wal, pending, &mut |_| {})?;
        self.db.flush().map_err(sled_failed)?;
        wal.rotate()
    }
}

impl SledBackend {
    /// Waits until a hand-off to sled in progress, if any, is done, so that a read sees
    /// every acknowledged write. It never waits for an fsync or a sled flush.
    fn settled(&self) -> Option<std::sync::RwLockReadGuard<'_, ()>> {
        self.log.as_ref().map(|log| {
            log.handoff
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
        })
    }

    /// Appends `pending` to the log and syncs it, calls `durable`, then hands the records
    /// to sled: log first, always, so that no batch can reach sled (which writes its
    /// buffers out on its own schedule) without its whole record in the log.
    fn log_then_settle(
        &self,
        log: &Log,
        wal: &mut wal::Wal,
        pending: Pending,
        durable: &mut dyn FnMut(u64),
    ) -> Result<()> {
        if pending.records.is_empty() {
            durable(log.logged.load(Ordering::SeqCst));
            return Ok(());
        }
        wal.append(&pending.bytes)?;
        log.logged.store(pending.last_lsn, Ordering::SeqCst);
        let _handoff = log
            .handoff
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Durable now: the writers need not wait for sled too (about a third of a group
        // commit's time on this machine). Reads that start from here wait for the hand-off.
        durable(pending.last_lsn);
        self.settle(pending)
    }

    /// Hands logged records to sled, key by key, then their last lsn.
    fn settle(&self, pending: Pending) -> Result<()> {
        for ops in pending.records {
            apply_in_order(&self.db, ops)?;
        }
        self.db
            .insert(LSN_KEY, encode(&pending.last_lsn))
            .map_err(sled_failed)?;
        Ok(())
    }
}

type Waiter = oneshot::Sender<Result<(), String>>;

/// Told the sequence number up to which applied batches are durable, by the flusher.
pub type DurableListener = Arc<dyn Fn(u64) + Send + Sync>;

/// A storage backend plus the group-commit flusher.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    flushes: std::sync::mpsc::Sender<Waiter>,
    poisoned: Arc<AtomicBool>,
    listener: Arc<std::sync::OnceLock<DurableListener>>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("poisoned", &self.poisoned.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Wraps a backend and starts its flusher thread.
    pub fn new(backend: Arc<dyn Backend>) -> Store {
        let (tx, rx) = std::sync::mpsc::channel();
        // The flusher holds the backend weakly: when the last Store is dropped the engine
        // closes at once (releasing sled's lock on its folder), not whenever the thread ends.
        let weak = Arc::downgrade(&backend);
        let poisoned = Arc::new(AtomicBool::new(false));
        let flag = poisoned.clone();
        let listener: Arc<std::sync::OnceLock<DurableListener>> = Arc::default();
        let told = listener.clone();
        let spawned = std::thread::Builder::new()
            .name("entente-flush".into())
            .spawn(move || flusher(weak, rx, flag, told));
        if let Err(e) = spawned {
            tracing::error!(error = %e, "cannot start the flusher thread");
        }
        Store {
            backend,
            flushes: tx,
            poisoned,
            listener,
        }
    }

    /// Tells `listener`, from the flusher, how far each flush made applied batches durable
    /// (the change feed publishes from it). Set once, before any write.
    pub fn on_durable(&self, listener: DurableListener) {
        let _ = self.listener.set(listener);
    }

    /// Every record under `prefix`, decoded.
    pub fn load<T: DeserializeOwned>(&self, prefix: &[u8]) -> Result<Vec<T>> {
        let mut out = Vec::new();
        self.for_each(prefix, |t| {
            out.push(t);
            Ok(())
        })?;
        Ok(out)
    }

    /// Calls `f` with every raw `(key, value)` under `prefix`, in key order.
    pub fn visit(&self, prefix: &[u8], f: &mut Visitor<'_>) -> Result<()> {
        self.backend.visit(prefix, f)
    }

    /// Decodes every record under `prefix` and hands each to `f`, one at a time.
    pub fn for_each<T: DeserializeOwned>(
        &self,
        prefix: &[u8],
        mut f: impl FnMut(T) -> Result<()>,
    ) -> Result<()> {
        self.backend.visit(prefix, &mut |k, v| f(decode(k, v)?))
    }

    /// Up to `limit` raw records under `prefix`, from `prefix + from` on.
    pub fn scan_from(
        &self,
        prefix: &[u8],
        from: &[u8],
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.backend.scan_from(prefix, from, limit)
    }

    /// The last raw record under `prefix`, if any.
    pub fn last(&self, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
        self.backend.last(prefix)
    }

    /// Raw records under `prefix`.
    pub fn scan(&self, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
        self.backend.scan(prefix)
    }

    /// Applies a batch atomically and returns its sequence number (see
    /// [`Store::on_durable`]). A failure poisons the store: memory already holds the
    /// change, so no later write may pretend the two agree.
    pub fn apply(&self, batch: Batch) -> Result<u64> {
        if self.poisoned.load(Ordering::Acquire) {
            return Err(Error::Poisoned);
        }
        if batch.is_empty() {
            return Ok(0);
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

    /// Makes everything durable in its final place now, blocking (used at shutdown).
    pub fn flush_blocking(&self) -> Result<()> {
        self.backend.checkpoint()
    }
}

/// The group-commit loop, on its own thread (a flush blocks): take every waiter queued so
/// far, flush once, answer them all as soon as their writes are durable. Waiters that
/// queue during a flush share the next one.
fn flusher(
    backend: Weak<dyn Backend>,
    rx: std::sync::mpsc::Receiver<Waiter>,
    poisoned: Arc<AtomicBool>,
    listener: Arc<std::sync::OnceLock<DurableListener>>,
) {
    while let Ok(first) = rx.recv() {
        let mut waiters = vec![first];
        while let Ok(w) = rx.try_recv() {
            waiters.push(w);
        }
        let Some(b) = backend.upgrade() else {
            return;
        };
        let started = std::time::Instant::now();
        let writes = waiters.len();
        let mut answer = |result: Result<(), String>| {
            for w in waiters.drain(..) {
                // A caller that gave up waiting is fine: its write is flushed all the same.
                let _ = w.send(result.clone());
            }
        };
        let mut durable_at = None;
        let outcome = b.flush_then(&mut |through| {
            durable_at = Some(started.elapsed());
            // The feed publishes the durable revision before the writers hear back: a
            // client that lists changes right after its write's acknowledgement must
            // find that write in the list.
            if let Some(tell) = listener.get() {
                tell(through);
            }
            answer(Ok(()));
        });
        drop(b);
        if let Err(e) = outcome {
            // Waiters not yet answered learn why (and poison the store). If they were
            // answered, their writes are durable in the log, but sled missed what came
            // after: no later write may pretend otherwise.
            tracing::error!(error = %e, "flush failed; refusing further writes");
            poisoned.store(true, Ordering::Release);
            answer(Err(e.to_string()));
        }
        tracing::debug!(
            writes,
            durable_micros = durable_at.map(|d| d.as_micros() as u64),
            micros = started.elapsed().as_micros() as u64,
            "group commit"
        );
    }
}

/// A sled failure as the domain's error (which names no engine).
fn sled_failed(e: sled::Error) -> Error {
    Error::Storage(e.to_string())
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

    /// A store in `dir` with one record applied (`e/ashgabat`), not yet flushed.
    fn with_talks(dir: &Path) -> SledBackend {
        let b = SledBackend::open(dir).expect("open");
        let mut batch = Batch::default();
        batch.put(b"e/ashgabat".to_vec(), &"talks".to_string());
        b.apply(batch).expect("apply");
        b
    }

    #[test]
    fn a_snapshot_left_unfinished_by_a_crash_does_not_stop_the_store_opening() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = with_talks(dir.path());
        b.checkpoint().expect("checkpoint");
        drop(b);
        SledBackend::compact(dir.path()).expect("a snapshot");
        // What a kill during sled's snapshot leaves: a torn file it would read first.
        let torn = dir.path().join("snap.FFFFFFFFFFFFFFFF.generating");
        std::fs::write(&torn, [0xab; 100]).expect("plant");
        let raw = sled::Config::new().path(dir.path()).open();
        assert!(
            matches!(raw, Err(sled::Error::Corruption { .. })),
            "sled alone refuses it: {raw:?}"
        );
        drop(raw);
        let b = SledBackend::open(dir.path()).expect("opens");
        assert!(!torn.exists());
        let found = b.scan(b"e/").expect("scan");
        assert_eq!(found.len(), 1, "the record is kept");
    }

    #[test]
    fn sled_receives_a_batch_only_once_the_log_holds_it() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = with_talks(dir.path());
        assert!(b.scan(b"e/").expect("scan").is_empty(), "not logged yet");
        b.flush().expect("log it");
        assert_eq!(b.scan(b"e/").expect("scan").len(), 1);
    }

    #[test]
    fn a_write_acknowledged_before_sled_has_it_is_still_read_back() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = Arc::new(SledBackend::open(dir.path()).expect("open"));
        let mut batch = Batch::default();
        batch.put(b"h/kazan".to_vec(), &"revision 1".to_string());
        b.apply(batch).expect("apply");
        let mut reader = None;
        b.flush_then(&mut |_| {
            // The writer has its answer; sled does not have the record yet. A reader that
            // starts now must wait for it rather than miss it. The pause keeps open the
            // window in which a read that did not wait would find nothing.
            let b = b.clone();
            reader = Some(std::thread::spawn(move || b.scan(b"h/").map(|v| v.len())));
            std::thread::sleep(std::time::Duration::from_millis(50));
        })
        .expect("flush");
        let read = reader.expect("durable was called").join().expect("reader");
        assert_eq!(read.expect("scan"), 1);
    }

    #[test]
    fn reads_never_wait_for_an_fsync_or_a_sled_flush() {
        let dir = tempfile::tempdir().expect("tempdir");
        let b = Arc::new(SledBackend::open(dir.path()).expect("open"));
        let mut batch = Batch::default();
        batch.put(b"h/kazan".to_vec(), &"revision 1".to_string());
        b.apply(batch).expect("apply");
        b.flush().expect("flush");
        // A flush in progress holds the log across its fsync (and across sled's flush at a
        // rotation). A history read must not wait for it: with one worker thread, that
        // would stall the whole server.
        let log = b.log.as_ref().expect("a folder has a log");
        let flushing = lock(&log.wal);
        let (tx, rx) = std::sync::mpsc::channel();
        let reader = {
            let b = b.clone();
            std::thread::spawn(move || {
                let _ = tx.send(b.scan(b"h/").map(|v| v.len()).ok());
            })
        };
        let read = rx.recv_timeout(std::time::Duration::from_secs(10));
        drop(flushing);
        reader.join().expect("reader");
        assert_eq!(read, Ok(Some(1)), "the read waited for the flusher");
    }

    #[test]
    fn compacting_a_closed_store_keeps_everything() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let b = SledBackend::open(dir.path()).expect("open");
            for i in 0..100u32 {
                let mut batch = Batch::default();
                batch.put(key(prefix::EVENT, &format!("e{i}")), &i);
                b.apply(batch).expect("apply");
            }
            b.checkpoint().expect("checkpoint");
        }
        SledBackend::compact(dir.path()).expect("compact");
        let b = SledBackend::open(dir.path()).expect("reopen");
        assert_eq!(b.scan(prefix::EVENT).expect("scan").len(), 100);
    }

    #[test]
    fn a_record_only_partly_in_sled_is_replayed_whole() {
        let dir = tempfile::tempdir().expect("tempdir");
        {
            let b = SledBackend::open(dir.path()).expect("open");
            let mut batch = Batch::default();
            batch.put(b"e/kazan".to_vec(), &"summit".to_string());
            batch.put(b"a/1".to_vec(), &"audit".to_string());
            b.apply(batch).expect("apply");
            b.flush().expect("log it");
        }
        {
            // What a crash can leave: the record's first key in sled, the rest and its lsn
            // not (sled recovers a prefix of its own log). Opened with the lock retry: the
            // store above lets go of the folder a moment after it is dropped.
            let db = open_sled(dir.path()).expect("raw sled");
            db.remove(b"a/1").expect("remove");
            db.remove(LSN_KEY).expect("remove lsn");
            db.flush().expect("flush");
        }
        let b = SledBackend::open(dir.path()).expect("reopen");
        let audit = b.scan(b"a/").expect("scan");
        assert_eq!(audit.len(), 1, "the record is replayed whole");
        let v: String = decode(&audit[0].0, &audit[0].1).expect("decode");
        assert_eq!(v, "audit");
        assert_eq!(b.scan(b"e/").expect("scan").len(), 1);
    }

    #[test]
    fn inline_strings_are_stored_as_plain_strings() {
        // Event ids, titles and codes moved from String to CompactString: the stored bytes
        // must not change, or stores written before could not be read.
        let long = "Strategic partnership agreement signing, Kazan".to_string();
        for s in ["e1".to_string(), String::new(), long] {
            let inline = crate::events::Str::from(s.as_str());
            assert_eq!(encode(&inline), encode(&s));
            let back: crate::events::Str = decode(b"k", &encode(&s)).expect("decode");
            assert_eq!(back, s);
        }
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
