//! FindSlots against a brute-force oracle, and the working calendars it reads.
//!
//! The oracle knows nothing of the server's code: it reads the calendar back over gRPC and
//! judges every candidate by walking every minute of it on the wall clock of the zone
//! where each participant will be, as the proto documents. Worlds are random (a fixed
//! seed per case) around DST changes (Lord Howe's 30-minute shift, Sydney, New York,
//! Berlin) with participants who move between cities during the window.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{Datelike, NaiveDate, Offset, TimeZone, Timelike};
use chrono_tz::Tz;
use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{event, utc};

/// A small deterministic generator (xorshift64*), so a failing case can be replayed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
    fn pick<'a, T>(&mut self, xs: &'a [T]) -> &'a T {
        &xs[self.below(xs.len() as u64) as usize]
    }
}

struct VenueDef {
    id: &'static str,
    city: &'static str,
    country: &'static str,
    zone: &'static str,
    at: Option<(f64, f64)>,
}

const VENUES: &[VenueDef] = &[
    VenueDef {
        id: "msk",
        city: "Moscow",
        country: "RU",
        zone: "Europe/Moscow",
        at: Some((55.75, 37.62)),
    },
    VenueDef {
        id: "msk2",
        city: "moscow",
        country: "RU",
        zone: "Europe/Moscow",
        at: Some((55.70, 37.50)),
    },
    VenueDef {
        id: "kzn",
        city: "Kazan",
        country: "RU",
        zone: "Europe/Moscow",
        at: Some((55.79, 49.11)),
    },
    VenueDef {
        id: "thr",
        city: "Tehran",
        country: "IR",
        zone: "Asia/Tehran",
        at: Some((35.69, 51.39)),
    },
    VenueDef {
        id: "lhi",
        city: "Lord Howe Island",
        country: "AU",
        zone: "Australia/Lord_Howe",
        at: Some((-31.55, 159.08)),
    },
    VenueDef {
        id: "syd",
        city: "Sydney",
        country: "AU",
        zone: "Australia/Sydney",
        at: Some((-33.87, 151.21)),
    },
    VenueDef {
        id: "nyc",
        city: "New York",
        country: "US",
        zone: "America/New_York",
        at: Some((40.71, -74.0)),
    },
    VenueDef {
        id: "ber",
        city: "Berlin",
        country: "DE",
        zone: "Europe/Berlin",
        at: None,
    },
];

const PEOPLE: &[(&str, &str, &str)] = &[
    ("ru1", "RU", "Europe/Moscow"),
    ("ir1", "IR", "Asia/Tehran"),
    ("au1", "AU", "Australia/Lord_Howe"),
    ("us1", "US", "America/New_York"),
    ("sa1", "SA", "Asia/Riyadh"),
];

async fn directory(server: &TestServer) {
    let mut dir = server.directory();
    for (id, country, zone) in PEOPLE {
        dir.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: format!("Leader {id}"),
                country_code: country.to_string(),
                home_time_zone: zone.to_string(),
                ..Default::default()
            }),
            participant_id: id.to_string(),
            ..Default::default()
        })
        .await
        .expect("participant");
    }
    for v in VENUES {
        dir.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("Hall {}", v.id),
                city: v.city.into(),
                country_code: v.country.into(),
                time_zone: v.zone.into(),
                location: v.at.map(|(latitude, longitude)| pb::LatLng {
                    latitude,
                    longitude,
                }),
                ..Default::default()
            }),
            venue_id: v.id.into(),
            ..Default::default()
        })
        .await
        .expect("venue");
    }
}

/// An event as the oracle holds it.
#[derive(Debug, Clone)]
struct Ev {
    id: String,
    start: i64,
    end: i64,
    venue: String,
    live: bool,
    confirmed_event: bool,
    attendance: HashMap<String, i32>,
}

impl Ev {
    fn from_pb(e: &pb::Event) -> Ev {
        Ev {
            id: e.id.clone(),
            start: utc(&e.start),
            end: utc(&e.end),
            venue: e.venue_id.clone(),
            live: e.status != pb::EventStatus::Cancelled as i32,
            confirmed_event: e.status == pb::EventStatus::Confirmed as i32,
            attendance: e
                .attendance
                .iter()
                .map(|a| (a.participant_id.clone(), a.attendance))
                .collect(),
        }
    }

    /// `Some(confirmed?)` when it counts on `p`'s calendar.
    fn counts_for(&self, p: &str) -> Option<bool> {
        let a = *self.attendance.get(p)?;
        if !self.live || a == pb::Attendance::Declined as i32 {
            return None;
        }
        Some(self.confirmed_event && a == pb::Attendance::Confirmed as i32)
    }
}

/// A random calendar around `[from, to)`, written through gRPC; returns it as stored.
async fn calendar(server: &TestServer, rng: &mut Rng, from: i64, to: i64) -> Vec<Ev> {
    let mut events = server.events();
    let mut out = Vec::new();
    let n = 28 + rng.below(14);
    for i in 0..n {
        let v = rng.pick(VENUES);
        let start = from - 30 * 3600 + (rng.below(((to - from) / 60 + 60 * 60) as u64) as i64) * 60;
        let start = start - start.rem_euclid(300);
        let minutes = *rng.pick(&[30, 45, 60, 90, 120, 180, 300]);
        let mut who: Vec<&str> = vec![rng.pick(PEOPLE).0];
        if rng.chance(30) {
            let other = rng.pick(PEOPLE).0;
            if !who.contains(&other) {
                who.push(other);
            }
        }
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            &format!("Meeting {i}"),
            v.id,
            &who,
            None,
        );
        // Timed in UTC: a local wall time in a fold or gap would need disambiguation.
        e.timing = Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: format!("{}Z", utc_string(start)),
                end: format!("{}Z", utc_string(start + minutes * 60)),
                time_zone: String::new(),
            })),
        });
        e.status = if rng.chance(70) {
            pb::EventStatus::Confirmed
        } else {
            pb::EventStatus::Tentative
        } as i32;
        let id = format!("ev{i}");
        let mut stored = *events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(e)),
                event_id: id.clone(),
                allow_conflicts: true,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("event {id}: {e:?}"))
            .into_inner()
            .event
            .unwrap();
        if rng.chance(8) {
            stored = *events
                .cancel_event(pb::CancelEventRequest {
                    id: id.clone(),
                    reason: "test".into(),
                    ..Default::default()
                })
                .await
                .expect("cancel")
                .into_inner()
                .event
                .unwrap();
        } else if who.len() > 1 && rng.chance(30) {
            stored = *events
                .set_attendance(pb::SetAttendanceRequest {
                    event_id: id.clone(),
                    participant_id: who[1].into(),
                    attendance: pb::Attendance::Declined as i32,
                    allow_conflicts: true,
                    ..Default::default()
                })
                .await
                .expect("decline")
                .into_inner()
                .event
                .unwrap();
        }
        out.push(Ev::from_pb(&stored));
    }
    out
}

fn utc_string(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap()
        .naive_utc()
        .format("%Y-%m-%dT%H:%M:%S")
        .to_string()
}

/// Holidays and work weeks, random within the window; returns the oracle's view:
/// country → (working weekdays Monday = 0, date → statuses).
async fn work_calendars(
    server: &TestServer,
    rng: &mut Rng,
    from: i64,
) -> HashMap<String, (u8, BTreeMap<NaiveDate, Vec<i32>>)> {
    let mut cals = server.calendars();
    let first = chrono::DateTime::from_timestamp(from, 0)
        .unwrap()
        .date_naive();
    let mut out = HashMap::new();
    for (_, country, _) in PEOPLE {
        let mut holidays = Vec::new();
        for _ in 0..rng.below(3) {
            let date = first + chrono::Duration::days(rng.below(4) as i64);
            holidays.push(pb::Holiday {
                date: date.to_string(),
                name: format!("Day {}", rng.below(1000)),
                status: if rng.chance(50) {
                    pb::HolidayStatus::Official
                } else {
                    pb::HolidayStatus::Estimated
                } as i32,
            });
        }
        let days: Vec<i32> = if rng.chance(25) {
            (1..=7).filter(|_| rng.chance(70)).collect()
        } else {
            Vec::new()
        };
        let c = cals
            .update_work_calendar(pb::UpdateWorkCalendarRequest {
                work_calendar: Some(pb::WorkCalendar {
                    country_code: country.to_string(),
                    working_days: days,
                    holidays,
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec!["working_days".into(), "holidays".into()],
                }),
                ..Default::default()
            })
            .await
            .expect("calendar")
            .into_inner()
            .work_calendar
            .unwrap();
        let mut week = 0u8;
        for d in &c.working_days {
            week |= 1 << (d - 1);
        }
        let mut by_date: BTreeMap<NaiveDate, Vec<i32>> = BTreeMap::new();
        for h in &c.holidays {
            by_date
                .entry(h.date.parse().unwrap())
                .or_default()
                .push(h.status);
        }
        out.insert(country.to_string(), (week, by_date));
    }
    out
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum S {
    Hard,
    Soft,
    Off,
}

fn strength_pb(s: S) -> i32 {
    let s = match s {
        S::Hard => pb::ConstraintStrength::Hard,
        S::Soft => pb::ConstraintStrength::Soft,
        S::Off => pb::ConstraintStrength::Ignore,
    };
    s as i32
}

#[derive(Debug, Clone, Copy)]
struct Cons {
    hours: (i64, i64),
    hours_s: S,
    week: S,
    holidays: S,
    before: i64,
    after: i64,
    buffers: S,
    travel: S,
}

fn random_cons(rng: &mut Rng) -> Cons {
    let strengths = [S::Hard, S::Hard, S::Soft, S::Off];
    let hours = *rng.pick(&[
        (9 * 3600, 19 * 3600),
        (8 * 3600 + 1800, 17 * 3600 + 2700),
        (0, 86_400),
        (10 * 3600, 22 * 3600),
        // Edges inside Lord Howe's repeated half hour and New York's skipped hour.
        (3600 + 20 * 60, 2 * 3600 + 5 * 60),
        (3600, 2 * 3600 + 35 * 60),
    ]);
    Cons {
        hours,
        hours_s: *rng.pick(&strengths),
        week: *rng.pick(&strengths),
        holidays: *rng.pick(&strengths),
        before: *rng.pick(&[0, 0, 15, 30, 60]) * 60,
        after: *rng.pick(&[0, 0, 15, 45]) * 60,
        buffers: *rng.pick(&strengths),
        travel: *rng.pick(&strengths),
    }
}

fn cons_pb(c: &Cons) -> pb::SlotConstraints {
    let clock = |s: i64| {
        if s == 86_400 {
            "24:00".to_string()
        } else {
            format!("{:02}:{:02}", s / 3600, s % 3600 / 60)
        }
    };
    let secs = |s: i64| {
        Some(prost_types::Duration {
            seconds: s,
            nanos: 0,
        })
    };
    pb::SlotConstraints {
        working_hours: Some(pb::WorkingHours {
            start: clock(c.hours.0),
            end: clock(c.hours.1),
            strength: strength_pb(c.hours_s),
        }),
        work_week: strength_pb(c.week),
        holidays: strength_pb(c.holidays),
        buffer_before: secs(c.before),
        buffer_after: secs(c.after),
        buffers: strength_pb(c.buffers),
        travel: strength_pb(c.travel),
    }
}

fn km(a: (f64, f64), b: (f64, f64)) -> f64 {
    const R: f64 = 6371.0088;
    let (p1, p2) = (a.0.to_radians(), b.0.to_radians());
    let dp = p2 - p1;
    let dl = (b.1 - a.1).to_radians();
    let h = (dp / 2.0).sin().powi(2) + p1.cos() * p2.cos() * (dl / 2.0).sin().powi(2);
    2.0 * R * h.sqrt().min(1.0).asin()
}

/// Travel seconds by the default model (800 km/h plus two hours).
fn travel_secs(km: f64) -> i64 {
    (km / 800.0 * 3600.0).ceil() as i64 + 120 * 60
}

fn venue(id: &str) -> &'static VenueDef {
    VENUES.iter().find(|v| v.id == id).expect("known venue")
}

fn same_city(a: &VenueDef, b: &VenueDef) -> bool {
    a.id == b.id || (a.country == b.country && a.city.eq_ignore_ascii_case(b.city))
}

/// (status, hard) pairs.
type Issues = BTreeSet<(i32, bool)>;

struct Person {
    id: &'static str,
    country: &'static str,
    home: Tz,
    optional: bool,
    c: Cons,
}

/// The oracle: what `p` makes of `[s, s + d)` at `at`: the kinds of issues, the zone, whether
/// an offset change decides the hours, and how many soft issues it lists.
fn judge(
    p: &Person,
    at: Option<&VenueDef>,
    s: i64,
    d: i64,
    evs: &[Ev],
    cals: &HashMap<String, (u8, BTreeMap<NaiveDate, Vec<i32>>)>,
) -> (Issues, Tz, bool, u32) {
    use pb::SlotStatus as St;
    let e = s + d;
    let mut out = Issues::new();
    let mut soft = 0u32;
    let mine: Vec<(&Ev, bool)> = evs
        .iter()
        .filter_map(|x| x.counts_for(p.id).map(|c| (x, c)))
        .collect();
    for (x, confirmed) in &mine {
        if x.start < e && x.end > s {
            if *confirmed {
                out.insert((St::Busy as i32, true));
            } else {
                out.insert((St::SoftConflict as i32, false));
                soft += 1;
            }
        }
    }
    if p.c.buffers != S::Off {
        for (x, confirmed) in &mine {
            let touches = |a: i64, b: i64| a < b && x.start < b && x.end > a;
            let hard = p.c.buffers == S::Hard && *confirmed;
            for side in [touches(s - p.c.before, s), touches(e, e + p.c.after)] {
                if side {
                    out.insert((St::Buffer as i32, hard));
                    soft += u32::from(!hard);
                }
            }
        }
    }
    let prev = mine
        .iter()
        .filter(|(x, _)| x.end <= s)
        .max_by(|(a, _), (b, _)| {
            (a.end, a.start)
                .cmp(&(b.end, b.start))
                .then_with(|| b.id.cmp(&a.id))
        });
    let next = mine
        .iter()
        .filter(|(x, _)| x.start >= e)
        .min_by(|(a, _), (b, _)| (a.start, &a.id).cmp(&(b.start, &b.id)));
    if p.c.travel != S::Off
        && let Some(here) = at
        && let Some(a) = here.at
    {
        for (other, earlier) in [(prev, true), (next, false)] {
            let Some((x, confirmed)) = other else {
                continue;
            };
            let there = venue(&x.venue);
            let Some(b) = there.at else { continue };
            if same_city(here, there) {
                continue;
            }
            let gap = if earlier { s - x.end } else { x.start - e };
            if gap < travel_secs(km(a, b)) {
                let hard = p.c.travel == S::Hard && *confirmed;
                out.insert((St::TravelTight as i32, hard));
                soft += u32::from(!hard);
            }
        }
    }
    let zone: Tz = match at {
        Some(v) => v.zone.parse().unwrap(),
        None => {
            if let Some((x, _)) = prev.filter(|(x, _)| s - x.end <= 86_400) {
                venue(&x.venue).zone.parse().unwrap()
            } else if let Some((x, _)) = next.filter(|(x, _)| x.start - e <= 86_400) {
                venue(&x.venue).zone.parse().unwrap()
            } else {
                p.home
            }
        }
    };
    // Every minute of the slot on the wall clock.
    let (week, holidays) = &cals[p.country];
    let first_day = zone.timestamp_opt(s, 0).unwrap().date_naive();
    let mut inside = true;
    let mut weekend = false;
    // (day, official) of each day's holidays.
    let mut on_holidays: BTreeSet<(NaiveDate, bool)> = BTreeSet::new();
    let mut days_seen = BTreeSet::new();
    for m in (s..e).step_by(60) {
        let local = zone.timestamp_opt(m, 0).unwrap().naive_local();
        let tod = i64::from(local.time().num_seconds_from_midnight());
        if local.date() != first_day || tod < p.c.hours.0 || tod + 60 > p.c.hours.1 {
            inside = false;
        }
        if days_seen.insert(local.date()) {
            if week & (1 << local.weekday().num_days_from_monday()) == 0 {
                weekend = true;
            }
            for status in holidays.get(&local.date()).into_iter().flatten() {
                on_holidays.insert((local.date(), *status == pb::HolidayStatus::Official as i32));
            }
        }
    }
    // Whether reading the slot as one stretch at its start's offset would judge the hours
    // otherwise (it does when the slot crosses a change near the hours' edges).
    let offset = i64::from(
        zone.timestamp_opt(s, 0)
            .unwrap()
            .offset()
            .fix()
            .local_minus_utc(),
    );
    let naive_start = s + offset
        - first_day
            .and_hms_opt(0, 0, 0)
            .unwrap()
            .and_utc()
            .timestamp();
    let naive_inside = naive_start >= p.c.hours.0 && naive_start + d <= p.c.hours.1;
    if p.c.hours_s != S::Off && !inside {
        out.insert((St::OutsideHours as i32, p.c.hours_s == S::Hard));
        soft += u32::from(p.c.hours_s != S::Hard);
    }
    if p.c.week != S::Off && weekend {
        out.insert((St::Weekend as i32, p.c.week == S::Hard));
        soft += u32::from(p.c.week != S::Hard);
    }
    if p.c.holidays != S::Off {
        for (_, official) in on_holidays {
            let hard = p.c.holidays == S::Hard && official;
            out.insert((St::Holiday as i32, hard));
            soft += u32::from(!hard);
        }
    }
    (out, zone, naive_inside != inside, soft)
}

/// The venue's issues, and how many of them are soft.
fn venue_issues(v: Option<&VenueDef>, s: i64, d: i64, evs: &[Ev]) -> (Issues, u32) {
    let mut out = Issues::new();
    let mut soft = 0;
    let Some(v) = v else { return (out, soft) };
    for x in evs {
        if x.live && x.venue == v.id && x.start < s + d && x.end > s {
            out.insert((pb::SlotStatus::VenueBusy as i32, x.confirmed_event));
            soft += u32::from(!x.confirmed_event);
        }
    }
    (out, soft)
}

fn hard_kinds(issues: &Issues) -> BTreeSet<i32> {
    issues.iter().filter(|(_, h)| *h).map(|(k, _)| *k).collect()
}

/// One random search, checked against the oracle.
/// A random world: its window, its events and its working calendars.
struct World {
    from: i64,
    to: i64,
    evs: Vec<Ev>,
    cals: HashMap<String, (u8, BTreeMap<NaiveDate, Vec<i32>>)>,
}

async fn one_search(
    server: &TestServer,
    rng: &mut Rng,
    case: &str,
    world: &World,
    seen: &mut BTreeSet<String>,
) {
    let (from, to, evs, cals) = (world.from, world.to, &world.evs, &world.cals);
    // Who, and what they ask.
    let mut chosen: Vec<&(&str, &str, &str)> = Vec::new();
    let n = 2 + rng.below(2);
    while chosen.len() < n as usize {
        let p = rng.pick(PEOPLE);
        if !chosen.iter().any(|c| c.0 == p.0) {
            chosen.push(p);
        }
    }
    let defaults = random_cons(rng);
    let mut people = Vec::new();
    let mut request = Vec::new();
    for (i, (id, country, home)) in chosen.iter().enumerate() {
        let own = rng.chance(30).then(|| random_cons(rng));
        let optional = i > 0 && rng.chance(30);
        people.push(Person {
            id,
            country,
            home: home.parse().unwrap(),
            optional,
            c: own.unwrap_or(defaults),
        });
        request.push(pb::SlotParticipant {
            participant_id: id.to_string(),
            optional,
            constraints: own.as_ref().map(cons_pb),
        });
    }
    // Where.
    let (venue_ids, city, places): (Vec<String>, String, Vec<Option<&VenueDef>>) =
        match rng.below(4) {
            0 => (Vec::new(), String::new(), vec![None]),
            1 => (
                Vec::new(),
                "MOSCOW".into(),
                vec![Some(venue("msk")), Some(venue("msk2"))],
            ),
            _ => {
                let mut ids = Vec::new();
                for _ in 0..1 + rng.below(2) {
                    let v = rng.pick(VENUES).id;
                    if !ids.contains(&v) {
                        ids.push(v);
                    }
                }
                (
                    ids.iter().map(|v| v.to_string()).collect(),
                    String::new(),
                    ids.iter().map(|v| Some(venue(v))).collect(),
                )
            }
        };
    let d = *rng.pick(&[30i64, 45, 60, 90]) * 60;
    let g = *rng.pick(&[1i64, 5, 15]) * 60;
    let r = server
        .calendars()
        .find_slots(pb::FindSlotsRequest {
            participants: request,
            duration: Some(prost_types::Duration {
                seconds: d,
                nanos: 0,
            }),
            window: Some(pb::TimeWindow {
                start: format!("{}Z", utc_string(from)),
                end: format!("{}Z", utc_string(to)),
                time_zone: String::new(),
            }),
            venue_ids,
            city,
            constraints: Some(cons_pb(&defaults)),
            granularity: Some(prost_types::Duration {
                seconds: g,
                nanos: 0,
            }),
            max_results: 100,
            ..Default::default()
        })
        .await
        .unwrap_or_else(|e| panic!("{case}: {e:?}"))
        .into_inner();

    // The oracle.
    let starts = (to - d - from) / g + 1;
    let mut fitting = Vec::new();
    let mut excluded: BTreeMap<(String, i32), i32> = BTreeMap::new();
    let mut judged = HashMap::new();
    for k in 0..starts {
        let s = from + k * g;
        for (vi, place) in places.iter().enumerate() {
            let (vis, venue_soft) = venue_issues(*place, s, d, evs);
            let mut ok = true;
            if !hard_kinds(&vis).is_empty() {
                ok = false;
                *excluded
                    .entry((
                        place.unwrap().id.to_string(),
                        pb::SlotStatus::VenueBusy as i32,
                    ))
                    .or_default() += 1;
            }
            let mut soft = venue_soft;
            let mut optional = 0;
            let mut each = Vec::new();
            for p in &people {
                let (issues, zone, dst_matters, own_soft) = judge(p, *place, s, d, evs, cals);
                let hard = hard_kinds(&issues);
                if dst_matters && p.c.hours_s != S::Off {
                    seen.insert("a slot whose hours an offset change decides".into());
                }
                if p.optional {
                    if hard.is_empty() {
                        optional += 1;
                        soft += own_soft;
                    }
                } else {
                    if !hard.is_empty() {
                        ok = false;
                    }
                    for h in hard {
                        *excluded.entry((p.id.to_string(), h)).or_default() += 1;
                    }
                    soft += own_soft;
                }
                each.push((issues, zone));
            }
            if ok {
                fitting.push((soft, std::cmp::Reverse(optional), k, vi));
                judged.insert((k, vi), (vis, each));
            }
        }
    }
    fitting.sort();
    let what = format!(
        "{case}: d={d} g={g} places={:?} people={:?}",
        places.iter().map(|p| p.map(|p| p.id)).collect::<Vec<_>>(),
        people
            .iter()
            .map(|p| (p.id, p.optional, p.c))
            .collect::<Vec<_>>()
    );
    assert_eq!(r.candidates as i64, starts * places.len() as i64, "{what}");
    assert_eq!(r.fitting as usize, fitting.len(), "{what}");
    let got_excluded: BTreeMap<(String, i32), i32> = r
        .diagnostics
        .iter()
        .map(|x| {
            let who = if x.participant_id.is_empty() {
                x.venue_id.clone()
            } else {
                x.participant_id.clone()
            };
            ((who, x.constraint), x.excluded_candidates)
        })
        .collect();
    assert_eq!(got_excluded, excluded, "{what}");
    for x in &r.diagnostics {
        seen.insert(format!(
            "excluded {:?}",
            pb::SlotStatus::try_from(x.constraint)
        ));
    }
    assert_eq!(r.slots.len(), fitting.len().min(100), "{what}");
    for (slot, (soft, optional, k, vi)) in r.slots.iter().zip(&fitting) {
        let s = from + k * g;
        assert_eq!(utc(&slot.start), s, "{what}");
        assert_eq!(utc(&slot.end), s + d, "{what}");
        assert_eq!(
            slot.venue_id,
            places[*vi].map_or("", |v| v.id),
            "{what} at {}",
            utc_string(s)
        );
        assert_eq!(
            slot.soft_violations,
            *soft as i32,
            "{what} at {}",
            utc_string(s)
        );
        // And it is what the slot lists: every SOFT issue of the venue, of the required
        // participants and of the optional ones who can come.
        let soft_listed = |issues: &[pb::SlotIssue]| {
            issues
                .iter()
                .filter(|i| i.strength == pb::ConstraintStrength::Soft as i32)
                .count()
        };
        let listed = soft_listed(&slot.venue_issues)
            + slot
                .attendees
                .iter()
                .filter(|a| !a.optional || a.available)
                .map(|a| soft_listed(&a.issues))
                .sum::<usize>();
        assert_eq!(slot.soft_violations as usize, listed, "{what}");
        assert_eq!(
            slot.optional_available,
            optional.0,
            "{what} at {}",
            utc_string(s)
        );
        let (vis, each) = &judged[&(*k, *vi)];
        let got: Issues = slot
            .venue_issues
            .iter()
            .map(|i| (i.status, i.strength == pb::ConstraintStrength::Hard as i32))
            .collect();
        assert_eq!(&got, vis, "{what} at {}", utc_string(s));
        for (a, (issues, zone)) in slot.attendees.iter().zip(each) {
            let got: Issues = a
                .issues
                .iter()
                .map(|i| (i.status, i.strength == pb::ConstraintStrength::Hard as i32))
                .collect();
            assert_eq!(
                &got,
                issues,
                "{what}: {} at {} ({:?})",
                a.participant_id,
                utc_string(s),
                a.issues
            );
            assert_eq!(a.available, hard_kinds(issues).is_empty(), "{what}");
            for (k, hard) in issues {
                seen.insert(format!("{:?} {hard}", pb::SlotStatus::try_from(*k)));
            }
            let home = PEOPLE.iter().find(|p| p.0 == a.participant_id).unwrap().2;
            if places[*vi].is_none() && zone.name() != home {
                seen.insert("away from home without a venue".into());
            }

            assert_eq!(
                a.local_start.as_ref().map(|z| z.time_zone.as_str()),
                Some(zone.name()),
                "{what}: {} at {}",
                a.participant_id,
                utc_string(s)
            );
            assert!(
                a.issues.iter().all(|i| !i.description.is_empty()),
                "{:?}",
                a.issues
            );
        }
    }
}

/// Runs `searches` random searches over one random world; returns what they exercised.
async fn oracle_case(
    case: &str,
    seed: u64,
    from: &str,
    to: &str,
    searches: usize,
) -> BTreeSet<String> {
    let from = chrono::DateTime::parse_from_rfc3339(from)
        .unwrap()
        .timestamp();
    let to = chrono::DateTime::parse_from_rfc3339(to)
        .unwrap()
        .timestamp();
    let server = TestServer::start().await;
    directory(&server).await;
    let mut rng = Rng(seed);
    let evs = calendar(&server, &mut rng, from, to).await;
    let cals = work_calendars(&server, &mut rng, from).await;
    let world = World {
        from,
        to,
        evs,
        cals,
    };
    let mut seen = BTreeSet::new();
    for i in 0..searches {
        one_search(
            &server,
            &mut rng,
            &format!("{case} #{i}"),
            &world,
            &mut seen,
        )
        .await;
    }
    seen
}

/// Every kind of finding, hard and soft, came up in `seen` (so the oracle was not
/// agreeing about nothing).
fn covers(seen: &BTreeSet<String>, wanted: &[&str]) {
    for w in wanted {
        assert!(
            seen.contains(*w),
            "no search exercised {w:?}; seen: {seen:#?}"
        );
    }
}

const EVERY_KIND: &[&str] = &[
    "Ok(Busy) true",
    "Ok(SoftConflict) false",
    "Ok(Buffer) true",
    "Ok(Buffer) false",
    "Ok(TravelTight) true",
    "Ok(TravelTight) false",
    "Ok(OutsideHours) false",
    "Ok(Weekend) false",
    "Ok(Holiday) false",
    "excluded Ok(Busy)",
    "excluded Ok(Buffer)",
    "excluded Ok(TravelTight)",
    "excluded Ok(OutsideHours)",
    "excluded Ok(Weekend)",
    "excluded Ok(VenueBusy)",
    "away from home without a venue",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_slots_agrees_with_a_brute_force_oracle() {
    let (lord_howe, new_york, week) = tokio::join!(
        // 2024-04-07: Sydney falls back an hour at 03:00, Lord Howe half an hour at 02:00.
        oracle_case(
            "lord howe",
            0x5eed_0001,
            "2024-04-05T12:00:00Z",
            "2024-04-07T18:00:00Z",
            24,
        ),
        // 2024-03-10 02:00 in New York becomes 03:00.
        oracle_case(
            "new york",
            0x5eed_0002,
            "2024-03-09T06:00:00Z",
            "2024-03-11T06:00:00Z",
            24,
        ),
        // Berlin falls back on 2024-10-27; leaders move between Moscow, Kazan, Tehran,
        // Sydney and New York during the week.
        oracle_case(
            "week",
            0x5eed_0003,
            "2024-10-24T00:00:00Z",
            "2024-10-29T00:00:00Z",
            16,
        ),
    );
    covers(&lord_howe, &["a slot whose hours an offset change decides"]);
    covers(&new_york, &["a slot whose hours an offset change decides"]);
    let all: BTreeSet<String> = lord_howe.into_iter().chain(new_york).chain(week).collect();
    covers(&all, EVERY_KIND);
}

fn mins(m: i64) -> Option<prost_types::Duration> {
    Some(prost_types::Duration {
        seconds: m * 60,
        nanos: 0,
    })
}

fn who(ids: &[&str]) -> Vec<pb::SlotParticipant> {
    ids.iter()
        .map(|p| pb::SlotParticipant {
            participant_id: p.to_string(),
            ..Default::default()
        })
        .collect()
}

/// The local start times of the slots found, in the view zone.
fn starts(r: &pb::FindSlotsResponse) -> Vec<String> {
    r.slots
        .iter()
        .map(|s| s.start.as_ref().unwrap().local_time.clone())
        .collect()
}

#[tokio::test]
async fn friday_is_a_working_day_in_moscow_and_not_in_tehran() {
    let server = TestServer::start().await;
    directory(&server).await;
    let mut cal = server.calendars();
    // CLDR's weeks, with nothing stored.
    let ir = cal
        .get_work_calendar(pb::GetWorkCalendarRequest {
            country_code: "ir".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .work_calendar
        .unwrap();
    assert_eq!(ir.working_days, [1, 2, 3, 4, 6, 7]);
    assert_eq!(ir.work_week_source, pb::WorkWeekSource::Cldr as i32);
    assert!(ir.etag.is_empty());
    // Friday 2024-10-25, 09:00–19:00 in Moscow (where both are, at the venue).
    let friday = |people: &[&str]| pb::FindSlotsRequest {
        participants: who(people),
        duration: mins(60),
        window: Some(pb::TimeWindow {
            start: "2024-10-25T09:00".into(),
            end: "2024-10-25T19:00".into(),
            time_zone: "Europe/Moscow".into(),
        }),
        venue_ids: vec!["msk".into()],
        granularity: mins(60),
        ..Default::default()
    };
    let ru = cal.find_slots(friday(&["ru1"])).await.unwrap().into_inner();
    assert_eq!(starts(&ru)[0], "2024-10-25T09:00:00");
    assert_eq!(ru.fitting, 10);
    let ir = cal
        .find_slots(friday(&["ru1", "ir1"]))
        .await
        .unwrap()
        .into_inner();
    assert!(ir.slots.is_empty(), "{:?}", ir.slots);
    assert_eq!(ir.fitting, 0);
    let why = &ir.diagnostics[0];
    assert_eq!(
        (
            why.participant_id.as_str(),
            why.constraint,
            why.excluded_candidates
        ),
        ("ir1", pb::SlotStatus::Weekend as i32, 10)
    );
    assert!(why.description.contains("work week"), "{why:?}");
    // Soft, the Friday slots come back, each saying why.
    let mut soft = friday(&["ru1", "ir1"]);
    soft.constraints = Some(pb::SlotConstraints {
        work_week: pb::ConstraintStrength::Soft as i32,
        ..Default::default()
    });
    let r = cal.find_slots(soft).await.unwrap().into_inner();
    assert_eq!(r.slots.len(), 10);
    let iranian = &r.slots[0].attendees[1];
    assert_eq!(iranian.status, pb::SlotStatus::Weekend as i32);
    assert!(
        iranian.issues[0].description.contains("Fri 2024-10-25"),
        "{:?}",
        iranian.issues
    );
    assert_eq!(r.slots[0].attendees[0].status, pb::SlotStatus::Free as i32);
    assert_eq!(r.slots[0].soft_violations, 1);
}

#[tokio::test]
async fn an_estimated_holiday_is_soft_and_an_official_one_hard() {
    let server = TestServer::start().await;
    directory(&server).await;
    let mut cal = server.calendars();
    let ics = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//t//EN\r\n\
        BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240826\r\n\
        SUMMARY:Arbaeen\r\nSTATUS:TENTATIVE\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:b\r\nDTSTAMP:20240101T000000Z\r\nDTSTART;VALUE=DATE:20240827\r\n\
        DTEND;VALUE=DATE:20240829\r\nSUMMARY:Martyrdom\r\nEND:VEVENT\r\n\
        BEGIN:VEVENT\r\nUID:c\r\nDTSTAMP:20240101T000000Z\r\nDTSTART:20240830T100000Z\r\n\
        SUMMARY:Not a holiday\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let imported = cal
        .import_holidays(pb::ImportHolidaysRequest {
            country_code: "IR".into(),
            icalendar: ics.into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(imported.imported, 3);
    assert_eq!(imported.skipped.len(), 1, "{:?}", imported.skipped);
    let c = imported.work_calendar.unwrap();
    assert_eq!(
        c.holidays
            .iter()
            .map(|h| format!("{} {} {}", h.date, h.name, h.status))
            .collect::<Vec<_>>(),
        [
            "2024-08-26 Arbaeen 2",
            "2024-08-27 Martyrdom 1",
            "2024-08-28 Martyrdom 1"
        ]
    );
    // Monday 26 (estimated) to Wednesday 28 (official), noon in Tehran.
    let days = |from: &str, to: &str| pb::FindSlotsRequest {
        participants: who(&["ir1"]),
        duration: mins(60),
        window: Some(pb::TimeWindow {
            start: format!("{from}T12:00"),
            end: format!("{to}T13:00"),
            time_zone: "Asia/Tehran".into(),
        }),
        venue_ids: vec!["thr".into()],
        granularity: mins(24 * 60),
        ..Default::default()
    };
    let r = cal
        .find_slots(days("2024-08-25", "2024-08-28"))
        .await
        .unwrap()
        .into_inner();
    // Sunday 25 is free; Monday 26 is offered but ranked after it; 27 and 28 are not.
    assert_eq!(
        starts(&r),
        ["2024-08-25T12:00:00+04:30", "2024-08-26T12:00:00+04:30"].map(|s| s[..19].to_string())
    );
    let monday = &r.slots[1].attendees[0];
    assert_eq!(monday.status, pb::SlotStatus::Holiday as i32);
    assert_eq!(
        monday.issues[0].strength,
        pb::ConstraintStrength::Soft as i32
    );
    assert!(monday.issues[0].description.contains("Arbaeen"));
    assert!(monday.issues[0].description.contains("estimated"));
    assert_eq!(r.fitting, 2);
}

#[tokio::test]
async fn sidelines_slots_lie_inside_the_parent_at_venues_in_its_city() {
    let server = TestServer::start().await;
    directory(&server).await;
    let mut events = server.events();
    // A summit at the Kazan venue, with both leaders in it all along.
    let mut summit = event(
        pb::EventKind::Summit,
        "Summit",
        "kzn",
        &["ru1", "ir1"],
        entente_tests::fixtures::days("2024-10-22", "2024-10-23"),
    );
    summit.status = pb::EventStatus::Confirmed as i32;
    entente_tests::fixtures::create(&mut events, "summit", summit).await;
    // A second Kazan venue, and one in Moscow that is not in the parent's city.
    let mut dir = server.directory();
    dir.create_venue(pb::CreateVenueRequest {
        venue: Some(pb::Venue {
            display_name: "Kremlin of Kazan".into(),
            city: "Kazan".into(),
            country_code: "RU".into(),
            time_zone: "Europe/Moscow".into(),
            ..Default::default()
        }),
        venue_id: "kzn-kremlin".into(),
        ..Default::default()
    })
    .await
    .unwrap();
    // A bilateral already on the sidelines at the first venue, 10:00–12:00 on the 22nd.
    let mut b = event(
        pb::EventKind::BilateralMeeting,
        "Another bilateral",
        "kzn",
        &["sa1"],
        entente_tests::fixtures::timed("2024-10-22T10:00", "2024-10-22T12:00"),
    );
    b.parent_event_id = "summit".into();
    b.status = pb::EventStatus::Confirmed as i32;
    entente_tests::fixtures::create(&mut events, "other", b).await;
    let mut cal = server.calendars();
    let r = cal
        .find_slots(pb::FindSlotsRequest {
            participants: who(&["ru1", "ir1"]),
            duration: mins(45),
            parent_event_id: "summit".into(),
            granularity: mins(60),
            max_results: 100,
            view_zone: "Europe/Moscow".into(),
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    // Two days of 09:00–19:00 hours, two venues, minus the kzn hall at 10:00 and 11:00
    // on the 22nd; the summit itself never blocks.
    assert_eq!(r.candidates, 2 * 24 * 2);
    assert_eq!(r.fitting, 2 * 10 * 2 - 2, "{:?}", r.diagnostics);
    let first = chrono::DateTime::parse_from_rfc3339("2024-10-22T00:00:00+03:00")
        .unwrap()
        .timestamp();
    let last = chrono::DateTime::parse_from_rfc3339("2024-10-24T00:00:00+03:00")
        .unwrap()
        .timestamp();
    for s in &r.slots {
        assert!(utc(&s.start) >= first && utc(&s.end) <= last, "{s:?}");
        assert!(
            ["kzn", "kzn-kremlin"].contains(&s.venue_id.as_str()),
            "{s:?}"
        );
        assert!(
            !(s.venue_id == "kzn"
                && ["2024-10-22T10:00:00", "2024-10-22T11:00:00"]
                    .contains(&s.start.as_ref().unwrap().local_time.as_str())),
            "{s:?}"
        );
        assert!(s.conflicts.is_empty(), "{:?}", s.conflicts);
    }
    // Venues outside the parent's city are refused.
    let e = cal
        .find_slots(pb::FindSlotsRequest {
            participants: who(&["ru1"]),
            duration: mins(45),
            parent_event_id: "summit".into(),
            venue_ids: vec!["msk".into()],
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::InvalidArgument);
    assert!(e.message().contains("Kazan"), "{}", e.message());
}

#[tokio::test]
async fn a_found_slot_is_booked_only_at_the_revision_it_was_found() {
    let server = TestServer::start().await;
    directory(&server).await;
    let mut cal = server.calendars();
    let found = cal
        .find_slots(pb::FindSlotsRequest {
            participants: who(&["ru1", "ir1"]),
            duration: mins(60),
            window: Some(pb::TimeWindow {
                start: "2024-10-28".into(),
                end: "2024-10-29".into(),
                time_zone: "Europe/Moscow".into(),
            }),
            venue_ids: vec!["msk".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(starts(&found)[0], "2024-10-28T09:00:00");
    let slot = &found.slots[0];
    let book = |id: &str, revision: i64| pb::CreateEventRequest {
        event: Some(Box::new(event(
            pb::EventKind::BilateralMeeting,
            "Talks",
            "msk",
            &["ru1", "ir1"],
            entente_tests::fixtures::timed(
                &slot.start.as_ref().unwrap().local_time,
                &slot.end.as_ref().unwrap().local_time,
            ),
        ))),
        event_id: id.into(),
        expected_revision: Some(revision),
        ..Default::default()
    };
    // Something else is written first: the booking at the old revision is refused.
    server
        .directory()
        .create_country(pb::CreateCountryRequest {
            country: Some(pb::Country {
                code: "FR".into(),
                ..Default::default()
            }),
            ..Default::default()
        })
        .await
        .unwrap();
    let e = server
        .events()
        .create_event(book("talks", found.revision))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Aborted, "{e:?}");
    assert!(
        e.message().contains("changed since revision"),
        "{}",
        e.message()
    );
    // Found again, booked at that revision.
    let again = cal
        .find_slots(pb::FindSlotsRequest {
            participants: who(&["ru1", "ir1"]),
            duration: mins(60),
            window: Some(pb::TimeWindow {
                start: "2024-10-28".into(),
                end: "2024-10-29".into(),
                time_zone: "Europe/Moscow".into(),
            }),
            venue_ids: vec!["msk".into()],
            ..Default::default()
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(again.revision, found.revision + 1);
    server
        .events()
        .create_event(book("talks", again.revision))
        .await
        .unwrap();
}

#[tokio::test]
async fn bad_searches_get_precise_errors() {
    let server = TestServer::start().await;
    directory(&server).await;
    let mut cal = server.calendars();
    let base = || pb::FindSlotsRequest {
        participants: who(&["ru1"]),
        duration: mins(60),
        window: Some(pb::TimeWindow {
            start: "2024-10-28".into(),
            end: "2024-10-29".into(),
            time_zone: "Europe/Moscow".into(),
        }),
        ..Default::default()
    };
    let cases: Vec<(pb::FindSlotsRequest, tonic::Code, &str)> = vec![
        (
            pb::FindSlotsRequest {
                participants: vec![],
                ..base()
            },
            tonic::Code::InvalidArgument,
            "participants",
        ),
        (
            pb::FindSlotsRequest {
                participants: who(&["nobody"]),
                ..base()
            },
            tonic::Code::NotFound,
            "participants[0].participant_id",
        ),
        (
            pb::FindSlotsRequest {
                duration: None,
                ..base()
            },
            tonic::Code::InvalidArgument,
            "duration",
        ),
        (
            pb::FindSlotsRequest {
                duration: mins(2 * 24 * 60),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "duration",
        ),
        (
            pb::FindSlotsRequest {
                window: None,
                ..base()
            },
            tonic::Code::InvalidArgument,
            "window",
        ),
        (
            pb::FindSlotsRequest {
                constraints: Some(pb::SlotConstraints {
                    working_hours: Some(pb::WorkingHours {
                        start: "19:00".into(),
                        end: "09:00".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "constraints.working_hours",
        ),
        (
            pb::FindSlotsRequest {
                constraints: Some(pb::SlotConstraints {
                    working_hours: Some(pb::WorkingHours {
                        start: "9h".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "constraints.working_hours.start",
        ),
        (
            pb::FindSlotsRequest {
                granularity: Some(prost_types::Duration {
                    seconds: 90,
                    nanos: 0,
                }),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "granularity",
        ),
        (
            pb::FindSlotsRequest {
                max_results: 1000,
                ..base()
            },
            tonic::Code::InvalidArgument,
            "max_results",
        ),
        (
            pb::FindSlotsRequest {
                parent_event_id: "nothing".into(),
                ..base()
            },
            tonic::Code::NotFound,
            "parent_event_id",
        ),
        (
            pb::FindSlotsRequest {
                city: "Atlantis".into(),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "city",
        ),
        (
            pb::FindSlotsRequest {
                window: Some(pb::TimeWindow {
                    start: "2024-01-01".into(),
                    end: "2024-12-31".into(),
                    time_zone: String::new(),
                }),
                ..base()
            },
            tonic::Code::InvalidArgument,
            "window",
        ),
    ];
    for (req, code, field) in cases {
        let e = cal.find_slots(req).await.unwrap_err();
        assert_eq!(e.code(), code, "{field}: {e:?}");
        if code == tonic::Code::InvalidArgument {
            assert_eq!(
                entente_tests::fixtures::bad_fields(&e),
                [field],
                "{}",
                e.message()
            );
        }
    }
}

#[tokio::test]
async fn each_office_edits_its_own_countrys_calendar() {
    use entente_tests::offices::{self, as_};
    let tokens = [
        ("ir-editor", "IR", "EDITOR"),
        ("ir-reader", "IR", "READER"),
        ("ru-editor", "RU", "EDITOR"),
        ("admin", "protocol-it", "ADMIN"),
    ];
    let server = TestServer::start_with_access(offices::access(&tokens, "")).await;
    let update = |code: &str, etag: &str| pb::UpdateWorkCalendarRequest {
        work_calendar: Some(pb::WorkCalendar {
            country_code: code.into(),
            working_days: vec![6, 7, 1, 2, 3],
            etag: etag.into(),
            ..Default::default()
        }),
        update_mask: None,
        ..Default::default()
    };
    let stored = as_(&server, "ir-editor")
        .calendars
        .update_work_calendar(update("IR", ""))
        .await
        .unwrap()
        .into_inner()
        .work_calendar
        .unwrap();
    assert_eq!(stored.working_days, [1, 2, 3, 6, 7]);
    assert_eq!(stored.work_week_source, pb::WorkWeekSource::Office as i32);
    assert_eq!(stored.etag, "r1");
    for (token, code) in [
        ("ru-editor", "IR"),
        ("ir-reader", "IR"),
        ("ir-editor", "RU"),
    ] {
        let e = as_(&server, token)
            .calendars
            .update_work_calendar(update(code, ""))
            .await
            .unwrap_err();
        assert_eq!(e.code(), tonic::Code::PermissionDenied, "{token} {code}");
        let e = as_(&server, token)
            .calendars
            .import_holidays(pb::ImportHolidaysRequest {
                country_code: code.into(),
                icalendar: "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\n\
                            BEGIN:VEVENT\r\nUID:h\r\nDTSTART;VALUE=DATE:20250101\r\n\
                            SUMMARY:New Year\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"
                    .into(),
                ..Default::default()
            })
            .await
            .unwrap_err();
        assert_eq!(
            e.code(),
            tonic::Code::PermissionDenied,
            "import {token} {code}"
        );
    }
    // A stale etag is ABORTED; the admin may edit any country.
    let e = as_(&server, "ir-editor")
        .calendars
        .update_work_calendar(update("IR", "r7"))
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::Aborted);
    as_(&server, "admin")
        .calendars
        .update_work_calendar(update("RU", ""))
        .await
        .unwrap();
    let listed = as_(&server, "ir-reader")
        .calendars
        .list_work_calendars(pb::ListWorkCalendarsRequest::default())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(
        listed
            .work_calendars
            .iter()
            .map(|c| c.country_code.as_str())
            .collect::<Vec<_>>(),
        ["IR", "RU"]
    );
    // Deleting restores CLDR's week.
    let e = as_(&server, "ru-editor")
        .calendars
        .delete_work_calendar(pb::DeleteWorkCalendarRequest {
            country_code: "IR".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .unwrap_err();
    assert_eq!(e.code(), tonic::Code::PermissionDenied);
    as_(&server, "ir-editor")
        .calendars
        .delete_work_calendar(pb::DeleteWorkCalendarRequest {
            country_code: "IR".into(),
            etag: "r1".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let back = as_(&server, "ru-editor")
        .calendars
        .get_work_calendar(pb::GetWorkCalendarRequest {
            country_code: "IR".into(),
        })
        .await
        .unwrap()
        .into_inner()
        .work_calendar
        .unwrap();
    assert_eq!(back.working_days, [1, 2, 3, 4, 6, 7]);
    assert_eq!(back.work_week_source, pb::WorkWeekSource::Cldr as i32);
}
