//! Each office's head of state is its own: naming another country's participant in an
//! event requests their attendance, it does not book them. Their office confirms or
//! declines; only then does the event count CONFIRMED on their calendar.

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{event, precondition_types, timed};
use entente_tests::offices::{self, as_, participant, venue};
use prost_types::FieldMask;
use tonic::Code;

const TOKENS: &[(&str, &str, &str)] = &[
    ("admin", "protocol-it", "ADMIN"),
    ("ru-editor", "RU", "EDITOR"),
    ("ir-editor", "IR", "EDITOR"),
    ("ir-reader", "IR", "READER"),
    ("cn-editor", "CN", "EDITOR"),
    ("sec-editor", "brics-secretariat", "EDITOR"),
];

/// Russia delegates its participants' answers for BRICS events to the secretariat; Iran
/// does not.
const RU_DELEGATES: &str =
    "[[offices]]\nid = \"RU\"\nattendance_delegates = [\"brics-secretariat\"]\n\n";

async fn world() -> TestServer {
    let server = TestServer::start_with_access(offices::access(TOKENS, RU_DELEGATES)).await;
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
    venue(&mut ru, "kremlin", "Moscow", "RU", "Europe/Moscow", None).await;
    venue(&mut ru, "kazan-expo", "Kazan", "RU", "Europe/Moscow", None).await;
    venue(
        &mut as_(&server, "ir-editor"),
        "saadabad",
        "Tehran",
        "IR",
        "Asia/Tehran",
        None,
    )
    .await;
    server
}

fn confirmed(mut e: pb::Event) -> pb::Event {
    e.status = pb::EventStatus::Confirmed as i32;
    e
}

async fn create(
    a: &mut entente_tests::Authed,
    id: &str,
    e: pb::Event,
) -> Result<pb::CreateEventResponse, tonic::Status> {
    a.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            event_id: id.into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn attendance(e: &pb::Event, who: &str) -> pb::Attendance {
    e.attendance
        .iter()
        .find(|a| a.participant_id == who)
        .map(|a| a.attendance())
        .unwrap_or(pb::Attendance::Unspecified)
}

async fn answer(
    a: &mut entente_tests::Authed,
    event_id: &str,
    who: &str,
    answer: pb::Attendance,
) -> Result<pb::SetAttendanceResponse, tonic::Status> {
    a.events
        .set_attendance(pb::SetAttendanceRequest {
            event_id: event_id.into(),
            participant_id: who.into(),
            attendance: answer as i32,
            actor: "protocol officer".into(),
            note: "as agreed by phone".into(),
            ..Default::default()
        })
        .await
        .map(tonic::Response::into_inner)
}

fn talks(start: &str, end: &str) -> pb::Event {
    confirmed(event(
        pb::EventKind::BilateralMeeting,
        "Putin–Pezeshkian talks",
        "kremlin",
        &["putin", "pezeshkian"],
        timed(start, end),
    ))
}

#[tokio::test]
async fn naming_another_countrys_leader_requests_them_and_their_office_answers() {
    let server = world().await;
    let mut ru = as_(&server, "ru-editor");
    let mut ir = as_(&server, "ir-editor");

    // Russia names Pezeshkian: Putin is confirmed by his own office, Pezeshkian requested.
    let created = create(
        &mut ru,
        "talks",
        talks("2025-03-10T10:00", "2025-03-10T12:00"),
    )
    .await
    .expect("talks")
    .event
    .expect("event");
    assert_eq!(attendance(&created, "putin"), pb::Attendance::Confirmed);
    assert_eq!(
        attendance(&created, "pezeshkian"),
        pb::Attendance::Requested
    );

    // Iran's own confirmed cabinet meeting at the same hour is not blocked: the request
    // counts TENTATIVE, a SOFT conflict.
    let cabinet = create(
        &mut ir,
        "cabinet",
        confirmed(event(
            pb::EventKind::Other,
            "Cabinet",
            "saadabad",
            &["pezeshkian"],
            timed("2025-03-10T12:00", "2025-03-10T13:00"),
        )),
    )
    .await
    .expect("Iran's own booking is never blocked by a request");
    assert!(
        cabinet
            .conflicts
            .iter()
            .all(|c| c.severity == pb::ConflictSeverity::Soft as i32),
        "{:?}",
        cabinet.conflicts
    );

    // It appears in Iran's agenda for Pezeshkian as a request.
    let agenda = ir
        .events
        .get_agenda(pb::GetAgendaRequest {
            participant_id: "pezeshkian".into(),
            window: Some(pb::TimeWindow {
                start: "2025-03-10".into(),
                end: "2025-03-11".into(),
                time_zone: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect("agenda")
        .into_inner();
    let requested = agenda
        .events
        .iter()
        .find(|e| e.id == "talks")
        .expect("the request is on the agenda");
    assert_eq!(
        attendance(requested, "pezeshkian"),
        pb::Attendance::Requested
    );

    // Free/busy: a request is tentative busy time.
    let fb = |exclude_tentative| pb::QueryFreeBusyRequest {
        participant_ids: vec!["pezeshkian".into()],
        window: Some(pb::TimeWindow {
            start: "2025-03-10T00:00Z".into(),
            end: "2025-03-11T00:00Z".into(),
            time_zone: String::new(),
        }),
        exclude_tentative,
        ..Default::default()
    };
    let firm = ir
        .conflicts
        .query_free_busy(fb(true))
        .await
        .expect("free/busy")
        .into_inner();
    let ids: Vec<&String> = firm.calendars[0]
        .busy
        .iter()
        .flat_map(|b| &b.event_ids)
        .collect();
    assert_eq!(ids, vec!["cabinet"], "only Iran's own booking is firm");

    // Only Iran answers for Pezeshkian: not Russia, not an Iranian reader.
    let err = answer(&mut ru, "talks", "pezeshkian", pb::Attendance::Confirmed)
        .await
        .expect_err("Russia cannot confirm Iran's president");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = answer(
        &mut as_(&server, "ir-reader"),
        "talks",
        "pezeshkian",
        pb::Attendance::Confirmed,
    )
    .await
    .expect_err("a reader answers for nobody");
    assert_eq!(err.code(), Code::PermissionDenied);
    let err = answer(&mut ir, "talks", "xi", pb::Attendance::Confirmed)
        .await
        .expect_err("not named");
    assert_eq!(err.code(), Code::NotFound);

    // Confirming now would put Pezeshkian in two places: refused, HARD.
    let err = answer(&mut ir, "talks", "pezeshkian", pb::Attendance::Confirmed)
        .await
        .expect_err("double booking");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_types(&err), vec!["PARTICIPANT_CONFLICT"]);

    // Iran moves its cabinet and confirms.
    ir.events
        .cancel_event(pb::CancelEventRequest {
            id: "cabinet".into(),
            reason: "moved".into(),
            ..Default::default()
        })
        .await
        .expect("cancel");
    let r = answer(&mut ir, "talks", "pezeshkian", pb::Attendance::Confirmed)
        .await
        .expect("confirmed");
    let e = r.event.expect("event");
    assert_eq!(attendance(&e, "pezeshkian"), pb::Attendance::Confirmed);

    // Now the talks block Iran's bookings for him like any confirmed engagement.
    let err = create(
        &mut ir,
        "cabinet-2",
        confirmed(event(
            pb::EventKind::Other,
            "Cabinet",
            "saadabad",
            &["pezeshkian"],
            timed("2025-03-10T12:00", "2025-03-10T13:00"),
        )),
    )
    .await
    .expect_err("now a hard conflict");
    assert_eq!(err.code(), Code::FailedPrecondition);

    // The history and the audit log record who answered.
    let history = ir
        .events
        .list_event_history(pb::ListEventHistoryRequest {
            event_id: "talks".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner()
        .revisions;
    let last = history.last().expect("entries");
    assert_eq!(last.action, pb::EventAction::AttendanceChanged as i32);
    assert_eq!(last.changed_fields, vec!["attendance"]);
    assert_eq!(last.actor, "protocol officer");
    assert!(
        last.note.contains("pezeshkian") && last.note.contains("CONFIRMED"),
        "{}",
        last.note
    );
    let audit = as_(&server, "admin")
        .audit
        .list_audit_records(pb::ListAuditRecordsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .records;
    let rec = audit
        .iter()
        .rev()
        .find(|r| r.method.ends_with("/SetAttendance"))
        .expect("audited");
    assert_eq!(
        (rec.office.as_str(), rec.token_name.as_str()),
        ("IR", "ir-editor")
    );
    assert_eq!(rec.resource, "events/talks");

    // Russia moves the talks: Iran is asked again, Putin stays confirmed.
    let moved = ru
        .events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "talks".into(),
                timing: timed("2025-03-11T10:00", "2025-03-11T12:00"),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["timing".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("moved")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(attendance(&moved, "putin"), pb::Attendance::Confirmed);
    assert_eq!(attendance(&moved, "pezeshkian"), pb::Attendance::Requested);
}

#[tokio::test]
async fn a_declined_event_leaves_the_calendar() {
    let server = world().await;
    let mut ru = as_(&server, "ru-editor");
    let mut ir = as_(&server, "ir-editor");
    create(
        &mut ru,
        "talks",
        talks("2025-04-01T10:00", "2025-04-01T12:00"),
    )
    .await
    .expect("talks");
    let r = answer(&mut ir, "talks", "pezeshkian", pb::Attendance::Declined)
        .await
        .expect("declined");
    assert_eq!(
        attendance(&r.event.expect("event"), "pezeshkian"),
        pb::Attendance::Declined
    );
    // Not on his agenda (unless asked for), and no conflict at all for Iran's booking.
    let agenda = |include_declined| pb::GetAgendaRequest {
        participant_id: "pezeshkian".into(),
        window: Some(pb::TimeWindow {
            start: "2025-04-01".into(),
            end: "2025-04-02".into(),
            time_zone: String::new(),
        }),
        include_declined,
        ..Default::default()
    };
    let plain = ir.events.get_agenda(agenda(false)).await.expect("agenda");
    assert!(plain.into_inner().events.is_empty());
    let all = ir.events.get_agenda(agenda(true)).await.expect("agenda");
    assert_eq!(all.into_inner().events.len(), 1);
    let cabinet = create(
        &mut ir,
        "cabinet",
        confirmed(event(
            pb::EventKind::Other,
            "Cabinet",
            "saadabad",
            &["pezeshkian"],
            timed("2025-04-01T10:00", "2025-04-01T11:00"),
        )),
    )
    .await
    .expect("free again");
    assert!(cabinet.conflicts.is_empty(), "{:?}", cabinet.conflicts);
    // REQUESTED is not an answer.
    let err = answer(&mut ir, "talks", "pezeshkian", pb::Attendance::Requested)
        .await
        .expect_err("not an answer");
    assert_eq!(err.code(), Code::InvalidArgument);
}

#[tokio::test]
async fn a_secretariat_answers_only_for_offices_that_delegated_to_it() {
    let server = world().await;
    let mut sec = as_(&server, "sec-editor");
    let mut summit = confirmed(event(
        pb::EventKind::Summit,
        "BRICS summit",
        "kazan-expo",
        &["putin", "pezeshkian"],
        timed("2025-10-22T09:00", "2025-10-22T18:00"),
    ));
    summit.forum_id = "brics".into();
    let e = create(&mut sec, "summit", summit)
        .await
        .expect("the secretariat schedules its summit")
        .event
        .expect("event");
    // Russia delegated: Putin is confirmed; Iran did not: Pezeshkian is requested.
    assert_eq!(attendance(&e, "putin"), pb::Attendance::Confirmed);
    assert_eq!(attendance(&e, "pezeshkian"), pb::Attendance::Requested);
    let err = answer(&mut sec, "summit", "pezeshkian", pb::Attendance::Confirmed)
        .await
        .expect_err("Iran did not delegate");
    assert_eq!(err.code(), Code::PermissionDenied);
    answer(&mut sec, "summit", "putin", pb::Attendance::Declined)
        .await
        .expect("Russia delegated");
    // Outside its forum the secretariat answers for nobody.
    let mut ru = as_(&server, "ru-editor");
    create(
        &mut ru,
        "talks",
        talks("2025-10-23T10:00", "2025-10-23T12:00"),
    )
    .await
    .expect("talks");
    let err = answer(&mut sec, "talks", "putin", pb::Attendance::Declined)
        .await
        .expect_err("not a forum event (nor visible)");
    assert!(
        matches!(err.code(), Code::PermissionDenied | Code::NotFound),
        "{err:?}"
    );
}

#[tokio::test]
async fn without_access_control_everyone_is_confirmed_as_before() {
    let server = TestServer::start().await;
    entente_tests::fixtures::article_directory(&mut server.directory()).await;
    let e = entente_tests::fixtures::create(
        &mut server.events(),
        "talks",
        confirmed(event(
            pb::EventKind::BilateralMeeting,
            "Talks",
            "kremlin",
            &["putin", "pezeshkian"],
            timed("2025-03-10T10:00", "2025-03-10T12:00"),
        )),
    )
    .await;
    assert_eq!(attendance(&e, "putin"), pb::Attendance::Confirmed);
    assert_eq!(attendance(&e, "pezeshkian"), pb::Attendance::Confirmed);
    // A confirmed clash is HARD, as it always was.
    let err = server
        .events()
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(confirmed(event(
                pb::EventKind::Other,
                "Cabinet",
                "ashgabat-congress",
                &["pezeshkian"],
                timed("2025-03-10T11:00", "2025-03-10T13:00"),
            )))),
            ..Default::default()
        })
        .await
        .expect_err("hard");
    assert_eq!(err.code(), Code::FailedPrecondition);
}
