//! `entente proposal ...`: invitations, meeting requests and agreements.

use clap::{Args, Subcommand, ValueEnum};
use entente_client::proto as pb;
use entente_client::{Client, timearg};

use super::output::enum_name;
use super::{Out, Res, usage};

/// Proposal kinds.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Kind {
    /// An invitation, e.g. to an official visit.
    Invitation,
    /// A request for a meeting.
    MeetingRequest,
    /// An agreement to be signed.
    Agreement,
}

impl Kind {
    fn proto(self) -> pb::ProposalKind {
        match self {
            Kind::Invitation => pb::ProposalKind::Invitation,
            Kind::MeetingRequest => pb::ProposalKind::MeetingRequest,
            Kind::Agreement => pb::ProposalKind::Agreement,
        }
    }
}

/// Who said it and where it was reported.
#[derive(Debug, Args)]
pub struct Said {
    /// Who performs it (a participant id or an office).
    #[arg(long)]
    actor: Option<String>,
    /// Free text.
    #[arg(long)]
    note: Option<String>,
    /// The source, e.g. "RIA Novosti".
    #[arg(long)]
    source: Option<String>,
    /// A link to the report.
    #[arg(long, requires = "source")]
    url: Option<String>,
    /// The etag last seen (default: unconditional).
    #[arg(long)]
    etag: Option<String>,
    /// Idempotency key: a retry with the same id applies once.
    #[arg(long)]
    request_id: Option<String>,
}

impl Said {
    /// The fields every transition request shares, as a request with them set: used as
    /// the base of a struct update (`..said.common()`).
    fn common<R: Transition>(&self) -> R {
        R::with(
            self.etag.clone().unwrap_or_default(),
            self.actor.clone().unwrap_or_default(),
            self.note.clone().unwrap_or_default(),
            self.attribution(),
            self.request_id.clone().unwrap_or_default(),
        )
    }

    fn attribution(&self) -> Option<pb::Attribution> {
        self.source.as_ref().map(|s| pb::Attribution {
            source: s.clone(),
            url: self.url.clone().unwrap_or_default(),
            reported_time: None,
        })
    }
}

/// A transition request built from the shared fields.
trait Transition: Default {
    fn with(
        etag: String,
        actor: String,
        note: String,
        attribution: Option<pb::Attribution>,
        request_id: String,
    ) -> Self;
}

macro_rules! transition {
    ($($t:ty),*) => {
        $(impl Transition for $t {
            fn with(etag: String, actor: String, note: String, attribution: Option<pb::Attribution>, request_id: String) -> Self {
                Self { etag, actor, note, attribution, request_id, ..Default::default() }
            }
        })*
    };
}

transition!(
    pb::AcceptProposalRequest,
    pb::DeclineProposalRequest,
    pb::CounterProposalRequest,
    pb::ReviseProposalRequest,
    pb::WithdrawProposalRequest,
    pb::FinaliseProposalRequest
);

/// Proposed terms.
#[derive(Debug, Args)]
pub struct TermsArgs {
    /// What is proposed, in words.
    #[arg(long)]
    summary: Option<String>,
    /// Proposed venue.
    #[arg(long = "terms-venue")]
    venue: Option<String>,
    /// Proposed dates: 2025-01-17 or 2025-01-16..2025-01-17.
    #[arg(long = "terms-dates")]
    dates: Option<String>,
    /// Zone of the proposed dates (default: the proposed venue's).
    #[arg(long = "terms-zone")]
    zone: Option<String>,
}

impl TermsArgs {
    fn terms(&self) -> Result<Option<pb::ProposalTerms>, super::Failure> {
        if self.summary.is_none() && self.venue.is_none() && self.dates.is_none() {
            return Ok(None);
        }
        let timing = timearg::timing(None, None, self.dates.as_deref(), self.zone.as_deref())
            .map_err(usage)?;
        Ok(Some(pb::ProposalTerms {
            summary: self.summary.clone().unwrap_or_default(),
            timing,
            venue_id: self.venue.clone().unwrap_or_default(),
        }))
    }
}

/// Proposal commands.
#[derive(Debug, Subcommand)]
pub enum ProposalCmd {
    /// Make a proposal (it starts INVITED).
    Create(Box<CreateArgs>),
    /// Show one proposal.
    Get {
        /// Proposal id.
        id: String,
    },
    /// List proposals.
    List {
        /// Only those with this participant as a party.
        #[arg(long)]
        participant: Option<String>,
        /// Only those with this country as a party.
        #[arg(long)]
        country: Option<String>,
        /// Only those to be finalised at this event.
        #[arg(long)]
        target_event: Option<String>,
        /// With --participant: only those awaiting their answer.
        #[arg(long)]
        pending: bool,
    },
    /// Accept (the recipient, or the proposer accepting a counter).
    Accept {
        /// Proposal id.
        id: String,
        #[command(flatten)]
        said: Said,
    },
    /// Decline.
    Decline {
        /// Proposal id.
        id: String,
        #[command(flatten)]
        said: Said,
    },
    /// Propose other dates or terms (the recipient).
    Counter {
        /// Proposal id.
        id: String,
        #[command(flatten)]
        terms: TermsArgs,
        #[command(flatten)]
        said: Said,
    },
    /// Revise after a counter (the proposer).
    Revise {
        /// Proposal id.
        id: String,
        #[command(flatten)]
        terms: TermsArgs,
        #[command(flatten)]
        said: Said,
    },
    /// Withdraw (the proposer).
    Withdraw {
        /// Proposal id.
        id: String,
        #[command(flatten)]
        said: Said,
    },
    /// Finalise an accepted proposal.
    Finalise {
        /// Proposal id.
        id: String,
        /// The event it produced (invitations) or was finalised at (agreements).
        #[arg(long)]
        event: Option<String>,
        /// Confirm a tentative linked event in the same step.
        #[arg(long)]
        confirm_event: bool,
        #[command(flatten)]
        said: Said,
    },
    /// Every transition, oldest first.
    History {
        /// Proposal id.
        id: String,
    },
}

/// `proposal create` arguments.
#[derive(Debug, Args)]
pub struct CreateArgs {
    /// Readable id (default: generated).
    #[arg(long)]
    id: Option<String>,
    /// Kind.
    #[arg(long, value_enum)]
    kind: Kind,
    /// Title.
    #[arg(long)]
    title: String,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// Proposer: a participant id, or country:RU.
    #[arg(long)]
    from: String,
    /// Recipient: a participant id, or country:IR.
    #[arg(long)]
    to: String,
    /// The event it produces or concerns.
    #[arg(long)]
    event: Option<String>,
    /// The event where it should be finalised.
    #[arg(long)]
    target_event: Option<String>,
    /// Response deadline, an RFC 3339 instant.
    #[arg(long)]
    deadline: Option<String>,
    #[command(flatten)]
    terms: TermsArgs,
    #[command(flatten)]
    said: Said,
}

fn party(s: &str) -> pb::Party {
    pb::Party {
        party: Some(match s.strip_prefix("country:") {
            Some(c) => pb::party::Party::CountryCode(c.to_string()),
            None => pb::party::Party::ParticipantId(s.to_string()),
        }),
    }
}

fn party_name(p: &Option<pb::Party>) -> String {
    match p.as_ref().and_then(|p| p.party.as_ref()) {
        Some(pb::party::Party::ParticipantId(id)) => id.clone(),
        Some(pb::party::Party::CountryCode(c)) => format!("country:{c}"),
        None => String::new(),
    }
}

fn status(s: i32) -> String {
    enum_name(
        pb::ProposalStatus::try_from(s)
            .unwrap_or_default()
            .as_str_name(),
        "PROPOSAL_STATUS_",
    )
}

fn show(out: &Out, p: &pb::Proposal) -> Res {
    if out.json {
        return Ok(out.json_one(p, "entente.v1.Proposal")?);
    }
    Ok(out.fields(&[
        ("id", p.id.clone()),
        ("title", p.title.clone()),
        ("kind", enum_name(p.kind().as_str_name(), "PROPOSAL_KIND_")),
        ("status", status(p.status)),
        ("from", party_name(&p.proposer)),
        ("to", party_name(&p.recipient)),
        ("event", p.event_id.clone()),
        ("target event", p.target_event_id.clone()),
        ("finalised at", p.finalised_at_event_id.clone()),
        (
            "deadline",
            p.response_deadline
                .map(|t| t.to_string())
                .unwrap_or_default(),
        ),
        (
            "terms",
            p.terms
                .as_ref()
                .map(|t| t.summary.clone())
                .unwrap_or_default(),
        ),
        ("etag", p.etag.clone()),
    ])?)
}

fn deadline(s: &Option<String>) -> Result<Option<prost_types::Timestamp>, super::Failure> {
    let Some(s) = s else { return Ok(None) };
    let t = chrono::DateTime::parse_from_rfc3339(s).map_err(|_| {
        usage(format!(
            "--deadline {s:?} is not an RFC 3339 instant such as 2024-10-20T12:00:00Z"
        ))
    })?;
    Ok(Some(prost_types::Timestamp {
        seconds: t.timestamp(),
        nanos: 0,
    }))
}

/// Runs a proposal command.
pub async fn proposal(client: &Client, out: &Out, cmd: ProposalCmd) -> Res {
    let mut p = client.proposals();
    let one = |r: Option<pb::Proposal>| r.unwrap_or_default();
    match cmd {
        ProposalCmd::Create(a) => {
            let a = *a;
            let r = p
                .create_proposal(pb::CreateProposalRequest {
                    proposal: Some(pb::Proposal {
                        kind: a.kind.proto() as i32,
                        title: a.title,
                        description: a.description.unwrap_or_default(),
                        proposer: Some(party(&a.from)),
                        recipient: Some(party(&a.to)),
                        event_id: a.event.unwrap_or_default(),
                        target_event_id: a.target_event.unwrap_or_default(),
                        response_deadline: deadline(&a.deadline)?,
                        terms: a.terms.terms()?,
                        ..Default::default()
                    }),
                    proposal_id: a.id.unwrap_or_default(),
                    actor: a.said.actor.clone().unwrap_or_default(),
                    note: a.said.note.clone().unwrap_or_default(),
                    attribution: a.said.attribution(),
                    request_id: a.said.request_id.clone().unwrap_or_default(),
                })
                .await?
                .into_inner();
            show(out, &one(r.proposal))
        }
        ProposalCmd::Get { id } => show(
            out,
            &one(p
                .get_proposal(pb::GetProposalRequest { id })
                .await?
                .into_inner()
                .proposal),
        ),
        ProposalCmd::List {
            participant,
            country,
            target_event,
            pending,
        } => {
            let r = p
                .list_proposals(pb::ListProposalsRequest {
                    participant_id: participant.unwrap_or_default(),
                    country_code: country.unwrap_or_default(),
                    target_event_id: target_event.unwrap_or_default(),
                    awaiting_response: pending,
                    page_size: 1000,
                    ..Default::default()
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_many(&r.proposals, "entente.v1.Proposal")?);
            }
            let rows = r
                .proposals
                .iter()
                .map(|x| {
                    vec![
                        x.id.clone(),
                        x.title.clone(),
                        status(x.status),
                        party_name(&x.proposer),
                        party_name(&x.recipient),
                        x.target_event_id.clone(),
                    ]
                })
                .collect();
            Ok(out.table(&["ID", "TITLE", "STATUS", "FROM", "TO", "TARGET"], rows)?)
        }
        ProposalCmd::Accept { id, said } => {
            let r = p
                .accept_proposal(pb::AcceptProposalRequest {
                    id,
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::Decline { id, said } => {
            let r = p
                .decline_proposal(pb::DeclineProposalRequest {
                    id,
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::Counter { id, terms, said } => {
            let terms = terms.terms()?.ok_or_else(|| {
                usage("a counter-proposal needs --summary, --terms-dates or --terms-venue")
            })?;
            let r = p
                .counter_proposal(pb::CounterProposalRequest {
                    id,
                    terms: Some(terms),
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::Revise { id, terms, said } => {
            let terms = terms.terms()?.ok_or_else(|| {
                usage("a revision needs --summary, --terms-dates or --terms-venue")
            })?;
            let r = p
                .revise_proposal(pb::ReviseProposalRequest {
                    id,
                    terms: Some(terms),
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::Withdraw { id, said } => {
            let r = p
                .withdraw_proposal(pb::WithdrawProposalRequest {
                    id,
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::Finalise {
            id,
            event,
            confirm_event,
            said,
        } => {
            let r = p
                .finalise_proposal(pb::FinaliseProposalRequest {
                    id,
                    event_id: event.unwrap_or_default(),
                    confirm_event,
                    ..said.common()
                })
                .await?;
            show(out, &one(r.into_inner().proposal))
        }
        ProposalCmd::History { id } => {
            let r = p
                .list_proposal_history(pb::ListProposalHistoryRequest {
                    proposal_id: id,
                    page_size: 1000,
                    page_token: String::new(),
                })
                .await?
                .into_inner();
            if out.json {
                return Ok(out.json_many(&r.transitions, "entente.v1.ProposalTransition")?);
            }
            let rows = r
                .transitions
                .iter()
                .map(|t| {
                    let from = if t.from_status == 0 {
                        "—".to_string()
                    } else {
                        status(t.from_status)
                    };
                    let src = t
                        .attribution
                        .as_ref()
                        .map(|a| {
                            if a.url.is_empty() {
                                a.source.clone()
                            } else {
                                format!("{} <{}>", a.source, a.url)
                            }
                        })
                        .unwrap_or_default();
                    vec![
                        t.sequence.to_string(),
                        t.time.map(|x| x.to_string()).unwrap_or_default(),
                        format!("{from} → {}", status(t.to_status)),
                        t.actor.clone(),
                        src,
                        [
                            t.note.clone(),
                            t.terms
                                .as_ref()
                                .map(|x| x.summary.clone())
                                .unwrap_or_default(),
                            t.event_id.clone(),
                        ]
                        .into_iter()
                        .filter(|s| !s.is_empty())
                        .collect::<Vec<_>>()
                        .join("; "),
                    ]
                })
                .collect();
            Ok(out.table(
                &["#", "TIME (UTC)", "STATUS", "BY", "ACCORDING TO", "NOTE"],
                rows,
            )?)
        }
    }
}
