//! FindSlots in-process, on the shared workload's calendars (issue 21's figures).
//!
//! Builds the state the benchmark loader (`entente-bench`'s `load`) would build from a
//! `gen_dataset.py` folder (participants p1..pN, venues v1..vM in their dataset zone and
//! city, every event confirmed), then times the same seeded searches on each: 5 random
//! participants, a 14-day window starting at a random midnight (UTC) of the dataset's
//! span, one random venue, 15-minute granularity, a 60-minute meeting, default
//! constraints. Prints p50/p99/max per dataset and how many events the searched
//! participants and venue had in the windows.
//!
//! `--tile N` stores each dataset N times over, each copy shifted past the previous one's
//! span: a store N times larger whose calendars are exactly as dense, so the figures show
//! whether a search's cost follows the store's size or the events in its window.
//!
//! `cargo bench -p entente-server --bench slots -- [--tile N] DATASET_DIR...`

use std::io::BufRead;
use std::time::Instant;

use entente_server::Principal;
use entente_server::conflicts::TravelSettings;
use entente_server::directory::{LatLng, Participant, Role, Venue};
use entente_server::events::{Attendance, Event, EventKind, EventStatus, Timing, Visibility};
use entente_server::scheduler::{Meta, State};
use entente_server::slots::{Need, Query};
use entente_server::time::{self, Zoned};

#[derive(serde::Deserialize)]
struct Row {
    id: u64,
    venue_id: u32,
    participant_ids: Vec<u32>,
    start_utc: String,
    end_utc: String,
    zone: String,
}

#[path = "../../bench/src/cities.rs"]
mod cities;
use cities::city_of;

fn instant(s: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(s)
        .map(|d| d.timestamp())
        .unwrap_or_else(|e| panic!("{s}: {e}"))
}

/// The state of a server loaded with `dir`'s events (`tile` times over); the span
/// returned is the first copy's.
fn load(dir: &str, tile: u32) -> (State, u32, Vec<u32>, (i64, i64)) {
    let file = std::fs::File::open(format!("{dir}/events.jsonl")).expect("events.jsonl");
    let rows: Vec<Row> = std::io::BufReader::new(file)
        .lines()
        .map(|line| serde_json::from_str(&line.expect("line")).expect("row"))
        .collect();
    let first = rows
        .iter()
        .map(|r| instant(&r.start_utc))
        .min()
        .unwrap_or(0);
    let last = rows.iter().map(|r| instant(&r.end_utc)).max().unwrap_or(0);
    // Whole weeks, so each copy's weekdays and hours fall as the first's do.
    let shift = ((last - first) / (7 * 86_400) + 1) * 7 * 86_400;
    let mut st = State::default();
    let mut participants = 0;
    let mut venues = std::collections::BTreeMap::new();
    for (copy, r) in (0..i64::from(tile)).flat_map(|c| rows.iter().map(move |r| (c, r))) {
        let zone = time::parse_zone(&r.zone).expect("zone");
        let start = instant(&r.start_utc) + copy * shift;
        let end = instant(&r.end_utc) + copy * shift;
        participants = participants.max(*r.participant_ids.iter().max().unwrap_or(&0));
        venues.entry(r.venue_id).or_insert(zone);
        let at = |t| Zoned::from_instant(t, zone).expect("in range");
        st.events.insert(Event {
            id: format!("e{}-{copy}", r.id).into(),
            kind: EventKind::BilateralMeeting,
            title: format!("Event {}", r.id).into(),
            description: String::new(),
            venue_id: format!("v{}", r.venue_id).into(),
            host_country: "CH".into(),
            forum_id: None,
            attendance: vec![Attendance::Confirmed; r.participant_ids.len()],
            participants: r
                .participant_ids
                .iter()
                .map(|p| format!("p{p}").into())
                .collect(),
            status: EventStatus::Confirmed,
            parent_id: None,
            timing: Timing::Timed,
            start: at(start),
            end: at(end),
            tzdb_version: time::TZDB_VERSION.into(),
            visibility: Visibility::Parties,
            owner_office: Default::default(),
            cancellation_reason: String::new(),
            overrides: Vec::new(),
            meta: Meta::new(0),
        });
    }
    for p in 1..=participants {
        st.participants.insert(
            format!("p{p}").into(),
            Participant {
                id: format!("p{p}"),
                display_name: format!("Participant {p}"),
                role: Role::HeadOfState,
                title: String::new(),
                country_code: "CH".into(),
                home_zone: chrono_tz::UTC,
                meta: Meta::new(0),
            },
        );
    }
    for (v, zone) in &venues {
        let (city, latitude, longitude) = city_of(zone.name());
        st.venues.insert(
            format!("v{v}").into(),
            Venue {
                id: format!("v{v}"),
                display_name: format!("Venue {v}"),
                city: city.into(),
                country_code: "CH".into(),
                zone: *zone,
                location: Some(LatLng {
                    latitude,
                    longitude,
                }),
                meta: Meta::new(0),
            },
        );
    }
    (
        st,
        participants,
        venues.keys().copied().collect(),
        (first, last),
    )
}

struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n
    }
}

fn main() {
    let mut tile = 1u32;
    let mut dirs: Vec<String> = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--tile" => tile = args.next().and_then(|n| n.parse().ok()).expect("--tile N"),
            "--bench" => {}
            _ => dirs.push(a),
        }
    }
    if dirs.is_empty() {
        eprintln!("usage: cargo bench -p entente-server --bench slots -- DATASET_DIR...");
        return;
    }
    const SEARCHES: usize = 2000;
    // Untimed searches first, so the first dataset is not measured on cold caches and a
    // clock still ramping up.
    const WARMUP: usize = 300;
    let who = Principal::system();
    let travel = TravelSettings::default();
    for dir in dirs {
        let t0 = Instant::now();
        let (st, participants, venues, (first, last)) = load(&dir, tile);
        let loaded = t0.elapsed();
        let mut rng = Rng(0x5107_5eed);
        let mut hist = hdrhistogram::Histogram::<u64>::new(3).expect("histogram");
        let (mut window_events, mut fitting) = (0usize, 0u64);
        let days = ((last - first) / 86_400 - 14).max(1) as u64;
        for i in 0..WARMUP + SEARCHES {
            let timed = i >= WARMUP;
            let mut people: Vec<u32> = Vec::new();
            while people.len() < 5 {
                let p = 1 + rng.below(u64::from(participants)) as u32;
                if !people.contains(&p) {
                    people.push(p);
                }
            }
            let from = (first / 86_400 + rng.below(days) as i64) * 86_400;
            let to = from + 14 * 86_400;
            let venue = venues[rng.below(venues.len() as u64) as usize];
            let q = Query {
                participants: people
                    .iter()
                    .map(|p| Need {
                        participant_id: format!("p{p}"),
                        ..Default::default()
                    })
                    .collect(),
                duration: 3600,
                window: Some((from, to)),
                venue_ids: vec![format!("v{venue}")],
                granularity: 15 * 60,
                max_results: 10,
                ..Default::default()
            };
            window_events += usize::from(timed)
                * people
                    .iter()
                    .map(|p| {
                        st.events
                            .window(
                                entente_server::events::index::Axis::Participant(&format!("p{p}")),
                                from,
                                to,
                                None,
                            )
                            .count()
                    })
                    .sum::<usize>();
            let start = Instant::now();
            let found =
                entente_server::service::slots::search(&st, &who, &q, &travel).expect("search");
            if timed {
                hist.record(start.elapsed().as_nanos() as u64)
                    .expect("record");
                fitting += u64::from(found.fitting);
            }
            std::hint::black_box(found);
        }
        let us = |q: f64| hist.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "dataset={dir} tile={tile} events={} loaded_s={:.1} searches={SEARCHES} \
             participant_events_in_window_avg={:.1} fitting_avg={:.0} \
             p50_us={:.0} p99_us={:.0} max_us={:.0}",
            st.events.len(),
            loaded.as_secs_f64(),
            window_events as f64 / SEARCHES as f64,
            fitting as f64 / SEARCHES as f64,
            us(0.5),
            us(0.99),
            hist.max() as f64 / 1000.0,
        );
    }
}
