//! Issue 31: no client can starve the others. Each bound a request or a connection is held
//! to, proved through the real interface: sockets that say nothing are closed, idle
//! sockets never lock a new client out, and heavy requests are refused cheaply or stopped.

use std::time::{Duration, Instant};

use entente_proto::v1 as pb;
use entente_server::{Config, Limits};
use entente_tests::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

/// A server with these transport limits on a fresh store.
async fn with_limits(limits: Limits) -> (TestServer, tempfile::TempDir) {
    let temp = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_config(Config {
        data_dir: temp.path().to_path_buf(),
        limits,
        ..Config::default()
    })
    .await;
    (server, temp)
}

/// Reads until the server closes `sock` (EOF or reset), at most `within`; returns how long
/// that took, or `None` if the socket was still open.
async fn closed_within(sock: &mut TcpStream, within: Duration) -> Option<Duration> {
    let started = Instant::now();
    let mut buf = [0u8; 4096];
    loop {
        match tokio::time::timeout_at((started + within).into(), sock.read(&mut buf)).await {
            Err(_) => return None,
            Ok(Ok(0) | Err(_)) => return Some(started.elapsed()),
            Ok(Ok(_)) => continue,
        }
    }
}

/// A fresh channel (its own connection) that must connect within two seconds.
async fn new_client(server: &TestServer) -> Channel {
    let endpoint = Endpoint::from_shared(format!("http://{}", server.addr)).expect("endpoint");
    tokio::time::timeout(Duration::from_secs(2), endpoint.connect())
        .await
        .expect("a new client connects within 2 s")
        .expect("connects")
}

/// One cheap call that must be answered within two seconds.
async fn answered(ch: Channel) {
    let mut dir = pb::directory_service_client::DirectoryServiceClient::new(ch);
    tokio::time::timeout(
        Duration::from_secs(2),
        dir.list_countries(pb::ListCountriesRequest::default()),
    )
    .await
    .expect("answered within 2 s")
    .expect("a list of countries");
}

#[tokio::test]
async fn a_socket_that_never_starts_a_call_is_closed() {
    let (server, _dir) = with_limits(Limits {
        first_request_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let opened = Instant::now();
    // Silent from the start.
    let mut silent = TcpStream::connect(server.addr).await.expect("connect");
    // Silent after the HTTP/2 preface.
    let mut preface = TcpStream::connect(server.addr).await.expect("connect");
    preface
        .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
        .await
        .expect("preface");
    for sock in [&mut silent, &mut preface] {
        closed_within(sock, Duration::from_secs(5))
            .await
            .expect("closed within 5 s");
        let took = opened.elapsed();
        assert!(
            took >= Duration::from_millis(900),
            "closed too early: {took:?}"
        );
    }
}

#[tokio::test]
async fn http1_headers_sent_a_byte_at_a_time_are_cut_off() {
    let (server, _dir) = with_limits(Limits {
        first_request_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut sock = TcpStream::connect(server.addr).await.expect("connect");
    let started = Instant::now();
    let request = b"GET /ics/feed/0123456789abcdef HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    let mut cut = false;
    for b in request.iter().cycle().take(200) {
        if sock.write_all(&[*b]).await.is_err() {
            cut = true;
            break;
        }
        if closed_within(&mut sock, Duration::from_millis(100))
            .await
            .is_some()
        {
            cut = true;
            break;
        }
    }
    assert!(cut, "a slowloris client was still connected");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[tokio::test]
async fn a_connection_without_calls_for_the_idle_timeout_is_closed() {
    let (server, _dir) = with_limits(Limits {
        idle_timeout: Duration::from_secs(1),
        ..Limits::default()
    })
    .await;
    let mut sock = TcpStream::connect(server.addr).await.expect("connect");
    sock.write_all(b"GET /ics/feed/nothing-here HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .expect("request");
    let mut buf = [0u8; 1024];
    let n = sock.read(&mut buf).await.expect("an answer");
    assert!(
        String::from_utf8_lossy(&buf[..n]).starts_with("HTTP/1.1 404"),
        "{}",
        String::from_utf8_lossy(&buf[..n])
    );
    // Keep-alive: the connection stays open after the answer, until the idle timeout.
    let took = closed_within(&mut sock, Duration::from_secs(5))
        .await
        .expect("closed within 5 s of its last call");
    assert!(
        took >= Duration::from_millis(900),
        "closed too early: {took:?}"
    );
}

#[tokio::test]
async fn idle_sockets_never_lock_a_new_client_out_and_streams_stay() {
    let (server, _dir) = with_limits(Limits {
        max_connections: 8,
        ..Limits::default()
    })
    .await;
    // A change feed stream: a call in flight for as long as it lasts.
    let watcher = new_client(&server).await;
    let mut stream = pb::change_service_client::ChangeServiceClient::new(watcher)
        .watch_changes(pb::WatchChangesRequest {
            from_now: true,
            ..Default::default()
        })
        .await
        .expect("watch")
        .into_inner();
    // Every other slot, and more, taken by sockets that say nothing.
    let mut idle = Vec::new();
    for _ in 0..20 {
        idle.push(TcpStream::connect(server.addr).await.expect("connect"));
    }
    for _ in 0..3 {
        answered(new_client(&server).await).await;
    }
    // The stream was not the one closed: it hears of a write made now.
    let mut dir =
        pb::directory_service_client::DirectoryServiceClient::new(new_client(&server).await);
    dir.create_country(pb::CreateCountryRequest {
        country: Some(pb::Country {
            code: "TM".into(),
            display_name: "Turkmenistan".into(),
            ..Default::default()
        }),
        ..Default::default()
    })
    .await
    .expect("country");
    let heard = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match stream.message().await {
                Ok(Some(pb::WatchChangesResponse {
                    message: Some(pb::watch_changes_response::Message::Batch(_)),
                })) => return true,
                Ok(Some(_)) => continue,
                _ => return false,
            }
        }
    })
    .await
    .expect("the stream keeps talking");
    assert!(heard, "the watch stream was closed to make room");
}

/// The invalid fields of a refusal.
fn invalid_fields(status: &tonic::Status) -> Vec<String> {
    assert_eq!(status.code(), tonic::Code::InvalidArgument, "{status:?}");
    entente_tests::fixtures::bad_fields(status)
}

#[tokio::test]
async fn free_busy_refuses_repeated_and_too_many_ids_and_endless_windows() {
    let server = TestServer::start().await;
    let mut dir = server.directory();
    entente_tests::fixtures::participant(&mut dir, "putin", "Putin", "RU", "Europe/Moscow").await;
    let mut conflicts =
        pb::conflict_service_client::ConflictServiceClient::new(server.channel.clone());
    let window = |start: &str, end: &str| {
        Some(pb::TimeWindow {
            start: start.into(),
            end: end.into(),
            time_zone: String::new(),
        })
    };
    // The attack: one id many times over centuries.
    let repeated = conflicts
        .query_free_busy(pb::QueryFreeBusyRequest {
            participant_ids: vec!["putin".into(); 50],
            window: window("2024-10-01", "2024-11-01"),
            ..Default::default()
        })
        .await
        .expect_err("a repeated id");
    assert_eq!(invalid_fields(&repeated), ["participant_ids[1]"]);
    assert!(
        repeated.message().contains("repeats participant_ids[0]"),
        "{}",
        repeated.message()
    );
    let many = conflicts
        .query_free_busy(pb::QueryFreeBusyRequest {
            participant_ids: (0..60).map(|i| format!("p{i}")).collect(),
            venue_ids: (0..41).map(|i| format!("v{i}")).collect(),
            window: window("2024-10-01", "2024-11-01"),
            ..Default::default()
        })
        .await
        .expect_err("101 ids");
    assert!(many.message().contains("at most 100"), "{}", many.message());
    // The attack: one id 838,851 times is refused as it arrives, on the same
    // field, before it is decoded into as many strings.
    let flood = conflicts
        .query_free_busy(pb::QueryFreeBusyRequest {
            participant_ids: vec!["b".into(); 838_851],
            window: window("1900-01-01", "2200-01-01"),
            ..Default::default()
        })
        .await
        .expect_err("838,851 ids");
    assert_eq!(invalid_fields(&flood), ["participant_ids"]);
    assert!(
        flood.message().contains("larger than 256 KiB")
            && flood.message().contains("at most 100 participants"),
        "{}",
        flood.message()
    );
    let mut slots = pb::calendar_service_client::CalendarServiceClient::new(server.channel.clone());
    let search = slots
        .find_slots(pb::FindSlotsRequest {
            participants: (0..30_000)
                .map(|i| pb::SlotParticipant {
                    participant_id: format!("p{i}"),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        })
        .await
        .expect_err("30,000 participants");
    assert_eq!(invalid_fields(&search), ["participants"]);
    let long = conflicts
        .query_free_busy(pb::QueryFreeBusyRequest {
            participant_ids: vec!["putin".into()],
            window: window("1900-01-01", "2200-01-01"),
            ..Default::default()
        })
        .await
        .expect_err("three centuries");
    assert_eq!(invalid_fields(&long), ["window"]);
    // The largest query accepted is answered.
    conflicts
        .query_free_busy(pb::QueryFreeBusyRequest {
            participant_ids: vec!["putin".into()],
            window: window("2024-01-01", "2025-02-04"),
            ..Default::default()
        })
        .await
        .expect("400 days, one id");
}

/// An iCalendar file of `n` VEVENTs, each on the sidelines of the next (RELATED-TO a UID
/// further down the file, so a writer must read to the end before it can place the
/// first), a day apart.
fn chain(n: usize) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bounds//EN\r\n");
    let start = chrono::NaiveDate::from_ymd_opt(2030, 1, 1).expect("date");
    for i in 0..n {
        let day = start + chrono::Days::new(i as u64);
        let d = day.format("%Y%m%d");
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:l{i}\r\nDTSTART:{d}T090000Z\r\nDTEND:{d}T100000Z\r\nSUMMARY:{i}\r\n"
        ));
        if i + 1 < n {
            ics.push_str(&format!("RELATED-TO:l{}\r\n", i + 1));
        }
        ics.push_str("END:VEVENT\r\n");
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_chain_of_8000_vevents_is_read_in_linear_time() {
    let server = TestServer::start().await;
    let mut dir = server.directory();
    entente_tests::fixtures::article_directory(&mut dir).await;
    let ics = chain(8000);
    assert!(ics.len() < 1 << 20, "within ImportCalendar's 1 MiB");
    let started = Instant::now();
    let r = server
        .ics()
        .import_calendar(pb::ImportCalendarRequest {
            ics,
            dry_run: true,
            default_venue_id: "kremlin".into(),
            ..Default::default()
        })
        .await
        .expect("a dry run")
        .into_inner();
    let took = started.elapsed();
    assert_eq!(r.results.len(), 8000);
    assert!(
        r.results
            .iter()
            .all(|x| x.outcome == pb::ImportOutcome::Created as i32),
        "{:?}",
        r.results
            .iter()
            .find(|x| x.outcome != pb::ImportOutcome::Created as i32)
    );
    assert!(took < Duration::from_secs(1), "{took:?}");
}

/// An unbounded feed of Putin's events.
async fn putins_feed(server: &TestServer) -> pb::CalendarFeed {
    server
        .ics()
        .create_calendar_feed(pb::CreateCalendarFeedRequest {
            feed: Some(pb::CalendarFeed {
                scope: Some(pb::CalendarScope {
                    participant_id: "putin".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .expect("feed")
        .into_inner()
        .feed
        .expect("feed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_asked_for_at_once_is_rendered_once_per_revision() {
    let scheduler =
        entente_server::Scheduler::temporary(entente_server::Settings::default()).expect("store");
    let server = TestServer::serving(scheduler.clone()).await;
    let mut dir = server.directory();
    entente_tests::fixtures::article_directory(&mut dir).await;
    let mut events = server.events();
    use entente_tests::fixtures::{create, event, timed};
    let talks = |title: &str, day: u32| {
        event(
            pb::EventKind::BilateralMeeting,
            title,
            "kazan-expo",
            &["putin", "pezeshkian"],
            timed(
                &format!("2024-10-{day}T10:00"),
                &format!("2024-10-{day}T11:00"),
            ),
        )
    };
    create(&mut events, "talks-22", talks("Talks on the 22nd", 22)).await;
    let feed = putins_feed(&server).await;
    let before = scheduler.feed_cache().renders();
    let gets = (0..20).map(|_| {
        let server = &server;
        let path = feed.path.clone();
        async move { server.http_get(&path, &[]).await }
    });
    let answers = futures_util::future::join_all(gets).await;
    for (status, _, body) in &answers {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(body, &answers[0].2);
        assert!(body.contains("SUMMARY:Talks on the 22nd"), "{body}");
    }
    assert_eq!(
        scheduler.feed_cache().renders() - before,
        1,
        "20 GETs, one render"
    );
    // A write is a new revision: the next GET renders it.
    create(&mut events, "talks-23", talks("Talks on the 23rd", 23)).await;
    let (status, _, body) = server.http_get(&feed.path, &[]).await;
    assert_eq!(status, 200);
    assert!(body.contains("SUMMARY:Talks on the 23rd"), "{body}");
    assert_eq!(scheduler.feed_cache().renders() - before, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_reads_nothing_of_a_large_feed_is_cut_off() {
    let temp = tempfile::tempdir().expect("temp dir");
    let server = TestServer::start_config(Config {
        data_dir: temp.path().to_path_buf(),
        limits: Limits {
            stall_timeout: Duration::from_secs(1),
            ..Limits::default()
        },
        ..Config::default()
    })
    .await;
    let mut dir = server.directory();
    entente_tests::fixtures::article_directory(&mut dir).await;
    use entente_tests::fixtures::{create, event, timed};
    // 700 events of 10,000-character minutes: a feed of about 7 MB, more than the
    // server's socket buffer (at most 4 MiB here) and the client's together.
    let mut events = server.events();
    for i in 0..700u32 {
        let (day, hour) = (1 + i / 24, i % 24);
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            "Talks",
            "kremlin",
            &["putin"],
            timed(
                &format!("2025-{:02}-{:02}T{hour:02}:00", 1 + day / 28, 1 + day % 28),
                &format!("2025-{:02}-{:02}T{hour:02}:30", 1 + day / 28, 1 + day % 28),
            ),
        );
        e.description = "Minutes. ".repeat(1111);
        create(&mut events, &format!("talks-{i}"), e).await;
    }
    let feed = putins_feed(&server).await;
    let socket = tokio::net::TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("small buffer");
    let mut sock = socket.connect(server.addr).await.expect("connect");
    sock.write_all(format!("GET {} HTTP/1.1\r\nHost: x\r\n\r\n", feed.path).as_bytes())
        .await
        .expect("request");
    // Reads nothing for 5 s (the server's writes stall after about 4 MiB) ...
    tokio::time::sleep(Duration::from_secs(5)).await;
    // ... then everything there is: the server closed the connection part-way.
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(10), sock.read_to_end(&mut raw)).await;
    assert!(read.is_ok(), "the connection was still open");
    let text = String::from_utf8_lossy(&raw[..raw.len().min(4096)]).to_string();
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    // The whole feed, read by a client that reads.
    let (status, _, body) = server.http_get(&feed.path, &[]).await;
    assert_eq!(status, 200);
    let length = body.len();
    assert!(length > 6_000_000, "{length}");
    assert!(
        raw.len() < length,
        "all {} bytes came: the stall was not cut",
        raw.len()
    );
}

#[tokio::test]
async fn one_connection_uploading_is_read_at_its_rate_and_others_are_not() {
    let (server, _temp) = with_limits(Limits {
        read_bytes_per_sec: 512 << 10,
        ..Limits::default()
    })
    .await;
    // 2 MiB in one request: a second's worth (512 KiB) is read at once, the rest at
    // 512 KiB a second, so its refusal cannot come before ~3 s.
    let flood = {
        let mut dir = server.directory();
        tokio::spawn(async move {
            let started = Instant::now();
            let r = dir
                .create_venue(pb::CreateVenueRequest {
                    venue: Some(pb::Venue {
                        display_name: "x".repeat(2 << 20),
                        ..Default::default()
                    }),
                    ..Default::default()
                })
                .await;
            (started.elapsed(), r)
        })
    };
    // Meanwhile a new client is answered at once: the limit is the flooding
    // connection's, not the server's.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let started = Instant::now();
    answered(new_client(&server).await).await;
    let other = started.elapsed();
    let (took, r) = flood.await.expect("the flood's task");
    assert_eq!(
        r.expect_err("a 2 MiB name").code(),
        tonic::Code::InvalidArgument
    );
    assert!(took >= Duration::from_secs(2), "2 MiB read in {took:?}");
    assert!(
        other < took,
        "the other client took {other:?}, the flood {took:?}"
    );
}
