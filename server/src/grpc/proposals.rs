//! `entente.v1.ProposalService`: convert, call the scheduler, convert back.

use entente_proto::v1 as pb;
use entente_proto::v1::proposal_service_server::ProposalService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert::{self, known_enum, required};
use super::events::render;
use crate::directory::requested_id;
use crate::error::{Error, Result};
use crate::grpc::status::{OrStatus, to_status};
use crate::proposals::{
    Attribution, Context, Kind, Move, Party, Proposal, ProposalInput, ProposalQuery, Status as St,
    Terms, TermsInput, TermsTiming, Transition,
};
use crate::scheduler::Scheduler;
use crate::validate;

/// The proposal service over a scheduler.
#[derive(Debug, Clone)]
pub struct Proposals {
    scheduler: Scheduler,
}

impl Proposals {
    /// Serves `scheduler`'s proposals.
    pub fn new(scheduler: Scheduler) -> Proposals {
        Proposals { scheduler }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn kind_in(v: i32) -> Result<Option<Kind>> {
    Ok(match known_enum::<pb::ProposalKind>("proposal.kind", v)? {
        pb::ProposalKind::Unspecified => None,
        pb::ProposalKind::Invitation => Some(Kind::Invitation),
        pb::ProposalKind::MeetingRequest => Some(Kind::MeetingRequest),
        pb::ProposalKind::Agreement => Some(Kind::Agreement),
    })
}

fn kind_out(k: Kind) -> pb::ProposalKind {
    match k {
        Kind::Invitation => pb::ProposalKind::Invitation,
        Kind::MeetingRequest => pb::ProposalKind::MeetingRequest,
        Kind::Agreement => pb::ProposalKind::Agreement,
    }
}

fn status_in(v: i32, field: &str) -> Result<Option<St>> {
    Ok(match known_enum::<pb::ProposalStatus>(field, v)? {
        pb::ProposalStatus::Unspecified => None,
        pb::ProposalStatus::Invited => Some(St::Invited),
        pb::ProposalStatus::Accepted => Some(St::Accepted),
        pb::ProposalStatus::Declined => Some(St::Declined),
        pb::ProposalStatus::Countered => Some(St::Countered),
        pb::ProposalStatus::Withdrawn => Some(St::Withdrawn),
        pb::ProposalStatus::Expired => Some(St::Expired),
        pb::ProposalStatus::Finalised => Some(St::Finalised),
    })
}

fn status_out(s: St) -> pb::ProposalStatus {
    match s {
        St::Invited => pb::ProposalStatus::Invited,
        St::Accepted => pb::ProposalStatus::Accepted,
        St::Declined => pb::ProposalStatus::Declined,
        St::Countered => pb::ProposalStatus::Countered,
        St::Withdrawn => pb::ProposalStatus::Withdrawn,
        St::Expired => pb::ProposalStatus::Expired,
        St::Finalised => pb::ProposalStatus::Finalised,
    }
}

fn party_in(p: Option<pb::Party>) -> Option<Party> {
    match p?.party? {
        pb::party::Party::ParticipantId(id) => Some(Party::Participant(id.trim().to_string())),
        pb::party::Party::CountryCode(c) => Some(Party::Country(c)),
    }
}

fn party_out(p: &Party) -> pb::Party {
    pb::Party {
        party: Some(match p {
            Party::Participant(id) => pb::party::Party::ParticipantId(id.clone()),
            Party::Country(c) => pb::party::Party::CountryCode(c.clone()),
        }),
    }
}

fn micros(t: Option<prost_types::Timestamp>, field: &str) -> Result<Option<i64>> {
    t.map(|t| {
        if !(0..1_000_000_000).contains(&t.nanos) {
            return Err(Error::invalid(field, "is not a valid timestamp"));
        }
        t.seconds
            .checked_mul(1_000_000)
            .and_then(|s| s.checked_add(i64::from(t.nanos) / 1000))
            .ok_or_else(|| Error::invalid(field, "is out of range"))
    })
    .transpose()
}

fn attribution_in(a: Option<pb::Attribution>) -> Result<Option<Attribution>> {
    a.map(|a| {
        Ok(Attribution {
            source: a.source,
            url: a.url,
            reported_time: micros(a.reported_time, "attribution.reported_time")?,
        })
    })
    .transpose()
}

fn attribution_out(a: &Attribution) -> pb::Attribution {
    pb::Attribution {
        source: a.source.clone(),
        url: a.url.clone(),
        reported_time: a.reported_time.and_then(convert::timestamp),
    }
}

fn terms_in(t: pb::ProposalTerms) -> TermsInput {
    TermsInput {
        summary: t.summary,
        timing: t.timing.and_then(convert::timing_input),
        venue_id: t.venue_id,
    }
}

fn terms_out(t: &Terms) -> pb::ProposalTerms {
    let timing = t.timing.as_ref().map(|timing| pb::EventTiming {
        span: Some(match timing.clone() {
            TermsTiming::Timed(start, end, time_zone) => {
                pb::event_timing::Span::Timed(pb::TimedSpan {
                    start,
                    end,
                    time_zone,
                })
            }
            TermsTiming::AllDay(start_date, end_date, time_zone) => {
                pb::event_timing::Span::AllDay(pb::DateSpan {
                    start_date,
                    end_date,
                    time_zone,
                })
            }
        }),
    });
    pb::ProposalTerms {
        summary: t.summary.clone(),
        timing,
        venue_id: t.venue_id.clone().unwrap_or_default(),
    }
}

/// A proposal out.
pub fn proposal_out(p: &Proposal) -> pb::Proposal {
    pb::Proposal {
        id: p.id.clone(),
        kind: kind_out(p.kind) as i32,
        title: p.title.clone(),
        description: p.description.clone(),
        proposer: Some(party_out(&p.proposer)),
        recipient: Some(party_out(&p.recipient)),
        event_id: p.event_id.clone().unwrap_or_default(),
        target_event_id: p.target_event_id.clone().unwrap_or_default(),
        response_deadline: p.deadline.and_then(convert::timestamp),
        status: status_out(p.status) as i32,
        terms: p.terms.as_ref().map(terms_out),
        finalised_at_event_id: p.finalised_at.clone().unwrap_or_default(),
        finalise_time: p.finalise_time.and_then(convert::timestamp),
        visibility: convert::visibility_out(p.visibility) as i32,
        owner_office: p.owner_office.clone(),
        etag: p.meta.etag(),
        create_time: convert::timestamp(p.meta.create_time),
        update_time: convert::timestamp(p.meta.update_time),
    }
}

fn transition_out(t: &Transition) -> pb::ProposalTransition {
    pb::ProposalTransition {
        sequence: t.sequence as i64,
        from_status: t.from.map_or(pb::ProposalStatus::Unspecified, status_out) as i32,
        to_status: status_out(t.to) as i32,
        time: convert::timestamp(t.time),
        actor: t.actor.clone(),
        note: t.note.clone(),
        attribution: t.attribution.as_ref().map(attribution_out),
        terms: t.terms.as_ref().map(terms_out),
        event_id: t.event_id.clone().unwrap_or_default(),
    }
}

fn context(
    etag: String,
    actor: String,
    note: String,
    attribution: Option<pb::Attribution>,
    request_id: String,
) -> Result<Context> {
    Ok(Context {
        etag,
        actor,
        note,
        attribution: attribution_in(attribution)?,
        request_id,
    })
}

fn non_empty(s: String) -> Option<String> {
    let t = s.trim();
    (!t.is_empty()).then(|| t.to_string())
}

/// The fields every transition request shares.
trait TransitionRequest {
    fn split(self) -> Result<(String, Context)>;
}

macro_rules! transition_request {
    ($($t:ty),*) => {
        $(impl TransitionRequest for $t {
            fn split(self) -> Result<(String, Context)> {
                Ok((self.id, context(self.etag, self.actor, self.note, self.attribution, self.request_id)?))
            }
        })*
    };
}

transition_request!(
    pb::AcceptProposalRequest,
    pb::DeclineProposalRequest,
    pb::CounterProposalRequest,
    pb::ReviseProposalRequest,
    pb::WithdrawProposalRequest,
    pb::FinaliseProposalRequest
);

impl Proposals {
    /// One transition, on behalf of the caller of `req`.
    async fn run<R: TransitionRequest>(
        &self,
        req: Request<R>,
        m: impl FnOnce(&mut R) -> Result<Move>,
    ) -> Result<(pb::Proposal, Option<pb::Event>)> {
        let who =
            access::principal(&req).map_err(|s| Error::Unauthenticated(s.message().into()))?;
        let mut r = req.into_inner();
        let m = m(&mut r)?;
        let (id, ctx) = r.split()?;
        let (p, event) = self.scheduler.transition(&who, &id, m, ctx).await?;
        Ok((
            proposal_out(&p),
            event.map(|e| render(&self.scheduler, &e, None)),
        ))
    }
}

#[tonic::async_trait]
impl ProposalService for Proposals {
    #[instrument(skip_all)]
    async fn create_proposal(
        &self,
        req: Request<pb::CreateProposalRequest>,
    ) -> Reply<pb::CreateProposalResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let p = required("proposal", r.proposal).or_status()?;
        let input = ProposalInput {
            id: requested_id("proposal_id", &r.proposal_id, &p.id).or_status()?,
            kind: kind_in(p.kind).or_status()?,
            title: p.title,
            description: p.description,
            proposer: party_in(p.proposer),
            recipient: party_in(p.recipient),
            event_id: p.event_id,
            target_event_id: p.target_event_id,
            deadline: micros(p.response_deadline, "proposal.response_deadline").or_status()?,
            terms: p.terms.map(terms_in),
            visibility: convert::visibility(p.visibility, "proposal.visibility").or_status()?,
        };
        let ctx =
            context(String::new(), r.actor, r.note, r.attribution, r.request_id).or_status()?;
        let p = self
            .scheduler
            .create_proposal(&who, input, ctx)
            .await
            .or_status()?;
        Ok(Response::new(pb::CreateProposalResponse {
            proposal: Some(proposal_out(&p)),
        }))
    }

    #[instrument(skip_all)]
    async fn get_proposal(
        &self,
        req: Request<pb::GetProposalRequest>,
    ) -> Reply<pb::GetProposalResponse> {
        let who = access::principal(&req)?;
        let p = self
            .scheduler
            .get_proposal(&who, &req.into_inner().id)
            .or_status()?;
        Ok(Response::new(pb::GetProposalResponse {
            proposal: Some(proposal_out(&p)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_proposals(
        &self,
        req: Request<pb::ListProposalsRequest>,
    ) -> Reply<pb::ListProposalsResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        if r.awaiting_response && r.participant_id.trim().is_empty() {
            return Err(to_status(Error::invalid(
                "awaiting_response",
                "needs a participant_id: awaiting whose response?",
            )));
        }
        let q = ProposalQuery {
            participant: non_empty(r.participant_id),
            country: non_empty(r.country_code)
                .map(|c| validate::country_code("country_code", &c))
                .transpose()
                .or_status()?,
            kind: match known_enum::<pb::ProposalKind>("kind", r.kind).or_status()? {
                pb::ProposalKind::Unspecified => None,
                _ => kind_in(r.kind).or_status()?,
            },
            status: status_in(r.status, "status").or_status()?,
            target_event: non_empty(r.target_event_id),
            event: non_empty(r.event_id),
            awaiting_response: r.awaiting_response,
        };
        let page = self.scheduler.list_proposals(&who, &q, &page).or_status()?;
        Ok(Response::new(pb::ListProposalsResponse {
            proposals: page.items.iter().map(proposal_out).collect(),
            next_page_token: page.next_page_token,
            revision: page.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn accept_proposal(
        &self,
        req: Request<pb::AcceptProposalRequest>,
    ) -> Reply<pb::AcceptProposalResponse> {
        let (p, _) = self.run(req, |_| Ok(Move::Accept)).await.or_status()?;
        Ok(Response::new(pb::AcceptProposalResponse {
            proposal: Some(p),
        }))
    }

    #[instrument(skip_all)]
    async fn decline_proposal(
        &self,
        req: Request<pb::DeclineProposalRequest>,
    ) -> Reply<pb::DeclineProposalResponse> {
        let (p, _) = self.run(req, |_| Ok(Move::Decline)).await.or_status()?;
        Ok(Response::new(pb::DeclineProposalResponse {
            proposal: Some(p),
        }))
    }

    #[instrument(skip_all)]
    async fn withdraw_proposal(
        &self,
        req: Request<pb::WithdrawProposalRequest>,
    ) -> Reply<pb::WithdrawProposalResponse> {
        let (p, _) = self.run(req, |_| Ok(Move::Withdraw)).await.or_status()?;
        Ok(Response::new(pb::WithdrawProposalResponse {
            proposal: Some(p),
        }))
    }

    #[instrument(skip_all)]
    async fn counter_proposal(
        &self,
        req: Request<pb::CounterProposalRequest>,
    ) -> Reply<pb::CounterProposalResponse> {
        let (p, _) = self
            .run(req, |r| {
                Ok(Move::Counter(terms_in(required("terms", r.terms.take())?)))
            })
            .await
            .or_status()?;
        Ok(Response::new(pb::CounterProposalResponse {
            proposal: Some(p),
        }))
    }

    #[instrument(skip_all)]
    async fn revise_proposal(
        &self,
        req: Request<pb::ReviseProposalRequest>,
    ) -> Reply<pb::ReviseProposalResponse> {
        let (p, _) = self
            .run(req, |r| {
                Ok(Move::Revise(terms_in(required("terms", r.terms.take())?)))
            })
            .await
            .or_status()?;
        Ok(Response::new(pb::ReviseProposalResponse {
            proposal: Some(p),
        }))
    }

    #[instrument(skip_all)]
    async fn finalise_proposal(
        &self,
        req: Request<pb::FinaliseProposalRequest>,
    ) -> Reply<pb::FinaliseProposalResponse> {
        let (proposal, event) = self
            .run(req, |r| {
                Ok(Move::Finalise {
                    event_id: std::mem::take(&mut r.event_id),
                    confirm_event: r.confirm_event,
                })
            })
            .await
            .or_status()?;
        Ok(Response::new(pb::FinaliseProposalResponse {
            proposal: Some(proposal),
            event: event.map(Box::new),
        }))
    }

    #[instrument(skip_all)]
    async fn list_proposal_history(
        &self,
        req: Request<pb::ListProposalHistoryRequest>,
    ) -> Reply<pb::ListProposalHistoryResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let (s, id) = (self.scheduler.clone(), r.proposal_id.clone());
        let (items, next_page_token) =
            super::off_worker(move || s.proposal_history(&who, &id, &page))
                .await
                .or_status()?;
        Ok(Response::new(pb::ListProposalHistoryResponse {
            transitions: items.iter().map(transition_out).collect(),
            next_page_token,
        }))
    }
}
