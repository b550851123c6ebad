//! `entente-attack`: one bystander against one attacker at a time (issue 31).
//!
//! The bystander is an editor's closed loop of GetEvent, CheckConflicts and CreateEvent on
//! one connection. It runs alone first (the baseline), then beside each attack in turn.
//! For each attack the tool prints one line: the bystander's p99 against its baseline,
//! its failures, how long a brand-new client took to connect and be answered, the
//! server's CPU (from `/proc/<pid>/stat`) and its memory growth (peak RSS over the
//! attack against RSS before it), this tool's own CPU over the attack (attacker, bystander
//! and newcomer together: on a machine the server shares, what the attacker takes from
//! everyone is part of the picture), how many attack requests were answered and how, and
//! whether the server answered afterwards.
//!
//! Attacks (the server runs without access control, so every caller may do anything):
//! `idle` (1,100 silent TCP connections), `preface` (1,100 silent after the HTTP/2
//! preface), `slowloris` (1,100 HTTP/1.1 requests a header byte a second), `import` (dry
//! runs of a 2,000-VEVENT RELATED-TO chain), `findslots` (the largest FindSlots accepted,
//! two at once), `freebusy` (one id 838,851 times over 1900-2200), `feed` (20 GETs at once
//! of an unbounded feed of 5,000 events), `holidays` (ImportHolidays of ~1 MB), `garbage`
//! (50 undecodable 4 MiB requests at once), `watch` (500 WatchChanges streams never read).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use entente_proto::v1 as pb;
use hdrhistogram::Histogram;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tonic::transport::{Channel, Endpoint};

/// Runs the bystander, then each attack beside it.
#[derive(Debug, Parser)]
struct Args {
    /// Server address (host:port).
    #[arg(long)]
    addr: String,
    /// The server's process id, for its CPU and memory.
    #[arg(long)]
    pid: u32,
    /// Attacks to run, in order.
    #[arg(
        long,
        value_delimiter = ',',
        default_value = "idle,preface,slowloris,import,findslots,freebusy,feed,holidays,garbage,watch"
    )]
    attacks: Vec<String>,
    /// Seconds the bystander is measured, alone and under each attack.
    #[arg(long, default_value_t = 8)]
    secs: u64,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let url = format!("http://{}", args.addr);
    let ch = Endpoint::from_shared(url.clone())?.connect().await?;
    let feed_path = setup(&ch).await.context("setting up the store")?;
    let world = Arc::new(World {
        addr: args.addr.clone(),
        url,
        feed_path,
    });
    let secs = Duration::from_secs(args.secs);

    let tool0 = cpu_secs(std::process::id());
    let base = bystander_for(&world.url, secs).await;
    let tool_alone = cpu_secs(std::process::id()) - tool0;
    let base_p99 = base.hist.value_at_quantile(0.99).max(1);
    println!(
        "# bystander alone: {} calls in {} s, p50 {:.2} ms, p99 {:.2} ms, {} failures, {:.2} CPU-s of this tool",
        base.hist.len(),
        args.secs,
        base.hist.value_at_quantile(0.5) as f64 / 1000.0,
        base_p99 as f64 / 1000.0,
        base.failures,
        tool_alone
    );
    println!(
        "attack                 p99_ratio  failures  new_client_ms  server_cpu_s  cpu_per_attack_call_s  mem_growth_mib  tool_cpu_s  attack_calls  healthy"
    );
    for name in &args.attacks {
        let stop = Arc::new(AtomicBool::new(false));
        let counts = Arc::new(Counts::default());
        let cpu0 = cpu_secs(args.pid);
        let tool0 = cpu_secs(std::process::id());
        let rss0 = rss_mib(args.pid);
        let peak = Arc::new(AtomicU64::new(rss0 as u64));
        let sampler = {
            let (stop, peak, pid) = (stop.clone(), peak.clone(), args.pid);
            tokio::spawn(async move {
                while !stop.load(Ordering::Relaxed) {
                    peak.fetch_max(rss_mib(pid) as u64, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            })
        };
        let attack = tokio::spawn(run_attack(
            name.clone(),
            world.clone(),
            stop.clone(),
            counts.clone(),
        ));
        // Let the attack build up, then measure the bystander beside it, with a new client
        // halfway through.
        tokio::time::sleep(Duration::from_secs(1)).await;
        let half = secs / 2;
        let newcomer = {
            let url = world.url.clone();
            tokio::spawn(async move {
                tokio::time::sleep(half).await;
                new_client(&url).await
            })
        };
        let under = bystander_for(&world.url, secs).await;
        let new_ms = newcomer.await.unwrap_or(None);
        stop.store(true, Ordering::Relaxed);
        let _ = tokio::time::timeout(Duration::from_secs(10), attack).await;
        let _ = sampler.await;
        let cpu = cpu_secs(args.pid) - cpu0;
        let tool = cpu_secs(std::process::id()) - tool0;
        let growth = peak.load(Ordering::Relaxed) as f64 - rss0;
        let healthy = new_client(&world.url).await.is_some();
        let calls = counts.total();
        println!(
            "{:<22} {:>9.2}  {:>8}  {:>13}  {:>12.2}  {:>21}  {:>14.0}  {:>10.2}  {:>12}  {}",
            name,
            under.hist.value_at_quantile(0.99) as f64 / base_p99 as f64,
            under.failures,
            new_ms.map_or("never (2 s)".to_string(), |ms| format!("{ms:.0}")),
            cpu,
            if calls > 0 {
                format!("{:.3}", cpu / calls as f64)
            } else {
                "-".into()
            },
            growth,
            tool,
            counts.summary(),
            if healthy { "yes" } else { "NO" }
        );
        // Let closed sockets and stopped work settle before the next attack.
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    Ok(())
}

#[derive(Debug)]
struct World {
    addr: String,
    url: String,
    feed_path: String,
}

/// Attack calls answered, by how.
#[derive(Debug, Default)]
struct Counts(std::sync::Mutex<BTreeMap<String, u64>>);

impl Counts {
    fn add(&self, what: impl Into<String>) {
        *self
            .0
            .lock()
            .expect("counts")
            .entry(what.into())
            .or_default() += 1;
    }
    fn total(&self) -> u64 {
        self.0.lock().expect("counts").values().sum()
    }
    fn summary(&self) -> String {
        let m = self.0.lock().expect("counts");
        if m.is_empty() {
            return "-".into();
        }
        m.iter()
            .map(|(k, v)| format!("{k}:{v}"))
            .collect::<Vec<_>>()
            .join(",")
    }
    fn record<T>(&self, r: &Result<T, tonic::Status>) {
        match r {
            Ok(_) => self.add("ok"),
            Err(s) => self.add(format!("{:?}", s.code())),
        }
    }
}

fn cpu_secs(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let f: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) / 100.0
}

fn rss_mib(pid: u32) -> f64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").trim().parse::<f64>().ok())
        .map_or(0.0, |kib| kib / 1024.0)
}

/// Milliseconds for a brand-new client to connect and get a list of countries, if within
/// 2 s.
async fn new_client(url: &str) -> Option<f64> {
    let started = Instant::now();
    let call = async {
        let ch = Endpoint::from_shared(url.to_string())
            .ok()?
            .connect()
            .await
            .ok()?;
        pb::directory_service_client::DirectoryServiceClient::new(ch)
            .list_countries(pb::ListCountriesRequest::default())
            .await
            .ok()
    };
    tokio::time::timeout(Duration::from_secs(2), call)
        .await
        .ok()
        .flatten()
        .map(|_| started.elapsed().as_secs_f64() * 1000.0)
}

struct Loop {
    hist: Histogram<u64>,
    failures: u64,
}

static BOOKED: AtomicU64 = AtomicU64::new(0);

/// The bystander's closed loop for `secs` on a connection and a runtime of its own, on a
/// thread of its own: sharing the attack's runtime, its calls would wait behind the
/// attack's own decoding in the tool, which is no delay of the server's.
async fn bystander_for(url: &str, secs: Duration) -> Loop {
    let url = url.to_string();
    let (tx, rx) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let out = rt.block_on(async {
            let ch = Endpoint::from_shared(url)
                .expect("url")
                .connect()
                .await
                .expect("the bystander connects");
            bystander_loop(&ch, secs).await
        });
        let _ = tx.send(out);
    });
    rx.await.expect("the bystander's thread")
}

/// The bystander's calls for `secs`: each waits at most 5 s.
async fn bystander_loop(ch: &Channel, secs: Duration) -> Loop {
    let mut events = pb::event_service_client::EventServiceClient::new(ch.clone());
    let mut conflicts = pb::conflict_service_client::ConflictServiceClient::new(ch.clone());
    let mut out = Loop {
        hist: Histogram::new(3).expect("histogram"),
        failures: 0,
    };
    let end = Instant::now() + secs;
    let limit = Duration::from_secs(5);
    let mut i = 0u64;
    while Instant::now() < end {
        let started = Instant::now();
        let ok = match i % 3 {
            0 => tokio::time::timeout(
                limit,
                events.get_event(pb::GetEventRequest {
                    id: "bystander-anchor".into(),
                    ..Default::default()
                }),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
            1 => tokio::time::timeout(
                limit,
                conflicts.check_conflicts(pb::CheckConflictsRequest {
                    event: Some(Box::new(talks("Check", "bystander", 0))),
                    ..Default::default()
                }),
            )
            .await
            .is_ok_and(|r| r.is_ok()),
            _ => {
                let n = BOOKED.fetch_add(1, Ordering::Relaxed) + 1;
                tokio::time::timeout(
                    limit,
                    events.create_event(pb::CreateEventRequest {
                        event: Some(Box::new(talks("Booked", "bystander", n))),
                        event_id: format!("bystander-{n}"),
                        ..Default::default()
                    }),
                )
                .await
                .is_ok_and(|r| r.is_ok())
            }
        };
        if ok {
            let us = started.elapsed().as_micros() as u64;
            out.hist.record(us.max(1)).expect("record");
        } else {
            out.failures += 1;
        }
        i += 1;
    }
    out
}

/// A one-hour talk of `who` at the Kremlin, `hour` hours after 1 January 2031.
fn talks(title: &str, who: &str, hour: u64) -> pb::Event {
    let start = chrono::NaiveDate::from_ymd_opt(2031, 1, 1)
        .expect("date")
        .and_hms_opt(0, 0, 0)
        .expect("time")
        + chrono::Duration::hours(hour as i64);
    let end = start + chrono::Duration::minutes(30);
    pb::Event {
        kind: pb::EventKind::BilateralMeeting as i32,
        title: title.into(),
        venue_id: format!("{who}-hall"),
        participant_ids: vec![who.into()],
        timing: Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: start.format("%Y-%m-%dT%H:%M").to_string(),
                end: end.format("%Y-%m-%dT%H:%M").to_string(),
                time_zone: String::new(),
            })),
        }),
        ..Default::default()
    }
}

/// The directory, the bystander's anchor event, 50 leaders, a leader with 5,000 events and
/// an unbounded feed of them; returns the feed's path.
async fn setup(ch: &Channel) -> anyhow::Result<String> {
    let mut dir = pb::directory_service_client::DirectoryServiceClient::new(ch.clone());
    let mut events = pb::event_service_client::EventServiceClient::new(ch.clone());
    // "b": the free/busy attack's id, which exists (as in the attack).
    let mut people: Vec<String> = vec!["bystander".into(), "busy".into(), "b".into()];
    people.extend((0..50).map(|i| format!("leader-{i}")));
    for id in &people {
        dir.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: id.clone(),
                role: pb::ParticipantRole::HeadOfState as i32,
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            participant_id: id.clone(),
            ..Default::default()
        })
        .await?;
    }
    for id in ["bystander", "busy", "attack"] {
        dir.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("{id} hall"),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                location: Some(pb::LatLng {
                    latitude: 55.75,
                    longitude: 37.62,
                }),
                ..Default::default()
            }),
            venue_id: format!("{id}-hall"),
            ..Default::default()
        })
        .await?;
    }
    events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(talks("Anchor", "bystander", 0))),
            event_id: "bystander-anchor".into(),
            ..Default::default()
        })
        .await?;
    // 5,000 events of one leader, a few hours apart, sixteen at a time.
    let mut set = tokio::task::JoinSet::new();
    for k in 0..16u64 {
        let mut events = events.clone();
        set.spawn(async move {
            let mut i = k;
            while i < 5000 {
                let mut e = talks("A long programme with a longer title", "busy", i * 5);
                e.description = "Talks on trade, energy and transport corridors.".into();
                events
                    .create_event(pb::CreateEventRequest {
                        event: Some(Box::new(e)),
                        event_id: format!("busy-{i}"),
                        ..Default::default()
                    })
                    .await?;
                i += 16;
            }
            Ok::<_, tonic::Status>(())
        });
    }
    while let Some(r) = set.join_next().await {
        r??;
    }
    let feed = pb::i_calendar_service_client::ICalendarServiceClient::new(ch.clone())
        .create_calendar_feed(pb::CreateCalendarFeedRequest {
            feed: Some(pb::CalendarFeed {
                scope: Some(pb::CalendarScope {
                    participant_id: "busy".into(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await?
        .into_inner()
        .feed
        .context("a feed")?;
    Ok(feed.path)
}

async fn run_attack(name: String, w: Arc<World>, stop: Arc<AtomicBool>, counts: Arc<Counts>) {
    let url = w.url.clone();
    let ch = || async {
        Endpoint::from_shared(url.clone())
            .ok()?
            .connect()
            .await
            .ok()
    };
    match name.as_str() {
        "idle" | "preface" | "slowloris" => {
            let mut socks = Vec::new();
            for _ in 0..1100 {
                match tokio::time::timeout(Duration::from_millis(200), TcpStream::connect(&w.addr))
                    .await
                {
                    Ok(Ok(mut s)) => {
                        if name == "preface" {
                            let _ = s
                                .write_all(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00\x00\x04\x00\x00\x00\x00\x00")
                                .await;
                        }
                        counts.add("opened");
                        socks.push(s);
                    }
                    _ => counts.add("refused"),
                }
            }
            let header = b"GET /ics/0000.ics HTTP/1.1\r\nHost: x\r\nX-Slow: ";
            let mut k = 0;
            while !stop.load(Ordering::Relaxed) {
                if name == "slowloris" {
                    for s in &mut socks {
                        let _ = s.write_all(&[header[k.min(header.len() - 1)]]).await;
                    }
                    k += 1;
                }
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
        }
        "import" => {
            let Some(ch) = ch().await else { return };
            let ics = chain(2000);
            let mut client = pb::i_calendar_service_client::ICalendarServiceClient::new(ch);
            while !stop.load(Ordering::Relaxed) {
                let r = client
                    .import_calendar(pb::ImportCalendarRequest {
                        ics: ics.clone(),
                        dry_run: true,
                        default_venue_id: "attack-hall".into(),
                        ..Default::default()
                    })
                    .await;
                counts.record(&r);
            }
        }
        "findslots" => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..2 {
                let Some(ch) = ch().await else { return };
                let (stop, counts) = (stop.clone(), counts.clone());
                set.spawn(async move {
                    let mut cal = pb::calendar_service_client::CalendarServiceClient::new(ch);
                    while !stop.load(Ordering::Relaxed) {
                        counts.record(&cal.find_slots(largest_search()).await);
                    }
                });
            }
            set.join_all().await;
        }
        "freebusy" => {
            let Some(ch) = ch().await else { return };
            let mut c = pb::conflict_service_client::ConflictServiceClient::new(ch)
                .max_encoding_message_size(64 << 20);
            // As the issue measured it: a short id, so the list fits the message limit.
            let ids = vec!["b".to_string(); 838_851];
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .query_free_busy(pb::QueryFreeBusyRequest {
                        participant_ids: ids.clone(),
                        window: Some(pb::TimeWindow {
                            start: "1900-01-01".into(),
                            end: "2200-01-01".into(),
                            time_zone: String::new(),
                        }),
                        ..Default::default()
                    })
                    .await;
                counts.record(&r);
            }
        }
        "feed" => {
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..20 {
                let (stop, counts, w) = (stop.clone(), counts.clone(), w.clone());
                set.spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        match http_get(&w.addr, &w.feed_path).await {
                            Some(n) if n > 100_000 => counts.add("200-large"),
                            Some(_) => counts.add("short"),
                            None => counts.add("failed"),
                        }
                    }
                });
            }
            set.join_all().await;
        }
        "holidays" => {
            let Some(ch) = ch().await else { return };
            let ics = holidays(1 << 20);
            let mut c = pb::calendar_service_client::CalendarServiceClient::new(ch);
            while !stop.load(Ordering::Relaxed) {
                let r = c
                    .import_holidays(pb::ImportHolidaysRequest {
                        country_code: "RU".into(),
                        icalendar: ics.clone(),
                        ..Default::default()
                    })
                    .await;
                counts.record(&r);
            }
        }
        "garbage" => {
            let Some(ch) = ch().await else { return };
            let mut set = tokio::task::JoinSet::new();
            for _ in 0..50 {
                let (stop, counts, ch) = (stop.clone(), counts.clone(), ch.clone());
                set.spawn(async move {
                    // Field 1 as 4 MiB that is not UTF-8: ImportCalendarRequest.ics cannot
                    // decode it.
                    let junk = vec![0xffu8; (4 << 20) - 64];
                    let mut grpc = tonic::client::Grpc::new(ch);
                    while !stop.load(Ordering::Relaxed) {
                        if grpc.ready().await.is_err() {
                            counts.add("not ready");
                            return;
                        }
                        let path = http::uri::PathAndQuery::from_static(
                            "/entente.v1.ICalendarService/ImportCalendar",
                        );
                        let codec = tonic_prost::ProstCodec::<Vec<u8>, ()>::default();
                        let r = grpc
                            .unary(tonic::Request::new(junk.clone()), path, codec)
                            .await;
                        counts.record(&r);
                    }
                });
            }
            set.join_all().await;
        }
        "watch" => {
            let Some(ch) = ch().await else { return };
            let mut held = Vec::new();
            for _ in 0..500 {
                let r = pb::change_service_client::ChangeServiceClient::new(ch.clone())
                    .watch_changes(pb::WatchChangesRequest {
                        after_revision: 0,
                        ..Default::default()
                    })
                    .await;
                counts.record(&r);
                if let Ok(s) = r {
                    held.push(s);
                }
            }
            while !stop.load(Ordering::Relaxed) {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
        other => eprintln!("unknown attack {other}"),
    }
}

/// The largest FindSlots the server accepts: 50 leaders, 27 days by the minute, one venue.
fn largest_search() -> pb::FindSlotsRequest {
    pb::FindSlotsRequest {
        participants: (0..50)
            .map(|i| pb::SlotParticipant {
                participant_id: format!("leader-{i}"),
                ..Default::default()
            })
            .collect(),
        duration: Some(prost_types::Duration {
            seconds: 3600,
            nanos: 0,
        }),
        window: Some(pb::TimeWindow {
            start: "2031-01-01".into(),
            end: "2031-01-28".into(),
            time_zone: "Europe/Moscow".into(),
        }),
        venue_ids: vec!["attack-hall".into()],
        granularity: Some(prost_types::Duration {
            seconds: 60,
            nanos: 0,
        }),
        ..Default::default()
    }
}

/// `n` VEVENTs, each RELATED-TO the next.
fn chain(n: usize) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//attack//EN\r\n");
    let start = chrono::NaiveDate::from_ymd_opt(2032, 1, 1).expect("date");
    for i in 0..n {
        let d = (start + chrono::Days::new(i as u64)).format("%Y%m%d");
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:link-{i}\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:{d}T090000Z\r\n\
             DTEND:{d}T100000Z\r\nSUMMARY:Link {i}\r\nRELATED-TO:link-{}\r\nEND:VEVENT\r\n",
            i + 1
        ));
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

/// About `bytes` of all-day holidays, one a day from 1900.
fn holidays(bytes: usize) -> String {
    let mut ics = String::from("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//attack//EN\r\n");
    let mut day = chrono::NaiveDate::from_ymd_opt(1900, 1, 1).expect("date");
    while ics.len() < bytes {
        let d = day.format("%Y%m%d");
        ics.push_str(&format!(
            "BEGIN:VEVENT\r\nUID:h{d}\r\nDTSTART;VALUE=DATE:{d}\r\nSUMMARY:Holiday {d}\r\nEND:VEVENT\r\n"
        ));
        day = day.succ_opt().expect("next day");
    }
    ics.push_str("END:VCALENDAR\r\n");
    ics
}

/// The body length of an HTTP/1.1 GET of `path`, if answered 200 within 10 s.
async fn http_get(addr: &str, path: &str) -> Option<usize> {
    let call = async {
        let mut s = TcpStream::connect(addr).await.ok()?;
        let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        s.write_all(req.as_bytes()).await.ok()?;
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.ok()?;
        raw.starts_with(b"HTTP/1.1 200").then_some(raw.len())
    };
    tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .ok()
        .flatten()
}
