//! Property-driven fuzzing of the surfaces hostile input reaches: the stored-record
//! decoder, the write-ahead log reader, request decoding and conversion, and the
//! scheduler's validation. Nothing may panic; corrupt records must be errors naming their
//! key; bad requests must be precise errors, never storage faults.
//!
//! Bounded in the test suite (`PROPTEST_CASES`, default 512 per target); run long with
//! `PROPTEST_CASES=100000 cargo test --release -p entente-server --test fuzz`.

use entente_proto::v1 as pb;
use entente_server::Principal;
use entente_server::directory::{FieldMask, ParticipantInput, VenueInput};
use entente_server::error::Error;
use entente_server::events::Event;
use entente_server::events::WriteOptions;
use entente_server::grpc::convert;
use entente_server::proposals::Proposal;
use entente_server::storage::events as stored;
use entente_server::storage::{self, wal};
use entente_server::{Scheduler, Settings, time};
use proptest::prelude::*;
use prost::Message;

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(512)
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// A scheduler with a little directory, for requests to refer to.
fn scheduler(rt: &tokio::runtime::Runtime) -> Scheduler {
    rt.block_on(async {
        let s = Scheduler::temporary(Settings {
            expiry_sweep: None,
            ..Settings::default()
        })
        .expect("scheduler");
        s.create_participant(
            &Principal::system(),
            ParticipantInput {
                id: "putin".into(),
                display_name: "Vladimir Putin".into(),
                country_code: "RU".into(),
                home_time_zone: "Europe/Moscow".into(),
                ..Default::default()
            },
        )
        .await
        .expect("participant");
        s.create_venue(
            &Principal::system(),
            VenueInput {
                id: "kremlin".into(),
                display_name: "Kremlin".into(),
                city: "Moscow".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                location: Some(entente_server::directory::LatLng {
                    latitude: 55.75,
                    longitude: 37.62,
                }),
                ..Default::default()
            },
        )
        .await
        .expect("venue");
        // A few events, so that the time, participant and venue indexes have entries for
        // cursors to land in.
        for (i, day) in ["2024-10-10", "2024-10-11", "2024-10-12"]
            .into_iter()
            .enumerate()
        {
            s.create_event(
                &Principal::system(),
                entente_server::events::EventInput {
                    id: format!("e{i}"),
                    kind: Some(entente_server::events::EventKind::Other),
                    title: format!("Meeting {i}"),
                    venue_id: "kremlin".into(),
                    participant_ids: vec!["putin".into()],
                    timing: Some(entente_server::events::TimingInput::Timed {
                        start: format!("{day}T10:00"),
                        end: format!("{day}T11:00"),
                        time_zone: String::new(),
                    }),
                    ..Default::default()
                },
                WriteOptions::default(),
            )
            .await
            .expect("event");
        }
        s
    })
}

fn a_valid_event() -> Event {
    let z = time::parse_zone("Europe/Moscow").expect("zone");
    let at = |t| time::Zoned::from_instant(t, z).expect("instant");
    Event {
        id: "e1".into(),
        kind: entente_server::events::EventKind::Summit,
        title: "BRICS".into(),
        description: String::new(),
        venue_id: "kremlin".into(),
        host_country: "RU".into(),
        forum_id: Some("brics".into()),
        participants: vec!["putin".into()],
        attendance: vec![entente_server::events::Attendance::Confirmed],
        status: entente_server::events::EventStatus::Confirmed,
        parent_id: None,
        timing: entente_server::events::Timing::Timed,
        start: at(1_729_580_400),
        end: at(1_729_584_000),
        tzdb_version: time::TZDB_VERSION.into(),
        visibility: entente_server::events::Visibility::Parties,
        owner_office: "RU".into(),
        cancellation_reason: String::new(),
        overrides: Vec::new(),
        meta: entente_server::scheduler::Meta::new(0),
    }
}

/// Errors a bad request may produce: anything but a storage fault.
fn precise(e: &Error) -> bool {
    !matches!(
        e,
        Error::Storage(_) | Error::Corrupt { .. } | Error::Poisoned
    )
}

/// Strings that stress parsers: empty, huge, control characters, other scripts, near-miss
/// time formats.
/// Values for iCalendar date, time, duration and text properties, in range and beyond.
fn ics_value() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{8}",
        "[0-9]{8}T[0-9]{6}Z?",
        "(00000101|99991231|65535123|20240407)T(000000|023000|235959|999999)Z?",
        "-?P([0-9]{1,9}W|[0-9]{1,9}D|T[0-9]{1,12}S|[0-9]{1,4}DT[0-9]{1,4}H)",
        "urn:entente:participant:[a-z]{0,8}",
        "mailto:[a-z]{1,8}@x",
        ".{0,40}",
    ]
}

fn nasty_string() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        "\\PC{0,40}",
        "[0-9T:+\\-Z\\[\\]/a-z ]{0,40}",
        Just("2024-10-22T10:00[Europe/Moscow]".to_string()),
        Just("2024-02-30T10:00".to_string()),
        Just("9999-99-99T99:99".to_string()),
        Just("\u{0}\u{7f}\u{202e}".to_string()),
        "[a-z]{300,400}",
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Arbitrary bytes never panic the record decoder; errors name the key.
    #[test]
    fn record_decoder_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
        for result in [
            stored::decode(b"e/fuzz", &bytes).err(),
            storage::decode::<Proposal>(b"x/fuzz", &bytes).err(),
        ].into_iter().flatten() {
            prop_assert!(result.to_string().contains("fuzz"), "{result}");
        }
    }

    /// A valid record with bytes flipped decodes or fails cleanly.
    #[test]
    fn mutated_records_fail_cleanly(flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)) {
        let mut bytes = stored::encode(&a_valid_event());
        for (i, b) in flips {
            let at = i.index(bytes.len());
            bytes[at] ^= b;
        }
        let _ = stored::decode(b"e/e1", &bytes);
    }

    /// Arbitrary file contents never panic the write-ahead log reader.
    #[test]
    fn wal_reader_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let dir = tempfile::tempdir().expect("temp");
        std::fs::write(dir.path().join("wal-0000000000000001.log"), &bytes).expect("write");
        let _ = wal::Wal::recover(dir.path(), 0);
    }

    /// Time strings of any shape parse or fail with a message; never panic.
    #[test]
    fn time_parsing_never_panics(text in nasty_string(), zone in nasty_string()) {
        let _ = time::parse_time(&text);
        let _ = time::parse_zone(&zone);
        if let (Ok(p), Ok(z)) = (time::parse_time(&text), time::parse_zone("Australia/Lord_Howe")) {
            let _ = time::resolve_parsed(&p, z, time::Disambiguation::Reject, time::OffsetPolicy::Reject);
        }
    }

    /// Raw bytes as a CreateEventRequest: decoding, conversion and the scheduler's
    /// validation give precise errors, never a panic or a storage fault.
    #[test]
    fn raw_requests_are_handled(bytes in prop::collection::vec(any::<u8>(), 0..256)) {
        let rt = runtime();
        let s = scheduler(&rt);
        if let Ok(req) = pb::CreateEventRequest::decode(bytes.as_slice())
            && let Some(e) = req.event
            && let Ok(input) = convert::event_input(e)
        {
            match s.check_conflicts(&Principal::system(), &input, &FieldMask::all(), &WriteOptions::default()) {
                Ok(_) => {}
                Err(e) => prop_assert!(precise(&e), "{e:?}"),
            }
        }
    }

    /// iCalendar files of hostile shapes through ImportCalendar (dry run, then for real):
    /// every VEVENT gets a result, and nothing panics. Property values are drawn from
    /// dates, times, offsets, durations and zone names at and beyond their ranges.
    #[test]
    fn hostile_calendars_are_imported_or_refused(
        lines in prop::collection::vec((0usize..9, ics_value()), 0..12),
        dry_run in any::<bool>(),
    ) {
        let rt = runtime();
        let s = scheduler(&rt);
        let names = [
            "DTSTART", "DTEND", "DTSTART;VALUE=DATE", "DTEND;VALUE=DATE", "DURATION",
            "DTSTART;TZID=Australia/Lord_Howe", "DTEND;TZID=Russian Standard Time",
            "ATTENDEE;CN=x", "LOCATION",
        ];
        let mut body = String::from("BEGIN:VEVENT\r\nUID:fuzz@x\r\nSUMMARY:Fuzz\r\n");
        for (n, v) in &lines {
            body += &format!("{}:{v}\r\n", names[*n]);
        }
        body += "END:VEVENT\r\n";
        let ics = format!("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//f//EN\r\n{body}END:VCALENDAR\r\n");
        let opts = entente_server::ics::import::Options {
            dry_run,
            default_venue: "kremlin".into(),
            ..Default::default()
        };
        match rt.block_on(s.import_calendar(&Principal::system(), &ics, opts)) {
            Ok((results, _)) => prop_assert_eq!(results.len(), 1),
            Err(e) => prop_assert!(precise(&e), "{e:?}"),
        }
    }

    /// Structured hostile events through the whole write path.
    #[test]
    fn hostile_events_are_refused_precisely(
        title in nasty_string(),
        venue in prop_oneof![Just("kremlin".to_string()), nasty_string()],
        start in nasty_string(),
        end in nasty_string(),
        zone in prop_oneof![Just(String::new()), Just("Europe/Moscow".to_string()), nasty_string()],
        kind in -2i32..10,
        status in -2i32..6,
        participants in prop::collection::vec(prop_oneof![Just("putin".to_string()), nasty_string()], 0..4),
        all_day in any::<bool>(),
    ) {
        let rt = runtime();
        let s = scheduler(&rt);
        let timing = if all_day {
            pb::event_timing::Span::AllDay(pb::DateSpan { start_date: start, end_date: end, time_zone: zone })
        } else {
            pb::event_timing::Span::Timed(pb::TimedSpan { start, end, time_zone: zone })
        };
        let event = pb::Event {
            kind,
            title,
            venue_id: venue,
            status,
            participant_ids: participants,
            timing: Some(pb::EventTiming { span: Some(timing) }),
            ..Default::default()
        };
        let outcome = rt.block_on(async {
            let input = convert::event_input(Box::new(event))?;
            s.create_event(&Principal::system(), input, WriteOptions::default()).await.map(|_| ())
        });
        if let Err(e) = outcome {
            prop_assert!(precise(&e), "{e:?}");
        }
    }
}

/// A request as the gRPC layer hands it to a handler: with its caller.
fn as_system<T>(msg: T) -> tonic::Request<T> {
    let mut r = tonic::Request::new(msg);
    r.extensions_mut()
        .insert(std::sync::Arc::new(Principal::system()));
    r
}

/// Page tokens of any shape: garbage, old-format tokens, and well-formed ones (the version,
/// a digest, a cursor) whose digest or cursor is forged.
fn page_token() -> impl Strategy<Value = String> {
    let hex = |s: String| s.bytes().map(|b| format!("{b:02x}")).collect::<String>();
    prop_oneof![
        nasty_string(),
        (any::<i64>(), "[a-z~]{0,6}")
            .prop_map(move |(t, id)| format!("1{}", hex(format!("{t}|{id}")))),
        (any::<u64>(), any::<i64>(), "[a-z~|]{0,6}")
            .prop_map(move |(d, t, id)| format!("2{d:016x}{}", hex(format!("{t}|{id}")))),
        (any::<u64>(), any::<u64>())
            .prop_map(move |(d, n)| format!("2{d:016x}{}", hex(n.to_string()))),
    ]
}

fn window() -> impl Strategy<Value = Option<pb::TimeWindow>> {
    let day = (1u32..=28).prop_map(|d| format!("2024-10-{d:02}"));
    prop::option::of(prop_oneof![
        // Windows that parse, around the fixture's events.
        (day.clone(), day).prop_map(|(a, b)| pb::TimeWindow {
            start: a.clone().min(b.clone()),
            end: if a == b {
                "2024-11-01".into()
            } else {
                a.max(b)
            },
            time_zone: "Europe/Moscow".into(),
        }),
        (
            nasty_string(),
            nasty_string(),
            prop_oneof![Just(String::new()), nasty_string()]
        )
            .prop_map(|(start, end, time_zone)| pb::TimeWindow {
                start,
                end,
                time_zone
            }),
    ])
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    /// Every list, with any page token, page size and filters: a page or a precise error,
    /// never a panic. (A cursor past a window's end used to panic `BTreeSet::range`.)
    #[test]
    fn lists_take_any_token_and_filters(
        token in page_token(),
        size in prop_oneof![any::<i32>(), 0i32..5],
        window in window(),
        id in prop_oneof![Just("putin".to_string()), Just("e1".to_string()), nasty_string()],
        code in prop_oneof![Just("RU".to_string()), nasty_string()],
        number in -2i32..10,
        flag in any::<bool>(),
        cursor in prop_oneof![
            (any::<i64>(), "[a-z~|]{0,6}").prop_map(|(t, id)| format!("{t}|{id}")),
            any::<u64>().prop_map(|n| n.to_string()),
            nasty_string(),
        ],
    ) {
        use entente_proto::v1::audit_service_server::AuditService;
        use entente_proto::v1::directory_service_server::DirectoryService;
        use entente_proto::v1::event_service_server::EventService;
        use entente_proto::v1::proposal_service_server::ProposalService;
        use entente_server::grpc;
        let rt = runtime();
        let s = scheduler(&rt);
        rt.block_on(async {
            let events = grpc::events::Events::new(s.clone());
            let directory = grpc::directory::Directory::new(s.clone());
            let proposals = grpc::proposals::Proposals::new(s.clone());
            let audit = grpc::audit::Audit::new(s.clone());
            // Each with the fuzzed token, then with a token bound to its own query (so the
            // digest holds) around a fuzzed cursor.
            let list = pb::ListEventsRequest {
                window: window.clone(),
                participant_id: id.clone(),
                venue_id: if flag { "kremlin".into() } else { id.clone() },
                country_code: code.clone(),
                forum_id: id.clone(),
                kind: number,
                status: number,
                page_size: size,
                page_token: token.clone(),
                view_zone: code.clone(),
            };
            let bound = convert::page(&list).map(|p| p.token(&cursor)).unwrap_or_default();
            let _ = events.list_events(as_system(list.clone())).await;
            let _ = events.list_events(as_system(pb::ListEventsRequest { page_token: bound, ..list })).await;
            let agenda = pb::GetAgendaRequest {
                participant_id: if flag { "putin".into() } else { id.clone() },
                window: window.clone(),
                page_size: size,
                page_token: token.clone(),
                include_cancelled: flag,
                include_declined: !flag,
                ..Default::default()
            };
            let bound = convert::page(&agenda).map(|p| p.token(&cursor)).unwrap_or_default();
            let _ = events.get_agenda(as_system(agenda.clone())).await;
            let _ = events.get_agenda(as_system(pb::GetAgendaRequest { page_token: bound, ..agenda })).await;
            let history = pb::ListEventHistoryRequest {
                event_id: id.clone(),
                page_size: size,
                page_token: token.clone(),
            };
            let bound = convert::page(&history).map(|p| p.token(&cursor)).unwrap_or_default();
            let _ = events.list_event_history(as_system(history.clone())).await;
            let _ = events.list_event_history(as_system(pb::ListEventHistoryRequest { page_token: bound, ..history })).await;
            let _ = directory.list_countries(as_system(pb::ListCountriesRequest {
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = directory.list_participants(as_system(pb::ListParticipantsRequest {
                country_code: code.clone(),
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = directory.list_venues(as_system(pb::ListVenuesRequest {
                country_code: code.clone(),
                city: id.clone(),
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = directory.list_forums(as_system(pb::ListForumsRequest {
                member_country_code: code.clone(),
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = proposals.list_proposals(as_system(pb::ListProposalsRequest {
                participant_id: id.clone(),
                country_code: code.clone(),
                kind: number,
                status: number,
                target_event_id: id.clone(),
                event_id: id.clone(),
                awaiting_response: flag,
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = proposals.list_proposal_history(as_system(pb::ListProposalHistoryRequest {
                proposal_id: id.clone(),
                page_size: size,
                page_token: token.clone(),
            })).await;
            let _ = audit.list_audit_records(as_system(pb::ListAuditRecordsRequest {
                page_size: size,
                page_token: token.clone(),
            })).await;
        });
    }
}
