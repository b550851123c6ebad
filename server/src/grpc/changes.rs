//! `entente.v1.ChangeService`: the change feed, streamed and paged.
//!
//! A commit reaches every watcher of the feed, and rendering an event into its proto
//! form and encoding it is most of what a delivery costs. So `WatchChanges` is served by
//! [`Route`], which sends pre-encoded messages: each change is rendered and encoded once
//! per office, viewer zone and `include_before` ([`Encoded`]), and each watcher's message
//! is its batch header followed by the encoded changes it may see.

use std::collections::VecDeque;
use std::pin::Pin;

use chrono_tz::Tz;
use entente_proto::v1 as pb;
use entente_proto::v1::change_service_server::ChangeService;
use futures_util::StreamExt;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access::{self, Tokens};
use super::convert;
use crate::commit::{Kind, Record};
use crate::error::{Error, Result};
use crate::feed::{ChangeBatch, Delivered, Filter, Message, Seen, Start, WatchOptions};
use crate::grpc::status::{OrStatus, to_status};
use crate::scheduler::Scheduler;

/// The change service over a scheduler.
#[derive(Debug, Clone)]
pub struct Changes {
    scheduler: Scheduler,
    tokens: Tokens,
    encoded: std::sync::Arc<Encoded>,
}

impl Changes {
    /// Serves `scheduler`'s change feed; `tokens` are re-checked as streams run.
    pub fn new(scheduler: Scheduler, tokens: Tokens) -> Changes {
        Changes {
            scheduler,
            tokens,
            encoded: std::sync::Arc::default(),
        }
    }
}

/// Where a change is encoded for: the commit and the change's place in it, what it is to
/// the watcher, the office whose view redacted it ("" for an administrator), the viewer
/// zone, and whether the record before is included.
type Key = (u64, usize, Seen, String, Option<Tz>, bool);

/// Changes encoded once for all the watchers that see them alike: the last few thousand.
///
/// An entry keeps the change as it was delivered, and serves another watcher only if
/// that watcher's delivery is equal: redaction is decided against the state when a change
/// is delivered, so a watcher of the same office that catches up later (after a record
/// it could see became hidden) must never get the bytes redacted for the first.
#[derive(Debug, Default)]
pub struct Encoded {
    cache: std::sync::Mutex<(EncodedMap, VecDeque<Key>)>,
}

type EncodedMap = hashbrown::HashMap<Key, (Delivered, bytes::Bytes)>;

/// How many encoded changes are kept: a burst of commits for every office watching.
const ENCODED: usize = 8192;

impl Encoded {
    fn get_or(
        &self,
        key: Key,
        delivered: &Delivered,
        render: impl FnOnce() -> pb::Change,
    ) -> bytes::Bytes {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((d, b)) = cache.0.get(&key)
            && d.same(delivered)
        {
            return b.clone();
        }
        let b = bytes::Bytes::from(prost::Message::encode_to_vec(&render()));
        if !cache.0.contains_key(&key) {
            if cache.1.len() == ENCODED
                && let Some(old) = cache.1.pop_front()
            {
                cache.0.remove(&old);
            }
            cache.1.push_back(key.clone());
        }
        cache.0.insert(key, (delivered.clone(), b.clone()));
        b
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn kind_in(v: i32) -> Result<Option<Kind>> {
    Ok(
        match convert::known_enum::<pb::ResourceKind>("filter.kinds", v)? {
            pb::ResourceKind::Unspecified => None,
            pb::ResourceKind::Country => Some(Kind::Country),
            pb::ResourceKind::Participant => Some(Kind::Participant),
            pb::ResourceKind::Venue => Some(Kind::Venue),
            pb::ResourceKind::Forum => Some(Kind::Forum),
            pb::ResourceKind::Event => Some(Kind::Event),
            pb::ResourceKind::Proposal => Some(Kind::Proposal),
            pb::ResourceKind::WorkCalendar => Some(Kind::WorkCalendar),
            pb::ResourceKind::CalendarFeed => Some(Kind::CalendarFeed),
        },
    )
}

fn kind_out(k: Kind) -> pb::ResourceKind {
    match k {
        Kind::Country => pb::ResourceKind::Country,
        Kind::Participant => pb::ResourceKind::Participant,
        Kind::Venue => pb::ResourceKind::Venue,
        Kind::Forum => pb::ResourceKind::Forum,
        Kind::Event => pb::ResourceKind::Event,
        Kind::Proposal => pb::ResourceKind::Proposal,
        Kind::WorkCalendar => pb::ResourceKind::WorkCalendar,
        Kind::CalendarFeed => pb::ResourceKind::CalendarFeed,
    }
}

fn filter_in(f: Option<pb::ChangeFilter>) -> Result<Filter> {
    let Some(f) = f else {
        return Ok(Filter::default());
    };
    let id = |s: String, field: &str| -> Result<Option<String>> {
        let s = s.trim();
        if s.is_empty() {
            Ok(None)
        } else {
            crate::validate::reference(field, s).map(Some)
        }
    };
    Ok(Filter {
        kinds: f
            .kinds
            .into_iter()
            .map(kind_in)
            .collect::<Result<Vec<_>>>()?
            .into_iter()
            .flatten()
            .collect(),
        participant: id(f.participant_id, "filter.participant_id")?,
        venue: id(f.venue_id, "filter.venue_id")?,
        forum: id(f.forum_id, "filter.forum_id")?,
        parent: id(f.parent_event_id, "filter.parent_event_id")?,
        window: convert::window(f.window, "filter.window")?,
    })
}

fn after(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::invalid("after_revision", "cannot be negative"))
}

fn record_out(s: &Scheduler, r: &Record, view: Option<Tz>) -> pb::Resource {
    use pb::resource::Resource as R;
    pb::Resource {
        resource: Some(match r {
            Record::Country(c) => R::Country(convert::country(c)),
            Record::Participant(p) => R::Participant(convert::participant(p)),
            Record::Venue(v) => R::Venue(convert::venue(v)),
            Record::Forum(f) => R::Forum(convert::forum(f)),
            Record::Event(e) => R::Event(super::events::render(s, e, view)),
            Record::Proposal(p) => R::Proposal(super::proposals::proposal_out(p)),
            Record::WorkCalendar(c) => R::WorkCalendar(super::calendar::work_calendar(c)),
            Record::CalendarFeed(f) => R::CalendarFeed(super::ics::feed_out(f, String::new())),
        }),
    }
}

fn change_out(s: &Scheduler, c: &Delivered, view: Option<Tz>) -> pb::Change {
    pb::Change {
        r#type: match c.seen {
            Seen::Created => pb::ChangeType::Created,
            Seen::Updated => pb::ChangeType::Updated,
            Seen::Deleted => pb::ChangeType::Deleted,
            Seen::EnteredView => pb::ChangeType::EnteredView,
            Seen::LeftView => pb::ChangeType::LeftView,
        } as i32,
        kind: kind_out(c.kind) as i32,
        id: c.id.clone(),
        etag: c.etag.clone(),
        resource: c.record.as_ref().map(|r| record_out(s, r, view)),
        before: c.before.as_ref().map(|r| record_out(s, r, view)),
    }
}

fn header(b: &ChangeBatch) -> pb::ChangeBatch {
    pb::ChangeBatch {
        revision: b.revision as i64,
        commit_time: convert::timestamp(b.time),
        office: b.office.clone(),
        token_name: b.token.clone(),
        method: b.method.clone(),
        changes: Vec::new(),
    }
}

fn batch_out(s: &Scheduler, b: ChangeBatch, view: Option<Tz>) -> pb::ChangeBatch {
    pb::ChangeBatch {
        changes: b.changes.iter().map(|c| change_out(s, c, view)).collect(),
        ..header(&b)
    }
}

/// A watch message, encoded: the batch header, then each change, encoded once for every
/// watcher that sees it alike.
fn batch_encoded(
    s: &Scheduler,
    encoded: &Encoded,
    office: &str,
    b: &ChangeBatch,
    view: Option<Tz>,
    include_before: bool,
) -> bytes::Bytes {
    use bytes::BufMut;
    use prost::encoding::{WireType, encode_key, encode_varint};
    let mut inner = bytes::BytesMut::new();
    prost::Message::encode_raw(&header(b), &mut inner);
    for c in &b.changes {
        let key = (
            b.revision,
            c.index,
            c.seen,
            office.to_string(),
            view,
            include_before,
        );
        let bytes = encoded.get_or(key, c, || change_out(s, c, view));
        // ChangeBatch.changes is field 6.
        encode_key(6, WireType::LengthDelimited, &mut inner);
        encode_varint(bytes.len() as u64, &mut inner);
        inner.put_slice(&bytes);
    }
    // WatchChangesResponse.batch is field 1.
    let mut out = bytes::BytesMut::with_capacity(inner.len() + 8);
    encode_key(1, WireType::LengthDelimited, &mut out);
    encode_varint(inner.len() as u64, &mut out);
    out.put(inner);
    out.freeze()
}

type WatchStream = Pin<
    Box<
        dyn futures_util::Stream<Item = std::result::Result<pb::WatchChangesResponse, Status>>
            + Send,
    >,
>;

type EncodedStream =
    Pin<Box<dyn futures_util::Stream<Item = std::result::Result<bytes::Bytes, Status>> + Send>>;

impl Changes {
    /// WatchChanges, its messages encoded ([`batch_encoded`]).
    async fn watch(&self, req: Request<pb::WatchChangesRequest>) -> Reply<EncodedStream> {
        let who = access::principal(&req)?;
        // The token is checked again as the stream runs: a revoked one ends it.
        let token = access::bearer(req.metadata().as_ref()).map(str::to_string);
        let r = req.into_inner();
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let start = if r.from_now {
            Start::Now
        } else {
            Start::After(after(r.after_revision).or_status()?)
        };
        let filter = filter_in(r.filter).or_status()?;
        let tokens = self.tokens.clone();
        let holder = who.clone();
        let still_valid = token.map(|t| {
            std::sync::Arc::new(move || tokens.still_valid(&t, &holder))
                as std::sync::Arc<dyn Fn() -> bool + Send + Sync>
        });
        // The office whose view redacts the records (all administrators see alike).
        let office = if who.is_admin() {
            String::new()
        } else {
            who.office.clone()
        };
        let include_before = r.include_before;
        let watch = self
            .scheduler
            .watch(
                who,
                start,
                filter,
                WatchOptions {
                    include_before,
                    still_valid,
                },
            )
            .or_status()?;
        let (s, encoded) = (self.scheduler.clone(), self.encoded.clone());
        let out = watch.map(move |m| match m {
            Ok(Message::Batch(b)) => Ok(batch_encoded(
                &s,
                &encoded,
                &office,
                &b,
                view,
                include_before,
            )),
            Ok(Message::Progress(r)) => Ok(bytes::Bytes::from(prost::Message::encode_to_vec(
                &pb::WatchChangesResponse {
                    message: Some(pb::watch_changes_response::Message::Progress(
                        pb::Progress { revision: r as i64 },
                    )),
                },
            ))),
            Err(e) => Err(to_status(e)),
        });
        Ok(Response::new(Box::pin(out)))
    }
}

/// `entente.v1.ChangeService` as routed: WatchChanges with pre-encoded messages, the rest
/// by the generated server.
#[derive(Debug, Clone)]
pub struct Route {
    changes: Changes,
    generated: entente_proto::v1::change_service_server::ChangeServiceServer<Changes>,
}

impl Route {
    /// Routes `changes`, decoding requests of at most `max` bytes.
    pub fn new(changes: Changes, max: usize) -> Route {
        Route {
            generated: entente_proto::v1::change_service_server::ChangeServiceServer::new(
                changes.clone(),
            )
            .max_decoding_message_size(max),
            changes,
        }
    }
}

impl tonic::server::NamedService for Route {
    const NAME: &'static str = "entente.v1.ChangeService";
}

const WATCH_PATH: &str = "/entente.v1.ChangeService/WatchChanges";

struct WatchSvc(Changes);

type WatchFuture = Pin<
    Box<
        dyn std::future::Future<Output = std::result::Result<Response<EncodedStream>, Status>>
            + Send,
    >,
>;

impl tonic::server::ServerStreamingService<pb::WatchChangesRequest> for WatchSvc {
    type Response = bytes::Bytes;
    type ResponseStream = EncodedStream;
    type Future = WatchFuture;

    fn call(&mut self, request: Request<pb::WatchChangesRequest>) -> Self::Future {
        let changes = self.0.clone();
        Box::pin(async move { changes.watch(request).await })
    }
}

type RouteFuture = Pin<
    Box<
        dyn std::future::Future<
                Output = std::result::Result<
                    tonic::codegen::http::Response<tonic::body::Body>,
                    std::convert::Infallible,
                >,
            > + Send,
    >,
>;

impl<B> tower::Service<tonic::codegen::http::Request<B>> for Route
where
    B: tonic::codegen::Body + Send + 'static,
    B::Error: Into<tonic::codegen::StdError> + Send + 'static,
{
    type Response = tonic::codegen::http::Response<tonic::body::Body>;
    type Error = std::convert::Infallible;
    type Future = RouteFuture;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::result::Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: tonic::codegen::http::Request<B>) -> Self::Future {
        if req.uri().path() != WATCH_PATH {
            return tower::Service::call(&mut self.generated, req);
        }
        let changes = self.changes.clone();
        Box::pin(async move {
            let mut grpc = tonic::server::Grpc::new(entente_proto::codec::EncodedCodec::<
                pb::WatchChangesRequest,
            >::default());
            Ok(grpc.server_streaming(WatchSvc(changes), req).await)
        })
    }
}

#[tonic::async_trait]
impl ChangeService for Changes {
    type WatchChangesStream = WatchStream;

    /// Never called: [`Route`] serves WatchChanges with pre-encoded messages.
    async fn watch_changes(
        &self,
        _req: Request<pb::WatchChangesRequest>,
    ) -> Reply<Self::WatchChangesStream> {
        Err(Status::internal(
            "WatchChanges is served by the encoded route (grpc::changes::Route)",
        ))
    }

    #[instrument(skip_all)]
    async fn list_changes(
        &self,
        req: Request<pb::ListChangesRequest>,
    ) -> Reply<pb::ListChangesResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let page = convert::page(&r).or_status()?;
        let view = convert::view_zone("view_zone", &r.view_zone).or_status()?;
        let from = after(r.after_revision).or_status()?;
        let filter = filter_in(r.filter).or_status()?;
        let s = self.scheduler.clone();
        let include_before = r.include_before;
        let (batches, next_page_token, revision) =
            super::off_worker(move || s.list_changes(&who, from, &filter, include_before, &page))
                .await
                .or_status()?;
        Ok(Response::new(pb::ListChangesResponse {
            batches: batches
                .into_iter()
                .map(|b| batch_out(&self.scheduler, b, view))
                .collect(),
            next_page_token,
            revision: revision as i64,
        }))
    }
}
