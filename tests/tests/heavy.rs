//! Issue 31: FindSlots' total work is capped, and a search whose caller goes away stops
//! using the CPU. Alone in its binary (cargo runs test binaries one at a time) because it
//! measures the CPU of the whole process, which other tests running beside it would add
//! to.

use std::time::{Duration, Instant};

use entente_proto::v1 as pb;
use entente_tests::TestServer;

/// Fifty participants, for searches as large as FindSlots accepts.
async fn fifty(server: &TestServer) -> Vec<pb::SlotParticipant> {
    let mut dir = server.directory();
    let mut out = Vec::new();
    for i in 0..50 {
        let id = format!("leader-{i}");
        entente_tests::fixtures::participant(&mut dir, &id, &id, "RU", "Europe/Moscow").await;
        out.push(pb::SlotParticipant {
            participant_id: id,
            ..Default::default()
        });
    }
    out
}

fn search(people: Vec<pb::SlotParticipant>, end: &str) -> pb::FindSlotsRequest {
    pb::FindSlotsRequest {
        participants: people,
        duration: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        window: Some(pb::TimeWindow {
            start: "2024-10-01".into(),
            end: end.into(),
            time_zone: "Europe/Moscow".into(),
        }),
        granularity: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// CPU seconds this process (the test and its in-process server) has used.
#[cfg(target_os = "linux")]
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("stat");
    // Fields after the command name (which may hold spaces) closed by ')'.
    let rest = &stat[stat.rfind(')').expect("comm") + 2..];
    let f: Vec<&str> = rest.split(' ').collect();
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 after the name.
    let ticks: f64 = f[11].parse::<f64>().expect("utime") + f[12].parse::<f64>().expect("stime");
    ticks / 100.0
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_slots_work_is_capped_and_a_cancelled_search_stops() {
    let server = TestServer::start().await;
    let people = fifty(&server).await;
    // Everyone meets once a day, alternately in Ashgabat and Kazan, so each candidate in
    // Moscow has events, journeys and zones to weigh.
    let mut dir = server.directory();
    use entente_tests::fixtures::{article_directory, create, event, timed};
    article_directory(&mut dir).await;
    let ids: Vec<&str> = people.iter().map(|p| p.participant_id.as_str()).collect();
    let mut events = server.events();
    for day in 1..=27 {
        let place = if day % 2 == 0 {
            "kazan-expo"
        } else {
            "ashgabat-congress"
        };
        let start = format!("2024-10-{day:02}T12:00");
        let end = format!("2024-10-{day:02}T13:00");
        let e = event(
            pb::EventKind::Summit,
            "Talks",
            place,
            &ids,
            timed(&start, &end),
        );
        create(&mut events, &format!("talks-{day}"), e).await;
    }
    let mut cal = server.calendars();
    // 62 days by the minute for 50 participants: 89k candidates (under the 200k cap) but
    // 4.5M checks.
    let started = Instant::now();
    let refused = cal
        .find_slots(search(people.clone(), "2024-12-02"))
        .await
        .expect_err("too much work");
    assert_eq!(refused.code(), tonic::Code::InvalidArgument, "{refused:?}");
    assert_eq!(entente_tests::fixtures::bad_fields(&refused), ["window"]);
    assert!(
        refused.message().contains("checks"),
        "{}",
        refused.message()
    );
    assert!(
        started.elapsed() < Duration::from_secs(1),
        "{:?}",
        started.elapsed()
    );
    // Just under the cap (about 2 s of CPU in a debug build): 27 days by the minute for
    // 50 participants, at one venue.
    let mut q = search(people.clone(), "2024-10-28");
    q.venue_ids = vec!["kremlin".into()];
    let mut big = tonic::Request::new(q);
    big.set_timeout(Duration::from_millis(300));
    let err = cal.find_slots(big).await.expect_err("longer than 300 ms");
    assert!(
        matches!(
            err.code(),
            tonic::Code::Cancelled | tonic::Code::DeadlineExceeded
        ),
        "{err:?}"
    );
    // Soon after the deadline the work has stopped: the next second costs this process
    // (client and server) a small fraction of a core, where the search left running would
    // take most of one.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let before = cpu_seconds();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let used = cpu_seconds() - before;
    assert!(
        used < 0.3,
        "{used} CPU-seconds used after the call was cancelled"
    );
    // And the office's turn is free again.
    let mut small = search(people[..2].to_vec(), "2024-10-02");
    small.granularity = None;
    tokio::time::timeout(Duration::from_secs(5), cal.find_slots(small))
        .await
        .expect("answered after the cancelled one")
        .expect("slots");
}
