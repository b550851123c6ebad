//! Regression tests for the isolation leaks of issue 17, each named after the leak it pins.
//! Five offices (RU, IR, BR, TM, the BRICS secretariat) and an admin; Russia's office keeps a
//! PRIVATE meeting in Sochi whose title, description and id are canaries that no other
//! office may ever read, through any reply, error message or error detail.

use entente_proto::v1 as pb;
use entente_server::auth::Access;
use entente_tests::fixtures::{event, timed};
use entente_tests::offices::{self, as_, participant};
use entente_tests::{Authed, TestServer};
use tonic::Code;

const TOKENS: &[(&str, &str, &str)] = &[
    ("admin", "protocol-it", "ADMIN"),
    ("ru-editor", "RU", "EDITOR"),
    ("ir-editor", "IR", "EDITOR"),
    ("br-editor", "BR", "EDITOR"),
    ("tm-reader", "TM", "READER"),
    ("sec-editor", "brics-secretariat", "EDITOR"),
];

/// What the hidden meeting is called: none of these may reach another office.
const HIDDEN_ID: &str = "ru-secret-sochi";
const HIDDEN_TITLE: &str = "Security Council canary";
const HIDDEN_DESCRIPTION: &str = "Minutes canary";

fn access() -> Access {
    offices::access(TOKENS, "")
}

async fn venue(a: &mut Authed, id: &str, city: &str, country: &str, zone: &str, at: (f64, f64)) {
    offices::venue(a, id, city, country, zone, Some(at)).await
}

async fn create(
    a: &mut Authed,
    id: &str,
    e: pb::Event,
    allow_conflicts: bool,
) -> Result<pb::CreateEventResponse, tonic::Status> {
    a.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            event_id: id.into(),
            allow_conflicts,
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn with(mut e: pb::Event, status: pb::EventStatus, visibility: pb::Visibility) -> pb::Event {
    e.status = status as i32;
    e.visibility = visibility as i32;
    e
}

/// Russia's private meeting in Sochi on 1 March 2025, 10:00–12:00, with Putin; the
/// directory around it.
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
    let mut ir = as_(&server, "ir-editor");
    let mut br = as_(&server, "br-editor");
    participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    participant(&mut ir, "pezeshkian", "IR", "Asia/Tehran").await;
    participant(&mut br, "lula", "BR", "America/Sao_Paulo").await;
    venue(
        &mut ru,
        "sochi",
        "Sochi",
        "RU",
        "Europe/Moscow",
        (43.6, 39.73),
    )
    .await;
    venue(
        &mut ru,
        "kremlin",
        "Moscow",
        "RU",
        "Europe/Moscow",
        (55.75, 37.62),
    )
    .await;
    venue(
        &mut br,
        "planalto",
        "Brasilia",
        "BR",
        "America/Sao_Paulo",
        (-15.8, -47.86),
    )
    .await;
    let mut secret = with(
        event(
            pb::EventKind::Other,
            HIDDEN_TITLE,
            "sochi",
            &["putin"],
            timed("2025-03-01T10:00", "2025-03-01T12:00"),
        ),
        pb::EventStatus::Confirmed,
        pb::Visibility::Private,
    );
    secret.description = HIDDEN_DESCRIPTION.into();
    create(&mut ru, HIDDEN_ID, secret, false)
        .await
        .expect("the private meeting");
    server
}

/// Everything a status carries that a client can read: code, message and every detail.
fn status_text(s: &tonic::Status) -> String {
    format!(
        "{:?} {} {}",
        s.code(),
        s.message(),
        String::from_utf8_lossy(s.details())
    )
}

fn assert_no_canary(what: &str, text: &str) {
    assert!(!text.contains(HIDDEN_ID), "{what} leaks the id: {text}");
    assert_no_content(what, text);
}

/// For replies to a request that itself named the hidden id: echoing the caller's own
/// input reveals nothing, the record's content would.
fn assert_no_content(what: &str, text: &str) {
    for canary in [HIDDEN_TITLE, HIDDEN_DESCRIPTION] {
        assert!(!text.contains(canary), "{what} leaks {canary:?}: {text}");
    }
}

/// Leak 1: CheckConflicts with `event.id` naming a hidden event merged it as an edit and
/// returned it as stored. A hidden id must behave exactly like an id nobody has used.
#[tokio::test]
async fn check_conflicts_on_a_hidden_id_is_the_same_as_on_an_unknown_one() {
    let server = world().await;
    let mut ir = as_(&server, "ir-editor");
    let check = |id: &str| pb::CheckConflictsRequest {
        event: Some(Box::new(pb::Event {
            id: id.into(),
            title: "Probe".into(),
            ..Default::default()
        })),
        ..Default::default()
    };
    let hidden = ir.conflicts.check_conflicts(check(HIDDEN_ID)).await;
    let unknown = ir.conflicts.check_conflicts(check("no-such-event")).await;
    match (&hidden, &unknown) {
        (Err(h), Err(u)) => {
            assert_no_content("CheckConflicts", &status_text(h));
            assert_eq!(h.code(), u.code());
            assert_eq!(
                h.message().replace(HIDDEN_ID, "ID"),
                u.message().replace("no-such-event", "ID")
            );
        }
        (Ok(h), _) => panic!("a partial hidden id is an edit of the hidden event: {h:?}"),
        (h, u) => panic!("hidden and unknown ids differ: {h:?} / {u:?}"),
    }
    // With every field given, the candidate is a new event, and the hidden one shows only
    // as an anonymous busy block.
    let mut full = event(
        pb::EventKind::BilateralMeeting,
        "Probe",
        "kremlin",
        &["putin", "pezeshkian"],
        timed("2025-03-01T11:00", "2025-03-01T13:00"),
    );
    full.id = HIDDEN_ID.into();
    let r = ir
        .conflicts
        .check_conflicts(pb::CheckConflictsRequest {
            event: Some(Box::new(full.clone())),
            ..Default::default()
        })
        .await
        .expect("check")
        .into_inner();
    assert_no_content("CheckConflicts", &format!("{r:?}"));
    assert!(r.conflicts.iter().all(|c| c.other_event_id.is_empty()));
    assert!(
        r.conflicts
            .iter()
            .any(|c| c.kind == pb::ConflictKind::Participant as i32 && c.other_event_id.is_empty()),
        "Putin is busy in the hidden meeting, which still shows as busy: {r:?}"
    );
    let rendered = r.event.expect("event");
    assert_eq!(rendered.title, "Probe");
    assert_eq!(rendered.venue_id, "kremlin");
}

/// Leak 2: override records kept the hidden event's id and title, shown to anyone who
/// could read the new event (and in its history).
#[tokio::test]
async fn overrides_of_a_hidden_event_stay_anonymous() {
    let server = world().await;
    let mut ir = as_(&server, "ir-editor");
    // Iran books the Sochi venue over the hidden meeting, writing over the venue clash.
    let e = with(
        event(
            pb::EventKind::BilateralMeeting,
            "Talks in Sochi",
            "sochi",
            &["pezeshkian"],
            timed("2025-03-01T11:00", "2025-03-01T13:00"),
        ),
        pb::EventStatus::Confirmed,
        pb::Visibility::Public,
    );
    let created = create(&mut ir, "ir-talks", e, true)
        .await
        .expect("written over");
    assert_no_canary("CreateEvent", &format!("{created:?}"));
    for who in ["ir-editor", "br-editor", "tm-reader", "sec-editor"] {
        let mut a = as_(&server, who);
        let got = a
            .events
            .get_event(pb::GetEventRequest {
                id: "ir-talks".into(),
                ..Default::default()
            })
            .await
            .expect("public")
            .into_inner();
        let overrides = &got.event.as_ref().expect("event").conflict_overrides;
        assert_eq!(overrides.len(), 1, "{who}: the override is recorded");
        assert!(
            overrides[0]
                .conflicts
                .iter()
                .all(|c| c.other_event_id.is_empty()),
            "{who}: {overrides:?}"
        );
        assert_no_canary(&format!("{who} GetEvent"), &format!("{got:?}"));
        let listed = a
            .events
            .list_events(pb::ListEventsRequest::default())
            .await
            .expect("list")
            .into_inner();
        assert_no_canary(&format!("{who} ListEvents"), &format!("{listed:?}"));
        let agenda = a
            .events
            .get_agenda(pb::GetAgendaRequest {
                participant_id: "pezeshkian".into(),
                window: Some(pb::TimeWindow {
                    start: "2025-03-01".into(),
                    end: "2025-03-02".into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await
            .expect("agenda")
            .into_inner();
        assert_no_canary(&format!("{who} GetAgenda"), &format!("{agenda:?}"));
        let history = a
            .events
            .list_event_history(pb::ListEventHistoryRequest {
                event_id: "ir-talks".into(),
                ..Default::default()
            })
            .await
            .expect("history")
            .into_inner();
        assert_eq!(history.revisions[0].overridden_conflicts.len(), 1);
        assert_no_canary(&format!("{who} ListEventHistory"), &format!("{history:?}"));
    }
    // Russia's own office sees what it may see: its meeting, by name.
    let got = as_(&server, "ru-editor")
        .events
        .get_event(pb::GetEventRequest {
            id: "ir-talks".into(),
            ..Default::default()
        })
        .await
        .expect("public")
        .into_inner();
    let c = &got.event.expect("event").conflict_overrides[0].conflicts[0];
    assert_eq!(c.other_event_id, HIDDEN_ID);
}

/// Leak 3: a hidden parent answered FAILED_PRECONDITION quoting its title and span, where
/// an unknown one answers NOT_FOUND.
#[tokio::test]
async fn a_hidden_parent_is_not_found_like_an_unknown_one() {
    let server = world().await;
    let mut ir = as_(&server, "ir-editor");
    let side = |parent: &str| {
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            "On the sidelines",
            "sochi",
            &["pezeshkian"],
            timed("2025-03-05T10:00", "2025-03-05T11:00"),
        );
        e.parent_event_id = parent.into();
        e
    };
    let hidden = create(&mut ir, "side-a", side(HIDDEN_ID), false)
        .await
        .expect_err("hidden parent");
    let unknown = create(&mut ir, "side-b", side("no-such-event"), false)
        .await
        .expect_err("unknown parent");
    assert_no_content("CreateEvent", &status_text(&hidden));
    assert_eq!(hidden.code(), Code::NotFound, "{hidden:?}");
    assert_eq!(unknown.code(), Code::NotFound);
    assert_eq!(
        hidden.message().replace(HIDDEN_ID, "ID"),
        unknown.message().replace("no-such-event", "ID")
    );
}

/// Leak 4: travel conflicts named the hidden event's city and the distance to it.
#[tokio::test]
async fn travel_next_to_a_hidden_event_names_no_city_and_no_distance() {
    let server = world().await;
    let mut br = as_(&server, "br-editor");
    // Brazil invites Putin to Brasilia an hour after the hidden Sochi meeting ends.
    let e = event(
        pb::EventKind::BilateralMeeting,
        "Lula–Putin",
        "planalto",
        &["lula", "putin"],
        timed("2025-03-01T07:00", "2025-03-01T08:00"),
    );
    let r = br
        .conflicts
        .check_conflicts(pb::CheckConflictsRequest {
            event: Some(Box::new(e.clone())),
            ..Default::default()
        })
        .await
        .expect("check")
        .into_inner();
    let travel: Vec<_> = r
        .conflicts
        .iter()
        .filter(|c| c.kind == pb::ConflictKind::Travel as i32)
        .collect();
    assert_eq!(travel.len(), 1, "Putin cannot reach Brasilia: {r:?}");
    assert!(travel[0].other_event_id.is_empty());
    assert_eq!(travel[0].distance_km, 0.0, "{:?}", travel[0]);
    let text = format!("{r:?}");
    assert_no_canary("CheckConflicts", &text);
    assert!(!text.contains("Sochi"), "names the hidden city: {text}");
    let created = create(&mut br, "lula-putin", e, false)
        .await
        .expect("travel is soft");
    let text = format!("{:?}", created.conflicts);
    assert_no_canary("CreateEvent", &text);
    assert!(!text.contains("Sochi"), "{text}");
}

/// Leak 5: a refused delete of one's own venue named the hidden events that use it.
#[tokio::test]
async fn a_refused_delete_does_not_name_hidden_events() {
    let server = world().await;
    let mut ir = as_(&server, "ir-editor");
    // Iran holds a private meeting at Brazil's palace (with Lula, so Iran is a party).
    let mut e = with(
        event(
            pb::EventKind::Other,
            "Iran at Planalto",
            "planalto",
            &["pezeshkian", "lula"],
            timed("2025-04-01T10:00", "2025-04-01T11:00"),
        ),
        pb::EventStatus::Tentative,
        pb::Visibility::Private,
    );
    e.description = "Iran's canary".into();
    create(&mut ir, "ir-private-planalto", e, false)
        .await
        .expect("iran's private event");
    let err = as_(&server, "br-editor")
        .directory
        .delete_venue(pb::DeleteVenueRequest {
            id: "planalto".into(),
            ..Default::default()
        })
        .await
        .expect_err("in use");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let text = status_text(&err);
    assert!(
        !text.contains("ir-private-planalto") && !text.contains("Iran at Planalto"),
        "{text}"
    );
}

/// Leak 6: FinaliseProposal linked (and confirmed) any event, whatever the caller's rights
/// on it, and showed it whole.
#[tokio::test]
async fn finalising_cannot_link_or_confirm_an_event_the_caller_cannot_see() {
    let server = world().await;
    let mut ru = as_(&server, "ru-editor");
    let mut ir = as_(&server, "ir-editor");
    // A tentative private event of Russia's, which Iran cannot see.
    let tentative = with(
        event(
            pb::EventKind::OfficialVisit,
            HIDDEN_TITLE,
            "kremlin",
            &["putin"],
            timed("2025-05-01T10:00", "2025-05-01T11:00"),
        ),
        pb::EventStatus::Tentative,
        pb::Visibility::Private,
    );
    create(&mut ru, "ru-tentative", tentative, false)
        .await
        .expect("tentative");
    let p = ir
        .proposals
        .create_proposal(pb::CreateProposalRequest {
            proposal: Some(pb::Proposal {
                kind: pb::ProposalKind::MeetingRequest as i32,
                title: "Talks".into(),
                proposer: Some(pb::Party {
                    party: Some(pb::party::Party::ParticipantId("pezeshkian".into())),
                }),
                recipient: Some(pb::Party {
                    party: Some(pb::party::Party::ParticipantId("putin".into())),
                }),
                ..Default::default()
            }),
            proposal_id: "talks".into(),
            ..Default::default()
        })
        .await
        .expect("request")
        .into_inner()
        .proposal
        .expect("proposal");
    ru.proposals
        .accept_proposal(pb::AcceptProposalRequest {
            id: p.id.clone(),
            ..Default::default()
        })
        .await
        .expect("accepted");
    let err = ir
        .proposals
        .finalise_proposal(pb::FinaliseProposalRequest {
            id: p.id.clone(),
            event_id: "ru-tentative".into(),
            confirm_event: true,
            ..Default::default()
        })
        .await
        .expect_err("Iran cannot see that event");
    assert_eq!(err.code(), Code::NotFound, "{err:?}");
    assert_no_canary("FinaliseProposal", &status_text(&err));
    let stored = ru
        .events
        .get_event(pb::GetEventRequest {
            id: "ru-tentative".into(),
            ..Default::default()
        })
        .await
        .expect("ru sees it")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(
        stored.status,
        pb::EventStatus::Tentative as i32,
        "not confirmed by a stranger"
    );
    let p = ir
        .proposals
        .get_proposal(pb::GetProposalRequest { id: p.id.clone() })
        .await
        .expect("proposal")
        .into_inner()
        .proposal
        .expect("proposal");
    assert_eq!(
        p.status,
        pb::ProposalStatus::Accepted as i32,
        "not finalised"
    );
}

/// Leak 7: request ids were global, so another office's "retry" got the first office's
/// event back.
#[tokio::test]
async fn request_ids_are_scoped_by_office() {
    let server = world().await;
    let mut ru = as_(&server, "ru-editor");
    let mut ir = as_(&server, "ir-editor");
    let req = |id: &str, title: &str, who: &str, day: &str| pb::CreateEventRequest {
        event: Some(Box::new(event(
            pb::EventKind::BilateralMeeting,
            title,
            "kremlin",
            &[who],
            timed(&format!("{day}T10:00"), &format!("{day}T11:00")),
        ))),
        event_id: id.into(),
        request_id: "shared-request-id".into(),
        ..Default::default()
    };
    let first = ru
        .events
        .create_event(req("ru-event", HIDDEN_TITLE, "putin", "2025-06-01"))
        .await
        .expect("ru")
        .into_inner();
    assert_eq!(first.event.expect("event").id, "ru-event");
    let second = ir
        .events
        .create_event(req("ir-event", "Iran's own", "pezeshkian", "2025-06-02"))
        .await
        .expect("iran's own event")
        .into_inner();
    let e = second.event.expect("event");
    assert_eq!(e.id, "ir-event", "Iran gets its own event, not Russia's");
    assert_eq!(e.title, "Iran's own");
    // Russia's retry still gets Russia's first result.
    let again = ru
        .events
        .create_event(req("ru-event", HIDDEN_TITLE, "putin", "2025-06-01"))
        .await
        .expect("retry")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(again.id, "ru-event");
}

/// Leak 8, first half: the domain used to act as an anonymous ADMIN when it found no
/// caller. Mounted without the authentication layer, the services now refuse every call.
#[tokio::test]
async fn services_without_an_authenticated_caller_fail_closed() {
    let scheduler = entente_server::Scheduler::temporary(entente_server::Settings::default())
        .expect("scheduler");
    let routes = entente_server::grpc::routes(
        scheduler,
        &entente_server::Limits::default(),
        entente_server::grpc::access::Tokens::default(),
    )
    .await
    .expect("routes");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming_shutdown(
                tokio_stream::wrappers::TcpListenerStream::new(listener),
                async {
                    let _ = stopped.await;
                },
            ),
    );
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    let mut dir =
        entente_proto::v1::directory_service_client::DirectoryServiceClient::new(channel.clone());
    let err = dir
        .create_country(pb::CreateCountryRequest {
            country: Some(pb::Country {
                code: "RU".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect_err("no caller, no write");
    assert_eq!(err.code(), Code::Unauthenticated);
    let mut events = entente_proto::v1::event_service_client::EventServiceClient::new(channel);
    let err = events
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect_err("no caller, no read");
    assert_eq!(err.code(), Code::Unauthenticated);
    let _ = stop.send(());
    let _ = server.await;
}

/// Leak 8, second half: authorisation was decided on a snapshot read before the write
/// lock, so a write could land after the change that revoked its right. Russia takes
/// Pezeshkian off its PARTIES talks (Iran stops being a party) while Iran retitles them:
/// every retitle Iran is told succeeded must come before the removal.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn authorisation_is_decided_on_the_state_that_is_written() {
    let server = world().await;
    for round in 0..40 {
        let mut ru = as_(&server, "ru-editor");
        let id = format!("race-{round}");
        let day = format!("2025-07-{:02}", round % 28 + 1);
        let hour = 8 + round / 28;
        create(
            &mut ru,
            &id,
            with(
                event(
                    pb::EventKind::BilateralMeeting,
                    "Talks",
                    "kremlin",
                    &["putin", "pezeshkian"],
                    timed(
                        &format!("{day}T{hour:02}:00"),
                        &format!("{day}T{hour:02}:30"),
                    ),
                ),
                pb::EventStatus::Tentative,
                pb::Visibility::Parties,
            ),
            false,
        )
        .await
        .expect("talks");
        let retitles: Vec<_> = (0..6)
            .map(|i| {
                let mut ir = as_(&server, "ir-editor");
                let id = id.clone();
                tokio::spawn(async move {
                    ir.events
                        .update_event(pb::UpdateEventRequest {
                            event: Some(Box::new(pb::Event {
                                id,
                                title: format!("Talks, by Iran {i}"),
                                ..Default::default()
                            })),
                            ..Default::default()
                        })
                        .await
                        .ok()
                        .and_then(|r| r.into_inner().event)
                        .map(|e| e.etag)
                })
            })
            .collect();
        let removal = {
            let id = id.clone();
            tokio::spawn(async move {
                ru.events
                    .update_event(pb::UpdateEventRequest {
                        event: Some(Box::new(pb::Event {
                            id,
                            participant_ids: vec!["putin".into()],
                            ..Default::default()
                        })),
                        ..Default::default()
                    })
                    .await
                    .expect("Russia takes Pezeshkian off")
                    .into_inner()
                    .event
                    .expect("event")
                    .etag
            })
        };
        let removed_at: i64 = removal.await.expect("task")[1..].parse().expect("rN");
        for r in retitles {
            if let Some(etag) = r.await.expect("task") {
                let at: i64 = etag[1..].parse().expect("rN");
                assert!(
                    at < removed_at,
                    "round {round}: Iran's write (r{at}) landed after it stopped being a party (r{removed_at})"
                );
            }
        }
    }
}

/// A public event on the sidelines of the hidden meeting: other offices read it, its
/// export and its change-feed entry without the hidden parent's id.
#[tokio::test]
async fn a_visible_event_does_not_name_its_hidden_parent() {
    let server = world().await;
    let mut ru = as_(&server, "ru-editor");
    let mut side = with(
        event(
            pb::EventKind::BilateralMeeting,
            "Public sidelines",
            "sochi",
            &["putin"],
            timed("2025-03-01T10:30", "2025-03-01T11:00"),
        ),
        pb::EventStatus::Tentative,
        pb::Visibility::Public,
    );
    side.parent_event_id = HIDDEN_ID.into();
    create(&mut ru, "public-sidelines", side, false)
        .await
        .expect("on the sidelines of Russia's own meeting");
    let own = ru
        .events
        .get_event(pb::GetEventRequest {
            id: "public-sidelines".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner();
    assert!(
        format!("{own:?}").contains(HIDDEN_ID),
        "Russia sees its own parent"
    );
    for token in ["ir-editor", "br-editor", "tm-reader"] {
        let mut a = as_(&server, token);
        let got = a
            .events
            .get_event(pb::GetEventRequest {
                id: "public-sidelines".into(),
                ..Default::default()
            })
            .await
            .expect("a public event");
        assert_no_canary(
            &format!("GetEvent as {token}"),
            &format!("{:?}", got.get_ref()),
        );
        let listed = a
            .events
            .list_events(pb::ListEventsRequest::default())
            .await
            .expect("list");
        assert_no_canary(
            &format!("ListEvents as {token}"),
            &format!("{:?}", listed.get_ref()),
        );
        let exported = a
            .ics
            .export_calendar(pb::ExportCalendarRequest {
                window: Some(pb::TimeWindow {
                    start: "2025-03-01".into(),
                    end: "2025-03-02".into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await
            .expect("export")
            .into_inner()
            .ics;
        assert!(exported.contains("Public sidelines"), "{exported}");
        assert_no_canary(&format!("ExportCalendar as {token}"), &exported);
        let changes = a
            .changes
            .list_changes(pb::ListChangesRequest::default())
            .await
            .expect("changes");
        assert_no_canary(
            &format!("ListChanges as {token}"),
            &format!("{:?}", changes.get_ref()),
        );
    }
}
