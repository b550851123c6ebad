//! Proposals: invitations, meeting requests and agreements, with their state machine and
//! an attributed, append-only history.
//!
//! ```text
//! INVITED   -> ACCEPTED | DECLINED | COUNTERED | WITHDRAWN | EXPIRED
//! COUNTERED -> INVITED | ACCEPTED | DECLINED | WITHDRAWN
//! ACCEPTED  -> FINALISED | WITHDRAWN
//! FINALISED, DECLINED, WITHDRAWN, EXPIRED: terminal
//! ```
//!
//! Expiry is deterministic: an INVITED proposal whose deadline has passed *is* EXPIRED for
//! every read from that instant on, with a history entry dated at the deadline by "system".
//! A background sweep later stores exactly that entry, so what a reader saw before the
//! sweep and what is stored after it are the same.
//!
//! Finalising an invitation or meeting request whose event is TENTATIVE may confirm the
//! event in the same atomic write, under the same conflict enforcement as any update: if
//! confirming would double-book someone, neither the proposal nor the event changes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::directory::{Participant, Venue};
use crate::error::{Error, Result, Violations};
use crate::events::{TimingInput, Visibility};
use crate::record::Meta;
use crate::validate;

/// What is proposed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    /// An invitation (an official or state visit).
    Invitation,
    /// A request for a meeting.
    MeetingRequest,
    /// An agreement to be signed.
    Agreement,
}

/// Where a proposal stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Status {
    /// Awaiting the recipient.
    Invited,
    /// Accepted.
    Accepted,
    /// Declined (terminal).
    Declined,
    /// Counter-proposed; awaiting the proposer.
    Countered,
    /// Withdrawn (terminal).
    Withdrawn,
    /// Deadline passed while INVITED (terminal).
    Expired,
    /// Done (terminal).
    Finalised,
}

impl Status {
    /// Every status, for tables.
    pub const ALL: [Status; 7] = [
        Status::Invited,
        Status::Accepted,
        Status::Declined,
        Status::Countered,
        Status::Withdrawn,
        Status::Expired,
        Status::Finalised,
    ];

    /// The statuses this one may move to.
    pub fn next(self) -> &'static [Status] {
        use Status::*;
        match self {
            Invited => &[Accepted, Declined, Countered, Withdrawn, Expired],
            Countered => &[Invited, Accepted, Declined, Withdrawn],
            Accepted => &[Finalised, Withdrawn],
            Declined | Withdrawn | Expired | Finalised => &[],
        }
    }

    /// Upper-case name, as in the API.
    pub fn name(self) -> &'static str {
        match self {
            Status::Invited => "INVITED",
            Status::Accepted => "ACCEPTED",
            Status::Declined => "DECLINED",
            Status::Countered => "COUNTERED",
            Status::Withdrawn => "WITHDRAWN",
            Status::Expired => "EXPIRED",
            Status::Finalised => "FINALISED",
        }
    }
}

/// A party: a participant or a whole country.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Party {
    /// A participant id.
    Participant(String),
    /// An ISO country code.
    Country(String),
}

/// Where a piece of information came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Attribution {
    /// "RIA Novosti".
    pub source: String,
    /// A link.
    pub url: String,
    /// When the source reported it (microseconds).
    pub reported_time: Option<i64>,
}

/// Timing as proposed (kept as entered; checked to be readable).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TermsTiming {
    /// Start, end, zone.
    Timed(String, String, String),
    /// First day, last day, zone.
    AllDay(String, String, String),
}

/// The terms on the table.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Terms {
    /// Free text.
    pub summary: String,
    /// Proposed dates.
    pub timing: Option<TermsTiming>,
    /// Proposed venue.
    pub venue_id: Option<String>,
}

/// A stored proposal.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    /// Stable id.
    pub id: String,
    /// Kind.
    pub kind: Kind,
    /// Title.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Who proposes.
    pub proposer: Party,
    /// To whom.
    pub recipient: Party,
    /// The event it produces or concerns.
    pub event_id: Option<String>,
    /// Where it should be finalised.
    pub target_event_id: Option<String>,
    /// Response deadline (microseconds).
    pub deadline: Option<i64>,
    /// Stored status (see [`Proposal::effective`] for expiry).
    pub status: Status,
    /// Current terms.
    pub terms: Option<Terms>,
    /// The event it was finalised at.
    pub finalised_at: Option<String>,
    /// When it was finalised (microseconds).
    pub finalise_time: Option<i64>,
    /// Who may see it.
    pub visibility: Visibility,
    /// The office that created it.
    pub owner_office: String,
    /// How many history entries are stored.
    pub history_len: u64,
    /// Version and timestamps.
    pub meta: Meta,
}

/// One history entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    /// 1 for the creation.
    pub sequence: u64,
    /// `None` for the creation.
    pub from: Option<Status>,
    /// The status entered.
    pub to: Status,
    /// Server time (microseconds).
    pub time: i64,
    /// Who.
    pub actor: String,
    /// Free text.
    pub note: String,
    /// Source.
    pub attribution: Option<Attribution>,
    /// Terms offered with it.
    pub terms: Option<Terms>,
    /// Event it was finalised at.
    pub event_id: Option<String>,
}

impl Proposal {
    /// Whether a passed deadline makes this proposal, stored as INVITED, EXPIRED as of
    /// `now`: the test without a copy, for readers that only filter.
    pub fn expired_by(&self, now: i64) -> bool {
        self.status == Status::Invited && self.deadline.is_some_and(|d| d <= now)
    }

    /// The status as of `now`.
    pub fn status_at(&self, now: i64) -> Status {
        if self.expired_by(now) {
            Status::Expired
        } else {
            self.status
        }
    }

    /// The history entry that a passed deadline adds as of `now` (dated at the deadline),
    /// if it expires this proposal.
    pub fn expiry(&self, now: i64) -> Option<Transition> {
        if !self.expired_by(now) {
            return None;
        }
        // An invitation recorded after its deadline expires when it is recorded.
        let at = self.deadline?.max(self.meta.create_time);
        Some(Transition {
            sequence: self.history_len + 1,
            from: Some(Status::Invited),
            to: Status::Expired,
            time: at,
            actor: "system".into(),
            note: "the response deadline passed".into(),
            attribution: None,
            terms: None,
            event_id: None,
        })
    }

    /// The proposal as of `now`: an INVITED proposal past its deadline is EXPIRED, with the
    /// history entry that records it ([`Proposal::expiry`]).
    pub fn effective(&self, now: i64) -> (Proposal, Option<Transition>) {
        let mut p = self.clone();
        let expiry = self.expiry(now);
        if let Some(t) = &expiry {
            p.status = t.to;
            p.history_len = t.sequence;
            p.meta = Meta {
                revision: self.meta.revision + 1,
                create_time: self.meta.create_time,
                update_time: t.time,
            };
        }
        (p, expiry)
    }

    pub fn parties(&self) -> [&Party; 2] {
        [&self.proposer, &self.recipient]
    }
}

/// All proposals.
#[derive(Debug, Default)]
pub struct ProposalStore {
    pub by_id: BTreeMap<String, Arc<Proposal>>,
}

impl ProposalStore {
    /// The store of these proposals (every stored one, at start-up).
    pub fn of(all: impl IntoIterator<Item = Proposal>) -> ProposalStore {
        ProposalStore {
            by_id: all
                .into_iter()
                .map(|p| (p.id.clone(), Arc::new(p)))
                .collect(),
        }
    }

    /// Ids of the proposals that name a directory resource: a participant as a party, or
    /// a venue in the terms on the table. (Terms of earlier rounds live in the history,
    /// quoted as they were said.)
    pub fn referrers(&self, kind: &str, id: &str) -> Vec<String> {
        let names = |p: &Proposal| match kind {
            k if k == Participant::KIND => p
                .parties()
                .iter()
                .any(|party| matches!(party, Party::Participant(x) if x == id)),
            k if k == Venue::KIND => p
                .terms
                .as_ref()
                .is_some_and(|t| t.venue_id.as_deref() == Some(id)),
            _ => false,
        };
        self.by_id
            .values()
            .filter(|p| names(p))
            .map(|p| p.id.clone())
            .collect()
    }

    /// Files a proposal another server stored (see `replica`).
    pub fn file(&mut self, p: Arc<Proposal>) {
        self.by_id.insert(p.id.clone(), p);
    }

    /// One proposal.
    pub fn get(&self, id: &str) -> Option<&Arc<Proposal>> {
        self.by_id.get(id)
    }
}

/// A proposal as a client sends it.
#[derive(Debug, Clone, Default)]
pub struct ProposalInput {
    /// Optional readable id.
    pub id: String,
    /// Required.
    pub kind: Option<Kind>,
    /// Required.
    pub title: String,
    /// Free text.
    pub description: String,
    /// Required.
    pub proposer: Option<Party>,
    /// Required.
    pub recipient: Option<Party>,
    /// Optional.
    pub event_id: String,
    /// Optional.
    pub target_event_id: String,
    /// Optional (microseconds).
    pub deadline: Option<i64>,
    /// Optional.
    pub terms: Option<TermsInput>,
    /// `None`: PARTIES.
    pub visibility: Option<Visibility>,
}

/// Terms as a client sends them.
#[derive(Debug, Clone, Default)]
pub struct TermsInput {
    /// Free text.
    pub summary: String,
    /// Proposed dates.
    pub timing: Option<TimingInput>,
    /// Proposed venue.
    pub venue_id: String,
}

/// Who did it and why, for the history.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// The etag last seen ("" = unconditional).
    pub etag: String,
    /// Who.
    pub actor: String,
    /// Free text.
    pub note: String,
    /// Source.
    pub attribution: Option<Attribution>,
    /// AIP-155 idempotency key.
    pub request_id: String,
}

/// A transition request.
#[derive(Debug, Clone)]
pub enum Move {
    /// Recipient accepts, or proposer accepts the counter.
    Accept,
    /// Declines.
    Decline,
    /// Recipient proposes other terms.
    Counter(TermsInput),
    /// Proposer revises after a counter.
    Revise(TermsInput),
    /// Proposer withdraws.
    Withdraw,
    /// Finalises; optional event, and whether to confirm a tentative linked event.
    Finalise {
        /// The event (see the API docs).
        event_id: String,
        /// Confirm a TENTATIVE linked event atomically.
        confirm_event: bool,
    },
}

impl Move {
    pub fn target(&self) -> Status {
        match self {
            Move::Accept => Status::Accepted,
            Move::Decline => Status::Declined,
            Move::Counter(_) => Status::Countered,
            Move::Revise(_) => Status::Invited,
            Move::Withdraw => Status::Withdrawn,
            Move::Finalise { .. } => Status::Finalised,
        }
    }

    pub fn method(&self) -> &'static str {
        match self {
            Move::Accept => "AcceptProposal",
            Move::Decline => "DeclineProposal",
            Move::Counter(_) => "CounterProposal",
            Move::Revise(_) => "ReviseProposal",
            Move::Withdraw => "WithdrawProposal",
            Move::Finalise { .. } => "FinaliseProposal",
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Move::Accept => "accept",
            Move::Decline => "decline",
            Move::Counter(_) => "counter",
            Move::Revise(_) => "revise",
            Move::Withdraw => "withdraw",
            Move::Finalise { .. } => "finalise",
        }
    }
}

/// Filters of a proposal list.
#[derive(Debug, Clone, Default)]
pub struct ProposalQuery {
    /// Either party is this participant.
    pub participant: Option<String>,
    /// Either party is (or belongs to) this country.
    pub country: Option<String>,
    /// Kind.
    pub kind: Option<Kind>,
    /// Effective status.
    pub status: Option<Status>,
    /// Target event.
    pub target_event: Option<String>,
    /// Linked event.
    pub event: Option<String>,
    /// With `participant`: only those awaiting that participant's answer.
    pub awaiting_response: bool,
}

/// Renames the field paths of an error produced for events to the proposal's fields.
pub fn relabel(e: Error, to: &str, from: &str) -> Error {
    match e {
        Error::Invalid(v) => Error::Invalid(
            v.into_iter()
                .map(|mut f| {
                    f.field = f.field.replacen(from, to, 1);
                    f
                })
                .collect(),
        ),
        other => other,
    }
}

pub fn check_context(c: &Context) -> Result<()> {
    let mut v = Violations::default();
    v.check(validate::bounded(
        "actor",
        &c.actor,
        validate::MAX_NAME_CHARS,
    ));
    v.check(validate::text("note", &c.note));
    if let Some(a) = &c.attribution {
        v.check(validate::bounded(
            "attribution.source",
            &a.source,
            validate::MAX_NAME_CHARS,
        ));
        v.check(validate::bounded("attribution.url", &a.url, 2000));
    }
    v.check(validate::bounded("request_id", &c.request_id, 200));
    v.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_have_no_exit_and_every_exit_is_listed_once() {
        for s in Status::ALL {
            let next = s.next();
            let terminal = matches!(
                s,
                Status::Declined | Status::Withdrawn | Status::Expired | Status::Finalised
            );
            assert_eq!(next.is_empty(), terminal, "{s:?}");
            let mut dedup = next.to_vec();
            dedup.sort();
            dedup.dedup();
            assert_eq!(dedup.len(), next.len());
        }
    }
}
