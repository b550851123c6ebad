//! The scheduler core: the in-memory state, the one write path, and start-up loading.
//!
//! # Concurrency and durability
//!
//! All state lives in memory behind one `RwLock`; sled holds the durable copy. Reads take
//! the read lock and never touch disk. Every mutation goes through [`Scheduler::write`]:
//!
//! 1. take the write lock;
//! 2. validate and check conflicts against the current state (the closure must not change
//!    anything before every check has passed, so an error leaves no trace);
//! 3. apply the change to memory and, as one atomic sled batch, to disk;
//! 4. release the lock, then wait for the group-commit flush that covers the batch.
//!
//! Because check and write happen under one lock, two clients racing to book the same
//! participant into overlapping slots are serialised: the second sees the first's event and
//! is refused. sled 0.34's transactions cannot scan ranges, so this is what makes conflict
//! enforcement atomic. Holding the lock only for in-memory work and a buffered sled write
//! (microseconds) while the fsync happens outside it lets concurrent writers share one
//! flush (see `storage`), which is where durable booking throughput comes from.
//!
//! A reader may see a write a moment before its writer is acknowledged (between steps 3 and
//! 4). If the flush then fails the store is poisoned and refuses every later write, so the
//! process never acknowledges a state it could not persist.
//!
//! # Restart
//!
//! [`Scheduler::open`] scans every record kind once and rebuilds all in-memory indexes
//! (time and per-participant/per-venue conflict indexes) from the stored events.

use std::path::Path;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::auth::Principal;
use crate::commit::Tx;
use crate::error::{Error, Result};
use crate::events::{Event, Moved, Recomputed};
use crate::feed::Feed;
use crate::history::{Action, Revision};
pub use crate::record::Meta;
use crate::redact::View;
pub use crate::state::{Directory, RequestRecord, Resource, State, request_key};
use crate::storage::{self, Backend, Batch, SledBackend, Store};
use crate::time::TZDB_VERSION;
use crate::validate;

/// A source of "now", in microseconds since the Unix epoch. Tests use [`ManualClock`] so
/// that deadlines and timestamps are deterministic.
#[derive(Clone)]
pub struct Clock(Arc<dyn Fn() -> i64 + Send + Sync>);

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Clock")
    }
}

impl Default for Clock {
    fn default() -> Clock {
        Clock::system()
    }
}

impl Clock {
    /// The system clock.
    pub fn system() -> Clock {
        Clock(Arc::new(|| chrono::Utc::now().timestamp_micros()))
    }

    /// Now, in microseconds since the Unix epoch.
    pub fn now_micros(&self) -> i64 {
        (self.0)()
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    /// Starts at `micros` since the Unix epoch.
    pub fn new(micros: i64) -> ManualClock {
        ManualClock(Arc::new(AtomicI64::new(micros)))
    }

    /// Moves forward by `micros`.
    pub fn advance(&self, micros: i64) {
        self.0.fetch_add(micros, Ordering::SeqCst);
    }

    /// Sets the time.
    pub fn set(&self, micros: i64) {
        self.0.store(micros, Ordering::SeqCst);
    }

    /// As a [`Clock`].
    pub fn clock(&self) -> Clock {
        let inner = self.0.clone();
        Clock(Arc::new(move || inner.load(Ordering::SeqCst)))
    }
}

/// What one run of the sweep did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Swept {
    /// Proposals stored as EXPIRED.
    pub expired: usize,
    /// Idempotency records forgotten.
    pub forgotten: usize,
    /// Change log entries past their retention, deleted.
    pub compacted: usize,
}

/// What a scheduler needs besides its storage.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where "now" comes from.
    pub clock: Clock,
    /// Travel feasibility parameters.
    pub travel: crate::conflicts::TravelSettings,
    /// How often the sweep stores expired proposals as EXPIRED (reads see expiry at once
    /// regardless) and forgets idempotency records past `request_retention`; `None` turns
    /// the sweep off.
    pub expiry_sweep: Option<std::time::Duration>,
    /// How long a `request_id` is remembered: a retry within it returns the first result,
    /// a retry after it is a new request.
    pub request_retention: std::time::Duration,
    /// The size at which the write-ahead log is rotated (sled flushed, a new file started).
    pub wal_rotate_bytes: u64,
    /// Over PostgreSQL: how often a server reads the other servers' commits when their
    /// notifications do not wake it first, so its change feed watchers hear of them.
    /// `None` listens to nothing and reads them only when a request or a write comes
    /// (requests still see every write acknowledged before them: tests use it to show
    /// that without the notifications' help).
    pub follow_others: Option<std::time::Duration>,
    /// Over PostgreSQL: the period of the sole-writer lease (see `solo`), which a server
    /// that sees no other server write takes so that it answers reads without a round
    /// trip. `None` never takes it.
    pub solo_lease: Option<std::time::Duration>,
    /// Over PostgreSQL: an answer that may name a write still being committed (a read, a
    /// conflict refusal) waits until that write's group has committed, and is ABORTED if
    /// it failed, so that no answer names a write that never existed. Off, reads do not
    /// wait (measured: 0.66–0.70× the mixed workload's throughput with it on,
    /// `bench/README`).
    pub answers_wait_for_commit: bool,
    /// How often a change feed watcher gets a progress message.
    pub feed_progress: std::time::Duration,
    /// How many commits the feed keeps for watchers that fall behind; one further behind is
    /// ended (CONSUMER_LAGGED) and resumes from the change log.
    pub feed_buffer: usize,
    /// How long the change log keeps a write's changes.
    pub change_retention: std::time::Duration,
    /// The domain of exported UIDs (`<event id>@<domain>`); an import reads a UID at this
    /// domain back as the event id.
    pub ics_uid_domain: String,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            clock: Clock::default(),
            travel: Default::default(),
            expiry_sweep: Some(std::time::Duration::from_secs(30)),
            request_retention: std::time::Duration::from_secs(24 * 3600),
            wal_rotate_bytes: storage::wal::DEFAULT_ROTATE_BYTES,
            follow_others: Some(std::time::Duration::from_secs(1)),
            solo_lease: Some(std::time::Duration::from_secs(1)),
            answers_wait_for_commit: true,
            feed_progress: std::time::Duration::from_secs(2),
            feed_buffer: 4096,
            change_retention: std::time::Duration::from_secs(7 * 24 * 3600),
            ics_uid_domain: "entente".to_string(),
        }
    }
}

struct Inner {
    state: RwLock<State>,
    store: Store,
    feed: Arc<Feed>,
    settings: Settings,
    /// The PostgreSQL store this server shares with others; `None` over sled.
    shared: Option<crate::cluster::Shared>,
    /// Where heavy requests run (see `work`).
    pool: crate::work::Pool,
    /// Rendered calendar feeds.
    feed_cache: crate::ics::feeds::Cache,
}

/// A scheduler that may be gone (see [`Scheduler::downgrade`]).
#[derive(Clone)]
pub(crate) struct WeakScheduler(std::sync::Weak<Inner>);

/// The scheduler: directory, events, conflicts and proposals over one store. Cheap to
/// clone; every clone is the same scheduler.
///
/// This is the API for Rust code that embeds entente; the gRPC service is a thin layer over
/// it, so both get the same validation and guarantees.
#[derive(Clone)]
pub struct Scheduler {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Scheduler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Scheduler").finish_non_exhaustive()
    }
}

impl Scheduler {
    /// Opens the sled store in `dir` (created if missing). With `settings.expiry_sweep` set
    /// (the default), it must be called inside a tokio runtime: the sweep is a task.
    pub fn open(dir: &Path, settings: Settings) -> Result<Scheduler> {
        // An open touches the whole store at once; see `pages` for why in small pages.
        let _small = crate::pages::SmallPages::new();
        let backend = SledBackend::open_rotating_at(dir, settings.wal_rotate_bytes)?;
        Scheduler::with_backend(Arc::new(backend), settings)
    }

    /// A scheduler over a temporary store that vanishes when dropped.
    pub fn temporary(settings: Settings) -> Result<Scheduler> {
        Scheduler::with_backend(Arc::new(SledBackend::temporary()?), settings)
    }

    /// A scheduler over any backend. With `settings.expiry_sweep` set, it must be called
    /// inside a tokio runtime (the sweep is a task): outside one it is
    /// [`Error::NoRuntime`], never a panic.
    pub fn with_backend(backend: Arc<dyn Backend>, settings: Settings) -> Result<Scheduler> {
        Scheduler::build(backend, settings, None)
    }

    pub(crate) fn build(
        backend: Arc<dyn Backend>,
        settings: Settings,
        shared: Option<crate::cluster::Shared>,
    ) -> Result<Scheduler> {
        let runtime = tokio::runtime::Handle::try_current();
        if settings.expiry_sweep.is_some() && runtime.is_err() {
            return Err(Error::NoRuntime);
        }
        let store = Store::new(backend);
        let mut state = load(&store)?;
        // Over PostgreSQL these are writes like any other, made once the scheduler runs
        // (`upgrade_tzdb_shared`); a shared store keeps changes from its first write on.
        let oldest = if shared.is_some() {
            stored_changes_since(&store)?.unwrap_or(1)
        } else {
            upgrade_tzdb(&store, &mut state)?;
            // Everything loaded is durable; the change log holds what is retained of it.
            changes_since(&store, &state)?
        };
        let feed = Arc::new(Feed::new(state.revision, oldest, settings.feed_buffer));
        let weak = Arc::downgrade(&feed);
        store.on_durable(Arc::new(move |through| {
            if let Some(feed) = weak.upgrade() {
                feed.durable_through(through);
            }
        }));
        let sweep = settings.expiry_sweep;
        let scheduler = Scheduler {
            inner: Arc::new(Inner {
                state: RwLock::new(state),
                store,
                feed,
                settings,
                shared,
                pool: crate::work::Pool::default(),
                feed_cache: crate::ics::feeds::Cache::default(),
            }),
        };
        if let (Some(every), Ok(runtime)) = (sweep, runtime) {
            runtime.spawn(sweep_expiries(Arc::downgrade(&scheduler.inner), every));
        }
        Ok(scheduler)
    }

    /// The settings it runs with.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// Now, in microseconds.
    pub fn now(&self) -> i64 {
        self.inner.settings.clock.now_micros()
    }

    /// Where heavy requests run: off the async workers, a bounded number at once, one at a
    /// time per office.
    pub fn pool(&self) -> &crate::work::Pool {
        &self.inner.pool
    }

    /// Rendered calendar feeds, by feed, revision and day.
    pub fn feed_cache(&self) -> &crate::ics::feeds::Cache {
        &self.inner.feed_cache
    }

    /// The change feed.
    pub(crate) fn feed(&self) -> &Arc<Feed> {
        &self.inner.feed
    }

    /// The revision of the last committed write: what a list read now reflects.
    pub fn revision(&self) -> u64 {
        self.read_state().revision
    }

    /// How long request ids are remembered, in microseconds.
    pub(crate) fn request_retention_micros(&self) -> i64 {
        i64::try_from(self.inner.settings.request_retention.as_micros()).unwrap_or(i64::MAX)
    }

    /// The scheduler's housekeeping, as the background sweep runs it every
    /// `Settings::expiry_sweep`: stores the expiry of proposals whose deadline passed,
    /// forgets idempotency records older than `Settings::request_retention`, and deletes
    /// change log entries older than `Settings::change_retention`. ADMIN only (the sweep
    /// runs as [`Principal::system`]).
    pub async fn sweep(&self, who: &Principal) -> Result<Swept> {
        let expired = self.expire_due(who).await?;
        let forgotten = self.forget_old_requests(who).await?;
        let compacted = self.compact_changes().await?;
        Ok(Swept {
            expired,
            forgotten,
            compacted,
        })
    }

    /// Forgets idempotency records older than the retention, in memory and on disk. Upkeep,
    /// not a revision: no record a client sees changes.
    async fn forget_old_requests(&self, who: &Principal) -> Result<usize> {
        crate::policy::require_admin(who)?;
        // As for expiries: nothing to forget is no write (see `Scheduler::expire_due`).
        let cutoff = self.now().saturating_sub(self.request_retention_micros());
        if !self.read(who, |view| {
            view.state().requests.values().any(|r| r.time < cutoff)
        }) {
            return Ok(0);
        }
        self.maintain(move |st, batch| {
            let old: Vec<String> = st
                .requests
                .iter()
                .filter(|(_, r)| r.time < cutoff)
                .map(|(k, _)| k.clone())
                .collect();
            for k in &old {
                if let Some(r) = st.requests.remove(k) {
                    batch.delete(storage::key(storage::prefix::REQUEST, k));
                    if k.starts_with('\0') {
                        // Stored before ids were scoped by office, as `q/<id>`.
                        batch.delete(storage::key(storage::prefix::REQUEST, &r.request_id));
                    }
                }
            }
            old.len()
        })
        .await
    }

    /// Storage upkeep that is not a revision (forgotten request ids, compacted change log
    /// entries): `f` changes the state and fills a batch, applied and made durable like a
    /// write but neither audited nor published.
    pub(crate) async fn maintain<R>(
        &self,
        f: impl FnOnce(&mut State, &mut Batch) -> R,
    ) -> Result<R> {
        if let Some(shared) = self.shared() {
            return self
                .write_shared(shared, |st, _| {
                    let mut batch = Batch::default();
                    let result = f(st, &mut batch);
                    Ok((result, (!batch.is_empty()).then_some((batch, None))))
                })
                .await;
        }
        let result = {
            let mut state = self.write_state();
            self.inner.store.check_healthy()?;
            let mut batch = Batch::default();
            let result = f(&mut state, &mut batch);
            self.inner.store.apply(batch)?;
            result
        };
        self.inner.store.sync().await?;
        Ok(result)
    }

    pub(crate) fn read_state(&self) -> RwLockReadGuard<'_, State> {
        // A panic while holding the lock cannot leave half a change: closures check before
        // they mutate. So a poisoned lock is safe to keep using.
        self.inner
            .state
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    pub(crate) fn write_state(&self) -> RwLockWriteGuard<'_, State> {
        self.inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Runs `f` as one atomic, durable write (see the module docs) on behalf of `who`,
    /// audited as `method`: the commit point. `f` gets the state, the write to record its
    /// changes in, and the current time; it must finish every check (authorisation
    /// included) before it changes anything. A write that changes anything is one
    /// revision: its records, history, audit record and change log entry go to disk as one
    /// batch, and the change feed publishes it once that batch is durable.
    pub(crate) async fn write<R>(
        &self,
        who: &Principal,
        method: &'static str,
        f: impl FnOnce(&mut State, &mut Tx, i64) -> Result<R>,
    ) -> Result<R> {
        if let Some(shared) = self.shared() {
            return self
                .write_shared(shared, |st, now| {
                    let mut tx = Tx::default();
                    let result = f(st, &mut tx, now)?;
                    if tx.is_empty() {
                        return Ok((result, None));
                    }
                    st.revision += 1;
                    let (batch, commit) = tx.commit(st.revision, now, who, method);
                    Ok((result, Some((batch, Some(commit)))))
                })
                .await;
        }
        let result = {
            let mut state = self.write_state();
            self.inner.store.check_healthy()?;
            let mut tx = Tx::default();
            let now = self.now();
            let result = f(&mut state, &mut tx, now)?;
            if !tx.is_empty() {
                state.revision += 1;
                let (batch, commit) = tx.commit(state.revision, now, who, method);
                self.inner.feed.stage(&self.inner.store, batch, commit)?;
            }
            result
        };
        self.inner.store.sync().await?;
        Ok(result)
    }

    /// A handle that does not keep the scheduler alive (for its background tasks).
    pub(crate) fn downgrade(&self) -> WeakScheduler {
        WeakScheduler(Arc::downgrade(&self.inner))
    }

    /// The scheduler behind `weak`, if it still lives.
    pub(crate) fn upgrade(weak: &WeakScheduler) -> Option<Scheduler> {
        weak.0.upgrade().map(|inner| Scheduler { inner })
    }

    /// The shared store this scheduler writes through, if any.
    pub(crate) fn shared(&self) -> Option<&crate::cluster::Shared> {
        self.inner.shared.as_ref()
    }

    /// Whether the store can commit now: the embedded store is not poisoned (a failed
    /// flush stops every write), or the shared database answers a query. Health checks
    /// ask it ([`crate::grpc::health`]).
    pub async fn store_ready(&self) -> Result<()> {
        match self.shared() {
            Some(shared) => shared.db.ping().await,
            None => self.inner.store.check_healthy(),
        }
    }

    /// Whether this scheduler shares a PostgreSQL store with other servers.
    pub fn is_shared(&self) -> bool {
        self.inner.shared.is_some()
    }

    /// Runs `f` over the state as `who` sees it, under the read lock.
    pub(crate) fn read<R>(&self, who: &Principal, f: impl FnOnce(View<'_>) -> R) -> R {
        let st = self.read_state();
        f(View::new(&st, who))
    }

    /// Flushes everything to disk now (used at shutdown).
    pub fn flush(&self) -> Result<()> {
        self.inner.store.flush_blocking()
    }

    /// The raw store, for maintenance and tests.
    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}

/// Runs the sweep ([`Scheduler::sweep`]) every `every`, for as long as the scheduler lives
/// (the task holds it weakly, so it never keeps a dropped store open).
async fn sweep_expiries(inner: std::sync::Weak<Inner>, every: std::time::Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    tick.tick().await;
    loop {
        tick.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        let scheduler = Scheduler { inner };
        match scheduler.sweep(&Principal::system()).await {
            Ok(s) if s != Swept::default() => tracing::info!(
                expired = s.expired,
                forgotten = s.forgotten,
                compacted = s.compacted,
                "sweep: proposals expired, request ids forgotten, old changes compacted"
            ),
            Ok(_) => {}
            Err(e) => tracing::warn!(error = %e, "sweep failed"),
        }
    }
}

pub(crate) fn load(store: &Store) -> Result<State> {
    let mut state = State::default();
    load_map(store, &mut state.countries)?;
    load_map(store, &mut state.participants)?;
    load_map(store, &mut state.venues)?;
    load_map(store, &mut state.forums)?;
    load_map(store, &mut state.work_calendars)?;
    load_map(store, &mut state.calendar_feeds)?;
    state.events = crate::events::EventStore::load(
        |f| store.visit(storage::prefix::EVENT, f),
        storage::events::decode,
    )?;
    state.proposals = crate::proposals::ProposalStore::of(
        store.load::<crate::proposals::Proposal>(storage::prefix::PROPOSAL)?,
    );
    store.visit(storage::prefix::REQUEST, &mut |k, v| {
        state
            .requests
            .insert(storage::stored_request_key(k), storage::decode(k, v)?);
        Ok(())
    })?;
    // The sequence continues from the last record: keys sort by sequence.
    if let Some((k, v)) = store.last(storage::prefix::AUDIT)? {
        state.revision = crate::commit::StoredCommit::decode(&k, &v)?.audit.sequence;
    }
    Ok(state)
}

fn load_map<R: crate::commit::Stored>(store: &Store, map: &mut Directory<R>) -> Result<()> {
    for r in store.load::<R>(R::PREFIX)? {
        map.insert(r.id().into(), r);
    }
    Ok(())
}

/// The oldest revision whose changes the log holds (`m/changes-since`). A store that has
/// none recorded (new, or older than the change log) keeps changes from its next write on.
fn changes_since(store: &Store, state: &State) -> Result<u64> {
    if let Some(since) = stored_changes_since(store)? {
        return Ok(since);
    }
    let key = storage::key(storage::prefix::META, storage::CHANGES_SINCE);
    let since = state.revision + 1;
    let mut batch = Batch::default();
    batch.put(key, &since);
    store.apply(batch)?;
    store.flush_blocking()?;
    Ok(since)
}

/// `m/changes-since`, when recorded.
pub(crate) fn stored_changes_since(store: &Store) -> Result<Option<u64>> {
    let key = storage::key(storage::prefix::META, storage::CHANGES_SINCE);
    match store.scan(&key)?.into_iter().find(|(k, _)| *k == key) {
        Some((k, v)) => Ok(Some(storage::decode(&k, &v)?)),
        None => Ok(None),
    }
}

/// When the tzdb compiled into this server differs from the one the store was last written
/// with, recompute every event's instants from its wall time (the wall time wins) and log
/// the events that moved.
fn upgrade_tzdb(store: &Store, state: &mut State) -> Result<()> {
    if let Some(batch) = tzdb_upgrade(store, state, chrono::Utc::now().timestamp_micros())? {
        store.apply(batch)?;
        store.flush_blocking()?;
    }
    Ok(())
}

/// The write that brings the store to the tzdb compiled into this server, applied to
/// `state` already; `None` when the store is at it.
pub(crate) fn tzdb_upgrade(store: &Store, state: &mut State, now: i64) -> Result<Option<Batch>> {
    let key = storage::key(storage::prefix::META, "tzdb");
    let stored: Option<String> = match store.scan(&key)?.into_iter().find(|(k, _)| *k == key) {
        Some((k, v)) => Some(storage::decode(&k, &v)?),
        None => None,
    };
    if stored.as_deref() == Some(crate::time::TZDB_VERSION) {
        return Ok(None);
    }
    let mut tx = Tx::default();
    let report = recompute_all(state, &mut tx, now, false);
    for m in &report.moved {
        tracing::warn!(
            event = %m.event.id,
            from_tzdb = %m.previous_tzdb,
            to_tzdb = crate::time::TZDB_VERSION,
            old_start = m.previous_start,
            new_start = m.event.start.utc,
            "zone rules changed: event instants recomputed from its wall time"
        );
    }
    // Events that moved are a revision like any write (the feed is not running yet; the
    // change log keeps it). A store that only needs its tzdb stamp (a new one, or rules
    // that moved nothing) is upkeep, and no revision.
    let batch = if report.moved.is_empty() {
        tx.into_batch()
    } else {
        state.revision += 1;
        tx.commit(
            state.revision,
            now,
            &Principal::system(),
            crate::audit::method::RECOMPUTE_INSTANTS,
        )
        .0
    };
    Ok(Some(batch))
}

/// Stores an event and its history entry, in memory and in the write.
pub(crate) fn store_event(
    st: &mut State,
    tx: &mut Tx,
    event: Event,
    revision: Revision,
) -> Arc<Event> {
    let before = st.events.get(&event.id).cloned();
    let id = event.id.clone();
    st.events.insert(event);
    let after = st
        .events
        .get(&id)
        .cloned()
        .unwrap_or_else(|| unreachable!("just inserted"));
    tx.put_event(before, after.clone(), Some(&revision));
    after
}

/// A previous answer to the same request id from the same office, if any. A request id
/// reused for a different call is refused rather than silently answered with the wrong
/// thing; another office's ids are never seen.
pub(crate) fn replay(
    st: &State,
    who: &Principal,
    request_id: &str,
    method: &str,
    not_before: i64,
) -> Result<Option<RequestRecord>> {
    if request_id.is_empty() {
        return Ok(None);
    }
    // A record older than the retention is forgotten, whether or not the sweep has
    // removed it yet: a retry after the retention is a new request.
    match st
        .requests
        .get(&request_key(&who.office, request_id))
        .filter(|r| r.time >= not_before)
    {
        Some(r) if r.method == method => Ok(Some(r.clone())),
        Some(r) => Err(Error::invalid(
            "request_id",
            format!(
                "{} was already used for a different request ({})",
                validate::shown(request_id),
                r.method
            ),
        )),
        None => Ok(None),
    }
}

/// Records that `who`'s `request_id` produced `resource_id` (and optionally a snapshot).
#[allow(clippy::too_many_arguments)]
pub(crate) fn remember(
    st: &mut State,
    tx: &mut Tx,
    who: &Principal,
    request_id: &str,
    method: &str,
    resource_id: &str,
    snapshot: Vec<u8>,
    now: i64,
) -> Result<()> {
    if request_id.is_empty() {
        return Ok(());
    }
    validate::bounded("request_id", request_id, 200)?;
    let r = RequestRecord {
        request_id: request_id.to_string(),
        method: method.to_string(),
        resource_id: resource_id.to_string(),
        snapshot,
        time: now,
    };
    let key = request_key(&who.office, request_id);
    tx.put_request(&key, &r);
    st.requests.insert(key, r);
    Ok(())
}

/// Re-derives every event's instants; stores those that moved (and the new tzdb version on
/// the rest) unless `dry_run`.
pub(crate) fn recompute_all(st: &mut State, tx: &mut Tx, now: i64, dry_run: bool) -> Recomputed {
    let mut out = Recomputed::default();
    let events: Vec<Arc<Event>> = st.events.all().cloned().collect();
    for e in events {
        out.examined += 1;
        let Ok(r) = crate::events::recompute(&e) else {
            tracing::warn!(event = %e.id, "cannot recompute instants; keeping the stored ones");
            continue;
        };
        let moved = r.start.utc != e.start.utc || r.end.utc != e.end.utc;
        if !moved && e.tzdb_version == TZDB_VERSION {
            continue;
        }
        let mut next = (*e).clone();
        next.start = r.start;
        next.end = r.end;
        next.tzdb_version = TZDB_VERSION.into();
        if moved {
            next.meta = e.meta.bumped(now);
        }
        if dry_run {
            if moved {
                out.moved.push(Moved {
                    event: Arc::new(next),
                    previous_tzdb: e.tzdb_version.to_string(),
                    previous_start: e.start.utc,
                    previous_end: e.end.utc,
                });
            }
            continue;
        }
        if moved {
            let revision = Revision {
                revision: next.meta.revision,
                action: Action::InstantsRecomputed,
                time: now,
                actor: "system".into(),
                changed: vec!["timing".into()],
                overridden: Vec::new(),
                note: format!(
                    "tzdb {} -> {}: the wall time was kept, the instants moved",
                    e.tzdb_version, TZDB_VERSION
                ),
            };
            let stored = store_event(st, tx, next, revision);
            out.moved.push(Moved {
                event: stored,
                previous_tzdb: e.tzdb_version.to_string(),
                previous_start: e.start.utc,
                previous_end: e.end.utc,
            });
        } else {
            // Only the tzdb label changes: the event reads the same, its etag stays.
            tx.relabel_event(&next);
            st.events.insert(next);
        }
    }
    if !dry_run {
        tx.put_meta("tzdb", &TZDB_VERSION.to_string());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::Directory;

    #[test]
    fn a_directory_finds_by_id_and_lists_in_id_order_after_a_key() {
        let mut d = Directory::default();
        for id in ["p3", "p1", "p20", "p2"] {
            d.insert(id.into(), id.to_uppercase());
        }
        d.insert("p1".into(), "replaced".to_string());
        d.remove("p20");
        d.remove("absent");
        assert_eq!(d.get("p1").map(String::as_str), Some("replaced"));
        assert!(d.contains_key("p2") && !d.contains_key("p20"));
        let ids = |after: Option<&str>| -> Vec<String> {
            let page = crate::validate::PageRequest {
                size: 10,
                after: after.map(str::to_string),
                query: 0,
            };
            d.range(page.rest())
                .map(|(id, _): (&crate::events::Str, &String)| id.to_string())
                .collect()
        };
        assert_eq!(ids(None), ["p1", "p2", "p3"]);
        assert_eq!(ids(Some("p1")), ["p2", "p3"]);
        // A page token naming a record deleted since still resumes in order.
        assert_eq!(ids(Some("p20")), ["p3"]);
        assert_eq!(ids(Some("p3")), Vec::<String>::new());
    }
}
