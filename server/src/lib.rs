//! entente: a scheduler for summits, bilateral meetings, official visits and signings.
//!
//! This crate is the whole server. [`serve`] runs it on a listener the caller bound; the
//! `entente-server` binary only parses flags, sets up logging, binds and calls it. Rust code
//! can also embed the [`Scheduler`] directly, without a network.
//!
//! # Layout
//!
//! The server is becoming the layers of `../shared/ARCHITECTURE.md` (issue 33): domain,
//! store, service, wire, arrows pointing down only. Crates hold the layers apart where
//! they are split already; inside this crate `tests/layers.rs` ranks the modules below
//! in that order and fails on an upward import beyond the debt `layers-debt.txt` records.
//!
//! Bottom first, as `tests/layers.rs` ranks them (a module names only those above it in
//! this list):
//!
//! **Domain**: records and the rules over them; no locks, no storage keys, no proto.
//! The crate `entente-domain` (`server/domain`; its `//!` says what it owns), re-exported
//! here module by module so every `entente_server::events::…` path keeps working: [`time`]
//! (crate `entente-time`), [`error`], [`stop`], [`validate`], [`record`], [`directory`],
//! [`events`], [`proposals`], [`calendar`], [`subscription`], [`state`], [`conflicts`],
//! [`history`], [`slots`] (the slot finder, which reads through [`slots::Sight`]: the
//! redaction view implements it). Then, in this crate:
//! - [`auth`]: tokens, offices and roles: the explicit [`Principal`] every operation takes.
//!
//! **Store**: records to bytes and back, and the one commit point.
//! - [`storage`]: the record codecs and key schema, and the stores behind the narrow
//!   `Backend` trait: sled with its write-ahead log and group commit (the default), the
//!   in-memory mirror, and PostgreSQL (`storage::postgres`: schema migrations, the commit
//!   log, the commit lock, the exclusion constraint).
//! - [`commit`]: what a write changes; the commit point's record of it; how each record
//!   kind is stored (`Stored`).
//! - `solo`, `cluster`, `replica`: a scheduler's side of a PostgreSQL store shared with
//!   other servers: the sole-writer lease, group commit under the database's commit lock,
//!   catching up on other servers' commits and applying them to this server's memory.
//!
//! **Service**: what an office does, on behalf of an explicit principal.
//! - [`work`]: heavy requests off the async workers: a bounded pool, one at a time per
//!   office, and cooperative cancellation.
//! - [`policy`]: who may see and change what, decided inside the write it guards.
//! - [`redact`]: the one redaction point for everything that mentions another record.
//! - [`audit`]: the audit log and the names of the operations it records.
//! - [`ics`]: iCalendar: reading a file, writing one, the VEVENT ⇄ event mapping, feeds'
//!   rendering cache.
//! - [`feed`]: the change feed's dispatch: durable commits, in order, to each office as
//!   it may see them.
//! - [`scheduler`]: the state behind its lock, the one atomic write path (with its
//!   idempotency records and the event write every use case shares), start-up loading,
//!   the clock.
//! - [`service`]: the use cases (`Scheduler` methods) of the directory, events,
//!   proposals, working calendars, the slot finder, the audit log, the change feed,
//!   iCalendar export, feeds and import, each orchestrating one authorised
//!   write or a redacted read; what an event write is checked against as its caller may
//!   see it (`service::checks`); the record kinds' `Resource` and `Stored` glue.
//!
//! **Wire**
//! - [`config`]: the configuration file: tokens, limits, travel, sweep, storage.
//! - [`grpc`]: the `entente.v1` services, conversions, and the one error-to-status mapping.

pub mod audit;
pub mod auth;
mod cluster;
pub mod commit;
pub mod config;
pub mod feed;
pub mod grpc;
pub mod ics;
mod pages;
pub mod policy;
pub mod redact;
mod replica;
pub mod scheduler;
pub mod service;
mod solo;
pub mod storage;
pub use entente_domain::{
    calendar, conflicts, directory, error, events, history, proposals, record, slots, state, stop,
    subscription, validate,
};
pub use entente_time as time;
pub mod work;

use std::future::Future;
use std::path::PathBuf;

use tokio::net::TcpListener;

pub use auth::Principal;
pub use error::{Error, Result};
pub use scheduler::{Clock, ManualClock, Scheduler, Settings, Swept};

pub use grpc::limits::Limits;

/// Server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Where sled keeps its files.
    pub data_dir: PathBuf,
    /// A PostgreSQL store shared with other servers (`postgres://…`) instead of the sled
    /// folder; `data_dir` is then unused.
    pub store: Option<String>,
    /// Clock and travel parameters.
    pub settings: Settings,
    /// Transport limits.
    pub limits: Limits,
    /// Tokens and offices; none configured means access control is off.
    pub access: auth::Access,
    /// The configuration file to read the tokens from again on SIGHUP (revoking a token:
    /// remove it from the file, then `kill -HUP`).
    pub reload_from: Option<PathBuf>,
    /// TLS; `None` serves plaintext HTTP/2.
    pub tls: Option<Tls>,
}

/// TLS material, PEM-encoded.
#[derive(Debug, Clone)]
pub struct Tls {
    /// The server's certificate chain.
    pub cert: Vec<u8>,
    /// Its private key.
    pub key: Vec<u8>,
    /// When set, clients must present a certificate signed by this CA (mutual TLS).
    pub client_ca: Option<Vec<u8>>,
}

impl Default for Config {
    fn default() -> Config {
        Config {
            data_dir: PathBuf::from("./entente-data"),
            store: None,
            settings: Settings::default(),
            limits: Limits::default(),
            access: auth::Access::default(),
            reload_from: None,
            tls: None,
        }
    }
}

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// The store could not be opened.
    #[error("cannot open the store in {dir}: {source}")]
    Open {
        /// The data folder.
        dir: PathBuf,
        /// Why.
        source: Error,
    },
    /// The PostgreSQL store could not be opened.
    #[error("cannot open the PostgreSQL store: {0}")]
    OpenShared(Error),
    /// Reflection could not be set up from the descriptor set.
    #[error("cannot set up reflection: {0}")]
    Reflection(#[from] tonic_reflection::server::Error),
    /// The transport failed.
    #[error("transport failed: {0}")]
    Transport(#[from] tonic::transport::Error),
    /// The TLS material was refused.
    #[error("TLS: {0}")]
    Tls(String),
    /// The final flush failed.
    #[error("final flush failed: {0}")]
    Flush(Error),
}

/// Opens the store in `config.data_dir` and serves entente on `listener` until `shutdown`
/// completes; then lets in-flight calls finish, flushes the store and compacts it for the
/// next start (see [`storage::SledBackend::compact`]).
pub async fn serve(
    listener: TcpListener,
    config: Config,
    shutdown: impl Future<Output = ()> + Send,
) -> std::result::Result<(), ServeError> {
    if let Some(url) = &config.store {
        let scheduler = Scheduler::open_postgres(url, config.settings.clone())
            .await
            .map_err(ServeError::OpenShared)?;
        return serve_with(listener, scheduler, &config, shutdown).await;
    }
    // Opening reads the whole store and compacting rewrites sled's snapshot: blocking work,
    // kept off the async workers (with --workers 1 there is only one).
    let (dir, settings) = (config.data_dir.clone(), config.settings.clone());
    let scheduler = blocking(move || Scheduler::open(&dir, settings))
        .await
        .map_err(|source| ServeError::Open {
            dir: config.data_dir.clone(),
            source,
        })?;
    serve_with(listener, scheduler, &config, shutdown).await?;
    // The scheduler is gone (serve_with consumed it), so sled can be reopened to write the
    // snapshot that makes the next start quick. The store is already durable: a failure
    // here costs only start-up time.
    let started = std::time::Instant::now();
    let dir = config.data_dir.clone();
    match blocking(move || storage::SledBackend::compact(&dir)).await {
        Ok(()) => tracing::info!(
            millis = started.elapsed().as_millis() as u64,
            "store compacted for the next start"
        ),
        Err(e) => tracing::warn!(error = %e, "could not compact the store for the next start"),
    }
    Ok(())
}

/// Serves an existing scheduler on `listener` with default limits until `shutdown`.
pub async fn serve_scheduler(
    listener: TcpListener,
    scheduler: Scheduler,
    shutdown: impl Future<Output = ()> + Send,
) -> std::result::Result<(), ServeError> {
    serve_with(listener, scheduler, &Config::default(), shutdown).await
}

/// Serves an existing scheduler on `listener` with `config`'s limits and access control
/// (its `data_dir` and `settings` are the scheduler's business) until `shutdown`
/// completes; then lets in-flight calls finish and makes the store durable in place.
pub async fn serve_with(
    listener: TcpListener,
    scheduler: Scheduler,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send,
) -> std::result::Result<(), ServeError> {
    let limits = &config.limits;
    let tokens = grpc::access::Tokens::new(config.access.clone());
    #[cfg(unix)]
    if let Some(path) = config.reload_from.clone() {
        reload_on_hangup(path, tokens.clone());
    }
    let routes = grpc::routes(scheduler.clone(), limits, tokens.clone()).await?;
    if let Ok(addr) = listener.local_addr() {
        tracing::info!(%addr, "entente is serving");
    }
    // TLS is accepted by `grpc::tls`, not tonic, so that ALPN offers http/1.1 (calendar
    // feeds) beside h2.
    let acceptor = match &config.tls {
        Some(tls) => Some(grpc::tls::acceptor(tls).map_err(ServeError::Tls)?),
        None => None,
    };
    let router = tonic::transport::Server::builder()
        // Calendar apps fetch subscription feeds (`GET /ics/…`) over HTTP/1.1.
        .accept_http1(true)
        .timeout(limits.request_timeout)
        .max_concurrent_streams(limits.max_concurrent_streams)
        .concurrency_limit_per_connection(limits.concurrency_per_connection)
        .http2_keepalive_interval(Some(limits.keepalive_interval))
        .http2_keepalive_timeout(Some(limits.keepalive_timeout))
        // Outermost: a call is in flight on its connection until its reply is sent.
        .layer(grpc::connections::TrackLayer)
        .layer(tower::util::MapResponseLayer::new(
            grpc::limits::rewrite_status,
        ))
        .layer(grpc::access::AuthLayer::new(tokens))
        .layer(grpc::fresh::FreshLayer::new(&scheduler))
        .layer(grpc::sizes::SizeLayer)
        .add_routes(routes);
    let connections = grpc::limits::incoming(listener, limits);
    // One stream type either way: the server's connection code is then compiled once.
    let connections: std::pin::Pin<
        Box<dyn tokio_stream::Stream<Item = std::io::Result<grpc::limits::Limited>> + Send>,
    > = match acceptor {
        Some(acceptor) => Box::pin(grpc::tls::incoming(connections, acceptor)),
        None => Box::pin(connections),
    };
    router
        .serve_with_incoming_shutdown(connections, shutdown)
        .await?;
    scheduler.step_down().await;
    blocking(move || scheduler.flush())
        .await
        .map_err(ServeError::Flush)?;
    tracing::info!("entente stopped; store flushed");
    Ok(())
}

/// Reads the tokens of `path` again on every SIGHUP and puts them in force: new calls
/// authenticate against them at once, and change feed streams whose token is gone (or
/// expired) end UNAUTHENTICATED at their next progress message. A file that cannot be read
/// or parsed keeps the tokens in force, and says why.
#[cfg(unix)]
fn reload_on_hangup(path: PathBuf, tokens: grpc::access::Tokens) {
    let mut hangups = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup()) {
        Ok(h) => h,
        Err(e) => {
            tracing::warn!(error = %e, "cannot listen for SIGHUP; tokens will not be reloaded");
            return;
        }
    };
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            match config::load(&path) {
                Ok(c) if c.access.enabled() || !tokens.current().enabled() => {
                    tokens.replace(c.access);
                    tracing::info!(file = %path.display(), "tokens reloaded");
                }
                Ok(_) => tracing::warn!(
                    file = %path.display(),
                    "not reloaded: the file now configures no tokens, which would turn access \
                     control off; restart the server to do that"
                ),
                Err(e) => tracing::warn!(error = %e, "not reloaded; the tokens in force stay"),
            }
        }
    });
}

/// Locks `m`, also when a panic poisoned it: nothing in this crate panics while holding
/// one of its mutexes with a change half made, so what it guards is still consistent.
pub(crate) fn lock<T>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Runs blocking work (store open, compaction, flushes, reads that go to disk) on tokio's
/// blocking pool, so that it never holds an async worker (with `--workers 1`, the whole
/// server). A panic in it is the caller's; a runtime shutting down is [`Error::ShuttingDown`].
pub(crate) async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r,
        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
        Err(_) => Err(Error::ShuttingDown),
    }
}
