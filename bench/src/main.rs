//! `entente-bench`: replays the shared peer workload (`../shared/bench/`) against a running
//! entente server over gRPC, and prints one line per workload in the PostgreSQL harness's
//! format, so `bench/compare.sh` can set the two side by side.
//!
//! Workloads (all through the public API, each client one request in flight):
//! - `load`: the directory, then every dataset event, created CONFIRMED (conflicts
//!   enforced, durable acks), `--load-concurrency` at a time;
//! - `conflict_check`: CheckConflicts for a uniformly random query row (a proposed event
//!   of that participant over that window, at an empty hall); the participant conflicts
//!   returned are compared with the generator's `expect_hits`;
//! - `book`: CreateEvent for the booking candidates in file order from one shared cursor,
//!   wrapping with offset ids like the harness; outcomes are compared with `expect`;
//! - `mixed`: 90% reads (agenda, venue window list, conflict check) and 10% bookings;
//! - `health`: `grpc.health.v1.Health/Check`, the transport's own ceiling here;
//! - `hold`: nothing for `--duration` seconds (to measure the server with watchers
//!   attached and idle).
//!
//! With `--watchers N`, N change-feed watchers follow the feed during the measured
//! workloads, each on its own stream (`--watch all`: every change; `idle`: a filter no
//! change matches), and a `workload=feed` line reports how long each batch took from its
//! commit to its arrival (commit time against arrival time: one machine, one clock).
//!
//! `load` uses tonic's generated clients; the measured workloads use the lean HTTP/2
//! client in [`wire`] (requests framed ahead, no per-call task hop), so that the
//! generator takes as little as it can of the cores it shares with the server.

mod cities;
mod dataset;
mod wire;

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use bytes::Bytes;
use clap::Parser;
use entente_proto::v1 as pb;
use entente_proto::v1::directory_service_client::DirectoryServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use hdrhistogram::Histogram;
use http::Uri;
use prost::Message;
use tonic::transport::{Channel, Endpoint};
use tonic_health::pb::HealthCheckRequest;
use wire::Conn;

/// Replays the shared workload against an entente server.
#[derive(Debug, Parser)]
struct Args {
    /// Server address.
    #[arg(long, default_value = "http://127.0.0.1:50051")]
    server: String,
    /// Folder with events.jsonl, queries.jsonl and bookings.jsonl.
    #[arg(long)]
    data: PathBuf,
    /// Workloads to run, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "load,conflict_check,book,mixed,health"
    )]
    workloads: Vec<String>,
    /// Threads driving the clients. One by default: the generator and the server share
    /// the machine, and on 2 cores one thread each beat two each (24.8k against 19.5k
    /// conflict checks/s, see bench/README.md).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..))]
    threads: u16,
    /// Concurrent clients (requests in flight).
    #[arg(long, default_value_t = 8)]
    clients: usize,
    /// HTTP/2 connections the clients share.
    #[arg(long, default_value_t = 8)]
    connections: usize,
    /// Seconds per workload.
    #[arg(long, default_value_t = 20)]
    duration: u64,
    /// Requests in flight while loading.
    #[arg(long, default_value_t = 64)]
    load_concurrency: usize,
    /// Seed for the random query picks.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Change-feed watchers following the feed during the measured workloads.
    #[arg(long, default_value_t = 0)]
    watchers: usize,
    /// What the watchers receive.
    #[arg(long, value_enum, default_value_t = WatchMode::All)]
    watch: WatchMode,
    /// Booking candidates already replayed against this store (by an earlier run's
    /// `book`, say): `book` and `mixed` go on from there, as the peer's shared
    /// `booking_cursor` does, instead of offering the same events again.
    #[arg(long, default_value_t = 0)]
    bookings_from: u64,
}

/// What the watchers of `--watchers` receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum WatchMode {
    /// Every change.
    All,
    /// Nothing: a filter that no change matches (progress messages only).
    Idle,
}

/// A tiny xorshift generator: each client its own, seeded, so runs are repeatable.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % n as u64) as usize
    }
}

struct Data {
    events: Vec<dataset::Event>,
    queries: Vec<dataset::Query>,
    bookings: Vec<dataset::Event>,
}

/// What one workload measured.
#[derive(Default)]
struct Tally {
    hist: Option<Histogram<u64>>,
    failed: u64,
    mismatches: u64,
    booked: u64,
    conflicts: u64,
    false_accepts: u64,
    false_rejects: u64,
    wrapped: bool,
}

impl Tally {
    fn new() -> Tally {
        Tally {
            hist: Histogram::new_with_bounds(1, 60_000_000, 3).ok(),
            ..Default::default()
        }
    }

    fn merge(&mut self, o: Tally) {
        if let (Some(a), Some(b)) = (self.hist.as_mut(), o.hist.as_ref()) {
            let _ = a.add(b);
        }
        self.failed += o.failed;
        self.mismatches += o.mismatches;
        self.booked += o.booked;
        self.conflicts += o.conflicts;
        self.false_accepts += o.false_accepts;
        self.false_rejects += o.false_rejects;
        self.wrapped |= o.wrapped;
    }

    /// A call that did not end as the workload expects: counted, and the first few shown.
    fn fail(&mut self, what: &str, r: anyhow::Result<wire::Reply>) {
        self.failed += 1;
        if self.failed <= 3 {
            match r {
                Ok(r) => eprintln!("{what}: gRPC status {} {}", r.code, r.detail),
                Err(e) => eprintln!("{what}: {e:#}"),
            }
        }
    }

    fn record(&mut self, since: Instant) {
        if let Some(h) = self.hist.as_mut() {
            let _ = h.record(since.elapsed().as_micros().max(1) as u64);
        }
    }
}

fn event_proto(e: &dataset::Event, id: String) -> pb::Event {
    pb::Event {
        id,
        kind: match e.kind.as_str() {
            "bilateral" => pb::EventKind::BilateralMeeting,
            "summit" => pb::EventKind::Summit,
            "conference" => pb::EventKind::Conference,
            _ => pb::EventKind::Other,
        } as i32,
        title: e.title.clone(),
        venue_id: format!("v{}", e.venue_id),
        participant_ids: e.participant_ids.iter().map(|p| format!("p{p}")).collect(),
        status: pb::EventStatus::Confirmed as i32,
        timing: Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: e.start_utc.clone(),
                end: e.end_utc.clone(),
                time_zone: e.zone.clone(),
            })),
        }),
        ..Default::default()
    }
}

async fn channels(server: &str, n: usize) -> anyhow::Result<Vec<Channel>> {
    let mut out = Vec::new();
    for _ in 0..n.max(1) {
        let ch = Endpoint::from_shared(server.to_string())?
            .tcp_nodelay(true)
            .connect()
            .await
            .with_context(|| format!("cannot connect to {server}"))?;
        out.push(ch);
    }
    Ok(out)
}

async fn load(args: &Args, data: &Data, chans: &[Channel]) -> anyhow::Result<()> {
    let t0 = Instant::now();
    let mut dir = DirectoryServiceClient::new(chans[0].clone());
    let participants = data
        .events
        .iter()
        .chain(&data.bookings)
        .flat_map(|e| e.participant_ids.iter().copied())
        .max()
        .unwrap_or(0);
    for p in 1..=participants {
        dir.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: format!("Participant {p}"),
                country_code: "CH".into(),
                home_time_zone: "UTC".into(),
                ..Default::default()
            }),
            participant_id: format!("p{p}"),
            ..Default::default()
        })
        .await
        .with_context(|| format!("participant p{p}"))?;
    }
    let mut zones = std::collections::BTreeMap::new();
    for e in data.events.iter().chain(&data.bookings) {
        zones.entry(e.venue_id).or_insert_with(|| e.zone.clone());
    }
    for (v, zone) in &zones {
        let (city, lat, lng) = cities::city_of(zone);
        dir.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("Hall {v}"),
                city: city.into(),
                country_code: "CH".into(),
                time_zone: zone.clone(),
                location: Some(pb::LatLng {
                    latitude: lat,
                    longitude: lng,
                }),
                ..Default::default()
            }),
            venue_id: format!("v{v}"),
            ..Default::default()
        })
        .await
        .with_context(|| format!("venue v{v}"))?;
    }
    // An empty hall for dry-run conflict checks: it hosts nothing, so a check reports only
    // the participant's own events, which is what the PostgreSQL query returns. It has
    // coordinates, as a real venue does, so the travel checks to the participant's
    // neighbouring events run instead of being reported as skipped.
    dir.create_venue(pb::CreateVenueRequest {
        venue: Some(pb::Venue {
            display_name: "Bench hall".into(),
            city: "Geneva".into(),
            country_code: "CH".into(),
            time_zone: "Europe/Zurich".into(),
            location: Some(pb::LatLng {
                latitude: 46.2044,
                longitude: 6.1432,
            }),
            ..Default::default()
        }),
        venue_id: "bench-hall".into(),
        ..Default::default()
    })
    .await?;

    let next = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let events = Arc::new(data.events.clone());
    let mut tasks = Vec::new();
    for i in 0..args.load_concurrency {
        let mut client = EventServiceClient::new(chans[i % chans.len()].clone());
        let (next, failed, events) = (next.clone(), failed.clone(), events.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed) as usize;
                let Some(e) = events.get(n) else { break };
                let req = pb::CreateEventRequest {
                    event: Some(Box::new(event_proto(e, format!("e{}", e.id)))),
                    ..Default::default()
                };
                if let Err(s) = client.create_event(req).await {
                    if failed.fetch_add(1, Ordering::Relaxed) < 5 {
                        eprintln!("load: event {} refused: {} {}", e.id, s.code(), s.message());
                    }
                }
            }
        }));
    }
    for t in tasks {
        t.await?;
    }
    let secs = t0.elapsed().as_secs_f64();
    let n = data.events.len();
    println!(
        "peer=entente workload=load events={n} queries={} bookings={} load_s={secs:.1} events_per_s={:.0} failed={}",
        data.queries.len(),
        data.bookings.len(),
        n as f64 / secs,
        failed.load(Ordering::Relaxed)
    );
    if failed.load(Ordering::Relaxed) > 0 {
        bail!("the dataset is conflict-free, yet some events were refused");
    }
    Ok(())
}

fn check_request(q: &dataset::Query) -> pb::CheckConflictsRequest {
    pb::CheckConflictsRequest {
        event: Some(Box::new(pb::Event {
            kind: pb::EventKind::Other as i32,
            title: "query".into(),
            venue_id: "bench-hall".into(),
            participant_ids: vec![format!("p{}", q.participant_id)],
            status: pb::EventStatus::Confirmed as i32,
            timing: Some(pb::EventTiming {
                span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                    start: q.start_utc.clone(),
                    end: q.end_utc.clone(),
                    time_zone: "UTC".into(),
                })),
            }),
            ..Default::default()
        })),
        // The fields are what is counted; the sentences and the echoed event are for people.
        view: pb::CheckView::Basic as i32,
        ..Default::default()
    }
}

/// The methods the measured workloads call.
#[derive(Clone)]
struct Methods {
    check: Uri,
    create: Uri,
    agenda: Uri,
    list: Uri,
    health: Uri,
    slots: Uri,
}

impl Methods {
    fn of(c: &Conn) -> anyhow::Result<Methods> {
        Ok(Methods {
            check: c.uri("/entente.v1.ConflictService/CheckConflicts")?,
            create: c.uri("/entente.v1.EventService/CreateEvent")?,
            agenda: c.uri("/entente.v1.EventService/GetAgenda")?,
            list: c.uri("/entente.v1.EventService/ListEvents")?,
            health: c.uri("/grpc.health.v1.Health/Check")?,
            slots: c.uri("/entente.v1.CalendarService/FindSlots")?,
        })
    }
}

/// One client's loop body for each workload.
#[derive(Clone)]
struct Ctx {
    data: Arc<Data>,
    /// Every query's CheckConflicts request, framed before the clock starts (as pgbench
    /// prepares its statement).
    checks: Arc<Vec<Bytes>>,
    health: Bytes,
    methods: Methods,
    cursor: Arc<AtomicU64>,
    check_hits: bool,
    /// For FindSlots: the highest participant number, the dataset's first instant, and
    /// how many days a 14-day window may start in.
    span: (usize, i64, usize),
}

impl Ctx {
    async fn conflict_check(&self, c: &mut Conn, rng: &mut Rng, t: &mut Tally) {
        let i = rng.below(self.data.queries.len());
        let start = Instant::now();
        match c.call(&self.methods.check, self.checks[i].clone()).await {
            Ok(r) if r.code == wire::OK => {
                t.record(start);
                if self.check_hits {
                    let hits = wire::ConflictKinds::decode(r.message).map(|k| {
                        k.conflicts
                            .iter()
                            .filter(|x| x.kind == pb::ConflictKind::Participant as i32)
                            .count()
                    });
                    if hits.ok() != Some(self.data.queries[i].expect_hits) {
                        t.mismatches += 1;
                    }
                }
            }
            r => t.fail("conflict_check", r),
        }
    }

    async fn book(&self, c: &mut Conn, t: &mut Tally) {
        let n = self.cursor.fetch_add(1, Ordering::Relaxed);
        let nb = self.data.bookings.len() as u64;
        let (lap, row) = (n / nb, (n % nb) as usize);
        let b = &self.data.bookings[row];
        let req = wire::frame(&pb::CreateEventRequest {
            event: Some(Box::new(event_proto(
                b,
                format!("b{}", b.id + lap * 1_000_000_000),
            ))),
            ..Default::default()
        });
        let start = Instant::now();
        let r = c.call(&self.methods.create, req).await;
        t.record(start);
        t.wrapped |= lap > 0;
        match r {
            Ok(r) if r.code == wire::OK => {
                t.booked += 1;
                if lap == 0 && b.expect == "conflict" {
                    t.false_accepts += 1;
                }
            }
            Ok(r) if r.code == wire::FAILED_PRECONDITION => {
                t.conflicts += 1;
                if lap == 0 && b.expect == "ok" {
                    t.false_rejects += 1;
                }
            }
            r => t.fail("book", r),
        }
    }

    async fn health(&self, c: &mut Conn, t: &mut Tally) {
        let start = Instant::now();
        match c.call(&self.methods.health, self.health.clone()).await {
            Ok(r) if r.code == wire::OK => t.record(start),
            r => t.fail("health", r),
        }
    }

    /// FindSlots as issue 21 sizes it: 5 random participants, a 14-day window from a
    /// random midnight of the dataset's span, one random venue, 15-minute granularity, a
    /// 60-minute meeting, the default constraints, the best 10 slots.
    async fn find_slots(&self, c: &mut Conn, rng: &mut Rng, t: &mut Tally) {
        let (participants, first, days) = self.span;
        let mut people: Vec<usize> = Vec::new();
        while people.len() < 5 {
            let p = 1 + rng.below(participants);
            if !people.contains(&p) {
                people.push(p);
            }
        }
        let from = (first / 86_400 + rng.below(days) as i64) * 86_400;
        let day = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.date_naive().to_string())
                .unwrap_or_default()
        };
        let v = self.data.events[rng.below(self.data.events.len())].venue_id;
        let minutes = |m: i64| {
            Some(prost_types::Duration {
                seconds: m * 60,
                nanos: 0,
            })
        };
        let req = wire::frame(&pb::FindSlotsRequest {
            participants: people
                .iter()
                .map(|p| pb::SlotParticipant {
                    participant_id: format!("p{p}"),
                    ..Default::default()
                })
                .collect(),
            duration: minutes(60),
            window: Some(pb::TimeWindow {
                start: day(from),
                end: day(from + 14 * 86_400),
                time_zone: String::new(),
            }),
            venue_ids: vec![format!("v{v}")],
            granularity: minutes(15),
            max_results: 10,
            ..Default::default()
        });
        let start = Instant::now();
        match c.call(&self.methods.slots, req).await {
            Ok(r) if r.code == wire::OK => t.record(start),
            r => t.fail("find_slots", r),
        }
    }

    /// 90% reads of three kinds, 10% bookings.
    async fn mixed(&self, c: &mut Conn, rng: &mut Rng, t: &mut Tally) {
        let dice = rng.below(100);
        if dice < 10 {
            return self.book(c, t).await;
        }
        if dice >= 70 {
            return self.conflict_check(c, rng, t).await;
        }
        let q = &self.data.queries[rng.below(self.data.queries.len())];
        let window = Some(pb::TimeWindow {
            start: q.start_utc.clone(),
            end: q.end_utc.clone(),
            time_zone: String::new(),
        });
        let (uri, req) = if dice < 40 {
            let req = pb::GetAgendaRequest {
                participant_id: format!("p{}", q.participant_id),
                window,
                ..Default::default()
            };
            (&self.methods.agenda, wire::frame(&req))
        } else {
            let v = self.data.events[rng.below(self.data.events.len())].venue_id;
            let req = pb::ListEventsRequest {
                window,
                venue_id: format!("v{v}"),
                ..Default::default()
            };
            (&self.methods.list, wire::frame(&req))
        };
        let start = Instant::now();
        match c.call(uri, req).await {
            Ok(r) if r.code == wire::OK => t.record(start),
            r => t.fail("mixed", r),
        }
    }
}

async fn run(args: &Args, name: &str, ctx: &Ctx, conns: &[Conn]) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(args.duration);
    let mut tasks = Vec::new();
    for i in 0..args.clients {
        let mut conn = conns[i % conns.len()].clone();
        let (ctx, name) = (ctx.clone(), name.to_string());
        let mut rng = Rng(args.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (i as u64 + 1));
        tasks.push(tokio::spawn(async move {
            let mut t = Tally::new();
            while Instant::now() < deadline {
                match name.as_str() {
                    "conflict_check" => ctx.conflict_check(&mut conn, &mut rng, &mut t).await,
                    "find_slots" => ctx.find_slots(&mut conn, &mut rng, &mut t).await,
                    "book" => ctx.book(&mut conn, &mut t).await,
                    "health" => ctx.health(&mut conn, &mut t).await,
                    _ => ctx.mixed(&mut conn, &mut rng, &mut t).await,
                }
            }
            t
        }));
    }
    let t0 = Instant::now();
    let mut total = Tally::new();
    for t in tasks {
        total.merge(t.await?);
    }
    let secs = t0.elapsed().as_secs_f64().max(args.duration as f64);
    let h = total.hist.as_ref().context("histogram")?;
    let txns = h.len();
    let ms = |q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let mut line = format!(
        "peer=entente workload={name} clients={} connections={} duration_s={} txns={txns} tps={:.1} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} failed={}",
        args.clients,
        conns.len(),
        args.duration,
        txns as f64 / secs,
        ms(0.50),
        ms(0.99),
        ms(0.999),
        total.failed
    );
    if name == "conflict_check" {
        line += &format!(" query_mismatches={}", total.mismatches);
    }
    if name == "book" || name == "mixed" {
        let tries = total.booked + total.conflicts;
        line += &format!(
            " booked={} conflicts={} conflict_rate={:.3} false_accepts={} false_rejects={} wrapped={} bookings_next={}",
            total.booked,
            total.conflicts,
            if tries > 0 {
                total.conflicts as f64 / tries as f64
            } else {
                0.0
            },
            total.false_accepts,
            total.false_rejects,
            u8::from(total.wrapped),
            ctx.cursor.load(Ordering::Relaxed)
        );
    }
    println!("{line}");
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.into())
        .enable_all()
        .build()?
        .block_on(drive(args))
}

/// What the watchers measured: commit-to-arrival latency of every batch, in microseconds.
struct Watchers {
    tasks: Vec<tokio::task::JoinHandle<Histogram<u64>>>,
    stop: tokio::sync::watch::Sender<bool>,
}

/// A `WatchChangesResponse` as the watchers read it: a batch's revision and commit time,
/// and nothing else. prost skips what it does not declare by its length, so a watcher
/// costs the generator (which shares the cores with the server) the framing, not the
/// decoding of every event: what is measured is the server's work. (A oneof member with
/// tag 1 is, on the wire, an optional field with tag 1.)
#[derive(Clone, PartialEq, prost::Message)]
struct WatchHead {
    #[prost(message, optional, tag = "1")]
    batch: Option<BatchHead>,
}

#[derive(Clone, PartialEq, prost::Message)]
struct BatchHead {
    #[prost(int64, tag = "1")]
    revision: i64,
    #[prost(message, optional, tag = "2")]
    commit_time: Option<prost_types::Timestamp>,
}

/// Attaches `n` watchers, from now on, spread over 4 connections of their own.
async fn watchers(server: &str, n: usize, mode: WatchMode) -> anyhow::Result<Watchers> {
    let chans = channels(server, 4).await?;
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut tasks = Vec::new();
    let path = http::uri::PathAndQuery::from_static("/entente.v1.ChangeService/WatchChanges");
    for i in 0..n {
        let mut grpc = tonic::client::Grpc::new(chans[i % chans.len()].clone());
        let filter = (mode == WatchMode::Idle).then(|| pb::ChangeFilter {
            participant_id: "nobody-at-all".into(),
            ..Default::default()
        });
        grpc.ready().await?;
        let mut stream = grpc
            .server_streaming(
                tonic::Request::new(pb::WatchChangesRequest {
                    from_now: true,
                    filter,
                    ..Default::default()
                }),
                path.clone(),
                entente_proto::codec::SliceCodec::<pb::WatchChangesRequest, WatchHead>::default(),
            )
            .await?
            .into_inner();
        let mut stopped = stopped.clone();
        tasks.push(tokio::spawn(async move {
            let mut h = Histogram::new_with_bounds(1, 60_000_000, 3).expect("bounds");
            loop {
                tokio::select! {
                    m = stream.message() => match m {
                        Ok(Some(WatchHead { batch: Some(b) })) => {
                            let now = chrono_micros();
                            let at = b.commit_time.map_or(now, |t| {
                                t.seconds * 1_000_000 + i64::from(t.nanos) / 1000
                            });
                            let _ = h.record((now - at).max(1) as u64);
                        }
                        Ok(Some(_)) => {}
                        _ => return h,
                    },
                    _ = stopped.changed() => return h,
                }
            }
        }));
    }
    Ok(Watchers { tasks, stop })
}

fn chrono_micros() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

impl Watchers {
    /// Stops them and prints what they measured.
    async fn report(self, n: usize, mode: WatchMode) -> anyhow::Result<()> {
        let _ = self.stop.send(true);
        let mut all = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3)?;
        for t in self.tasks {
            all.add(t.await?)?;
        }
        let ms = |q: f64| all.value_at_quantile(q) as f64 / 1000.0;
        println!(
            "peer=entente workload=feed watchers={n} watch={} deliveries={} p50_ms={:.3} p99_ms={:.3} p999_ms={:.3} max_ms={:.3}",
            if mode == WatchMode::All {
                "all"
            } else {
                "idle"
            },
            all.len(),
            ms(0.5),
            ms(0.99),
            ms(0.999),
            all.max() as f64 / 1000.0
        );
        Ok(())
    }
}

async fn drive(args: Args) -> anyhow::Result<()> {
    let data = Arc::new(Data {
        events: dataset::read(&args.data, "events.jsonl")?,
        queries: dataset::read(&args.data, "queries.jsonl")?,
        bookings: dataset::read(&args.data, "bookings.jsonl")?,
    });
    let chans = channels(&args.server, args.connections).await?;
    let mut conns = Vec::new();
    for _ in 0..args.connections.max(1) {
        conns.push(Conn::connect(&args.server).await?);
    }
    let mut ctx = Ctx {
        checks: Arc::new(
            data.queries
                .iter()
                .map(|q| wire::frame(&check_request(q)))
                .collect(),
        ),
        health: wire::frame(&HealthCheckRequest {
            service: String::new(),
        }),
        methods: Methods::of(&conns[0])?,
        data: data.clone(),
        cursor: Arc::new(AtomicU64::new(args.bookings_from)),
        check_hits: true,
        span: {
            let instant = |s: &str| {
                chrono::DateTime::parse_from_rfc3339(s)
                    .map(|d| d.timestamp())
                    .unwrap_or_default()
            };
            let first = data.events.iter().map(|e| instant(&e.start_utc)).min();
            let last = data.events.iter().map(|e| instant(&e.end_utc)).max();
            let (first, last) = (first.unwrap_or(0), last.unwrap_or(0));
            let participants = data
                .events
                .iter()
                .flat_map(|e| e.participant_ids.iter().copied())
                .max()
                .unwrap_or(1) as usize;
            (
                participants,
                first,
                ((last - first) / 86_400 - 14).max(1) as usize,
            )
        },
    };
    let mut feed = None;
    for w in &args.workloads {
        if w != "load" && feed.is_none() && args.watchers > 0 {
            feed = Some(watchers(&args.server, args.watchers, args.watch).await?);
        }
        match w.as_str() {
            "load" => load(&args, &data, &chans).await?,
            "hold" => tokio::time::sleep(Duration::from_secs(args.duration)).await,
            "conflict_check" | "book" | "mixed" | "health" | "find_slots" => {
                run(&args, w, &ctx, &conns).await?;
                // After bookings, expect_hits no longer describes the store.
                if w == "book" || w == "mixed" {
                    ctx.check_hits = false;
                }
            }
            other => bail!("unknown workload {other:?}"),
        }
    }
    if let Some(f) = feed {
        f.report(args.watchers, args.watch).await?;
    }
    Ok(())
}
