//! Per-method request size limits, below the transport's: a request of a method whose
//! every field is bounded (QueryFreeBusy, FindSlots, and the 1 MiB file of the two imports)
//! is refused as soon as its gRPC prefix declares, or more of it has arrived than, any
//! valid one could hold, before tonic decodes a byte of it.
//!
//! Why: the transport limit (4 MiB) is sized for an iCalendar upload. A QueryFreeBusy of
//! 4 MiB is 800,000 ids that tonic would decode into as many strings (~70 ms of a core
//! on an async worker) only for the handler to refuse the 101st. Counting bytes as the
//! body arrives costs nothing, and the refusal names the field a person would fix, as the
//! handler's own would.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tonic::codegen::http;

use crate::error::Error;
use crate::grpc::status::to_status;

/// Largest QueryFreeBusy or FindSlots request, bytes. The largest valid one is ~14 KiB
/// (100 ids of 128 characters, or 50 participants with their constraints and 50 venues);
/// the rest is headroom for fields a newer client may add.
pub const MAX_BOUNDED_REQUEST_BYTES: usize = 256 << 10;

/// Largest ImportCalendar or ImportHolidays request, bytes: the file's limit and room for
/// the request's other fields.
pub const MAX_IMPORT_REQUEST_BYTES: usize = crate::ics::MAX_ICS_BYTES + (64 << 10);

/// A method whose requests are bounded.
struct Bound {
    path: &'static str,
    /// The field a too-large request is refused on.
    field: &'static str,
    limit: usize,
    /// What bounds it, for the refusal.
    why: &'static str,
}

const BOUNDED: &[Bound] = &[
    Bound {
        path: "/entente.v1.ConflictService/QueryFreeBusy",
        field: "participant_ids",
        limit: MAX_BOUNDED_REQUEST_BYTES,
        why: "a free/busy query names at most 100 participants and venues of at most 128 \
              characters",
    },
    Bound {
        path: "/entente.v1.CalendarService/FindSlots",
        field: "participants",
        limit: MAX_BOUNDED_REQUEST_BYTES,
        why: "a slot search names at most 50 participants and 50 venues of at most 128 \
              characters",
    },
    Bound {
        path: "/entente.v1.ICalendarService/ImportCalendar",
        field: "ics",
        limit: MAX_IMPORT_REQUEST_BYTES,
        why: "at most 1048576 bytes of iCalendar are read at once",
    },
    Bound {
        path: "/entente.v1.CalendarService/ImportHolidays",
        field: "icalendar",
        limit: MAX_IMPORT_REQUEST_BYTES,
        why: "at most 1048576 bytes of iCalendar are read at once",
    },
];

/// Applies each bounded method's limit to its requests.
#[derive(Debug, Clone, Default)]
pub struct SizeLayer;

impl<S> tower::Layer<S> for SizeLayer {
    type Service = SizeLimited<S>;
    fn layer(&self, inner: S) -> SizeLimited<S> {
        SizeLimited { inner }
    }
}

/// See [`SizeLayer`].
#[derive(Debug, Clone)]
pub struct SizeLimited<S> {
    inner: S,
}

impl<S> tower::Service<http::Request<tonic::body::Body>> for SizeLimited<S>
where
    S: tower::Service<http::Request<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<tonic::body::Body>) -> Self::Future {
        let path = req.uri().path();
        match BOUNDED.iter().find(|b| b.path == path) {
            Some(bound) => self.inner.call(req.map(|body| {
                tonic::body::Body::new(Capped {
                    body,
                    seen: 0,
                    bound,
                })
            })),
            None => self.inner.call(req),
        }
    }
}

/// A request body that ends in INVALID_ARGUMENT on `field` once it passes the limit.
struct Capped {
    body: tonic::body::Body,
    seen: usize,
    bound: &'static Bound,
}

impl http_body::Body for Capped {
    type Data = Bytes;
    type Error = tonic::Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, tonic::Status>>> {
        let frame = std::task::ready!(Pin::new(&mut self.body).poll_frame(cx));
        if let Some(Ok(f)) = &frame
            && let Some(data) = f.data_ref()
        {
            // The first frame starts with gRPC's 5-byte prefix, whose last four bytes are
            // the message's length: a message declared too long is refused at once,
            // before the rest of it is sent.
            let declared = match (self.seen, data.get(1..5)) {
                (0, Some(len)) => u32::from_be_bytes([len[0], len[1], len[2], len[3]]) as usize,
                _ => 0,
            };
            self.seen = self.seen.saturating_add(data.len());
            let bound = self.bound;
            if self.seen.max(declared) > bound.limit {
                let refusal = Error::invalid(
                    bound.field,
                    format!(
                        "the request is larger than {} KiB, more than any valid one: {}",
                        bound.limit >> 10,
                        bound.why
                    ),
                );
                return Poll::Ready(Some(Err(to_status(refusal))));
            }
        }
        Poll::Ready(frame)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}
