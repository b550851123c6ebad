//! Transport limits, and the statuses tonic gives for transport-level refusals, mapped to
//! the codes entente documents.
//!
//! tonic answers an oversized request with OUT_OF_RANGE and an unparseable one (garbage
//! bytes, invalid UTF-8 in a string, nesting past prost's recursion limit) with INTERNAL,
//! following gRPC's status table. Both are the caller's doing, so entente answers
//! RESOURCE_EXHAUSTED (as grpc-go does for size) and INVALID_ARGUMENT, keeping tonic's
//! message. INTERNAL then only ever means a fault of the server.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tonic::codegen::http;
use tonic::transport::server::{Connected, TcpConnectInfo};

/// Every limit the server enforces, each documented in the README.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Largest request message, bytes (larger: RESOURCE_EXHAUSTED).
    pub max_message_bytes: usize,
    /// Longest a call may run (then: CANCELLED with "Timeout expired").
    pub request_timeout: Duration,
    /// HTTP/2 streams per connection.
    pub max_concurrent_streams: u32,
    /// Calls handled at once per connection; further ones wait.
    pub concurrency_per_connection: usize,
    /// Open connections; further ones wait in the accept queue.
    pub max_connections: usize,
    /// HTTP/2 keepalive ping interval.
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_bytes: 4 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrent_streams: 256,
            concurrency_per_connection: 256,
            max_connections: 1024,
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
        }
    }
}

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

/// A connection that holds one of the `max_connections` permits while it is open:
/// plaintext, or TLS (`grpc::tls`). One type for both, so that the server's connection
/// code is compiled once (two stream types cost plaintext calls ~1.5% more instructions).
#[derive(Debug)]
pub struct Limited {
    io: Io,
    _permit: OwnedSemaphorePermit,
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
                _permit: self._permit,
            }),
            Io::Tls(_) => Ok(self),
        }
    }
}

impl Connected for Limited {
    type ConnectInfo = TcpConnectInfo;
    fn connect_info(&self) -> TcpConnectInfo {
        match &self.io {
            Io::Plain(tcp) => tcp.connect_info(),
            Io::Tls(tls) => tls.get_ref().0.connect_info(),
        }
    }
}

impl AsyncRead for Limited {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_read(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Limited {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_write(cx, buf),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write(cx, buf),
        }
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
        match &mut self.io {
            Io::Plain(io) => Pin::new(io).poll_write_vectored(cx, bufs),
            Io::Tls(io) => Pin::new(io.as_mut()).poll_write_vectored(cx, bufs),
        }
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

/// Accepted connections, at most `max` open at once, with TCP_NODELAY set: small
/// request/response exchanges otherwise wait ~40 ms on Nagle and delayed ACKs.
pub fn incoming(
    listener: TcpListener,
    max: usize,
) -> impl tokio_stream::Stream<Item = std::io::Result<Limited>> {
    let permits = Arc::new(Semaphore::new(max.max(1)));
    futures_util::stream::unfold((listener, permits), |(listener, permits)| async move {
        let permit = permits.clone().acquire_owned().await.ok()?;
        let next = listener.accept().await.map(|(io, _)| {
            let _ = io.set_nodelay(true);
            Limited {
                io: Io::Plain(io),
                _permit: permit,
            }
        });
        Some((next, (listener, permits)))
    })
}
