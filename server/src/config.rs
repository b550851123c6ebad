//! The configuration file that `entente-server --config` reads: offices and tokens (see
//! `auth`), and every setting the binary has besides its flags, each with its default.
//!
//! ```toml
//! [limits]
//! max_message_bytes = 4194304        # larger requests: RESOURCE_EXHAUSTED
//! request_timeout_secs = 30
//! max_concurrent_streams = 256       # per connection
//! concurrency_per_connection = 256
//! max_connections = 1024
//! first_request_timeout_secs = 10
//! idle_timeout_secs = 300
//! stall_timeout_secs = 30
//! keepalive_interval_secs = 30
//! keepalive_timeout_secs = 10
//! read_bytes_per_sec = 67108864      # per connection, after a second's worth at once
//!
//! [travel]
//! speed_kmh = 800.0                  # cruising speed between cities
//! overhead_minutes = 120             # per journey: transfers, motorcade, security
//! hard = false                       # infeasible connections between confirmed events block
//!
//! [scheduler]
//! sweep_interval_secs = 30           # 0 turns the sweep off
//! request_retention_hours = 24       # how long a request_id is remembered
//!
//! [storage]
//! wal_rotate_bytes = 50331648        # the write-ahead log is rotated at this size
//! # postgres = "postgres://entente@db.example/entente"  # a shared PostgreSQL store instead
//! #                                  # of the sled folder (--store / ENTENTE_STORE win)
//! follow_interval_ms = 1000          # on PostgreSQL: how often other servers' commits are
//!                                    # read when no notification comes
//! solo_lease_ms = 1000               # on PostgreSQL: the sole-writer lease's period (a
//!                                    # server no other writes beside answers reads from
//!                                    # memory); 0: never take it
//! answers_wait_for_commit = true     # on PostgreSQL: no answer names a write that then
//!                                    # fails to commit (reads wait for commits in flight)
//!
//! [feed]
//! progress_interval_ms = 2000        # progress messages to every watcher
//! buffer = 4096                      # commits kept for watchers that fall behind
//! retention_hours = 168              # how long the change log keeps a write's changes
//!
//! [ics]
//! uid_domain = "entente"             # exported UIDs are <event id>@<uid_domain>
//! ```
//!
//! Unknown keys are refused (a typo must not silently keep a default).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;

use crate::auth::{Access, OfficeEntry, TokenEntry};
use crate::conflicts::TravelSettings;
use crate::scheduler::Settings;

/// Why the configuration file could not be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// Unreadable.
    #[error("cannot read {0}: {1}")]
    Read(String, std::io::Error),
    /// Not valid TOML of the expected shape.
    #[error("{0}: {1}")]
    Parse(String, String),
    /// A value that cannot be used.
    #[error("{0}: {1}")]
    Invalid(String, String),
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    offices: Vec<OfficeEntry>,
    #[serde(default)]
    tokens: Vec<TokenEntry>,
    #[serde(default)]
    limits: LimitsSection,
    #[serde(default)]
    travel: TravelSection,
    #[serde(default)]
    scheduler: SchedulerSection,
    #[serde(default)]
    storage: StorageSection,
    #[serde(default)]
    feed: FeedSection,
    #[serde(default)]
    ics: IcsSection,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct IcsSection {
    uid_domain: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FeedSection {
    progress_interval_ms: Option<u64>,
    buffer: Option<usize>,
    retention_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct LimitsSection {
    max_message_bytes: Option<usize>,
    request_timeout_secs: Option<u64>,
    max_concurrent_streams: Option<u32>,
    concurrency_per_connection: Option<usize>,
    max_connections: Option<usize>,
    keepalive_interval_secs: Option<u64>,
    keepalive_timeout_secs: Option<u64>,
    first_request_timeout_secs: Option<u64>,
    idle_timeout_secs: Option<u64>,
    stall_timeout_secs: Option<u64>,
    read_bytes_per_sec: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct TravelSection {
    speed_kmh: Option<f64>,
    overhead_minutes: Option<i64>,
    hard: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SchedulerSection {
    sweep_interval_secs: Option<u64>,
    request_retention_hours: Option<u64>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct StorageSection {
    wal_rotate_bytes: Option<u64>,
    postgres: Option<String>,
    follow_interval_ms: Option<u64>,
    solo_lease_ms: Option<u64>,
    answers_wait_for_commit: Option<bool>,
}

/// Everything a configuration file sets.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Offices and tokens (access control is off when there are none).
    pub access: Access,
    /// Scheduler settings, the defaults overridden by the file.
    pub settings: Settings,
    /// Transport limits, the defaults overridden by the file.
    pub limits: Limits,
    /// `[storage] postgres`: a shared PostgreSQL store instead of the sled folder.
    pub store: Option<String>,
}

/// Reads a configuration file.
pub fn load(path: &Path) -> Result<Loaded, ConfigError> {
    let shown = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read(shown.clone(), e))?;
    parse(&text).map_err(|e| match e {
        ConfigError::Parse(_, m) => ConfigError::Parse(shown.clone(), m),
        ConfigError::Invalid(_, m) => ConfigError::Invalid(shown.clone(), m),
        other => other,
    })
}

/// Parses a configuration file's text.
pub fn parse(text: &str) -> Result<Loaded, ConfigError> {
    let f: File =
        toml::from_str(text).map_err(|e| ConfigError::Parse(String::new(), e.to_string()))?;
    let invalid = |m: String| ConfigError::Invalid(String::new(), m);
    let access = Access::from_entries(f.offices, f.tokens).map_err(invalid)?;

    let mut limits = Limits::default();
    let l = f.limits;
    let positive = |name: &str, v: u64| -> Result<u64, ConfigError> {
        if v == 0 {
            Err(invalid(format!("{name} must be positive")))
        } else {
            Ok(v)
        }
    };
    if let Some(v) = l.max_message_bytes {
        limits.max_message_bytes = positive("limits.max_message_bytes", v as u64)? as usize;
    }
    if let Some(v) = l.request_timeout_secs {
        limits.request_timeout = Duration::from_secs(positive("limits.request_timeout_secs", v)?);
    }
    if let Some(v) = l.max_concurrent_streams {
        limits.max_concurrent_streams = positive("limits.max_concurrent_streams", v.into())? as u32;
    }
    if let Some(v) = l.concurrency_per_connection {
        limits.concurrency_per_connection =
            positive("limits.concurrency_per_connection", v as u64)? as usize;
    }
    if let Some(v) = l.max_connections {
        limits.max_connections = positive("limits.max_connections", v as u64)? as usize;
    }
    if let Some(v) = l.keepalive_interval_secs {
        limits.keepalive_interval =
            Duration::from_secs(positive("limits.keepalive_interval_secs", v)?);
    }
    if let Some(v) = l.read_bytes_per_sec {
        limits.read_bytes_per_sec = positive("limits.read_bytes_per_sec", v)?;
    }
    if let Some(v) = l.keepalive_timeout_secs {
        limits.keepalive_timeout =
            Duration::from_secs(positive("limits.keepalive_timeout_secs", v)?);
    }
    if let Some(v) = l.first_request_timeout_secs {
        limits.first_request_timeout =
            Duration::from_secs(positive("limits.first_request_timeout_secs", v)?);
    }
    if let Some(v) = l.idle_timeout_secs {
        limits.idle_timeout = Duration::from_secs(positive("limits.idle_timeout_secs", v)?);
    }
    if let Some(v) = l.stall_timeout_secs {
        limits.stall_timeout = Duration::from_secs(positive("limits.stall_timeout_secs", v)?);
    }

    let mut settings = Settings::default();
    let t = f.travel;
    let mut travel = TravelSettings::default();
    if let Some(v) = t.speed_kmh {
        if !(v.is_finite() && v > 0.0) {
            return Err(invalid(format!(
                "travel.speed_kmh must be a positive number of km/h, not {v}"
            )));
        }
        travel.speed_kmh = v;
    }
    if let Some(v) = t.overhead_minutes {
        if !(0..=7 * 24 * 60).contains(&v) {
            return Err(invalid(format!(
                "travel.overhead_minutes must be between 0 and a week, not {v}"
            )));
        }
        travel.overhead_minutes = v;
    }
    if let Some(v) = t.hard {
        travel.hard = v;
    }
    settings.travel = travel;
    if let Some(v) = f.scheduler.sweep_interval_secs {
        settings.expiry_sweep = (v > 0).then(|| Duration::from_secs(v));
    }
    if let Some(v) = f.scheduler.request_retention_hours {
        settings.request_retention =
            Duration::from_secs(positive("scheduler.request_retention_hours", v)? * 3600);
    }
    if let Some(v) = f.storage.wal_rotate_bytes {
        if v < 4096 {
            return Err(invalid(format!(
                "storage.wal_rotate_bytes must be at least 4096, not {v}"
            )));
        }
        settings.wal_rotate_bytes = v;
    }
    if let Some(v) = f.storage.follow_interval_ms {
        settings.follow_others = Some(Duration::from_millis(positive(
            "storage.follow_interval_ms",
            v,
        )?));
    }
    if let Some(v) = f.storage.solo_lease_ms {
        if v > 3_600_000 {
            return Err(invalid(format!(
                "storage.solo_lease_ms must be at most an hour (3600000), not {v}"
            )));
        }
        settings.solo_lease = (v > 0).then(|| Duration::from_millis(v));
    }
    if let Some(v) = f.storage.answers_wait_for_commit {
        settings.answers_wait_for_commit = v;
    }
    if let Some(url) = &f.storage.postgres
        && !(url.starts_with("postgres://") || url.starts_with("postgresql://"))
    {
        return Err(invalid(
            "storage.postgres must be a postgres:// URL (the sled folder is --data-dir)".into(),
        ));
    }
    let feed = f.feed;
    if let Some(v) = feed.progress_interval_ms {
        settings.feed_progress = Duration::from_millis(positive("feed.progress_interval_ms", v)?);
    }
    if let Some(v) = feed.buffer {
        settings.feed_buffer = positive("feed.buffer", v as u64)? as usize;
    }
    if let Some(v) = feed.retention_hours {
        settings.change_retention =
            Duration::from_secs(positive("feed.retention_hours", v)? * 3600);
    }
    if let Some(d) = f.ics.uid_domain {
        let d = d.trim().to_ascii_lowercase();
        let ok = !d.is_empty()
            && d.len() <= 253
            && d.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-');
        if !ok {
            return Err(invalid(format!(
                "ics.uid_domain must be a domain name such as protocol.example.org, not {d:?}"
            )));
        }
        settings.ics_uid_domain = d;
    }
    Ok(Loaded {
        access,
        settings,
        limits,
        store: f.storage.postgres,
    })
}

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
    /// Open connections. A new client beyond them closes the connection idle the longest;
    /// it waits in the accept queue only while every connection has a call in flight.
    pub max_connections: usize,
    /// How long a new connection may take to start its first call (TLS handshake, HTTP/2
    /// preface, HTTP/1.1 headers included) before it is closed.
    pub first_request_timeout: Duration,
    /// How long a connection may go without a call in flight before it is closed (a
    /// stream in progress is a call in flight).
    pub idle_timeout: Duration,
    /// How long a connection's peer may read nothing of what the server writes (its socket
    /// full the whole time) before the connection is closed, calls in flight and all.
    pub stall_timeout: Duration,
    /// HTTP/2 keepalive ping interval.
    pub keepalive_interval: Duration,
    /// How long a keepalive ping may go unanswered before the connection is closed.
    pub keepalive_timeout: Duration,
    /// How many bytes a second the server reads from one connection, after a first
    /// second's worth at once. A client uploading faster is read more slowly (HTTP/2 flow
    /// control holds it back), so that one connection's flood takes no more than its
    /// share of the machine.
    pub read_bytes_per_sec: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_message_bytes: 4 << 20,
            request_timeout: Duration::from_secs(30),
            max_concurrent_streams: 256,
            concurrency_per_connection: 256,
            max_connections: 1024,
            first_request_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(300),
            stall_timeout: Duration::from_secs(30),
            keepalive_interval: Duration::from_secs(30),
            keepalive_timeout: Duration::from_secs(10),
            read_bytes_per_sec: 64 << 20,
        }
    }
}

impl Access {
    /// Reads the offices and tokens of a configuration file (its other sections are
    /// `config`'s).
    pub fn load(path: &std::path::Path) -> Result<Access, ConfigError> {
        load(path).map(|c| c.access)
    }

    /// Parses the offices and tokens of a configuration file's text.
    pub fn parse(text: &str) -> Result<Access, ConfigError> {
        parse(text).map(|c| c.access)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_section_overrides_its_defaults_and_typos_are_refused() {
        let c = parse(
            "[limits]\nmax_message_bytes = 1024\nrequest_timeout_secs = 5\n\
             first_request_timeout_secs = 3\nidle_timeout_secs = 60\nstall_timeout_secs = 7\n\
             [travel]\nspeed_kmh = 900.0\noverhead_minutes = 60\nhard = true\n\
             [scheduler]\nsweep_interval_secs = 0\nrequest_retention_hours = 2\n\
             [storage]\nwal_rotate_bytes = 65536\nfollow_interval_ms = 250\nsolo_lease_ms = 0\n\
             answers_wait_for_commit = false\n\
             postgres = \"postgres://entente@db.example/entente\"\n\
             [feed]\nprogress_interval_ms = 500\nbuffer = 64\nretention_hours = 1\n\
             [ics]\nuid_domain = \"Protocol.Example.org\"\n",
        )
        .expect("parse");
        assert_eq!(c.settings.ics_uid_domain, "protocol.example.org");
        assert!(parse("[ics]\nuid_domain = \"a b@c\"\n").is_err());
        assert_eq!(c.limits.max_message_bytes, 1024);
        assert_eq!(c.limits.request_timeout, Duration::from_secs(5));
        assert_eq!(c.limits.first_request_timeout, Duration::from_secs(3));
        assert_eq!(c.limits.idle_timeout, Duration::from_secs(60));
        assert_eq!(c.limits.stall_timeout, Duration::from_secs(7));
        assert_eq!(c.limits.max_connections, Limits::default().max_connections);
        assert_eq!(c.settings.travel.speed_kmh, 900.0);
        assert_eq!(c.settings.travel.overhead_minutes, 60);
        assert!(c.settings.travel.hard);
        assert_eq!(c.settings.expiry_sweep, None);
        assert_eq!(c.settings.request_retention, Duration::from_secs(7200));
        assert_eq!(c.settings.wal_rotate_bytes, 65536);
        assert_eq!(c.settings.follow_others, Some(Duration::from_millis(250)));
        assert_eq!(c.settings.solo_lease, None);
        assert!(!c.settings.answers_wait_for_commit);
        assert!(Settings::default().answers_wait_for_commit);
        assert_eq!(
            parse("[storage]\nsolo_lease_ms = 400\n")
                .expect("parse")
                .settings
                .solo_lease,
            Some(Duration::from_millis(400))
        );
        assert_eq!(
            c.store.as_deref(),
            Some("postgres://entente@db.example/entente")
        );
        assert_eq!(c.settings.feed_progress, Duration::from_millis(500));
        assert_eq!(c.settings.feed_buffer, 64);
        assert_eq!(c.settings.change_retention, Duration::from_secs(3600));
        assert!(!c.access.enabled());
        for bad in [
            "[limits]\nmax_mesage_bytes = 1\n",
            "[limits]\nidle_timeout_secs = 0\n",
            "[travel]\nspeed_kmh = -1.0\n",
            "[storage]\nwal_rotate_bytes = 10\n",
            "[storage]\npostgres = \"./entente-data\"\n",
            "[storage]\nfollow_interval_ms = 0\n",
            "[storage]\nsolo_lease_ms = 3600001\n",
            "[scheduler]\nrequest_retention_hours = 0\n",
            "[unknown]\n",
        ] {
            assert!(parse(bad).is_err(), "{bad}");
        }
    }
}
