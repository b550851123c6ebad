//! The one redaction point: everything that leaves the scheduler and mentions another
//! record — a reply, an error message, an error detail — is shaped here for the principal
//! who asked.
//!
//! A record the principal may not see appears only as an anonymous busy block: no id,
//! title, description, city, coordinates or distance, and no span beyond the overlap (or
//! the travel gap) itself. Busy time stays visible because it must keep blocking: a
//! participant cannot be booked over an engagement merely because another office keeps it
//! private.
//!
//! [`View`] is built over the state and the principal inside the same read or write that
//! produced what it redacts, so the rule applied is the state's current one.

use std::sync::Arc;

use crate::auth::Principal;
use crate::conflicts::{Conflict, Report, TravelSkip};
use crate::events::{Event, Override};
use crate::history::Revision;
use crate::policy;
use crate::proposals::{Proposal, Transition};
use crate::state::State;

pub use crate::error::{HIDDEN_EVENT, HIDDEN_SUBJECT};

/// The state as one principal may see it.
#[derive(Debug, Clone, Copy)]
pub struct View<'a> {
    st: &'a State,
    who: &'a Principal,
}

impl<'a> View<'a> {
    /// `st` through `who`'s eyes.
    pub fn new(st: &'a State, who: &'a Principal) -> View<'a> {
        View { st, who }
    }

    /// The principal.
    pub fn who(&self) -> &'a Principal {
        self.who
    }

    /// The state it reads.
    pub fn state(&self) -> &'a State {
        self.st
    }

    /// Whether the principal may see `e`.
    pub fn sees(&self, e: &Event) -> bool {
        policy::sees_event(self.st, self.who, e)
    }

    /// Whether the principal may see the event `id` (an id with no stored event, such as a
    /// candidate's, hides nothing).
    pub fn sees_id(&self, id: &str) -> bool {
        self.who.is_admin() || self.st.events.get(id).is_none_or(|e| self.sees(e))
    }

    /// `"Title" (id)` for a visible event, [`HIDDEN_EVENT`] otherwise.
    pub fn mention(&self, e: &Event) -> String {
        if self.sees(e) {
            format!("{:?} ({})", e.title.as_str(), e.id)
        } else {
            HIDDEN_EVENT.to_string()
        }
    }

    /// `events/<id>` for a visible event, [`HIDDEN_SUBJECT`] otherwise.
    pub fn subject(&self, e: &Event) -> String {
        if self.sees(e) {
            format!("events/{}", e.id)
        } else {
            HIDDEN_SUBJECT.to_string()
        }
    }

    /// A conflict as the principal may read it: with a hidden other event, an anonymous
    /// busy block (no id, no title, and for travel no cities and no distance, which would
    /// say where the hidden engagement is).
    pub fn conflict(&self, c: &Conflict) -> Conflict {
        if self.sees_id(&c.other_event) {
            return c.clone();
        }
        Conflict {
            other_event: Default::default(),
            other_title: Default::default(),
            travel: None,
            ..c.clone()
        }
    }

    /// Every conflict of a list, redacted (borrowed as they are for an administrator).
    pub fn conflicts<'c>(&self, cs: &'c [Conflict]) -> std::borrow::Cow<'c, [Conflict]> {
        if self.who.is_admin() {
            return std::borrow::Cow::Borrowed(cs);
        }
        std::borrow::Cow::Owned(cs.iter().map(|c| self.conflict(c)).collect())
    }

    /// A skipped travel check: with a hidden neighbour, neither it nor where it is.
    pub fn skip(&self, s: &TravelSkip) -> TravelSkip {
        if self.sees_id(&s.other_event) {
            return s.clone();
        }
        TravelSkip {
            other_event: Default::default(),
            there_city: Default::default(),
            // The venue without coordinates may be the hidden event's: name it only when
            // it is the candidate's own.
            venue: if s.venue_is_here {
                s.venue.clone()
            } else {
                Default::default()
            },
            venue_name: if s.venue_is_here {
                s.venue_name.clone()
            } else {
                Default::default()
            },
            ..s.clone()
        }
    }

    /// A conflict report, redacted.
    pub fn report(&self, r: Report) -> Report {
        if self.who.is_admin() {
            return r;
        }
        Report {
            conflicts: self.conflicts(&r.conflicts).into_owned(),
            skipped: r.skipped.iter().map(|s| self.skip(s)).collect(),
        }
    }

    /// An event as the principal may read it: its override records name only events the
    /// principal may see, and a parent it may not see is not named (the event reads as
    /// standing on its own).
    pub fn event(&self, e: &Arc<Event>) -> Arc<Event> {
        let hides = |o: &Override| o.conflicts.iter().any(|c| !self.sees_id(&c.other_event));
        let hidden_parent = |e: &Event| e.parent_id.as_deref().is_some_and(|p| !self.sees_id(p));
        if self.who.is_admin() || (!e.overrides.iter().any(hides) && !hidden_parent(e)) {
            return e.clone();
        }
        let mut out = (**e).clone();
        for o in &mut out.overrides {
            o.conflicts = self.conflicts(&o.conflicts).into_owned();
        }
        if hidden_parent(&out) {
            out.parent_id = None;
        }
        Arc::new(out)
    }

    /// A history entry, its overridden conflicts redacted.
    pub fn revision(&self, mut r: Revision) -> Revision {
        if !self.who.is_admin() {
            r.overridden = self.conflicts(&r.overridden).into_owned();
        }
        r
    }

    /// A proposal: events it names that the principal may not see are left out.
    pub fn proposal(&self, mut p: Proposal) -> Proposal {
        let hidden = |id: &Option<String>| id.as_deref().is_some_and(|e| !self.sees_id(e));
        for field in [&mut p.event_id, &mut p.target_event_id, &mut p.finalised_at] {
            if hidden(field) {
                *field = None;
            }
        }
        p
    }

    /// A proposal's history entry: an event it names that the principal may not see is
    /// left out.
    pub fn transition(&self, mut t: Transition) -> Transition {
        if t.event_id.as_deref().is_some_and(|e| !self.sees_id(e)) {
            t.event_id = None;
        }
        t
    }

    /// Of these event ids, those the principal may see.
    pub fn event_ids(&self, ids: Vec<String>) -> Vec<String> {
        if self.who.is_admin() {
            return ids;
        }
        ids.into_iter().filter(|id| self.sees_id(id)).collect()
    }
}

/// The FAILED_PRECONDITION a write gets for hard conflicts, as `view`'s principal may read
/// it.
pub fn conflict_rejection(
    view: &View<'_>,
    hard: &[Conflict],
    zone: chrono_tz::Tz,
) -> crate::error::Error {
    let st = view.state();
    let hard = view.conflicts(hard);
    let descriptions: Vec<String> = hard
        .iter()
        .map(|c| crate::conflicts::describe(st, c, zone))
        .collect();
    crate::error::Error::FailedPrecondition {
        message: format!(
            "{} hard conflict(s): {}. Change the event, or set allow_conflicts to write it anyway",
            hard.len(),
            descriptions.join("; ")
        ),
        violations: hard
            .iter()
            .zip(descriptions)
            .map(|(c, d)| crate::error::Precondition {
                kind: crate::conflicts::kind_name(c.kind).into(),
                subject: if c.other_event.is_empty() {
                    HIDDEN_SUBJECT.into()
                } else {
                    format!("events/{}", c.other_event)
                },
                description: d,
            })
            .collect(),
    }
}

/// The slot finder reads the state through this view ([`crate::slots::Sight`]).
impl<'a> crate::slots::Sight<'a> for View<'a> {
    fn state(&self) -> &'a State {
        View::state(self)
    }
    fn sees(&self, e: &Event) -> bool {
        View::sees(self, e)
    }
    fn mention(&self, e: &Event) -> String {
        View::mention(self, e)
    }
    fn conflicts<'c>(&self, cs: &'c [Conflict]) -> std::borrow::Cow<'c, [Conflict]> {
        View::conflicts(self, cs)
    }
}
