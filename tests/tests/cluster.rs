//! Several entente servers over one PostgreSQL database: every guarantee of one server
//! holds across them. Clients are spread over three servers as a load balancer would
//! spread them; each test says which guarantee it holds.
//!
//! These tests need PostgreSQL; without it they say so and pass (see
//! `entente_tests::servers_sharing_a_database`), except under `ENTENTE_REQUIRE_POSTGRES`
//! (CI), where they fail.

use std::collections::BTreeSet;

use entente_proto::v1 as pb;
use entente_proto::v1::audit_service_client::AuditServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_tests::TestServer;
use entente_tests::fixtures::{article_directory, create, event, timed, utc};
use pb::EventKind::BilateralMeeting;
use pb::EventStatus::Confirmed;
use tonic::Code;
use tonic::transport::{Channel, Endpoint};
use tonic_types::StatusExt;

async fn three() -> Option<Vec<TestServer>> {
    entente_tests::servers_sharing_a_database(3, Default::default())
        .await
        .map(|(servers, _)| servers)
}

/// A client on a connection of its own to `server`.
async fn connect(server: &TestServer) -> EventServiceClient<Channel> {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    EventServiceClient::new(channel)
}

/// The event `id`, as GetEvent through `client` returns it.
async fn get_event(
    client: &mut EventServiceClient<Channel>,
    id: &str,
) -> Result<pb::Event, tonic::Status> {
    let reply = client
        .get_event(pb::GetEventRequest {
            id: id.into(),
            ..Default::default()
        })
        .await?;
    Ok(*reply.into_inner().event.expect("a found event is returned"))
}

fn confirmed(mut e: pb::Event) -> pb::Event {
    e.status = Confirmed as i32;
    e
}

/// Every event of `participant` (or at `venue`), as `server` lists them.
async fn listed(server: &TestServer, participant: &str, venue: &str) -> Vec<pb::Event> {
    listed_by(&mut server.events(), participant, venue).await
}

/// [`listed`], through `client`.
async fn listed_by(
    client: &mut EventServiceClient<Channel>,
    participant: &str,
    venue: &str,
) -> Vec<pb::Event> {
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = client
            .list_events(pb::ListEventsRequest {
                participant_id: participant.into(),
                venue_id: venue.into(),
                page_size: 100,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        all.extend(page.events);
        if page.next_page_token.is_empty() {
            return all;
        }
        token = page.next_page_token;
    }
}

/// Exactly one of the raced calls `tasks` succeeded (`what` names it); the others were
/// refused with `losers`.
async fn one_winner<T>(
    tasks: Vec<tokio::task::JoinHandle<Result<T, tonic::Status>>>,
    losers: Code,
    what: &str,
) {
    let mut won = 0;
    for t in tasks {
        match t.await.expect("task") {
            Ok(_) => won += 1,
            Err(e) => assert_eq!(e.code(), losers, "{what}: {e:?}"),
        }
    }
    assert_eq!(won, 1, "{what}: exactly one wins");
}

fn no_two_overlap(events: &[pb::Event]) {
    let mut spans: Vec<(i64, i64, &str)> = events
        .iter()
        .map(|e| (utc(&e.start), utc(&e.end), e.id.as_str()))
        .collect();
    spans.sort();
    for w in spans.windows(2) {
        assert!(w[0].1 <= w[1].0, "{} overlaps {}", w[0].2, w[1].2);
    }
}

/// 32 clients spread over 3 servers race to book one participant (then one venue) into
/// overlapping CONFIRMED slots, round after round: exactly one wins each round, the losers
/// get the same FAILED_PRECONDITION one server gives, and no server lists an overlap.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_two_clients_on_three_servers_book_one_slot_each_round() {
    const CLIENTS: usize = 32;
    const ROUNDS: usize = 12;
    let Some(servers) = three().await else { return };
    article_directory(&mut servers[0].directory()).await;
    let mut clients = Vec::new();
    for i in 0..CLIENTS {
        clients.push(connect(&servers[i % servers.len()]).await);
    }
    // Rounds on Putin's calendar (two venues), then rounds on the Kremlin's (a different
    // participant per client).
    let people = ["putin", "pezeshkian", "xi"];
    for round in 0..2 * ROUNDS {
        let on_venue = round >= ROUNDS;
        let day = 1 + round;
        let mut tasks = Vec::new();
        for (i, client) in clients.iter().enumerate() {
            let mut client = client.clone();
            // Every client's slot overlaps every other client's slot this round.
            let start = format!("2025-03-{day:02}T10:{i:02}");
            let end = format!("2025-03-{day:02}T12:{i:02}");
            let (venue, who) = if on_venue {
                ("kremlin", people[i % 3])
            } else {
                (["kremlin", "kazan-expo"][i % 2], "putin")
            };
            tasks.push(tokio::spawn(async move {
                client
                    .create_event(pb::CreateEventRequest {
                        event: Some(Box::new(confirmed(event(
                            BilateralMeeting,
                            &format!("r{round} c{i}"),
                            venue,
                            &[who],
                            timed(&start, &end),
                        )))),
                        ..Default::default()
                    })
                    .await
            }));
        }
        one_winner(
            tasks,
            Code::FailedPrecondition,
            &format!("round {round}: a booking"),
        )
        .await;
    }
    for server in &servers {
        let putin = listed(server, "putin", "").await;
        let kremlin = listed(server, "", "kremlin").await;
        no_two_overlap(&putin);
        no_two_overlap(&kremlin);
        let all: BTreeSet<String> = putin.iter().chain(&kremlin).map(|e| e.id.clone()).collect();
        assert_eq!(all.len(), 2 * ROUNDS, "one event a round, on every server");
    }
}

/// A write acknowledged by one server is seen by every read issued afterwards on the
/// others: get, list, conflict check. The servers do not follow each other's
/// notifications here, so what the reads see is what each request's own catch-up found.
#[tokio::test]
async fn a_write_on_one_server_is_read_on_the_others_at_once() {
    let config = entente_server::Config {
        settings: entente_server::Settings {
            follow_others: None,
            ..Default::default()
        },
        ..Default::default()
    };
    let Some((servers, _)) = entente_tests::servers_sharing_a_database(3, config).await else {
        return;
    };
    article_directory(&mut servers[0].directory()).await;
    for i in 0..30 {
        let writer = &servers[i % 3];
        let id = format!("talks-{i}");
        let start = format!("2025-04-{:02}T10:00", 1 + i);
        let end = format!("2025-04-{:02}T10:30", 1 + i);
        let stored = create(
            &mut writer.events(),
            &id,
            event(
                BilateralMeeting,
                "talks",
                "kremlin",
                &["xi"],
                timed(&start, &end),
            ),
        )
        .await;
        for reader in servers.iter().filter(|s| s.addr != writer.addr) {
            let got = get_event(&mut reader.events(), &id)
                .await
                .unwrap_or_else(|e| panic!("{id} not on the other server: {e:?}"));
            assert_eq!(got.etag, stored.etag);
            let check = reader
                .conflicts()
                .check_conflicts(pb::CheckConflictsRequest {
                    event: Some(Box::new(event(
                        BilateralMeeting,
                        "probe",
                        "kazan-expo",
                        &["xi"],
                        timed(&start, &end),
                    ))),
                    ..Default::default()
                })
                .await
                .expect("check")
                .into_inner();
            assert!(
                check.conflicts.iter().any(|c| c.other_event_id == id),
                "the check on another server sees {id}: {check:?}"
            );
        }
    }
    for server in &servers {
        assert_eq!(listed(server, "xi", "").await.len(), 30);
    }
}

/// A retry with the same request_id on another server returns the first result and
/// creates nothing twice.
/// A server with `settings` on the database at `url`: its scheduler, and the server
/// serving it over gRPC.
async fn serve_on(
    url: &str,
    settings: entente_server::Settings,
) -> (entente_server::Scheduler, TestServer) {
    let scheduler = entente_server::Scheduler::open_postgres(url, settings)
        .await
        .expect("open");
    let server = TestServer::serving(scheduler.clone()).await;
    (scheduler, server)
}

/// Putin and Pezeshkian's talks at Kazan Expo from `start` to `end`, created with
/// `request_id`.
fn talks_in_kazan(
    title: &str,
    (start, end): (&str, &str),
    request_id: &str,
) -> pb::CreateEventRequest {
    pb::CreateEventRequest {
        event: Some(Box::new(event(
            BilateralMeeting,
            title,
            "kazan-expo",
            &["putin", "pezeshkian"],
            timed(start, end),
        ))),
        request_id: request_id.into(),
        ..Default::default()
    }
}

#[tokio::test]
async fn a_retry_on_another_server_returns_the_first_result() {
    let Some(servers) = three().await else { return };
    article_directory(&mut servers[0].directory()).await;
    let request = talks_in_kazan(
        "Putin and Pezeshkian",
        ("2024-10-23T15:00", "2024-10-23T16:00"),
        "9f2c7e1a-retry",
    );
    let first = servers[0]
        .events()
        .create_event(request.clone())
        .await
        .expect("first")
        .into_inner()
        .event
        .expect("event");
    for server in &servers[1..] {
        let again = server
            .events()
            .create_event(request.clone())
            .await
            .expect("retry")
            .into_inner()
            .event
            .expect("event");
        assert_eq!(again.id, first.id);
        assert_eq!(again.etag, first.etag);
    }
    // Concurrent retries of a new request on all three: one event.
    let request = talks_in_kazan(
        "Putin and Pezeshkian, again",
        ("2024-10-24T15:00", "2024-10-24T16:00"),
        "9f2c7e1a-race",
    );
    let mut tasks = Vec::new();
    for server in &servers {
        let mut client = connect(server).await;
        let request = request.clone();
        tasks.push(tokio::spawn(
            async move { client.create_event(request).await },
        ));
    }
    let mut ids = BTreeSet::new();
    for t in tasks {
        let reply = t.await.expect("task").expect("each retry answers");
        ids.insert(reply.into_inner().event.expect("event").id);
    }
    assert_eq!(ids.len(), 1, "{ids:?}");
    assert_eq!(listed(&servers[2], "pezeshkian", "").await.len(), 2);
}

/// A retry that arrives while its first attempt is still being committed on the same
/// server is answered once that commit is: a read on another server right after the
/// answer finds the event.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_retry_is_answered_only_once_its_first_attempt_committed() {
    let Some((servers, _)) = entente_tests::servers_sharing_a_database(2, Default::default()).await
    else {
        return;
    };
    article_directory(&mut servers[0].directory()).await;
    let mut clients = Vec::new();
    for _ in 0..6 {
        clients.push((connect(&servers[0]).await, connect(&servers[1]).await));
    }
    for round in 0..40u32 {
        let (day, hour) = (1 + round % 28, 8 + round / 28);
        let request = talks_in_kazan(
            "Putin and Pezeshkian",
            (
                &format!("2025-05-{day:02}T{hour:02}:00"),
                &format!("2025-05-{day:02}T{hour:02}:30"),
            ),
            &format!("retried-{round}"),
        );
        // The first attempt and five retries at once on one server; each answer is
        // followed at once by a read on the other.
        let tasks: Vec<_> = clients
            .iter()
            .map(|(writer, reader)| {
                let (mut writer, mut reader) = (writer.clone(), reader.clone());
                let request = request.clone();
                tokio::spawn(async move {
                    let id = writer
                        .create_event(request)
                        .await
                        .expect("each attempt answers")
                        .into_inner()
                        .event
                        .expect("event")
                        .id;
                    let read = get_event(&mut reader, &id).await;
                    (id, read.map(|_| ()).map_err(|e| e.code()))
                })
            })
            .collect();
        for t in tasks {
            let (id, read) = t.await.expect("task");
            assert_eq!(
                read,
                Ok(()),
                "round {round}: {id} answered but not readable"
            );
        }
    }
}

/// Three servers update one event with the same etag at once: one wins, the others are
/// ABORTED. Three servers answer one proposal at once (accept, decline, withdraw): one
/// transition wins, the history holds it alone.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etags_and_proposal_transitions_hold_across_servers() {
    let Some(servers) = three().await else { return };
    article_directory(&mut servers[0].directory()).await;
    for round in 0..10 {
        let id = format!("meeting-{round}");
        let stored = create(
            &mut servers[round % 3].events(),
            &id,
            event(
                BilateralMeeting,
                "talks",
                "kremlin",
                &["putin"],
                timed(
                    &format!("2025-05-{:02}T10:00", 1 + round),
                    &format!("2025-05-{:02}T11:00", 1 + round),
                ),
            ),
        )
        .await;
        let mut tasks = Vec::new();
        for (i, server) in servers.iter().enumerate() {
            let mut client = connect(server).await;
            let mut changed = stored.clone();
            changed.title = format!("talks, as server {i} has it");
            tasks.push(tokio::spawn(async move {
                client
                    .update_event(pb::UpdateEventRequest {
                        event: Some(Box::new(changed)),
                        update_mask: Some(prost_types::FieldMask {
                            paths: vec!["title".into()],
                        }),
                        ..Default::default()
                    })
                    .await
            }));
        }
        one_winner(
            tasks,
            Code::Aborted,
            &format!("round {round}: an update with the etag"),
        )
        .await;
    }

    for round in 0..10 {
        let id = format!("visit-{round}");
        let created = servers[0]
            .proposals()
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
                proposal_id: id.clone(),
                ..Default::default()
            })
            .await
            .expect("invite")
            .into_inner()
            .proposal
            .expect("proposal");
        let etag = created.etag.clone();
        // Accept, decline and withdraw at once, each from another server.
        let answers = [0, 1, 2].map(|i| {
            let mut client = servers[i].proposals();
            let (id, etag) = (id.clone(), etag.clone());
            tokio::spawn(async move {
                let reply = match i {
                    0 => client
                        .accept_proposal(pb::AcceptProposalRequest {
                            id,
                            etag,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().proposal),
                    1 => client
                        .decline_proposal(pb::DeclineProposalRequest {
                            id,
                            etag,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().proposal),
                    _ => client
                        .withdraw_proposal(pb::WithdrawProposalRequest {
                            id,
                            etag,
                            ..Default::default()
                        })
                        .await
                        .map(|r| r.into_inner().proposal),
                };
                reply.map(|p| p.expect("proposal").status)
            })
        });
        let mut winners = Vec::new();
        for t in answers {
            match t.await.expect("task") {
                Ok(status) => winners.push(status),
                Err(e) => assert!(
                    matches!(e.code(), Code::Aborted | Code::FailedPrecondition),
                    "{e:?}"
                ),
            }
        }
        assert_eq!(winners.len(), 1, "round {round}: one transition wins");
        for server in &servers {
            let now = server
                .proposals()
                .get_proposal(pb::GetProposalRequest { id: id.clone() })
                .await
                .expect("get")
                .into_inner()
                .proposal
                .expect("proposal");
            assert_eq!(now.status, winners[0], "every server has the winner");
            let history = server
                .proposals()
                .list_proposal_history(pb::ListProposalHistoryRequest {
                    proposal_id: id.clone(),
                    ..Default::default()
                })
                .await
                .expect("history")
                .into_inner()
                .transitions;
            assert_eq!(
                history.len(),
                2,
                "created, then the one winner: {history:?}"
            );
        }
    }
}

/// Writes from all three servers at once: every server's audit log and change log hold
/// revisions 1..=N without a gap, in the same order, and a watcher on one server receives
/// the writes committed on the others, in revision order.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn revisions_are_gap_free_and_the_same_on_every_server() {
    let Some(servers) = three().await else { return };
    let mut watch = servers[2]
        .changes()
        .watch_changes(pb::WatchChangesRequest {
            from_now: true,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    article_directory(&mut servers[0].directory()).await;
    let mut tasks = Vec::new();
    for i in 0..60 {
        let mut client = connect(&servers[i % 3]).await;
        tasks.push(tokio::spawn(async move {
            let start = format!("2025-06-{:02}T09:00", 1 + i / 3);
            let end = format!("2025-06-{:02}T10:00", 1 + i / 3);
            client
                .create_event(pb::CreateEventRequest {
                    event: Some(Box::new(event(
                        BilateralMeeting,
                        &format!("w{i}"),
                        ["kremlin", "kazan-expo", "ashgabat-palace"][i % 3],
                        &[["putin", "xi", "pezeshkian"][i % 3]],
                        timed(&start, &end),
                    ))),
                    ..Default::default()
                })
                .await
                .expect("create")
        }));
    }
    for t in tasks {
        t.await.expect("task");
    }
    let mut logs = Vec::new();
    for server in &servers {
        let mut audit = AuditServiceClient::new(server.channel.clone());
        let mut records = Vec::new();
        let mut token = String::new();
        loop {
            let page = audit
                .list_audit_records(pb::ListAuditRecordsRequest {
                    page_size: 100,
                    page_token: token.clone(),
                })
                .await
                .expect("audit")
                .into_inner();
            records.extend(page.records);
            if page.next_page_token.is_empty() {
                break;
            }
            token = page.next_page_token;
        }
        let sequences: Vec<i64> = records.iter().map(|r| r.sequence).collect();
        let n = sequences.len() as i64;
        assert!(n >= 60 + 8, "every write is audited: {n}");
        let mut sorted = sequences.clone();
        sorted.sort();
        assert_eq!(sorted, (1..=n).collect::<Vec<_>>(), "gap-free");
        logs.push(
            records
                .iter()
                .map(|r| (r.sequence, r.method.clone(), r.resource.clone()))
                .collect::<BTreeSet<_>>(),
        );
        let changes = server
            .changes()
            .list_changes(pb::ListChangesRequest {
                page_size: 1000,
                ..Default::default()
            })
            .await
            .expect("changes")
            .into_inner();
        let revisions: Vec<i64> = changes.batches.iter().map(|b| b.revision).collect();
        assert_eq!(revisions, (1..=n).collect::<Vec<_>>());
    }
    assert!(logs.windows(2).all(|w| w[0] == w[1]), "one history");
    let last = logs[0].len() as i64;
    let mut seen = Vec::new();
    while seen.last() != Some(&last) {
        let message = tokio::time::timeout(std::time::Duration::from_secs(30), watch.message())
            .await
            .expect("the watcher hears every server's writes")
            .expect("stream")
            .expect("message");
        if let Some(pb::watch_changes_response::Message::Batch(b)) = message.message {
            seen.push(b.revision);
        }
    }
    assert_eq!(
        seen,
        (1..=last).collect::<Vec<_>>(),
        "in order, none missing"
    );
}

/// The database's exclusion constraint is a safety net under the Rust check: a booking
/// the check lets through but that overlaps a confirmed range the database holds is
/// refused whole (ABORTED), no server keeps any of it, and the next booking goes on.
/// (The overlapping range is put in by hand: entente itself never lets one through.)
#[tokio::test]
async fn the_database_refuses_a_double_booking_the_check_missed() {
    let Some((servers, url)) =
        entente_tests::servers_sharing_a_database(2, Default::default()).await
    else {
        return;
    };
    article_directory(&mut servers[0].directory()).await;
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    // A confirmed booking entente stores holds a range per participant and one for the
    // venue.
    create(
        &mut servers[0].events(),
        "signing",
        event(
            pb::EventKind::SigningCeremony,
            "signing",
            "kremlin",
            &["putin", "xi"],
            timed("2025-07-01T10:00", "2025-07-01T11:00"),
        ),
    )
    .await;
    let ranges: i64 = db
        .query_one(
            "SELECT count(*) FROM entente_busy WHERE event_id = 'signing'",
            &[],
        )
        .await
        .expect("count")
        .get(0);
    assert_eq!(ranges, 3, "putin, xi and the Kremlin");
    // A range entente does not know of: Putin, 2 July 10:00–12:00 Moscow time.
    db.batch_execute(&format!(
        "INSERT INTO entente_busy (event_id, holder, family, during) VALUES \
         ('ghost', {}, 0, tstzrange('2025-07-02 07:00+00', '2025-07-02 09:00+00', '[)'))",
        entente_server::storage::postgres::key64(b"p", "putin")
    ))
    .await
    .expect("insert a range by hand");
    let refused = servers[1]
        .events()
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(event(
                BilateralMeeting,
                "talks",
                "kazan-expo",
                &["putin"],
                timed("2025-07-02T11:00", "2025-07-02T12:00"),
            ))),
            event_id: "talks".into(),
            ..Default::default()
        })
        .await
        .expect_err("the constraint refuses it");
    assert_eq!(refused.code(), Code::Aborted, "{refused:?}");
    assert!(
        refused.message().contains("two confirmed events at once"),
        "{}",
        refused.message()
    );
    for server in &servers {
        let gone = get_event(&mut server.events(), "talks")
            .await
            .expect_err("nothing of it is kept");
        assert_eq!(gone.code(), Code::NotFound);
    }
    // The server that was refused goes on: the next booking commits and is seen.
    create(
        &mut servers[1].events(),
        "later-talks",
        event(
            BilateralMeeting,
            "talks",
            "kazan-expo",
            &["putin"],
            timed("2025-07-02T13:00", "2025-07-02T14:00"),
        ),
    )
    .await;
    assert_eq!(listed(&servers[0], "putin", "").await.len(), 2);
}

/// A fresh database of its own on the test cluster, or `None` without PostgreSQL (and
/// said so).
async fn database(name: &str) -> Option<String> {
    let cluster = entente_tests::postgres::cluster_or_say("this cross-server test is skipped")?;
    Some(
        cluster
            .database(&format!("{name}_{}", std::process::id()))
            .await,
    )
}

/// The cost of an operation in round trips to the database, counted by the client once
/// its statements are prepared: a conflict check is one (the catch-up that proves the
/// memory fresh), a booking two (the lease, which takes the commit lock and reads the log
/// since, and the commit), a refused booking two (the lease, and the rollback).
#[tokio::test]
async fn a_check_costs_one_round_trip_and_a_booking_two() {
    let Some(url) = database("round_trips").await else {
        return;
    };
    let settings = entente_server::Settings {
        // Nothing in the background: every round trip counted is the operation's. Without
        // the sole-writer lease, as with another server writing beside this one (a_server_
        // writing_alone_answers_from_memory_until_another_writes counts the holder's).
        follow_others: None,
        expiry_sweep: None,
        solo_lease: None,
        ..Default::default()
    };
    let (scheduler, server) = serve_on(&url, settings).await;
    article_directory(&mut server.directory()).await;
    let check = |day: u32| pb::CheckConflictsRequest {
        event: Some(Box::new(confirmed(event(
            BilateralMeeting,
            "probe",
            "kremlin",
            &["putin"],
            timed(
                &format!("2025-08-{day:02}T10:00"),
                &format!("2025-08-{day:02}T11:00"),
            ),
        )))),
        ..Default::default()
    };
    let book = |day: u32| pb::CreateEventRequest {
        event: Some(Box::new(confirmed(event(
            BilateralMeeting,
            "talks",
            "kremlin",
            &["putin"],
            timed(
                &format!("2025-08-{day:02}T10:00"),
                &format!("2025-08-{day:02}T11:00"),
            ),
        )))),
        ..Default::default()
    };
    let mut conflicts = server.conflicts();
    let mut events = server.events();
    let operations = || scheduler.database_round_trips().expect("shared").0;
    for day in 1..=20 {
        let before = operations();
        conflicts.check_conflicts(check(day)).await.expect("check");
        assert_eq!(operations() - before, 1, "a conflict check");
        let before = operations();
        events.create_event(book(day)).await.expect("book");
        assert_eq!(operations() - before, 2, "a booking");
        let before = operations();
        let refused = events.create_event(book(day)).await.expect_err("taken");
        assert_eq!(refused.code(), Code::FailedPrecondition);
        assert_eq!(operations() - before, 2, "a refused booking");
    }
}

/// Three servers starting at once on an empty database: the schema is applied once and
/// all three serve. `entente-server migrate` on a current database changes nothing; a
/// database migrated by a newer entente is refused with a message that says so.
#[tokio::test]
async fn servers_starting_together_migrate_once_and_a_newer_schema_is_refused() {
    let Some(url) = database("migrations").await else {
        return;
    };
    let start = |url: String| async move {
        TestServer::start_config(entente_server::Config {
            store: Some(url),
            ..Default::default()
        })
        .await
    };
    let (a, b, c) = tokio::join!(start(url.clone()), start(url.clone()), start(url.clone()));
    article_directory(&mut a.directory()).await;
    for s in [&b, &c] {
        assert_eq!(listed(s, "", "kremlin").await.len(), 0, "serving");
    }
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let versions: Vec<i32> = db
        .query(
            "SELECT version FROM entente_migrations ORDER BY version",
            &[],
        )
        .await
        .expect("versions")
        .iter()
        .map(|r| r.get(0))
        .collect();
    let known: Vec<i32> = entente_server::storage::postgres::MIGRATIONS
        .iter()
        .map(|m| m.0)
        .collect();
    assert_eq!(versions, known, "each step once");

    // The database named in the configuration file this time.
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(config.path(), format!("[storage]\npostgres = \"{url}\"\n"))
        .expect("write config");
    let migrate = tokio::process::Command::new(entente_tests::server_binary())
        .arg("migrate")
        .arg("--config")
        .arg(config.path())
        .env_remove("ENTENTE_STORE")
        .output()
        .await
        .expect("run entente-server migrate");
    assert!(migrate.status.success(), "{migrate:?}");
    let said = String::from_utf8_lossy(&migrate.stdout);
    assert!(said.contains("already at version"), "{said}");

    db.batch_execute(
        "INSERT INTO entente_migrations (version, description) VALUES (9999, 'from the future')",
    )
    .await
    .expect("pretend a newer entente migrated");
    let refused = entente_server::Scheduler::open_postgres(&url, Default::default())
        .await
        .expect_err("a newer schema");
    assert!(
        refused
            .to_string()
            .contains("schema version 9999, newer than this server knows"),
        "{refused}"
    );
    let migrate = tokio::process::Command::new(entente_tests::server_binary())
        .args(["migrate", "--store", &url])
        .output()
        .await
        .expect("run entente-server migrate");
    assert!(!migrate.status.success());
    assert!(
        String::from_utf8_lossy(&migrate.stderr).contains("newer than this server knows"),
        "{migrate:?}"
    );
}

/// A server killed (SIGKILL, the real binary) while 8 clients write through it loses
/// nothing it acknowledged, and each client that got no answer retries on another server
/// with the same request_id: every request creates its event exactly once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_write_loses_nothing_and_retries_elsewhere_apply_once() {
    use std::sync::{Arc, Mutex};
    const WRITERS: usize = 8;
    let Some(url) = database("killed").await else {
        return;
    };
    let survivor = TestServer::start_config(entente_server::Config {
        store: Some(url.clone()),
        ..Default::default()
    })
    .await;
    article_directory(&mut survivor.directory()).await;
    let (mut victim, channel) = spawn_server(&url, &[]).await;

    // Each request books its own half hour, so none conflicts with another.
    let request = |w: usize, n: usize| {
        let slot = (w * 1000 + n) as i64;
        let at = |s: i64| {
            chrono::DateTime::from_timestamp(1_798_761_600 + s * 1800, 0)
                .expect("time")
                .with_timezone(&chrono_tz::Europe::Moscow)
                .format("%Y-%m-%dT%H:%M")
                .to_string()
        };
        pb::CreateEventRequest {
            event: Some(Box::new(confirmed(event(
                BilateralMeeting,
                &format!("w{w} n{n}"),
                "kremlin",
                &["putin"],
                timed(&at(slot), &at(slot + 1)),
            )))),
            request_id: format!("req-{w}-{n}"),
            ..Default::default()
        }
    };
    let acked: Arc<Mutex<Vec<(String, String)>>> = Arc::default();
    let enough = Arc::new(tokio::sync::Notify::new());
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let mut client = EventServiceClient::new(channel.clone());
        let (acked, enough) = (acked.clone(), enough.clone());
        writers.push(tokio::spawn(async move {
            let mut sent = 0;
            loop {
                let reply = client.create_event(request(w, sent)).await;
                sent += 1;
                match reply {
                    Ok(r) => {
                        let id = r.into_inner().event.expect("event").id;
                        let mut a = acked.lock().expect("acked");
                        a.push((format!("req-{w}-{}", sent - 1), id));
                        if a.len() >= 100 {
                            enough.notify_one();
                        }
                    }
                    // The server is gone: this request may or may not have committed.
                    Err(_) => return sent,
                }
            }
        }));
    }
    // Killed once 100 writes were acknowledged, with all 8 writers mid-flight.
    enough.notified().await;
    victim.start_kill().expect("SIGKILL");
    let _ = victim.wait().await;
    let mut sent = Vec::new();
    for t in writers {
        sent.push(t.await.expect("writer"));
    }
    let acked = acked.lock().expect("acked").clone();
    assert!(acked.len() >= 100);

    // Every request again, on the survivor: the acknowledged ones answer as they did,
    // the one each writer had in flight answers once whether or not it had committed.
    let mut events = survivor.events();
    let mut ids = BTreeSet::new();
    for (w, &count) in sent.iter().enumerate() {
        for n in 0..count {
            let again = events
                .create_event(request(w, n))
                .await
                .unwrap_or_else(|e| panic!("retry req-{w}-{n}: {e:?}"))
                .into_inner()
                .event
                .expect("event");
            if let Some((_, id)) = acked.iter().find(|(r, _)| *r == format!("req-{w}-{n}")) {
                assert_eq!(&again.id, id, "req-{w}-{n} answers as it did");
            }
            ids.insert(again.id);
        }
    }
    let total: usize = sent.iter().sum();
    assert_eq!(ids.len(), total, "one event per request");
    let stored = listed(&survivor, "putin", "").await;
    assert_eq!(stored.len(), total, "and no more on the survivor");
    for (_, id) in &acked {
        assert!(
            stored.iter().any(|e| &e.id == id),
            "acknowledged {id} is kept"
        );
    }
}

/// The real server binary on the store at `url` (with `args` besides), and a channel to
/// it once it serves. Killed when dropped.
async fn spawn_server(url: &str, args: &[&str]) -> (tokio::process::Child, Channel) {
    let (server, addr, _) = entente_tests::spawn_server(["--store", url].iter().chain(args)).await;
    let channel = Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
        .expect("connect");
    (server, channel)
}

/// A server that sees no other server write takes the sole-writer lease and answers
/// conflict checks from memory, without a round trip. A write on another server ends the
/// lease before it commits, and the first server reads that write at once. Both ways the
/// holder learns it is wanted: the notification it listens to, and (not listening) the
/// flag it reads when it renews. Without the lease's rule, the holder would answer the
/// read from a memory that lacks the write (the reads below would fail).
#[tokio::test]
async fn a_server_writing_alone_answers_from_memory_until_another_writes() {
    for listening in [true, false] {
        let Some(url) = database(&format!("solo_{listening}")).await else {
            return;
        };
        let follow_others = listening.then(|| std::time::Duration::from_secs(1));
        let ((a, on_a), (_, on_b)) = holder_and_other(&url, follow_others).await;
        let slot = |round: u32, who: &str| {
            let hour = match who {
                "a" => 10,
                "b" => 14,
                _ => 16,
            };
            timed(
                &format!("2025-09-{:02}T{hour}:00", round + 1),
                &format!("2025-09-{:02}T{hour}:30", round + 1),
            )
        };
        // Whether a conflict check on A of `participant` at `when` names `id`.
        let check_on_a = |participant: &'static str, when, id: &str| {
            let mut conflicts = on_a.conflicts();
            let id = id.to_string();
            async move {
                let check = conflicts
                    .check_conflicts(pb::CheckConflictsRequest {
                        event: Some(Box::new(event(
                            BilateralMeeting,
                            "probe",
                            "kazan-expo",
                            &[participant],
                            when,
                        ))),
                        ..Default::default()
                    })
                    .await
                    .expect("check")
                    .into_inner();
                check.conflicts.iter().any(|c| c.other_event_id == id)
            }
        };
        for round in 0..4 {
            // A writes, then is left alone.
            let mine = format!("a-{listening}-{round}");
            create(
                &mut on_a.events(),
                &mine,
                event(
                    BilateralMeeting,
                    "talks",
                    "kremlin",
                    &["putin"],
                    slot(round, "a"),
                ),
            )
            .await;
            until_holding(&a).await;
            let before = a.database_round_trips().expect("shared").0;
            assert!(
                check_on_a("putin", slot(round, "a"), &mine).await,
                "the holder's check sees {mine}"
            );
            assert_eq!(
                a.database_round_trips().expect("shared").0 - before,
                0,
                "a check on the lease's holder asks the database nothing"
            );
            let before = a.database_round_trips().expect("shared").0;
            create(
                &mut on_a.events(),
                &format!("{mine}-signing"),
                event(
                    BilateralMeeting,
                    "signing",
                    "kremlin",
                    &["putin"],
                    slot(round, "c"),
                ),
            )
            .await;
            assert_eq!(
                a.database_round_trips().expect("shared").0 - before,
                1,
                "a booking by the lease's holder is its commit alone"
            );

            // B writes: A lets the lease go first, and reads B's write at once.
            let theirs = format!("b-{listening}-{round}");
            create(
                &mut on_b.events(),
                &theirs,
                event(
                    BilateralMeeting,
                    "talks",
                    "kremlin",
                    &["xi"],
                    slot(round, "b"),
                ),
            )
            .await;
            let got = get_event(&mut on_a.events(), &theirs)
                .await
                .unwrap_or_else(|e| panic!("{theirs} not on the lease's last holder: {e:?}"));
            assert_eq!(got.id, theirs);
            assert!(
                check_on_a("xi", slot(round, "b"), &theirs).await,
                "the check on the last holder sees {theirs}"
            );
        }
    }
}

/// The lease's holder commits a group while the next forms. Another server writing in
/// the middle of a booking load on the holder makes it let the lease go: the groups it
/// had in flight or forming still commit (none is refused for a lease it gave up), and
/// both servers end up listing every acknowledged write, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_holders_groups_in_flight_commit_when_another_server_writes() {
    let Some((_, on_a, on_b)) = holding("solo_in_flight").await else {
        return;
    };
    let mut tasks = Vec::new();
    for w in 0..8u32 {
        let client = connect(&on_a).await;
        let place = ("kremlin", "putin");
        let daily = daily_talks(client, format!("a-{w}"), 25, 8 + w, place, None);
        tasks.push(tokio::spawn(daily));
    }
    let client = connect(&on_b).await;
    let pause = Some(std::time::Duration::from_millis(5));
    let daily = daily_talks(client, "b".into(), 10, 10, ("kazan-expo", "xi"), pause);
    tasks.push(tokio::spawn(daily));
    let mut written = BTreeSet::new();
    for t in tasks {
        written.extend(t.await.expect("every write is acknowledged"));
    }
    assert_eq!(written.len(), 210);
    for (name, server) in [("A", &on_a), ("B", &on_b)] {
        let mut listed: Vec<String> = listed(server, "putin", "")
            .await
            .into_iter()
            .chain(listed(server, "xi", "").await)
            .map(|e| e.id)
            .filter(|id| id.starts_with("a-") || id.starts_with("b-"))
            .collect();
        let count = listed.len();
        listed.sort();
        listed.dedup();
        assert_eq!(count, listed.len(), "{name} lists an event twice");
        assert_eq!(
            listed.into_iter().collect::<BTreeSet<_>>(),
            written,
            "{name} lists every acknowledged write"
        );
    }
}

/// Books `days` talks at `place` through `client`, one a day from 1 October 2025 at
/// `hour`:00–`hour`:30 (UTC), named `{prefix}-{n}`, pausing `pause` after each; their ids.
async fn daily_talks(
    mut client: EventServiceClient<Channel>,
    prefix: String,
    days: u32,
    hour: u32,
    place: (&'static str, &'static str),
    pause: Option<std::time::Duration>,
) -> Vec<String> {
    let mut ids = Vec::new();
    for n in 0..days {
        let id = format!("{prefix}-{n}");
        let when = timed(
            &format!("2025-10-{:02}T{hour:02}:00", 1 + n),
            &format!("2025-10-{:02}T{hour:02}:30", 1 + n),
        );
        talks(&mut client, &id, place, when).await;
        ids.push(id);
        if let Some(pause) = pause {
            tokio::time::sleep(pause).await;
        }
    }
    ids
}

/// Creates `id`: talks at `venue` with `who` alone, at `when`.
async fn talks(
    client: &mut EventServiceClient<Channel>,
    id: &str,
    (venue, who): (&str, &str),
    when: Option<pb::EventTiming>,
) {
    create(
        client,
        id,
        event(BilateralMeeting, "talks", venue, &[who], when),
    )
    .await;
}

/// A server that gave the lease up (another server wrote) takes it again once the other
/// has been quiet for a period, even while its own writers keep it busy (a group is
/// being formed nearly all the time, and the lease is taken between groups).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_busy_server_takes_the_lease_again_once_the_other_is_quiet() {
    let Some((a, on_a, on_b)) = holding("solo_retaken").await else {
        return;
    };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut load = Vec::new();
    for w in 0..6u32 {
        let (mut client, stop) = (connect(&on_a).await, stop.clone());
        load.push(tokio::spawn(async move {
            let mut n = 0u32;
            while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                let (day, minute) = (1 + n / 48, n % 48);
                let when = timed(
                    &format!(
                        "2026-{:02}-{:02}T{:02}:{:02}",
                        1 + w,
                        day,
                        8 + minute / 4,
                        (minute % 4) * 15
                    ),
                    &format!(
                        "2026-{:02}-{:02}T{:02}:{:02}",
                        1 + w,
                        day,
                        8 + minute / 4,
                        (minute % 4) * 15 + 10
                    ),
                );
                let id = format!("load-{w}-{n}");
                talks(&mut client, &id, ("kremlin", "putin"), when).await;
                n += 1;
            }
        }));
    }
    // B writes once: A lets the lease go.
    talks(
        &mut on_b.events(),
        "b-once",
        ("kazan-expo", "xi"),
        timed("2025-11-03T10:00", "2025-11-03T10:30"),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let mut retaken = false;
    while std::time::Instant::now() < deadline {
        if a.answers_from_memory() {
            retaken = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for t in load {
        t.await.expect("every write under load is acknowledged");
    }
    assert!(retaken, "A took the lease again within 10 s while busy");
}

/// Two servers on the database at `url`, each with its scheduler, following the other's
/// commits every `follow_others` (or only when asked): A takes the sole-writer lease
/// once quiet for 300 ms; B never takes it, so A is the one that does. The article's
/// directory is in place.
async fn holder_and_other(
    url: &str,
    follow_others: Option<std::time::Duration>,
) -> (
    (entente_server::Scheduler, TestServer),
    (entente_server::Scheduler, TestServer),
) {
    let settings = entente_server::Settings {
        follow_others,
        expiry_sweep: None,
        solo_lease: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    };
    let (a, on_a) = serve_on(url, settings.clone()).await;
    let other = entente_server::Settings {
        solo_lease: None,
        ..settings
    };
    let (b, on_b) = serve_on(url, other).await;
    article_directory(&mut on_a.directory()).await;
    ((a, on_a), (b, on_b))
}

/// [`holder_and_other`] on a database of its own named `name`, with the default follow
/// interval, once A holds the lease: A's scheduler, A and B.
async fn holding(name: &str) -> Option<(entente_server::Scheduler, TestServer, TestServer)> {
    let url = database(name).await?;
    let default_follow = entente_server::Settings::default().follow_others;
    let ((a, on_a), (_, on_b)) = holder_and_other(&url, default_follow).await;
    until_holding(&a).await;
    Some((a, on_a, on_b))
}

/// Waits (up to 20 s) until `scheduler` holds the sole-writer lease.
async fn until_holding(scheduler: &entente_server::Scheduler) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !scheduler.answers_from_memory() {
        assert!(
            std::time::Instant::now() < deadline,
            "the server never took the sole-writer lease"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

/// A sweep with nothing to do writes nothing, so it leaves another server's sole-writer
/// lease alone (issue 32, item 16: every 30 s sweep took the commit lock and ended it).
#[tokio::test]
async fn a_sweep_with_nothing_to_do_leaves_the_lease_alone() {
    let Some(url) = database("idle_sweep").await else {
        return;
    };
    let default_follow = entente_server::Settings::default().follow_others;
    let ((a, _on_a), (b, _on_b)) = holder_and_other(&url, default_follow).await;
    until_holding(&a).await;
    let swept = b
        .sweep(&entente_server::Principal::system())
        .await
        .expect("sweep");
    assert_eq!((swept.expired, swept.forgotten, swept.compacted), (0, 0, 0));
    assert!(
        a.answers_from_memory(),
        "the holder was asked to let the lease go by a sweep that had nothing to do"
    );
}

/// The server holding the sole-writer lease of the database at `url`, as the head row
/// records it.
async fn solo_holder(url: &str) -> Option<String> {
    let (db, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    db.query_one("SELECT solo_holder FROM entente_head", &[])
        .await
        .expect("head")
        .get(0)
}

/// A lease holder that stops serving lets the lease go, so the next write on another
/// server does not wait out its period.
#[tokio::test]
async fn a_server_that_stops_lets_the_sole_writer_lease_go() {
    let Some(url) = database("step_down").await else {
        return;
    };
    let settings = entente_server::Settings {
        solo_lease: Some(std::time::Duration::from_millis(300)),
        ..Default::default()
    };
    let (scheduler, server) = serve_on(&url, settings).await;
    article_directory(&mut server.directory()).await;
    until_holding(&scheduler).await;
    server.stop().await;
    assert!(!scheduler.answers_from_memory());
    assert_eq!(
        solo_holder(&url).await,
        None,
        "the lease is free once the server stopped"
    );
}

/// A holder of the sole-writer lease that stops answering (here the real binary, frozen
/// with SIGSTOP) cannot be asked to let it go: a write on another server waits out the
/// lease and commits. Thawed, the frozen server does not answer from its stale memory:
/// the read sees the write made while it was frozen.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frozen_lease_holder_is_outlived_and_does_not_answer_from_stale_memory() {
    let Some(url) = database("frozen").await else {
        return;
    };
    let dir = tempfile::tempdir().expect("temp dir");
    let config = dir.path().join("entente.toml");
    std::fs::write(&config, "[storage]\nsolo_lease_ms = 400\n").expect("config");
    let config = config.to_str().expect("utf-8 path");
    let (holder, channel) = spawn_server(&url, &["--config", config]).await;
    let mut on_holder = EventServiceClient::new(channel.clone());
    article_directory(
        &mut entente_proto::v1::directory_service_client::DirectoryServiceClient::new(
            channel.clone(),
        ),
    )
    .await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let taken = loop {
        if let Some(h) = solo_holder(&url).await {
            break h;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the server never took the sole-writer lease"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    };
    // A read on the holder now, so its connection is warm when it thaws.
    assert!(listed_by(&mut on_holder, "xi", "").await.is_empty());

    let pid = holder.id().expect("pid").to_string();
    let signal = |sig: &str| {
        let status = std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .expect("kill");
        assert!(status.success(), "kill {sig}");
    };
    signal("-STOP");
    let other = TestServer::start_config(entente_server::Config {
        store: Some(url.clone()),
        ..Default::default()
    })
    .await;
    let written = create(
        &mut other.events(),
        "while-frozen",
        event(
            BilateralMeeting,
            "talks",
            "kremlin",
            &["xi"],
            timed("2025-10-01T10:00", "2025-10-01T11:00"),
        ),
    )
    .await;
    assert_ne!(
        solo_holder(&url).await,
        Some(taken),
        "the frozen holder's lease was ended"
    );
    signal("-CONT");
    let seen = listed_by(&mut on_holder, "xi", "").await;
    assert_eq!(
        seen.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        [written.id.as_str()],
        "the thawed server reads the write made while it was frozen"
    );
    drop(holder);
}

/// One server's sweep compacts the change log in the database: a watcher or a list on
/// another server is told REVISION_COMPACTED as on the server that swept, and the
/// retained changes are there on both.
#[tokio::test]
async fn a_change_log_compacted_by_one_server_is_compacted_on_the_others() {
    let Some(url) = database("compacted").await else {
        return;
    };
    let clock = entente_server::ManualClock::new(1_760_000_000_000_000);
    let settings = entente_server::Settings {
        clock: clock.clock(),
        expiry_sweep: None,
        change_retention: std::time::Duration::from_secs(3600),
        ..Default::default()
    };
    let sweeper = entente_server::Scheduler::open_postgres(&url, settings.clone())
        .await
        .expect("open");
    let other = entente_server::Scheduler::open_postgres(&url, settings)
        .await
        .expect("open");
    let a = TestServer::serving(sweeper.clone()).await;
    let b = TestServer::serving(other).await;
    article_directory(&mut a.directory()).await;
    let first = sweeper.revision() as i64;
    clock.advance(2 * 3600 * 1_000_000);
    create(
        &mut a.events(),
        "late",
        event(
            BilateralMeeting,
            "late",
            "kremlin",
            &["putin"],
            timed("2025-09-01T10:00", "2025-09-01T11:00"),
        ),
    )
    .await;
    let swept = sweeper
        .sweep(&entente_server::Principal::system())
        .await
        .expect("sweep");
    assert_eq!(swept.compacted as i64, first);
    for server in [&a, &b] {
        // A resume point inside what was compacted (0 would mean "from the oldest kept").
        let err = server
            .changes()
            .list_changes(pb::ListChangesRequest {
                after_revision: 1,
                ..Default::default()
            })
            .await
            .expect_err("compacted");
        assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
        let info = err.get_details_error_info().expect("ErrorInfo");
        assert_eq!(info.reason, "REVISION_COMPACTED");
        assert_eq!(info.metadata["oldest_revision"], (first + 1).to_string());
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
    }
}

/// A group's commit in the database (`entente_commit`, one call): it lands whole (log
/// entry, records, busy ranges, head, notification) only when the head is where the
/// committer read it and, for a commit without a lease, the committer still holds the
/// sole-writer lease; otherwise, and when a range overlaps a confirmed one, nothing of it
/// is kept. The lease's holder commits in one statement; a lease commits inside its
/// transaction.
#[tokio::test]
async fn a_commit_lands_whole_only_where_its_writer_read_the_head() {
    use entente_server::error::Error;
    use entente_server::storage::postgres::{Busy, BusyChanges, Postgres};
    let Some(url) = database("commit_call").await else {
        return;
    };
    let store = Postgres::new(&url, 4).expect("pool");
    store.migrate().await.expect("migrate");
    let (db, connection) = tokio_postgres::connect(&url, tokio_postgres::NoTls)
        .await
        .expect("connect");
    tokio::spawn(connection);
    let woken = std::sync::Arc::new(tokio::sync::Notify::new());
    tokio::spawn({
        let (store, woken) = (store.clone(), woken.clone());
        async move {
            let _ = store
                .listen(woken, "listener".into(), Default::default())
                .await;
        }
    });
    // The listener is heard from once its LISTEN has run.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while db
        .query_one(
            "SELECT count(*) FROM pg_stat_activity WHERE query LIKE 'LISTEN entente_log%'",
            &[],
        )
        .await
        .expect("activity")
        .get::<_, i64>(0)
        == 0
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the listener never listened"
        );
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // What the tables hold: head, log entries, records, busy ranges.
    let state = || async {
        let row = db
            .query_one(
                "SELECT (SELECT seq FROM entente_head), (SELECT count(*) FROM entente_log), \
                 (SELECT count(*) FROM entente_kv), (SELECT count(*) FROM entente_busy)",
                &[],
            )
            .await
            .expect("state");
        (
            row.get::<_, i64>(0),
            row.get::<_, i64>(1),
            row.get::<_, i64>(2),
            row.get::<_, i64>(3),
        )
    };
    let ops = |key: &str| vec![(key.as_bytes().to_vec(), Some(b"value".to_vec()))];
    let busy = |event: &str, holder: &str, hours: (i64, i64)| BusyChanges {
        events: vec![event.into()],
        ranges: vec![Busy {
            event_id: event.into(),
            axis: b'p',
            holder: holder.into(),
            family: event.into(),
            start: 1_760_000_000 + hours.0 * 3600,
            end: 1_760_000_000 + hours.1 * 3600,
        }],
    };
    let refused_as_lost = |r: Result<u64, Error>| match r {
        Err(Error::Database(why)) => assert!(
            why.contains("cannot commit as the only writer")
                && why.contains("the sole-writer lease was lost"),
            "{why}"
        ),
        other => panic!("expected the guard's refusal, got {other:?}"),
    };

    // No server holds the lease: a commit without one is refused.
    refused_as_lost(
        store
            .commit_solo("a", 0, &[&ops("k1")], &busy("e1", "putin", (0, 1)))
            .await,
    );
    assert_eq!(state().await, (0, 0, 0, 0), "nothing kept");

    let lease = store.lease(0).await.expect("lease");
    lease
        .take_solo("a", std::time::Duration::from_secs(60))
        .await
        .expect("take the lease");
    let notified = woken.notified();
    assert_eq!(
        store
            .commit_solo(
                "a",
                0,
                &[&ops("k1"), &ops("k2")],
                &busy("e1", "putin", (0, 1))
            )
            .await
            .expect("the holder commits"),
        2,
        "two batches: entries 1 and 2"
    );
    tokio::time::timeout(std::time::Duration::from_secs(10), notified)
        .await
        .expect("the other servers are told");
    assert_eq!(state().await, (2, 2, 2, 1));

    // The head moved since 0: refused. Another server's name: refused.
    refused_as_lost(
        store
            .commit_solo("a", 0, &[&ops("k3")], &busy("e3", "xi", (0, 1)))
            .await,
    );
    refused_as_lost(
        store
            .commit_solo("b", 2, &[&ops("k3")], &busy("e3", "xi", (0, 1)))
            .await,
    );
    // Putin's hour again, another event: the exclusion constraint refuses it whole.
    assert!(matches!(
        store
            .commit_solo("a", 2, &[&ops("k3")], &busy("e3", "putin", (0, 2)))
            .await,
        Err(Error::DoubleBooking)
    ));
    assert_eq!(state().await, (2, 2, 2, 1), "nothing of the three kept");

    // Moving e1 replaces its range; a delete in the same commit removes a record.
    let moved = vec![
        (b"k1".to_vec(), None),
        (b"k4".to_vec(), Some(b"value".to_vec())),
    ];
    assert_eq!(
        store
            .commit_solo("a", 2, &[&moved], &busy("e1", "putin", (5, 6)))
            .await
            .expect("commit"),
        3
    );
    assert_eq!(state().await, (3, 3, 2, 1));
    let start: i64 = db
        .query_one(
            "SELECT extract(epoch FROM lower(during))::int8 FROM entente_busy \
             WHERE event_id = 'e1'",
            &[],
        )
        .await
        .expect("range")
        .get(0);
    assert_eq!(start, 1_760_000_000 + 5 * 3600, "the range moved");

    // Under a lease (a server without the sole-writer one), inside its transaction.
    let lease = store.lease(3).await.expect("lease");
    assert_eq!(lease.head, 3);
    assert_eq!(
        lease
            .commit(&[&ops("k5")], &busy("e5", "xi", (0, 1)))
            .await
            .expect("commit under the lease"),
        4
    );
    let lease = store.lease(4).await.expect("lease");
    assert!(matches!(
        lease.commit(&[&ops("k6")], &busy("e6", "xi", (0, 1))).await,
        Err(Error::DoubleBooking)
    ));
    assert_eq!(state().await, (4, 4, 3, 2));
}

/// Issue 32, item 12: a write made on A and retried (same request_id) on B was answered
/// on B from its idempotency record, but B's change feed did not get that revision until
/// the next commit anywhere: a watcher on B waited, unboundedly when nothing else was
/// written, against read-your-writes. B now makes what it applied durable and dispatches
/// it before answering.
#[tokio::test]
async fn a_retry_answered_on_another_server_reaches_its_watchers() {
    // B learns of A's write only from the retry: it does not follow the others.
    let config = entente_server::Config {
        settings: entente_server::Settings {
            feed_progress: std::time::Duration::from_millis(50),
            follow_others: None,
            ..Default::default()
        },
        ..Default::default()
    };
    let Some((servers, _)) = entente_tests::servers_sharing_a_database(2, config).await else {
        return;
    };
    let (a, b) = (&servers[0], &servers[1]);
    article_directory(&mut a.directory()).await;
    // B is up to date and idle.
    let mut watch = b
        .changes()
        .watch_changes(pb::WatchChangesRequest {
            from_now: true,
            ..Default::default()
        })
        .await
        .expect("watch on B")
        .into_inner();
    let request = pb::CreateEventRequest {
        event: Some(Box::new(event(
            BilateralMeeting,
            "Talks",
            "kazan-expo",
            &["putin"],
            timed("2024-10-23T10:00", "2024-10-23T11:00"),
        ))),
        event_id: "talks".into(),
        request_id: "retry-me".into(),
        ..Default::default()
    };
    let first = a
        .events()
        .create_event(request.clone())
        .await
        .expect("on A")
        .into_inner();
    let again = b
        .events()
        .create_event(request)
        .await
        .expect("the retry, on B")
        .into_inner();
    assert_eq!(again.event, first.event);
    // Within a few progress ticks, with nothing else written anywhere.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(3);
    loop {
        let m = tokio::time::timeout_at(deadline, watch.message())
            .await
            .expect("B's watcher gets the retried write within 3 s")
            .expect("ok")
            .expect("open");
        if let Some(pb::watch_changes_response::Message::Batch(batch)) = m.message
            && batch.changes.iter().any(|c| c.id == "talks")
        {
            break;
        }
    }
}
