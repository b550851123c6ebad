//! iCalendar interop over gRPC and HTTP: export (zones, VTIMEZONE, all-day, UID,
//! SEQUENCE, attendees), round trip into an empty store, import of the shapes Outlook and
//! Google write, and subscription feeds (ETag, 304, revocation, visibility).
//!
//! The independent check of exported instants (Python's `icalendar` reading our
//! VTIMEZONEs) is `examples/python/ics_check.py`, run by CI.

use std::collections::HashMap;

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{days, event, participant, timed, venue};

/// The instant of a zoned time, RFC 3339 in UTC.
fn at(z: &Option<pb::ZonedTime>) -> String {
    chrono::DateTime::from_timestamp(entente_tests::fixtures::utc(z), 0)
        .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
        .unwrap_or_default()
}
use entente_tests::offices::{self, as_};

/// Venues in zones with DST changes (New York, London, Lord Howe's 30 minutes), one that
/// dropped DST (Tehran), and leaders to meet there.
async fn world(server: &TestServer) {
    let mut dir = server.directory();
    for (id, name, cc, zone) in [
        ("putin", "Vladimir Putin", "RU", "Europe/Moscow"),
        ("pezeshkian", "Masoud Pezeshkian", "IR", "Asia/Tehran"),
        ("biden", "Joseph Biden", "US", "America/New_York"),
    ] {
        participant(&mut dir, id, name, cc, zone).await;
    }
    for (id, city, cc, zone, at) in [
        (
            "un-hq",
            "New York",
            "US",
            "America/New_York",
            (40.75, -73.97),
        ),
        ("lancaster", "London", "GB", "Europe/London", (51.5, -0.14)),
        ("saadabad", "Tehran", "IR", "Asia/Tehran", (35.82, 51.42)),
        (
            "lord-howe",
            "Lord Howe Island",
            "AU",
            "Australia/Lord_Howe",
            (-31.55, 159.08),
        ),
        ("kazan-expo", "Kazan", "RU", "Europe/Moscow", (55.80, 49.11)),
    ] {
        venue(&mut dir, id, city, cc, zone, Some(at)).await;
    }
    let events = server.events();
    let add = |id: &'static str, e: pb::Event| {
        let mut e = e;
        e.status = pb::EventStatus::Confirmed as i32;
        let mut events = events.clone();
        async move {
            events
                .create_event(pb::CreateEventRequest {
                    event: Some(Box::new(e)),
                    event_id: id.into(),
                    ..Default::default()
                })
                .await
                .unwrap_or_else(|e| panic!("{id}: {e:?}"));
        }
    };
    let bilateral = pb::EventKind::BilateralMeeting;
    // Across New York's DST start (10 March 2024, 02:00 → 03:00).
    add(
        "ny-before",
        event(
            bilateral,
            "UN talks; before DST",
            "un-hq",
            &["biden"],
            timed("2024-03-09T10:00", "2024-03-09T11:00"),
        ),
    )
    .await;
    add(
        "ny-after",
        event(
            bilateral,
            "UN talks, after DST",
            "un-hq",
            &["biden"],
            timed("2024-03-11T10:00", "2024-03-11T11:00"),
        ),
    )
    .await;
    // Across London's DST end (27 October 2024).
    add(
        "london",
        event(
            bilateral,
            "Lancaster House",
            "lancaster",
            &["biden"],
            timed("2024-10-28T09:00", "2024-10-28T10:30"),
        ),
    )
    .await;
    add(
        "london-summer",
        event(
            bilateral,
            "Lancaster House (summer)",
            "lancaster",
            &["biden"],
            timed("2024-10-25T09:00", "2024-10-25T10:30"),
        ),
    )
    .await;
    // Tehran: +03:30 all year since 2022.
    add(
        "tehran",
        event(
            bilateral,
            "Saadabad talks",
            "saadabad",
            &["pezeshkian", "putin"],
            timed("2024-10-05T11:00", "2024-10-05T12:30"),
        ),
    )
    .await;
    // Lord Howe's half-hour shift (7 April 2024, 02:00 → 01:30).
    add(
        "lord-howe",
        event(
            bilateral,
            "Island retreat",
            "lord-howe",
            &["biden"],
            timed("2024-04-06T23:00", "2024-04-07T04:00"),
        ),
    )
    .await;
    // Whole days, and a bilateral on its sidelines with a long description.
    let mut summit = event(
        pb::EventKind::Summit,
        "XVI BRICS summit",
        "kazan-expo",
        &["putin", "pezeshkian"],
        days("2024-10-22", "2024-10-24"),
    );
    summit.description =
        "Heads of state, Kazan. Plenary, outreach, bilaterals; agreements: to be signed, maybe."
            .repeat(3);
    add("brics-kazan", summit).await;
    let mut side = event(
        bilateral,
        "Putin–Pezeshkian",
        "kazan-expo",
        &["putin", "pezeshkian"],
        timed("2024-10-23T16:00", "2024-10-23T17:00"),
    );
    side.parent_event_id = "brics-kazan".into();
    add("kazan-bilateral", side).await;
}

fn window(from: &str, to: &str) -> Option<pb::TimeWindow> {
    Some(pb::TimeWindow {
        start: from.into(),
        end: to.into(),
        time_zone: "UTC".into(),
    })
}

async fn export(server: &TestServer, scope: pb::CalendarScope, utc: bool) -> String {
    server
        .ics()
        .export_calendar(pb::ExportCalendarRequest {
            scope: Some(scope),
            window: window("2024-01-01", "2024-12-31"),
            utc_times: utc,
            include_cancelled: false,
        })
        .await
        .expect("export")
        .into_inner()
        .ics
}

/// Unfolded content lines.
fn lines(ics: &str) -> Vec<String> {
    ics.replace("\r\n ", "")
        .split("\r\n")
        .map(str::to_string)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_export_writes_zoned_times_with_vtimezones_and_every_field() {
    let server = TestServer::start().await;
    world(&server).await;
    let ics = export(&server, pb::CalendarScope::default(), false).await;
    assert!(ics.starts_with("BEGIN:VCALENDAR\r\n"), "{ics}");
    assert!(ics.ends_with("END:VCALENDAR\r\n"), "CRLF throughout");
    assert!(
        ics.split("\r\n").all(|l| l.len() <= 75),
        "lines folded at 75 octets"
    );
    let l = lines(&ics);
    let has = |s: &str| l.iter().any(|x| x == s);
    // One VTIMEZONE per zone used, each with its rule as yearly RRULEs where it has one.
    for zone in [
        "America/New_York",
        "Europe/London",
        "Asia/Tehran",
        "Australia/Lord_Howe",
        "Europe/Moscow",
    ] {
        assert_eq!(
            l.iter().filter(|x| **x == format!("TZID:{zone}")).count(),
            1,
            "one VTIMEZONE for {zone}: {ics}"
        );
    }
    assert!(
        l.iter().any(|x| x.starts_with("RRULE:FREQ=YEARLY")
            && x.contains("BYMONTH=3")
            && x.contains("BYDAY=2SU")),
        "New York's current rule: {ics}"
    );
    assert!(
        has("DTSTART;TZID=America/New_York:20240309T100000"),
        "{ics}"
    );
    assert!(
        has("DTSTART;TZID=America/New_York:20240311T100000"),
        "{ics}"
    );
    assert!(
        has("DTSTART;TZID=Australia/Lord_Howe:20240406T230000"),
        "{ics}"
    );
    assert!(
        has("DTEND;TZID=Australia/Lord_Howe:20240407T040000"),
        "{ics}"
    );
    assert!(has("DTSTART;TZID=Asia/Tehran:20241005T110000"), "{ics}");
    // Whole days: DATE values, the end exclusive.
    assert!(has("DTSTART;VALUE=DATE:20241022"), "{ics}");
    assert!(has("DTEND;VALUE=DATE:20241025"), "{ics}");
    assert!(has("UID:brics-kazan@entente"), "{ics}");
    assert!(has("SEQUENCE:0"), "{ics}");
    assert!(has("STATUS:CONFIRMED"), "{ics}");
    assert!(has("CATEGORIES:Summit"), "{ics}");
    assert!(has("RELATED-TO:brics-kazan@entente"), "sidelines: {ics}");
    assert!(
        has("LOCATION:Venue kazan-expo\\, Kazan")
            || l.iter()
                .any(|x| x.starts_with("LOCATION:") && x.ends_with("Kazan")),
        "{ics}"
    );
    assert!(l.iter().any(|x| x.starts_with("GEO:55.8;49.11")), "{ics}");
    assert!(has("SUMMARY:UN talks\\; before DST"), "text escaped: {ics}");
    assert!(
        l.iter().any(|x| x.starts_with("ATTENDEE;")
            && x.contains("CN=\"Masoud Pezeshkian\"")
            && x.contains("PARTSTAT=ACCEPTED")
            && x.ends_with("urn:entente:participant:pezeshkian")),
        "{ics}"
    );
    // The same export twice is the same bytes (feeds' ETags rely on it).
    assert_eq!(
        ics,
        export(&server, pb::CalendarScope::default(), false).await
    );

    // UTC instants instead: no VTIMEZONE, no TZID.
    let utc = export(&server, pb::CalendarScope::default(), true).await;
    let u = lines(&utc);
    assert!(!utc.contains("VTIMEZONE") && !utc.contains("TZID"), "{utc}");
    // 10:00 in New York on 9 March is EST (-5), on 11 March EDT (-4).
    assert!(u.iter().any(|x| x == "DTSTART:20240309T150000Z"), "{utc}");
    assert!(u.iter().any(|x| x == "DTSTART:20240311T140000Z"), "{utc}");
    // 23:00 on 6 April at Lord Howe is +11 (daylight), 04:00 on the 7th +10:30.
    assert!(u.iter().any(|x| x == "DTSTART:20240406T120000Z"), "{utc}");
    assert!(u.iter().any(|x| x == "DTEND:20240406T173000Z"), "{utc}");

    // Scopes: a participant's agenda, a programme.
    let agenda = export(
        &server,
        pb::CalendarScope {
            participant_id: "pezeshkian".into(),
            ..Default::default()
        },
        false,
    )
    .await;
    assert_eq!(agenda.matches("BEGIN:VEVENT").count(), 3, "{agenda}");
    let programme = export(
        &server,
        pb::CalendarScope {
            parent_event_id: "brics-kazan".into(),
            ..Default::default()
        },
        false,
    )
    .await;
    assert_eq!(programme.matches("BEGIN:VEVENT").count(), 2, "{programme}");

    // Precise errors.
    let mut ics_client = server.ics();
    let e = ics_client
        .export_calendar(pb::ExportCalendarRequest {
            scope: Some(pb::CalendarScope {
                participant_id: "nobody".into(),
                ..Default::default()
            }),
            window: window("2024-01-01", "2024-12-31"),
            ..Default::default()
        })
        .await
        .expect_err("unknown participant");
    assert_eq!(e.code(), tonic::Code::NotFound, "{e:?}");
    let e = ics_client
        .export_calendar(pb::ExportCalendarRequest::default())
        .await
        .expect_err("no window");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
    let e = ics_client
        .export_calendar(pb::ExportCalendarRequest {
            scope: Some(pb::CalendarScope {
                participant_id: "putin".into(),
                venue_id: "kazan-expo".into(),
                ..Default::default()
            }),
            window: window("2024-01-01", "2024-12-31"),
            ..Default::default()
        })
        .await
        .expect_err("two scopes");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
}

async fn import(server: &TestServer, req: pb::ImportCalendarRequest) -> Vec<pb::ImportResult> {
    server
        .ics()
        .import_calendar(req)
        .await
        .expect("import")
        .into_inner()
        .results
}

fn outcome(r: &pb::ImportResult) -> pb::ImportOutcome {
    pb::ImportOutcome::try_from(r.outcome).expect("known outcome")
}

async fn all_events(server: &TestServer) -> Vec<pb::Event> {
    let mut out = server
        .events()
        .list_events(pb::ListEventsRequest {
            page_size: 1000,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner()
        .events;
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_into_an_empty_store_gives_the_same_events() {
    let source = TestServer::start().await;
    world(&source).await;
    let ics = export(&source, pb::CalendarScope::default(), false).await;

    // The same directory, no events.
    let target = TestServer::start().await;
    {
        let mut dir = target.directory();
        for p in source
            .directory()
            .list_participants(pb::ListParticipantsRequest::default())
            .await
            .expect("participants")
            .into_inner()
            .participants
        {
            dir.create_participant(pb::CreateParticipantRequest {
                participant_id: p.id.clone(),
                participant: Some(p),
                ..Default::default()
            })
            .await
            .expect("participant");
        }
        for v in source
            .directory()
            .list_venues(pb::ListVenuesRequest::default())
            .await
            .expect("venues")
            .into_inner()
            .venues
        {
            dir.create_venue(pb::CreateVenueRequest {
                venue_id: v.id.clone(),
                venue: Some(v),
                ..Default::default()
            })
            .await
            .expect("venue");
        }
    }
    let req = pb::ImportCalendarRequest {
        ics: ics.clone(),
        status: pb::EventStatus::Confirmed as i32,
        ..Default::default()
    };
    // A dry run writes nothing and says what would happen.
    let dry = import(
        &target,
        pb::ImportCalendarRequest {
            dry_run: true,
            ..req.clone()
        },
    )
    .await;
    assert_eq!(dry.len(), 8, "{dry:?}");
    assert!(
        dry.iter().all(|r| outcome(r) == pb::ImportOutcome::Created),
        "{dry:?}"
    );
    assert!(
        all_events(&target).await.is_empty(),
        "a dry run writes nothing"
    );

    let results = import(&target, req.clone()).await;
    assert!(
        results
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Created),
        "{results:?}"
    );
    let (a, b) = (all_events(&source).await, all_events(&target).await);
    assert_eq!(a.len(), b.len());
    for (x, y) in a.iter().zip(&b) {
        assert_eq!(x.id, y.id);
        assert_eq!(x.title, y.title, "{}", x.id);
        assert_eq!(x.description, y.description, "{}", x.id);
        assert_eq!(x.kind, y.kind, "{}", x.id);
        assert_eq!(x.venue_id, y.venue_id, "{}", x.id);
        assert_eq!(x.participant_ids, y.participant_ids, "{}", x.id);
        assert_eq!(x.parent_event_id, y.parent_event_id, "{}", x.id);
        assert_eq!(x.status, y.status, "{}", x.id);
        assert_eq!(
            x.start, y.start,
            "{}: start, wall time, zone and instant",
            x.id
        );
        assert_eq!(x.end, y.end, "{}", x.id);
        assert_eq!(x.timing, y.timing, "{}", x.id);
    }
    // Again: nothing changes; nor without a status (events imported before keep theirs).
    let again = import(&target, req.clone()).await;
    assert!(
        again
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Unchanged),
        "{again:?}"
    );
    let again = import(
        &target,
        pb::ImportCalendarRequest {
            status: pb::EventStatus::Unspecified as i32,
            ..req
        },
    )
    .await;
    assert!(
        again
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Unchanged),
        "{again:?}"
    );
}

/// An Outlook export: Windows zone names in TZID, each with its VTIMEZONE, CRLF, folded
/// lines, mailto attendees.
const OUTLOOK: &str = "BEGIN:VCALENDAR\r\nPRODID:-//Microsoft Corporation//Outlook 16.0 MIMEDIR//EN\r\nVERSION:2.0\r\nMETHOD:REQUEST\r\nX-MS-OLK-FORCEINSPECTOROPEN:TRUE\r\nBEGIN:VTIMEZONE\r\nTZID:Russian Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16010101T000000\r\nTZOFFSETFROM:+0300\r\nTZOFFSETTO:+0300\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\nBEGIN:VTIMEZONE\r\nTZID:Eastern Standard Time\r\nBEGIN:STANDARD\r\nDTSTART:16011104T020000\r\nRRULE:FREQ=YEARLY;BYDAY=1SU;BYMONTH=11\r\nTZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\nDTSTART:16010311T020000\r\nRRULE:FREQ=YEARLY;BYDAY=2SU;BYMONTH=3\r\nTZOFFSETFROM:-0500\r\nTZOFFSETTO:-0400\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\nBEGIN:VEVENT\r\nATTENDEE;CN=\"Putin, Vladimir\";RSVP=TRUE:mailto:v.putin@kremlin.example\r\nDESCRIPTION:Invitation from the host\\, with a very long line that Outlook\r\n  folds at seventy-five octets as RFC 5545 says it must.\\n\r\nUID:040000008200E00074C5B7101A82E00800000000D0F1B1C2@outlook.example\r\nSUMMARY;LANGUAGE=en-us:Talks in Kazan\r\nDTSTART;TZID=Russian Standard Time:20241023T100000\r\nDTEND;TZID=Russian Standard Time:20241023T113000\r\nLOCATION:Kazan Expo Hall A\r\nSTATUS:CONFIRMED\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:ny-call@outlook.example\r\nSUMMARY:Call with New York\r\nDTSTART;TZID=Eastern Standard Time:20241104T090000\r\nDTEND;TZID=Eastern Standard Time:20241104T093000\r\nLOCATION:un-hq\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

/// A Google export: IANA TZIDs with X-LIC-LOCATION, UTC times, LF line ends.
const GOOGLE: &str = "BEGIN:VCALENDAR\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\nVERSION:2.0\nCALSCALE:GREGORIAN\nX-WR-TIMEZONE:Asia/Tehran\nBEGIN:VTIMEZONE\nTZID:Asia/Tehran\nX-LIC-LOCATION:Asia/Tehran\nBEGIN:STANDARD\nTZOFFSETFROM:+0330\nTZOFFSETTO:+0330\nTZNAME:GMT+3:30\nDTSTART:19700101T000000\nEND:STANDARD\nEND:VTIMEZONE\nBEGIN:VEVENT\nDTSTART;TZID=Asia/Tehran:20241005T140000\nDTEND;TZID=Asia/Tehran:20241005T150000\nDTSTAMP:20241001T000000Z\nUID:abc123@google.com\nATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=ACCEPTED;CN=pezeshkian@president.example:mailto:pezeshkian@president.example\nSUMMARY:Cabinet briefing\nLOCATION:Saadabad\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART:20241006T080000Z\nDTEND:20241006T090000Z\nUID:utc-one@google.com\nSUMMARY:Press call (UTC)\nLOCATION:saadabad\nEND:VEVENT\nBEGIN:VEVENT\nDTSTART;TZID=Europe/London:20241028T090000\nDTEND;TZID=Europe/London:20241028T100000\nUID:no-vtimezone@google.com\nSUMMARY:TZID without a VTIMEZONE\nLOCATION:lancaster\nEND:VEVENT\nEND:VCALENDAR\n";

/// Shapes that must be refused, each with a reason.
const REFUSED: &str = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:floating@x\r\nSUMMARY:Floating\r\nDTSTART:20241005T100000\r\nDTEND:20241005T110000\r\nLOCATION:saadabad\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:weekly@x\r\nSUMMARY:Weekly\r\nDTSTART;TZID=Asia/Tehran:20241005T100000\r\nDTEND;TZID=Asia/Tehran:20241005T110000\r\nRRULE:FREQ=WEEKLY;COUNT=4\r\nLOCATION:saadabad\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:stranger@x\r\nSUMMARY:Unknown guest\r\nDTSTART;TZID=Asia/Tehran:20241007T100000\r\nDTEND;TZID=Asia/Tehran:20241007T110000\r\nLOCATION:saadabad\r\nATTENDEE;CN=Someone Else:mailto:someone@else.example\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:nowhere@x\r\nSUMMARY:Unknown place\r\nDTSTART;TZID=Asia/Tehran:20241008T100000\r\nDTEND;TZID=Asia/Tehran:20241008T110000\r\nLOCATION:Somewhere unknown\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:mars@x\r\nSUMMARY:Unknown zone\r\nDTSTART;TZID=Mars/Olympus_Mons:20241009T100000\r\nDTEND;TZID=Mars/Olympus_Mons:20241009T110000\r\nLOCATION:saadabad\r\nEND:VEVENT\r\nBEGIN:VEVENT\r\nUID:forever@x\r\nSUMMARY:Forever\r\nDTSTART;TZID=Asia/Tehran:20241010T100000\r\nDURATION:P99999999W\r\nLOCATION:saadabad\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn imports_read_outlook_and_google_shapes_and_refuse_what_they_cannot_place() {
    let server = TestServer::start().await;
    world(&server).await;

    let outlook = import(
        &server,
        pb::ImportCalendarRequest {
            ics: OUTLOOK.into(),
            venue_map: HashMap::from([("Kazan Expo Hall A".to_string(), "kazan-expo".to_string())]),
            participant_map: HashMap::from([(
                "v.putin@kremlin.example".to_string(),
                "putin".to_string(),
            )]),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(outlook.len(), 2, "{outlook:?}");
    assert!(
        outlook
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Created),
        "{outlook:?}"
    );
    let events = server.events();
    let get = |id: String| {
        let mut events = events.clone();
        async move {
            events
                .get_event(pb::GetEventRequest {
                    id,
                    ..Default::default()
                })
                .await
                .expect("get")
                .into_inner()
                .event
                .expect("event")
        }
    };
    let kazan = get(outlook[0].event_id.clone()).await;
    let start = kazan.start.clone().expect("start");
    assert_eq!(
        start.time_zone, "Europe/Moscow",
        "Windows name mapped: {kazan:?}"
    );
    assert_eq!(at(&kazan.start), "2024-10-23T07:00:00Z", "{kazan:?}");
    assert_eq!(kazan.participant_ids, vec!["putin".to_string()]);
    assert_eq!(
        kazan.status,
        pb::EventStatus::Tentative as i32,
        "TENTATIVE by default"
    );
    assert!(
        kazan.description.contains("seventy-five octets"),
        "unfolded: {kazan:?}"
    );
    let ny = get(outlook[1].event_id.clone()).await;
    // 4 November 2024 is after New York's DST end: EST, -05:00.
    assert_eq!(at(&ny.start), "2024-11-04T14:00:00Z");

    // The Google file's LOCATION and attendee, mapped.
    let google_req = pb::ImportCalendarRequest {
        ics: GOOGLE.into(),
        venue_map: HashMap::from([("Saadabad".to_string(), "saadabad".to_string())]),
        participant_map: HashMap::from([(
            "pezeshkian@president.example".to_string(),
            "pezeshkian".to_string(),
        )]),
        ..Default::default()
    };
    let google = import(&server, google_req.clone()).await;
    assert!(
        google
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Created),
        "{google:?}"
    );
    let briefing = get(google[0].event_id.clone()).await;
    assert_eq!(at(&briefing.start), "2024-10-05T10:30:00Z");
    let utc = get(google[1].event_id.clone()).await;
    assert_eq!(at(&utc.start), "2024-10-06T08:00:00Z");
    let s = utc.start.expect("start");
    assert_eq!(
        s.time_zone, "Asia/Tehran",
        "a UTC time is kept in the venue's zone"
    );
    let london = get(google[2].event_id.clone()).await;
    assert_eq!(at(&london.start), "2024-10-28T09:00:00Z", "GMT after DST");

    let refused = import(
        &server,
        pb::ImportCalendarRequest {
            ics: REFUSED.into(),
            ..Default::default()
        },
    )
    .await;
    let reasons: Vec<(&str, pb::ImportOutcome, &str)> = refused
        .iter()
        .map(|r| (r.uid.as_str(), outcome(r), r.reason.as_str()))
        .collect();
    let reason = |uid: &str| {
        let r = reasons.iter().find(|r| r.0 == uid).expect(uid);
        assert_eq!(r.1, pb::ImportOutcome::Refused, "{r:?}");
        r.2.to_string()
    };
    assert!(
        reason("floating@x").contains("default_time_zone"),
        "{reasons:?}"
    );
    assert!(reason("weekly@x").contains("recurring"), "{reasons:?}");
    assert!(reason("stranger@x").contains("Someone Else"), "{reasons:?}");
    assert!(
        reason("nowhere@x").contains("Somewhere unknown"),
        "{reasons:?}"
    );
    assert!(
        reason("mars@x").contains("Mars/Olympus_Mons"),
        "{reasons:?}"
    );
    // A floating time with a zone given is read in it.
    let floating = import(
        &server,
        pb::ImportCalendarRequest {
            ics: REFUSED.into(),
            default_time_zone: "Asia/Tehran".into(),
            dry_run: true,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        outcome(&floating[0]),
        pb::ImportOutcome::Created,
        "{floating:?}"
    );

    // Re-importing the Google file: matched by UID, unchanged.
    let again = import(&server, google_req.clone()).await;
    assert!(
        again
            .iter()
            .all(|r| outcome(r) == pb::ImportOutcome::Unchanged),
        "{again:?}"
    );
    // An update changes what the VEVENT says, and keeps what the office set since.
    server
        .directory()
        .create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS".into(),
                member_country_codes: vec!["IR".into(), "RU".into()],
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("forum");
    events
        .clone()
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: google[0].event_id.clone(),
                visibility: pb::Visibility::Public as i32,
                forum_id: "brics".into(),
                ..Default::default()
            })),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["visibility".into(), "forum_id".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("made public, in the forum");
    let renamed = pb::ImportCalendarRequest {
        ics: google_req.ics.replace(
            "SUMMARY:Cabinet briefing",
            "SUMMARY:Cabinet briefing (moved)",
        ),
        ..google_req.clone()
    };
    let r = import(&server, renamed).await;
    assert_eq!(outcome(&r[0]), pb::ImportOutcome::Updated, "{r:?}");
    let briefing = get(google[0].event_id.clone()).await;
    assert_eq!(briefing.title, "Cabinet briefing (moved)");
    assert_eq!(
        briefing.visibility,
        pb::Visibility::Public as i32,
        "{briefing:?}"
    );
    assert_eq!(briefing.host_country_code, "IR", "{briefing:?}");
    assert_eq!(briefing.forum_id, "brics", "{briefing:?}");
    // STATUS:CANCELLED in a later file cancels the event it matches, once.
    let cancelled = google_req.ics.replace(
        "SUMMARY:Press call (UTC)\n",
        "SUMMARY:Press call (UTC)\nSTATUS:CANCELLED\n",
    );
    for want in [pb::ImportOutcome::Updated, pb::ImportOutcome::Unchanged] {
        let r = import(
            &server,
            pb::ImportCalendarRequest {
                ics: cancelled.clone(),
                ..google_req.clone()
            },
        )
        .await;
        assert_eq!(outcome(&r[1]), want, "{r:?}");
    }
    let press = get(google[1].event_id.clone()).await;
    assert_eq!(press.status, pb::EventStatus::Cancelled as i32, "{press:?}");
    // A conflict is reported with the usual wording, and a hard one refuses the event.
    let clash = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//y//EN\r\nBEGIN:VEVENT\r\nUID:clash@x\r\nSUMMARY:Clash\r\nDTSTART;TZID=Europe/Moscow:20241023T160000\r\nDTEND;TZID=Europe/Moscow:20241023T163000\r\nLOCATION:kazan-expo\r\nATTENDEE:urn:entente:participant:putin\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    let r = import(
        &server,
        pb::ImportCalendarRequest {
            ics: clash.into(),
            status: pb::EventStatus::Confirmed as i32,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(outcome(&r[0]), pb::ImportOutcome::Refused, "{r:?}");
    assert!(!r[0].conflicts.is_empty(), "{r:?}");
    assert!(
        r[0].conflicts
            .iter()
            .any(|c| c.description.contains("Putin–Pezeshkian")),
        "{r:?}"
    );
    // Not an iCalendar file at all.
    let e = server
        .ics()
        .import_calendar(pb::ImportCalendarRequest {
            ics: "hello".into(),
            ..Default::default()
        })
        .await
        .expect_err("not ics");
    assert_eq!(e.code(), tonic::Code::InvalidArgument, "{e:?}");
}

async fn create_feed(a: &mut entente_tests::Authed, feed: pb::CalendarFeed) -> pb::CalendarFeed {
    a.ics
        .create_calendar_feed(pb::CreateCalendarFeedRequest {
            feed: Some(feed),
            ..Default::default()
        })
        .await
        .expect("feed")
        .into_inner()
        .feed
        .expect("feed")
}

fn header<'a>(h: &'a [(String, String)], name: &str) -> Option<&'a str> {
    h.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_feed_serves_its_office_view_with_etags_until_revoked() {
    let access = offices::access(
        &[
            ("ru-editor", "RU", "EDITOR"),
            ("ir-editor", "IR", "EDITOR"),
            ("ir-reader", "IR", "READER"),
        ],
        "",
    );
    // The feed's window is around "today": pin the clock to the summit's month.
    let clock = entente_server::ManualClock::new(
        chrono::DateTime::parse_from_rfc3339("2024-10-01T00:00:00Z")
            .expect("date")
            .timestamp_micros(),
    );
    let settings = entente_server::Settings {
        clock: clock.clock(),
        ..Default::default()
    };
    let server = TestServer::start_with_access_and(access, settings).await;
    let mut ru = as_(&server, "ru-editor");
    let mut ir = as_(&server, "ir-editor");
    offices::participant(&mut ru, "putin", "RU", "Europe/Moscow").await;
    offices::participant(&mut ir, "pezeshkian", "IR", "Asia/Tehran").await;
    offices::venue(
        &mut ru,
        "kazan-expo",
        "Kazan",
        "RU",
        "Europe/Moscow",
        Some((55.8, 49.1)),
    )
    .await;
    for (id, title, who, vis) in [
        (
            "public-talks",
            "Public talks",
            vec!["putin", "pezeshkian"],
            pb::Visibility::Public,
        ),
        (
            "ru-private",
            "Kremlin private dinner",
            vec!["putin"],
            pb::Visibility::Private,
        ),
    ] {
        let mut e = event(
            pb::EventKind::BilateralMeeting,
            title,
            "kazan-expo",
            &who,
            timed("2024-10-23T10:00", "2024-10-23T11:00"),
        );
        e.visibility = vis as i32;
        if id == "ru-private" {
            e.timing = timed("2024-10-23T20:00", "2024-10-23T22:00");
        }
        ru.events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(e)),
                event_id: id.into(),
                ..Default::default()
            })
            .await
            .expect("event");
    }
    // Iran subscribes to Putin's agenda: it sees the public talks, never the private dinner.
    let feed = create_feed(
        &mut ir,
        pb::CalendarFeed {
            display_name: "Putin, for the Tehran embassy".into(),
            scope: Some(pb::CalendarScope {
                participant_id: "putin".into(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
    .await;
    assert!(
        feed.path.starts_with("/ics/") && feed.path.ends_with(".ics"),
        "{feed:?}"
    );
    assert_eq!(feed.path.len(), "/ics/".len() + 64 + ".ics".len());
    let (status, headers, body) = server.http_get(&feed.path, &[]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        header(&headers, "content-type"),
        Some("text/calendar; charset=utf-8")
    );
    assert!(body.contains("SUMMARY:Public talks"), "{body}");
    assert!(
        body.contains("X-WR-CALNAME:Putin\\, for the Tehran embassy"),
        "{body}"
    );
    assert!(
        !body.contains("Kremlin private dinner") && !body.contains("ru-private"),
        "{body}"
    );
    let etag = header(&headers, "etag").expect("etag").to_string();

    // A feed bounded to the next 10 days (from 1 October) holds nothing of the 23rd.
    let near = create_feed(
        &mut ir,
        pb::CalendarFeed {
            future_days: 10,
            ..Default::default()
        },
    )
    .await;
    let (status, _, near_body) = server.http_get(&near.path, &[]).await;
    assert_eq!(status, 200);
    assert!(!near_body.contains("BEGIN:VEVENT"), "{near_body}");

    // Unchanged: 304 with no body.
    let (status, _, body) = server
        .http_get(&feed.path, &[("If-None-Match", &etag)])
        .await;
    assert_eq!(status, 304, "{body}");
    assert!(body.is_empty());
    // A change: a new ETag, the new title.
    ru.events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "public-talks".into(),
                title: "Public talks (moved)".into(),
                ..Default::default()
            })),
            update_mask: Some(prost_types::FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("update");
    let (status, headers, body) = server
        .http_get(&feed.path, &[("If-None-Match", &etag)])
        .await;
    assert_eq!(status, 200);
    assert!(body.contains("Public talks (moved)"), "{body}");
    assert!(body.contains("SEQUENCE:1"), "{body}");
    assert_ne!(header(&headers, "etag"), Some(etag.as_str()));

    // Listing: the office's own feeds, never the path; Russia sees none of Iran's.
    let listed = ir
        .ics
        .list_calendar_feeds(pb::ListCalendarFeedsRequest {})
        .await
        .expect("list")
        .into_inner()
        .feeds;
    assert_eq!(listed.len(), 2);
    assert!(listed[0].path.is_empty(), "{listed:?}");
    assert_eq!(listed[0].office, "IR");
    let theirs = ru
        .ics
        .list_calendar_feeds(pb::ListCalendarFeedsRequest {})
        .await
        .expect("list")
        .into_inner()
        .feeds;
    assert!(theirs.is_empty(), "{theirs:?}");
    let e = ru
        .ics
        .delete_calendar_feed(pb::DeleteCalendarFeedRequest {
            id: feed.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another office's feed");
    assert_eq!(e.code(), tonic::Code::NotFound);
    // A reader cannot create or revoke.
    let e = as_(&server, "ir-reader")
        .ics
        .delete_calendar_feed(pb::DeleteCalendarFeedRequest {
            id: feed.id.clone(),
            ..Default::default()
        })
        .await
        .expect_err("reader");
    assert_eq!(e.code(), tonic::Code::PermissionDenied);

    // Guesses and revoked feeds are 404.
    let (status, _, _) = server
        .http_get(&format!("/ics/{}.ics", "0".repeat(64)), &[])
        .await;
    assert_eq!(status, 404);
    let (status, _, _) = server.http_get("/ics/../../etc/passwd", &[]).await;
    assert_eq!(status, 404);
    ir.ics
        .delete_calendar_feed(pb::DeleteCalendarFeedRequest {
            id: feed.id.clone(),
            ..Default::default()
        })
        .await
        .expect("revoke");
    let (status, _, body) = server.http_get(&feed.path, &[]).await;
    assert_eq!(status, 404, "{body}");
    // The API itself still wants a token: /ics/ is the only open door.
    let e = server
        .ics()
        .list_calendar_feeds(pb::ListCalendarFeedsRequest {})
        .await
        .expect_err("no token");
    assert_eq!(e.code(), tonic::Code::Unauthenticated);
}
