//! A scheduler's side of a PostgreSQL store shared with other servers: the commit point
//! over the database, catching up on other servers' commits, and following them.
//!
//! # Writes: group commit under the database's commit lock
//!
//! Commits are serialised by the head row's lock (`storage::postgres`), which a
//! transaction holds until its COMMIT is durable. One write per transaction would make
//! every booking wait for all earlier ones' round trips and fsyncs in turn, so writes
//! arriving together on one server share a transaction:
//!
//! 1. A writer takes the group lock. If no group is open it opens one: a lease (the
//!    commit lock, and the batches other servers committed since: one round trip), whose
//!    batches it applies.
//! 2. It runs its closure on the state (every check against every committed write, plus
//!    the writes already in the group, which commit before it), stages its batch in the
//!    group and lets the group lock go.
//! 3. A commit task takes the group lock, takes the open group and commits all its
//!    batches in one transaction (one round trip), each its own revision and log entry;
//!    then mirrors and publishes them and answers their writers. It keeps the group lock
//!    through all of it, so writers that arrive meanwhile queue and form the next group.
//!
//! Each writer spawns a commit task after staging; the first to get the lock commits the
//! group, the others find nothing to do. The tasks, not the writers, commit, so a writer
//! whose call is cancelled never leaves a group (and the database's lock) open.
//!
//! If a commit fails, memory (changed by the group's closures) is rebuilt from the local
//! mirror, which holds exactly the batches committed before the group, and the writers
//! get the error. If the commit did reach the database (a connection lost after COMMIT),
//! the next catch-up reads it back like any other server's, and a retry with the same
//! `request_id` returns its result.
//!
//! # Reads: coalesced catch-ups
//!
//! Before a request is served, the server reads the batches committed since its last
//! (`Scheduler::catch_up`). Such a query serves every request that arrived before it was
//! sent; a request that arrives while the ones in flight all started earlier starts
//! another (up to a few at once) or waits for the next. Each request still sees every
//! write acknowledged before it arrived, by any server, and the database sees one query
//! per burst of requests instead of one per request.
//!
//! # The only writer
//!
//! A server holding the sole-writer lease (`crate::solo`) knows no other server commits:
//! it skips the catch-up, and its groups take no lease; their commit (one call, its own
//! transaction) first proves the lease still held and the log unmoved
//! (`Postgres::commit_solo`).
//!
//! Such a group also commits without the group lock: while its round trip is in flight,
//! writers run their closures and form the next group, which commits once the first has
//! settled (the first one's committer takes it). Without this the writers queued behind
//! the lock for the whole round trip and only then ran their checks one by one; with it
//! bookings on PostgreSQL went from 2.3k to 3.5k/s (`bench/README.md`). While a group is
//! in flight memory is ahead of the mirror and the log may hold the group before the
//! mirror does, so whatever reads the log (a catch-up, a lease) first waits for it to
//! settle (`Scheduler::drained`). If it fails, the group formed meanwhile, whose closures
//! read its writes, fails with it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::{Mutex, oneshot, watch};

use crate::commit::Commit;
use crate::error::{Error, Result};
use crate::lock;
use crate::scheduler::{Scheduler, Settings, State};
use crate::solo::{Solo, writable_lease};
use crate::storage::postgres::{Busy, BusyChanges, Lease, Postgres, in_task, release};
use crate::storage::wal::Ops;
use crate::storage::{Batch, memory::MemoryBackend};

/// Connections each server keeps to a shared PostgreSQL store.
const POOL_SIZE: usize = 16;

/// What a write commits: its batch, and the commit record when it is a revision.
pub(crate) type Pending = Option<(Batch, Option<Commit>)>;

/// The shared store and this server's place in its log.
pub(crate) struct Shared {
    pub(crate) db: Postgres,
    /// The group lock (see the module docs).
    pub(crate) group: Mutex<Group>,
    /// The sole-writer lease (`crate::solo`).
    pub(crate) solo: Solo,
    /// The last log entry applied to memory, readable without the group lock.
    applied_hint: AtomicU64,
    /// Coalesced catch-ups: how many were started and finished.
    probes: std::sync::Mutex<Probes>,
    /// Told when a catch-up finishes, for the requests waiting on one.
    probed: watch::Sender<()>,
    /// Told when a group in flight has settled (`Group::in_flight`).
    settled: tokio::sync::Notify,
    /// The groups memory holds the writes of before they commit (see `settle_reads`).
    unsettled: Unsettled,
}

/// The groups whose writes memory holds before they are committed, by number: a request
/// that read memory while one was there answers only once it has settled, and not at all
/// if it failed ([`Scheduler::settle_reads`]).
#[derive(Debug)]
struct Unsettled {
    opened: AtomicU64,
    open: std::sync::Mutex<std::collections::BTreeSet<u64>>,
    failed: AtomicU64,
    changed: watch::Sender<()>,
}

impl Unsettled {
    fn new() -> Unsettled {
        Unsettled {
            opened: AtomicU64::new(0),
            open: Default::default(),
            failed: AtomicU64::new(0),
            changed: watch::channel(()).0,
        }
    }

    /// A number for a group being formed.
    fn open_group(&self) -> u64 {
        let n = self.opened.fetch_add(1, Ordering::AcqRel) + 1;
        lock(&self.open).insert(n);
        n
    }

    /// Group `n` committed, or (`failed`) memory no longer holds its writes.
    fn settle(&self, n: u64, failed: bool) {
        lock(&self.open).remove(&n);
        if failed {
            self.failed.fetch_add(1, Ordering::AcqRel);
        }
        self.changed.send_replace(());
    }
}

impl Shared {
    /// The last log entry applied, without the group lock.
    pub(crate) fn applied(&self) -> u64 {
        self.applied_hint.load(Ordering::Acquire)
    }
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared").finish_non_exhaustive()
    }
}

#[derive(Debug, Default)]
struct Probes {
    /// Catch-ups started so far (each is numbered by the count when it started).
    started: u64,
    /// How many are running.
    running: usize,
    /// The highest number finished: every catch-up numbered up to it started before it
    /// finished, and it covers every request that arrived before it started.
    finished: u64,
    /// Why that one failed, if it did.
    failure: Option<String>,
}

/// Catch-ups a server runs at once. One at a time made each request wait for the one in
/// flight and then its own (about 1.5 round trips); a few at once let a request that
/// arrives just after one started start the next at once.
const MAX_PROBES: usize = 4;

/// What the group lock guards.
#[derive(Debug)]
pub(crate) struct Group {
    /// The last log entry applied to the mirror: everything committed up to it. Memory
    /// holds it too, and is ahead while a group is in flight or being formed (the
    /// closures change memory when they stage).
    pub(crate) applied: u64,
    /// The group being formed, if any.
    pub(crate) open: Option<Open>,
    /// Whether a group committed without a lease (by the sole writer) is in flight: its
    /// commit runs without the group lock, so that the next group forms meanwhile. Memory
    /// then holds its writes, the mirror does not yet, and the log may already: whoever
    /// reads the log, or takes a lease, first waits until none is (`Scheduler::drained`).
    pub(crate) in_flight: bool,
    /// How many groups failed to commit (memory was rebuilt each time).
    failures: u64,
}

/// A group being formed: the database's commit lock (none while this server holds the
/// sole-writer lease: the commit takes it), the batches staged under it, and the writers
/// that wrote nothing but read what the group (or the one in flight) wrote, which hear
/// back with the group.
#[derive(Debug)]
pub(crate) struct Open {
    lease: Option<Lease>,
    staged: Vec<Staged>,
    followers: Vec<oneshot::Sender<Result<()>>>,
    /// Its number among the groups ([`Unsettled`]).
    number: u64,
}

impl Open {
    fn new(lease: Option<Lease>, number: u64) -> Open {
        Open {
            lease,
            staged: Vec::new(),
            followers: Vec::new(),
            number,
        }
    }

    /// Whether it commits without a lease (`Postgres::commit_solo`).
    pub(crate) fn lease_less(&self) -> bool {
        self.lease.is_none()
    }
}

/// One write waiting in a group.
#[derive(Debug)]
struct Staged {
    batch: Batch,
    commit: Option<Commit>,
    busy: BusyChanges,
    done: oneshot::Sender<Result<()>>,
}

impl Scheduler {
    /// Opens the PostgreSQL store at `url` (a `postgres://` URL or `key=value` string),
    /// shared with any number of other servers: applies the schema migrations this binary
    /// carries, loads every record into memory, and follows the other servers' commits
    /// from then on. Must be called inside a tokio runtime.
    pub async fn open_postgres(url: &str, settings: Settings) -> Result<Scheduler> {
        let db = Postgres::new(url, POOL_SIZE)?;
        let applied = db.migrate().await?;
        if !applied.is_empty() {
            tracing::info!(versions = ?applied, "database schema migrated");
        }
        let (seq, records) = db.snapshot().await?;
        let mirror = Arc::new(MemoryBackend::with(records));
        let shared = Shared {
            db,
            group: Mutex::new(Group {
                applied: seq,
                open: None,
                in_flight: false,
                failures: 0,
            }),
            applied_hint: AtomicU64::new(seq),
            solo: Solo::new(settings.solo_lease)?,
            probes: Default::default(),
            probed: watch::channel(()).0,
            settled: tokio::sync::Notify::new(),
            unsettled: Unsettled::new(),
        };
        let scheduler = Scheduler::build(mirror, settings, Some(shared))?;
        scheduler.upgrade_tzdb_shared().await?;
        scheduler.follow_others();
        scheduler.keep_solo();
        Ok(scheduler)
    }

    /// Whether this server holds the sole-writer lease and may answer reads without
    /// asking the database (see `solo`); false over sled.
    pub fn answers_from_memory(&self) -> bool {
        self.shared().is_some_and(|s| s.solo.fresh())
    }

    /// Round trips this server made to its shared store, if it has one (see
    /// `storage::postgres::RoundTrips`): `(operations, prepares)`.
    pub fn database_round_trips(&self) -> Option<(u64, u64)> {
        let rt = self.shared()?.db.round_trips();
        Some((
            rt.operations.load(Ordering::Relaxed),
            rt.prepares.load(Ordering::Relaxed),
        ))
    }

    /// The commit point over a shared store (see the module docs): runs `f` on the state
    /// brought up to date under the database's commit lock and commits the batch it
    /// returns, with the commit record when it is a revision, in the next group.
    pub(crate) async fn write_shared<R>(
        &self,
        shared: &Shared,
        f: impl FnOnce(&mut State, i64) -> Result<(R, Pending)>,
    ) -> Result<R> {
        let (result, done) = {
            let mut group = shared.group.lock().await;
            let applied_before = group.applied;
            while group.open.is_none() {
                if shared.solo.fresh() {
                    // The only writer: memory holds every commit, and the commit itself
                    // proves that still true (`Postgres::commit_solo`).
                    group.open = Some(Open::new(None, shared.unsettled.open_group()));
                    break;
                }
                if group.in_flight {
                    // The lease brings the log since `applied`, which may already hold
                    // the group in flight.
                    drop(group);
                    group = self.drained(shared).await;
                    continue;
                }
                let after = group.applied;
                let db = shared.db.clone();
                let me = shared.solo.me.clone();
                let asked = std::time::Instant::now();
                let mut lease =
                    in_task(async move { writable_lease(&db, &me, after).await }).await?;
                tracing::debug!(
                    micros = asked.elapsed().as_micros() as u64,
                    foreign = lease.foreign.len(),
                    "lease"
                );
                let foreign = std::mem::take(&mut lease.foreign);
                if let Err(e) = self.apply_foreign(shared, &mut group, foreign) {
                    release(lease);
                    return Err(e);
                }
                group.open = Some(Open::new(Some(lease), shared.unsettled.open_group()));
            }
            let outcome = {
                let mut state = self.write_state();
                let now = self.now();
                f(&mut state, now).map(|(result, pending)| {
                    let busy = match &pending {
                        Some((_, Some(commit))) => busy_changes(&state, commit),
                        _ => BusyChanges::default(),
                    };
                    (result, pending, busy)
                })
            };
            let (result, batch, commit, busy) = match outcome {
                Ok((result, Some((batch, commit)), busy)) => (result, batch, commit, busy),
                Ok((result, None, _)) => {
                    close_if_empty(shared, &mut group);
                    // Other servers' commits this call applied (an idempotent retry's first
                    // result may be one) reach this server's change feed once durable
                    // here: now, not at the next commit, which may be long in coming.
                    let foreign = group.applied > applied_before;
                    // Nothing to write, but what was read (an idempotent retry's first
                    // result, say) may be a write not committed yet: answer once it is.
                    if let Some(open) = group.open.as_mut() {
                        let (done, wait) = oneshot::channel();
                        open.followers.push(done);
                        drop(group);
                        let scheduler = self.clone();
                        tokio::spawn(async move { scheduler.commit_group().await });
                        wait.await.map_err(|_| Error::ShuttingDown)??;
                    } else if group.in_flight {
                        let failures = group.failures;
                        drop(group);
                        if self.drained(shared).await.failures != failures {
                            return Err(Error::Database(
                                "a write this answer depends on did not commit".into(),
                            ));
                        }
                    } else {
                        drop(group);
                    }
                    if foreign {
                        self.store().sync().await?;
                    }
                    return Ok(result);
                }
                Err(e) => {
                    close_if_empty(shared, &mut group);
                    return Err(e);
                }
            };
            let (done, wait) = oneshot::channel();
            if let Some(open) = group.open.as_mut() {
                open.staged.push(Staged {
                    batch,
                    commit,
                    busy,
                    done,
                });
            }
            (result, wait)
        };
        let scheduler = self.clone();
        tokio::spawn(async move { scheduler.commit_group().await });
        done.await.map_err(|_| Error::ShuttingDown)??;
        Ok(result)
    }

    /// The group lock, once no group is in flight (see `Group::in_flight`).
    pub(crate) async fn drained<'a>(
        &self,
        shared: &'a Shared,
    ) -> tokio::sync::MutexGuard<'a, Group> {
        loop {
            let group = shared.group.lock().await;
            if !group.in_flight {
                return group;
            }
            // Enabled before the lock is let go: the settling commit, which needs the
            // lock, cannot tell before this waits.
            let settled = shared.settled.notified();
            tokio::pin!(settled);
            settled.as_mut().enable();
            drop(group);
            settled.await;
        }
    }

    /// Commits the open group, if any, and then each group that formed while it was in
    /// flight (see the module docs). Returns at once if a group is in flight: its
    /// committer takes the next.
    pub(crate) async fn commit_group(self) {
        let Some(shared) = self.shared() else { return };
        let mut group = shared.group.lock().await;
        loop {
            if group.in_flight {
                return;
            }
            let Some(open) = group.open.take() else {
                return;
            };
            let Open {
                lease,
                staged,
                followers,
                number,
            } = open;
            let busy = group_busy(&staged);
            let batches: Vec<&Ops> = staged.iter().map(|s| s.batch.ops()).collect();
            let started = std::time::Instant::now();
            let committed = match lease {
                // Under the group lock: the lease already holds the database's.
                Some(lease) => lease.commit(&batches, &busy).await,
                None => {
                    // Without the group lock, so the next group forms meanwhile; it
                    // commits after this one has settled (this loop), and its guard
                    // refuses it if this one did not commit.
                    group.in_flight = true;
                    let head = group.applied;
                    drop(group);
                    let committed = shared
                        .db
                        .commit_solo(&shared.solo.me, head, &batches, &busy)
                        .await;
                    group = shared.group.lock().await;
                    group.in_flight = false;
                    committed
                }
            };
            tracing::debug!(
                writes = staged.len(),
                micros = started.elapsed().as_micros() as u64,
                "group commit"
            );
            drop(batches);
            let (answers, outcome) = self.settle(shared, &mut group, (number, staged), committed);
            shared.settled.notify_waiters();
            drop(group);
            // Outside the group lock: the feed publishes in the order the batches were
            // staged, whoever waits for it.
            let outcome = match outcome {
                Ok(()) => self.store().sync().await,
                Err(e) => Err(e),
            };
            for done in answers.into_iter().chain(followers) {
                let _ = done.send(outcome.as_ref().map_err(shareable).copied());
            }
            group = shared.group.lock().await;
        }
    }

    /// After a group's commit, under the group lock: mirrors and stages its batches when
    /// it committed; when it did not, rebuilds memory from the mirror (which holds
    /// exactly what committed before it) and fails the group being formed, whose writes
    /// memory no longer holds. Returns the writers to answer and the outcome so far.
    fn settle(
        &self,
        shared: &Shared,
        group: &mut Group,
        (number, staged): (u64, Vec<Staged>),
        committed: Result<u64>,
    ) -> (Vec<oneshot::Sender<Result<()>>>, Result<()>) {
        match committed {
            Ok(last) => {
                shared.unsettled.settle(number, false);
                group.applied = last;
                shared.applied_hint.store(last, Ordering::Release);
                let mut answers = Vec::with_capacity(staged.len());
                let mut outcome = Ok(());
                for s in staged {
                    let applied = match s.commit {
                        Some(c) => self.feed().stage(self.store(), s.batch, c),
                        None => self.store().apply(s.batch).map(|_| ()),
                    };
                    if let Err(e) = applied
                        && outcome.is_ok()
                    {
                        outcome = Err(e);
                    }
                    answers.push(s.done);
                }
                (answers, outcome)
            }
            Err(e) => {
                tracing::warn!(error = %e, writes = staged.len(), "group commit failed; memory rebuilt from the committed state");
                shared.solo.distrust();
                group.failures += 1;
                match crate::scheduler::load(self.store()) {
                    // The mirror is at `group.applied`, which the group never moved.
                    Ok(state) => *self.write_state() = state,
                    Err(r) => tracing::error!(error = %r, "cannot rebuild memory from the mirror"),
                }
                shared.unsettled.settle(number, true);
                let mut answers: Vec<_> = staged.into_iter().map(|s| s.done).collect();
                if let Some(next) = group.open.take() {
                    shared.unsettled.settle(next.number, true);
                    answers.extend(next.staged.into_iter().map(|s| s.done));
                    answers.extend(next.followers);
                    if let Some(lease) = next.lease {
                        release(lease);
                    }
                }
                (answers, Err(e))
            }
        }
    }

    /// Applies batches committed by other servers, in order, to memory and the mirror;
    /// those already applied are skipped.
    pub(crate) fn apply_foreign(
        &self,
        shared: &Shared,
        group: &mut Group,
        batches: Vec<(u64, Ops)>,
    ) -> Result<()> {
        for (seq, ops) in batches {
            if seq <= group.applied {
                continue;
            }
            if seq != group.applied + 1 {
                return Err(Error::Database(format!(
                    "the commit log jumps from {} to {seq}",
                    group.applied
                )));
            }
            let applied = crate::replica::apply(&mut self.write_state(), &ops)?;
            // Another server compacted the change log: this one's watchers must not be
            // told the compacted revisions are still there.
            if let Some(oldest) = applied.oldest
                && oldest > self.feed().oldest_revision()
            {
                self.feed().set_oldest(oldest);
            }
            let commit = applied.commit;
            let batch = Batch::from_ops(ops);
            match commit {
                Some(commit) => self.feed().stage(self.store(), batch, commit)?,
                None => {
                    self.store().apply(batch)?;
                }
            }
            group.applied = seq;
            shared.applied_hint.store(seq, Ordering::Release);
            shared.solo.others_active();
            if shared.solo.holding() {
                shared.solo.distrust();
                tracing::warn!(
                    "another server committed while this one held the sole-writer lease \
                     (an entente older than this one?): reads ask the database again"
                );
            }
        }
        Ok(())
    }

    /// Over PostgreSQL, what a request's answer is later checked against
    /// ([`Scheduler::settle_reads`]): the groups that have failed so far. `None` over sled,
    /// whose writes are in memory only once they are in the store.
    pub(crate) fn read_mark(&self) -> Option<u64> {
        self.shared()
            .map(|s| s.unsettled.failed.load(Ordering::Acquire))
    }

    /// Over PostgreSQL, a write is in memory from the moment it is staged until its group
    /// commits: a request that read memory meanwhile may have seen it. Called once the
    /// answer is made: waits until every group whose writes memory held by then has
    /// settled, and is ABORTED if a group failed since `mark` (memory was rebuilt without
    /// its writes, which the answer may name). Groups formed later are not waited for.
    pub(crate) async fn settle_reads(&self, mark: u64) -> Result<()> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let u = &shared.unsettled;
        let target = u.opened.load(Ordering::Acquire);
        let mut changed = u.changed.subscribe();
        while lock(&u.open).first().is_some_and(|&n| n <= target) {
            if changed.changed().await.is_err() {
                break;
            }
        }
        if u.failed.load(Ordering::Acquire) > mark {
            return Err(Error::Aborted(
                "a write being committed while this request read did not commit, and what \
                 this server held was rolled back: ask again"
                    .into(),
            ));
        }
        Ok(())
    }

    /// Over PostgreSQL, brings this server up to every write committed before the call,
    /// by any server (nothing to do over sled). The gRPC layer calls it before every
    /// request, so a write acknowledged by one server is seen by a read issued afterwards
    /// on any other. Embedders that share a database call it before a read that must see
    /// other servers' writes. Calls that arrive together share one query (see the module
    /// docs).
    pub async fn catch_up(&self) -> Result<()> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        if shared.solo.fresh() {
            return Ok(());
        }
        // A catch-up that starts from now on covers this call: one numbered `needed` or
        // later.
        let needed = lock(&shared.probes).started + 1;
        let mut finished = shared.probed.subscribe();
        loop {
            // Marked seen before the state is read: a catch-up that finishes after this
            // point wakes the wait below.
            finished.borrow_and_update();
            let run = {
                let mut p = lock(&shared.probes);
                if p.finished >= needed {
                    return match &p.failure {
                        None => Ok(()),
                        Some(why) => Err(Error::Database(why.clone())),
                    };
                }
                if p.started < needed && p.running < MAX_PROBES {
                    p.running += 1;
                    p.started += 1;
                    Some(p.started)
                } else {
                    // One that covers this call is running, or too many are: wait for one
                    // to finish, then look again.
                    None
                }
            };
            match run {
                Some(number) => {
                    // A task: it finishes (and makes room for the next) even if this call
                    // is cancelled.
                    let scheduler = self.clone();
                    let _ = tokio::spawn(async move { scheduler.probe(number).await }).await;
                }
                None => {
                    let _ = finished.changed().await;
                }
            }
        }
    }

    /// One catch-up: reads the batches committed since the last applied and applies them.
    async fn probe(&self, number: u64) {
        let Some(shared) = self.shared() else { return };
        let outcome = async {
            let after = shared.applied_hint.load(Ordering::Acquire);
            let batches = shared.db.since(after).await?;
            if batches.is_empty() {
                return Ok(());
            }
            {
                // Drained: a batch of this server's group in flight may be among them.
                let mut group = self.drained(shared).await;
                self.apply_foreign(shared, &mut group, batches)?;
            }
            self.store().sync().await
        }
        .await;
        let mut p = lock(&shared.probes);
        p.running -= 1;
        if number > p.finished {
            p.finished = number;
            p.failure = outcome.err().map(|e| e.to_string());
        }
        drop(p);
        shared.probed.send_replace(());
    }

    /// Follows the other servers' commits as they happen (their notifications, and a
    /// poll every `Settings::follow_others` in case one is missed), so change feed
    /// watchers get them without waiting for a request. Both tasks end once the
    /// scheduler is dropped.
    fn follow_others(&self) {
        let (Some(shared), Some(every)) = (self.shared(), self.settings().follow_others) else {
            return;
        };
        let wake = Arc::new(tokio::sync::Notify::new());
        let db = shared.db.clone();
        let woken = wake.clone();
        let (me, asked) = (shared.solo.me.clone(), shared.solo.asked.clone());
        let listener = tokio::spawn(async move {
            loop {
                if let Err(e) = db.listen(woken.clone(), me.clone(), asked.clone()).await {
                    tracing::warn!(error = %e, "not listening for other servers' commits; polling");
                }
                tokio::time::sleep(every).await;
            }
        });
        let weak = self.downgrade();
        tokio::spawn(async move {
            loop {
                tokio::select! {
                    _ = wake.notified() => {}
                    _ = tokio::time::sleep(every) => {}
                }
                let Some(scheduler) = Scheduler::upgrade(&weak) else {
                    break;
                };
                if let Err(e) = scheduler.catch_up().await {
                    tracing::warn!(error = %e, "cannot read other servers' commits");
                }
            }
            listener.abort();
        });
    }

    /// Over PostgreSQL, the tzdb upgrade the sled store makes at open, as a shared write:
    /// the first server with a new tzdb makes it, the others find it made.
    async fn upgrade_tzdb_shared(&self) -> Result<()> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let store = self.store().clone();
        self.write_shared(shared, move |st, now| {
            Ok((
                (),
                crate::scheduler::tzdb_upgrade(&store, st, now)?.map(|b| (b, None)),
            ))
        })
        .await
    }
}

/// One outcome for each writer of a group.
fn shareable(e: &Error) -> Error {
    match e {
        Error::DoubleBooking => Error::DoubleBooking,
        Error::Database(why) => Error::Database(why.clone()),
        other => Error::Database(other.to_string()),
    }
}

/// The busy ranges a group changes: each event's as its last write in the group left them.
fn group_busy(staged: &[Staged]) -> BusyChanges {
    let mut busy = BusyChanges::default();
    let mut seen = std::collections::HashSet::new();
    for s in staged.iter().rev() {
        for id in &s.busy.events {
            if seen.insert(id.clone()) {
                busy.events.push(id.clone());
                busy.ranges
                    .extend(s.busy.ranges.iter().filter(|r| r.event_id == *id).cloned());
            }
        }
    }
    busy
}

/// A group whose only writer wrote nothing (or was refused) holds the database's commit
/// lock for nothing: let it go.
fn close_if_empty(shared: &Shared, group: &mut Group) {
    if group
        .open
        .as_ref()
        .is_some_and(|o| o.staged.is_empty() && o.followers.is_empty())
        && let Some(open) = group.open.take()
    {
        // It wrote nothing to memory.
        shared.unsettled.settle(open.number, false);
        if let Some(lease) = open.lease {
            release(lease);
        }
    }
}

/// The busy ranges (`storage::postgres::Busy`) a commit changes: those of the events it
/// wrote, and of their sidelines when an event moved to another programme (their family
/// changed with it).
fn busy_changes(st: &State, commit: &Commit) -> BusyChanges {
    use crate::commit::Record;
    let mut ids: Vec<crate::events::Str> = Vec::new();
    for c in &commit.changes {
        let Some(Record::Event(after)) = &c.after else {
            continue;
        };
        ids.push(after.id.clone());
        let parent_before = match &c.before {
            Some(Record::Event(b)) => b.parent_id.clone(),
            _ => None,
        };
        if parent_before != after.parent_id {
            ids.extend(st.events.descendants(&after.id));
        }
    }
    ids.sort();
    ids.dedup();
    let ranges = ids
        .iter()
        .filter_map(|id| st.events.get(id))
        .flat_map(|e| busy_of(st, e))
        .collect();
    BusyChanges {
        events: ids.into_iter().map(|i| i.to_string()).collect(),
        ranges,
    }
}

/// The ranges an event holds under the exclusion constraint: none unless it is live and
/// booked without overriding a conflict; its confirmed participants, and its venue when
/// the event is confirmed.
fn busy_of(st: &State, e: &crate::events::Event) -> Vec<Busy> {
    use crate::events::EventStatus;
    if !e.is_live() || !e.overrides.is_empty() {
        return Vec::new();
    }
    // The outermost ancestor: `ancestors` lists them nearest first.
    let family = st.events.ancestors(e).pop().unwrap_or_else(|| e.id.clone());
    let range = |axis: u8, holder: &str| Busy {
        event_id: e.id.to_string(),
        axis,
        holder: holder.to_string(),
        family: family.to_string(),
        start: e.start.utc,
        end: e.end.utc,
    };
    let mut out: Vec<_> = e
        .participants
        .iter()
        .filter(|p| e.status_for(p) == Some(EventStatus::Confirmed))
        .map(|p| range(b'p', p))
        .collect();
    if e.status == EventStatus::Confirmed && !e.venue_id.is_empty() {
        out.push(range(b'v', &e.venue_id));
    }
    out
}
