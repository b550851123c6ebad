//! `entente.v1.ICalendarService` (export, import, feeds), and the plain-HTTP route
//! `GET /ics/<secret>.ics` that calendar apps subscribe to.
//!
//! The feeds are served on the gRPC port: one port to open and one TLS certificate, and
//! tonic accepts HTTP/1.1 beside HTTP/2 (Google and Outlook fetch subscriptions over
//! HTTP/1.1). The route is mounted like a service named `ics`, so tonic sends every
//! `/ics/...` request to it and no other; the access layer lets it through without a
//! token because the secret in the path is the capability. An office that wants feeds on
//! the internet but the API private puts a reverse proxy in front that forwards `/ics/`
//! only.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use entente_proto::v1 as pb;
use entente_proto::v1::i_calendar_service_server::ICalendarService;
use tonic::{Request, Response, Status};
use tracing::instrument;

use super::access;
use super::convert;
use crate::error::{Error, Result};
use crate::grpc::status::{OrStatus, to_status};
use crate::ics::feeds::{CalendarFeed, FeedInput};
use crate::ics::import::{self, Outcome};
use crate::ics::{self, Scope};
use crate::scheduler::Scheduler;
use crate::validate;

/// The service over a scheduler.
#[derive(Debug, Clone)]
pub struct Interop {
    scheduler: Scheduler,
}

impl Interop {
    /// Serves `scheduler`'s calendars as iCalendar.
    pub fn new(scheduler: Scheduler) -> Interop {
        Interop { scheduler }
    }
}

type Reply<T> = std::result::Result<Response<T>, Status>;

fn scope_in(s: Option<pb::CalendarScope>) -> Result<Scope> {
    let Some(s) = s else { return Ok(Scope::All) };
    let id = |field: &str, v: &str| validate::reference(field, v.trim());
    let set: Vec<(&str, &str)> = [
        ("scope.participant_id", s.participant_id.as_str()),
        ("scope.venue_id", s.venue_id.as_str()),
        ("scope.forum_id", s.forum_id.as_str()),
        ("scope.parent_event_id", s.parent_event_id.as_str()),
    ]
    .into_iter()
    .filter(|(_, v)| !v.trim().is_empty())
    .collect();
    match set.as_slice() {
        [] => Ok(Scope::All),
        [(f, v)] => {
            let v = id(f, v)?;
            Ok(match *f {
                "scope.participant_id" => Scope::Participant(v),
                "scope.venue_id" => Scope::Venue(v),
                "scope.forum_id" => Scope::Forum(v),
                _ => Scope::Programme(v),
            })
        }
        _ => Err(Error::invalid(
            "scope",
            "set at most one of participant_id, venue_id, forum_id and parent_event_id",
        )),
    }
}

fn scope_out(s: &Scope) -> pb::CalendarScope {
    let mut out = pb::CalendarScope::default();
    match s {
        Scope::All => {}
        Scope::Participant(p) => out.participant_id = p.clone(),
        Scope::Venue(v) => out.venue_id = v.clone(),
        Scope::Forum(f) => out.forum_id = f.clone(),
        Scope::Programme(e) => out.parent_event_id = e.clone(),
    }
    out
}

/// A feed out; `path` only when just created.
pub fn feed_out(f: &CalendarFeed, path: String) -> pb::CalendarFeed {
    pb::CalendarFeed {
        id: f.id.clone(),
        display_name: f.display_name.clone(),
        scope: Some(scope_out(&f.scope)),
        office: f.office.clone(),
        path,
        create_time: convert::timestamp(f.meta.create_time),
        past_days: f.past_days as i32,
        future_days: f.future_days as i32,
        utc_times: f.utc_times,
    }
}

fn outcome_out(o: Outcome) -> pb::ImportOutcome {
    match o {
        Outcome::Created => pb::ImportOutcome::Created,
        Outcome::Updated => pb::ImportOutcome::Updated,
        Outcome::Unchanged => pb::ImportOutcome::Unchanged,
        Outcome::Refused => pb::ImportOutcome::Refused,
    }
}

fn map_in(field: &str, m: HashMap<String, String>) -> Result<HashMap<String, String>> {
    m.into_iter()
        .map(|(k, v)| {
            let v = v.trim();
            let v = if v.is_empty() {
                String::new()
            } else {
                validate::reference(&format!("{field}[{}]", validate::shown(&k)), v)?
            };
            Ok((k.trim().to_string(), v))
        })
        .collect()
}

#[tonic::async_trait]
impl ICalendarService for Interop {
    #[instrument(skip_all)]
    async fn export_calendar(
        &self,
        req: Request<pb::ExportCalendarRequest>,
    ) -> Reply<pb::ExportCalendarResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let scope = scope_in(r.scope).or_status()?;
        let window = convert::window(r.window, "window").or_status()?;
        match window {
            None if !matches!(scope, Scope::Programme(_)) => {
                return Err(to_status(Error::invalid(
                    "window",
                    "is required (unless scope.parent_event_id names a summit)",
                )));
            }
            Some((from, to)) if to - from > ics::MAX_WINDOW_SECS => {
                return Err(to_status(Error::invalid(
                    "window",
                    "may span at most 400 days",
                )));
            }
            _ => {}
        }
        let how = ics::ExportOptions {
            include_cancelled: r.include_cancelled,
            utc_times: r.utc_times,
            ..Default::default()
        };
        let s = self.scheduler.clone();
        let office = who.office.to_string();
        let out = self
            .scheduler
            .pool()
            .run(&office, move |_| {
                s.export_calendar(&who, &scope, window, &how)
            })
            .await
            .or_status()?;
        Ok(Response::new(pb::ExportCalendarResponse {
            ics: out.ics,
            event_count: out.events as i32,
            revision: out.revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn import_calendar(
        &self,
        req: Request<pb::ImportCalendarRequest>,
    ) -> Reply<pb::ImportCalendarResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let zone = r.default_time_zone.trim();
        let status = convert::event_status(r.status, "status").or_status()?;
        if status == Some(crate::events::EventStatus::Cancelled) {
            return Err(to_status(Error::invalid(
                "status",
                "must be TENTATIVE or CONFIRMED (a VEVENT with STATUS:CANCELLED cancels the \
                 event it updates)",
            )));
        }
        let opts = import::Options {
            dry_run: r.dry_run,
            status,
            default_zone: if zone.is_empty() {
                None
            } else {
                Some(
                    crate::time::parse_zone(zone)
                        .map_err(|e| Error::invalid("default_time_zone", e.to_string()))
                        .or_status()?,
                )
            },
            venue_map: map_in("venue_map", r.venue_map).or_status()?,
            default_venue: if r.default_venue_id.trim().is_empty() {
                String::new()
            } else {
                validate::reference("default_venue_id", r.default_venue_id.trim()).or_status()?
            },
            participant_map: map_in("participant_map", r.participant_map).or_status()?,
            kind: convert::event_kind(r.kind, "kind").or_status()?,
            visibility: convert::visibility(r.visibility, "visibility").or_status()?,
            allow_conflicts: r.allow_conflicts,
            actor: who.token.clone(),
            // RFC 5545's reading unless the request chooses.
            disambiguation: match r.disambiguation {
                0 => crate::time::Disambiguation::Compatible,
                v => convert::disambiguation(v).or_status()?,
            },
        };
        let (results, revision) = self
            .scheduler
            .import_calendar(&who, &r.ics, opts)
            .await
            .or_status()?;
        let s = &self.scheduler;
        Ok(Response::new(pb::ImportCalendarResponse {
            results: results
                .iter()
                .map(|x| pb::ImportResult {
                    uid: x.uid.clone(),
                    summary: x.summary.clone(),
                    outcome: outcome_out(x.outcome) as i32,
                    event_id: x.event_id.clone(),
                    reason: x.reason.clone(),
                    conflicts: x
                        .conflicts
                        .iter()
                        .map(|c| {
                            convert::conflict(c, chrono_tz::UTC, &|c, z| s.describe_conflict(c, z))
                        })
                        .collect(),
                })
                .collect(),
            revision: revision as i64,
        }))
    }

    #[instrument(skip_all)]
    async fn create_calendar_feed(
        &self,
        req: Request<pb::CreateCalendarFeedRequest>,
    ) -> Reply<pb::CreateCalendarFeedResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let f = convert::required("feed", r.feed).or_status()?;
        let input = FeedInput {
            id: f.id,
            display_name: f.display_name,
            scope: Some(scope_in(f.scope).or_status()?),
            past_days: f.past_days,
            future_days: f.future_days,
            utc_times: f.utc_times,
            request_id: r.request_id,
        };
        let (feed, path) = self
            .scheduler
            .create_calendar_feed(&who, input)
            .await
            .or_status()?;
        Ok(Response::new(pb::CreateCalendarFeedResponse {
            feed: Some(feed_out(&feed, path)),
        }))
    }

    #[instrument(skip_all)]
    async fn list_calendar_feeds(
        &self,
        req: Request<pb::ListCalendarFeedsRequest>,
    ) -> Reply<pb::ListCalendarFeedsResponse> {
        let who = access::principal(&req)?;
        Ok(Response::new(pb::ListCalendarFeedsResponse {
            feeds: self
                .scheduler
                .calendar_feeds(&who)
                .iter()
                .map(|f| feed_out(f, String::new()))
                .collect(),
        }))
    }

    #[instrument(skip_all)]
    async fn delete_calendar_feed(
        &self,
        req: Request<pb::DeleteCalendarFeedRequest>,
    ) -> Reply<pb::DeleteCalendarFeedResponse> {
        let who = access::principal(&req)?;
        let r = req.into_inner();
        let id = validate::reference("id", r.id.trim()).or_status()?;
        self.scheduler
            .delete_calendar_feed(&who, &id, &r.request_id)
            .await
            .or_status()?;
        Ok(Response::new(pb::DeleteCalendarFeedResponse {}))
    }
}

/// `GET /ics/<secret>.ics`: the feed's calendar, with an ETag (a digest of the body) and
/// 304 for a matching `If-None-Match`; 404 for an unknown or revoked secret.
/// A feed whose creating token is no longer configured, or has expired, is 404 too.
#[derive(Debug, Clone)]
pub struct FeedRoute {
    scheduler: Scheduler,
    tokens: super::access::Tokens,
}

impl FeedRoute {
    /// Serves `scheduler`'s feeds while `tokens` vouch for their creators.
    pub fn new(scheduler: Scheduler, tokens: super::access::Tokens) -> FeedRoute {
        FeedRoute { scheduler, tokens }
    }
}

impl tonic::server::NamedService for FeedRoute {
    // tonic routes `/ics/*` here.
    const NAME: &'static str = "ics";
}

type Body = tonic::body::Body;

/// A plain-text answer for a calendar app (feeds are plain HTTP, not gRPC).
pub(crate) fn plain(status: http::StatusCode, text: &'static str) -> http::Response<Body> {
    let mut r = http::Response::new(Body::new(http_body_util::Full::new(
        bytes::Bytes::from_static(text.as_bytes()),
    )));
    *r.status_mut() = status;
    r.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}

impl<B: Send + 'static> tower::Service<http::Request<B>> for FeedRoute {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn Future<Output = std::result::Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<std::result::Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let scheduler = self.scheduler.clone();
        let tokens = self.tokens.clone();
        // Only the head is read (a GET has no body), and it is Send where the body may not be.
        let (head, _) = req.into_parts();
        Box::pin(async move { Ok(serve_feed(&scheduler, &tokens, &head).await) })
    }
}

/// A rendered feed's text as the bytes of a response body, without copying it.
struct ArcText(std::sync::Arc<ics::feeds::RenderedFeed>);

impl AsRef<[u8]> for ArcText {
    fn as_ref(&self) -> &[u8] {
        self.0.exported.ics.as_bytes()
    }
}

async fn serve_feed(
    scheduler: &Scheduler,
    tokens: &super::access::Tokens,
    req: &http::request::Parts,
) -> http::Response<Body> {
    use http::StatusCode;
    if req.method != http::Method::GET && req.method != http::Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "only GET\n");
    }
    let secret = req
        .uri
        .path()
        .strip_prefix("/ics/")
        .and_then(|p| p.strip_suffix(".ics"))
        .filter(|s| s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit()));
    let Some(secret) = secret.map(str::to_string) else {
        return plain(StatusCode::NOT_FOUND, "no such calendar\n");
    };
    // Rendered on the heavy-work pool, once per revision (see `Scheduler::calendar_feed`).
    let vouched = |creator: &str| {
        tokens
            .current()
            .vouches_for(creator, chrono::Utc::now().timestamp())
    };
    let exported = match scheduler.calendar_feed(&secret, vouched).await {
        Some(Ok(e)) => e,
        None | Some(Err(Error::NotFound { .. })) => {
            return plain(StatusCode::NOT_FOUND, "no such calendar\n");
        }
        Some(Err(e)) => {
            tracing::warn!(error = %e, "a calendar feed could not be rendered");
            return plain(StatusCode::SERVICE_UNAVAILABLE, "try again later\n");
        }
    };
    let etag = exported.etag.clone();
    let matches = req
        .headers
        .get_all(http::header::IF_NONE_MATCH)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| {
            let t = t.trim();
            t == "*" || t.trim_start_matches("W/") == etag
        });
    let mut r = if matches {
        let mut r = http::Response::new(Body::empty());
        *r.status_mut() = StatusCode::NOT_MODIFIED;
        r
    } else if req.method == http::Method::HEAD {
        http::Response::new(Body::empty())
    } else {
        // The bytes are shared with the cache: no copy per request.
        let shared = bytes::Bytes::from_owner(ArcText(exported.clone()));
        http::Response::new(Body::new(http_body_util::Full::new(shared)))
    };
    let h = r.headers_mut();
    if let Ok(v) = http::HeaderValue::from_str(&etag) {
        h.insert(http::header::ETAG, v);
    }
    h.insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/calendar; charset=utf-8"),
    );
    // Revalidate every time: a cached copy must not outlive a revocation.
    h.insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("private, no-cache"),
    );
    r
}
