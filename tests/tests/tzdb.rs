//! When zone rules change (Iran abolished DST in 2022), the stored wall time wins and the
//! instants move. These tests rewrite a stored event as a server with older rules would have
//! stored it, then check what the current server does with it over gRPC.

use std::path::Path;

use entente_proto::v1 as pb;
use entente_server::events::Event;
use entente_server::storage::events as stored;
use entente_server::storage::{self, Backend, Batch, SledBackend, prefix};
use entente_tests::TestServer;
use entente_tests::fixtures::{create, event, participant, rfc, timed, utc, venue};

const TEHRAN: (f64, f64) = (35.6892, 51.3890);

/// 12:00–13:00 on 1 June 2025 in Tehran: +03:30 under current rules. Under the rules before
/// 2022 Iran would have been on DST (+04:30), so the same wall time was an hour earlier in UTC.
async fn store_tehran_meeting(dir: &Path) -> pb::Event {
    let server = TestServer::start_in(dir, Default::default()).await;
    let mut d = server.directory();
    participant(
        &mut d,
        "pezeshkian",
        "Masoud Pezeshkian",
        "IR",
        "Asia/Tehran",
    )
    .await;
    venue(
        &mut d,
        "saadabad",
        "Tehran",
        "IR",
        "Asia/Tehran",
        Some(TEHRAN),
    )
    .await;
    let e = create(
        &mut server.events(),
        "cabinet",
        event(
            pb::EventKind::Other,
            "Cabinet",
            "saadabad",
            &["pezeshkian"],
            timed("2025-06-01T12:00", "2025-06-01T13:00"),
        ),
    )
    .await;
    assert_eq!(rfc(&e.start), "2025-06-01T12:00:00+03:30[Asia/Tehran]");
    drop(d);
    server.stop().await;
    e
}

/// Rewrites the stored event as the old rules had it; optionally marks the whole store as
/// written with that old tzdb. On sled or, in the PostgreSQL variant, in the database,
/// the same keys and bytes either way.
async fn age_the_store(dir: &Path, mark_store_old: bool) {
    let key = storage::key(prefix::EVENT, "cabinet");
    let shared = entente_tests::shared_store_for(dir).await;
    let stored = match &shared {
        Some(url) => {
            let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
                .await
                .expect("connect");
            tokio::spawn(connection);
            let row = client
                .query_one("SELECT value FROM entente_kv WHERE key = $1", &[&key])
                .await
                .expect("stored event");
            Some((client, row.get::<_, Vec<u8>>(0)))
        }
        None => None,
    };
    let backend = match stored {
        Some(_) => None,
        None => Some(SledBackend::open(dir).expect("open store")),
    };
    let v = match (&stored, &backend) {
        (Some((_, v)), _) => v.clone(),
        (None, Some(b)) => {
            b.scan(&key)
                .expect("scan")
                .into_iter()
                .next()
                .expect("stored event")
                .1
        }
        (None, None) => unreachable!("one store or the other"),
    };
    let mut e: Event = stored::decode(&key, &v).expect("decode");
    for z in [&mut e.start, &mut e.end] {
        z.utc -= 3600;
        z.offset_secs = 4 * 3600 + 1800;
    }
    e.tzdb_version = "2022a".into();
    let mut batch = Batch::default();
    batch.put_bytes(key, stored::encode(&e));
    if mark_store_old {
        batch.put(storage::key(prefix::META, "tzdb"), &"2022a".to_string());
    }
    if let Some((client, _)) = &stored {
        // What an older server would have committed: the records, straight in the table
        // every server loads from.
        for (k, v) in batch.ops() {
            client
                .execute(
                    "UPDATE entente_kv SET value = $2 WHERE key = $1",
                    &[k, &v.clone().expect("a put")],
                )
                .await
                .expect("age the record");
        }
        return;
    }
    let backend = backend.expect("sled");
    backend.apply(batch).expect("apply");
    backend.flush().expect("flush");
}

#[tokio::test]
async fn recompute_instants_keeps_the_wall_time_and_reports_what_moved() {
    let temp = tempfile::tempdir().expect("temp");
    let original = store_tehran_meeting(temp.path()).await;
    age_the_store(temp.path(), false).await;

    let server = TestServer::start_in(temp.path(), Default::default()).await;
    let mut events = server.events();
    let get = |mut c: entente_proto::v1::event_service_client::EventServiceClient<
        tonic::transport::Channel,
    >| async move {
        c.get_event(pb::GetEventRequest {
            id: "cabinet".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("e")
    };
    let aged = get(events.clone()).await;
    assert_eq!(
        utc(&aged.start),
        utc(&original.start) - 3600,
        "the stored instants are the old rules'"
    );
    assert_eq!(aged.tzdb_version, "2022a");

    let dry = events
        .recompute_instants(pb::RecomputeInstantsRequest { dry_run: true })
        .await
        .expect("dry run")
        .into_inner();
    assert_eq!(dry.moved_events.len(), 1);
    assert_eq!(dry.moved_events[0].event_id, "cabinet");
    assert_eq!(dry.moved_events[0].previous_tzdb_version, "2022a");
    assert_eq!(
        dry.moved_events[0].previous_start_time.map(|t| t.seconds),
        Some(utc(&aged.start))
    );
    assert_eq!(
        rfc(&dry.moved_events[0].start),
        "2025-06-01T12:00:00+03:30[Asia/Tehran]"
    );
    assert_eq!(get(events.clone()).await, aged, "a dry run writes nothing");

    let done = events
        .recompute_instants(pb::RecomputeInstantsRequest { dry_run: false })
        .await
        .expect("run")
        .into_inner();
    assert_eq!(done.moved_events.len(), 1);
    assert!(done.examined_count >= 1);
    let fixed = get(events.clone()).await;
    assert_eq!(
        rfc(&fixed.start),
        "2025-06-01T12:00:00+03:30[Asia/Tehran]",
        "the wall time won"
    );
    assert_eq!(utc(&fixed.start), utc(&original.start));
    assert_eq!(fixed.tzdb_version, done.tzdb_version);
    let history = events
        .list_event_history(pb::ListEventHistoryRequest {
            event_id: "cabinet".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    assert_eq!(
        history.revisions.last().map(|r| r.action),
        Some(pb::EventAction::InstantsRecomputed as i32)
    );

    // Nothing left to move.
    let again = events
        .recompute_instants(pb::RecomputeInstantsRequest { dry_run: false })
        .await
        .expect("again")
        .into_inner();
    assert!(again.moved_events.is_empty());
    drop(events);
    server.stop().await;
}

#[tokio::test]
async fn a_server_with_a_newer_tzdb_recomputes_at_start_up() {
    let temp = tempfile::tempdir().expect("temp");
    let original = store_tehran_meeting(temp.path()).await;
    age_the_store(temp.path(), true).await;
    let server = TestServer::start_in(temp.path(), Default::default()).await;
    let e = server
        .events()
        .get_event(pb::GetEventRequest {
            id: "cabinet".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("e");
    assert_eq!(rfc(&e.start), "2025-06-01T12:00:00+03:30[Asia/Tehran]");
    assert_eq!(utc(&e.start), utc(&original.start));
    assert_ne!(e.tzdb_version, "2022a");
    server.stop().await;
}
