//! The change feed over gRPC: one revision per write (the audit sequence), gap-free and in
//! order; list-then-watch loses nothing; visibility transitions per office; compaction,
//! lagging consumers and progress; and many concurrent watchers, each receiving exactly
//! what its filter and office select.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use entente_proto::v1 as pb;
use entente_server::{ManualClock, Settings};
use entente_tests::fixtures::{article_directory, create, event, timed};
use entente_tests::offices::{self, as_, participant, venue};
use entente_tests::{Authed, TestServer, batches_through};
use tonic::Code;
use tonic_types::StatusExt;

type Stream = tonic::Streaming<pb::WatchChangesResponse>;

fn quick() -> Settings {
    Settings {
        feed_progress: Duration::from_millis(50),
        ..Settings::default()
    }
}

/// The next message of a watch, which must come within ten seconds.
async fn next(s: &mut Stream) -> Result<Option<pb::WatchChangesResponse>, tonic::Status> {
    tokio::time::timeout(Duration::from_secs(10), s.message())
        .await
        .expect("the watch keeps talking")
}

fn talks(id: &str, day: u32, who: &[&str]) -> pb::Event {
    let mut e = event(
        pb::EventKind::BilateralMeeting,
        &format!("Talks {id}"),
        "kremlin",
        who,
        timed(
            &format!("2025-02-{day:02}T10:00"),
            &format!("2025-02-{day:02}T11:00"),
        ),
    );
    e.id = id.into();
    e
}

/// The store's current revision, as a list reports it.
async fn current(server: &TestServer) -> i64 {
    listed_revision(&mut server.events()).await
}

/// The revision a list through `events` reports.
async fn listed_revision(
    events: &mut entente_proto::v1::event_service_client::EventServiceClient<
        tonic::transport::Channel,
    >,
) -> i64 {
    events
        .list_events(pb::ListEventsRequest {
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .revision
}

async fn audit(server: &TestServer) -> Vec<pb::AuditRecord> {
    entente_proto::v1::audit_service_client::AuditServiceClient::new(server.channel.clone())
        .list_audit_records(pb::ListAuditRecordsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("audit")
        .into_inner()
        .records
}

#[tokio::test]
async fn list_then_watch_loses_nothing_and_revisions_are_the_audit_sequence() {
    let server =
        TestServer::start_in(tempfile::tempdir().expect("temp").keep().as_path(), quick()).await;
    article_directory(&mut server.directory()).await;
    create(&mut server.events(), "a", talks("a", 1, &["putin"])).await;
    let listed = server
        .events()
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert!(listed.revision > 0);
    let mut watch = server
        .changes()
        .watch_changes(pb::WatchChangesRequest {
            after_revision: listed.revision,
            include_before: true,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    // Written after the list: a new event, then an update of the listed one.
    create(&mut server.events(), "b", talks("b", 2, &["xi"])).await;
    server
        .events()
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "a".into(),
                title: "Talks a, retitled".into(),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("update");
    let got = batches_through(&mut watch, listed.revision + 2).await;
    assert_eq!(
        got.iter().map(|b| b.revision).collect::<Vec<_>>(),
        vec![listed.revision + 1, listed.revision + 2],
        "in order, no gap, nothing before the list's revision"
    );
    let created = &got[0].changes[0];
    assert_eq!(created.r#type, pb::ChangeType::Created as i32);
    assert_eq!(
        (created.kind, created.id.as_str()),
        (pb::ResourceKind::Event as i32, "b")
    );
    let updated = &got[1].changes[0];
    assert_eq!(updated.r#type, pb::ChangeType::Updated as i32);
    let title = |r: &Option<pb::Resource>| match r.as_ref().and_then(|r| r.resource.as_ref()) {
        Some(pb::resource::Resource::Event(e)) => e.title.clone(),
        other => panic!("not an event: {other:?}"),
    };
    assert_eq!(title(&updated.resource), "Talks a, retitled");
    assert_eq!(title(&updated.before), "Talks a", "include_before");
    assert_eq!(updated.etag, "r2");
    // The revision of each batch is the sequence of its write's audit record.
    let records = audit(&server).await;
    for b in &got {
        let r = records
            .iter()
            .find(|r| r.sequence == b.revision)
            .expect("an audit record of the same number");
        assert_eq!(r.method, b.method);
        assert_eq!(r.resource, format!("events/{}", b.changes[0].id));
    }
    // From the start, every write so far, gap-free.
    let mut all = server
        .changes()
        .watch_changes(pb::WatchChangesRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let everything = batches_through(&mut all, listed.revision + 2).await;
    assert_eq!(
        everything.iter().map(|b| b.revision).collect::<Vec<_>>(),
        (1..=listed.revision + 2).collect::<Vec<_>>()
    );
    assert_eq!(records.len() as i64, listed.revision + 2);
}

#[tokio::test]
async fn a_write_that_changes_several_records_is_one_batch() {
    let server =
        TestServer::start_in(tempfile::tempdir().expect("temp").keep().as_path(), quick()).await;
    article_directory(&mut server.directory()).await;
    let mut summit = talks("summit", 3, &["putin"]);
    summit.timing = entente_tests::fixtures::days("2025-02-03", "2025-02-04");
    create(&mut server.events(), "summit", summit).await;
    for (i, id) in ["s1", "s2"].iter().enumerate() {
        let mut e = talks(id, 3, &["xi"]);
        e.parent_event_id = "summit".into();
        e.timing = timed(
            &format!("2025-02-03T1{i}:00"),
            &format!("2025-02-03T1{i}:30"),
        );
        create(&mut server.events(), id, e).await;
    }
    let before = current(&server).await;
    server
        .events()
        .cancel_event(pb::CancelEventRequest {
            id: "summit".into(),
            cascade: true,
            reason: "postponed".into(),
            ..Default::default()
        })
        .await
        .expect("cascade");
    let page = server
        .changes()
        .list_changes(pb::ListChangesRequest {
            after_revision: before,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.batches.len(), 1, "one write, one revision");
    let ids: BTreeSet<&str> = page.batches[0]
        .changes
        .iter()
        .map(|c| c.id.as_str())
        .collect();
    assert_eq!(ids, ["s1", "s2", "summit"].into_iter().collect());
    assert_eq!(page.revision, before + 1);
    assert!(page.next_page_token.is_empty());
}

const TOKENS: &[(&str, &str, &str)] = &[
    ("admin", "protocol-it", "ADMIN"),
    ("ru-editor", "RU", "EDITOR"),
    ("ir-editor", "IR", "EDITOR"),
    ("br-reader", "BR", "READER"),
];

async fn offices_world(settings: Settings) -> TestServer {
    let server = TestServer::start_with_access_and(offices::access(TOKENS, ""), settings).await;
    let mut ru = as_(&server, "ru-editor");
    participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    participant(
        &mut as_(&server, "ir-editor"),
        "pezeshkian",
        "IR",
        "Asia/Tehran",
    )
    .await;
    venue(&mut ru, "kremlin", "Moscow", "RU", "Europe/Moscow", None).await;
    server
}

async fn watch_as(a: &mut Authed, after: i64) -> Stream {
    a.changes
        .watch_changes(pb::WatchChangesRequest {
            after_revision: after,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner()
}

/// (type, id) of every change a watcher received.
fn seen(batches: &[pb::ChangeBatch]) -> Vec<(pb::ChangeType, String, bool)> {
    batches
        .iter()
        .flat_map(|b| &b.changes)
        .map(|c| (c.r#type(), c.id.clone(), c.resource.is_some()))
        .collect()
}

#[tokio::test]
async fn records_entering_and_leaving_an_offices_view() {
    let server = offices_world(quick()).await;
    let mut ru = as_(&server, "ru-editor");
    let start = ru
        .changes
        .list_changes(pb::ListChangesRequest::default())
        .await
        .expect("list")
        .into_inner()
        .revision;
    let mut ir_watch = watch_as(&mut as_(&server, "ir-editor"), start).await;
    let mut br_watch = watch_as(&mut as_(&server, "br-reader"), start).await;
    let update = |id: &str, e: pb::Event, paths: &[&str]| pb::UpdateEventRequest {
        event: Some(Box::new(pb::Event { id: id.into(), ..e })),
        update_mask: Some(prost_types::FieldMask {
            paths: paths.iter().map(|p| p.to_string()).collect(),
        }),
        ..Default::default()
    };
    // 1. Russia's private meeting: nobody else sees it.
    let mut e = talks("m", 5, &["putin"]);
    e.visibility = pb::Visibility::Private as i32;
    e.description = "private canary".into();
    ru.events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            event_id: "m".into(),
            ..Default::default()
        })
        .await
        .expect("create");
    // 2. Made PUBLIC: it enters everyone's view.
    ru.events
        .update_event(update(
            "m",
            pb::Event {
                visibility: pb::Visibility::Public as i32,
                ..Default::default()
            },
            &["visibility"],
        ))
        .await
        .expect("public");
    // 3. Made PARTIES: it leaves Iran's and Brazil's view (neither takes part).
    ru.events
        .update_event(update(
            "m",
            pb::Event {
                visibility: pb::Visibility::Parties as i32,
                ..Default::default()
            },
            &["visibility"],
        ))
        .await
        .expect("parties");
    // 4. Pezeshkian added: it enters Iran's view (not Brazil's).
    ru.events
        .update_event(update(
            "m",
            pb::Event {
                participant_ids: vec!["putin".into(), "pezeshkian".into()],
                ..Default::default()
            },
            &["participant_ids"],
        ))
        .await
        .expect("added");
    // 5. Pezeshkian removed: it leaves Iran's view again.
    ru.events
        .update_event(update(
            "m",
            pb::Event {
                participant_ids: vec!["putin".into()],
                ..Default::default()
            },
            &["participant_ids"],
        ))
        .await
        .expect("removed");
    let end = start + 5;
    use pb::ChangeType::*;
    let ir = batches_through(&mut ir_watch, end).await;
    assert_eq!(
        seen(&ir),
        vec![
            (EnteredView, "m".into(), true),
            (LeftView, "m".into(), false),
            (EnteredView, "m".into(), true),
            (LeftView, "m".into(), false),
        ]
    );
    let br = batches_through(&mut br_watch, end).await;
    assert_eq!(
        seen(&br),
        vec![
            (EnteredView, "m".into(), true),
            (LeftView, "m".into(), false)
        ]
    );
    // What left the view carries nothing but its id.
    for b in ir.iter().chain(&br) {
        for c in &b.changes {
            if c.r#type == LeftView as i32 {
                assert!(c.resource.is_none() && c.before.is_none() && c.etag.is_empty());
            }
        }
    }
    // Russia's own watcher sees every step as an update of what it always saw.
    let mut ru_watch = watch_as(&mut ru, start).await;
    let own = batches_through(&mut ru_watch, end).await;
    assert_eq!(
        seen(&own).iter().map(|s| s.0).collect::<Vec<_>>(),
        vec![Created, Updated, Updated, Updated, Updated]
    );
}

#[tokio::test]
async fn changes_older_than_the_retention_are_compacted_and_say_so() {
    let clock = ManualClock::new(1_760_000_000_000_000);
    let settings = Settings {
        clock: clock.clock(),
        expiry_sweep: None,
        change_retention: Duration::from_secs(3600),
        ..quick()
    };
    let scheduler = entente_server::Scheduler::temporary(settings).expect("scheduler");
    let server = TestServer::serving(scheduler.clone()).await;
    article_directory(&mut server.directory()).await;
    let first = current(&server).await;
    clock.advance(2 * 3600 * 1_000_000);
    create(&mut server.events(), "late", talks("late", 6, &["putin"])).await;
    let swept = scheduler
        .sweep(&entente_server::Principal::system())
        .await
        .expect("sweep");
    assert_eq!(swept.compacted as i64, first);
    // A resume point inside what was compacted (revision 1 and on are gone).
    for err in [
        server
            .changes()
            .list_changes(pb::ListChangesRequest {
                after_revision: 1,
                ..Default::default()
            })
            .await
            .expect_err("compacted"),
        match server
            .changes()
            .watch_changes(pb::WatchChangesRequest {
                after_revision: 1,
                ..Default::default()
            })
            .await
        {
            Err(e) => e,
            Ok(mut s) => s.get_mut().message().await.expect_err("compacted"),
        },
    ] {
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        let info = err.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "REVISION_COMPACTED");
        assert_eq!(info.metadata["oldest_revision"], (first + 1).to_string());
        assert_eq!(info.metadata["current_revision"], (first + 1).to_string());
    }
    // From the oldest retained on, all is there.
    let page = server
        .changes()
        .list_changes(pb::ListChangesRequest {
            after_revision: first,
            ..Default::default()
        })
        .await
        .expect("retained")
        .into_inner();
    assert_eq!(page.batches.len(), 1);
    assert_eq!(page.batches[0].changes[0].id, "late");
    // 0 means "from the oldest retained", compaction or not (issue 32, item 8): the list
    // and the watch start there instead of answering REVISION_COMPACTED.
    let page = server
        .changes()
        .list_changes(pb::ListChangesRequest::default())
        .await
        .expect("from the oldest retained")
        .into_inner();
    assert_eq!(page.batches.len(), 1);
    assert_eq!(page.batches[0].changes[0].id, "late");
    let mut watch = server
        .changes()
        .watch_changes(pb::WatchChangesRequest::default())
        .await
        .expect("from the oldest retained")
        .into_inner();
    let first_batch = loop {
        match next(&mut watch).await.expect("a message").expect("open") {
            pb::WatchChangesResponse {
                message: Some(pb::watch_changes_response::Message::Batch(b)),
            } => break b,
            _ => continue,
        }
    };
    assert_eq!(first_batch.changes[0].id, "late");
}

#[tokio::test]
async fn a_watcher_too_far_behind_is_ended_and_resumes_where_it_stopped() {
    let settings = Settings {
        feed_buffer: 4,
        ..quick()
    };
    let server = TestServer::start_in(
        tempfile::tempdir().expect("temp").keep().as_path(),
        settings,
    )
    .await;
    article_directory(&mut server.directory()).await;
    let start = current(&server).await;
    // A watcher on a connection with small HTTP/2 windows, so that what it does not read
    // backs up into the server instead of its own buffers.
    let narrow = tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("endpoint")
        .initial_stream_window_size(Some(65_535))
        .initial_connection_window_size(Some(65_535))
        .connect()
        .await
        .expect("connect");
    let mut watch = entente_proto::v1::change_service_client::ChangeServiceClient::new(narrow)
        .watch_changes(pb::WatchChangesRequest {
            after_revision: start,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    // 120 writes of 9 KB records while the watcher reads nothing: past what the
    // transport buffers for it, and far past the feed's buffer of four commits.
    for i in 0..120u32 {
        let mut e = talks(&format!("e{i}"), 1, &["putin"]);
        e.description = "Minutes. ".repeat(1000);
        let (day, hour) = (1 + i / 10, 8 + i % 10);
        let (day, hour) = if day > 28 {
            (day - 28, hour)
        } else {
            (day, hour)
        };
        e.timing = timed(
            &format!("2025-04-{day:02}T{hour:02}:00"),
            &format!("2025-04-{day:02}T{hour:02}:30"),
        );
        create(&mut server.events(), &format!("e{i}"), e).await;
    }
    let mut got = Vec::new();
    let last = loop {
        match next(&mut watch).await {
            Ok(Some(m)) => match m.message {
                Some(pb::watch_changes_response::Message::Batch(b)) => got.push(b.revision),
                Some(pb::watch_changes_response::Message::Progress(p)) => {
                    assert!(p.revision < start + 120, "it never fell behind: {got:?}");
                }
                None => {}
            },
            Ok(None) => panic!("ended without saying why"),
            Err(e) => {
                assert_eq!(e.code(), Code::ResourceExhausted, "{e:?}");
                let info = e.get_details_error_info().expect("ErrorInfo");
                assert_eq!(info.reason, "CONSUMER_LAGGED");
                break info.metadata["last_revision"]
                    .parse::<i64>()
                    .expect("number");
            }
        }
    };
    assert_eq!(
        got.last().copied().unwrap_or(start),
        last,
        "last = last received"
    );
    // Resumed from there: the rest, in order, none twice.
    let mut resumed = server
        .changes()
        .watch_changes(pb::WatchChangesRequest {
            after_revision: last,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    got.extend(
        batches_through(&mut resumed, start + 120)
            .await
            .iter()
            .map(|b| b.revision),
    );
    assert_eq!(got, (start + 1..=start + 120).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_filtered_watcher_with_nothing_to_say_still_hears_progress() {
    let server =
        TestServer::start_in(tempfile::tempdir().expect("temp").keep().as_path(), quick()).await;
    article_directory(&mut server.directory()).await;
    let mut watch = server
        .changes()
        .watch_changes(pb::WatchChangesRequest {
            from_now: true,
            filter: Some(pb::ChangeFilter {
                participant_id: "xi".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    let now = current(&server).await;
    for i in 0..3 {
        create(
            &mut server.events(),
            &format!("p{i}"),
            talks(&format!("p{i}"), 10 + i, &["putin"]),
        )
        .await;
    }
    let got = batches_through(&mut watch, now + 3).await;
    assert!(got.is_empty(), "nothing about Xi: {got:?}");
}

/// What a filter selects, decided here from the changes an admin lists (the brute-force
/// replay the feed's own filtering must agree with).
fn wanted(f: &pb::ChangeFilter, c: &pb::Change) -> bool {
    let event = |r: &Option<pb::Resource>| match r.as_ref().and_then(|r| r.resource.as_ref()) {
        Some(pb::resource::Resource::Event(e)) => Some(e.clone()),
        _ => None,
    };
    let Some(e) = event(&c.resource).or_else(|| event(&c.before)) else {
        return f.participant_id.is_empty() && f.venue_id.is_empty() && f.kinds.is_empty();
    };
    (f.kinds.is_empty() || f.kinds.contains(&c.kind))
        && (f.participant_id.is_empty() || e.participant_ids.contains(&f.participant_id))
        && (f.venue_id.is_empty() || e.venue_id == f.venue_id)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_watchers_each_receive_exactly_what_their_filter_selects() {
    let server =
        TestServer::start_in(tempfile::tempdir().expect("temp").keep().as_path(), quick()).await;
    article_directory(&mut server.directory()).await;
    let start = current(&server).await;
    let people = ["putin", "pezeshkian", "xi"];
    let halls = [
        "kremlin",
        "kazan-expo",
        "ashgabat-congress",
        "ashgabat-palace",
    ];
    let filters: Vec<pb::ChangeFilter> = (0..200)
        .map(|i| pb::ChangeFilter {
            participant_id: if i % 3 == 0 {
                String::new()
            } else {
                people[i % people.len()].into()
            },
            venue_id: if i % 4 == 0 {
                halls[i % halls.len()].into()
            } else {
                String::new()
            },
            kinds: if i % 5 == 0 {
                vec![pb::ResourceKind::Event as i32]
            } else {
                Vec::new()
            },
            ..Default::default()
        })
        .collect();
    let mut watch_channels = Vec::new();
    // The watchers on connections of their own: a connection's HTTP/2 flow-control window
    // is shared by its streams, and these are not read until the writes are done.
    let mut watches = Vec::new();
    for (i, f) in filters.iter().enumerate() {
        let channel = if i % 50 == 0 {
            Some(
                tonic::transport::Endpoint::from_shared(format!("http://{}", server.addr))
                    .expect("endpoint")
                    .connect()
                    .await
                    .expect("connect"),
            )
        } else {
            None
        };
        if let Some(c) = channel {
            watch_channels.push(c);
        }
        let channel = watch_channels.last().expect("a channel").clone();
        watches.push(
            entente_proto::v1::change_service_client::ChangeServiceClient::new(channel)
                .watch_changes(pb::WatchChangesRequest {
                    after_revision: start,
                    filter: Some(f.clone()),
                    ..Default::default()
                })
                .await
                .expect("watch")
                .into_inner(),
        );
    }
    // A booking load from 8 writers: many accepted, many refused as conflicts.
    let writers: Vec<_> = (0..8u32)
        .map(|w| {
            let mut events = server.events();
            tokio::spawn(async move {
                for n in 0..25u32 {
                    let day = 1 + (w * 25 + n) % 27;
                    let hour = 8 + (w + n) % 9;
                    let who = [
                        people[(w + n) as usize % 3],
                        people[(w + 2 * n) as usize % 3],
                    ];
                    let who: Vec<&str> = if who[0] == who[1] {
                        vec![who[0]]
                    } else {
                        who.to_vec()
                    };
                    let mut e = event(
                        pb::EventKind::BilateralMeeting,
                        "Load",
                        halls[(w + n) as usize % halls.len()],
                        &who,
                        timed(
                            &format!("2025-03-{day:02}T{hour:02}:00"),
                            &format!("2025-03-{day:02}T{hour:02}:45"),
                        ),
                    );
                    e.status = pb::EventStatus::Confirmed as i32;
                    let _ = events
                        .create_event(pb::CreateEventRequest {
                            event: Some(Box::new(e)),
                            ..Default::default()
                        })
                        .await;
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let end = current(&server).await;
    assert!(end - start > 20, "writes got through: {}", end - start);
    // The truth: every change an admin lists, filtered here.
    let mut truth = Vec::new();
    let mut token = String::new();
    loop {
        let page = server
            .changes()
            .list_changes(pb::ListChangesRequest {
                after_revision: start,
                page_size: 1000,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        truth.extend(page.batches);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let expected = |f: &pb::ChangeFilter| -> BTreeMap<i64, Vec<String>> {
        truth
            .iter()
            .filter_map(|b| {
                let ids: Vec<String> = b
                    .changes
                    .iter()
                    .filter(|c| wanted(f, c))
                    .map(|c| c.id.clone())
                    .collect();
                (!ids.is_empty()).then_some((b.revision, ids))
            })
            .collect()
    };
    for (i, (w, f)) in watches.iter_mut().zip(&filters).enumerate() {
        let got: BTreeMap<i64, Vec<String>> = batches_through(w, end)
            .await
            .into_iter()
            .map(|b| (b.revision, b.changes.into_iter().map(|c| c.id).collect()))
            .collect();
        let want = expected(f);
        let missing: Vec<_> = want.iter().filter(|(k, v)| got.get(k) != Some(v)).collect();
        let extra: Vec<_> = got.iter().filter(|(k, v)| want.get(k) != Some(v)).collect();
        assert!(
            missing.is_empty() && extra.is_empty(),
            "watcher {i} with {f:?}: missing {missing:?}, extra {extra:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_is_listed_as_soon_as_it_is_acknowledged() {
    let server =
        TestServer::start_in(tempfile::tempdir().expect("temp").keep().as_path(), quick()).await;
    article_directory(&mut server.directory()).await;
    // Eight writers at once, each listing the changes right after each acknowledgement.
    // Acknowledging and publishing the revision happen on another thread than the call,
    // and one flush answers several writers: an order between the two that is wrong shows
    // only sometimes, and most often when writes share a flush.
    let writers: Vec<_> = (0..8u32)
        .map(|w| {
            let (mut events, mut changes) = (server.events(), server.changes());
            let people = ["putin", "pezeshkian", "xi"];
            tokio::spawn(async move {
                for n in 0..50u32 {
                    let before = listed_revision(&mut events).await;
                    let id = format!("ack-{w}-{n}");
                    // A slot of its own: the writes must not conflict.
                    let (day, hour, half) = (1 + n % 25, 8 + w, 30 * (n / 25));
                    let mut e = talks(&id, day, &[people[w as usize % people.len()]]);
                    e.timing = timed(
                        &format!("2025-02-{day:02}T{hour:02}:{half:02}"),
                        &format!("2025-02-{day:02}T{hour:02}:{:02}", half + 29),
                    );
                    create(&mut events, &id, e).await;
                    let page = changes
                        .list_changes(pb::ListChangesRequest {
                            after_revision: before,
                            page_size: 1000,
                            ..Default::default()
                        })
                        .await
                        .expect("list")
                        .into_inner();
                    assert!(
                        page.batches
                            .iter()
                            .flat_map(|b| &b.changes)
                            .any(|c| c.id == id),
                        "{id} is not listed right after its acknowledgement: {:?}",
                        page.batches.iter().map(|b| b.revision).collect::<Vec<_>>()
                    );
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
}
