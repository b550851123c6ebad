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

/// Calls that read nothing before their write (see the module docs).
const WRITES_FIRST: &[&str] = &[
    "/entente.v1.EventService/CreateEvent",
    "/entente.v1.EventService/UpdateEvent",
];

use std::pin::Pin;
use std::task::{Context, Poll};

use crate::scheduler::Scheduler;

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
            let path = req.uri().path();
            if !path.starts_with("/grpc.") && !WRITES_FIRST.contains(&path) {
                if let Err(e) = scheduler.catch_up().await {
                    return Ok(tonic::Status::from(e).into_http());
                }
            }
            inner.call(req).await
        })
    }
}
