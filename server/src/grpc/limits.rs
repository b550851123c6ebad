//! Transport limits, and the statuses tonic gives for transport-level refusals, mapped to
//! the codes entente documents.
//!
//! tonic answers an oversized request with OUT_OF_RANGE and an unparseable one (garbage
//! bytes, invalid UTF-8 in a string, nesting past prost's recursion limit) with INTERNAL,
//! following gRPC's status table. Both are the caller's doing, so entente answers
//! RESOURCE_EXHAUSTED (as grpc-go does for size) and INVALID_ARGUMENT, keeping tonic's
//! message. INTERNAL then only ever means a fault of the server.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tonic::codegen::http;
use tonic::transport::server::Connected;

use super::connections::{ConnInfo, Registry, Slot};

pub use crate::config::Limits;

/// Rewrites transport-level statuses in a response's headers (trailers-only replies).
pub fn rewrite_status<B>(mut resp: http::Response<B>) -> http::Response<B> {
    // Every reply passes here, and most carry no status in their headers (it comes in the
    // trailers): only a trailers-only 11 or 13 is worth reading the message of.
    let headers = resp.headers();
    let code = headers.get("grpc-status").map(http::HeaderValue::as_bytes);
    if !matches!(code, Some(b"11" | b"13")) {
        return resp;
    }
    let message = headers
        .get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let new = match code {
        // OUT_OF_RANGE for "decoded message length too large".
        Some(b"11")
            if message.contains("message%20length%20too%20large")
                || message.contains("message length too large") =>
        {
            "8"
        }
        // INTERNAL for "failed to decode Protobuf message".
        Some(b"13")
            if message.contains("decode%20Protobuf") || message.contains("decode Protobuf") =>
        {
            "3"
        }
        _ => return resp,
    };
    resp.headers_mut()
        .insert("grpc-status", http::HeaderValue::from_static(new));
    resp
}

/// A connection that holds one of the `max_connections` slots while it is open, and fails
/// its reads and writes once the registry closes it (see `grpc::connections`):
/// plaintext, or TLS (`grpc::tls`). One type for both, so that the server's connection
/// code is compiled once (two stream types cost plaintext calls ~1.5% more instructions).
#[derive(Debug)]
pub struct Limited {
    io: Io,
    slot: Slot,
    rate: Rate,
}

/// A token bucket over the bytes read from a connection: `per_sec` a second, holding at
/// most a second's worth.
#[derive(Debug)]
struct Rate {
    per_sec: u64,
    /// A second's worth: the most the budget holds.
    cap: i64,
    /// Bytes that may be read now; below zero after a read larger than what was left.
    budget: i64,
    refilled: tokio::time::Instant,
    /// Set while the budget is spent: when it will be positive again.
    wait: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl Rate {
    fn new(per_sec: u64) -> Rate {
        let cap = per_sec.min(i64::MAX as u64) as i64;
        Rate {
            per_sec,
            cap,
            budget: cap,
            refilled: tokio::time::Instant::now(),
            wait: None,
        }
    }

    /// Ready when a read may go ahead; otherwise the task is woken when it may.
    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        if let Some(wait) = &mut self.wait {
            std::task::ready!(wait.as_mut().poll(cx));
            self.wait = None;
        }
        let now = tokio::time::Instant::now();
        let earned = now.duration_since(self.refilled).as_secs_f64() * self.per_sec as f64;
        self.budget = (self.budget as f64 + earned).min(self.cap as f64) as i64;
        self.refilled = now;
        if self.budget > 0 {
            return Poll::Ready(());
        }
        let secs = (1 - self.budget) as f64 / self.per_sec.max(1) as f64;
        let mut wait = Box::pin(tokio::time::sleep(Duration::from_secs_f64(secs)));
        // Registers the waker; a sleep of at least a nanosecond is never ready at once.
        if wait.as_mut().poll(cx).is_ready() {
            return Poll::Ready(());
        }
        self.wait = Some(wait);
        Poll::Pending
    }

    fn spent(&mut self, n: usize) {
        self.budget = self.budget.saturating_sub(n as i64);
    }
}

#[derive(Debug)]
enum Io {
    Plain(TcpStream),
    Tls(Box<tokio_rustls::server::TlsStream<TcpStream>>),
}

impl Limited {
    /// The same connection after a TLS handshake (one already done is kept).
    pub(crate) async fn tls(
        self,
        acceptor: &tokio_rustls::TlsAcceptor,
    ) -> std::io::Result<Limited> {
        match self.io {
            Io::Plain(tcp) => Ok(Limited {
                io: Io::Tls(Box::new(acceptor.accept(tcp).await?)),
                slot: self.slot,
                rate: self.rate,
            }),
            Io::Tls(_) => Ok(self),
        }
    }
}

impl Connected for Limited {
    type ConnectInfo = ConnInfo;
    fn connect_info(&self) -> ConnInfo {
        ConnInfo {
            conn: self.slot.0.clone(),
        }
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        // Registers the reader to be woken when the registry closes the connection.
        if let Poll::Ready(e) = self.slot.0.poll_open(cx) {
            return Poll::Ready(e);
        }
        std::task::ready!(self.rate.poll_ready(cx));
        let before = buf.filled().len();
        let poll = match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        };
        let read = buf.filled().len() - before;
        self.rate.spent(read);
        poll
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        if let Err(e) = self.slot.0.check_open() {
            return Poll::Ready(Err(e));
        }
        let poll = match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        };
        self.slot.0.wrote(&poll);
        poll
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_flush(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_flush(cx),
        }
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_shutdown(cx),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_shutdown(cx),
        }
    }
    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        if let Err(e) = self.slot.0.check_open() {
            return Poll::Ready(Err(e));
        }
        let poll = match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        };
        self.slot.0.wrote(&poll);
        poll
    }
    /// Says no, on purpose. h2 copies a DATA payload into its write buffer only up to 256
    /// bytes on a vectored writer but up to 1 KiB otherwise, and the trailers of a reply
    /// whose payload was not copied wait for a second write. Most replies here (an event,
    /// a conflict report) are 300-1000 bytes: with this they go out as one `sendto`
    /// (strace: 1.04 calls per booking against 1.70 `writev`s), and the client wakes once.
    /// Larger payloads cost one more system call each, which their size dwarfs.
    fn is_write_vectored(&self) -> bool {
        false
    }
}

/// Accepted connections, at most `limits.max_connections` open at once (see
/// `grpc::connections` for how a slot is made for a new client), each closed when past its
/// time limits and read at most `limits.read_bytes_per_sec`, with TCP_NODELAY set: small
/// request/response exchanges otherwise wait ~40 ms on Nagle and delayed ACKs.
pub fn incoming(
    listener: TcpListener,
    limits: &Limits,
) -> impl tokio_stream::Stream<Item = std::io::Result<Limited>> + use<> {
    let registry = Registry::new(
        limits.max_connections,
        limits.first_request_timeout,
        limits.idle_timeout,
        limits.stall_timeout,
    );
    let read_bytes_per_sec = limits.read_bytes_per_sec;
    futures_util::stream::unfold(
        (listener, registry),
        move |(listener, registry)| async move {
            let next = match listener.accept().await {
                Ok((io, peer)) => {
                    let _ = io.set_nodelay(true);
                    let conn = registry.admit(Some(peer)).await;
                    Ok(Limited {
                        io: Io::Plain(io),
                        slot: Slot(conn),
                        rate: Rate::new(read_bytes_per_sec),
                    })
                }
                Err(e) => Err(e),
            };
            Some((next, (listener, registry)))
        },
    )
}
