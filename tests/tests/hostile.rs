//! Hostile input over the wire: oversized, garbage and deeply nested protobuf, invalid
//! UTF-8, huge page sizes, empty windows, far-future and far-past dates. Each gets its
//! documented status; the server keeps serving.

use entente_proto::v1 as pb;
use entente_tests::TestServer;
use entente_tests::fixtures::{article_directory, bad_fields, event, timed};
use tonic::Code;
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;

/// Sends and receives raw bytes, so a test can put anything on the wire.
#[derive(Debug, Clone, Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), tonic::Status> {
        use bytes::BufMut;
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = tonic::Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, tonic::Status> {
        use bytes::Buf;
        let n = src.remaining();
        Ok(Some(src.copy_to_bytes(n).to_vec()))
    }
}

async fn raw(ch: &Channel, path: &'static str, body: Vec<u8>) -> Result<Vec<u8>, tonic::Status> {
    let mut grpc = tonic::client::Grpc::new(ch.clone()).max_encoding_message_size(64 << 20);
    grpc.ready()
        .await
        .map_err(|e| tonic::Status::unavailable(e.to_string()))?;
    let path = tonic::codegen::http::uri::PathAndQuery::from_static(path);
    grpc.unary(tonic::Request::new(body), path, Raw)
        .await
        .map(|r| r.into_inner())
}

const GET_EVENT: &str = "/entente.v1.EventService/GetEvent";

#[tokio::test]
async fn malformed_protobuf_is_invalid_argument() {
    let server = TestServer::start().await;
    let ch = server.channel.clone();
    // Garbage: a truncated varint and an impossible wire type.
    for body in [
        vec![0xff, 0xff, 0xff],
        vec![0x0f, 0x01, 0x02],
        vec![0x0a, 0x10, 0x01],
    ] {
        let err = raw(&ch, GET_EVENT, body.clone())
            .await
            .expect_err("garbage");
        assert_eq!(err.code(), Code::InvalidArgument, "{body:?}: {err:?}");
    }
    // Invalid UTF-8 in a string field (GetEventRequest.id).
    let err = raw(&ch, GET_EVENT, vec![0x0a, 0x02, 0xff, 0xfe])
        .await
        .expect_err("utf-8");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    assert!(err.message().contains("UTF-8"), "{}", err.message());
    // Groups nested far past prost's recursion limit.
    let mut deep = vec![0x7b; 500];
    deep.extend(vec![0x7c; 500]);
    let err = raw(&ch, GET_EVENT, deep).await.expect_err("nesting");
    assert_eq!(err.code(), Code::InvalidArgument, "{err:?}");
    // The server is still fine.
    let err = raw(&ch, GET_EVENT, vec![0x0a, 0x03, b'a', b'b', b'c'])
        .await
        .expect_err("unknown id");
    assert_eq!(err.code(), Code::NotFound);
}

#[tokio::test]
async fn oversized_messages_are_resource_exhausted() {
    let server = TestServer::start().await;
    // A 5 MiB id: over the 4 MiB default limit.
    let mut body = vec![0x0a];
    let len = 5usize << 20;
    let mut v = len;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    body.extend(std::iter::repeat_n(b'a', len));
    let err = raw(&server.channel, GET_EVENT, body)
        .await
        .expect_err("too big");
    assert_eq!(err.code(), Code::ResourceExhausted, "{err:?}");
    // Long strings under the transport limit are refused by validation, naming the field.
    let mut d = server.directory();
    let err = d
        .create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: "x".repeat(100_000),
                city: "Kazan".into(),
                country_code: "RU".into(),
                time_zone: "Europe/Moscow".into(),
                ..Default::default()
            }),
            venue_id: String::new(),
            ..Default::default()
        })
        .await
        .expect_err("long name");
    assert_eq!(err.code(), Code::InvalidArgument);
    assert_eq!(bad_fields(&err), vec!["venue.display_name"]);
}

#[tokio::test]
async fn odd_but_well_formed_requests_get_precise_answers() {
    let server = TestServer::start().await;
    article_directory(&mut server.directory()).await;
    let mut events = server.events();

    // A huge page size is clamped (AIP-158), not an error.
    let r = events
        .list_events(pb::ListEventsRequest {
            page_size: i32::MAX,
            ..Default::default()
        })
        .await
        .expect("clamped");
    assert!(r.into_inner().events.is_empty());
    let err = events
        .list_events(pb::ListEventsRequest {
            page_size: i32::MIN,
            ..Default::default()
        })
        .await
        .expect_err("negative");
    assert_eq!(bad_fields(&err), vec!["page_size"]);

    // Empty and inverted windows.
    for (s, e) in [("2024-10-22", "2024-10-22"), ("2024-10-23", "2024-10-22")] {
        let err = events
            .list_events(pb::ListEventsRequest {
                window: Some(pb::TimeWindow {
                    start: s.into(),
                    end: e.into(),
                    time_zone: String::new(),
                }),
                ..Default::default()
            })
            .await
            .expect_err("empty window");
        assert_eq!(err.code(), Code::InvalidArgument);
    }

    // Far-future and far-past dates.
    for (start, end) in [
        ("9999-12-31T10:00", "9999-12-31T11:00"),
        ("0001-01-01T10:00", "0001-01-01T11:00"),
        ("+275760-09-13T00:00", "+275760-09-13T01:00"),
    ] {
        let err = events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(event(
                    pb::EventKind::Other,
                    "Far",
                    "kremlin",
                    &[],
                    timed(start, end),
                ))),
                ..Default::default()
            })
            .await
            .expect_err(start);
        assert_eq!(err.code(), Code::InvalidArgument, "{start}");
        assert_eq!(
            bad_fields(&err),
            vec!["event.timing.timed.start", "event.timing.timed.end"],
            "{start}"
        );
    }
    let err = events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(event(
                pb::EventKind::Other,
                "Far",
                "kremlin",
                &[],
                timed("2024-10-22T10:00:00Z", "2024-10-22T11:00:00Z"),
            ))),
            view_zone: "Not/AZone".into(),
            ..Default::default()
        })
        .await
        .expect_err("bad view zone");
    assert_eq!(bad_fields(&err), vec!["view_zone"]);

    // Out-of-range enum numbers.
    let err = events
        .create_event(pb::CreateEventRequest {
            event: Some(Box::new(pb::Event {
                kind: 999,
                ..event(
                    pb::EventKind::Other,
                    "x",
                    "kremlin",
                    &[],
                    timed("2024-10-22T10:00", "2024-10-22T11:00"),
                )
            })),
            ..Default::default()
        })
        .await
        .expect_err("enum");
    assert_eq!(bad_fields(&err), vec!["event.kind"]);
}

#[tokio::test]
async fn an_upload_past_its_files_limit_is_refused_as_it_arrives() {
    let server = TestServer::start().await;
    // The garbage: 4 MiB that is not UTF-8, as ImportCalendarRequest.ics. Refused
    // on the field after ~1 MiB, not decoded.
    let mut body = vec![0x0a];
    let len = (4usize << 20) - 64;
    let mut v = len;
    while v >= 0x80 {
        body.push((v as u8) | 0x80);
        v >>= 7;
    }
    body.push(v as u8);
    body.extend(std::iter::repeat_n(0xffu8, len));
    let err = raw(
        &server.channel,
        "/entente.v1.ICalendarService/ImportCalendar",
        body,
    )
    .await
    .expect_err("4 MiB of garbage");
    assert_eq!(bad_fields(&err), vec!["ics"], "{err:?}");
    assert!(err.message().contains("1048576 bytes"), "{}", err.message());
    // A well-formed holiday file twice the limit: the same, on its own field.
    let mut calendars =
        pb::calendar_service_client::CalendarServiceClient::new(server.channel.clone());
    let err = calendars
        .import_holidays(pb::ImportHolidaysRequest {
            country_code: "RU".into(),
            icalendar: format!(
                "BEGIN:VCALENDAR\r\n{}END:VCALENDAR\r\n",
                "X-FILLER:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\r\n".repeat(40_000)
            ),
            ..Default::default()
        })
        .await
        .expect_err("2 MiB of holidays");
    assert_eq!(bad_fields(&err), vec!["icalendar"], "{err:?}");
    // The server is still fine, and a file within the limit is read.
    let err = raw(
        &server.channel,
        GET_EVENT,
        vec![0x0a, 0x03, b'a', b'b', b'c'],
    )
    .await
    .expect_err("unknown id");
    assert_eq!(err.code(), Code::NotFound);
}
