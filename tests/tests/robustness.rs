//! Robustness over the wire (issue 18): forged page tokens, values too long to echo, and
//! idempotency records that expire. Each test is named after the defect it pins.

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{article_directory, bad_fields, create, event, timed};
use tonic::Code;

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn october() -> Option<pb::TimeWindow> {
    Some(pb::TimeWindow {
        start: "2024-10-01".into(),
        end: "2024-11-01".into(),
        time_zone: String::new(),
    })
}

async fn three_events(server: &TestServer) {
    article_directory(&mut server.directory()).await;
    for (id, day) in [("a", "10"), ("b", "11"), ("c", "12")] {
        create(
            &mut server.events(),
            id,
            event(
                pb::EventKind::Other,
                id,
                "kremlin",
                &["putin"],
                timed(
                    &format!("2024-10-{day}T10:00"),
                    &format!("2024-10-{day}T11:00"),
                ),
            ),
        )
        .await;
    }
}

/// A page token whose cursor lay after the window's end reached `BTreeSet::range` with
/// its bounds reversed and panicked the handler (the client saw CANCELLED).
#[tokio::test]
async fn a_forged_page_token_never_panics_the_server() {
    let server = TestServer::start().await;
    three_events(&server).await;
    let mut events = server.events();
    // The token format before issue 18: "1" and the hex of "start|id". Far past the window.
    let forged = format!("1{}", hex("99999999999|zzz"));
    let r = events
        .list_events(pb::ListEventsRequest {
            window: october(),
            page_token: forged.clone(),
            ..Default::default()
        })
        .await;
    match r {
        Err(s) => assert_eq!(s.code(), Code::InvalidArgument, "{s:?}"),
        Ok(r) => assert!(r.into_inner().events.is_empty()),
    }
    let r = events
        .get_agenda(pb::GetAgendaRequest {
            participant_id: "putin".into(),
            window: october(),
            page_token: forged,
            ..Default::default()
        })
        .await;
    match r {
        Err(s) => assert_eq!(s.code(), Code::InvalidArgument, "{s:?}"),
        Ok(r) => assert!(r.into_inner().events.is_empty()),
    }
    // The server still serves.
    let all = events
        .list_events(pb::ListEventsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(all.events.len(), 3);
}

/// AIP-158: a page token belongs to its query. Used with other filters it is refused; a
/// cursor forged inside a real token's query is harmless wherever it points.
#[tokio::test]
async fn page_tokens_are_bound_to_their_query() {
    let server = TestServer::start().await;
    three_events(&server).await;
    let mut events = server.events();
    let first = events
        .list_events(pb::ListEventsRequest {
            window: october(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("page 1")
        .into_inner();
    assert_eq!(first.events.len(), 1);
    let token = first.next_page_token;
    assert!(!token.is_empty());
    // The same query continues, even with another page size or viewer zone.
    let second = events
        .list_events(pb::ListEventsRequest {
            window: october(),
            page_size: 5,
            page_token: token.clone(),
            view_zone: "Asia/Tehran".into(),
            ..Default::default()
        })
        .await
        .expect("page 2")
        .into_inner();
    assert_eq!(
        second
            .events
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        ["b", "c"]
    );
    // Other filters: INVALID_ARGUMENT naming page_token.
    let err = events
        .list_events(pb::ListEventsRequest {
            window: october(),
            participant_id: "putin".into(),
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another query");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["page_token"]);
    // A token of one list is not a token of another.
    let err = server
        .directory()
        .list_venues(pb::ListVenuesRequest {
            page_token: token.clone(),
            ..Default::default()
        })
        .await
        .expect_err("another list");
    assert_eq!(err.code(), Code::InvalidArgument);

    // Forge cursors inside the query's own token: before the window, after it, at the
    // largest start there is. Never a panic, never an event outside the window.
    let (prefix, _) = token.split_at(token.len() - hex_len_of_cursor(&token));
    for cursor in [
        "-99999999999|a",
        "99999999999|zzz",
        "9223372036854775807|~",
        "-9223372036854775808|",
    ] {
        let forged = format!("{prefix}{}", hex(cursor));
        let r = events
            .list_events(pb::ListEventsRequest {
                window: october(),
                page_token: forged,
                ..Default::default()
            })
            .await;
        match r {
            Ok(r) => assert!(r.into_inner().events.len() <= 3),
            Err(s) => assert_eq!(s.code(), Code::InvalidArgument, "{cursor}: {s:?}"),
        }
    }
    // Sequence-paged logs: the largest sequence there is.
    let history = events
        .list_event_history(pb::ListEventHistoryRequest {
            event_id: "a".into(),
            page_size: 1,
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    assert!(history.next_page_token.is_empty(), "one entry");
}

/// The hex of the cursor is what follows the token's version and query digest.
fn hex_len_of_cursor(token: &str) -> usize {
    // "2" + 16 hex digits of digest, then the cursor.
    token.len() - 17
}

/// Ids, zones and other values were echoed whole into `grpc-message` and the details,
/// ~6.5 header bytes per input byte: a 2,500-character id overflowed a default grpcio
/// client's 8 KiB metadata limit. Every error's headers now stay under 1 KiB.
#[tokio::test]
async fn long_values_are_not_echoed_whole() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let long = "é".repeat(2500);
    let mut checked = 0;
    let statuses: Vec<tonic::Status> = vec![
        server
            .events()
            .get_event(pb::GetEventRequest {
                id: long.clone(),
                ..Default::default()
            })
            .await
            .expect_err("id"),
        server
            .events()
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(event(
                    pb::EventKind::Other,
                    "x",
                    &long,
                    &[&long, "putin"],
                    Some(pb::EventTiming {
                        span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                            start: long.clone(),
                            end: long.clone(),
                            time_zone: long.clone(),
                        })),
                    }),
                ))),
                event_id: long.clone(),
                view_zone: long.clone(),
                ..Default::default()
            })
            .await
            .expect_err("everything"),
        server
            .directory()
            .create_participant(pb::CreateParticipantRequest {
                participant: Some(pb::Participant {
                    display_name: long.clone(),
                    country_code: long.clone(),
                    home_time_zone: long.clone(),
                    title: long.clone(),
                    ..Default::default()
                }),
                participant_id: long.clone(),
                ..Default::default()
            })
            .await
            .expect_err("participant"),
        server
            .directory()
            .update_venue(pb::UpdateVenueRequest {
                venue: Some(pb::Venue {
                    id: "kremlin".into(),
                    etag: long.clone(),
                    ..Default::default()
                }),
                update_mask: Some(prost_types::FieldMask {
                    paths: vec![long.clone(), long.clone()],
                }),
                ..Default::default()
            })
            .await
            .expect_err("mask"),
        server
            .events()
            .list_events(pb::ListEventsRequest {
                window: Some(pb::TimeWindow {
                    start: long.clone(),
                    end: long.clone(),
                    time_zone: long.clone(),
                }),
                page_token: long.clone(),
                country_code: long.clone(),
                ..Default::default()
            })
            .await
            .expect_err("window"),
    ];
    for s in statuses {
        let mut headers = tonic::codegen::http::HeaderMap::new();
        let headers = s
            .add_header(&mut headers)
            .map(|_| headers)
            .expect("headers");
        let bytes: usize = headers
            .iter()
            .map(|(k, v)| k.as_str().len() + v.len())
            .sum();
        assert!(
            bytes < 1024,
            "{bytes} header bytes for {:?}: {}",
            s.code(),
            s.message()
        );
        assert!(
            matches!(s.code(), Code::InvalidArgument | Code::NotFound),
            "{s:?}"
        );
        checked += 1;
    }
    assert_eq!(checked, 5);
}

/// Idempotency records (with their proposal snapshots) were kept forever, in memory and on
/// disk. They are kept for a retention (24 h by default): a retry within it is answered
/// with the first result, a retry after it is a new request, and the sweep forgets them.
#[tokio::test]
async fn request_ids_are_forgotten_after_their_retention() {
    use entente_server::{ManualClock, Principal, Scheduler, Settings};
    let clock = ManualClock::new(1_760_000_000_000_000);
    let scheduler = Scheduler::temporary(Settings {
        clock: clock.clock(),
        expiry_sweep: None,
        request_retention: std::time::Duration::from_secs(24 * 3600),
        ..Settings::default()
    })
    .expect("scheduler");
    let server = TestServer::serving(scheduler.clone()).await;
    article_directory(&mut server.directory()).await;
    let req = || pb::CreateEventRequest {
        event: Some(Box::new(event(
            pb::EventKind::Other,
            "Cabinet",
            "kremlin",
            &["putin"],
            timed("2025-01-10T10:00", "2025-01-10T11:00"),
        ))),
        request_id: "morning-cabinet".into(),
        ..Default::default()
    };
    let mut events = server.events();
    let first = events
        .create_event(req())
        .await
        .expect("first")
        .into_inner();
    clock.advance(23 * 3600 * 1_000_000);
    let retry = events
        .create_event(req())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(
        retry.event, first.event,
        "within the retention: the first result"
    );
    let swept = scheduler.sweep(&Principal::system()).await.expect("sweep");
    assert_eq!(swept.forgotten, 0, "not yet past the retention");

    clock.advance(2 * 3600 * 1_000_000);
    let swept = scheduler.sweep(&Principal::system()).await.expect("sweep");
    assert_eq!(swept.forgotten, 1);
    let stored = scheduler
        .store()
        .scan(entente_server::storage::prefix::REQUEST)
        .expect("scan");
    assert!(stored.is_empty(), "forgotten on disk too: {stored:?}");
    // After it, the same request id is a new request: here a double booking, refused.
    let err = events
        .create_event(req())
        .await
        .expect_err("a new request, which conflicts with the first");
    assert_eq!(err.code(), Code::FailedPrecondition);
}
