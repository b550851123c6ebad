//! The domain's one error type. Every failure the scheduler can report is a variant here;
//! `grpc::status` maps each to exactly one gRPC code, once.

use crate::time::TimeError;

/// A field that failed validation, named by its path in the request ("venue.time_zone").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// Request path of the field.
    pub field: String,
    /// What is wrong, in words a protocol officer understands.
    pub description: String,
}

/// One unmet precondition (a conflict, a referring event, a state-machine rule).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Precondition {
    /// A short machine-readable type: "PARTICIPANT_CONFLICT", "IN_USE", "STATUS".
    pub kind: String,
    /// What it is about: "events/kazan-summit".
    pub subject: String,
    /// In words.
    pub description: String,
}

/// Longest id a reference may name; a longer one is refused before any lookup.
pub const MAX_REFERENCE_CHARS: usize = 128;

/// A value from a request, quoted for an error message: whole when short, otherwise its
/// first characters and its length, so that no error grows with its input (the message
/// travels in a header, twice: in `grpc-message` and in the details).
pub fn shown(value: &str) -> String {
    const WHOLE: usize = 40;
    const HEAD: usize = 32;
    let n = value.chars().count();
    if n <= WHOLE {
        format!("{value:?}")
    } else {
        let head: String = value.chars().take(HEAD).collect();
        format!("{head:?}… ({n} characters)")
    }
}

/// Everything that can go wrong in the scheduler.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The request is malformed; no state was read or written.
    #[error("{}", join(.0))]
    Invalid(Vec<FieldViolation>),
    /// A referenced resource does not exist.
    #[error("{kind} {} was not found", shown(.id))]
    NotFound {
        /// "participant", "venue", ...
        kind: &'static str,
        /// The id asked for.
        id: String,
        /// The request field that named it.
        field: String,
    },
    /// The id is taken.
    #[error("{kind} {id:?} already exists")]
    AlreadyExists {
        /// "forum", ...
        kind: &'static str,
        /// The id.
        id: String,
    },
    /// The request is well-formed but the stored state forbids it.
    #[error("{message}")]
    FailedPrecondition {
        /// Summary.
        message: String,
        /// Each reason.
        violations: Vec<Precondition>,
    },
    /// The change feed no longer holds the changes asked for (they are older than its
    /// retention).
    #[error(
        "the changes after that revision are no longer kept (the oldest retained is {oldest}, \
         the current {current}); read the current state again, then watch from its revision"
    )]
    Compacted {
        /// The oldest revision still retained.
        oldest: u64,
        /// The current durable revision.
        current: u64,
    },
    /// A resume point past the newest revision: a client that read another store (a
    /// restored backup, another deployment) and would otherwise silently skip writes.
    #[error(
        "revision {asked} is newer than this store's newest, {current}: it was read from \
         another store (a restored backup or another deployment); read the current state \
         again, then watch from its revision"
    )]
    Ahead {
        /// The revision asked for.
        asked: u64,
        /// The current durable revision.
        current: u64,
    },
    /// A watcher fell too far behind the writes; it resumes from `last`.
    #[error(
        "this watch fell too far behind the writes and was ended; resume after revision {last}"
    )]
    Lagged {
        /// The last revision it received in full.
        last: u64,
    },
    /// The caller's view is stale (etag mismatch) or a retry key was reused differently.
    #[error("{0}")]
    Aborted(String),
    /// The caller did not authenticate.
    #[error("{0}")]
    Unauthenticated(String),
    /// The caller may not do this.
    #[error("{0}")]
    PermissionDenied(String),
    /// Heavy work stopped because its caller went away or its time ran out.
    #[error("{0}")]
    DeadlineExceeded(String),
    /// A configured limit was exceeded.
    #[error("{0}")]
    ResourceExhausted(String),
    /// The storage engine failed (its own words: the domain names no engine).
    #[error("storage failed: {0}")]
    Storage(String),
    /// Another process holds the store's lock (two servers cannot share a data folder).
    #[error(
        "another process holds its lock (another entente-server?); stop that one, or give this one a --data-dir of its own"
    )]
    StoreInUse(std::path::PathBuf),
    /// Reading or writing the store's files failed (a disk error, a full disk, a
    /// permission), as opposed to a record that was read but does not decode.
    #[error("storage I/O failed ({context}): {source}")]
    Io {
        /// What was being done, and to which file.
        context: String,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A stored record could not be decoded.
    #[error("stored record {key} is unreadable: {reason}")]
    Corrupt {
        /// The record's key, printable.
        key: String,
        /// Why.
        reason: String,
    },
    /// A scheduler that runs background work (the expiry sweep) was opened outside a tokio
    /// runtime.
    #[error(
        "the scheduler's expiry sweep needs a tokio runtime: open the scheduler inside one, or \
         set Settings::expiry_sweep to None"
    )]
    NoRuntime,
    /// Blocking work was cancelled because the runtime is shutting down.
    #[error("the server is shutting down; retry on another server or once it is back")]
    ShuttingDown,
    /// The PostgreSQL store failed or could not be reached. The write, if any, did not
    /// commit: a retry with the same `request_id` is safe.
    #[error("the database failed: {0}")]
    Database(String),
    /// The database's exclusion constraint refused a booking the conflict check let
    /// through: the safety net under it (see `storage::postgres::Busy`).
    #[error(
        "the database refused this booking: a participant or venue would be in two \
         confirmed events at once; read the calendar again and retry"
    )]
    DoubleBooking,
    /// An earlier write failed halfway; the server refuses writes until restarted so that
    /// memory and disk cannot drift apart.
    #[error("the store refused an earlier write; restart the server to recover")]
    Poisoned,
}

fn join(v: &[FieldViolation]) -> String {
    v.iter()
        .map(|f| format!("{}: {}", f.field, f.description))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The scheduler's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    /// One invalid field.
    pub fn invalid(field: impl Into<String>, description: impl Into<String>) -> Error {
        Error::Invalid(vec![FieldViolation {
            field: field.into(),
            description: description.into(),
        }])
    }

    /// A missing resource named by `field`. An id longer than any id can be is not looked
    /// for: it is INVALID_ARGUMENT, and never echoed whole.
    pub fn not_found(kind: &'static str, id: impl Into<String>, field: impl Into<String>) -> Error {
        let id = id.into();
        let n = id.chars().count();
        if n > MAX_REFERENCE_CHARS {
            return Error::invalid(
                field,
                format!(
                    "is {n} characters long; an id has at most {}",
                    MAX_REFERENCE_CHARS
                ),
            );
        }
        Error::NotFound {
            kind,
            id,
            field: field.into(),
        }
    }

    /// One unmet precondition.
    pub fn precondition(
        kind: impl Into<String>,
        subject: impl Into<String>,
        description: impl Into<String>,
    ) -> Error {
        let description = description.into();
        Error::FailedPrecondition {
            message: description.clone(),
            violations: vec![Precondition {
                kind: kind.into(),
                subject: subject.into(),
                description,
            }],
        }
    }

    /// A time problem in `field`.
    pub fn time(field: impl Into<String>, e: TimeError) -> Error {
        Error::invalid(field, e.to_string())
    }
}

/// Collects field violations so a request reports every bad field at once.
#[derive(Debug, Default)]
pub struct Violations(Vec<FieldViolation>);

impl Violations {
    /// Records a violation.
    pub fn add(&mut self, field: impl Into<String>, description: impl Into<String>) {
        self.0.push(FieldViolation {
            field: field.into(),
            description: description.into(),
        });
    }

    /// Records the error of `r`, if any, and returns its value.
    pub fn check<T>(&mut self, r: Result<T>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(Error::Invalid(v)) => {
                self.0.extend(v);
                None
            }
            Err(other) => {
                self.add("", other.to_string());
                None
            }
        }
    }

    /// `Err(Invalid)` if anything was recorded.
    pub fn finish(self) -> Result<()> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(self.0))
        }
    }
}

/// How an event the principal may not see is named in sentences (`redact`).
pub const HIDDEN_EVENT: &str = "an event not visible to your office";
/// The subject of a precondition violation about such an event.
pub const HIDDEN_SUBJECT: &str = "events/-";
