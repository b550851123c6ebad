//! Every open connection, what it is doing, and when it is closed.
//!
//! A socket costs the server a slot of `Limits::max_connections` for as long as it stays
//! open, so a client that opens sockets and says nothing could otherwise hold every slot
//! and lock every new client out. The [`Registry`] knows, for each connection, when it was
//! accepted, how many calls it has in flight and when it last had one, and closes:
//!
//! - a connection that has not started a call `first_request_timeout` after it was accepted
//!   (a silent socket, an HTTP/2 client silent after its preface, a TLS handshake or HTTP/1.1
//!   headers sent a byte at a time);
//! - a connection with no call in flight for `idle_timeout` (streams such as WatchChanges
//!   are calls in flight for as long as they last, and HTTP/2 keepalive pings find their
//!   dead peers);
//! - a connection whose peer has read nothing of what the server sends for
//!   `stall_timeout` (its socket full the whole time: a client that asks for a large
//!   calendar feed and never reads it would otherwise hold its call, and its slot, open
//!   forever);
//! - when every slot is taken and a new client connects, the connection idle the longest, at
//!   once: a new client never waits behind sockets that are doing nothing.
//!
//! Only when every slot holds a call in flight does a new client wait, in the listen
//! backlog, for one to end. Connections are closed by failing their next read and write
//! (the socket is then dropped), never while a call is in flight.
//!
//! A call is counted from when its headers reach the service stack ([`TrackLayer`]) until
//! its response body is dropped, which for a stream is when the stream ends.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures_util::task::AtomicWaker;
use http_body_util::BodyExt;
use tokio::sync::Notify;

use crate::lock;

/// The connections of one listener.
#[derive(Debug)]
pub struct Registry {
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Signalled when a connection closes or its last call ends: an accept waiting for a
    /// slot looks again.
    changed: Notify,
    epoch: Instant,
    max: usize,
    first_request: Duration,
    idle: Duration,
    stall: Duration,
}

/// One connection's state, shared by its socket, its calls and the reaper.
#[derive(Debug)]
pub struct Conn {
    id: u64,
    peer: Option<SocketAddr>,
    /// Milliseconds since the registry's epoch.
    accepted_ms: u64,
    last_call_ms: AtomicU64,
    /// Since when its writes have been refused by a full socket ([`NOT_BLOCKED`]: they
    /// are not).
    blocked_ms: AtomicU64,
    epoch: Instant,
    calls: AtomicU64,
    in_flight: AtomicUsize,
    closed: AtomicBool,
    waker: AtomicWaker,
    registry: Weak<Registry>,
}

/// Why the reaper closed a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Keep,
    NoFirstCall,
    Idle,
    Stalled,
}

const NOT_BLOCKED: u64 = u64::MAX;

impl Registry {
    /// A registry for at most `max` connections with these time limits; a task reaps the
    /// connections past them for as long as the registry lives.
    pub fn new(
        max: usize,
        first_request: Duration,
        idle: Duration,
        stall: Duration,
    ) -> Arc<Registry> {
        let registry = Arc::new(Registry {
            open: Mutex::new(HashMap::new()),
            next_id: AtomicU64::new(0),
            changed: Notify::new(),
            epoch: Instant::now(),
            max: max.max(1),
            first_request,
            idle,
            stall,
        });
        // A tenth of the shortest limit, between 10 ms and 1 s: a connection is closed at
        // most that late.
        let every = (first_request.min(idle).min(stall) / 10)
            .clamp(Duration::from_millis(10), Duration::from_secs(1));
        tokio::spawn(reap(Arc::downgrade(&registry), every));
        registry
    }

    fn now_ms(&self) -> u64 {
        since(self.epoch)
    }

    /// Registers a connection just accepted from `peer`, first making room for it: when
    /// every slot is taken, the connection idle the longest is closed; when every one has a
    /// call in flight, this waits until one ends or closes.
    pub async fn admit(self: &Arc<Registry>, peer: Option<SocketAddr>) -> Arc<Conn> {
        loop {
            // Registered before looking, so a change between the look and the wait wakes it.
            let changed = self.changed.notified();
            {
                let mut open = lock(&self.open);
                if open.len() >= self.max {
                    let idlest = open
                        .values()
                        .filter(|c| c.in_flight.load(Ordering::Acquire) == 0)
                        .min_by_key(|c| c.last_call_ms.load(Ordering::Acquire));
                    if let Some(c) = idlest.cloned() {
                        tracing::debug!(peer = ?c.peer, "every connection slot is taken: closing the one idle the longest");
                        open.remove(&c.id);
                        c.close();
                    }
                }
                if open.len() < self.max {
                    let now = self.now_ms();
                    let conn = Arc::new(Conn {
                        id: self.next_id.fetch_add(1, Ordering::Relaxed),
                        peer,
                        accepted_ms: now,
                        last_call_ms: AtomicU64::new(now),
                        blocked_ms: AtomicU64::new(NOT_BLOCKED),
                        epoch: self.epoch,
                        calls: AtomicU64::new(0),
                        in_flight: AtomicUsize::new(0),
                        closed: AtomicBool::new(false),
                        waker: AtomicWaker::new(),
                        registry: Arc::downgrade(self),
                    });
                    open.insert(conn.id, conn.clone());
                    return conn;
                }
            }
            changed.await;
        }
    }

    fn verdict(&self, c: &Conn, now: u64) -> Verdict {
        let blocked = c.blocked_ms.load(Ordering::Acquire);
        if blocked != NOT_BLOCKED && now.saturating_sub(blocked) >= self.stall.as_millis() as u64 {
            return Verdict::Stalled;
        }
        if c.in_flight.load(Ordering::Acquire) > 0 {
            return Verdict::Keep;
        }
        if c.calls.load(Ordering::Acquire) == 0 {
            if now.saturating_sub(c.accepted_ms) >= self.first_request.as_millis() as u64 {
                return Verdict::NoFirstCall;
            }
            return Verdict::Keep;
        }
        if now.saturating_sub(c.last_call_ms.load(Ordering::Acquire))
            >= self.idle.as_millis() as u64
        {
            return Verdict::Idle;
        }
        Verdict::Keep
    }

    /// Closes every connection past its time limit.
    fn reap_once(&self) {
        self.reap_at(self.now_ms());
    }

    /// Closes every connection past its time limit at `now` (ms since the epoch).
    fn reap_at(&self, now: u64) {
        let mut open = lock(&self.open);
        open.retain(|_, c| match self.verdict(c, now) {
            Verdict::Keep => true,
            v => {
                tracing::debug!(peer = ?c.peer, reason = ?v, "connection closed");
                c.close();
                false
            }
        });
    }

    fn forget(&self, id: u64) {
        lock(&self.open).remove(&id);
        self.changed.notify_waiters();
    }
}

/// Milliseconds since `epoch`: the clock of a registry and its connections.
fn since(epoch: Instant) -> u64 {
    epoch.elapsed().as_millis() as u64
}

async fn reap(registry: Weak<Registry>, every: Duration) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        match registry.upgrade() {
            Some(r) => r.reap_once(),
            None => return,
        }
    }
}

impl Conn {
    /// Fails the connection's next read and write, and wakes a read waiting for bytes.
    fn close(&self) {
        self.closed.store(true, Ordering::Release);
        self.waker.wake();
    }

    /// `Err` once the connection is closed; otherwise registers `cx` to be woken when it is.
    pub(crate) fn poll_open(&self, cx: &Context<'_>) -> Poll<std::io::Result<()>> {
        if !self.is_closed() {
            self.waker.register(cx.waker());
            // Closed between the look and the registration: the wake may have been missed.
            if !self.is_closed() {
                return Poll::Pending;
            }
        }
        Poll::Ready(self.check_open())
    }

    /// `Err` once the connection is closed: its reads and writes then fail, and the server
    /// drops it.
    pub(crate) fn check_open(&self) -> std::io::Result<()> {
        if self.is_closed() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::TimedOut,
                "connection closed by the server: idle, stalled, or its slot was needed",
            ));
        }
        Ok(())
    }

    /// Whether the connection has been closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Notes whether a write just went through (`ready`) or found the socket full.
    pub(crate) fn wrote<T>(&self, poll: &Poll<T>) {
        let blocked = self.blocked_ms.load(Ordering::Relaxed);
        match (poll.is_ready(), blocked == NOT_BLOCKED) {
            (true, false) => self.blocked_ms.store(NOT_BLOCKED, Ordering::Release),
            (false, true) => self.blocked_ms.store(since(self.epoch), Ordering::Release),
            _ => {}
        }
    }

    fn start_call(self: &Arc<Conn>) -> Call {
        self.calls.fetch_add(1, Ordering::AcqRel);
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Call(self.clone())
    }
}

/// The handle a socket holds: dropping it frees the slot at once (the registry's own entry
/// would otherwise keep the connection counted until the reaper found it).
#[derive(Debug)]
pub struct Slot(pub(crate) Arc<Conn>);

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(r) = self.0.registry.upgrade() {
            r.forget(self.0.id);
        }
    }
}

/// A call in flight on a connection, until dropped.
#[derive(Debug)]
struct Call(Arc<Conn>);

impl Drop for Call {
    fn drop(&mut self) {
        let c = &self.0;
        // The time first: the reaper must never see no call in flight with an old one.
        c.last_call_ms.store(since(c.epoch), Ordering::Release);
        if c.in_flight.fetch_sub(1, Ordering::AcqRel) == 1
            && let Some(r) = c.registry.upgrade()
        {
            r.changed.notify_waiters();
        }
    }
}

/// What a connection tells each of its calls (tonic puts it in every request's
/// extensions).
#[derive(Debug, Clone)]
pub struct ConnInfo {
    pub(crate) conn: Arc<Conn>,
}

impl ConnInfo {
    /// The client's address.
    pub fn remote_addr(&self) -> Option<SocketAddr> {
        self.conn.peer
    }
}

/// Counts each call as in flight on its connection until its response body is dropped.
#[derive(Debug, Clone, Default)]
pub struct TrackLayer;

impl<S> tower::Layer<S> for TrackLayer {
    type Service = Track<S>;
    fn layer(&self, inner: S) -> Track<S> {
        Track { inner }
    }
}

/// See [`TrackLayer`].
#[derive(Debug, Clone)]
pub struct Track<S> {
    inner: S,
}

type BoxFuture<T> = std::pin::Pin<Box<dyn Future<Output = T> + Send + 'static>>;

impl<S, B> tower::Service<http::Request<B>> for Track<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = BoxFuture<Result<S::Response, S::Error>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let call = req
            .extensions()
            .get::<ConnInfo>()
            .map(|i| i.conn.start_call());
        let fut = self.inner.call(req);
        Box::pin(async move {
            let resp = fut.await?;
            Ok(match call {
                // The call lasts as long as its body: the closure owns the handle.
                Some(call) => resp.map(|body| {
                    tonic::body::Body::new(body.map_frame(move |f| {
                        let _ = &call;
                        f
                    }))
                }),
                None => resp,
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_full_registry_closes_the_longest_idle_connection_not_a_busy_one() {
        let r = Registry::new(
            2,
            Duration::from_secs(60),
            Duration::from_secs(60),
            Duration::from_secs(60),
        );
        let busy = r.admit(None).await;
        let _call = busy.start_call();
        let idle = r.admit(None).await;
        let new = r.admit(None).await;
        assert!(idle.is_closed());
        assert!(!busy.is_closed());
        assert!(!new.is_closed());
    }

    #[tokio::test]
    async fn connections_that_never_call_are_reaped_and_calls_keep_them() {
        let r = Registry::new(
            8,
            Duration::from_secs(10),
            Duration::from_secs(100),
            Duration::from_secs(30),
        );
        let silent = r.admit(None).await;
        let streaming = r.admit(None).await;
        let call = streaming.start_call();
        let t0 = silent.accepted_ms;
        r.reap_at(t0 + 9_999);
        assert!(!silent.is_closed());
        r.reap_at(t0 + 10_000);
        assert!(silent.is_closed());
        r.reap_at(t0 + 1_000_000);
        assert!(
            !streaming.is_closed(),
            "a call in flight keeps its connection"
        );
        drop(call);
        let ended = streaming.last_call_ms.load(Ordering::Acquire);
        r.reap_at(ended + 99_999);
        assert!(!streaming.is_closed());
        r.reap_at(ended + 100_000);
        assert!(streaming.is_closed());
    }

    #[tokio::test]
    async fn a_call_whose_peer_reads_nothing_is_closed_after_the_stall_timeout() {
        let r = Registry::new(
            8,
            Duration::from_secs(10),
            Duration::from_secs(100),
            Duration::from_secs(30),
        );
        let c = r.admit(None).await;
        let _call = c.start_call();
        c.wrote(&Poll::<()>::Pending);
        let since = c.blocked_ms.load(Ordering::Acquire);
        r.reap_at(since + 29_999);
        assert!(!c.is_closed());
        // A write that goes through starts the count again.
        c.wrote(&Poll::Ready(()));
        r.reap_at(since + 30_000);
        assert!(!c.is_closed());
        c.wrote(&Poll::<()>::Pending);
        let since = c.blocked_ms.load(Ordering::Acquire);
        r.reap_at(since + 30_000);
        assert!(c.is_closed());
    }
}
