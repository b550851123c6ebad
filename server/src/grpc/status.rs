//! The one mapping from domain errors to gRPC statuses, with rich details
//! (`google.rpc.BadRequest`, `PreconditionFailure`, `ResourceInfo`) that any generated client
//! can decode to learn which field or which conflict was the problem.
//!
//! # A budget for headers
//!
//! A status travels in HTTP/2 headers: the message percent-encoded in `grpc-message`, the
//! details base64-encoded in `grpc-status-details-bin`. Clients cap headers (grpcio's
//! default is 8 KiB, and some proxies much less), and a status that outgrows the cap
//! reaches the client as a transport failure instead of the error. So every status here
//! keeps its headers under 1 KiB, whatever the request carried:
//! - the message is cut (at a character, with "…") at [`MESSAGE_BYTES`] as encoded;
//! - the `google.rpc.Status` in the details carries the same message, as grpcio-status's
//!   `rpc_status.from_call` requires (it refuses a status whose two messages differ), and
//!   the violations, cut to [`DETAIL_BYTES`] in all and less when a long message leaves
//!   less room ([`HEADER_BYTES`] for the three headers together).
//!
//! Values from the request are quoted short at their source (`validate::shown`); this is
//! the net under every message.

use tonic::{Code, Status};
use tonic_types::{ErrorDetails, FieldViolation, PreconditionViolation, StatusExt};

use crate::error::Error;

/// Most bytes of `grpc-message`, percent-encoded as tonic sends it.
pub const MESSAGE_BYTES: usize = 320;
/// Most bytes of the three status headers, names and values together.
pub const HEADER_BYTES: usize = 1000;
/// Most bytes of all the strings in the details together.
pub const DETAIL_BYTES: usize = 320;
/// Most bytes of one field path or subject in the details.
const NAME_BYTES: usize = 64;

/// The bytes `c` takes in `grpc-message` (tonic's percent-encoding set).
fn encoded_len(c: char) -> usize {
    let mut buf = [0u8; 4];
    c.encode_utf8(&mut buf)
        .bytes()
        .map(|b| if escaped(b) { 3 } else { 1 })
        .sum()
}

/// `s`, cut at a character boundary so that `len` of it stays within `max`, with "…".
fn clip(s: &str, max: usize, len: impl Fn(char) -> usize) -> String {
    // No character takes more than three times its UTF-8 bytes: most strings need no count.
    if s.len() * 3 <= max || s.chars().map(&len).sum::<usize>() <= max {
        return s.to_string();
    }
    let budget = max.saturating_sub(len('…'));
    let mut used = 0;
    let mut out = String::new();
    for c in s.chars() {
        used += len(c);
        if used > budget {
            break;
        }
        out.push(c);
    }
    out.push('…');
    out
}

/// Whether tonic percent-encodes byte `b` in `grpc-message` (three bytes for one).
fn escaped(b: u8) -> bool {
    !(0x20..0x7f).contains(&b)
        || matches!(
            b,
            b' ' | b'"' | b'#' | b'%' | b'<' | b'>' | b'`' | b'?' | b'{' | b'}'
        )
}

/// The message as `grpc-message` may carry it.
fn message(s: &str) -> String {
    // Counted per byte, as it is encoded: a cheap loop for every refused booking.
    let encoded = s.len() + 2 * s.bytes().filter(|&b| escaped(b)).count();
    if encoded <= MESSAGE_BYTES {
        return s.to_string();
    }
    clip(s, MESSAGE_BYTES, encoded_len)
}

/// Shares a number of bytes among detail entries, in order: each takes its name and as
/// much of its description as is left, up to `description` bytes; entries past the budget
/// are dropped (the message, which comes first, names the problem anyway).
struct Budget {
    left: usize,
    description: usize,
}

impl Budget {
    fn new(total: usize, description: usize) -> Budget {
        Budget {
            left: total,
            description,
        }
    }

    fn take(&mut self, name: &str, description: &str) -> Option<(String, String)> {
        if self.left < 24 {
            return None;
        }
        let name = clip(name, NAME_BYTES.min(self.left / 2), char::len_utf8);
        let left = self.left - name.len();
        let description = clip(description, left.min(self.description), char::len_utf8);
        self.left -= name.len() + description.len();
        Some((name, description))
    }
}

/// The budgets [`status`] tries, most generous first: at each total, descriptions are
/// shortened before the total is cut, so that the fields named keep their names whole for
/// as long as they can.
const TOTALS: [usize; 7] = [
    DETAIL_BYTES,
    DETAIL_BYTES * 3 / 4,
    DETAIL_BYTES / 2,
    DETAIL_BYTES * 3 / 8,
    DETAIL_BYTES / 4,
    DETAIL_BYTES / 8,
    0,
];
/// The description lengths tried at each of [`TOTALS`].
const DESCRIPTIONS: [usize; 5] = [160, 60, 30, 15, 0];

/// A status with `text` as its message, in `grpc-message` and in the details alike, and
/// the details `build` makes within the first budget ([`TOTALS`] × [`DESCRIPTIONS`]) that
/// keeps the headers within [`HEADER_BYTES`]. Most statuses fit the first.
fn status(code: Code, text: &str, build: impl Fn(&mut Budget) -> ErrorDetails) -> Status {
    let text = message(text);
    let encoded: usize = text.chars().map(encoded_len).sum();
    // "grpc-status" and its code, "grpc-message", "grpc-status-details-bin".
    let names = 11 + 2 + 12 + 23;
    let mut last = None;
    let budgets = TOTALS
        .iter()
        .flat_map(|&t| DESCRIPTIONS.iter().map(move |&d| (t, d)));
    for (total, description) in budgets {
        let details = build(&mut Budget::new(total, description));
        let s = Status::with_error_details(code, text.clone(), details);
        // Unpadded base64, as tonic sends binary metadata.
        let details = (s.details().len() * 4).div_ceil(3);
        if names + encoded + details <= HEADER_BYTES {
            return s;
        }
        last = Some(s);
    }
    // Only fixed parts are left (a kind, an error reason): a message at MESSAGE_BYTES
    // with them still fits, so this is not reached; if it were, the status still goes out.
    last.unwrap_or_else(|| Status::new(code, text))
}

/// `result.or_status()?` in a handler: the domain's error as its status.
pub trait OrStatus<T> {
    /// `Err(e)` as `Err(to_status(e))`.
    fn or_status(self) -> std::result::Result<T, Status>;
}

impl<T> OrStatus<T> for std::result::Result<T, Error> {
    fn or_status(self) -> std::result::Result<T, Status> {
        self.map_err(to_status)
    }
}

/// The status an error is answered with: the one mapping from the domain's errors to the
/// wire (a function, not `From`: neither type is this crate's).
pub fn to_status(e: Error) -> Status {
    {
        let text = e.to_string();
        match e {
            Error::Invalid(violations) => status(Code::InvalidArgument, &text, |budget| {
                let v: Vec<FieldViolation> = violations
                    .iter()
                    .map_while(|f| budget.take(&f.field, &f.description))
                    .map(|(field, description)| FieldViolation::new(field, description))
                    .collect();
                ErrorDetails::with_bad_request(v)
            }),
            Error::NotFound { kind, id, field } => status(Code::NotFound, &text, |budget| {
                let (id, _) = budget.take(&id, "").unwrap_or_default();
                let mut d = ErrorDetails::with_resource_info(kind, id, "", "not found");
                if let Some((field, description)) = budget.take(&field, "not found")
                    && !field.is_empty()
                {
                    d.add_bad_request_violation(field, description);
                }
                d
            }),
            Error::AlreadyExists { kind, id } => status(Code::AlreadyExists, &text, |budget| {
                let (id, _) = budget.take(&id, "").unwrap_or_default();
                ErrorDetails::with_resource_info(kind, id, "", "already exists")
            }),
            Error::FailedPrecondition { violations, .. } => {
                status(Code::FailedPrecondition, &text, |budget| {
                    let v: Vec<PreconditionViolation> = violations
                        .iter()
                        .map_while(|p| {
                            let (subject, description) = budget.take(&p.subject, &p.description)?;
                            Some(PreconditionViolation::new(
                                p.kind.clone(),
                                subject,
                                description,
                            ))
                        })
                        .collect();
                    ErrorDetails::with_precondition_failure(v)
                })
            }
            Error::Compacted { oldest, current } => status(Code::FailedPrecondition, &text, |_| {
                ErrorDetails::with_error_info(
                    "REVISION_COMPACTED",
                    "entente.v1",
                    [
                        ("oldest_revision".to_string(), oldest.to_string()),
                        ("current_revision".to_string(), current.to_string()),
                    ],
                )
            }),
            Error::Ahead { asked, current } => status(Code::OutOfRange, &text, |_| {
                ErrorDetails::with_error_info(
                    "REVISION_AHEAD",
                    "entente.v1",
                    [
                        ("asked_revision".to_string(), asked.to_string()),
                        ("current_revision".to_string(), current.to_string()),
                    ],
                )
            }),
            Error::Lagged { last } => status(Code::ResourceExhausted, &text, |_| {
                ErrorDetails::with_error_info(
                    "CONSUMER_LAGGED",
                    "entente.v1",
                    [("last_revision".to_string(), last.to_string())],
                )
            }),
            Error::Aborted(_) => Status::new(Code::Aborted, message(&text)),
            Error::Unauthenticated(_) => Status::new(Code::Unauthenticated, message(&text)),
            Error::PermissionDenied(_) => Status::new(Code::PermissionDenied, message(&text)),
            Error::ResourceExhausted(_) => Status::new(Code::ResourceExhausted, message(&text)),
            Error::DeadlineExceeded(_) => Status::new(Code::DeadlineExceeded, message(&text)),
            Error::Storage(_) | Error::StoreInUse(_) | Error::Corrupt { .. } | Error::Io { .. } => {
                tracing::error!(error = %text, "storage error");
                Status::new(Code::Internal, message(&text))
            }
            Error::DoubleBooking => Status::new(Code::Aborted, message(&text)),
            Error::Database(_) => {
                tracing::error!(error = %text, "database error");
                // Nothing of the write committed unless it did whole: a retry with the
                // same request_id returns the first result either way.
                let text = format!("{text}; retry with the same request_id");
                Status::new(Code::Unavailable, message(&text))
            }
            Error::Poisoned | Error::NoRuntime | Error::ShuttingDown => {
                Status::new(Code::Unavailable, message(&text))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clipping_respects_the_encoded_size_and_character_boundaries() {
        let s = "é".repeat(500);
        let m = message(&s);
        assert!(m.chars().map(encoded_len).sum::<usize>() <= MESSAGE_BYTES);
        assert!(m.ends_with('…'));
        assert_eq!(message("short message"), "short message");
        let mut b = Budget::new(DETAIL_BYTES, 160);
        let mut taken = 0;
        while let Some((n, d)) = b.take(&"f".repeat(300), &"d".repeat(300)) {
            taken += n.len() + d.len();
        }
        assert!(taken <= DETAIL_BYTES, "{taken}");
    }

    /// grpcio-status's `from_call` refuses a status whose details' message differs from
    /// `grpc-message`; and however long the message and the violations, the headers stay
    /// within budget.
    #[test]
    fn the_details_carry_the_message_and_fit_the_budget() {
        for (text, n) in [
            ("short", 1),
            (&*"x".repeat(2000), 40),
            (&*"é".repeat(900), 40),
        ] {
            let e = Error::Invalid(
                (0..n)
                    .map(|i| crate::error::FieldViolation {
                        field: format!("participants[{i}].{}", "f".repeat(80)),
                        description: "d".repeat(300),
                    })
                    .collect(),
            );
            let status = to_status(Error::FailedPrecondition {
                message: text.to_string(),
                violations: Vec::new(),
            });
            for s in [to_status(e), status] {
                let carried = <tonic_types::pb::Status as prost::Message>::decode(s.details())
                    .expect("details");
                assert_eq!(carried.message, s.message());
                let mut headers = http::HeaderMap::new();
                let headers = s
                    .add_header(&mut headers)
                    .map(|_| headers)
                    .expect("headers");
                let bytes: usize = headers
                    .iter()
                    .map(|(k, v)| k.as_str().len() + v.len())
                    .sum();
                assert!(bytes <= HEADER_BYTES, "{bytes}");
            }
        }
    }
}
