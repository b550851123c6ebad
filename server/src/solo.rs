//! The sole-writer lease: while one server is the only one writing to a shared PostgreSQL
//! store, it answers reads from memory without asking the database first.
//!
//! A server sharing a store proves its memory fresh before each request by reading the
//! commit log (`Scheduler::catch_up`): one round trip, because another server may have
//! acknowledged a write a moment ago. When no other server writes, that proof can come
//! from the database's commit lock instead. The lease is three columns of the head row:
//! its holder, a term the holder bumps at every renewal, and how long the holder trusts
//! one renewal (`entente_head.solo_*`).
//!
//! - **Taking it.** A server that has seen no other server write, or ask for the lease,
//!   for one lease period takes it in a write transaction (under the head row's lock,
//!   after reading every batch committed before it), and renews it every quarter period.
//! - **What it forbids.** A write by any other server reads the head row under the same
//!   lock before it commits anything (`Postgres::lease`). While another server holds the
//!   lease, it commits nothing: it asks for the lease (a flag and a notification) and
//!   tries again. The holder lets the lease go when asked, at once when it hears the
//!   notification, else at its next renewal.
//! - **What the holder may do.** From a renewal *sent* at time `s` (by its monotonic
//!   clock), the holder answers reads from memory until `s + 4/5 × period`: no other
//!   server can have committed in that time, so memory holds every acknowledged write.
//!   It stops trusting before it lets the lease go, so a read it answers without asking
//!   started before the write that follows the release.
//! - **A holder that stops answering** (frozen, cut off, dead) cannot be asked. A writer
//!   that sees the same holder and term for longer than the holder's period (by its own
//!   clock, from its first sight of that term, which came after the renewal was sent)
//!   ends the lease and writes. By then the holder, if it still runs, stopped trusting
//!   the renewal at `s + 4/5 × period`: the fifth is the margin for the two clocks'
//!   rates, not their readings, which may differ by anything.
//!
//! The holder also checks, at each renewal, that the log did not move past its memory;
//! if it did (a server of an older entente that knows nothing of the lease), it stops
//! trusting, says so in its log, and reads the batches like any others.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::error::Result;
use crate::lock;
use crate::storage::postgres::{Lease, Postgres};

/// One server's side of the lease.
#[derive(Debug)]
pub(crate) struct Solo {
    /// This server, as the lease's holder column names it: random, per process.
    pub me: std::sync::Arc<str>,
    /// The lease period; `None` never takes the lease (other servers' still stop this
    /// one's writes until they let theirs go).
    pub period: Option<Duration>,
    /// Until when this server may answer reads without asking, while it holds the lease.
    trusted: Mutex<Option<Instant>>,
    /// When this server last saw another server write or ask for the lease.
    others: Mutex<Instant>,
    /// Woken when another server asks for the lease.
    pub asked: std::sync::Arc<tokio::sync::Notify>,
    /// Set when the server stops serving: it never takes the lease again.
    retired: std::sync::atomic::AtomicBool,
}

impl Solo {
    pub fn new(period: Option<Duration>) -> Result<Solo> {
        let mut id = [0u8; 12];
        getrandom::fill(&mut id)
            .map_err(|e| crate::error::Error::Database(format!("no randomness for an id: {e}")))?;
        let me: String = id.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Solo {
            me: me.into(),
            period,
            trusted: Mutex::new(None),
            others: Mutex::new(Instant::now()),
            asked: Default::default(),
            retired: Default::default(),
        })
    }

    /// Whether memory is known fresh now without asking the database.
    pub fn fresh(&self) -> bool {
        lock(&self.trusted).is_some_and(|until| Instant::now() < until)
    }

    /// Whether this server believes it holds the lease (trusted or due for renewal).
    pub fn holding(&self) -> bool {
        lock(&self.trusted).is_some()
    }

    /// A renewal (or the taking) sent at `sent` succeeded.
    fn trust(&self, sent: Instant) {
        if let Some(period) = self.period {
            *lock(&self.trusted) = Some(sent + period * 4 / 5);
        }
    }

    /// Stops trusting the lease, before it is let go or because it was lost.
    pub fn distrust(&self) {
        *lock(&self.trusted) = None;
    }

    /// Another server wrote, or asked for the lease.
    pub fn others_active(&self) {
        *lock(&self.others) = Instant::now();
    }

    /// Whether no other server wrote or asked for a whole period.
    fn quiet(&self, period: Duration) -> bool {
        lock(&self.others).elapsed() >= period
    }
}

/// A write's lease on the commit lock, once no other server holds the sole-writer lease:
/// asks a holder to let it go and tries again, and ends a lease its holder stopped
/// renewing (see the module docs).
pub(crate) async fn writable_lease(db: &Postgres, me: &str, after: u64) -> Result<Lease> {
    let mut seen: Option<(crate::storage::postgres::SoloLease, Instant)> = None;
    let mut pause = Duration::from_millis(1);
    loop {
        let lease = db.lease(after).await?;
        let other = match &lease.solo {
            Some(s) if *s.holder != *me => s.clone(),
            _ => return Ok(lease),
        };
        let now = Instant::now();
        let first = match &seen {
            Some((s, at)) if *s == other => *at,
            _ => {
                seen = Some((other.clone(), now));
                now
            }
        };
        if now.duration_since(first) > other.period {
            tracing::warn!(holder = %other.holder, "the sole-writer lease was not renewed in time; ending it");
            lease.end_solo().await?;
            continue;
        }
        lease.ask_for_solo(&other.holder).await?;
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(50));
    }
}

impl crate::scheduler::Scheduler {
    /// Takes, renews and lets go of the sole-writer lease for as long as the scheduler
    /// lives (see the module docs). Nothing when the lease is off.
    pub(crate) fn keep_solo(&self) {
        let Some(shared) = self.shared() else { return };
        let Some(period) = shared.solo.period else {
            return;
        };
        let asked = shared.solo.asked.clone();
        let weak = self.downgrade();
        tokio::spawn(async move {
            loop {
                let was_asked = tokio::select! {
                    _ = asked.notified() => true,
                    _ = tokio::time::sleep(period / 4) => false,
                };
                let Some(scheduler) = crate::scheduler::Scheduler::upgrade(&weak) else {
                    break;
                };
                scheduler.solo_step(period, was_asked).await;
            }
        });
    }

    /// Over PostgreSQL, lets the sole-writer lease go for good, so that the next write on
    /// another server need not wait out its period. A server calls it when it stops
    /// serving; nothing over sled.
    pub async fn step_down(&self) {
        let Some(shared) = self.shared() else { return };
        shared
            .solo
            .retired
            .store(true, std::sync::atomic::Ordering::Release);
        self.let_solo_go().await;
    }

    /// One step of `keep_solo`.
    async fn solo_step(&self, period: Duration, asked: bool) {
        let Some(shared) = self.shared() else { return };
        let solo = &shared.solo;
        if solo.retired.load(std::sync::atomic::Ordering::Acquire) {
            return;
        }
        if asked {
            return self.let_solo_go().await;
        }
        if solo.holding() {
            let sent = Instant::now();
            match shared.db.renew_solo(&solo.me).await {
                Ok(Some((false, head))) => {
                    if head > shared.applied() && self.read_behind().await {
                        return;
                    }
                    solo.trust(sent)
                }
                Ok(Some((true, _))) => self.let_solo_go().await,
                Ok(None) => {
                    solo.distrust();
                    solo.others_active();
                    tracing::info!("the sole-writer lease was ended by another server");
                }
                Err(e) => {
                    solo.distrust();
                    tracing::warn!(error = %e, "cannot renew the sole-writer lease");
                }
            }
            return;
        }
        if !solo.quiet(period) {
            return;
        }
        if let Err(e) = self.take_solo(period).await {
            tracing::warn!(error = %e, "cannot take the sole-writer lease");
        }
    }

    /// Takes the lease if nothing stands in the way.
    async fn take_solo(&self, period: Duration) -> Result<()> {
        let Some(shared) = self.shared() else {
            return Ok(());
        };
        let solo = &shared.solo;
        let mut group = self.drained(shared).await;
        // Checked under the group lock, which `step_down` takes before it lets go: a lease
        // taken here is let go there.
        if group.open.is_some() || solo.retired.load(std::sync::atomic::Ordering::Acquire) {
            return Ok(());
        }
        let sent = Instant::now();
        let db = shared.db.clone();
        let after = group.applied;
        let mut lease =
            crate::storage::postgres::in_task(async move { db.lease(after).await }).await?;
        let foreign = std::mem::take(&mut lease.foreign);
        let busy =
            !foreign.is_empty() || lease.solo.as_ref().is_some_and(|s| *s.holder != *solo.me);
        if busy {
            let applied = self.apply_foreign(shared, &mut group, foreign);
            solo.others_active();
            crate::storage::postgres::release(lease);
            return applied;
        }
        lease.take_solo(&solo.me, period).await?;
        solo.trust(sent);
        tracing::info!("this server is the only one writing: reads are answered from memory");
        Ok(())
    }

    /// Stops trusting the lease, then lets it go.
    async fn let_solo_go(&self) {
        let Some(shared) = self.shared() else { return };
        let solo = &shared.solo;
        let held = solo.holding();
        solo.distrust();
        solo.others_active();
        // Groups opened before the line above commit without a lease: commit them now
        // (their own commit tasks then find nothing to do), or their guard would refuse
        // them. Writers may still join an open one until it is taken.
        loop {
            self.clone().commit_group().await;
            let group = self.drained(shared).await;
            if !group.open.as_ref().is_some_and(|o| o.lease_less()) {
                break;
            }
        }
        match shared.db.release_solo(&solo.me).await {
            Ok(()) if held => {
                if solo.retired.load(std::sync::atomic::Ordering::Acquire) {
                    tracing::info!("stopping: the sole-writer lease is let go")
                } else {
                    tracing::info!("another server writes: the sole-writer lease is let go")
                }
            }
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "cannot let the sole-writer lease go"),
        }
    }

    /// The log moved past memory while this server held the lease: reads the batches.
    /// Its own last group may have just committed (settled by then, `apply_foreign` skips
    /// it); anything else was written by a server that ignores the lease, and
    /// `apply_foreign` ends the trust. Returns whether there were others' batches.
    async fn read_behind(&self) -> bool {
        let Some(shared) = self.shared() else {
            return false;
        };
        let batches = match shared.db.since(shared.applied()).await {
            Ok(b) => b,
            Err(e) => {
                shared.solo.distrust();
                tracing::warn!(error = %e, "cannot read the commit log");
                return true;
            }
        };
        // Drained: this server's own group in flight may be among the batches.
        let mut group = self.drained(shared).await;
        let before = group.applied;
        if let Err(e) = self.apply_foreign(shared, &mut group, batches) {
            shared.solo.distrust();
            tracing::warn!(error = %e, "cannot apply the commit log");
            return true;
        }
        group.applied > before
    }
}
