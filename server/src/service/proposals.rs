//! Proposals' use cases: making one, moving it through its state machine (accept,
//! decline, counter, withdraw, finalise — confirming its event in the same write when
//! asked), listing and reading them as the caller may, and the expiry sweep.

use std::sync::Arc;

use crate::audit::method;
use crate::auth::Principal;
use crate::commit::Tx;
use crate::conflicts;
use crate::directory::{Participant, Venue};
use crate::error::{Error, Precondition, Result, Violations};
use crate::events::{self, Event, EventStatus, TimeOptions, TimingInput};
use crate::history::{Action, Revision};
use crate::policy;
use crate::proposals::*;
use crate::redact::View;
use crate::scheduler::{Meta, Scheduler, State};
use crate::scheduler::{remember, replay, store_event};
use crate::storage::{self, prefix};
use crate::validate::{self, PageRequest};

/// An event a proposal names: one `who` may see, or NOT_FOUND.
fn check_event_ref(st: &State, who: &Principal, field: &str, id: &str) -> Result<Option<String>> {
    let id = id.trim();
    if id.is_empty() {
        return Ok(None);
    }
    policy::visible_event(st, who, id, field)?;
    Ok(Some(id.to_string()))
}

/// Stores a proposal and its history entry, in memory and in the write.
fn store_transition(st: &mut State, tx: &mut Tx, p: Proposal, t: &Transition) -> Arc<Proposal> {
    let p = Arc::new(p);
    let before = st.proposals.by_id.insert(p.id.clone(), p.clone());
    tx.put_proposal(before, p.clone(), t);
    p
}

impl Scheduler {
    /// Makes a proposal on behalf of `who`, the proposer's or recipient's office; it starts
    /// INVITED.
    pub async fn create_proposal(
        &self,
        who: &Principal,
        input: ProposalInput,
        ctx: Context,
    ) -> Result<Proposal> {
        check_context(&ctx)?;
        let retention = self.request_retention_micros();
        self.write(who, method::CREATE_PROPOSAL, move |st, tx, now| {
            policy::require_writer(who)?;
            if let Some(prev) = replay(st, who, &ctx.request_id, "CreateProposal", now - retention)?
            {
                let p: Proposal = storage::decode(prev.request_id.as_bytes(), &prev.snapshot)?;
                return Ok(View::new(st, who).proposal(p));
            }
            let mut v = Violations::default();
            if input.kind.is_none() {
                v.add(
                    "proposal.kind",
                    "is required (INVITATION, MEETING_REQUEST or AGREEMENT)",
                );
            }
            let title = v.check(validate::name("proposal.title", &input.title));
            let description = v.check(validate::text("proposal.description", &input.description));
            v.finish()?;
            let proposer = check_party(st, "proposal.proposer", &input.proposer)?;
            let recipient = check_party(st, "proposal.recipient", &input.recipient)?;
            if proposer == recipient {
                return Err(Error::invalid(
                    "proposal.recipient",
                    "is the same party as the proposer",
                ));
            }
            policy::require_create_proposal(st, who, [&proposer, &recipient])?;
            let event_id = check_event_ref(st, who, "proposal.event_id", &input.event_id)?;
            let target_event_id =
                check_event_ref(st, who, "proposal.target_event_id", &input.target_event_id)?;
            let terms = input
                .terms
                .as_ref()
                .map(|t| check_terms(st, "proposal.terms", t))
                .transpose()?;
            let id = if input.id.is_empty() {
                st.fresh_id("proposal", now, |s, id| s.proposals.get(id).is_some())
            } else {
                let id = validate::id("proposal_id", &input.id)?;
                if st.proposals.get(&id).is_some() {
                    return Err(Error::AlreadyExists {
                        kind: "proposal",
                        id,
                    });
                }
                id
            };
            let (Some(kind), Some(title), Some(description)) = (input.kind, title, description)
            else {
                unreachable!("Violations::finish returned Ok with a missing field");
            };
            let p = Proposal {
                id,
                kind,
                title,
                description,
                proposer,
                recipient,
                event_id,
                target_event_id,
                deadline: input.deadline,
                status: Status::Invited,
                terms: terms.clone(),
                finalised_at: None,
                finalise_time: None,
                visibility: input.visibility.unwrap_or_default(),
                owner_office: who.office.clone(),
                history_len: 1,
                meta: Meta::new(now),
            };
            let t = Transition {
                sequence: 1,
                from: None,
                to: Status::Invited,
                time: now,
                actor: ctx.actor.clone(),
                note: ctx.note.clone(),
                attribution: ctx.attribution.clone(),
                terms,
                event_id: None,
            };
            remember(
                st,
                tx,
                who,
                &ctx.request_id,
                "CreateProposal",
                &p.id,
                storage::encode(&p),
                now,
            )?;
            // A deadline already past (an invitation recorded after the fact) reads EXPIRED
            // at once, like any other.
            let p = store_transition(st, tx, p, &t).effective(now).0;
            Ok(View::new(st, who).proposal(p))
        })
        .await
    }

    /// Moves a proposal through its state machine on behalf of `who`, a party to it.
    /// Returns the proposal and, for a finalisation, its linked event as stored after the
    /// step, both as `who` may read them.
    pub async fn transition(
        &self,
        who: &Principal,
        id: &str,
        m: Move,
        ctx: Context,
    ) -> Result<(Proposal, Option<Arc<Event>>)> {
        check_context(&ctx)?;
        let id = id.trim().to_string();
        let travel = self.settings().travel;
        let retention = self.request_retention_micros();
        self.write(who, audited_as(&m), move |st, tx, now| {
            policy::require_writer(who)?;
            if let Some(prev) = replay(st, who, &ctx.request_id, m.method(), now - retention)? {
                let p: Proposal = storage::decode(prev.request_id.as_bytes(), &prev.snapshot)?;
                let view = View::new(st, who);
                let event = p
                    .event_id
                    .as_ref()
                    .and_then(|e| st.events.get(e.as_str()))
                    .filter(|e| view.sees(e))
                    .map(|e| view.event(e));
                return Ok((view.proposal(p), event));
            }
            let stored = st
                .proposals
                .get(&id)
                .filter(|p| policy::sees_proposal(st, who, p))
                .cloned()
                .ok_or_else(|| Error::not_found("proposal", &id, "id"))?;
            policy::require_change_proposal(st, who, &stored)?;
            let (current, expiry) = stored.effective(now);
            current.meta.check_etag(&ctx.etag, "proposal", &id)?;
            let to = m.target();
            if !current.status.next().contains(&to) {
                let allowed: Vec<&str> = current.status.next().iter().map(|s| s.name()).collect();
                let message = format!(
                    "cannot {} proposal {id:?}: it is {}{}; allowed next: {}",
                    m.verb(),
                    current.status.name(),
                    if expiry.is_some() {
                        " (its response deadline passed)"
                    } else {
                        ""
                    },
                    if allowed.is_empty() {
                        "none (terminal)".to_string()
                    } else {
                        allowed.join(", ")
                    }
                );
                return Err(Error::FailedPrecondition {
                    violations: vec![Precondition {
                        kind: "STATUS".into(),
                        subject: format!("proposals/{id}"),
                        description: message.clone(),
                    }],
                    message,
                });
            }
            let mut next = current.clone();
            next.status = to;
            next.meta = current.meta.bumped(now);
            let mut finalised_event = None;
            let mut linked_event = None;
            let offered_terms = match &m {
                Move::Counter(t) | Move::Revise(t) => {
                    let terms = check_terms(st, "terms", t)?;
                    next.terms = Some(terms.clone());
                    Some(terms)
                }
                _ => None,
            };
            if let Move::Finalise {
                event_id,
                confirm_event,
            } = &m
            {
                let view = View::new(st, who);
                let (event, confirm) = finalise_event(view, &current, event_id, *confirm_event)?;
                if let Some(mut e) = confirm {
                    // Confirming is an update like any other: conflicts are enforced first.
                    let report = conflicts::check(st, &e, &travel);
                    let hard = report.hard();
                    if !hard.is_empty() {
                        return Err(crate::redact::conflict_rejection(&view, &hard, e.zone()));
                    }
                    e.meta = e.meta.bumped(now);
                    let rev = Revision {
                        revision: e.meta.revision,
                        action: Action::Updated,
                        time: now,
                        actor: ctx.actor.clone(),
                        changed: vec!["status".into()],
                        overridden: Vec::new(),
                        note: format!("confirmed on finalising proposal {id:?}"),
                    };
                    store_event(st, tx, e, rev);
                }
                if current.kind != Kind::Agreement && current.event_id.is_none() {
                    next.event_id = Some(event.clone());
                }
                next.finalised_at = Some(event.clone());
                next.finalise_time = Some(now);
                finalised_event = Some(event.clone());
                linked_event = Some(event);
            }
            // Every allowed move starts from a live status, so `expiry` is None here: an
            // expired proposal was refused above (EXPIRED is terminal).
            next.history_len = current.history_len + 1;
            let t = Transition {
                sequence: next.history_len,
                from: Some(current.status),
                to,
                time: now,
                actor: ctx.actor.clone(),
                note: ctx.note.clone(),
                attribution: ctx.attribution.clone(),
                terms: offered_terms,
                event_id: finalised_event,
            };
            remember(
                st,
                tx,
                who,
                &ctx.request_id,
                m.method(),
                &id,
                storage::encode(&next),
                now,
            )?;
            let p = store_transition(st, tx, next, &t);
            let view = View::new(st, who);
            let event = linked_event
                .or_else(|| p.event_id.clone())
                .and_then(|e| st.events.get(&e))
                .filter(|e| view.sees(e))
                .map(|e| view.event(e));
            Ok((view.proposal((*p).clone()), event))
        })
        .await
    }

    /// One proposal, as of now, if `who` may see it (NOT_FOUND otherwise).
    pub fn get_proposal(&self, who: &Principal, id: &str) -> Result<Proposal> {
        let now = self.now();
        self.read(who, |view| {
            let st = view.state();
            let p = st
                .proposals
                .get(id)
                .filter(|p| policy::sees_proposal(st, who, p))
                .ok_or_else(|| Error::not_found("proposal", id, "id"))?;
            Ok(view.proposal(p.effective(now).0))
        })
    }

    /// Proposals matching `q` that `who` may see, in id order (pages are full: visibility
    /// is applied before paging).
    pub fn list_proposals(
        &self,
        who: &Principal,
        q: &ProposalQuery,
        page: &PageRequest,
    ) -> Result<validate::Page<Proposal>> {
        let now = self.now();
        self.read(who, |view| {
            let st = view.state();
            let me = q.participant.clone().map(Party::Participant);
            // `status` is the proposal's as of now, which a passed deadline may have changed.
            let matches = |p: &Proposal, status: Status| {
                me.as_ref().is_none_or(|m| p.parties().contains(&m))
                    && q.country.as_ref().is_none_or(|c| {
                        p.parties()
                            .iter()
                            .any(|party| country_of(st, party).as_ref() == Some(c))
                    })
                    && q.kind.is_none_or(|k| p.kind == k)
                    && q.status.is_none_or(|s| status == s)
                    && q.target_event
                        .as_ref()
                        .is_none_or(|t| p.target_event_id.as_ref() == Some(t))
                    && q.event
                        .as_ref()
                        .is_none_or(|e| p.event_id.as_ref() == Some(e))
                    && (!q.awaiting_response
                        || me.as_ref().is_some_and(|m| {
                            (status == Status::Invited && p.recipient == *m)
                                || (status == Status::Countered && p.proposer == *m)
                        }))
                    && policy::sees_proposal(st, who, p)
            };
            // Filtered on their status as of now, then copied (to apply a passed deadline)
            // only as they join the page: copying every candidate would cost the whole store.
            let current = st
                .proposals
                .by_id
                .range::<str, _>(page.rest())
                .filter(|(_, p)| matches(p, p.status_at(now)))
                .map(|(k, p)| (k, view.proposal(p.effective(now).0)));
            let (items, next_page_token) = validate::page(current, page);
            Ok(validate::Page {
                items,
                next_page_token,
                revision: st.revision,
            })
        })
    }

    /// A proposal's history, oldest first (including an expiry not yet swept), if `who`
    /// may see the proposal.
    pub fn proposal_history(
        &self,
        who: &Principal,
        id: &str,
        page: &PageRequest,
    ) -> Result<(Vec<Transition>, String)> {
        let now = self.now();
        let (history_len, expiry) = self.read(who, |view| {
            let st = view.state();
            st.proposals
                .get(id)
                .filter(|p| policy::sees_proposal(st, who, p))
                .map(|p| (p.history_len, p.expiry(now)))
                .ok_or_else(|| Error::not_found("proposal", id, "proposal_id"))
        })?;
        let mut key = storage::key(prefix::PROPOSAL_HISTORY, id);
        key.push(0);
        let mut all: Vec<Transition> = self
            .store()
            .scan(&key)?
            .iter()
            .map(|(k, v)| storage::decode(k, v))
            .collect::<Result<_>>()?;
        all.truncate(history_len as usize);
        all.extend(expiry);
        let after = page.after_sequence()?;
        let (items, token) = validate::sequence_page(
            all.into_iter().filter(|t| t.sequence > after).map(Ok),
            |t| t.sequence,
            page,
        )?;
        let items = self.read(who, |view| {
            items.into_iter().map(|t| view.transition(t)).collect()
        });
        Ok((items, token))
    }

    /// Stores the expiry of every INVITED proposal whose deadline has passed (the entry a
    /// reader already sees). Returns how many expired. The server runs it as
    /// [`Principal::system`].
    pub async fn expire_due(&self, who: &Principal) -> Result<usize> {
        policy::require_admin(who)?;
        // Nothing due is no write: over PostgreSQL a write (even one that changes nothing)
        // takes the commit lock and would end another server's sole-writer lease every
        // sweep. What falls due between this look and the next sweep waits for that one.
        let now = self.now();
        if self.read(who, |view| due(view.state(), now).next().is_none()) {
            return Ok(0);
        }
        self.write(who, method::EXPIRE_PROPOSALS, |st, tx, now| {
            let due: Vec<(Proposal, Transition)> = due(st, now).collect();
            let n = due.len();
            for (p, t) in due {
                store_transition(st, tx, p, &t);
            }
            Ok(n)
        })
        .await
    }
}

/// Which event a finalisation records, and the event to confirm with it, if any. The
/// event must be one `view`'s principal may see (NOT_FOUND otherwise), and to confirm it,
/// one it may change.
fn finalise_event(
    view: View<'_>,
    p: &Proposal,
    requested: &str,
    confirm: bool,
) -> Result<(String, Option<Event>)> {
    let st = view.state();
    let requested = requested.trim();
    let subject = format!("proposals/{}", p.id);
    if p.kind == Kind::Agreement {
        let id = [
            requested,
            p.target_event_id.as_deref().unwrap_or(""),
            p.event_id.as_deref().unwrap_or(""),
        ]
        .into_iter()
        .find(|s| !s.is_empty())
        .ok_or_else(|| {
            Error::invalid(
                "event_id",
                "name the event at which the agreement was finalised",
            )
        })?;
        let e = policy::visible_event(st, view.who(), id, "event_id")?;
        if !e.is_live() {
            return Err(Error::precondition(
                "EVENT_CANCELLED",
                subject,
                format!(
                    "the agreement cannot be finalised at {:?}: it was cancelled",
                    e.title
                ),
            ));
        }
        return Ok((id.to_string(), None));
    }
    let id = match (p.event_id.as_deref(), requested) {
        (Some(linked), r) if !r.is_empty() && r != linked => {
            return Err(Error::invalid(
                "event_id",
                format!("the proposal is already linked to event {linked:?}"),
            ));
        }
        (Some(linked), _) => linked,
        (None, r) if !r.is_empty() => r,
        (None, _) => {
            return Err(Error::precondition(
                "EVENT_REQUIRED",
                subject,
                "an invitation or meeting request is finalised by its event: schedule it and pass its event_id",
            ));
        }
    };
    let e = policy::visible_event(st, view.who(), id, "event_id")?;
    match e.status {
        EventStatus::Confirmed => Ok((id.to_string(), None)),
        EventStatus::Tentative if confirm => {
            policy::require_change_event(st, view.who(), e)?;
            let mut next = (**e).clone();
            next.status = EventStatus::Confirmed;
            Ok((id.to_string(), Some(next)))
        }
        EventStatus::Tentative => Err(Error::precondition(
            "EVENT_NOT_CONFIRMED",
            subject,
            format!(
                "event {:?} is TENTATIVE; confirm it first, or pass confirm_event to confirm it in the same step",
                e.title
            ),
        )),
        EventStatus::Cancelled => Err(Error::precondition(
            "EVENT_CANCELLED",
            subject,
            format!("event {:?} was cancelled", e.title),
        )),
    }
}

/// The audit log's name of a move.
fn audited_as(m: &Move) -> &'static str {
    match m {
        Move::Accept => method::ACCEPT_PROPOSAL,
        Move::Decline => method::DECLINE_PROPOSAL,
        Move::Counter(_) => method::COUNTER_PROPOSAL,
        Move::Revise(_) => method::REVISE_PROPOSAL,
        Move::Withdraw => method::WITHDRAW_PROPOSAL,
        Move::Finalise { .. } => method::FINALISE_PROPOSAL,
    }
}

fn check_party(st: &State, field: &str, p: &Option<Party>) -> Result<Party> {
    match p {
        None => Err(Error::invalid(
            field,
            "is required: a participant_id or a country_code",
        )),
        Some(Party::Participant(id)) => {
            st.get_at::<Participant>(id, || format!("{field}.participant_id"))?;
            Ok(Party::Participant(id.clone()))
        }
        Some(Party::Country(c)) => Ok(Party::Country(validate::country_code(
            &format!("{field}.country_code"),
            c,
        )?)),
    }
}

fn check_terms(st: &State, field: &str, t: &TermsInput) -> Result<Terms> {
    let summary = validate::text(&format!("{field}.summary"), &t.summary)?;
    let venue_id = if t.venue_id.trim().is_empty() {
        None
    } else {
        st.get_at::<Venue>(t.venue_id.trim(), || format!("{field}.venue_id"))?;
        Some(t.venue_id.trim().to_string())
    };
    // Proposed dates must be readable: resolve them now (in the proposed venue's zone, or
    // the zone they name) so a counter-offer cannot carry a date that does not exist.
    let timing = match &t.timing {
        None => None,
        Some(timing) => {
            let zone = venue_id
                .as_ref()
                .and_then(|v| st.venues.get(v.as_str()))
                .map(|v| v.zone);
            let named = match timing {
                TimingInput::Timed { time_zone, .. } | TimingInput::AllDay { time_zone, .. } => {
                    time_zone.clone()
                }
            };
            let zone = match (zone, named.trim().is_empty()) {
                (Some(z), _) => z,
                (None, false) => validate::zone(&format!("{field}.timing.time_zone"), &named)?,
                (None, true) => {
                    return Err(Error::invalid(
                        format!("{field}.timing"),
                        "proposed dates need a venue_id or a time_zone to be read in",
                    ));
                }
            };
            events::resolve_timing(timing, zone, TimeOptions::default())
                .map_err(|e| relabel(e, &format!("{field}.timing"), "event.timing"))?;
            Some(match timing.clone() {
                TimingInput::Timed {
                    start,
                    end,
                    time_zone,
                } => TermsTiming::Timed(start, end, time_zone),
                TimingInput::AllDay {
                    start_date,
                    end_date,
                    time_zone,
                } => TermsTiming::AllDay(start_date, end_date, time_zone),
            })
        }
    };
    Ok(Terms {
        summary,
        timing,
        venue_id,
    })
}

fn country_of(st: &State, party: &Party) -> Option<String> {
    match party {
        Party::Country(c) => Some(c.clone()),
        Party::Participant(p) => st
            .participants
            .get(p.as_str())
            .map(|x| x.country_code.clone()),
    }
}

/// The proposals whose deadline has passed by `now`, each with what it becomes.
fn due(st: &State, now: i64) -> impl Iterator<Item = (Proposal, Transition)> + '_ {
    st.proposals
        .by_id
        .values()
        .filter(move |p| p.expired_by(now))
        .filter_map(move |p| match p.effective(now) {
            (next, Some(t)) => Some((next, t)),
            _ => None,
        })
}
