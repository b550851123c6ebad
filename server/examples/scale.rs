//! Scale check: bulk-loads N events (default 1,000,000) into a fresh sled store through the
//! scheduler's public API, reopens the store, and times the open plus the first conflict
//! query; reports resident memory per event.
//!
//! `cargo run --release -p entente-server --example scale -- [N] [DIR]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use entente_server::Principal;
use entente_server::directory::{FieldMask, ParticipantInput, VenueInput};
use entente_server::events::WriteOptions;
use entente_server::events::{EventInput, EventKind, EventStatus, TimingInput};
use entente_server::{Scheduler, Settings};

// The allocator entente-server runs with, so these figures are the server's.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PARTICIPANTS: u64 = 1000;
const VENUES: u64 = 200;
const SLOT_SECS: i64 = 5400;
const BASE: i64 = 1_735_689_600; // 2025-01-01T00:00:00Z

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        })
        .unwrap_or(0)
}

/// Memory per event is the target's measure at 1M events; in a small run the allocator's
/// and sled's fixed costs (~75 MiB) dominate it.
fn fixed_costs_note(n: u64) -> &'static str {
    if n < 100_000 {
        "; below ~100k events this is mostly fixed costs (allocator arenas, sled's cache), not per-event memory"
    } else {
        ""
    }
}

fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}

/// Event i: meetings of two in 90-minute slots, one per hall per slot, the pairs rotating
/// through the participants; nobody and no hall is busy twice in a slot, so the whole set
/// is conflict-free and every write is accepted.
fn event(i: u64) -> EventInput {
    let (slot, k) = (i / VENUES, i % VENUES);
    let start = BASE + slot as i64 * SLOT_SECS;
    let first = (slot * 2 * VENUES + 2 * k) % PARTICIPANTS;
    EventInput {
        id: format!("e{i}"),
        kind: Some(EventKind::BilateralMeeting),
        title: format!("Bilateral {i}"),
        venue_id: format!("v{}", k + 1),
        participant_ids: vec![format!("p{}", first + 1), format!("p{}", first + 2)],
        status: Some(EventStatus::Confirmed),
        timing: Some(TimingInput::Timed {
            start: iso(start),
            end: iso(start + SLOT_SECS),
            time_zone: "Europe/Moscow".into(),
        }),
        ..Default::default()
    }
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("open") {
        let dir = args
            .get(1)
            .ok_or_else(|| anyhow::anyhow!("usage: scale open DIR N"))?;
        let n = args.get(2).map(|a| a.parse()).transpose()?.unwrap_or(1);
        return open(std::path::Path::new(dir), n);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(run())
}

async fn run() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(1_000_000);
    let temp = tempfile::tempdir()?;
    let dir = args
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| temp.path().join("store"));

    let rss0 = rss_kib();
    let s = Scheduler::open(&dir, Settings::default())?;
    for p in 1..=PARTICIPANTS {
        s.create_participant(
            &Principal::system(),
            ParticipantInput {
                id: format!("p{p}"),
                display_name: format!("Participant {p}"),
                country_code: "CH".into(),
                home_time_zone: "UTC".into(),
                ..Default::default()
            },
        )
        .await?;
    }
    for v in 1..=VENUES {
        s.create_venue(
            &Principal::system(),
            VenueInput {
                id: format!("v{v}"),
                display_name: format!("Hall {v}"),
                city: "Geneva".into(),
                country_code: "CH".into(),
                time_zone: "Europe/Zurich".into(),
                location: None,
                ..Default::default()
            },
        )
        .await?;
    }
    let t0 = Instant::now();
    let next = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::new();
    for _ in 0..256 {
        let (s, next) = (s.clone(), next.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return Ok::<(), entente_server::Error>(());
                }
                s.create_event(&Principal::system(), event(i), WriteOptions::default())
                    .await?;
            }
        }));
    }
    for t in tasks {
        t.await??;
    }
    let load = t0.elapsed().as_secs_f64();
    let rss_loaded = rss_kib();
    println!(
        "scale: loaded {n} events in {load:.1} s ({:.0} events/s, durable acks, conflicts enforced)",
        n as f64 / load
    );
    println!(
        "scale: resident memory after loading {} MiB ({} B/event over the empty store){}",
        rss_loaded / 1024,
        (rss_loaded.saturating_sub(rss0)) * 1024 / n.max(1),
        fixed_costs_note(n)
    );
    // What a graceful shutdown of the server does (entente_server::serve).
    s.flush()?;
    drop(s);
    let t2 = Instant::now();
    entente_server::storage::SledBackend::compact(&dir)?;
    println!(
        "scale: shutdown compaction (sled snapshot) took {:.2} s",
        t2.elapsed().as_secs_f64()
    );
    // Open in a fresh process, so the figures are a cold start's, not this process's heap.
    let status = std::process::Command::new(std::env::current_exe()?)
        .arg("open")
        .arg(&dir)
        .arg(n.to_string())
        .status()?;
    anyhow::ensure!(status.success(), "the open run failed");
    Ok(())
}

fn open(dir: &std::path::Path, n: u64) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let rss0 = rss_kib();
        let t1 = Instant::now();
        let s = Scheduler::open(dir, Settings { expiry_sweep: None, ..Settings::default() })?;
        let opened = t1.elapsed().as_secs_f64();
        let (_, report) = s.check_conflicts(&Principal::system(), &event(n / 2), &FieldMask::all(), &WriteOptions::default())?;
        let first = t1.elapsed().as_secs_f64();
        let rss = rss_kib();
        println!(
            "scale: opened {n} events in {opened:.2} s; first conflict query answered at {first:.2} s ({} conflict(s))",
            report.conflicts.len()
        );
        println!(
            "scale: resident memory after open {} MiB ({} B/event){}",
            rss / 1024,
            rss.saturating_sub(rss0) * 1024 / n.max(1),
            fixed_costs_note(n)
        );
        Ok(())
    })
}
