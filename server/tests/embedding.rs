//! The in-process API keeps the gRPC path's guarantees: the same validation, the same
//! conflict enforcement, and what one writes the other reads.

use entente_proto::v1 as pb;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_server::Principal;
use entente_server::directory::{ParticipantInput, VenueInput};
use entente_server::events::WriteOptions;
use entente_server::events::{EventInput, EventKind, EventStatus, TimingInput};
use entente_server::{Error, Scheduler, Settings};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

fn talks(id: &str, start: &str, end: &str) -> EventInput {
    EventInput {
        id: id.into(),
        kind: Some(EventKind::BilateralMeeting),
        title: "Talks".into(),
        venue_id: "kremlin".into(),
        participant_ids: vec!["putin".into()],
        status: Some(EventStatus::Confirmed),
        timing: Some(TimingInput::Timed {
            start: start.into(),
            end: end.into(),
            time_zone: String::new(),
        }),
        ..Default::default()
    }
}

#[tokio::test]
async fn in_process_and_grpc_share_one_scheduler() {
    let s = Scheduler::temporary(Settings::default()).expect("scheduler");
    let err = s
        .create_venue(
            &Principal::system(),
            VenueInput {
                id: "kremlin".into(),
                display_name: "Kremlin".into(),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Kazan".into(),
                location: None,
                ..Default::default()
            },
        )
        .await
        .expect_err("same validation as gRPC");
    match err {
        Error::Invalid(v) => assert_eq!(v[0].field, "venue.time_zone"),
        other => panic!("unexpected {other:?}"),
    }
    s.create_venue(
        &Principal::system(),
        VenueInput {
            id: "kremlin".into(),
            display_name: "Kremlin".into(),
            city: "Moscow".into(),
            country_code: "RU".into(),
            time_zone: "Europe/Moscow".into(),
            location: None,
            ..Default::default()
        },
    )
    .await
    .expect("venue");
    s.create_participant(
        &Principal::system(),
        ParticipantInput {
            id: "putin".into(),
            display_name: "Vladimir Putin".into(),
            country_code: "RU".into(),
            home_time_zone: "Europe/Moscow".into(),
            ..Default::default()
        },
    )
    .await
    .expect("participant");
    s.create_event(
        &Principal::system(),
        talks("a", "2024-10-15T10:00", "2024-10-15T12:00"),
        WriteOptions::default(),
    )
    .await
    .expect("first");
    let err = s
        .create_event(
            &Principal::system(),
            talks("b", "2024-10-15T11:00", "2024-10-15T13:00"),
            WriteOptions::default(),
        )
        .await
        .expect_err("same conflict enforcement");
    assert!(matches!(err, Error::FailedPrecondition { .. }), "{err:?}");

    // Serve the same scheduler; a gRPC client reads what was written in-process.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let server = tokio::spawn(entente_server::serve_scheduler(
        listener,
        s.clone(),
        async {
            let _ = stopped.await;
        },
    ));
    let mut client = EventServiceClient::connect(format!("http://{addr}"))
        .await
        .expect("connect");
    let e = client
        .get_event(pb::GetEventRequest {
            id: "a".into(),
            view_zone: "Asia/Tehran".into(),
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(
        e.view_start.map(|z| z.local_time).as_deref(),
        Some("2024-10-15T10:30:00")
    );
    drop(client);
    let _ = stop.send(());
    server.await.expect("join").expect("served");
}

/// `Scheduler::open` outside a tokio runtime panicked (it spawns the sweep). It is an
/// error that says what to do; without the sweep it needs no runtime at all.
#[test]
fn opening_outside_a_runtime_is_an_error_not_a_panic() {
    let dir = tempfile::tempdir().expect("temp");
    let err = Scheduler::open(dir.path(), Settings::default()).expect_err("no runtime");
    assert!(matches!(err, Error::NoRuntime), "{err:?}");
    assert!(err.to_string().contains("tokio runtime"), "{err}");
    let err = Scheduler::temporary(Settings::default()).expect_err("no runtime");
    assert!(matches!(err, Error::NoRuntime), "{err:?}");
    let quiet = Settings {
        expiry_sweep: None,
        ..Settings::default()
    };
    Scheduler::open(dir.path(), quiet).expect("no sweep, no runtime needed");
}

/// Every operation takes an explicit principal: an embedder acting as an office gets that
/// office's rights, no more.
#[tokio::test]
async fn an_embedder_acting_as_an_office_gets_its_rights() {
    use entente_server::auth::Role;
    let s = Scheduler::temporary(Settings::default()).expect("scheduler");
    let reader = Principal::office("RU", "ru-reader", Role::Reader);
    let err = s
        .create_participant(
            &reader,
            ParticipantInput {
                id: "putin".into(),
                display_name: "Vladimir Putin".into(),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            },
        )
        .await
        .expect_err("a reader writes nothing");
    assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
    let iran = Principal::office("IR", "ir-editor", Role::Editor);
    let err = s
        .create_participant(
            &iran,
            ParticipantInput {
                id: "putin".into(),
                display_name: "Vladimir Putin".into(),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            },
        )
        .await
        .expect_err("another country's participant");
    assert!(matches!(err, Error::PermissionDenied(_)), "{err:?}");
}
