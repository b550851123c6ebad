//! The change feed: every committed write, in revision order, to each watcher as its office
//! may see it. This module holds the dispatch (staging, publishing, subscribers, what each
//! change looks like to an office); reading and watching for a principal are the
//! service's (`service::changes`).
//!
//! # How a change travels
//!
//! 1. The commit point (`Scheduler::write`) stores a write's records, its audit record and
//!    its change log entry (`k/<revision>`) as one batch, and stages the [`Commit`] here,
//!    keyed by the log sequence number the store gave the batch.
//! 2. When the group commit has made that batch durable (`fdatasync` of the log), the
//!    flusher calls [`Feed::durable_through`]: staged commits up to that point are
//!    dispatched, in revision order, to the queue of every watcher whose filter wants
//!    them (a filter check per watcher; a watcher that wants nothing is never woken), and
//!    then the durable revision advances. Nothing a crash could take back is ever
//!    delivered.
//! 3. Each watcher is a task: it reads the change log from its starting revision up to
//!    the durable revision it found when it subscribed, then follows its queue, skipping
//!    what it already sent. Revisions are gap-free: a hole (history compacted under a slow
//!    reader) ends the watch with REVISION_COMPACTED, never silently. A progress message
//!    reports the durable revision once the queue is drained: everything matching up to
//!    it was dispatched before it was published.
//! 4. Delivery decides visibility per change from the record before and after, with the
//!    rules `GetEvent` applies, and redacts through `redact::View`: CREATED, UPDATED,
//!    DELETED, ENTERED_VIEW (the record) or LEFT_VIEW (the id only).
//!
//! Writers never wait for watchers: a watcher's queue holds [`Settings::feed_buffer`]
//! commits; one that would overflow it ends with CONSUMER_LAGGED and its last revision,
//! and resumes from the log.
//!
//! [`Settings::feed_buffer`]: crate::Settings::feed_buffer

use std::collections::VecDeque;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use std::sync::atomic::AtomicBool;

use tokio::sync::mpsc;

use crate::commit::{Change, Commit, Kind, Op, Record};
use crate::error::{Error, Result};
use crate::ics::feeds::FeedAccess;
use crate::lock;
use crate::policy;
use crate::proposals::Party;
use crate::redact::View;
use crate::storage::{Batch, Store};

/// Commits applied but not yet durable, the watchers durable ones go to, and the revisions
/// that bound the change log.
#[derive(Debug)]
pub struct Feed {
    staged: Mutex<VecDeque<(u64, Arc<Commit>)>>,
    watchers: Mutex<Vec<Subscriber>>,
    buffer: usize,
    durable: AtomicU64,
    oldest: AtomicU64,
}

/// One watcher, as the dispatcher sees it: what it wants, and its queue.
#[derive(Debug)]
struct Subscriber {
    filter: Filter,
    queue: mpsc::Sender<Arc<Commit>>,
    /// Set when a commit found the queue full: the watcher is dropped from dispatch (its
    /// queue's sender with it) and, once it has drained the queue, ends with
    /// CONSUMER_LAGGED. The watcher holds only this flag, so that dropping the subscriber
    /// closes the queue.
    lagged: Arc<AtomicBool>,
}

impl Feed {
    /// A feed whose durable revision is `durable` and whose log holds revisions from
    /// `oldest` on; each watcher's queue holds `buffer` commits.
    pub fn new(durable: u64, oldest: u64, buffer: usize) -> Feed {
        Feed {
            staged: Mutex::default(),
            watchers: Mutex::default(),
            buffer: buffer.max(1),
            durable: AtomicU64::new(durable),
            oldest: AtomicU64::new(oldest),
        }
    }

    /// A new watcher wanting what `filter` selects: dispatched every durable commit it
    /// wants from now on.
    pub(crate) fn subscribe(
        &self,
        filter: Filter,
    ) -> (Arc<AtomicBool>, mpsc::Receiver<Arc<Commit>>) {
        let (queue, rx) = mpsc::channel(self.buffer);
        let lagged = Arc::new(AtomicBool::new(false));
        lock(&self.watchers).push(Subscriber {
            filter,
            queue,
            lagged: lagged.clone(),
        });
        (lagged, rx)
    }

    /// Applies `batch` to `store` and stages `commit` until the store says it is durable.
    /// Called under the scheduler's write lock, so commits stage in revision order; the
    /// staging lock is held across the apply so the flusher cannot report the batch
    /// durable before its commit is staged.
    pub(crate) fn stage(&self, store: &Store, batch: Batch, commit: Commit) -> Result<()> {
        let mut staged = lock(&self.staged);
        let lsn = store.apply(batch)?;
        staged.push_back((lsn, Arc::new(commit)));
        Ok(())
    }

    /// Everything the store applied up to `lsn` is durable: dispatch its commits to the
    /// watchers that want them, then publish the durable revision.
    pub(crate) fn durable_through(&self, lsn: u64) {
        let mut staged = lock(&self.staged);
        while staged.front().is_some_and(|(l, _)| *l <= lsn) {
            let Some((_, c)) = staged.pop_front() else {
                break;
            };
            lock(&self.watchers).retain(|w| {
                if !w.filter.wants(&c) {
                    return !w.queue.is_closed();
                }
                match w.queue.try_send(c.clone()) {
                    Ok(()) => true,
                    Err(mpsc::error::TrySendError::Full(_)) => {
                        w.lagged.store(true, Ordering::Release);
                        false
                    }
                    Err(mpsc::error::TrySendError::Closed(_)) => false,
                }
            });
            // After the dispatch: a watcher that reads this revision and then drains its
            // queue has everything it wants up to it.
            self.durable.store(c.revision, Ordering::Release);
        }
    }

    /// The highest revision that is durable (and published).
    pub fn durable_revision(&self) -> u64 {
        self.durable.load(Ordering::Acquire)
    }

    /// The oldest revision the change log still holds.
    pub fn oldest_revision(&self) -> u64 {
        self.oldest.load(Ordering::Acquire)
    }

    pub(crate) fn set_oldest(&self, oldest: u64) {
        self.oldest.store(oldest, Ordering::Release);
    }

    /// REVISION_COMPACTED unless the changes after `after` are all still in the log.
    pub(crate) fn check_retained(&self, after: u64) -> Result<()> {
        let oldest = self.oldest_revision();
        if after.saturating_add(1) < oldest {
            return Err(Error::Compacted {
                oldest,
                current: self.durable_revision(),
            });
        }
        Ok(())
    }

    /// Where a reader asking for the changes after `after` starts: 0 means the oldest
    /// retained (so after the one before it); REVISION_COMPACTED when the changes after
    /// `after` are no longer all in the log, REVISION_AHEAD when `after` is past `newest`,
    /// the newest revision this server knows of (a resume point from another store would
    /// otherwise skip the writes up to it).
    pub(crate) fn resume_after(&self, after: u64, newest: u64) -> Result<u64> {
        if after == 0 {
            return Ok(self.oldest_revision().saturating_sub(1));
        }
        self.check_retained(after)?;
        if after > newest {
            return Err(Error::Ahead {
                asked: after,
                current: newest,
            });
        }
        Ok(after)
    }
}

/// Which changes a watcher wants; empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only these kinds.
    pub kinds: Vec<Kind>,
    /// Events they take part in, proposals they are a party to, and the participant.
    pub participant: Option<String>,
    /// Events at it, and the venue.
    pub venue: Option<String>,
    /// Events of it, and the forum.
    pub forum: Option<String>,
    /// Events on its sidelines and the event itself, and proposals linked to it.
    pub parent: Option<String>,
    /// Events overlapping `[from, to)` (Unix seconds).
    pub window: Option<(i64, i64)>,
}

impl Filter {
    /// Whether any change of `c` touches a record the filter names (before or after).
    fn wants(&self, c: &Commit) -> bool {
        c.changes.iter().any(|ch| {
            ch.before.as_ref().is_some_and(|r| self.matches(r))
                || ch.after.as_ref().is_some_and(|r| self.matches(r))
        })
    }

    /// Whether `r` is one of the records the filter names.
    pub fn matches(&self, r: &Record) -> bool {
        if !self.kinds.is_empty() && !self.kinds.contains(&r.kind()) {
            return false;
        }
        let is = |want: &Option<String>, id: &str| want.as_deref().is_none_or(|w| w == id);
        let unset = |want: &Option<String>| want.is_none();
        match r {
            Record::Event(e) => {
                self.participant
                    .as_ref()
                    .is_none_or(|p| e.participants.iter().any(|x| x == p))
                    && is(&self.venue, &e.venue_id)
                    && self
                        .forum
                        .as_ref()
                        .is_none_or(|f| e.forum_id.as_deref() == Some(f.as_str()))
                    && self
                        .parent
                        .as_ref()
                        .is_none_or(|p| e.id == *p || e.parent_id.as_deref() == Some(p.as_str()))
                    && self.window.is_none_or(|(from, to)| e.overlaps(from, to))
            }
            Record::Proposal(p) => {
                self.participant.as_ref().is_none_or(|x| {
                    [&p.proposer, &p.recipient]
                        .iter()
                        .any(|party| matches!(party, Party::Participant(id) if id == x))
                }) && unset(&self.venue)
                    && unset(&self.forum)
                    && self.parent.as_ref().is_none_or(|e| {
                        p.event_id.as_ref() == Some(e) || p.target_event_id.as_ref() == Some(e)
                    })
                    && self.window.is_none()
            }
            Record::Participant(x) => {
                is(&self.participant, &x.id)
                    && unset(&self.venue)
                    && unset(&self.forum)
                    && unset(&self.parent)
                    && self.window.is_none()
            }
            Record::Venue(x) => {
                is(&self.venue, &x.id)
                    && unset(&self.participant)
                    && unset(&self.forum)
                    && unset(&self.parent)
                    && self.window.is_none()
            }
            Record::Forum(x) => {
                is(&self.forum, &x.id)
                    && unset(&self.participant)
                    && unset(&self.venue)
                    && unset(&self.parent)
                    && self.window.is_none()
            }
            Record::Country(_) | Record::WorkCalendar(_) | Record::CalendarFeed(_) => {
                unset(&self.participant)
                    && unset(&self.venue)
                    && unset(&self.forum)
                    && unset(&self.parent)
                    && self.window.is_none()
            }
        }
    }
}

/// What a change is to the watcher.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Seen {
    /// Created.
    Created,
    /// Changed, visible before and after.
    Updated,
    /// Deleted.
    Deleted,
    /// Became visible.
    EnteredView,
    /// Stopped being visible: the id only.
    LeftView,
}

/// One change as a watcher receives it.
#[derive(Debug, Clone)]
pub struct Delivered {
    /// Its position among its commit's changes (with the revision, its identity: what
    /// renders it alike for every watcher of one office).
    pub index: usize,
    /// What it is to the watcher.
    pub seen: Seen,
    /// The record's kind.
    pub kind: Kind,
    /// The record's id.
    pub id: String,
    /// Its etag after the change ("" when deleted or left view).
    pub etag: String,
    /// The record after, redacted for the watcher (absent when deleted or left view).
    pub record: Option<Record>,
    /// The record before, when asked for and visible then.
    pub before: Option<Record>,
}

impl Delivered {
    /// Whether `other` is the same delivery (so the same bytes): the records compared by
    /// [`Record::same`], which seldom needs to look at their fields.
    pub fn same(&self, other: &Delivered) -> bool {
        let records = |a: &Option<Record>, b: &Option<Record>| match (a, b) {
            (Some(a), Some(b)) => a.same(b),
            (None, None) => true,
            _ => false,
        };
        self.index == other.index
            && self.seen == other.seen
            && self.kind == other.kind
            && self.id == other.id
            && self.etag == other.etag
            && records(&self.record, &other.record)
            && records(&self.before, &other.before)
    }
}

/// One write as a watcher receives it.
#[derive(Debug, Clone)]
pub struct ChangeBatch {
    /// The write's revision.
    pub revision: u64,
    /// When (microseconds).
    pub time: i64,
    /// The writing office.
    pub office: String,
    /// Its token's name.
    pub token: String,
    /// The operation.
    pub method: String,
    /// The changes the watcher may see and asked for.
    pub changes: Vec<Delivered>,
}

/// What a watch stream carries.
#[derive(Debug, Clone)]
pub enum Message {
    /// The changes of one write.
    Batch(ChangeBatch),
    /// Everything matching up to this revision has been sent.
    Progress(u64),
}

/// Whether the principal may see `r` (the directory is public).
fn visible(view: View<'_>, r: &Record) -> bool {
    match r {
        Record::Event(e) => view.sees(e),
        Record::Proposal(p) => policy::sees_proposal(view.state(), view.who(), p),
        // A subscription feed is its office's own business.
        Record::CalendarFeed(f) => f.visible_to(view.who()),
        _ => true,
    }
}

/// `r` as the principal may read it.
fn redacted(view: View<'_>, r: &Record) -> Record {
    match r {
        Record::Event(e) => Record::Event(view.event(e)),
        Record::Proposal(p) if !view.who().is_admin() => {
            Record::Proposal(Arc::new(view.proposal((**p).clone())))
        }
        other => other.clone(),
    }
}

/// One change as the principal of `view` may see it, if it may and the filter wants it.
fn see_change(
    view: View<'_>,
    (index, c): (usize, &Change),
    filter: &Filter,
    include_before: bool,
) -> Option<Delivered> {
    let wanted = c.before.as_ref().is_some_and(|r| filter.matches(r))
        || c.after.as_ref().is_some_and(|r| filter.matches(r));
    if !wanted {
        return None;
    }
    let before = c.before.as_ref().filter(|r| visible(view, r));
    let after = c.after.as_ref().filter(|r| visible(view, r));
    let seen = match (c.op, before.is_some(), after.is_some()) {
        (Op::Created, _, true) => Seen::Created,
        (Op::Deleted, true, _) => Seen::Deleted,
        (Op::Updated, true, true) => Seen::Updated,
        (Op::Updated, false, true) => Seen::EnteredView,
        (Op::Updated, true, false) => Seen::LeftView,
        _ => return None,
    };
    let record = match seen {
        Seen::Deleted | Seen::LeftView => None,
        _ => after.map(|r| redacted(view, r)),
    };
    Some(Delivered {
        index,
        seen,
        kind: c.kind,
        id: c.id.clone(),
        etag: record.as_ref().map(Record::etag).unwrap_or_default(),
        before: before
            .filter(|_| include_before && seen != Seen::LeftView)
            .map(|r| redacted(view, r)),
        record,
    })
}

/// A commit as the principal of `view` may see it: `None` when it shows nothing.
pub(crate) fn see(
    view: View<'_>,
    c: &Commit,
    filter: &Filter,
    include_before: bool,
) -> Option<ChangeBatch> {
    let changes: Vec<Delivered> = c
        .changes
        .iter()
        .enumerate()
        .filter_map(|ch| see_change(view, ch, filter, include_before))
        .collect();
    (!changes.is_empty()).then(|| ChangeBatch {
        revision: c.revision,
        time: c.time,
        office: c.office.clone(),
        token: c.token.clone(),
        method: c.method.clone(),
        changes,
    })
}

/// Where a watch starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// After this revision (0: from the oldest retained).
    After(u64),
    /// From the current durable revision.
    Now,
}

/// How a watch behaves.
#[derive(Clone)]
pub struct WatchOptions {
    /// Also send records as they were before.
    pub include_before: bool,
    /// Checked before each chunk of the catch-up from the log and before each progress
    /// message: `false` ends the stream UNAUTHENTICATED (a token revoked or expired since
    /// the watch began), so a slow reader of a long history stops reading it too.
    pub still_valid: Option<Arc<dyn Fn() -> bool + Send + Sync>>,
}

impl std::fmt::Debug for WatchOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WatchOptions")
            .field("include_before", &self.include_before)
            .finish_non_exhaustive()
    }
}

/// A watch: its messages, in order, until it ends (with an error, or when dropped).
pub type Watch = Pin<Box<dyn futures_util::Stream<Item = Result<Message>> + Send>>;

/// How many commits a catch-up reads from the log at a time.
pub(crate) const CHUNK: usize = 256;
