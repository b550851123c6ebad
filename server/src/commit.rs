//! The one commit point's vocabulary: what a write changes, and the record of it that the
//! change feed reads.
//!
//! A write builds a [`Tx`]: every record it stores or deletes goes through one of its
//! methods, which turn it into storage operations (the key schema and codec are storage's)
//! *and* a [`Change`] (kind, id, before, after, and who could see it before and after).
//! `Scheduler::write`, the commit point, then assigns the write's revision and adds its
//! [`StoredCommit`] to the same atomic batch: the audit record and, while the change log
//! retains them, the changes, under one key (`a/<revision>`). The change log is a
//! by-product of committing, not a second bookkeeping: a write cannot store a record
//! without its change being logged, nor log a change it did not store. (One key, not two:
//! each sled insert costs about a tenth of a booking's work.) When the changes pass their
//! retention the sweep rewrites the entry as the bare audit record, which is kept for
//! good.
//!
//! Who may see a change is not stored: the feed decides it when it delivers, from the
//! record before and after, by the rules `GetEvent` applies (`policy`), so the feed can
//! never show what a read would hide.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::audit::AuditRecord;
use crate::calendar::WorkCalendar;
use crate::directory::{Country, Forum, Participant, Venue};
use crate::events::Event;
use crate::history::Revision;
use crate::proposals::{Proposal, Transition};
use crate::state::{RequestRecord, Resource, State};
use crate::storage::{self, Batch, prefix};

/// How a kind of [`Resource`] is stored (its key prefix) and carried by the change feed.
pub trait Stored: Resource + Serialize + serde::de::DeserializeOwned {
    /// Its kind in the change feed.
    const FEED_KIND: Kind;
    /// As the change feed carries it.
    fn record(self) -> Record;
    /// Storage key prefix.
    const PREFIX: &'static [u8];
}

/// The kinds of record the feed carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// A country.
    Country,
    /// A participant.
    Participant,
    /// A venue.
    Venue,
    /// A forum.
    Forum,
    /// An event.
    Event,
    /// A proposal.
    Proposal,
    /// A working calendar.
    WorkCalendar,
    /// An iCalendar subscription feed (its secret's digest never leaves the server).
    CalendarFeed,
}

/// What a write did to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Op {
    /// It did not exist before.
    Created,
    /// It existed before and after.
    Updated,
    /// It no longer exists.
    Deleted,
}

/// A record as the feed carries it.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    /// A country.
    Country(Arc<Country>),
    /// A participant.
    Participant(Arc<Participant>),
    /// A venue.
    Venue(Arc<Venue>),
    /// A forum.
    Forum(Arc<Forum>),
    /// An event.
    Event(Arc<Event>),
    /// A proposal.
    Proposal(Arc<Proposal>),
    /// A working calendar.
    WorkCalendar(Arc<WorkCalendar>),
    /// An iCalendar subscription feed.
    CalendarFeed(Arc<crate::subscription::CalendarFeed>),
}

impl Record {
    /// Its kind.
    pub fn kind(&self) -> Kind {
        match self {
            Record::Country(_) => Kind::Country,
            Record::Participant(_) => Kind::Participant,
            Record::Venue(_) => Kind::Venue,
            Record::Forum(_) => Kind::Forum,
            Record::Event(_) => Kind::Event,
            Record::Proposal(_) => Kind::Proposal,
            Record::WorkCalendar(_) => Kind::WorkCalendar,
            Record::CalendarFeed(_) => Kind::CalendarFeed,
        }
    }

    /// Whether `other` holds the same value: the same shared copy (what deliveries of one
    /// change to watchers who may see all of it hold, so that is checked first, without
    /// comparing fields), or an equal one.
    pub fn same(&self, other: &Record) -> bool {
        let shared = |r: &Record| -> *const () {
            match r {
                Record::Country(r) => Arc::as_ptr(r).cast(),
                Record::Participant(r) => Arc::as_ptr(r).cast(),
                Record::Venue(r) => Arc::as_ptr(r).cast(),
                Record::Forum(r) => Arc::as_ptr(r).cast(),
                Record::Event(r) => Arc::as_ptr(r).cast(),
                Record::Proposal(r) => Arc::as_ptr(r).cast(),
                Record::WorkCalendar(r) => Arc::as_ptr(r).cast(),
                Record::CalendarFeed(r) => Arc::as_ptr(r).cast(),
            }
        };
        std::ptr::eq(shared(self), shared(other)) || self == other
    }

    /// Its etag.
    pub fn etag(&self) -> String {
        match self {
            Record::Country(r) => r.meta.etag(),
            Record::Participant(r) => r.meta.etag(),
            Record::Venue(r) => r.meta.etag(),
            Record::Forum(r) => r.meta.etag(),
            Record::Event(r) => r.meta.etag(),
            Record::Proposal(r) => r.meta.etag(),
            Record::WorkCalendar(r) => r.meta.etag(),
            Record::CalendarFeed(r) => r.meta.etag(),
        }
    }

    /// Its stored bytes (each kind in its own stored form).
    fn encode(&self) -> Vec<u8> {
        match self {
            Record::Country(r) => storage::encode(&**r),
            Record::Participant(r) => storage::encode(&**r),
            Record::Venue(r) => storage::encode(&**r),
            Record::Forum(r) => storage::encode(&**r),
            Record::Event(r) => crate::storage::events::encode(r),
            Record::Proposal(r) => storage::encode(&**r),
            Record::WorkCalendar(r) => storage::encode(&**r),
            Record::CalendarFeed(r) => crate::storage::feeds::encode(r),
        }
    }

    /// A record of `kind` from its stored bytes.
    fn decode(kind: Kind, key: &[u8], bytes: &[u8]) -> crate::error::Result<Record> {
        Ok(match kind {
            Kind::Country => Record::Country(Arc::new(storage::decode(key, bytes)?)),
            Kind::Participant => Record::Participant(Arc::new(storage::decode(key, bytes)?)),
            Kind::Venue => Record::Venue(Arc::new(storage::decode(key, bytes)?)),
            Kind::Forum => Record::Forum(Arc::new(storage::decode(key, bytes)?)),
            Kind::Event => Record::Event(Arc::new(crate::storage::events::decode(key, bytes)?)),
            Kind::Proposal => Record::Proposal(Arc::new(storage::decode(key, bytes)?)),
            Kind::WorkCalendar => Record::WorkCalendar(Arc::new(storage::decode(key, bytes)?)),
            Kind::CalendarFeed => {
                Record::CalendarFeed(Arc::new(crate::storage::feeds::decode(key, bytes)?))
            }
        })
    }
}

/// One record's change within a write.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// Its kind.
    pub kind: Kind,
    /// Its id.
    pub id: String,
    /// Created, updated or deleted.
    pub op: Op,
    /// As it was (absent when created).
    pub before: Option<Record>,
    /// As it is (absent when deleted).
    pub after: Option<Record>,
}

/// A committed write: its revision, who wrote it, and what it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct Commit {
    /// The write's revision (the audit record's sequence).
    pub revision: u64,
    /// When (microseconds since the epoch).
    pub time: i64,
    /// The writing office.
    pub office: String,
    /// Its token's name.
    pub token: String,
    /// The operation.
    pub method: String,
    /// The records it changed.
    pub changes: Vec<Change>,
}

#[derive(Debug, Serialize, Deserialize)]
struct StoredChange {
    kind: Kind,
    id: String,
    op: Op,
    #[serde(with = "serde_bytes")]
    before: Option<Vec<u8>>,
    #[serde(with = "serde_bytes")]
    after: Option<Vec<u8>>,
}

/// A committed write as stored under `a/<revision>`: its audit record, and its changes
/// while the change log retains them (`None` once compacted, and for writes made before
/// the change log existed, which stored the audit record alone).
#[derive(Debug, Serialize, Deserialize)]
pub struct StoredCommit {
    /// Who wrote what, when.
    pub audit: AuditRecord,
    changes: Option<Vec<StoredChange>>,
}

/// The format version of a [`StoredCommit`]; format 1 is a bare [`AuditRecord`].
const COMMIT_FORMAT: u8 = 2;

impl StoredCommit {
    /// An entry from its stored bytes, in either format.
    pub fn decode(key: &[u8], bytes: &[u8]) -> crate::error::Result<StoredCommit> {
        match bytes.first() {
            Some(&COMMIT_FORMAT) => storage::decode_version(COMMIT_FORMAT, key, bytes),
            _ => Ok(StoredCommit {
                audit: storage::decode(key, bytes)?,
                changes: None,
            }),
        }
    }

    /// The entry with its changes dropped (the bare audit record's stored bytes).
    pub fn compacted(&self) -> Vec<u8> {
        storage::encode(&self.audit)
    }

    /// Whether the changes are still kept.
    pub fn has_changes(&self) -> bool {
        self.changes.is_some()
    }

    /// The commit it records, its records decoded; `None` when its changes are gone.
    pub fn into_commit(self, key: &[u8]) -> crate::error::Result<Option<Commit>> {
        let Some(stored) = self.changes else {
            return Ok(None);
        };
        let changes = stored
            .into_iter()
            .map(|c| {
                let decode =
                    |b: Option<Vec<u8>>| b.map(|b| Record::decode(c.kind, key, &b)).transpose();
                Ok(Change {
                    kind: c.kind,
                    before: decode(c.before)?,
                    after: decode(c.after)?,
                    id: c.id,
                    op: c.op,
                })
            })
            .collect::<crate::error::Result<_>>()?;
        let a = self.audit;
        Ok(Some(Commit {
            revision: a.sequence,
            time: a.time,
            office: a.office,
            token: a.token,
            method: a.method,
            changes,
        }))
    }
}

/// The key of a commit: its audit record's.
pub fn key(revision: u64) -> Vec<u8> {
    let mut k = prefix::AUDIT.to_vec();
    k.extend_from_slice(&revision.to_be_bytes());
    k
}

/// A change's record before and after, in their stored forms.
type StoredPair = (Option<Vec<u8>>, Option<Vec<u8>>);

/// One write in the making: its storage operations and its changes.
#[derive(Debug, Default)]
pub struct Tx {
    batch: Batch,
    changes: Vec<Change>,
    /// Each change's stored before/after bytes, in the order of `changes`.
    bytes: Vec<StoredPair>,
}

impl Tx {
    /// Whether the write changes nothing.
    pub fn is_empty(&self) -> bool {
        self.batch.is_empty()
    }

    /// The storage key of the first thing written, which the audit record names.
    pub fn first_key(&self) -> Option<&[u8]> {
        self.batch.first_key()
    }

    fn change(&mut self, c: Change, before: Option<Vec<u8>>, after: Option<Vec<u8>>) {
        self.changes.push(c);
        self.bytes.push((before, after));
    }

    /// Stores a directory record, which was `before`.
    pub fn put_record<R: Stored>(&mut self, before: Option<&R>, after: &R) {
        let after_bytes = storage::encode(after);
        self.batch
            .put_bytes(storage::key(R::PREFIX, after.id()), after_bytes.clone());
        let before = before.map(|b| R::record(b.clone()));
        let before_bytes = before.as_ref().map(Record::encode);
        self.change(
            Change {
                kind: R::FEED_KIND,
                id: after.id().to_string(),
                op: if before.is_some() {
                    Op::Updated
                } else {
                    Op::Created
                },
                before,
                after: Some(R::record(after.clone())),
            },
            before_bytes,
            Some(after_bytes),
        );
    }

    /// Deletes a directory record.
    pub fn delete_record<R: Stored>(&mut self, before: &R) {
        self.batch.delete(storage::key(R::PREFIX, before.id()));
        let record = R::record(before.clone());
        let bytes = record.encode();
        self.change(
            Change {
                kind: R::FEED_KIND,
                id: before.id().to_string(),
                op: Op::Deleted,
                before: Some(record),
                after: None,
            },
            Some(bytes),
            None,
        );
    }

    /// Stores an event (and its history entry, if any), which was `before`.
    pub fn put_event(
        &mut self,
        before: Option<Arc<Event>>,
        event: Arc<Event>,
        history: Option<&Revision>,
    ) {
        let after_bytes = crate::storage::events::encode(&event);
        self.batch
            .put_bytes(storage::key(prefix::EVENT, &event.id), after_bytes.clone());
        if let Some(h) = history {
            self.batch.put_bytes(
                storage::seq_key(prefix::EVENT_HISTORY, &event.id, h.revision),
                crate::storage::events::encode_revision(h),
            );
        }
        let before_bytes = before.as_ref().map(|b| crate::storage::events::encode(b));
        self.change(
            Change {
                kind: Kind::Event,
                id: event.id.to_string(),
                op: if before.is_some() {
                    Op::Updated
                } else {
                    Op::Created
                },
                before: before.map(Record::Event),
                after: Some(Record::Event(event)),
            },
            before_bytes,
            Some(after_bytes),
        );
    }

    /// Rewrites an event whose stored tzdb label is all that changed (its instants did
    /// not move, its etag stays): not a change a client can see, so not logged as one.
    /// A tzdb upgrade relabels every event; logging each would copy the whole store into
    /// one change log entry.
    pub fn relabel_event(&mut self, event: &Event) {
        self.batch.put_bytes(
            storage::key(prefix::EVENT, &event.id),
            crate::storage::events::encode(event),
        );
    }

    /// Stores a proposal and its history entry, which was `before`.
    pub fn put_proposal(
        &mut self,
        before: Option<Arc<Proposal>>,
        p: Arc<Proposal>,
        t: &Transition,
    ) {
        let after_bytes = storage::encode(&*p);
        self.batch
            .put_bytes(storage::key(prefix::PROPOSAL, &p.id), after_bytes.clone());
        self.batch.put(
            storage::seq_key(prefix::PROPOSAL_HISTORY, &p.id, t.sequence),
            t,
        );
        let before_bytes = before.as_ref().map(|b| storage::encode(&**b));
        self.change(
            Change {
                kind: Kind::Proposal,
                id: p.id.clone(),
                op: if before.is_some() {
                    Op::Updated
                } else {
                    Op::Created
                },
                before: before.map(Record::Proposal),
                after: Some(Record::Proposal(p)),
            },
            before_bytes,
            Some(after_bytes),
        );
    }

    /// Stores an idempotency record under its key (not a change: it is not a resource).
    pub fn put_request(&mut self, key: &str, r: &RequestRecord) {
        self.batch.put(storage::key(prefix::REQUEST, key), r);
    }

    /// Stores server metadata (`m/<name>`).
    pub fn put_meta(&mut self, name: &str, value: &String) {
        self.batch.put(storage::key(prefix::META, name), value);
    }

    /// Gives up the storage operations of a write that is upkeep, not a revision (the
    /// tzdb stamp of a store whose events did not move).
    pub(crate) fn into_batch(self) -> Batch {
        self.batch
    }

    /// Adds the audit record and the change log entry of revision `revision` and gives the
    /// batch to store and the commit to publish once it is durable.
    pub(crate) fn commit(
        mut self,
        revision: u64,
        time: i64,
        who: &crate::auth::Principal,
        method: &str,
    ) -> (Batch, Commit) {
        let audit = AuditRecord {
            sequence: revision,
            time,
            office: who.office.clone(),
            token: who.token.clone(),
            method: method.to_string(),
            // The record the write is about: a create with a request_id stores its
            // idempotency record first, and was audited as `requests/<office>`.
            resource: crate::audit::resource_name(
                self.batch
                    .first_record_key()
                    .or(self.batch.first_key())
                    .unwrap_or_default(),
            ),
        };
        let changes = self
            .changes
            .iter()
            .zip(self.bytes)
            .map(|(c, (before, after))| StoredChange {
                kind: c.kind,
                id: c.id.clone(),
                op: c.op,
                before,
                after,
            })
            .collect();
        let commit = Commit {
            revision,
            time,
            office: audit.office.clone(),
            token: audit.token.clone(),
            method: audit.method.clone(),
            changes: self.changes,
        };
        let stored = StoredCommit {
            audit,
            changes: Some(changes),
        };
        self.batch.put_bytes(
            key(revision),
            storage::encode_version(COMMIT_FORMAT, &stored),
        );
        (self.batch, commit)
    }
}

/// Changes to the state go through the write that records them: the only way to store or
/// remove a directory-like record (the state itself is the domain's, and knows no write).
pub trait Put {
    /// Stores a resource, in memory and in the write.
    fn put<R: Stored>(&mut self, tx: &mut Tx, record: R);
    /// Removes a resource, in memory and in the write.
    fn remove<R: Stored>(&mut self, tx: &mut Tx, id: &str);
}

impl Put for State {
    fn put<R: Stored>(&mut self, tx: &mut Tx, record: R) {
        tx.put_record(R::map(self).get(record.id()), &record);
        R::map_mut(self).insert(record.id().into(), record);
    }

    fn remove<R: Stored>(&mut self, tx: &mut Tx, id: &str) {
        if let Some(before) = R::map(self).get(id) {
            tx.delete_record(before);
        }
        R::map_mut(self).remove(id);
    }
}
