//! Proposals over gRPC: the article's story, the full state machine, counters, expiry,
//! idempotent retries, stale etags and atomic finalisation.

use entente_proto::v1 as pb;
use entente_proto::v1::proposal_service_client::ProposalServiceClient;
use entente_server::ManualClock;
use entente_tests::TestServer;
use entente_tests::fixtures::{
    article_directory, bad_fields, create, days, event, precondition_subjects, precondition_types,
    timed,
};
use prost_types::Timestamp;
use tonic::Code;
use tonic::transport::Channel;

use pb::ProposalStatus as S;

/// 11 October 2024, 12:00 UTC: the day of the Ashgabat talks.
const T0: i64 = 1_728_648_000;

fn person(id: &str) -> Option<pb::Party> {
    Some(pb::Party {
        party: Some(pb::party::Party::ParticipantId(id.into())),
    })
}

fn country(code: &str) -> Option<pb::Party> {
    Some(pb::Party {
        party: Some(pb::party::Party::CountryCode(code.into())),
    })
}

fn source(name: &str, url: &str) -> Option<pb::Attribution> {
    Some(pb::Attribution {
        source: name.into(),
        url: url.into(),
        reported_time: None,
    })
}

fn invitation(deadline: Option<i64>) -> pb::Proposal {
    pb::Proposal {
        kind: pb::ProposalKind::Invitation as i32,
        title: "Official visit of the President of Iran to Russia".into(),
        proposer: person("putin"),
        recipient: person("pezeshkian"),
        response_deadline: deadline.map(|s| Timestamp {
            seconds: s,
            nanos: 0,
        }),
        ..Default::default()
    }
}

async fn server_at(clock: &ManualClock) -> TestServer {
    let server = TestServer::start_with_clock(clock).await;
    article_directory(&mut server.directory()).await;
    server
}

async fn propose(
    p: &mut ProposalServiceClient<Channel>,
    id: &str,
    proposal: pb::Proposal,
) -> pb::Proposal {
    p.create_proposal(pb::CreateProposalRequest {
        proposal: Some(proposal),
        proposal_id: id.into(),
        ..Default::default()
    })
    .await
    .unwrap_or_else(|e| panic!("create {id}: {e:?}"))
    .into_inner()
    .proposal
    .expect("proposal")
}

async fn history(p: &mut ProposalServiceClient<Channel>, id: &str) -> Vec<pb::ProposalTransition> {
    p.list_proposal_history(pb::ListProposalHistoryRequest {
        proposal_id: id.into(),
        ..Default::default()
    })
    .await
    .expect("history")
    .into_inner()
    .transitions
}

#[tokio::test]
async fn the_article_story() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut events = server.events();
    let mut p = server.proposals();

    let mut summit = event(
        pb::EventKind::Summit,
        "XVI BRICS summit",
        "kazan-expo",
        &["putin", "pezeshkian", "xi"],
        days("2024-10-22", "2024-10-24"),
    );
    summit.forum_id = "brics".into();
    summit.status = pb::EventStatus::Confirmed as i32;
    create(&mut events, "brics-kazan-2024", summit).await;

    // Putin invites Pezeshkian to an official visit; no dates yet.
    let inv = p
        .create_proposal(pb::CreateProposalRequest {
            proposal: Some(invitation(None)),
            proposal_id: "official-visit".into(),
            actor: "putin".into(),
            note: "invited on the sidelines of the Ashgabat conference".into(),
            attribution: source("TASS", "https://tass.example/ashgabat"),
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .proposal
        .expect("proposal");
    assert_eq!(inv.status, S::Invited as i32);

    // Accepted, according to RIA.
    let acc = p
        .accept_proposal(pb::AcceptProposalRequest {
            id: "official-visit".into(),
            etag: inv.etag.clone(),
            actor: "pezeshkian".into(),
            attribution: source("RIA Novosti", "https://ria.example/visit"),
            ..Default::default()
        })
        .await
        .expect("accept")
        .into_inner()
        .proposal
        .expect("proposal");
    assert_eq!(acc.status, S::Accepted as i32);

    // The visit is scheduled (tentatively), then the proposal is finalised with it, which
    // confirms the event in the same step.
    create(
        &mut events,
        "pezeshkian-visit",
        pb::Event {
            status: pb::EventStatus::Tentative as i32,
            ..event(
                pb::EventKind::OfficialVisit,
                "Official visit of Masoud Pezeshkian",
                "kremlin",
                &["putin", "pezeshkian"],
                days("2025-01-17", "2025-01-17"),
            )
        },
    )
    .await;
    let fin = p
        .finalise_proposal(pb::FinaliseProposalRequest {
            id: "official-visit".into(),
            etag: acc.etag.clone(),
            actor: "Kremlin protocol".into(),
            event_id: "pezeshkian-visit".into(),
            confirm_event: true,
            ..Default::default()
        })
        .await
        .expect("finalise")
        .into_inner();
    let done = fin.proposal.expect("proposal");
    assert_eq!(done.status, S::Finalised as i32);
    assert_eq!(done.event_id, "pezeshkian-visit");
    assert_eq!(
        fin.event.map(|e| e.status),
        Some(pb::EventStatus::Confirmed as i32)
    );

    let h = history(&mut p, "official-visit").await;
    let steps: Vec<(i32, i32, &str, &str)> = h
        .iter()
        .map(|t| {
            (
                t.from_status,
                t.to_status,
                t.actor.as_str(),
                t.attribution.as_ref().map_or("", |a| a.source.as_str()),
            )
        })
        .collect();
    assert_eq!(
        steps,
        vec![
            (S::Unspecified as i32, S::Invited as i32, "putin", "TASS"),
            (
                S::Invited as i32,
                S::Accepted as i32,
                "pezeshkian",
                "RIA Novosti"
            ),
            (
                S::Accepted as i32,
                S::Finalised as i32,
                "Kremlin protocol",
                ""
            ),
        ]
    );
    assert_eq!(
        h.iter().map(|t| t.sequence).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(h[2].event_id, "pezeshkian-visit");
    assert_eq!(
        h[1].attribution.as_ref().map(|a| a.url.as_str()),
        Some("https://ria.example/visit")
    );

    // The strategic partnership agreement, to be finalised at the BRICS summit.
    let agr = propose(
        &mut p,
        "strategic-partnership",
        pb::Proposal {
            kind: pb::ProposalKind::Agreement as i32,
            title: "Comprehensive strategic partnership treaty".into(),
            proposer: country("RU"),
            recipient: country("IR"),
            target_event_id: "brics-kazan-2024".into(),
            ..Default::default()
        },
    )
    .await;
    let expected = p
        .list_proposals(pb::ListProposalsRequest {
            target_event_id: "brics-kazan-2024".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        expected
            .proposals
            .iter()
            .map(|x| x.id.as_str())
            .collect::<Vec<_>>(),
        vec!["strategic-partnership"]
    );
    let acc = p
        .accept_proposal(pb::AcceptProposalRequest {
            id: agr.id.clone(),
            etag: agr.etag,
            attribution: source("IRNA", ""),
            ..Default::default()
        })
        .await
        .expect("accept")
        .into_inner()
        .proposal
        .expect("p");
    let fin = p
        .finalise_proposal(pb::FinaliseProposalRequest {
            id: agr.id.clone(),
            etag: acc.etag,
            ..Default::default()
        })
        .await
        .expect("finalise")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(fin.status, S::Finalised as i32);
    assert_eq!(
        fin.finalised_at_event_id, "brics-kazan-2024",
        "defaults to the target event"
    );
    assert!(fin.finalise_time.is_some());
}

/// The spec's state machine, written out again here so the test does not trust the server's.
fn allowed(from: S) -> &'static [S] {
    match from {
        S::Invited => &[
            S::Accepted,
            S::Declined,
            S::Countered,
            S::Withdrawn,
            S::Expired,
        ],
        S::Countered => &[S::Invited, S::Accepted, S::Declined, S::Withdrawn],
        S::Accepted => &[S::Finalised, S::Withdrawn],
        _ => &[],
    }
}

#[derive(Debug, Clone, Copy)]
enum Mv {
    Accept,
    Decline,
    Counter,
    Revise,
    Withdraw,
    Finalise,
}

impl Mv {
    const ALL: [Mv; 6] = [
        Mv::Accept,
        Mv::Decline,
        Mv::Counter,
        Mv::Revise,
        Mv::Withdraw,
        Mv::Finalise,
    ];
    fn target(self) -> S {
        match self {
            Mv::Accept => S::Accepted,
            Mv::Decline => S::Declined,
            Mv::Counter => S::Countered,
            Mv::Revise => S::Invited,
            Mv::Withdraw => S::Withdrawn,
            Mv::Finalise => S::Finalised,
        }
    }
}

fn terms(summary: &str) -> Option<pb::ProposalTerms> {
    Some(pb::ProposalTerms {
        summary: summary.into(),
        ..Default::default()
    })
}

async fn apply(
    p: &mut ProposalServiceClient<Channel>,
    id: &str,
    m: Mv,
) -> Result<pb::Proposal, tonic::Status> {
    let (id, etag) = (id.to_string(), String::new());
    let r = match m {
        Mv::Accept => p
            .accept_proposal(pb::AcceptProposalRequest {
                id,
                etag,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
        Mv::Decline => p
            .decline_proposal(pb::DeclineProposalRequest {
                id,
                etag,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
        Mv::Counter => p
            .counter_proposal(pb::CounterProposalRequest {
                id,
                etag,
                terms: terms("in spring instead"),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
        Mv::Revise => p
            .revise_proposal(pb::ReviseProposalRequest {
                id,
                etag,
                terms: terms("January, then"),
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
        Mv::Withdraw => p
            .withdraw_proposal(pb::WithdrawProposalRequest {
                id,
                etag,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
        Mv::Finalise => p
            .finalise_proposal(pb::FinaliseProposalRequest {
                id,
                etag,
                ..Default::default()
            })
            .await
            .map(|r| r.into_inner().proposal),
    };
    r.map(|p| p.expect("proposal"))
}

/// Builds a proposal in `state`: an agreement targeted at the summit (so it can be
/// finalised), with a deadline for the EXPIRED case.
async fn in_state(server: &TestServer, clock: &ManualClock, id: &str, state: S) {
    let mut p = server.proposals();
    let now = clock.clock().now_micros() / 1_000_000;
    propose(
        &mut p,
        id,
        pb::Proposal {
            kind: pb::ProposalKind::Agreement as i32,
            title: "Agreement".into(),
            proposer: country("RU"),
            recipient: country("IR"),
            target_event_id: "summit".into(),
            response_deadline: (state == S::Expired).then_some(Timestamp {
                seconds: now + 60,
                nanos: 0,
            }),
            ..Default::default()
        },
    )
    .await;
    let path: &[Mv] = match state {
        S::Invited | S::Expired => &[],
        S::Accepted => &[Mv::Accept],
        S::Declined => &[Mv::Decline],
        S::Countered => &[Mv::Counter],
        S::Withdrawn => &[Mv::Withdraw],
        S::Finalised => &[Mv::Accept, Mv::Finalise],
        S::Unspecified => unreachable!(),
    };
    for m in path {
        apply(&mut p, id, *m).await.expect("path to the state");
    }
    if state == S::Expired {
        clock.advance(61 * 1_000_000);
    }
    let got = p
        .get_proposal(pb::GetProposalRequest { id: id.into() })
        .await
        .expect("get")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(got.status, state as i32, "{id}");
}

/// Every move from every state: the allowed ones succeed, every other one is
/// FAILED_PRECONDITION naming the current status and what is allowed, and changes nothing.
#[tokio::test]
async fn every_transition_from_every_state() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut s = event(
        pb::EventKind::Summit,
        "Summit",
        "kazan-expo",
        &[],
        days("2024-10-22", "2024-10-24"),
    );
    s.status = pb::EventStatus::Confirmed as i32;
    create(&mut server.events(), "summit", s).await;
    let mut p = server.proposals();
    let states = [
        S::Invited,
        S::Accepted,
        S::Declined,
        S::Countered,
        S::Withdrawn,
        S::Expired,
        S::Finalised,
    ];
    let mut checked = 0;
    for (i, state) in states.iter().enumerate() {
        for (j, m) in Mv::ALL.iter().enumerate() {
            let id = format!("p{i}-{j}");
            in_state(&server, &clock, &id, *state).await;
            let before = history(&mut p, &id).await;
            let result = apply(&mut p, &id, *m).await;
            if allowed(*state).contains(&m.target()) {
                let after = result
                    .unwrap_or_else(|e| panic!("{state:?} --{m:?}--> should be allowed: {e:?}"));
                assert_eq!(after.status, m.target() as i32, "{state:?} --{m:?}");
                assert_eq!(history(&mut p, &id).await.len(), before.len() + 1);
            } else {
                let err = result.expect_err(&format!("{state:?} --{m:?}--> must be refused"));
                assert_eq!(
                    err.code(),
                    Code::FailedPrecondition,
                    "{state:?} --{m:?}: {err:?}"
                );
                assert_eq!(precondition_types(&err), vec!["STATUS"]);
                let name = format!("{state:?}").to_uppercase();
                assert!(
                    err.message().contains(&format!("it is {name}")),
                    "{}",
                    err.message()
                );
                let next: Vec<String> = allowed(*state)
                    .iter()
                    .filter(|s| **s != S::Expired)
                    .map(|s| format!("{s:?}").to_uppercase())
                    .collect();
                for n in &next {
                    assert!(
                        err.message().contains(n.as_str()),
                        "{} should list {n}",
                        err.message()
                    );
                }
                assert_eq!(
                    history(&mut p, &id).await,
                    before,
                    "a refused move changes nothing"
                );
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 42);
}

#[tokio::test]
async fn counter_proposals_round_trip() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut p = server.proposals();
    let inv = propose(&mut p, "visit", invitation(None)).await;
    let countered = p
        .counter_proposal(pb::CounterProposalRequest {
            id: "visit".into(),
            etag: inv.etag,
            actor: "pezeshkian".into(),
            terms: Some(pb::ProposalTerms {
                summary: "after the summit".into(),
                venue_id: "kremlin".into(),
                timing: days("2025-01-16", "2025-01-17"),
            }),
            ..Default::default()
        })
        .await
        .expect("counter")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(countered.status, S::Countered as i32);
    assert_eq!(
        countered.terms.as_ref().map(|t| t.summary.as_str()),
        Some("after the summit")
    );
    // Awaiting the proposer now.
    let waiting = p
        .list_proposals(pb::ListProposalsRequest {
            participant_id: "putin".into(),
            awaiting_response: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(waiting.proposals.len(), 1);
    let revised = p
        .revise_proposal(pb::ReviseProposalRequest {
            id: "visit".into(),
            etag: countered.etag,
            actor: "putin".into(),
            terms: Some(pb::ProposalTerms {
                summary: "17 January".into(),
                venue_id: "kremlin".into(),
                timing: days("2025-01-17", "2025-01-17"),
            }),
            ..Default::default()
        })
        .await
        .expect("revise")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(revised.status, S::Invited as i32);
    let waiting = p
        .list_proposals(pb::ListProposalsRequest {
            participant_id: "pezeshkian".into(),
            awaiting_response: true,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(waiting.proposals.len(), 1, "back with the recipient");
    p.accept_proposal(pb::AcceptProposalRequest {
        id: "visit".into(),
        etag: revised.etag,
        ..Default::default()
    })
    .await
    .expect("accept");
    // The venue on the table cannot be deleted from under the proposal.
    let err = server
        .directory()
        .delete_venue(pb::DeleteVenueRequest {
            id: "kremlin".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("named in the terms");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_subjects(&err), vec!["proposals/visit"]);
    let h = history(&mut p, "visit").await;
    assert_eq!(h.len(), 4);
    assert_eq!(
        h[1].terms.as_ref().map(|t| t.summary.as_str()),
        Some("after the summit")
    );
    assert_eq!(
        h[2].terms.as_ref().map(|t| t.summary.as_str()),
        Some("17 January")
    );

    // Counter-offered dates must be readable.
    let inv = propose(&mut p, "visit-2", invitation(None)).await;
    let err = p
        .counter_proposal(pb::CounterProposalRequest {
            id: "visit-2".into(),
            etag: inv.etag,
            terms: Some(pb::ProposalTerms {
                summary: "x".into(),
                venue_id: "kremlin".into(),
                timing: timed("2025-13-01T10:00", "2025-01-01T11:00"),
            }),
            ..Default::default()
        })
        .await
        .expect_err("bad date");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["terms.timing.timed.start"]);
}

#[tokio::test]
async fn a_passed_deadline_expires_the_invitation() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let temp = tempfile::tempdir().expect("temp");
    let settings = entente_server::Settings {
        clock: clock.clock(),
        ..Default::default()
    };
    let server = TestServer::start_in(temp.path(), settings.clone()).await;
    article_directory(&mut server.directory()).await;
    let mut p = server.proposals();
    // An invitation recorded after its deadline (back-filled from a news report) is
    // EXPIRED from the moment it is recorded.
    let late = propose(&mut p, "recorded-late", invitation(Some(T0 - 86_400))).await;
    assert_eq!(late.status, S::Expired as i32);
    let h = history(&mut p, "recorded-late").await;
    assert_eq!(
        h.iter()
            .map(|t| (t.to_status, t.time.map(|x| x.seconds)))
            .collect::<Vec<_>>(),
        vec![(S::Invited as i32, Some(T0)), (S::Expired as i32, Some(T0))],
        "the expiry is dated when it was recorded, never before its creation"
    );

    let inv = propose(&mut p, "visit", invitation(Some(T0 + 3600))).await;
    assert_eq!(inv.status, S::Invited as i32);
    clock.advance(3599 * 1_000_000);
    let got = p
        .get_proposal(pb::GetProposalRequest { id: "visit".into() })
        .await
        .expect("get")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(
        got.status,
        S::Invited as i32,
        "one second before the deadline"
    );
    clock.advance(1_000_000);
    let got = p
        .get_proposal(pb::GetProposalRequest { id: "visit".into() })
        .await
        .expect("get")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(got.status, S::Expired as i32, "at the deadline");
    assert_ne!(got.etag, inv.etag);
    let h = history(&mut p, "visit").await;
    assert_eq!(
        h.last()
            .map(|t| (t.to_status, t.actor.as_str(), t.time.map(|t| t.seconds))),
        Some((S::Expired as i32, "system", Some(T0 + 3600)))
    );
    let err = p
        .accept_proposal(pb::AcceptProposalRequest {
            id: "visit".into(),
            ..Default::default()
        })
        .await
        .expect_err("too late");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("deadline"), "{}", err.message());
    let expired = p
        .list_proposals(pb::ListProposalsRequest {
            status: S::Expired as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        expired.proposals.len(),
        2,
        "the visit and the one recorded late"
    );

    // The same history after a restart.
    drop(p);
    server.stop().await;
    let server = TestServer::start_in(temp.path(), settings).await;
    let mut p = server.proposals();
    assert_eq!(history(&mut p, "visit").await, h);
    drop(p);
    server.stop().await;
}

#[tokio::test]
async fn retries_with_a_request_id_apply_once_and_stale_etags_abort() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut p = server.proposals();
    let req = pb::CreateProposalRequest {
        proposal: Some(invitation(None)),
        request_id: "req-1".into(),
        ..Default::default()
    };
    let a = p
        .create_proposal(req.clone())
        .await
        .expect("first")
        .into_inner()
        .proposal
        .expect("p");
    let b = p
        .create_proposal(req)
        .await
        .expect("retry")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(a, b, "the retry returns the original result");
    let all = p
        .list_proposals(pb::ListProposalsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.proposals.len(), 1, "and creates nothing more");

    let accept = pb::AcceptProposalRequest {
        id: a.id.clone(),
        etag: a.etag.clone(),
        request_id: "req-2".into(),
        ..Default::default()
    };
    let first = p
        .accept_proposal(accept.clone())
        .await
        .expect("accept")
        .into_inner()
        .proposal
        .expect("p");
    let again = p
        .accept_proposal(accept)
        .await
        .expect("retry of accept")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(first, again);
    assert_eq!(history(&mut p, &a.id).await.len(), 2, "applied once");

    // Reusing a request id for another call is refused.
    let err = p
        .withdraw_proposal(pb::WithdrawProposalRequest {
            id: a.id.clone(),
            request_id: "req-2".into(),
            ..Default::default()
        })
        .await
        .expect_err("reused id");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["request_id"]);

    // A stale etag aborts.
    let err = p
        .withdraw_proposal(pb::WithdrawProposalRequest {
            id: a.id.clone(),
            etag: a.etag,
            ..Default::default()
        })
        .await
        .expect_err("stale");
    assert_eq!(err.code(), Code::Aborted);
    p.withdraw_proposal(pb::WithdrawProposalRequest {
        id: a.id.clone(),
        etag: first.etag,
        ..Default::default()
    })
    .await
    .expect("current etag");
}

#[tokio::test]
async fn finalising_a_visit_that_would_double_book_changes_nothing() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut events = server.events();
    let mut p = server.proposals();
    let mut busy = event(
        pb::EventKind::Conference,
        "Security Council",
        "kremlin",
        &["putin"],
        timed("2025-01-17T10:00", "2025-01-17T12:00"),
    );
    busy.status = pb::EventStatus::Confirmed as i32;
    create(&mut events, "council", busy).await;
    let visit = create(
        &mut events,
        "visit-event",
        pb::Event {
            status: pb::EventStatus::Tentative as i32,
            ..event(
                pb::EventKind::OfficialVisit,
                "Visit",
                "kremlin",
                &["putin", "pezeshkian"],
                days("2025-01-17", "2025-01-17"),
            )
        },
    )
    .await;
    let mut inv = invitation(None);
    inv.event_id = "visit-event".into();
    let inv = propose(&mut p, "visit", inv).await;
    let acc = p
        .accept_proposal(pb::AcceptProposalRequest {
            id: "visit".into(),
            etag: inv.etag,
            ..Default::default()
        })
        .await
        .expect("accept")
        .into_inner()
        .proposal
        .expect("p");

    // Without confirm_event, a tentative event cannot be finalised.
    let err = p
        .finalise_proposal(pb::FinaliseProposalRequest {
            id: "visit".into(),
            etag: acc.etag.clone(),
            ..Default::default()
        })
        .await
        .expect_err("tentative");
    assert_eq!(precondition_types(&err), vec!["EVENT_NOT_CONFIRMED"]);

    let err = p
        .finalise_proposal(pb::FinaliseProposalRequest {
            id: "visit".into(),
            etag: acc.etag.clone(),
            confirm_event: true,
            ..Default::default()
        })
        .await
        .expect_err("double-booking");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        precondition_types(&err).contains(&"PARTICIPANT_CONFLICT".to_string()),
        "{:?}",
        precondition_types(&err)
    );
    let still = p
        .get_proposal(pb::GetProposalRequest { id: "visit".into() })
        .await
        .expect("get")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(still, acc, "the proposal did not change");
    let ev = events
        .get_event(pb::GetEventRequest {
            id: "visit-event".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("e");
    assert_eq!(ev, Box::new(visit), "nor did the event");
}

#[tokio::test]
async fn queries_by_party_country_kind_and_event() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut p = server.proposals();
    propose(&mut p, "visit", invitation(None)).await;
    propose(
        &mut p,
        "talks",
        pb::Proposal {
            kind: pb::ProposalKind::MeetingRequest as i32,
            title: "Bilateral at the summit".into(),
            proposer: person("xi"),
            recipient: person("putin"),
            ..Default::default()
        },
    )
    .await;
    let ids =
        |r: pb::ListProposalsResponse| r.proposals.into_iter().map(|p| p.id).collect::<Vec<_>>();
    let q = |f: fn(&mut pb::ListProposalsRequest)| {
        let mut r = pb::ListProposalsRequest::default();
        f(&mut r);
        r
    };
    assert_eq!(
        ids(p
            .list_proposals(q(|r| r.participant_id = "putin".into()))
            .await
            .expect("l")
            .into_inner()),
        vec!["talks", "visit"]
    );
    assert_eq!(
        ids(p
            .list_proposals(q(|r| r.country_code = "CN".into()))
            .await
            .expect("l")
            .into_inner()),
        vec!["talks"]
    );
    assert_eq!(
        ids(p
            .list_proposals(q(|r| r.kind = pb::ProposalKind::Invitation as i32))
            .await
            .expect("l")
            .into_inner()),
        vec!["visit"]
    );
    assert_eq!(
        ids(p
            .list_proposals(q(|r| {
                r.participant_id = "putin".into();
                r.awaiting_response = true;
            }))
            .await
            .expect("l")
            .into_inner()),
        vec!["talks"],
        "Putin owes an answer to Xi, not to himself"
    );
    let err = p
        .list_proposals(q(|r| r.awaiting_response = true))
        .await
        .expect_err("whose?");
    assert_eq!(bad_fields(&err), vec!["awaiting_response"]);

    // Bad proposals name the field.
    for (proposal, code, field) in [
        (
            pb::Proposal {
                kind: 0,
                ..invitation(None)
            },
            Code::InvalidArgument,
            "proposal.kind",
        ),
        (
            pb::Proposal {
                title: String::new(),
                ..invitation(None)
            },
            Code::InvalidArgument,
            "proposal.title",
        ),
        (
            pb::Proposal {
                recipient: None,
                ..invitation(None)
            },
            Code::InvalidArgument,
            "proposal.recipient",
        ),
        (
            pb::Proposal {
                recipient: person("erdogan"),
                ..invitation(None)
            },
            Code::NotFound,
            "proposal.recipient.participant_id",
        ),
        (
            pb::Proposal {
                recipient: country("XX"),
                ..invitation(None)
            },
            Code::InvalidArgument,
            "proposal.recipient.country_code",
        ),
        (
            pb::Proposal {
                recipient: person("putin"),
                ..invitation(None)
            },
            Code::InvalidArgument,
            "proposal.recipient",
        ),
        (
            pb::Proposal {
                target_event_id: "nowhere".into(),
                ..invitation(None)
            },
            Code::NotFound,
            "proposal.target_event_id",
        ),
    ] {
        let err = p
            .create_proposal(pb::CreateProposalRequest {
                proposal: Some(proposal),
                ..Default::default()
            })
            .await
            .expect_err(field);
        assert_eq!(err.code(), code, "{field}: {err:?}");
        assert_eq!(bad_fields(&err), vec![field.to_string()], "{field}");
    }
    let err = p
        .get_proposal(pb::GetProposalRequest { id: "nope".into() })
        .await
        .expect_err("missing");
    assert_eq!(err.code(), Code::NotFound);

    // A participant in a proposal cannot be deleted, and the refusal names the proposals
    // as proposals.
    let err = server
        .directory()
        .delete_participant(pb::DeleteParticipantRequest {
            id: "xi".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("in use");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let subjects = precondition_subjects(&err);
    assert!(!subjects.is_empty(), "{err:?}");
    assert!(
        subjects.iter().all(|s| s.starts_with("proposals/")),
        "{subjects:?}"
    );
    assert!(err.message().contains("proposal"), "{}", err.message());
    assert!(!err.message().contains("event"), "{}", err.message());
}

#[tokio::test]
async fn listings_page_through_in_id_order_as_of_now() {
    let clock = ManualClock::new(T0 * 1_000_000);
    let server = server_at(&clock).await;
    let mut p = server.proposals();
    // Created out of id order; "b" expires an hour in, "d" is a meeting request.
    propose(&mut p, "c", invitation(None)).await;
    propose(&mut p, "a", invitation(None)).await;
    propose(&mut p, "b", invitation(Some(T0 + 3600))).await;
    propose(
        &mut p,
        "d",
        pb::Proposal {
            kind: pb::ProposalKind::MeetingRequest as i32,
            ..invitation(None)
        },
    )
    .await;
    propose(&mut p, "e", invitation(None)).await;
    clock.advance(3600 * 1_000_000);

    let mut pages = Vec::new();
    let mut token = String::new();
    loop {
        let r = p
            .list_proposals(pb::ListProposalsRequest {
                kind: pb::ProposalKind::Invitation as i32,
                page_size: 2,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        pages.push(
            r.proposals
                .iter()
                .map(|x| (x.id.clone(), x.status))
                .collect::<Vec<_>>(),
        );
        token = r.next_page_token;
        if token.is_empty() {
            break;
        }
        assert!(pages.len() < 5, "the token does not move on: {pages:?}");
    }
    let (invited, expired) = (S::Invited as i32, S::Expired as i32);
    assert_eq!(
        pages,
        vec![
            vec![("a".to_string(), invited), ("b".to_string(), expired)],
            vec![("c".to_string(), invited), ("e".to_string(), invited)],
        ],
        "two full pages, the meeting request skipped, the passed deadline applied"
    );
    // A status filter sees the status as of now: "b" is no longer INVITED, though its
    // expiry is not stored yet.
    let invited_now = p
        .list_proposals(pb::ListProposalsRequest {
            status: invited,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .proposals
        .into_iter()
        .map(|x| x.id)
        .collect::<Vec<_>>();
    assert_eq!(invited_now, ["a", "c", "d", "e"]);
}
