//! Access control over gRPC: authentication, every role against every visibility, list and
//! free/busy leakage, conflict redaction, writes by parties only, and the audit log.

use std::collections::BTreeSet;

use entente_proto::v1 as pb;
use entente_server::auth::Access;
use entente_tests::fixtures::{days, event, timed};
use entente_tests::offices::{self, as_, participant};
use entente_tests::{Authed, TestServer};
use prost_types::FieldMask;
use tonic::Code;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_client::HealthClient;

const TOKENS: &[(&str, &str, &str)] = &[
    ("admin", "protocol-it", "ADMIN"),
    ("ru-editor", "RU", "EDITOR"),
    ("ru-reader", "RU", "READER"),
    ("ir-editor", "IR", "EDITOR"),
    ("cn-editor", "CN", "EDITOR"),
    ("tm-reader", "TM", "READER"),
    ("sec-editor", "brics-secretariat", "EDITOR"),
];

fn access() -> Access {
    offices::access(TOKENS, "")
}

async fn venue(a: &mut Authed, id: &str, city: &str, country: &str, zone: &str) {
    offices::venue(a, id, city, country, zone, None).await
}

async fn create(
    a: &mut Authed,
    id: &str,
    mut e: pb::Event,
    v: pb::Visibility,
) -> Result<pb::Event, tonic::Status> {
    e.visibility = v as i32;
    a.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            event_id: id.into(),
            ..Default::default()
        })
        .await
        .map(|r| *r.into_inner().event.expect("event"))
}

/// The world of the tests: Russia's office schedules four events of different
/// visibilities for Putin; other offices look.
async fn world() -> TestServer {
    let server = TestServer::start_with_access(access()).await;
    let mut admin = as_(&server, "admin");
    admin
        .directory
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS".into(),
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("forum");
    let mut ru = as_(&server, "ru-editor");
    participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    participant(
        &mut as_(&server, "ir-editor"),
        "pezeshkian",
        "IR",
        "Asia/Tehran",
    )
    .await;
    participant(&mut as_(&server, "cn-editor"), "xi", "CN", "Asia/Shanghai").await;
    venue(&mut ru, "kremlin", "Moscow", "RU", "Europe/Moscow").await;
    venue(&mut ru, "kazan-expo", "Kazan", "RU", "Europe/Moscow").await;
    venue(&mut admin, "ashgabat", "Ashgabat", "TM", "Asia/Ashgabat").await;

    let t = |s: &str, e: &str| timed(s, e);
    create(
        &mut ru,
        "public-talks",
        event(
            pb::EventKind::BilateralMeeting,
            "Putin–Xi talks",
            "kremlin",
            &["putin", "xi"],
            t("2025-03-01T10:00", "2025-03-01T11:00"),
        ),
        pb::Visibility::Public,
    )
    .await
    .expect("public");
    create(
        &mut ru,
        "parties-talks",
        event(
            pb::EventKind::BilateralMeeting,
            "Putin–Pezeshkian talks",
            "ashgabat",
            &["putin", "pezeshkian"],
            t("2025-03-02T10:00", "2025-03-02T11:00"),
        ),
        pb::Visibility::Parties,
    )
    .await
    .expect("parties");
    create(
        &mut ru,
        "private-meeting",
        event(
            pb::EventKind::Other,
            "Security Council",
            "kremlin",
            &["putin"],
            t("2025-03-03T10:00", "2025-03-03T11:00"),
        ),
        pb::Visibility::Private,
    )
    .await
    .expect("private");
    let mut summit = event(
        pb::EventKind::Summit,
        "BRICS summit",
        "kazan-expo",
        &["putin"],
        days("2025-03-04", "2025-03-04"),
    );
    summit.forum_id = "brics".into();
    create(&mut ru, "forum-summit", summit, pb::Visibility::Parties)
        .await
        .expect("summit");
    server
}

const ALL: &[&str] = &[
    "forum-summit",
    "parties-talks",
    "private-meeting",
    "public-talks",
];

fn expected(token: &str) -> BTreeSet<&'static str> {
    let ids: &[&str] = match token {
        "admin" | "ru-editor" | "ru-reader" => ALL,
        "ir-editor" => &["parties-talks", "public-talks"],
        "cn-editor" => &["public-talks"],
        "tm-reader" => &["parties-talks", "public-talks"],
        "sec-editor" => &["forum-summit", "public-talks"],
        other => panic!("{other}"),
    };
    ids.iter().copied().collect()
}

#[tokio::test]
async fn every_role_sees_exactly_what_its_office_may() {
    let server = world().await;
    for (name, _, _) in TOKENS {
        let mut a = as_(&server, name);
        let want = expected(name);
        for id in ALL {
            let got = a
                .events
                .get_event(pb::GetEventRequest {
                    id: id.to_string(),
                    ..Default::default()
                })
                .await;
            match (want.contains(id), got) {
                (true, Ok(_)) => {}
                (false, Err(s)) => assert_eq!(
                    s.code(),
                    Code::NotFound,
                    "{name} {id}: an invisible event does not exist"
                ),
                (true, Err(s)) => panic!("{name} should see {id}: {s:?}"),
                (false, Ok(_)) => panic!("{name} must not see {id}"),
            }
        }
        let listed: BTreeSet<String> = a
            .events
            .list_events(pb::ListEventsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            listed,
            want.iter().map(|s| s.to_string()).collect(),
            "{name}: list"
        );
        let agenda: BTreeSet<String> = a
            .events
            .get_agenda(pb::GetAgendaRequest {
                participant_id: "putin".into(),
                window: Some(pb::TimeWindow {
                    start: "2025-03-01".into(),
                    end: "2025-03-10".into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await
            .expect("agenda")
            .into_inner()
            .events
            .into_iter()
            .map(|e| e.id)
            .collect();
        assert_eq!(
            agenda,
            want.iter().map(|s| s.to_string()).collect(),
            "{name}: agenda"
        );

        // Free/busy shows every busy block, but names only what the caller may see.
        let fb = a
            .conflicts
            .query_free_busy(pb::QueryFreeBusyRequest {
                participant_ids: vec!["putin".into()],
                window: Some(pb::TimeWindow {
                    start: "2025-03-01".into(),
                    end: "2025-03-10".into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await
            .expect("free/busy")
            .into_inner();
        let blocks = &fb.calendars[0].busy;
        assert_eq!(blocks.len(), 4, "{name}: every busy block is shown");
        let named: BTreeSet<String> = blocks.iter().flat_map(|b| b.event_ids.clone()).collect();
        assert_eq!(
            named,
            want.iter().map(|s| s.to_string()).collect(),
            "{name}: free/busy names"
        );
    }
}

#[tokio::test]
async fn conflicts_with_invisible_events_are_reported_without_details() {
    let server = world().await;
    let mut cn = as_(&server, "cn-editor");
    // Xi's office checks a slot for Xi and Putin over the private meeting.
    let r = cn
        .conflicts
        .check_conflicts(pb::CheckConflictsRequest {
            event: Some(Box::new(event(
                pb::EventKind::BilateralMeeting,
                "Xi–Putin",
                "kremlin",
                &["xi", "putin"],
                timed("2025-03-03T10:30", "2025-03-03T11:30"),
            ))),
            ..Default::default()
        })
        .await
        .expect("check")
        .into_inner();
    assert!(!r.conflicts.is_empty());
    for c in &r.conflicts {
        assert_eq!(
            c.other_event_id, "",
            "the private event's id is not revealed"
        );
        assert!(!c.other_event_title.contains("Security Council"));
        assert!(
            !c.description.contains("Security Council"),
            "{}",
            c.description
        );
    }
    // A confirmed write over it is refused without naming it either.
    let mut ru = as_(&server, "ru-editor");
    ru.events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "private-meeting".into(),
                status: pb::EventStatus::Confirmed as i32,
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["status".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("confirm");
    let mut e = event(
        pb::EventKind::BilateralMeeting,
        "Xi–Putin",
        "kremlin",
        &["xi", "putin"],
        timed("2025-03-03T10:30", "2025-03-03T11:30"),
    );
    e.status = pb::EventStatus::Confirmed as i32;
    let err = create(&mut cn, "clash", e, pb::Visibility::Public)
        .await
        .expect_err("hard conflict");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(
        !err.message().contains("Security Council") && !err.message().contains("private-meeting"),
        "{}",
        err.message()
    );
}

#[tokio::test]
async fn writes_need_an_editor_of_a_party() {
    let server = world().await;
    let talks = || {
        event(
            pb::EventKind::BilateralMeeting,
            "Talks",
            "kremlin",
            &["putin"],
            timed("2025-04-01T10:00", "2025-04-01T11:00"),
        )
    };

    let err = create(
        &mut as_(&server, "ru-reader"),
        "r1",
        talks(),
        pb::Visibility::Public,
    )
    .await
    .expect_err("reader");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = create(
        &mut as_(&server, "cn-editor"),
        "r2",
        talks(),
        pb::Visibility::Public,
    )
    .await
    .expect_err("not a party");
    assert_eq!(err.code(), Code::PermissionDenied);
    // The forum's secretariat may schedule for its forum.
    let mut s = talks();
    s.forum_id = "brics".into();
    create(
        &mut as_(&server, "sec-editor"),
        "r3",
        s,
        pb::Visibility::Parties,
    )
    .await
    .expect("secretariat");

    // A party may change an event it can see; a non-party gets NOT_FOUND (it cannot see it)
    // or PERMISSION_DENIED (it can see a public event but does not take part).
    let mut ir = as_(&server, "ir-editor");
    ir.events
        .cancel_event(pb::CancelEventRequest {
            id: "parties-talks".into(),
            reason: "postponed".into(),
            ..Default::default()
        })
        .await
        .expect("IR takes part");
    let mut cn = as_(&server, "cn-editor");
    let err = cn
        .events
        .cancel_event(pb::CancelEventRequest {
            id: "private-meeting".into(),
            ..Default::default()
        })
        .await
        .expect_err("invisible");
    assert_eq!(err.code(), Code::NotFound);
    let err = ir
        .events
        .cancel_event(pb::CancelEventRequest {
            id: "public-talks".into(),
            ..Default::default()
        })
        .await
        .expect_err("visible, not a party");
    assert_eq!(err.code(), Code::PermissionDenied);
    cn.events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "public-talks".into(),
                title: "Xi–Putin talks".into(),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("China takes part in the public talks");

    // The directory: a country's office edits its own people and places.
    let mut p = as_(&server, "cn-editor");
    let err = p
        .directory
        .create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: "Someone".into(),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            participant_id: "someone".into(),
            ..Default::default()
        })
        .await
        .expect_err("another country's participant");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = p
        .directory
        .create_country(pb::CreateCountryRequest {
            country: Some(pb::Country {
                code: "CN".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("countries are for admins");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = p
        .events
        .recompute_instants(pb::RecomputeInstantsRequest { dry_run: true })
        .await
        .expect_err("admin only");
    assert_eq!(err.code(), Code::PermissionDenied);

    // Proposals: parties only, invisible to others.
    let mut ru = as_(&server, "ru-editor");
    let inv = ru
        .proposals
        .create_proposal(pb::CreateProposalRequest {
            proposal: Some(pb::Proposal {
                kind: pb::ProposalKind::Invitation as i32,
                title: "Official visit".into(),
                proposer: Some(pb::Party {
                    party: Some(pb::party::Party::ParticipantId("putin".into())),
                }),
                recipient: Some(pb::Party {
                    party: Some(pb::party::Party::ParticipantId("pezeshkian".into())),
                }),
                ..Default::default()
            }),
            proposal_id: "visit".into(),
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .proposal
        .expect("p");
    assert_eq!(inv.owner_office, "RU");
    let err = cn
        .proposals
        .accept_proposal(pb::AcceptProposalRequest {
            id: "visit".into(),
            ..Default::default()
        })
        .await
        .expect_err("not a party");
    assert_eq!(err.code(), Code::NotFound);
    assert!(
        cn.proposals
            .list_proposals(pb::ListProposalsRequest::default())
            .await
            .expect("list")
            .into_inner()
            .proposals
            .is_empty()
    );
    ir.proposals
        .accept_proposal(pb::AcceptProposalRequest {
            id: "visit".into(),
            etag: inv.etag,
            ..Default::default()
        })
        .await
        .expect("the recipient accepts");
}

#[tokio::test]
async fn tokens_are_required_and_writes_are_audited() {
    let server = world().await;
    // No token, a wrong token, a malformed header.
    let err = server
        .events()
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect_err("no token");
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut wrong = server.as_token("not-a-token");
    let err = wrong
        .events
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect_err("bad token");
    assert_eq!(err.code(), Code::Unauthenticated);
    // Health stays open for load balancers.
    let h = HealthClient::new(server.channel.clone())
        .check(HealthCheckRequest {
            service: String::new(),
        })
        .await
        .expect("health without a token");
    assert_eq!(h.into_inner().status, 1);

    let err = as_(&server, "ru-editor")
        .audit
        .list_audit_records(pb::ListAuditRecordsRequest::default())
        .await
        .expect_err("admins only");
    assert_eq!(err.code(), Code::PermissionDenied);
    let records = as_(&server, "admin")
        .audit
        .list_audit_records(pb::ListAuditRecordsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .records;
    let created = records
        .iter()
        .find(|r| r.resource == "events/private-meeting")
        .expect("the private meeting's creation is audited");
    assert_eq!(created.office, "RU");
    assert_eq!(created.token_name, "ru-editor");
    assert_eq!(created.method, "/entente.v1.EventService/CreateEvent");
    // Paging through it in threes gives the same records.
    let mut paged = Vec::new();
    let mut token = String::new();
    loop {
        let page = as_(&server, "admin")
            .audit
            .list_audit_records(pb::ListAuditRecordsRequest {
                page_size: 3,
                page_token: token,
            })
            .await
            .expect("page")
            .into_inner();
        assert!(page.records.len() <= 3);
        paged.extend(page.records);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    assert_eq!(paged, records);
    let seqs: Vec<i64> = records.iter().map(|r| r.sequence).collect();
    assert_eq!(
        seqs,
        (1..=records.len() as i64).collect::<Vec<_>>(),
        "in order, none missing"
    );
    assert!(
        records.iter().all(|r| !r.token_name.contains("secret")),
        "token secrets never appear"
    );
}

/// The audit log continues across a restart: new records follow the old ones, none is
/// overwritten.
#[tokio::test]
async fn the_audit_sequence_survives_a_restart() {
    let temp = tempfile::tempdir().expect("temp");
    let config = || entente_server::Config {
        data_dir: temp.path().to_path_buf(),
        access: access(),
        ..entente_server::Config::default()
    };
    let server = TestServer::start_config(config()).await;
    let mut ru = as_(&server, "ru-editor");
    participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    venue(&mut ru, "kremlin", "Moscow", "RU", "Europe/Moscow").await;
    drop(ru);
    server.stop().await;

    let server = TestServer::start_config(config()).await;
    let mut ru = as_(&server, "ru-editor");
    venue(&mut ru, "kazan-expo", "Kazan", "RU", "Europe/Moscow").await;
    let records = as_(&server, "admin")
        .audit
        .list_audit_records(pb::ListAuditRecordsRequest::default())
        .await
        .expect("audit")
        .into_inner()
        .records;
    let seen: Vec<(i64, &str)> = records
        .iter()
        .map(|r| (r.sequence, r.resource.as_str()))
        .collect();
    assert_eq!(
        seen,
        vec![
            (1, "participants/putin"),
            (2, "venues/kremlin"),
            (3, "venues/kazan-expo")
        ]
    );
    drop(ru);
    server.stop().await;
}
