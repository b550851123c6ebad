//! Crash safety: the real `entente-server` binary, concurrent writers, SIGKILL at random
//! moments, restart on the same folder. Every write the client saw acknowledged must be
//! there, intact, and no two confirmed events may overlap on a participant or venue.
//!
//! Quick by default (20 rounds); `ENTENTE_CRASH_ROUNDS=200 cargo test -p entente-server
//! --test crash -- --nocapture` runs longer. A second server started on a folder in use
//! must say so in one plain line and leave the first alone.
//!
//! Why one file of ~1,000 lines: the crash rounds share the harness that starts, kills and
//! restarts the binary and the checker that reads every acknowledged write back.

use std::collections::BTreeMap;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use entente_proto::v1 as pb;
use entente_proto::v1::directory_service_client::DirectoryServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tonic::transport::Channel;

const PEOPLE: usize = 6;
const HALLS: usize = 3;

struct Server {
    child: Child,
    addr: String,
    /// What it logged before it served.
    log: Vec<String>,
}

/// Starts the binary on an ephemeral port with `workers` request threads and waits for
/// the line that says where it serves. Rounds alternate between two workers (writes race
/// on two cores) and one (the single-threaded runtime the benchmark uses).
async fn start(dir: &std::path::Path, workers: &str) -> Server {
    start_with(dir, workers, &[], &[]).await
}

/// [`start`] with more arguments and environment variables.
async fn start_with(
    dir: &std::path::Path,
    workers: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Server {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_entente-server"));
    cmd.args(["--workers", workers, "--data-dir"])
        .arg(dir)
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true);
    if !args.contains(&"--listen") {
        cmd.args(["--listen", "127.0.0.1:0"]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().expect("spawn entente-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let mut log = Vec::new();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read log")
            .expect("the server exited before serving");
        if let Some(rest) = line.split("entente is serving addr=").nth(1) {
            break rest.trim().to_string();
        }
        log.push(line);
    };
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, addr, log }
}

async fn channel(addr: &str) -> Channel {
    tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect_timeout(Duration::from_secs(5))
        .connect()
        .await
        .expect("connect")
}

struct Rng(u64);
impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// What the clients were told: event id -> the event as acknowledged.
type Acked = Arc<Mutex<BTreeMap<String, pb::Event>>>;

fn candidate(rng: &mut Rng, round: usize) -> pb::Event {
    // Each round books into fresh days (half-hour slots over ~2 days), so writes keep
    // being accepted round after round rather than only refused as the calendar fills.
    let slot = round as i64 * 100 + rng.below(100) as i64;
    let len = 1 + rng.below(4) as i64;
    let at = |s: i64| {
        let t = 1_767_225_600 + s * 1800; // 2026-01-01
        chrono_fmt(t)
    };
    let a = rng.below(PEOPLE as u64);
    let b = (a + 1 + rng.below(PEOPLE as u64 - 1)) % PEOPLE as u64;
    pb::Event {
        kind: pb::EventKind::BilateralMeeting as i32,
        title: format!("Talks {slot}"),
        venue_id: format!("h{}", rng.below(HALLS as u64)),
        participant_ids: vec![format!("p{a}"), format!("p{b}")],
        status: pb::EventStatus::Confirmed as i32,
        timing: Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: at(slot),
                end: at(slot + len),
                time_zone: "Europe/Moscow".into(),
            })),
        }),
        ..Default::default()
    }
}

fn chrono_fmt(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

async fn writer(ch: Channel, seed: u64, round: usize, acked: Acked) {
    let mut client = EventServiceClient::new(ch);
    let mut rng = Rng(seed);
    for n in 0.. {
        let id = format!("r{round}-w{seed}-{n}");
        let req = pb::CreateEventRequest {
            event: Some(Box::new(candidate(&mut rng, round))),
            event_id: id.clone(),
            ..Default::default()
        };
        match client.create_event(req).await {
            Ok(r) => {
                let e = r.into_inner().event.expect("event");
                acked.lock().expect("lock").insert(id, *e);
            }
            Err(s) if s.code() == tonic::Code::FailedPrecondition => {}
            Err(_) => return, // the server is gone
        }
    }
}

async fn verify(ch: Channel, acked: &Acked) {
    let mut events = EventServiceClient::new(ch);
    let acked = acked.lock().expect("lock").clone();
    for (id, before) in &acked {
        let after = events
            .get_event(pb::GetEventRequest {
                id: id.clone(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("acknowledged event {id} lost: {e:?}"))
            .into_inner()
            .event
            .expect("event");
        assert_eq!(&*after, before, "acknowledged event {id} changed");
    }
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let page = events
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        all.extend(page.events);
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let ts = |z: &Option<pb::ZonedTime>| {
        z.as_ref()
            .and_then(|z| z.utc_time)
            .map(|t| t.seconds)
            .unwrap_or(0)
    };
    for (i, a) in all.iter().enumerate() {
        for b in &all[i + 1..] {
            let overlap = ts(&a.start) < ts(&b.end) && ts(&b.start) < ts(&a.end);
            let shared = a.venue_id == b.venue_id
                || a.participant_ids
                    .iter()
                    .any(|p| b.participant_ids.contains(p));
            assert!(
                !(overlap && shared),
                "{} and {} overlap after recovery",
                a.id,
                b.id
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_never_loses_an_acknowledged_write() {
    let rounds: usize = std::env::var("ENTENTE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(20);
    let dir = tempfile::tempdir().expect("temp");
    let acked: Acked = Arc::default();
    let mut rng = Rng(0x5eed_cafe);

    let mut server = start(dir.path(), "2").await;
    let mut d = DirectoryServiceClient::new(channel(&server.addr).await);
    for p in 0..PEOPLE {
        d.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: format!("Leader {p}"),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            participant_id: format!("p{p}"),
            ..Default::default()
        })
        .await
        .expect("participant");
    }
    for h in 0..HALLS {
        d.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("Hall {h}"),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            venue_id: format!("h{h}"),
            ..Default::default()
        })
        .await
        .expect("venue");
    }
    let mut total_acked = 0;
    for round in 0..rounds {
        let ch = channel(&server.addr).await;
        let writers: Vec<_> = (0..8u64)
            .map(|w| {
                tokio::spawn(writer(
                    ch.clone(),
                    1 + w + 100 * round as u64,
                    round,
                    acked.clone(),
                ))
            })
            .collect();
        // Let them write for a random while, then kill the server mid-flight.
        tokio::time::sleep(Duration::from_millis(20 + rng.below(180))).await;
        server.child.start_kill().expect("SIGKILL");
        let status = server.child.wait().await.expect("wait");
        assert!(!status.success(), "the server was killed, not stopped");
        // Every writer's call fails once its server is gone. Once in a CI run a writer
        // never came back (no socket left, no child, every task parked: a wake-up lost in
        // the client, not a write); it is abandoned after 30 s rather than hanging the run.
        // What it had acknowledged is in `acked` and verified like the rest.
        for w in writers {
            let abort = w.abort_handle();
            match tokio::time::timeout(Duration::from_secs(30), w).await {
                Ok(joined) => joined.expect("writer"),
                Err(_) => {
                    eprintln!("round {round}: a writer hung after the kill; abandoned");
                    abort.abort();
                }
            }
        }
        server = start(dir.path(), if round % 2 == 0 { "1" } else { "2" }).await;
        verify(channel(&server.addr).await, &acked).await;
        let now = acked.lock().expect("lock").len();
        println!(
            "round {round}: {} acknowledged writes so far, all present",
            now
        );
        total_acked = now;
    }
    assert!(
        total_acked > rounds,
        "the writers got writes through: {total_acked}"
    );
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_server_on_the_same_folder_is_refused_plainly() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start(dir.path(), "1").await;
    let second = Command::new(env!("CARGO_BIN_EXE_entente-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run a second entente-server");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    let said = stderr
        .lines()
        .find(|l| l.starts_with("entente-server: "))
        .unwrap_or_else(|| panic!("no error line in {stderr:?}"));
    assert_eq!(
        said,
        format!(
            "entente-server: cannot open the store in {}: another process holds its lock \
             (another entente-server?); stop that one, or give this one a --data-dir of its own",
            dir.path().display()
        )
    );
    // The first server is untouched and still answers.
    let mut directory = DirectoryServiceClient::new(channel(&first.addr).await);
    directory
        .list_participants(pb::ListParticipantsRequest::default())
        .await
        .expect("the first server still serves");
}

/// Registers the harness's directory: `PEOPLE` leaders and `HALLS` halls.
async fn directory(addr: &str) {
    let mut d = DirectoryServiceClient::new(channel(addr).await);
    for p in 0..PEOPLE {
        d.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: format!("Leader {p}"),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            participant_id: format!("p{p}"),
            ..Default::default()
        })
        .await
        .expect("participant");
    }
    for h in 0..HALLS {
        d.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("Hall {h}"),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            venue_id: format!("h{h}"),
            ..Default::default()
        })
        .await
        .expect("venue");
    }
}

/// A server killed while sled wrote a snapshot of its page table (as a graceful stop does)
/// leaves `snap.<lsn>.generating` torn; sled 0.34 reads that file first on opening and
/// refused the whole store as corrupt. The server removes it and starts, with every record.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_torn_by_a_kill_does_not_stop_the_server_starting() {
    let dir = tempfile::tempdir().expect("temp");
    let mut server = start(dir.path(), "1").await;
    directory(&server.addr).await;
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
    let torn = dir.path().join("snap.FFFFFFFFFFFFFFFF.generating");
    std::fs::write(&torn, [0xab; 100]).expect("plant a torn snapshot");
    let server = start(dir.path(), "1").await;
    assert!(
        server
            .log
            .iter()
            .any(|l| l.contains("unfinished sled snapshot")),
        "{:?}",
        server.log
    );
    let mut d = DirectoryServiceClient::new(channel(&server.addr).await);
    for p in 0..PEOPLE {
        d.get_participant(pb::GetParticipantRequest {
            id: format!("p{p}"),
        })
        .await
        .expect("every participant is there");
    }
}

/// Every batch is whole or absent: each stored event has every history entry up to its
/// revision and the audit record of its creation, and every creation the audit log
/// records has its event.
async fn verify_batches_whole(ch: Channel) {
    use entente_proto::v1::audit_service_client::AuditServiceClient;
    let mut events = EventServiceClient::new(ch.clone());
    let mut audit = AuditServiceClient::new(ch);
    let mut created = std::collections::BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = audit
            .list_audit_records(pb::ListAuditRecordsRequest {
                page_size: 1000,
                page_token: token,
            })
            .await
            .expect("audit")
            .into_inner();
        for r in page.records {
            if r.method.ends_with("/CreateEvent") {
                created.insert(r.resource.trim_start_matches("events/").to_string());
            }
        }
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    let mut stored = std::collections::BTreeSet::new();
    let mut token = String::new();
    loop {
        let page = events
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: token,
                status: pb::EventStatus::Confirmed as i32,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        for e in page.events {
            let revision: i64 = e.etag[1..].parse().expect("rN");
            let history = events
                .list_event_history(pb::ListEventHistoryRequest {
                    event_id: e.id.clone(),
                    page_size: 1000,
                    ..Default::default()
                })
                .await
                .expect("history")
                .into_inner()
                .revisions;
            let revisions: Vec<i64> = history.iter().map(|r| r.revision).collect();
            assert_eq!(
                revisions,
                (1..=revision).collect::<Vec<_>>(),
                "event {} without its whole history",
                e.id
            );
            assert!(
                created.contains(&e.id),
                "event {} without its audit record",
                e.id
            );
            stored.insert(e.id);
        }
        token = page.next_page_token;
        if token.is_empty() {
            break;
        }
    }
    for id in &created {
        assert!(
            stored.contains(id),
            "audit records creating {id}, which is absent"
        );
    }
}

/// The rotation of the write-ahead log and the checkpoint at shutdown used to hand sled
/// records that were not in the log, then flush: a crash there could leave half a batch.
/// With a 4 KiB log (a rotation every few writes), SIGKILL lands during rotations,
/// and every third round SIGTERM is followed by SIGKILL during the shutdown checkpoint.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_rotation_or_checkpoint_leaves_every_batch_whole_or_absent() {
    let rounds: usize = std::env::var("ENTENTE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(12);
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("entente.toml");
    std::fs::write(&config, "[storage]\nwal_rotate_bytes = 4096\n").expect("config");
    let config = config.to_str().expect("utf-8 path").to_string();
    let data = dir.path().join("data");
    let acked: Acked = Arc::default();
    let mut rng = Rng(0xc0ff_ee00);
    let args = ["--config", config.as_str()];
    let mut server = start_with(&data, "2", &args, &[]).await;
    directory(&server.addr).await;
    for round in 0..rounds {
        let ch = channel(&server.addr).await;
        let writers: Vec<_> = (0..8u64)
            .map(|w| {
                tokio::spawn(writer(
                    ch.clone(),
                    7 + w + 100 * round as u64,
                    round,
                    acked.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50 + rng.below(150))).await;
        if round % 3 == 2 {
            // A graceful stop, killed during its checkpoint and compaction.
            let pid = server.child.id().expect("pid");
            let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
            rustix::process::kill_process(pid, rustix::process::Signal::TERM).expect("SIGTERM");
            tokio::time::sleep(Duration::from_millis(rng.below(40))).await;
        }
        let _ = server.child.start_kill();
        let _ = server.child.wait().await.expect("wait");
        for w in writers {
            w.await.expect("writer");
        }
        server = start_with(&data, if round % 2 == 0 { "1" } else { "2" }, &args, &[]).await;
        let ch = channel(&server.addr).await;
        verify(ch.clone(), &acked).await;
        verify_batches_whole(ch).await;
        println!(
            "round {round}: {} acknowledged writes, every batch whole",
            acked.lock().expect("lock").len()
        );
    }
    let rotated = std::fs::read_dir(data.join("wal"))
        .expect("wal folder")
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_prefix("wal-"))
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u64>().ok())
        })
        .max()
        .expect("a log file");
    assert!(
        rotated > rounds as u64 * 2,
        "the log rotated during the rounds (generation {rotated})"
    );
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
}

/// `--config` naming a file without tokens left access control off while the warning said
/// "no --config". It now says why: the file configures no tokens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_config_without_tokens_says_so() {
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("limits-only.toml");
    std::fs::write(&config, "[limits]\nrequest_timeout_secs = 20\n").expect("config");
    let path = config.to_str().expect("utf-8");
    let mut server = start_with(&dir.path().join("data"), "1", &["--config", path], &[]).await;
    let warning = server
        .log
        .iter()
        .find(|l| l.contains("access control is OFF"))
        .unwrap_or_else(|| panic!("no warning in {:?}", server.log));
    assert!(
        warning.contains(&format!("{path} configures no tokens")),
        "{warning}"
    );
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
}

/// `ENTENTE_ALLOW_ANONYMOUS=1` was refused ("possible values: true, false"); it takes the
/// words clap's other booleans take.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn allow_anonymous_takes_the_usual_boolean_words() {
    for yes in ["1", "true", "yes", "on", "TRUE"] {
        let dir = tempfile::tempdir().expect("temp");
        let mut server = start_with(
            dir.path(),
            "1",
            &["--listen", "0.0.0.0:0"],
            &[("ENTENTE_ALLOW_ANONYMOUS", yes)],
        )
        .await;
        server.child.start_kill().expect("kill");
        let _ = server.child.wait().await;
    }
    let dir = tempfile::tempdir().expect("temp");
    let refused = Command::new(env!("CARGO_BIN_EXE_entente-server"))
        .args(["--listen", "0.0.0.0:0", "--data-dir"])
        .arg(dir.path())
        .env("ENTENTE_ALLOW_ANONYMOUS", "0")
        .output()
        .await
        .expect("run");
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("refusing to serve"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
}

/// The limits, the travel model and the sweep were settable only from Rust; the
/// configuration file reaches them all.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_config_file_sets_limits_and_travel() {
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("entente.toml");
    std::fs::write(
        &config,
        "[limits]\nmax_message_bytes = 4096\n\n[travel]\nspeed_kmh = 3600.0\noverhead_minutes = 0\n\n\
         [scheduler]\nsweep_interval_secs = 0\nrequest_retention_hours = 1\n",
    )
    .expect("config");
    let path = config.to_str().expect("utf-8");
    let mut server = start_with(&dir.path().join("data"), "1", &["--config", path], &[]).await;
    let ch = channel(&server.addr).await;
    let mut d = DirectoryServiceClient::new(ch.clone());
    // A request over 4 KiB: RESOURCE_EXHAUSTED.
    let err = d
        .create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: "x".repeat(5000),
                ..Default::default()
            }),
            participant_id: "big".into(),
            ..Default::default()
        })
        .await
        .expect_err("too large");
    assert_eq!(err.code(), tonic::Code::ResourceExhausted);
    // Travel at 3,600 km/h with no overhead: a kilometre a second.
    d.create_participant(pb::CreateParticipantRequest {
        participant: Some(pb::Participant {
            display_name: "Leader".into(),
            country_code: "RU".into(),
            home_time_zone: "Europe/Moscow".into(),
            ..Default::default()
        }),
        participant_id: "p".into(),
        ..Default::default()
    })
    .await
    .expect("participant");
    for (id, city, lat, lng) in [
        ("kazan", "Kazan", 55.80, 49.11),
        ("moscow", "Moscow", 55.75, 37.62),
    ] {
        d.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: id.into(),
                city: city.into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                location: Some(pb::LatLng {
                    latitude: lat,
                    longitude: lng,
                }),
                ..Default::default()
            }),
            venue_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("venue");
    }
    let mut events = EventServiceClient::new(ch.clone());
    let timed = |start: &str, end: &str| {
        Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: start.into(),
                end: end.into(),
                time_zone: String::new(),
            })),
        })
    };
    events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(pb::Event {
                kind: pb::EventKind::Other as i32,
                title: "In Kazan".into(),
                venue_id: "kazan".into(),
                participant_ids: vec!["p".into()],
                timing: timed("2025-01-10T10:00", "2025-01-10T11:00"),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("event");
    let mut conflicts = entente_proto::v1::conflict_service_client::ConflictServiceClient::new(ch);
    let r = conflicts
        .check_conflicts(pb::CheckConflictsRequest {
            event: Some(Box::new(pb::Event {
                kind: pb::EventKind::Other as i32,
                title: "In Moscow".into(),
                venue_id: "moscow".into(),
                participant_ids: vec!["p".into()],
                timing: timed("2025-01-10T11:05", "2025-01-10T12:00"),
                ..Default::default()
            })),
            ..Default::default()
        })
        .await
        .expect("check")
        .into_inner();
    // ~720 km at a kilometre a second is 12 minutes: five are too few.
    let travel = r
        .conflicts
        .iter()
        .find(|c| c.kind == pb::ConflictKind::Travel as i32)
        .unwrap_or_else(|| panic!("a travel conflict: {r:?}"));
    let required = travel.time_required.as_ref().map_or(0, |d| d.seconds);
    assert!(
        (600..900).contains(&required),
        "{required} s at the configured speed"
    );
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
}

/// A log record whose checksum holds but which does not decode used to end recovery
/// silently, starting without the writes after it. The server refuses to start, naming
/// the file and offset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_record_that_does_not_decode_stops_the_server_from_starting() {
    use std::io::{Seek, Write};
    let dir = tempfile::tempdir().expect("temp");
    let mut server = start(dir.path(), "1").await;
    directory(&server.addr).await;
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
    // Append, after the last record of the newest log file, a frame with a valid
    // checksum around bytes that are not a batch.
    let wal = dir.path().join("wal");
    let newest = std::fs::read_dir(&wal)
        .expect("wal")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .max()
        .expect("a log file");
    let bytes = std::fs::read(&newest).expect("read log");
    let mut at = 0usize;
    while at + 16 <= bytes.len() {
        let len = u32::from_le_bytes(bytes[at..at + 4].try_into().expect("4")) as usize;
        if len == 0 {
            break;
        }
        at += 16 + len;
    }
    let payload = [0xffu8; 12];
    let lsn = u64::MAX - 1;
    let mut crc = crc32fast::Hasher::new();
    crc.update(&lsn.to_le_bytes());
    crc.update(&payload);
    let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&crc.finalize().to_le_bytes());
    frame.extend_from_slice(&lsn.to_le_bytes());
    frame.extend_from_slice(&payload);
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(&newest)
        .expect("open log");
    f.seek(std::io::SeekFrom::Start(at as u64)).expect("seek");
    f.write_all(&frame).expect("write");
    f.sync_all().expect("sync");
    drop(f);
    let out = Command::new(env!("CARGO_BIN_EXE_entente-server"))
        .args(["--listen", "127.0.0.1:0", "--data-dir"])
        .arg(dir.path())
        .env("NO_COLOR", "1")
        .output()
        .await
        .expect("run");
    assert!(!out.status.success(), "it must not start");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let name = newest.file_name().and_then(|n| n.to_str()).expect("name");
    assert!(stderr.contains(name), "{stderr}");
    assert!(stderr.contains(&format!("offset {at}")), "{stderr}");
}

/// Follows the change feed from `after`, recording every batch, until the stream ends (the
/// server was killed) or `stop` is set and the feed has caught up.
/// What a watcher saw: each batch's revision and the ids it changed.
type Seen = Arc<Mutex<Vec<(i64, Vec<String>)>>>;

async fn follow(addr: String, after: i64, seen: Seen) -> i64 {
    use entente_proto::v1::change_service_client::ChangeServiceClient;
    let Ok(ch) = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))
        .expect("endpoint")
        .connect()
        .await
    else {
        return after;
    };
    let Ok(stream) = ChangeServiceClient::new(ch)
        .watch_changes(pb::WatchChangesRequest {
            after_revision: after,
            ..Default::default()
        })
        .await
    else {
        return after;
    };
    let mut stream = stream.into_inner();
    let mut last = after;
    while let Ok(Some(m)) = stream.message().await {
        if let Some(pb::watch_changes_response::Message::Batch(b)) = m.message {
            last = b.revision;
            seen.lock()
                .expect("lock")
                .push((b.revision, b.changes.into_iter().map(|c| c.id).collect()));
        }
    }
    last
}

/// The change feed delivers only what is durable, and resumes across crashes: a watcher
/// follows the feed while the server is SIGKILLed under a write load, resumes from its
/// last revision after each restart, and in the end has seen every revision once, in
/// order, and exactly the events that exist, among them every acknowledged one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_watcher_resumes_across_sigkill_and_sees_every_durable_write_once() {
    let rounds: usize = std::env::var("ENTENTE_CRASH_ROUNDS")
        .ok()
        .and_then(|r| r.parse().ok())
        .unwrap_or(8);
    let dir = tempfile::tempdir().expect("temp");
    let acked: Acked = Arc::default();
    let seen: Seen = Arc::default();
    let mut rng = Rng(0xfeed_5eed);
    let mut server = start(dir.path(), "2").await;
    directory(&server.addr).await;
    let mut last = 0;
    for round in 0..rounds {
        let watcher = tokio::spawn(follow(server.addr.clone(), last, seen.clone()));
        let ch = channel(&server.addr).await;
        let writers: Vec<_> = (0..8u64)
            .map(|w| {
                tokio::spawn(writer(
                    ch.clone(),
                    11 + w + 100 * round as u64,
                    round,
                    acked.clone(),
                ))
            })
            .collect();
        tokio::time::sleep(Duration::from_millis(50 + rng.below(150))).await;
        server.child.start_kill().expect("SIGKILL");
        let _ = server.child.wait().await;
        for w in writers {
            w.await.expect("writer");
        }
        last = watcher.await.expect("watcher");
        server = start(dir.path(), "2").await;
    }
    // After the last restart, catch up with everything.
    let addr = server.addr.clone();
    let catch_up = tokio::spawn(follow(addr, last, seen.clone()));
    let mut events = EventServiceClient::new(channel(&server.addr).await);
    let mut stored = std::collections::BTreeSet::new();
    let mut token = String::new();
    let revision = loop {
        let page = events
            .list_events(pb::ListEventsRequest {
                page_size: 1000,
                page_token: token,
                ..Default::default()
            })
            .await
            .expect("list")
            .into_inner();
        stored.extend(page.events.into_iter().map(|e| e.id));
        token = page.next_page_token;
        if token.is_empty() {
            break page.revision;
        }
    };
    // Wait until the watcher has the last revision, then end it by stopping the server.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().expect("lock").last().map(|s| s.0) < Some(revision) {
        assert!(
            std::time::Instant::now() < deadline,
            "the watcher never caught up"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
    let _ = catch_up.await;
    let seen = seen.lock().expect("lock").clone();
    let revisions: Vec<i64> = seen.iter().map(|s| s.0).collect();
    assert_eq!(
        revisions,
        (1..=revision).collect::<Vec<_>>(),
        "every revision once, in order, across {rounds} crashes"
    );
    let created: std::collections::BTreeSet<String> = seen
        .iter()
        .flat_map(|s| s.1.iter().cloned())
        .filter(|id| id.starts_with('r'))
        .collect();
    let stored: std::collections::BTreeSet<String> = stored
        .into_iter()
        .filter(|id| id.starts_with('r'))
        .collect();
    assert_eq!(
        created, stored,
        "the feed told of exactly the events that exist"
    );
    for id in acked.lock().expect("lock").keys() {
        assert!(
            created.contains(id),
            "acknowledged {id} missing from the feed"
        );
    }
}

/// A token removed from the configuration file and reloaded with SIGHUP stops working at
/// once for new calls, and ends the watch streams that use it (UNAUTHENTICATED).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_token_ends_its_watch() {
    use entente_proto::v1::change_service_client::ChangeServiceClient;
    use entente_server::auth::digest;
    let dir = tempfile::tempdir().expect("temp");
    let config = dir.path().join("entente.toml");
    let tokens = |names: &[&str]| {
        let mut text = String::from("[feed]\nprogress_interval_ms = 50\n\n");
        for n in names {
            text += &format!(
                "[[tokens]]\nname = \"{n}\"\nsha256 = \"{}\"\noffice = \"RU\"\nrole = \"ADMIN\"\n\n",
                digest(&format!("secret-{n}"))
            );
        }
        text
    };
    std::fs::write(&config, tokens(&["keeper", "leaver"])).expect("config");
    let path = config.to_str().expect("utf-8");
    let mut server = start_with(&dir.path().join("data"), "1", &["--config", path], &[]).await;
    let ch = channel(&server.addr).await;
    let with = |token: &str| {
        let value: tonic::metadata::MetadataValue<_> =
            format!("Bearer secret-{token}").parse().expect("ascii");
        ChangeServiceClient::with_interceptor(ch.clone(), move |mut r: tonic::Request<()>| {
            r.metadata_mut().insert("authorization", value.clone());
            Ok(r)
        })
    };
    let mut leaving = with("leaver")
        .watch_changes(pb::WatchChangesRequest::default())
        .await
        .expect("watch")
        .into_inner();
    let mut staying = with("keeper")
        .watch_changes(pb::WatchChangesRequest::default())
        .await
        .expect("watch")
        .into_inner();
    // Both streams work.
    for s in [&mut leaving, &mut staying] {
        s.message().await.expect("message").expect("open");
    }
    std::fs::write(&config, tokens(&["keeper"])).expect("config");
    let pid = server.child.id().expect("pid");
    let pid = rustix::process::Pid::from_raw(pid as i32).expect("pid");
    rustix::process::kill_process(pid, rustix::process::Signal::HUP).expect("SIGHUP");
    let ended = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            match leaving.message().await {
                Ok(Some(_)) => {}
                Ok(None) => panic!("ended without a status"),
                Err(e) => return e,
            }
        }
    })
    .await
    .expect("the revoked token's watch ends");
    assert_eq!(ended.code(), tonic::Code::Unauthenticated, "{ended:?}");
    // The other stream goes on, and the revoked token no longer authenticates at all.
    staying
        .message()
        .await
        .expect("message")
        .expect("still open");
    let err = with("leaver")
        .list_changes(pb::ListChangesRequest::default())
        .await
        .expect_err("revoked");
    assert_eq!(err.code(), tonic::Code::Unauthenticated);
    server.child.start_kill().expect("kill");
    let _ = server.child.wait().await;
}
