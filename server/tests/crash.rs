//! Crash safety: the real `entente-server` binary, concurrent writers, SIGKILL at random
//! moments, restart on the same folder. Every write the client saw acknowledged must be
//! there, intact, and no two confirmed events may overlap on a participant or venue.
//!
//! Quick by default (20 rounds); `ENTENTE_CRASH_ROUNDS=200 cargo test -p entente-server
//! --test crash -- --nocapture` runs longer. A second server started on a folder in use
//! must say so in one plain line and leave the first alone.

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
}

/// Starts the binary on an ephemeral port with `workers` request threads and waits for
/// the line that says where it serves. Rounds alternate between two workers (writes race
/// on two cores) and one (the single-threaded runtime the benchmark uses).
async fn start(dir: &std::path::Path, workers: &str) -> Server {
    let mut child = Command::new(env!("CARGO_BIN_EXE_entente-server"))
        .args([
            "--listen",
            "127.0.0.1:0",
            "--workers",
            workers,
            "--data-dir",
        ])
        .arg(dir)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn entente-server");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read log")
            .expect("the server exited before serving");
        if let Some(rest) = line.split("entente is serving addr=").nth(1) {
            break rest.trim().to_string();
        }
    };
    // Keep draining the log so the server never blocks on a full pipe.
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    Server { child, addr }
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
        for w in writers {
            w.await.expect("writer");
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
