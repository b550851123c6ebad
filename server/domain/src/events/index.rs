//! In-memory event indexes, rebuilt from the stored events at start-up.
//!
//! Events live in a slab (`Vec<Option<Arc<Event>>>`) and every index refers to them by a
//! `u32` slot, so an index entry is 12 bytes of key instead of a copied id string. There
//! are three kinds of index, all ordered by start instant:
//!
//! - one global time index, for window lists;
//! - one per participant and one per venue (the conflict *scopes*), for conflict checks,
//!   agendas and free/busy;
//! - parent → children, for programmes and sidelines rules.
//!
//! A window query `[from, to)` must also find events that started before `from` and are
//! still running. Each index remembers the longest event it has ever held (`span`), so the
//! query scans starts in `[from - span, to)`: O(log n + k) where k is the number of events
//! near the window, never a scan of the store. Spans never shrink (a removed long event
//! only widens later scans slightly); they are recomputed exactly at every restart.
//!
//! Ties in start are broken by id, so pages (keyed by start and id) are stable across
//! restarts, although slots are not.

use std::collections::BTreeSet;
use std::hash::BuildHasher;
use std::sync::Arc;

// hashbrown's maps hash with foldhash (randomly seeded), several times faster than std's
// SipHash on short ids; its HashTable lets the id → slot map find ids in the slab instead
// of keeping a second copy of every id.
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use super::{Event, Str};
use crate::directory::{Forum, Participant, Venue};
use crate::error::Result;

/// One ordered index and the longest event it has held.
#[derive(Debug, Default)]
struct Scope {
    starts: BTreeSet<(i64, u32)>,
    span: i64,
}

/// Somewhere an event's index entries go: a live [`Scope`], or a [`Draft`] during a load.
trait Entries: Default {
    fn add(&mut self, e: &Event, slot: u32);
}

impl Entries for Scope {
    fn add(&mut self, e: &Event, slot: u32) {
        self.starts.insert((e.start.utc, slot));
        self.span = self.span.max(e.end.utc - e.start.utc);
    }
}

/// Files `e` (in `slot`) under the time index, its participants' and venue's indexes, and
/// its parent's sidelines: the one place that says which indexes an event belongs to.
fn file<S: Entries>(
    e: &Event,
    slot: u32,
    time: &mut S,
    participants: &mut HashMap<Str, S>,
    venues: &mut HashMap<Str, S>,
    children: &mut HashMap<Str, BTreeSet<Str>>,
) {
    time.add(e, slot);
    for p in &e.participants {
        participants.entry(p.clone()).or_default().add(e, slot);
    }
    venues.entry(e.venue_id.clone()).or_default().add(e, slot);
    if let Some(parent) = &e.parent_id {
        children
            .entry(parent.clone())
            .or_default()
            .insert(e.id.clone());
    }
}

impl Scope {
    fn remove(&mut self, e: &Event, slot: u32) {
        self.starts.remove(&(e.start.utc, slot));
    }
}

/// Raw records read in one go: keys and values back to back in one buffer.
#[derive(Debug, Default)]
struct Chunk {
    bytes: Vec<u8>,
    ends: Vec<(u32, u32)>,
}

impl Chunk {
    fn push(&mut self, k: &[u8], v: &[u8]) {
        self.bytes.extend_from_slice(k);
        let key_end = self.bytes.len() as u32;
        self.bytes.extend_from_slice(v);
        self.ends.push((key_end, self.bytes.len() as u32));
    }

    fn records(&self) -> impl Iterator<Item = (&[u8], &[u8])> {
        let mut start = 0usize;
        self.ends.iter().map(move |&(k, v)| {
            let (k, v) = (k as usize, v as usize);
            let record = (&self.bytes[start..k], &self.bytes[k..v]);
            start = v;
            record
        })
    }
}

/// A scope's entries gathered during a load, then sorted and built in one go: a B-tree
/// built from sorted input is packed full and costs O(n), where inserting events in the
/// order they are stored (by id, so scattered in time) costs O(n log n) in cache misses.
#[derive(Debug, Default)]
struct Draft {
    starts: Vec<(i64, u32)>,
    span: i64,
}

impl Entries for Draft {
    fn add(&mut self, e: &Event, slot: u32) {
        self.starts.push((e.start.utc, slot));
        self.span = self.span.max(e.end.utc - e.start.utc);
    }
}

impl Draft {
    fn build(mut self) -> Scope {
        self.starts.sort_unstable();
        Scope {
            starts: self.starts.into_iter().collect(),
            span: self.span,
        }
    }
}

/// Where a query resumes: after this (start, id).
pub type Cursor = (i64, String);

/// All events and their indexes.
#[derive(Debug, Default)]
pub struct EventStore {
    slab: Vec<Option<Arc<Event>>>,
    /// Slots by the hash of their event's id.
    slots: HashTable<u32>,
    hasher: DefaultHashBuilder,
    time: Scope,
    participants: HashMap<Str, Scope>,
    venues: HashMap<Str, Scope>,
    children: HashMap<Str, BTreeSet<Str>>,
}

/// Which index a query runs on.
#[derive(Debug, Clone, Copy)]
pub enum Axis<'a> {
    /// Every event.
    All,
    /// One participant's events.
    Participant(&'a str),
    /// One venue's events.
    Venue(&'a str),
}

impl EventStore {
    /// Rebuilds everything from the stored events: `visit` hands each stored record's key
    /// and bytes to the function it is given (on a thread of its own), and `decode` reads
    /// one (the store's codec: `storage::events`).
    pub fn load(
        visit: impl FnOnce(&mut dyn FnMut(&[u8], &[u8]) -> Result<()>) -> Result<()> + Send,
        decode: impl Fn(&[u8], &[u8]) -> Result<Event>,
    ) -> Result<EventStore> {
        let mut s = EventStore::default();
        let mut time = Draft::default();
        let mut participants: HashMap<Str, Draft> = HashMap::new();
        let mut venues: HashMap<Str, Draft> = HashMap::new();
        // Two stages on two threads: reading the records out of sled (its iterator is
        // ~45% of an open) and decoding and indexing them. Records cross over in chunks,
        // copied into one buffer each, so the hand-over costs no allocation per record.
        const CHUNK: usize = 4096;
        // Large events (long overrides lists) close a chunk early, so offsets fit in u32.
        const CHUNK_BYTES: usize = 16 << 20;
        let (tx, rx) = std::sync::mpsc::sync_channel::<Chunk>(8);
        let mut hashes = Vec::new();
        let (read, indexed) = std::thread::scope(|scope| {
            let reader = scope.spawn(move || {
                let mut chunk = Chunk::default();
                visit(&mut |k, v| {
                    chunk.push(k, v);
                    if chunk.ends.len() == CHUNK || chunk.bytes.len() >= CHUNK_BYTES {
                        // The indexer only hangs up when it failed; then stop reading.
                        tx.send(std::mem::take(&mut chunk))
                            .map_err(|_| crate::error::Error::Poisoned)?;
                    }
                    Ok(())
                })?;
                let _ = tx.send(chunk);
                Ok::<(), crate::error::Error>(())
            });
            let indexed = rx.iter().try_for_each(|chunk| {
                chunk.records().try_for_each(|(k, v)| {
                    let e = decode(k, v)?;
                    // Stored ids are unique keys, so every event takes a new slot.
                    let slot = s.slab.len() as u32;
                    hashes.push(s.hasher.hash_one(e.id.as_str()));
                    file(
                        &e,
                        slot,
                        &mut time,
                        &mut participants,
                        &mut venues,
                        &mut s.children,
                    );
                    s.slab.push(Some(Arc::new(e)));
                    Ok::<(), crate::error::Error>(())
                })
            });
            drop(rx);
            (reader.join(), indexed)
        });
        // A decoding error first: it is why the reader was stopped.
        indexed?;
        read.unwrap_or_else(|panic| std::panic::resume_unwind(panic))?;
        // The id table is built at its final size, so it never rehashes (growing it one
        // event at a time re-read every id it held, ~6% of an open). It and the time
        // index are built beside the participants' and venues' indexes.
        let (slots, built) = std::thread::scope(|scope| {
            let slots = scope.spawn(|| {
                let mut slots = HashTable::with_capacity(hashes.len());
                for (slot, &hash) in hashes.iter().enumerate() {
                    // The capacity suffices, so the rehash function is never called.
                    slots.insert_unique(hash, slot as u32, |&s| hashes[s as usize]);
                }
                (slots, time.build())
            });
            let built = (
                participants
                    .into_iter()
                    .map(|(k, d)| (k, d.build()))
                    .collect(),
                venues.into_iter().map(|(k, d)| (k, d.build())).collect(),
            );
            (slots.join(), built)
        });
        (s.slots, s.time) = slots.unwrap_or_else(|panic| std::panic::resume_unwind(panic));
        (s.participants, s.venues) = built;
        Ok(s)
    }

    /// A free slot for a new event `id`, registered under that id (its slab entry is
    /// still empty: the caller fills it).
    fn new_slot(&mut self, id: &str) -> u32 {
        // Events are never removed (a cancelled one stays), so slots are never reused.
        let slot = self.slab.len() as u32;
        self.slab.push(None);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.slots.insert_unique(hasher.hash_one(id), slot, |&s| {
            // Every slot already in the table holds its event while the table grows.
            slab[s as usize]
                .as_ref()
                .map_or(0, |e| hasher.hash_one(e.id.as_str()))
        });
        slot
    }

    /// How many events are stored (cancelled ones included).
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// One event.
    pub fn get(&self, id: &str) -> Option<&Arc<Event>> {
        self.slot_of(id).and_then(|slot| self.at(slot))
    }

    fn slot_of(&self, id: &str) -> Option<u32> {
        let hash = self.hasher.hash_one(id);
        self.slots
            .find(hash, |&s| self.at(s).is_some_and(|e| e.id == id))
            .copied()
    }

    fn at(&self, slot: u32) -> Option<&Arc<Event>> {
        self.slab.get(slot as usize)?.as_ref()
    }

    /// Every event, in no particular order.
    pub fn all(&self) -> impl Iterator<Item = &Arc<Event>> {
        self.slab.iter().flatten()
    }

    /// Stores or replaces an event and updates every index.
    pub fn insert(&mut self, event: Event) {
        self.insert_shared(Arc::new(event));
    }

    /// [`EventStore::insert`] of an event already shared (a copy of another store's).
    pub fn insert_shared(&mut self, event: Arc<Event>) {
        let slot = match self.slot_of(&event.id) {
            Some(slot) => {
                self.unindex(slot);
                slot
            }
            None => self.new_slot(&event.id),
        };
        file(
            &event,
            slot,
            &mut self.time,
            &mut self.participants,
            &mut self.venues,
            &mut self.children,
        );
        self.slab[slot as usize] = Some(event);
    }

    fn unindex(&mut self, slot: u32) {
        let Some(old) = self.slab[slot as usize].take() else {
            return;
        };
        self.time.remove(&old, slot);
        for p in &old.participants {
            if let Some(s) = self.participants.get_mut(p) {
                s.remove(&old, slot);
            }
        }
        if let Some(s) = self.venues.get_mut(&old.venue_id) {
            s.remove(&old, slot);
        }
        if let Some(parent) = &old.parent_id
            && let Some(c) = self.children.get_mut(parent)
        {
            c.remove(&old.id);
        }
    }

    /// Direct sidelines events of `id`.
    pub fn children(&self, id: &str) -> Vec<Str> {
        self.children
            .get(id)
            .map(|c| c.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Every event on the sidelines of `id`, at any depth.
    pub fn descendants(&self, id: &str) -> Vec<Str> {
        let mut out = Vec::new();
        // A set, not `out.contains`: a programme of n sidelines events was n² compares on
        // every conflict check of its root.
        let mut seen = hashbrown::HashSet::new();
        let mut queue = self.children(id);
        while let Some(next) = queue.pop() {
            if !seen.insert(next.clone()) {
                continue; // a corrupt cycle must not loop forever
            }
            queue.extend(self.children(&next));
            out.push(next);
        }
        out
    }

    /// The chain of parents above `event`, nearest first.
    pub fn ancestors(&self, event: &Event) -> Vec<Str> {
        let mut out: Vec<Str> = Vec::new();
        // Programmes are a few levels deep, where a scan of `out` beats hashing; a chain
        // of thousands (an imported file can make one) switches to a set, so the walk
        // stays linear.
        let mut seen: Option<hashbrown::HashSet<Str>> = None;
        let mut next = event.parent_id.clone();
        while let Some(id) = next {
            let repeated = match &mut seen {
                Some(set) => !set.insert(id.clone()),
                None => out.contains(&id),
            };
            if repeated || id == event.id {
                break;
            }
            next = self.get(&id).and_then(|p| p.parent_id.clone());
            out.push(id);
            if seen.is_none() && out.len() == 16 {
                seen = Some(out.iter().cloned().collect());
            }
        }
        out
    }

    fn scope(&self, axis: Axis<'_>) -> Option<&Scope> {
        match axis {
            Axis::All => Some(&self.time),
            Axis::Participant(p) => self.participants.get(p),
            Axis::Venue(v) => self.venues.get(v),
        }
    }

    /// Events on `axis` overlapping `[from, to)`, ordered by (start, id), resuming after
    /// `after`. Cancelled events are included; callers filter.
    pub fn window<'a>(
        &'a self,
        axis: Axis<'_>,
        from: i64,
        to: i64,
        after: Option<&'a Cursor>,
    ) -> impl Iterator<Item = &'a Arc<Event>> + 'a {
        let (lo, starts) = match self.scope(axis) {
            Some(scope) => {
                let mut lo = from.saturating_sub(scope.span);
                if let Some((start, _)) = after {
                    lo = lo.max(*start);
                }
                // A cursor at or past the window's end (a forged page token can say
                // anything) leaves nothing to scan, and `range` must not see lo > to.
                (lo, Some(&scope.starts).filter(|_| lo < to))
            }
            None => (0, None),
        };
        let raw = starts
            .into_iter()
            .flat_map(move |s| s.range((lo, 0)..(to, 0)))
            .filter_map(move |&(_, slot)| self.at(slot))
            .filter(move |e| e.end.utc > from);
        ById::new(raw).filter(move |e| match after {
            Some((start, id)) => (e.start.utc, e.id.as_str()) > (*start, id.as_str()),
            None => true,
        })
    }

    /// The event on `axis` that `keep` accepts and that ends last at or before `t` (ties:
    /// the latest start, then the smallest id, so the answer never depends on where events
    /// sit in memory): walks back from `t` only as far as an earlier start could still end
    /// as late as the best found.
    pub fn latest_ending_by(
        &self,
        axis: Axis<'_>,
        t: i64,
        keep: impl Fn(&Event) -> bool,
    ) -> Option<&Arc<Event>> {
        let scope = self.scope(axis)?;
        let mut best: Option<&Arc<Event>> = None;
        for &(start, slot) in scope.starts.range(..(t, 0)).rev() {
            if let Some(b) = best
                && start.saturating_add(scope.span) < b.end.utc
            {
                break;
            }
            let Some(e) = self.at(slot) else { continue };
            let better = |b: &Arc<Event>| {
                (e.end.utc, e.start.utc) > (b.end.utc, b.start.utc)
                    || ((e.end.utc, e.start.utc) == (b.end.utc, b.start.utc) && e.id < b.id)
            };
            if e.end.utc <= t && keep(e) && best.is_none_or(better) {
                best = Some(e);
            }
        }
        best
    }

    /// The first event on `axis` starting at or after `t` that `keep` accepts (ties: the
    /// smallest id).
    pub fn earliest_starting_from(
        &self,
        axis: Axis<'_>,
        t: i64,
        keep: impl Fn(&Event) -> bool,
    ) -> Option<&Arc<Event>> {
        let scope = self.scope(axis)?;
        let mut best: Option<&Arc<Event>> = None;
        for &(start, slot) in scope.starts.range((t, 0)..) {
            if best.is_some_and(|b| start > b.start.utc) {
                break;
            }
            let Some(e) = self.at(slot) else { continue };
            if keep(e) && best.is_none_or(|b| e.id < b.id) {
                best = Some(e);
            }
        }
        best
    }

    /// Ids of events that refer to a participant, venue or forum.
    pub fn referrers(&self, kind: &str, id: &str) -> Vec<String> {
        let ids = |scope: Option<&Scope>| -> Vec<String> {
            scope
                .map(|s| {
                    s.starts
                        .iter()
                        .filter_map(|&(_, slot)| self.at(slot))
                        .map(|e| e.id.to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        match kind {
            k if k == Participant::KIND => ids(self.participants.get(id)),
            k if k == Venue::KIND => ids(self.venues.get(id)),
            k if k == Forum::KIND => self
                .all()
                .filter(|e| e.forum_id.as_deref() == Some(id))
                .map(|e| e.id.to_string())
                .collect(),
            _ => Vec::new(),
        }
    }
}

/// Reorders a start-ordered stream so that events with equal starts come out by id.
struct ById<'a, I: Iterator<Item = &'a Arc<Event>>> {
    inner: std::iter::Peekable<I>,
    group: Vec<&'a Arc<Event>>,
}

impl<'a, I: Iterator<Item = &'a Arc<Event>>> ById<'a, I> {
    fn new(inner: I) -> Self {
        ById {
            inner: inner.peekable(),
            group: Vec::new(),
        }
    }
}

impl<'a, I: Iterator<Item = &'a Arc<Event>>> Iterator for ById<'a, I> {
    type Item = &'a Arc<Event>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.group.is_empty() {
            let first = self.inner.next()?;
            // Starts are rarely shared: only then is there a group to sort.
            if self
                .inner
                .peek()
                .is_none_or(|e| e.start.utc != first.start.utc)
            {
                return Some(first);
            }
            self.group.push(first);
            while let Some(next) = self.inner.next_if(|e| e.start.utc == first.start.utc) {
                self.group.push(next);
            }
            // Reverse order so `pop` yields the smallest id first.
            self.group.sort_by(|a, b| b.id.cmp(&a.id));
        }
        self.group.pop()
    }
}
