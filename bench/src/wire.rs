//! A lean gRPC client for the measured workloads, straight over HTTP/2 with the `h2`
//! crate, the way h2load drives a server.
//!
//! Why not tonic's `Channel` here: it puts a tower buffer between a caller and its
//! connection, so every call hops through one more task, and the generator shares the
//! server's two cores. What a call costs the generator is taken from the server. This
//! client encodes the request messages before the clock starts, sends each call from the
//! client's own task, and reads back only the fields a workload checks. On the wire it is
//! plain gRPC: length-prefixed messages, `content-type: application/grpc`, and the status
//! in the trailers (or in the headers of a trailers-only reply).

use std::future::poll_fn;

use anyhow::{Context, bail};
use bytes::{BufMut, Bytes, BytesMut};
use h2::client::SendRequest;
use http::{HeaderMap, Method, Request, Uri};
use tokio::net::TcpStream;

/// gRPC's OK.
pub const OK: i32 = 0;
/// gRPC's FAILED_PRECONDITION: a booking refused for a hard conflict.
pub const FAILED_PRECONDITION: i32 = 9;

/// One HTTP/2 connection; clones share it, as clients share a tonic `Channel`.
#[derive(Debug, Clone)]
pub struct Conn {
    send: SendRequest<Bytes>,
    base: String,
}

/// A finished call: the gRPC status code, and the reply message (empty unless OK).
#[derive(Debug)]
pub struct Reply {
    /// gRPC status code.
    pub code: i32,
    /// The reply message's bytes, without the 5-byte gRPC prefix.
    pub message: Bytes,
    /// `grpc-message`, for errors.
    pub detail: String,
}

impl Conn {
    /// Connects to `server` ("http://host:port") with TCP_NODELAY, like the tonic clients.
    pub async fn connect(server: &str) -> anyhow::Result<Conn> {
        let authority = server
            .strip_prefix("http://")
            .context("the lean client speaks plaintext HTTP/2 (http://host:port)")?
            .trim_end_matches('/');
        let tcp = TcpStream::connect(authority)
            .await
            .with_context(|| format!("cannot connect to {server}"))?;
        tcp.set_nodelay(true)?;
        let (send, conn) = h2::client::handshake(tcp).await?;
        tokio::spawn(async move {
            if let Err(e) = conn.await {
                eprintln!("connection to the server ended: {e}");
            }
        });
        Ok(Conn {
            send,
            base: format!("http://{authority}"),
        })
    }

    /// The URI of a method ("/package.Service/Method") on this server.
    pub fn uri(&self, method: &str) -> anyhow::Result<Uri> {
        Ok(format!("{}{method}", self.base).parse()?)
    }

    /// One unary call with an already framed request ([`frame`]).
    pub async fn call(&mut self, uri: &Uri, framed: Bytes) -> anyhow::Result<Reply> {
        poll_fn(|cx| self.send.poll_ready(cx)).await?;
        let req = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header("content-type", "application/grpc")
            .header("te", "trailers")
            .body(())?;
        let (response, mut body) = self.send.send_request(req, false)?;
        body.send_data(framed, true)?;
        let (head, mut recv) = response.await?.into_parts();
        if let Some(code) = status(&head.headers) {
            // Trailers-only: an error, or an empty stream.
            return Ok(Reply {
                code,
                message: Bytes::new(),
                detail: detail(&head.headers),
            });
        }
        // A reply nearly always arrives as one DATA frame; copy only when it does not.
        let mut first: Option<Bytes> = None;
        let mut rest = BytesMut::new();
        while let Some(chunk) = recv.data().await {
            let chunk = chunk?;
            recv.flow_control().release_capacity(chunk.len())?;
            match &first {
                None => first = Some(chunk),
                Some(f) => {
                    if rest.is_empty() {
                        rest.extend_from_slice(f);
                    }
                    rest.extend_from_slice(&chunk);
                }
            }
        }
        let trailers = recv.trailers().await?.unwrap_or_default();
        let code = status(&trailers).context("the reply has no grpc-status")?;
        let all = if rest.is_empty() {
            first.unwrap_or_default()
        } else {
            rest.freeze()
        };
        Ok(Reply {
            code,
            message: unframe(all)?,
            detail: detail(&trailers),
        })
    }
}

/// `grpc-status` from headers or trailers.
fn status(h: &HeaderMap) -> Option<i32> {
    h.get("grpc-status")?.to_str().ok()?.parse().ok()
}

/// `grpc-message`, as sent (percent-encoded).
fn detail(h: &HeaderMap) -> String {
    h.get("grpc-message")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string()
}

/// A message with gRPC's 5-byte prefix (uncompressed flag, big-endian length).
pub fn frame(m: &impl prost::Message) -> Bytes {
    let len = m.encoded_len();
    let mut b = BytesMut::with_capacity(5 + len);
    b.put_u8(0);
    b.put_u32(len as u32);
    // A BytesMut grows as needed, so encoding cannot run out of room.
    let _ = m.encode(&mut b);
    b.freeze()
}

/// The one message of a unary reply, prefix removed.
fn unframe(mut b: Bytes) -> anyhow::Result<Bytes> {
    if b.is_empty() {
        return Ok(b);
    }
    if b.len() < 5 || b[0] != 0 {
        bail!("the reply is not one uncompressed gRPC message");
    }
    let len = u32::from_be_bytes([b[1], b[2], b[3], b[4]]) as usize;
    if b.len() != 5 + len {
        bail!(
            "the reply's length prefix says {len} bytes, {} came",
            b.len() - 5
        );
    }
    Ok(b.split_off(5))
}

/// The part of `CheckConflictsResponse` the conflict workload reads: each conflict's kind
/// (field 1 of field 1). prost skips every other field, so the generator decodes a few
/// integers instead of building strings it would drop.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ConflictKinds {
    /// `CheckConflictsResponse.conflicts`, kinds only.
    #[prost(message, repeated, tag = "1")]
    pub conflicts: Vec<KindOnly>,
}

/// `Conflict.kind` alone.
#[derive(Clone, Copy, PartialEq, prost::Message)]
pub struct KindOnly {
    /// `ConflictKind` as a number.
    #[prost(int32, tag = "1")]
    pub kind: i32,
}

#[cfg(test)]
mod tests {
    use super::*;
    use entente_proto::v1 as pb;
    use prost::Message;

    #[test]
    fn the_kinds_view_reads_what_the_full_message_holds() {
        let full = pb::CheckConflictsResponse {
            conflicts: vec![
                pb::Conflict {
                    kind: pb::ConflictKind::Participant as i32,
                    other_event_id: "e1".into(),
                    description: "a sentence".into(),
                    ..Default::default()
                },
                pb::Conflict {
                    kind: pb::ConflictKind::Travel as i32,
                    distance_km: 2500.0,
                    ..Default::default()
                },
            ],
            travel_checks_skipped: vec![pb::TravelCheckSkipped {
                venue_id: "v1".into(),
                ..Default::default()
            }],
            event: None,
        };
        let kinds = ConflictKinds::decode(full.encode_to_vec().as_slice()).expect("decodes");
        let want: Vec<i32> = full.conflicts.iter().map(|c| c.kind).collect();
        let got: Vec<i32> = kinds.conflicts.iter().map(|c| c.kind).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn frames_round_trip_and_bad_prefixes_are_refused() {
        let m = pb::TravelCheckSkipped {
            venue_id: "v1".into(),
            ..Default::default()
        };
        let framed = frame(&m);
        assert_eq!(&framed[..5], &[0, 0, 0, 0, m.encoded_len() as u8]);
        let back = unframe(framed.clone()).expect("unframes");
        assert_eq!(pb::TravelCheckSkipped::decode(back).expect("decodes"), m);
        assert!(unframe(framed.slice(..framed.len() - 1)).is_err());
        let mut compressed = framed.to_vec();
        compressed[0] = 1;
        assert!(unframe(Bytes::from(compressed)).is_err());
    }
}
