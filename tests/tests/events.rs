//! Events over gRPC: the article's scenario, time zones and DST, sidelines, cancellation,
//! validation, queries and restarts.

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{
    article_directory, bad_fields, create, days, event, local, precondition_subjects,
    precondition_types, rfc, timed, utc,
};
use prost_types::FieldMask;
use tonic::Code;

use pb::EventKind::{BilateralMeeting, Conference, SigningCeremony, Summit};

async fn article_server() -> TestServer {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    server
}

/// The article end to end: the Ashgabat conference, the Putin–Pezeshkian talks on its
/// sidelines on Friday 11 October 2024, and the BRICS summit in Kazan on 22–24 October as
/// whole days; both shown in Tehran time.
#[tokio::test]
async fn the_article_scenario() {
    let server = article_server().await;
    let mut events = server.events();

    let conference = create(
        &mut events,
        "ashgabat-forum-2024",
        event(
            Conference,
            "International forum in Ashgabat",
            "ashgabat-congress",
            &["putin", "pezeshkian"],
            days("2024-10-11", "2024-10-11"),
        ),
    )
    .await;
    assert!(conference.all_day);
    assert_eq!(
        rfc(&conference.start),
        "2024-10-11T00:00:00+05:00[Asia/Ashgabat]"
    );
    assert_eq!(
        rfc(&conference.end),
        "2024-10-12T00:00:00+05:00[Asia/Ashgabat]"
    );
    assert_eq!(
        conference.host_country_code, "TM",
        "defaults to the venue's country"
    );
    assert_eq!(
        conference.status,
        pb::EventStatus::Confirmed as i32,
        "firm unless pencilled in"
    );
    assert_eq!(conference.city, "Ashgabat");

    let mut talks = event(
        BilateralMeeting,
        "Putin–Pezeshkian talks",
        "",
        &["putin", "pezeshkian"],
        timed("2024-10-11T11:00", "2024-10-11T12:30"),
    );
    talks.parent_event_id = "ashgabat-forum-2024".into();
    let talks = create(&mut events, "putin-pezeshkian-ashgabat", talks).await;
    assert_eq!(
        talks.venue_id, "ashgabat-congress",
        "a sidelines event defaults to its parent's venue"
    );
    assert_eq!(
        rfc(&talks.start),
        "2024-10-11T11:00:00+05:00[Asia/Ashgabat]"
    );
    assert_eq!(utc(&talks.start), 1_728_626_400, "06:00 UTC");
    assert_eq!(talks.duration.map(|d| d.seconds), Some(90 * 60));
    assert!(!talks.tzdb_version.is_empty());

    let mut summit = event(
        Summit,
        "XVI BRICS summit",
        "kazan-expo",
        &["putin", "pezeshkian", "xi"],
        days("2024-10-22", "2024-10-24"),
    );
    summit.forum_id = "brics".into();
    let summit = create(&mut events, "brics-kazan-2024", summit).await;
    assert_eq!(
        rfc(&summit.start),
        "2024-10-22T00:00:00+03:00[Europe/Moscow]"
    );
    assert_eq!(
        rfc(&summit.end),
        "2024-10-25T00:00:00+03:00[Europe/Moscow]",
        "22–24 inclusive ends at the start of the 25th"
    );
    let timing = summit.timing.and_then(|t| t.span);
    assert_eq!(
        timing,
        Some(pb::event_timing::Span::AllDay(pb::DateSpan {
            start_date: "2024-10-22".into(),
            end_date: "2024-10-24".into(),
            time_zone: "Europe/Moscow".into(),
        })),
        "the timing is returned as entered"
    );

    // In Tehran time (+03:30): the summit opens at 00:30 on the 22nd, the talks at 09:30.
    for (id, start, end) in [
        (
            "brics-kazan-2024",
            "2024-10-22T00:30:00",
            "2024-10-25T00:30:00",
        ),
        (
            "putin-pezeshkian-ashgabat",
            "2024-10-11T09:30:00",
            "2024-10-11T11:00:00",
        ),
    ] {
        let e = events
            .get_event(pb::GetEventRequest {
                id: id.into(),
                view_zone: "Asia/Tehran".into(),
            })
            .await
            .expect("get")
            .into_inner()
            .event
            .expect("event");
        assert_eq!(local(&e.view_start), start, "{id}");
        assert_eq!(local(&e.view_end), end, "{id}");
        assert_eq!(
            e.view_start.as_ref().map(|z| z.utc_offset.as_str()),
            Some("+03:30")
        );
        assert_eq!(
            utc(&e.view_start),
            utc(&e.start),
            "rendering keeps the instant"
        );
    }

    // The conference's programme lists the talks.
    let programme = events
        .get_programme(pb::GetProgrammeRequest {
            event_id: "ashgabat-forum-2024".into(),
            ..Default::default()
        })
        .await
        .expect("programme")
        .into_inner();
    assert_eq!(
        programme
            .sidelines
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        vec!["putin-pezeshkian-ashgabat"]
    );

    // Pezeshkian's October agenda, in his home zone by default, with venue time beside it.
    let agenda = events
        .get_agenda(pb::GetAgendaRequest {
            participant_id: "pezeshkian".into(),
            window: Some(pb::TimeWindow {
                start: "2024-10-01".into(),
                end: "2024-11-01".into(),
                time_zone: "Asia/Tehran".into(),
            }),
            ..Default::default()
        })
        .await
        .expect("agenda")
        .into_inner();
    assert_eq!(agenda.view_zone, "Asia/Tehran");
    let ids: Vec<_> = agenda.events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(
        ids,
        vec![
            "ashgabat-forum-2024",
            "putin-pezeshkian-ashgabat",
            "brics-kazan-2024"
        ]
    );
    let talks_item = &agenda.events[1];
    assert_eq!(local(&talks_item.view_start), "2024-10-11T09:30:00");
    assert_eq!(
        local(&talks_item.start),
        "2024-10-11T11:00:00",
        "local time at the venue beside it"
    );
}

/// Tentative: for tests that put several events in one hall at once on purpose.
fn tentative(mut e: pb::Event) -> pb::Event {
    e.status = pb::EventStatus::Tentative as i32;
    e
}

async fn create_err(
    server: &TestServer,
    e: pb::Event,
    disambiguation: pb::Disambiguation,
) -> tonic::Status {
    server
        .events()
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            disambiguation: disambiguation as i32,
            ..Default::default()
        })
        .await
        .expect_err("should be refused")
}

async fn create_in(
    server: &TestServer,
    zone: &str,
    start: &str,
    end: &str,
    d: pb::Disambiguation,
) -> Result<pb::Event, tonic::Status> {
    let mut e = event(
        SigningCeremony,
        "Signing",
        "kremlin",
        &[],
        timed(start, end),
    );
    // Tentative: these cases pile many events into one hall to test time, not conflicts.
    e.status = pb::EventStatus::Tentative as i32;
    if let Some(pb::event_timing::Span::Timed(t)) = e.timing.as_mut().and_then(|t| t.span.as_mut())
    {
        t.time_zone = zone.into();
    }
    server
        .events()
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(e)),
            disambiguation: d as i32,
            ..Default::default()
        })
        .await
        .map(|r| *r.into_inner().event.expect("event"))
}

/// DST gaps and folds under every disambiguation option, in several zones, through the API.
#[tokio::test]
async fn dst_gaps_and_folds_under_each_option() {
    use pb::Disambiguation::*;
    let server = article_server().await;
    let cases: &[(&str, &str, pb::Disambiguation, Option<&str>)] = &[
        (
            "America/New_York",
            "2024-03-10T02:30",
            Compatible,
            Some("2024-03-10T03:30:00-04:00"),
        ),
        (
            "America/New_York",
            "2024-03-10T02:30",
            Later,
            Some("2024-03-10T03:30:00-04:00"),
        ),
        (
            "America/New_York",
            "2024-03-10T02:30",
            Earlier,
            Some("2024-03-10T01:30:00-05:00"),
        ),
        ("America/New_York", "2024-03-10T02:30", Reject, None),
        ("America/New_York", "2024-03-10T02:30", Unspecified, None),
        (
            "America/New_York",
            "2024-11-03T01:30",
            Compatible,
            Some("2024-11-03T01:30:00-04:00"),
        ),
        (
            "America/New_York",
            "2024-11-03T01:30",
            Earlier,
            Some("2024-11-03T01:30:00-04:00"),
        ),
        (
            "America/New_York",
            "2024-11-03T01:30",
            Later,
            Some("2024-11-03T01:30:00-05:00"),
        ),
        ("America/New_York", "2024-11-03T01:30", Reject, None),
        (
            "Europe/London",
            "2024-03-31T01:30",
            Compatible,
            Some("2024-03-31T02:30:00+01:00"),
        ),
        (
            "Europe/London",
            "2024-03-31T01:30",
            Earlier,
            Some("2024-03-31T00:30:00+00:00"),
        ),
        (
            "Europe/London",
            "2024-10-27T01:30",
            Later,
            Some("2024-10-27T01:30:00+00:00"),
        ),
        ("Europe/London", "2024-10-27T01:30", Reject, None),
        (
            "Australia/Lord_Howe",
            "2024-10-06T02:15",
            Compatible,
            Some("2024-10-06T02:45:00+11:00"),
        ),
        (
            "Australia/Lord_Howe",
            "2024-10-06T02:15",
            Earlier,
            Some("2024-10-06T01:45:00+10:30"),
        ),
        (
            "Australia/Lord_Howe",
            "2024-04-07T01:45",
            Earlier,
            Some("2024-04-07T01:45:00+11:00"),
        ),
        (
            "Australia/Lord_Howe",
            "2024-04-07T01:45",
            Later,
            Some("2024-04-07T01:45:00+10:30"),
        ),
        ("Australia/Lord_Howe", "2024-04-07T01:45", Reject, None),
        (
            "Asia/Kathmandu",
            "2024-10-11T11:00",
            Reject,
            Some("2024-10-11T11:00:00+05:45"),
        ),
    ];
    for (zone, start, d, want) in cases {
        // The end is late that evening, past any transition of that night.
        let end = format!("{}T23:00", &start[..10]);
        let got = create_in(&server, zone, start, &end, *d).await;
        match want {
            Some(w) => {
                let e = got.unwrap_or_else(|e| panic!("{zone} {start} {d:?}: {e:?}"));
                let s = e.start.expect("start");
                assert_eq!(
                    format!("{}{}", s.local_time, s.utc_offset),
                    *w,
                    "{zone} {start} {d:?}"
                );
                assert_eq!(s.time_zone, *zone);
            }
            None => {
                let err = got.expect_err("rejected");
                assert_eq!(err.code(), Code::InvalidArgument, "{zone} {start} {d:?}");
                assert_eq!(bad_fields(&err), vec!["event.timing.timed.start"]);
                assert!(
                    err.message().contains("does not exist")
                        || err.message().contains("happens twice"),
                    "{}",
                    err.message()
                );
            }
        }
    }
}

/// An event across the spring-forward night lasts an hour less than its wall clock says.
#[tokio::test]
async fn an_event_spanning_a_dst_change_has_the_right_duration() {
    let server = article_server().await;
    let e = create_in(
        &server,
        "America/New_York",
        "2024-03-09T22:00",
        "2024-03-10T04:00",
        pb::Disambiguation::Reject,
    )
    .await
    .expect("create");
    assert_eq!(
        e.duration.map(|d| d.seconds),
        Some(5 * 3600),
        "22:00 EST to 04:00 EDT is five hours"
    );
    assert_eq!(
        e.start.as_ref().map(|z| z.abbreviation.as_str()),
        Some("EST")
    );
    assert_eq!(e.end.as_ref().map(|z| z.abbreviation.as_str()), Some("EDT"));
    let e = create_in(
        &server,
        "Europe/London",
        "2024-10-26T22:00",
        "2024-10-27T04:00",
        pb::Disambiguation::Reject,
    )
    .await
    .expect("create");
    assert_eq!(
        e.duration.map(|d| d.seconds),
        Some(7 * 3600),
        "the autumn night is an hour longer"
    );
}

#[tokio::test]
async fn time_strings_in_every_accepted_form() {
    let server = article_server().await;
    let mut events = server.events();
    // RFC 9557 with its own zone; RFC 3339 instants; a matching numeric offset.
    for (start, end, want) in [
        (
            "2024-10-22T10:00[Europe/Moscow]",
            "2024-10-22T11:00[Europe/Moscow]",
            "2024-10-22T10:00:00+03:00[Europe/Moscow]",
        ),
        (
            "2024-10-22T07:00:00Z",
            "2024-10-22T08:00:00Z",
            "2024-10-22T10:00:00+03:00[Europe/Moscow]",
        ),
        (
            "2024-10-22T10:00:00+03:00",
            "2024-10-22T11:00:00+03:00",
            "2024-10-22T10:00:00+03:00[Europe/Moscow]",
        ),
    ] {
        let e = events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(tentative(event(
                    Conference,
                    "Session",
                    "kremlin",
                    &[],
                    timed(start, end),
                )))),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("{start}: {e:?}"))
            .into_inner()
            .event
            .expect("event");
        assert_eq!(rfc(&e.start), want, "{start}");
    }

    // An offset that contradicts the zone is refused, naming both.
    let err = create_err(
        &server,
        tentative(event(
            Conference,
            "Session",
            "kremlin",
            &[],
            timed("2024-10-22T10:00:00+05:00", "2024-10-22T11:00:00+05:00"),
        )),
        pb::Disambiguation::Reject,
    )
    .await;
    assert_eq!(err.code(), Code::InvalidArgument);
    assert!(
        err.message().contains("contradicts Europe/Moscow"),
        "{}",
        err.message()
    );
    // ...unless the caller says the offset wins.
    let e = events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(tentative(event(
                Conference,
                "Session",
                "kremlin",
                &[],
                timed("2024-10-22T10:00:00+05:00", "2024-10-22T11:00:00+05:00"),
            )))),
            offset_policy: pb::OffsetPolicy::Use as i32,
            ..Default::default()
        })
        .await
        .expect("offset: use")
        .into_inner()
        .event
        .expect("event");
    assert_eq!(rfc(&e.start), "2024-10-22T08:00:00+03:00[Europe/Moscow]");

    // A bracketed zone that differs from the explicit one.
    let mut e = tentative(event(
        Conference,
        "Session",
        "kremlin",
        &[],
        timed("2024-10-22T10:00[Asia/Tehran]", "2024-10-22T11:00"),
    ));
    if let Some(pb::event_timing::Span::Timed(t)) = e.timing.as_mut().and_then(|t| t.span.as_mut())
    {
        t.time_zone = "Europe/Moscow".into();
    }
    let err = create_err(&server, e, pb::Disambiguation::Reject).await;
    assert_eq!(bad_fields(&err), vec!["event.timing.timed.start"]);
}

#[tokio::test]
async fn invalid_events_name_the_problem() {
    let server = article_server().await;
    let ok = || {
        event(
            BilateralMeeting,
            "Talks",
            "kremlin",
            &["putin", "pezeshkian"],
            timed("2024-10-11T11:00", "2024-10-11T12:00"),
        )
    };
    let cases: Vec<(pb::Event, Code, &str)> = vec![
        (
            {
                let mut e = ok();
                e.title = "  ".into();
                e
            },
            Code::InvalidArgument,
            "event.title",
        ),
        (
            {
                let mut e = ok();
                e.kind = 0;
                e
            },
            Code::InvalidArgument,
            "event.kind",
        ),
        (
            {
                let mut e = ok();
                e.timing = timed("2024-10-11T12:00", "2024-10-11T11:00");
                e
            },
            Code::InvalidArgument,
            "event.timing",
        ),
        (
            {
                let mut e = ok();
                e.timing = timed("2024-10-11T12:00", "2024-10-11T12:00");
                e
            },
            Code::InvalidArgument,
            "event.timing",
        ),
        (
            {
                let mut e = ok();
                e.timing = timed("2024-10-11T12:00", "2024-12-31T12:00");
                e
            },
            Code::InvalidArgument,
            "event.timing",
        ),
        (
            {
                let mut e = ok();
                e.timing = timed("3024-10-11T12:00", "3024-10-11T13:00");
                e
            },
            Code::InvalidArgument,
            "event.timing.timed.start",
        ),
        (
            {
                let mut e = ok();
                e.timing = timed("next friday", "2024-10-11T13:00");
                e
            },
            Code::InvalidArgument,
            "event.timing.timed.start",
        ),
        (
            {
                let mut e = ok();
                e.timing = None;
                e
            },
            Code::InvalidArgument,
            "event.timing",
        ),
        (
            {
                let mut e = ok();
                e.participant_ids.push("putin".into());
                e
            },
            Code::InvalidArgument,
            "event.participant_ids[2]",
        ),
        (
            {
                let mut e = ok();
                e.participant_ids.push("erdogan".into());
                e
            },
            Code::NotFound,
            "event.participant_ids[2]",
        ),
        (
            {
                let mut e = ok();
                e.venue_id = "atlantis".into();
                e
            },
            Code::NotFound,
            "event.venue_id",
        ),
        (
            {
                let mut e = ok();
                e.forum_id = "g7".into();
                e
            },
            Code::NotFound,
            "event.forum_id",
        ),
        (
            {
                let mut e = ok();
                e.status = pb::EventStatus::Cancelled as i32;
                e
            },
            Code::InvalidArgument,
            "event.status",
        ),
        (
            {
                let mut e = ok();
                e.host_country_code = "SU".into();
                e
            },
            Code::InvalidArgument,
            "event.host_country_code",
        ),
        (
            {
                let mut e = ok();
                e.timing = Some(pb::EventTiming {
                    span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                        start: "2024-10-11T11:00".into(),
                        end: "2024-10-11T12:00".into(),
                        time_zone: "Europe/Kazan".into(),
                    })),
                });
                e
            },
            Code::InvalidArgument,
            "event.timing.timed.time_zone",
        ),
        (
            {
                let mut e = ok();
                e.timing = days("2024-10-24", "2024-10-22");
                e
            },
            Code::InvalidArgument,
            "event.timing.all_day.end_date",
        ),
    ];
    for (e, code, field) in cases {
        let err = create_err(&server, e, pb::Disambiguation::Reject).await;
        assert_eq!(err.code(), code, "{field}: {err:?}");
        assert!(
            bad_fields(&err).contains(&field.to_string()),
            "{field}: {:?} / {}",
            bad_fields(&err),
            err.message()
        );
    }
    let err = create_err(
        &server,
        {
            let mut e = ok();
            e.participant_ids.push("erdogan".into());
            e
        },
        pb::Disambiguation::Reject,
    )
    .await;
    assert!(
        err.message().contains("erdogan"),
        "NOT_FOUND names the id: {}",
        err.message()
    );
    let err = create_err(
        &server,
        {
            let mut e = ok();
            e.timing = timed("2024-10-11T11:00", "2024-10-11T12:00");
            if let Some(pb::event_timing::Span::Timed(t)) =
                e.timing.as_mut().and_then(|t| t.span.as_mut())
            {
                t.time_zone = "Mars/Olympus".into();
            }
            e
        },
        pb::Disambiguation::Reject,
    )
    .await;
    assert!(err.message().contains("Mars/Olympus"), "{}", err.message());
}

#[tokio::test]
async fn sidelines_must_be_inside_the_parent_and_in_its_city() {
    let server = article_server().await;
    let mut events = server.events();
    create(
        &mut events,
        "forum",
        event(
            Conference,
            "Forum",
            "ashgabat-congress",
            &[],
            days("2024-10-10", "2024-10-11"),
        ),
    )
    .await;

    // Same city, other venue: fine.
    let mut ok = event(
        BilateralMeeting,
        "Talks",
        "ashgabat-palace",
        &["putin"],
        timed("2024-10-11T11:00", "2024-10-11T12:00"),
    );
    ok.parent_event_id = "forum".into();
    create(&mut events, "talks", ok).await;

    // Outside the parent's span.
    let mut late = event(
        BilateralMeeting,
        "Late talks",
        "ashgabat-palace",
        &["xi"],
        timed("2024-10-11T23:30", "2024-10-12T00:30"),
    );
    late.parent_event_id = "forum".into();
    let err = create_err(&server, late, pb::Disambiguation::Reject).await;
    assert_eq!(err.code(), Code::FailedPrecondition, "{err:?}");
    assert_eq!(precondition_types(&err), vec!["SIDELINES_OUTSIDE_PARENT"]);

    // Another city.
    let mut far = event(
        BilateralMeeting,
        "Talks in Kazan",
        "kazan-expo",
        &["xi"],
        timed("2024-10-11T09:00", "2024-10-11T10:00"),
    );
    far.parent_event_id = "forum".into();
    let err = create_err(&server, far, pb::Disambiguation::Reject).await;
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_types(&err), vec!["SIDELINES_OTHER_CITY"]);
    assert!(err.message().contains("Kazan"), "{}", err.message());

    // An unknown parent.
    let mut orphan = event(
        BilateralMeeting,
        "Talks",
        "ashgabat-palace",
        &[],
        timed("2024-10-11T11:00", "2024-10-11T12:00"),
    );
    orphan.parent_event_id = "nowhere".into();
    let err = create_err(&server, orphan, pb::Disambiguation::Reject).await;
    assert_eq!(err.code(), Code::NotFound);
    assert_eq!(bad_fields(&err), vec!["event.parent_event_id"]);

    // Moving the parent so that the talks would fall outside it is refused, naming them.
    let parent = events
        .get_event(pb::GetEventRequest {
            id: "forum".into(),
            ..Default::default()
        })
        .await
        .expect("get")
        .into_inner()
        .event
        .expect("e");
    let err = events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "forum".into(),
                etag: parent.etag.clone(),
                timing: days("2024-10-09", "2024-10-10"),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["timing".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("strands the talks");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_types(&err), vec!["SIDELINES_STRANDED"]);
    assert!(err.message().contains("talks"), "{}", err.message());

    // Moving it to another city strands them too.
    let err = events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "forum".into(),
                venue_id: "kazan-expo".into(),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["venue_id".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("strands the talks");
    assert_eq!(precondition_types(&err), vec!["SIDELINES_STRANDED"]);

    // Widening it is fine.
    events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "forum".into(),
                timing: days("2024-10-09", "2024-10-12"),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["timing".into()],
            }),
            ..Default::default()
        })
        .await
        .expect("widen");
}

#[tokio::test]
async fn cancelling_a_parent_says_what_it_would_strand() {
    let server = article_server().await;
    let mut events = server.events();
    create(
        &mut events,
        "forum",
        event(
            Conference,
            "Forum",
            "ashgabat-congress",
            &[],
            days("2024-10-10", "2024-10-11"),
        ),
    )
    .await;
    for (id, t) in [("talks-1", "09:00"), ("talks-2", "14:00")] {
        let mut e = event(
            BilateralMeeting,
            id,
            "ashgabat-palace",
            &[],
            timed(
                &format!("2024-10-11T{t}"),
                &format!(
                    "2024-10-11T{}",
                    if t == "09:00" { "10:00" } else { "15:00" }
                ),
            ),
        );
        e.parent_event_id = "forum".into();
        create(&mut events, id, e).await;
    }
    let err = events
        .cancel_event(pb::CancelEventRequest {
            id: "forum".into(),
            reason: "postponed".into(),
            ..Default::default()
        })
        .await
        .expect_err("children");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(
        precondition_types(&err),
        vec!["SIDELINES_LIVE", "SIDELINES_LIVE"]
    );

    // Cancel one child on its own: it stays readable, cancelled, with its reason.
    let c = events
        .cancel_event(pb::CancelEventRequest {
            id: "talks-1".into(),
            reason: "schedule".into(),
            ..Default::default()
        })
        .await
        .expect("cancel child")
        .into_inner();
    let ev = c.event.expect("event");
    assert_eq!(ev.status, pb::EventStatus::Cancelled as i32);
    assert_eq!(ev.cancellation_reason, "schedule");

    let c = events
        .cancel_event(pb::CancelEventRequest {
            id: "forum".into(),
            reason: "postponed".into(),
            cascade: true,
            ..Default::default()
        })
        .await
        .expect("cascade")
        .into_inner();
    assert_eq!(c.cancelled_event_ids, vec!["talks-2"]);
    let got = events
        .get_event(pb::GetEventRequest {
            id: "talks-2".into(),
            ..Default::default()
        })
        .await
        .expect("readable")
        .into_inner()
        .event
        .expect("e");
    assert_eq!(got.status, pb::EventStatus::Cancelled as i32);

    // Cancelled events leave lists unless asked for, but stay in the programme on request.
    let list = events
        .list_events(pb::ListEventsRequest {
            venue_id: "ashgabat-palace".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert!(list.events.is_empty());
    let list = events
        .list_events(pb::ListEventsRequest {
            venue_id: "ashgabat-palace".into(),
            status: pb::EventStatus::Cancelled as i32,
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(list.events.len(), 2);
    let p = events
        .get_programme(pb::GetProgrammeRequest {
            event_id: "forum".into(),
            include_cancelled: true,
            ..Default::default()
        })
        .await
        .expect("programme")
        .into_inner();
    assert_eq!(
        p.sidelines
            .iter()
            .map(|e| e.id.as_str())
            .collect::<Vec<_>>(),
        vec!["talks-1", "talks-2"]
    );

    // Twice is refused; nothing new goes on the sidelines of a cancelled event.
    let err = events
        .cancel_event(pb::CancelEventRequest {
            id: "forum".into(),
            ..Default::default()
        })
        .await
        .expect_err("already");
    assert_eq!(err.code(), Code::FailedPrecondition);
    let mut late = event(
        BilateralMeeting,
        "Late",
        "ashgabat-palace",
        &[],
        timed("2024-10-11T16:00", "2024-10-11T17:00"),
    );
    late.parent_event_id = "forum".into();
    let err = create_err(&server, late, pb::Disambiguation::Reject).await;
    assert_eq!(precondition_types(&err), vec!["SIDELINES_PARENT_CANCELLED"]);

    // The history records who did what.
    let h = events
        .list_event_history(pb::ListEventHistoryRequest {
            event_id: "forum".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    let actions: Vec<i32> = h.revisions.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            pb::EventAction::Created as i32,
            pb::EventAction::Cancelled as i32
        ]
    );
    assert_eq!(h.revisions[1].note, "postponed");
}

#[tokio::test]
async fn window_lists_filter_order_and_paginate() {
    let server = article_server().await;
    let mut events = server.events();
    // 12 one-hour sessions in Kazan, one per hour from 09:00 Moscow time.
    for i in 0..12 {
        let mut e = event(
            Conference,
            &format!("Session {i}"),
            "kazan-expo",
            &[],
            timed(
                &format!("2024-10-22T{:02}:00", 9 + i),
                &format!("2024-10-22T{:02}:00", 10 + i),
            ),
        );
        e.forum_id = if i % 2 == 0 {
            "brics".into()
        } else {
            String::new()
        };
        create(&mut events, &format!("s{i:02}"), e).await;
    }
    create(
        &mut events,
        "talks",
        event(
            BilateralMeeting,
            "Talks",
            "ashgabat-congress",
            &["putin"],
            timed("2024-10-22T11:00", "2024-10-22T12:00"),
        ),
    )
    .await;

    // A window given in Tehran time: 10:30–13:30 Tehran is 10:00–13:00 Moscow, which
    // overlaps sessions 1, 2 and 3 (10:00–13:00) and not session 0 (ends at 10:00, touching)
    // nor session 4 (starts at 13:00). The talks (09:00–10:00 Moscow) are outside.
    let window = pb::TimeWindow {
        start: "2024-10-22T10:30".into(),
        end: "2024-10-22T13:30".into(),
        time_zone: "Asia/Tehran".into(),
    };
    let l = events
        .list_events(pb::ListEventsRequest {
            window: Some(window.clone()),
            venue_id: "kazan-expo".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        l.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["s01", "s02", "s03"]
    );

    let l = events
        .list_events(pb::ListEventsRequest {
            window: Some(window),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        l.events.iter().map(|e| e.id.as_str()).collect::<Vec<_>>(),
        vec!["s02"]
    );

    // Paginate through the whole day in pages of 5.
    let mut ids = Vec::new();
    let mut token = String::new();
    loop {
        let page = events
            .list_events(pb::ListEventsRequest {
                window: Some(pb::TimeWindow {
                    start: "2024-10-22".into(),
                    end: "2024-10-23".into(),
                    time_zone: "Europe/Moscow".into(),
                }),
                page_size: 5,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .expect("page")
            .into_inner();
        ids.extend(page.events.into_iter().map(|e| e.id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    assert_eq!(ids.len(), 13);
    // The talks start at 11:00 in Ashgabat, which is 09:00 in Moscow, with s00.
    assert_eq!(
        &ids[..4],
        &["s00", "talks", "s01", "s02"],
        "ordered by start, ties by id"
    );

    let err = events
        .list_events(pb::ListEventsRequest {
            window: Some(pb::TimeWindow {
                start: "2024-10-22".into(),
                end: "2024-10-22".into(),
                time_zone: String::new(),
            }),
            ..Default::default()
        })
        .await
        .expect_err("empty window");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["window.end"]);
}

#[tokio::test]
async fn updates_merge_by_mask_and_check_etags() {
    let server = article_server().await;
    let mut events = server.events();
    let e = create(
        &mut events,
        "talks",
        pb::Event {
            status: pb::EventStatus::Tentative as i32,
            ..event(
                BilateralMeeting,
                "Talks",
                "kremlin",
                &["putin"],
                timed("2024-10-15T11:00", "2024-10-15T12:00"),
            )
        },
    )
    .await;
    let u = events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "talks".into(),
                etag: e.etag.clone(),
                status: pb::EventStatus::Confirmed as i32,
                participant_ids: vec!["putin".into(), "pezeshkian".into()],
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["status".into(), "participant_ids".into()],
            }),
            actor: "Kremlin protocol".into(),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .event
        .expect("e");
    assert_eq!(u.status, pb::EventStatus::Confirmed as i32);
    assert_eq!(u.participant_ids, vec!["putin", "pezeshkian"]);
    assert_eq!(u.title, "Talks");
    assert_eq!(rfc(&u.start), rfc(&e.start));
    let err = events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "talks".into(),
                etag: e.etag,
                title: "x".into(),
                ..Default::default()
            })),
            update_mask: Some(FieldMask {
                paths: vec!["title".into()],
            }),
            ..Default::default()
        })
        .await
        .expect_err("stale");
    assert_eq!(err.code(), Code::Aborted);
    let h = events
        .list_event_history(pb::ListEventHistoryRequest {
            event_id: "talks".into(),
            ..Default::default()
        })
        .await
        .expect("history")
        .into_inner();
    assert_eq!(h.revisions.len(), 2);
    assert_eq!(h.revisions[1].actor, "Kremlin protocol");
    assert_eq!(
        h.revisions[1].changed_fields,
        vec!["participant_ids", "status"]
    );

    // Without a mask, what the request sets is updated and the rest kept (AIP-134).
    let moved = events
        .update_event(pb::UpdateEventRequest {
            event: Some(Box::new(pb::Event {
                id: "talks".into(),
                title: "Talks, moved".into(),
                timing: timed("2024-10-15T15:00", "2024-10-15T16:30"),
                ..Default::default()
            })),
            update_mask: None,
            ..Default::default()
        })
        .await
        .expect("update without a mask")
        .into_inner()
        .event
        .expect("e");
    assert_eq!(moved.title, "Talks, moved");
    assert_eq!(local(&moved.start), "2024-10-15T15:00:00");
    assert_eq!(local(&moved.end), "2024-10-15T16:30:00");
    assert_eq!(moved.venue_id, "kremlin");
    assert_eq!(moved.participant_ids, vec!["putin", "pezeshkian"]);
    assert_eq!(moved.status, pb::EventStatus::Confirmed as i32);
    assert_eq!(moved.kind, BilateralMeeting as i32);

    // A venue still used by an event cannot be deleted.
    let err = server
        .directory()
        .delete_venue(pb::DeleteVenueRequest {
            id: "kremlin".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("in use");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert!(err.message().contains("talks"), "{}", err.message());
    assert_eq!(precondition_subjects(&err), vec!["events/talks"]);
    // Cancelling does not free it: a cancelled event stays on record with its venue, and
    // the refusal says so rather than suggesting a cancellation.
    events
        .cancel_event(pb::CancelEventRequest {
            id: "talks".into(),
            ..Default::default()
        })
        .await
        .expect("cancel");
    let err = server
        .directory()
        .delete_venue(pb::DeleteVenueRequest {
            id: "kremlin".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("still on record");
    assert_eq!(err.code(), Code::FailedPrecondition);
    assert_eq!(precondition_subjects(&err), vec!["events/talks"]);
    assert!(
        err.message().contains("move those events to another venue")
            && err.message().contains("cancelled events stay on record"),
        "{}",
        err.message()
    );
    let err = server
        .directory()
        .delete_participant(pb::DeleteParticipantRequest {
            id: "pezeshkian".into(),
            etag: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("in use");
    assert_eq!(err.code(), Code::FailedPrecondition);
}

#[tokio::test]
async fn events_and_their_zones_survive_a_restart() {
    let temp = tempfile::tempdir().expect("temp");
    let server = TestServer::start_in(temp.path(), Default::default()).await;
    article_directory(&mut server.directory()).await;
    let mut events = server.events();
    let a = create(
        &mut events,
        "summit",
        event(
            Summit,
            "BRICS",
            "kazan-expo",
            &["putin"],
            days("2024-10-22", "2024-10-24"),
        ),
    )
    .await;
    let b = events
        .create_event(pb::CreateEventRequest {
            event: Some({
                let mut e = event(
                    Conference,
                    "Fold talks",
                    "kremlin",
                    &[],
                    timed("2024-11-03T01:30", "2024-11-03T03:00"),
                );
                if let Some(pb::event_timing::Span::Timed(t)) =
                    e.timing.as_mut().and_then(|t| t.span.as_mut())
                {
                    t.time_zone = "America/New_York".into();
                }
                Box::new(e)
            }),
            event_id: "fold".into(),
            disambiguation: pb::Disambiguation::Later as i32,
            ..Default::default()
        })
        .await
        .expect("fold")
        .into_inner()
        .event
        .expect("e");
    drop(events);
    server.stop().await;

    let server = TestServer::start_in(temp.path(), Default::default()).await;
    let mut events = server.events();
    for before in [a, *b] {
        let after = events
            .get_event(pb::GetEventRequest {
                id: before.id.clone(),
                ..Default::default()
            })
            .await
            .expect("get")
            .into_inner()
            .event
            .expect("e");
        assert_eq!(*after, before, "{} unchanged by a restart", before.id);
    }
    server.stop().await;
}
