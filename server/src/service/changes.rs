//! The change feed's use cases: reading the changes an office may see since a revision,
//! watching them as they commit, and compacting the change log past its retention.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::Ordering;

use tokio::sync::mpsc;

use crate::auth::Principal;
use crate::commit::{Commit, StoredCommit};
use crate::error::{Error, Result};
use crate::feed::*;
use crate::scheduler::Scheduler;
use crate::storage::{self, Batch, prefix};

impl Scheduler {
    /// The changes after `after` (up to `until`) that `who` may see and `filter` wants,
    /// up to `limit.0` batches, reading at most `limit.1` commits; and the revision
    /// everything matching has been returned up to.
    fn read_changes(
        &self,
        who: &Principal,
        (after, until): (u64, u64),
        filter: &Filter,
        include_before: bool,
        (limit, scan): (usize, usize),
    ) -> Result<(Vec<ChangeBatch>, u64)> {
        self.feed().check_retained(after)?;
        let mut out = Vec::new();
        let mut last = after;
        let mut scanned = 0;
        while last < until && out.len() < limit && scanned < scan {
            let rows = self.store().scan_from(
                prefix::AUDIT,
                &(last + 1).to_be_bytes(),
                CHUNK.min(scan - scanned),
            )?;
            if rows.is_empty() {
                break;
            }
            let mut commits = Vec::with_capacity(rows.len());
            for (k, v) in &rows {
                let stored = StoredCommit::decode(k, v)?;
                if stored.audit.sequence > until {
                    break;
                }
                // A commit without its changes, or a hole: compacted under this reader.
                let compacted = || Error::Compacted {
                    oldest: self.feed().oldest_revision(),
                    current: self.feed().durable_revision(),
                };
                if stored.audit.sequence != last + 1 + commits.len() as u64 {
                    return Err(compacted());
                }
                commits.push(stored.into_commit(k)?.ok_or_else(compacted)?);
            }
            if commits.is_empty() {
                break;
            }
            self.read(who, |view| {
                for c in &commits {
                    scanned += 1;
                    last = c.revision;
                    if let Some(b) = see(view, c, filter, include_before) {
                        out.push(b);
                        if out.len() == limit {
                            break;
                        }
                    }
                }
            });
        }
        Ok((out, last))
    }

    /// The newest revision this server knows of: durable, or applied to memory and on its
    /// way (a retry answered from its idempotency record names such a revision).
    fn newest_revision(&self) -> u64 {
        self.feed().durable_revision().max(self.revision())
    }

    /// The changes after `after` that `who` may see and `filter` wants, a page at a time:
    /// the batches, the token of the next page (empty when all that is durable has been
    /// read), and the revision everything matching has been returned up to.
    pub fn list_changes(
        &self,
        who: &Principal,
        after: u64,
        filter: &Filter,
        include_before: bool,
        page: &crate::validate::PageRequest,
    ) -> Result<(Vec<ChangeBatch>, String, u64)> {
        let after = match &page.after {
            Some(_) => page.after_sequence()?,
            None => self.feed().resume_after(after, self.newest_revision())?,
        };
        let until = self.feed().durable_revision();
        // A filter that matches little must not make one page scan the whole log.
        let scan = page.size.saturating_mul(8).max(1000);
        let (batches, last) = self.read_changes(
            who,
            (after, until),
            filter,
            include_before,
            (page.size, scan),
        )?;
        let token = if last < until {
            page.token(&last.to_string())
        } else {
            String::new()
        };
        Ok((batches, token, last.max(after)))
    }

    /// Watches the changes `who` may see and `filter` wants, from `start`: the log from
    /// there up to now, then every new durable commit, with a progress message every
    /// `Settings::feed_progress`. Must run inside a tokio runtime.
    pub fn watch(
        &self,
        who: Arc<Principal>,
        start: Start,
        filter: Filter,
        opts: WatchOptions,
    ) -> Result<Watch> {
        // Subscribe before reading the durable revision: nothing published after it is
        // missed; what both the log and the queue carry is skipped by revision.
        let (sub, live) = self.feed().subscribe(filter.clone());
        let durable = self.feed().durable_revision();
        let after = match start {
            Start::Now => durable,
            Start::After(a) => self.feed().resume_after(a, self.newest_revision())?,
        };
        let (tx, rx) = mpsc::channel(16);
        let scheduler = self.clone();
        tokio::spawn(async move {
            let outcome = scheduler
                .follow(&who, after, durable, &filter, &opts, (&sub, live), &tx)
                .await;
            if let Err(e) = outcome {
                let _ = tx.send(Err(e)).await;
            }
        });
        Ok(Box::pin(tokio_stream::wrappers::ReceiverStream::new(rx)))
    }

    /// The body of a watch: catch up from the log, then follow the watcher's queue.
    #[allow(clippy::too_many_arguments)]
    async fn follow(
        &self,
        who: &Arc<Principal>,
        after: u64,
        durable: u64,
        filter: &Filter,
        opts: &WatchOptions,
        (lagged, mut live): (&AtomicBool, mpsc::Receiver<Arc<Commit>>),
        tx: &mpsc::Sender<Result<Message>>,
    ) -> Result<()> {
        let revoked =
            || Error::Unauthenticated("the token of this watch was revoked or has expired".into());
        let mut last = after;
        while last < durable {
            if opts.still_valid.as_ref().is_some_and(|ok| !ok()) {
                return Err(revoked());
            }
            let s = self.clone();
            let (w, f, inc) = (who.clone(), filter.clone(), opts.include_before);
            let (batches, through) = crate::blocking(move || {
                s.read_changes(&w, (last, durable), &f, inc, (CHUNK, CHUNK))
            })
            .await?;
            for b in batches {
                if tx.send(Ok(Message::Batch(b))).await.is_err() {
                    return Ok(());
                }
            }
            if through == last {
                break;
            }
            last = through;
        }
        last = last.max(durable);
        let mut tick = tokio::time::interval(self.settings().feed_progress);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.tick().await;
        // Sends `c` if the watcher may see any of it; false when the client is gone.
        let deliver = |c: Arc<Commit>, last: &mut u64| {
            let seen = (c.revision > *last)
                .then(|| self.read(who, |view| see(view, &c, filter, opts.include_before)))
                .flatten();
            *last = (*last).max(c.revision);
            seen
        };
        loop {
            tokio::select! {
                got = live.recv() => match got {
                    Some(c) => {
                        if let Some(b) = deliver(c, &mut last)
                            && tx.send(Ok(Message::Batch(b))).await.is_err()
                        {
                            return Ok(());
                        }
                    }
                    None if lagged.load(Ordering::Acquire) => {
                        return Err(Error::Lagged { last });
                    }
                    None => return Ok(()),
                },
                _ = tick.tick() => {
                    if opts.still_valid.as_ref().is_some_and(|ok| !ok()) {
                        return Err(revoked());
                    }
                    // Everything this watcher wants up to the durable revision is in its
                    // queue: deliver what is there, then say so.
                    let durable = self.feed().durable_revision();
                    while let Ok(c) = live.try_recv() {
                        if let Some(b) = deliver(c, &mut last)
                            && tx.send(Ok(Message::Batch(b))).await.is_err()
                        {
                            return Ok(());
                        }
                    }
                    if lagged.load(Ordering::Acquire) {
                        return Err(Error::Lagged { last });
                    }
                    last = last.max(durable);
                    if tx.send(Ok(Message::Progress(last))).await.is_err() {
                        return Ok(());
                    }
                }
                () = tx.closed() => return Ok(()),
            }
        }
    }

    /// Drops the changes of commits older than `Settings::change_retention`: each entry is
    /// rewritten as its bare audit record, which is kept for good. Not a revision: the
    /// log's own upkeep.
    pub(crate) async fn compact_changes(&self) -> Result<usize> {
        let retention =
            i64::try_from(self.settings().change_retention.as_micros()).unwrap_or(i64::MAX);
        let cutoff = self.now().saturating_sub(retention);
        let durable = self.feed().durable_revision();
        let mut rewrites = Vec::new();
        let mut oldest = self.feed().oldest_revision();
        // Bounded per sweep, so that a long-idle sweep never builds one huge batch; the
        // next sweep goes on.
        'scan: while rewrites.len() < 64 * CHUNK {
            let rows = self
                .store()
                .scan_from(prefix::AUDIT, &oldest.to_be_bytes(), CHUNK)?;
            for (k, v) in &rows {
                let stored = StoredCommit::decode(k, v)?;
                if stored.audit.time >= cutoff || stored.audit.sequence > durable {
                    break 'scan;
                }
                if stored.has_changes() {
                    rewrites.push((k.clone(), stored.compacted()));
                }
                oldest = stored.audit.sequence + 1;
            }
            if rows.len() < CHUNK {
                break;
            }
        }
        if oldest == self.feed().oldest_revision() {
            return Ok(0);
        }
        let n = rewrites.len();
        let mut batch = Batch::default();
        for (k, v) in rewrites {
            batch.put_bytes(k, v);
        }
        batch.put(storage::key(prefix::META, storage::CHANGES_SINCE), &oldest);
        // Readers past the new oldest must not be told it exists any longer.
        self.feed().set_oldest(oldest);
        self.maintain(move |_, b| *b = batch).await?;
        Ok(n)
    }
}
