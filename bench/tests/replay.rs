//! The load generator against a real server on an ephemeral port, on a small workload
//! from the shared generator (`bench/testdata/`, made with `gen_dataset.py --participants
//! 20 --venues 5 --events 300 --queries 100 --bookings 120`): every workload runs, and
//! every outcome matches the generator's expectations, which the figures in
//! bench/README.md rest on.

use std::path::Path;

use entente_tests::TestServer;

/// `key=value` pairs of the summary line for `workload`.
fn summary(out: &str, workload: &str) -> std::collections::HashMap<String, String> {
    let line = out
        .lines()
        .find(|l| l.contains(&format!(" workload={workload} ")))
        .unwrap_or_else(|| panic!("no {workload} line in:\n{out}"));
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn every_workload_replays_with_the_expected_outcomes() {
    let server = TestServer::start().await;
    let stdout = replay(&server, &[]).await;

    let load = summary(&stdout, "load");
    assert_eq!(load["events"], "300");
    assert_eq!(load["failed"], "0");
    for w in ["conflict_check", "book", "mixed", "health"] {
        let s = summary(&stdout, w);
        assert_eq!(s["failed"], "0", "{w}: {stdout}");
        assert!(s["txns"].parse::<u64>().expect("txns") > 0, "{w}: {stdout}");
    }
    assert_eq!(summary(&stdout, "conflict_check")["query_mismatches"], "0");
    let book = summary(&stdout, "book");
    assert_eq!(
        (
            book["false_accepts"].as_str(),
            book["false_rejects"].as_str()
        ),
        ("0", "0")
    );
    // Some candidates conflict (about 30% in the generator); they must be refused.
    assert!(
        book["conflicts"].parse::<u64>().expect("conflicts") > 0,
        "{stdout}"
    );
}

/// Runs the generator against `server` with `args` after the common ones; its stdout.
async fn replay(server: &TestServer, args: &[&str]) -> String {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("testdata");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_entente-bench"))
        .arg("--server")
        .arg(format!("http://{}", server.addr))
        .arg("--data")
        .arg(&data)
        .args(["--duration", "1", "--clients", "4", "--connections", "2"])
        .args(args)
        .output()
        .await
        .expect("entente-bench runs");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// `bench/compare.sh` runs each workload in a generator of its own (a CHECKPOINT comes
/// between them): mixed, told where book's left off, offers candidates not offered yet.
/// Offered the same ones again, it is refused ALREADY_EXISTS for each booked one.
#[tokio::test(flavor = "multi_thread")]
async fn a_later_run_goes_on_from_the_bookings_already_offered() {
    let server = TestServer::start().await;
    let first = replay(&server, &["--workloads", "load,book"]).await;
    let next = summary(&first, "book")["bookings_next"].clone();
    assert!(next.parse::<u64>().expect("bookings_next") > 0, "{first}");

    let mixed = replay(&server, &["--workloads", "mixed", "--bookings-from", &next]).await;
    let s = summary(&mixed, "mixed");
    assert_eq!(s["failed"], "0", "{mixed}");
    assert!(
        s["bookings_next"].parse::<u64>().expect("bookings_next")
            > next.parse::<u64>().expect("next"),
        "{mixed}"
    );

    let again = replay(&server, &["--workloads", "mixed"]).await;
    assert_ne!(summary(&again, "mixed")["failed"], "0", "{again}");
}
