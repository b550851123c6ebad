//! Read-your-writes across servers: before a call reaches its service, the scheduler
//! catches up on the writes other servers sharing its PostgreSQL store committed (one
//! round trip, see `Scheduler::catch_up`). Only installed over a shared store; over sled
//! there is nothing to catch up on.
//!
//! Calls whose handler reads nothing before the commit point skip it: the commit point
//! catches up under the commit lock before its checks run, so the catch-up here would
//! only add a round trip to every booking. A call belongs in [`WRITES_FIRST`] only when
//! its handler goes straight from converting the request to `Scheduler::write` (reads
//! after the write see at least as much as the write did).
//!
//! And no answer names a write that then fails to commit: memory holds a write from the
//! moment it is staged until its group commits, so a read's answer (and a refusal that may
//! cite such a write, see `refused`) is held until the groups memory held by then have
//! settled, and becomes ABORTED if one failed (`Scheduler::settle_reads`). A successful
//! write's answer needs no wait: its group committed, and every group before it. Calendar
//! feeds (`/ics/`, plain HTTP) get a 503 instead of a gRPC status.

/// Calls that read nothing before their write (see the module docs).
const WRITES_FIRST: &[&str] = &[
    "/entente.v1.EventService/CreateEvent",
    "/entente.v1.EventService/UpdateEvent",
];

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::grpc::status::to_status;
use crate::scheduler::Scheduler;

/// Whether the call only reads: its answer is made of what memory holds (a stream's is
/// not: the change feed delivers committed writes only).
fn reads(path: &str) -> bool {
    if path.starts_with("/ics/") {
        return true;
    }
    let method = path.rsplit('/').next().unwrap_or_default();
    ["Get", "List", "Check", "Find", "Query", "Export"]
        .iter()
        .any(|p| method.starts_with(p))
}

/// Whether the answer is a refusal that may cite a write not committed yet: a conflict
/// (FAILED_PRECONDITION) or a taken id (ALREADY_EXISTS). Other errors name no other
/// write, and a write's own failure (UNAVAILABLE, or ABORTED for a double booking the
/// database refused) must reach its caller as it is.
fn refused<B>(response: &http::Response<B>) -> bool {
    let code = response.headers().get("grpc-status").map(|s| s.as_bytes());
    matches!(code, Some(b"6" | b"9"))
}

/// The answer for `e` on `path`: a gRPC status, or for a calendar app fetching a feed over
/// plain HTTP, 503 (try again later).
fn failed(path: &str, e: crate::error::Error) -> http::Response<tonic::body::Body> {
    if !path.starts_with("/ics/") {
        return to_status(e).into_http();
    }
    tracing::warn!(error = %e, "a calendar feed could not be served now");
    super::ics::plain(http::StatusCode::SERVICE_UNAVAILABLE, "try again later\n")
}

/// Wraps every service in a catch-up.
#[derive(Debug, Clone)]
pub struct FreshLayer {
    scheduler: Option<Scheduler>,
}

impl FreshLayer {
    /// Catches up `scheduler` when it is shared; does nothing otherwise.
    pub fn new(scheduler: &Scheduler) -> FreshLayer {
        FreshLayer {
            scheduler: scheduler.is_shared().then(|| scheduler.clone()),
        }
    }
}

impl<S> tower::Layer<S> for FreshLayer {
    type Service = Fresh<S>;
    fn layer(&self, inner: S) -> Fresh<S> {
        Fresh {
            inner,
            scheduler: self.scheduler.clone(),
        }
    }
}

/// See [`FreshLayer`].
#[derive(Debug, Clone)]
pub struct Fresh<S> {
    inner: S,
    scheduler: Option<Scheduler>,
}

type BoxFuture<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for Fresh<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let Some(scheduler) = self.scheduler.clone() else {
            return Box::pin(self.inner.call(req));
        };
        // The service that was polled ready serves this call; a clone takes its place.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let path = req.uri().path().to_string();
            if path.starts_with("/grpc.") {
                return inner.call(req).await;
            }
            let mark = scheduler
                .read_mark()
                .filter(|_| scheduler.settings().answers_wait_for_commit);
            if !WRITES_FIRST.contains(&path.as_str()) {
                if let Err(e) = scheduler.catch_up().await {
                    return Ok(failed(&path, e));
                }
            }
            let response = inner.call(req).await?;
            if let Some(mark) = mark
                && (reads(&path) || refused(&response))
                && let Err(e) = scheduler.settle_reads(mark).await
            {
                return Ok(failed(&path, e));
            }
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_feed_hears_503_and_a_grpc_client_a_status() {
        let e = || crate::error::Error::Aborted("ask again".into());
        let feed = failed("/ics/0123.ics", e());
        assert_eq!(feed.status(), http::StatusCode::SERVICE_UNAVAILABLE);
        assert!(feed.headers().get("grpc-status").is_none());
        let grpc = failed("/entente.v1.EventService/GetEvent", e());
        assert_eq!(grpc.headers()["grpc-status"], "10");
        assert!(reads("/entente.v1.EventService/ListEvents"));
        assert!(reads("/ics/0123.ics"));
        assert!(!reads("/entente.v1.EventService/CreateEvent"));
    }
}
