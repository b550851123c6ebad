//! Micro-benchmarks of the hot in-process paths: time conversion, the conflict check at
//! 10k / 100k / 1M stored events (its cost should grow like log n), and the record codec.
//!
//! `cargo bench -p entente-server --bench core`

use std::hint::black_box;

use chrono::NaiveDate;
use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use entente_server::Principal;
use entente_server::conflicts::{self, TravelSettings};
use entente_server::directory::{Participant, ParticipantInput, Role, Venue, VenueInput};
use entente_server::events::WriteOptions;
use entente_server::events::{
    Event, EventInput, EventKind, EventStatus, Timing, TimingInput, Visibility,
};
use entente_server::scheduler::{Meta, State};
use entente_server::storage;
use entente_server::time::{self, Disambiguation, Zoned};
use entente_server::{Scheduler, Settings};

const PARTICIPANTS: u32 = 1000;
const VENUES: u32 = 200;

fn zone(name: &str) -> chrono_tz::Tz {
    time::parse_zone(name).unwrap_or(chrono_tz::UTC)
}

fn event(id: u64, venue: u32, participants: Vec<u32>, start: i64, minutes: i64) -> Event {
    let z = zone("Europe/Moscow");
    let at = |t: i64| Zoned::from_instant(t, z).unwrap_or_else(|_| unreachable!("in range"));
    Event {
        id: format!("e{id}").into(),
        kind: EventKind::BilateralMeeting,
        title: format!("Bilateral {id}").into(),
        description: String::new(),
        venue_id: format!("v{venue}").into(),
        host_country: "RU".into(),
        forum_id: None,
        attendance: vec![entente_server::events::Attendance::Confirmed; participants.len()],
        participants: participants
            .into_iter()
            .map(|p| format!("p{p}").into())
            .collect(),
        status: EventStatus::Confirmed,
        parent_id: None,
        timing: Timing::Timed,
        start: at(start),
        end: at(start + minutes * 60),
        tzdb_version: time::TZDB_VERSION.into(),
        visibility: Visibility::Parties,
        owner_office: Default::default(),
        cancellation_reason: String::new(),
        overrides: Vec::new(),
        meta: Meta::new(0),
    }
}

/// A state with `n` confirmed events: participants and venues each busy back to back in
/// turn, like the shared workload's calendar, spread from 2025 on.
fn state(n: u64) -> State {
    let mut st = State::default();
    for p in 1..=PARTICIPANTS {
        st.participants.insert(
            format!("p{p}").into(),
            Participant {
                id: format!("p{p}"),
                display_name: format!("P{p}"),
                role: Role::HeadOfState,
                title: String::new(),
                country_code: "RU".into(),
                home_zone: zone("Europe/Moscow"),
                meta: Meta::new(0),
            },
        );
    }
    for v in 1..=VENUES {
        st.venues.insert(
            format!("v{v}").into(),
            Venue {
                id: format!("v{v}"),
                display_name: format!("V{v}"),
                city: "Moscow".into(),
                country_code: "RU".into(),
                zone: zone("Europe/Moscow"),
                location: None,
                meta: Meta::new(0),
            },
        );
    }
    let base = 1_735_689_600; // 2025-01-01
    for i in 0..n {
        // Each slot of 90 minutes holds PARTICIPANTS/2 meetings of two, so each
        // participant and venue has one meeting per slot at most.
        let per_slot = u64::from(PARTICIPANTS / 2);
        let slot = (i / per_slot) as i64;
        let k = (i % per_slot) as u32;
        let p = vec![2 * k + 1, 2 * k + 2];
        st.events
            .insert(event(i, k % VENUES + 1, p, base + slot * 5400, 90));
    }
    st
}

fn time_conversion(c: &mut Criterion) {
    let moscow = zone("Europe/Moscow");
    let ny = zone("America/New_York");
    let local = NaiveDate::from_ymd_opt(2024, 10, 22)
        .and_then(|d| d.and_hms_opt(10, 0, 0))
        .unwrap_or_default();
    let gap = NaiveDate::from_ymd_opt(2024, 3, 10)
        .and_then(|d| d.and_hms_opt(2, 30, 0))
        .unwrap_or_default();
    c.bench_function("time/resolve_local", |b| {
        b.iter(|| time::resolve(black_box(local), moscow, Disambiguation::Reject))
    });
    c.bench_function("time/resolve_gap_compatible", |b| {
        b.iter(|| time::resolve(black_box(gap), ny, Disambiguation::Compatible))
    });
    c.bench_function("time/parse_rfc9557", |b| {
        b.iter(|| time::parse_time(black_box("2024-10-22T10:00:00+03:00[Europe/Moscow]")))
    });
    let z = time::resolve(local, moscow, Disambiguation::Reject).unwrap_or_else(|_| unreachable!());
    let tehran = zone("Asia/Tehran");
    c.bench_function("time/render_in_zone", |b| {
        b.iter(|| black_box(z).in_zone(tehran).rfc9557())
    });
}

fn conflict_check(c: &mut Criterion) {
    let mut g = c.benchmark_group("conflicts/check");
    for n in [10_000u64, 100_000, 1_000_000] {
        let st = state(n);
        // A candidate in the middle of the stored range, clashing with one stored meeting.
        let mid = (n / u64::from(VENUES) / 2) as i64;
        let candidate = event(
            u64::MAX,
            7,
            vec![1, 999],
            1_735_689_600 + mid * 5400 + 1800,
            60,
        );
        let travel = TravelSettings::default();
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| conflicts::check(black_box(&st), black_box(&candidate), &travel))
        });
    }
    g.finish();
}

fn codec(c: &mut Criterion) {
    let e = event(42, 3, vec![1, 2, 3, 4], 1_735_689_600, 90);
    let bytes = storage::encode(&e);
    c.bench_function("codec/encode_event", |b| {
        b.iter(|| storage::encode(black_box(&e)))
    });
    c.bench_function("codec/decode_event", |b| {
        b.iter(|| storage::decode::<Event>(b"e/e42", black_box(&bytes)))
    });
}

/// A scheduler holding `n` conflict-free meetings of two, written through the public API.
async fn scheduler(n: u64) -> entente_server::Result<Scheduler> {
    let s = Scheduler::temporary(Settings::default())?;
    for p in 1..=PARTICIPANTS {
        s.create_participant(
            &Principal::system(),
            ParticipantInput {
                id: format!("p{p}"),
                display_name: format!("P{p}"),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
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
                display_name: format!("V{v}"),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                location: None,
                ..Default::default()
            },
        )
        .await?;
    }
    // One meeting per venue and slot, so nothing clashes.
    let per_slot = u64::from(VENUES);
    for i in 0..n {
        let (slot, k) = ((i / per_slot) as i64, (i % per_slot) as u32);
        let start = 1_735_689_600 + slot * 5400;
        let utc = |t: i64| {
            chrono::DateTime::from_timestamp(t, 0)
                .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
                .unwrap_or_default()
        };
        let input = EventInput {
            id: format!("e{i}"),
            kind: Some(EventKind::BilateralMeeting),
            title: format!("Bilateral {i}"),
            venue_id: format!("v{}", k % VENUES + 1),
            participant_ids: vec![format!("p{}", 2 * k + 1), format!("p{}", 2 * k + 2)],
            status: Some(EventStatus::Confirmed),
            timing: Some(TimingInput::Timed {
                start: utc(start),
                end: utc(start + 5400),
                time_zone: "Europe/Moscow".into(),
            }),
            ..Default::default()
        };
        s.create_event(&Principal::system(), input, WriteOptions::default())
            .await?;
    }
    Ok(s)
}

/// One CheckConflicts call as the server runs it, minus the network: decode the request,
/// the handler (validation, the check, the reply), encode the reply. Run against
/// `conflicts/check` above, it says how much of a served check is entente's own work.
fn rpc(c: &mut Criterion) {
    use entente_proto::v1 as pb;
    use entente_proto::v1::conflict_service_server::ConflictService;
    use prost::Message;
    let Ok(rt) = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    else {
        return;
    };
    let s = match rt.block_on(scheduler(10_000)) {
        Ok(s) => s,
        Err(e) => return eprintln!("rpc benchmarks skipped: {e}"),
    };
    let svc = entente_server::grpc::conflicts::Conflicts::new(s);
    let mut g = c.benchmark_group("rpc/check_conflicts");
    for (name, view) in [
        ("basic", pb::CheckView::Basic),
        ("full", pb::CheckView::Full),
    ] {
        // Participant 1 over the third slot: one clash, and a travel check skipped.
        let req = pb::CheckConflictsRequest {
            event: Some(Box::new(pb::Event {
                kind: pb::EventKind::Other as i32,
                title: "query".into(),
                venue_id: "v7".into(),
                participant_ids: vec!["p1".into()],
                status: pb::EventStatus::Confirmed as i32,
                timing: Some(pb::EventTiming {
                    span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                        start: "2025-01-01T03:30:00Z".into(),
                        end: "2025-01-01T04:30:00Z".into(),
                        time_zone: "UTC".into(),
                    })),
                }),
                ..Default::default()
            })),
            view: view as i32,
            ..Default::default()
        }
        .encode_to_vec();
        g.bench_function(name, |b| {
            b.iter(|| {
                let r = pb::CheckConflictsRequest::decode(black_box(&req[..]));
                let reply =
                    rt.block_on(svc.check_conflicts(tonic::Request::new(r.unwrap_or_default())));
                reply.map(|r| r.into_inner().encode_to_vec().len())
            })
        });
    }
    g.finish();
}

criterion_group!(benches, time_conversion, conflict_check, codec, rpc);
criterion_main!(benches);
