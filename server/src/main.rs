//! `entente-server`: parses flags, sets up logging, binds, and runs [`entente_server::serve`].

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;

use anyhow::Context;
use clap::Parser;
use tracing_subscriber::EnvFilter;

/// mimalloc instead of the system allocator: a served call allocates and frees dozens of
/// small buffers (HTTP/2 frames, messages, strings), and in interleaved runs it gave ~3%
/// more conflict checks and ~11% more bookings per second (bench/README.md).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The entente scheduling server.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, env = "ENTENTE_LISTEN", default_value = "127.0.0.1:50051")]
    listen: SocketAddr,
    /// Folder for the embedded sled store (created if missing).
    #[arg(long, env = "ENTENTE_DATA_DIR", default_value = "./entente-data")]
    data_dir: PathBuf,
    /// A PostgreSQL store shared by several servers (`postgres://user@host/db`), instead
    /// of the sled folder. The schema is migrated at start.
    #[arg(long, env = "ENTENTE_STORE", global = true, value_parser = postgres_url)]
    store: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
    /// Configuration file (TOML): offices and hashed bearer tokens, limits, travel, the
    /// sweep and the store (see the README). Without tokens, access control is off and the
    /// server only listens on loopback.
    #[arg(long, env = "ENTENTE_CONFIG", global = true)]
    config: Option<PathBuf>,
    /// Threads serving requests (default: one per core). Fewer leave cores to other
    /// programs on the same machine, as the benchmark's load generator does; with 1 the
    /// server runs on tokio's single-threaded scheduler.
    #[arg(long, env = "ENTENTE_WORKERS", value_parser = clap::value_parser!(u16).range(1..))]
    workers: Option<u16>,
    /// Serve without access control on a non-loopback address (anyone who can reach it
    /// can read and change everything). The variable takes 1/0, true/false, yes/no, on/off.
    #[arg(
        long,
        env = "ENTENTE_ALLOW_ANONYMOUS",
        action = clap::ArgAction::SetTrue,
        value_parser = clap::builder::BoolishValueParser::new()
    )]
    allow_anonymous: bool,
    /// TLS certificate chain (PEM); with --tls-key, serves TLS only.
    #[arg(long, env = "ENTENTE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, env = "ENTENTE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// CA (PEM) whose certificates clients must present (mutual TLS).
    #[arg(long, env = "ENTENTE_TLS_CLIENT_CA", requires = "tls_cert")]
    tls_client_ca: Option<PathBuf>,
}

#[derive(Debug, clap::Subcommand)]
enum Command {
    /// Applies the PostgreSQL schema migrations this binary carries, then exits (servers
    /// also apply them at start; running it first keeps a rollout's servers from waiting
    /// on each other).
    Migrate,
}

/// `--store` takes a PostgreSQL URL; the sled folder is `--data-dir`.
fn postgres_url(s: &str) -> Result<String, String> {
    if s.starts_with("postgres://") || s.starts_with("postgresql://") {
        Ok(s.to_string())
    } else {
        Err("expected a postgres:// URL (the embedded sled store is chosen with --data-dir)".into())
    }
}

fn main() -> std::process::ExitCode {
    // Errors are printed once, plainly (the chain of causes, no backtrace).
    let args = Args::parse();
    // One thread: tokio's current-thread scheduler, which skips the work-stealing machinery
    // a one-worker pool still pays for (per task: the shared queues' atomics, the
    // idle-worker bookkeeping). Measured: +10% conflict checks and a lower p99
    // (bench/README.md).
    let mut runtime = if args.workers == Some(1) {
        tokio::runtime::Builder::new_current_thread()
    } else {
        tokio::runtime::Builder::new_multi_thread()
    };
    if let Some(n) = args.workers.filter(|&n| n > 1) {
        runtime.worker_threads(n.into());
    }
    let outcome = runtime
        .enable_all()
        .build()
        .map_err(anyhow::Error::from)
        .and_then(|rt| rt.block_on(run(args)));
    match outcome {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("entente-server: {}", reasons(&e));
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
        )
        // Escape codes only for a person at a terminal, never in a log file or a pipe.
        .with_ansi(std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none())
        .init();
    let loaded = match &args.config {
        Some(path) => Some(entente_server::config::load(path)?),
        None => None,
    };
    let (access, settings, limits, file_store) = match loaded {
        Some(c) => (c.access, c.settings, c.limits, c.store),
        None => Default::default(),
    };
    if let Some(Command::Migrate) = args.command {
        let url = args.store.clone().or(file_store.clone()).context(
            "migrate needs --store postgres://… (or ENTENTE_STORE, or [storage] postgres)",
        )?;
        let db = entente_server::storage::postgres::Postgres::new(&url, 1)?;
        let applied = db.migrate().await?;
        let latest = entente_server::storage::postgres::MIGRATIONS
            .last()
            .map_or(0, |m| m.0);
        if applied.is_empty() {
            println!("schema already at version {latest}");
        } else {
            println!("applied schema versions {applied:?}; now at version {latest}");
        }
        return Ok(());
    }
    // Why access control is off, in the words that would make its owner notice.
    let off = match &args.config {
        Some(path) => format!("{} configures no tokens", path.display()),
        None => "no --config".to_string(),
    };
    if access.enabled() {
        tracing::info!("access control is on: bearer tokens required");
    } else if args.listen.ip().is_loopback() {
        tracing::warn!(
            "access control is OFF ({off}): every caller is an administrator; loopback only"
        );
    } else if args.allow_anonymous {
        tracing::warn!(listen = %args.listen, "access control is OFF on a non-loopback address (--allow-anonymous)");
    } else {
        // Like Redis's protected mode: an open scheduler must not be reachable by accident.
        anyhow::bail!(
            "refusing to serve {} without access control ({off}): give --config with tokens, \
             listen on loopback, or pass --allow-anonymous",
            args.listen
        );
    }
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let read =
        |p: &PathBuf| std::fs::read(p).with_context(|| format!("cannot read {}", p.display()));
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(entente_server::Tls {
            cert: read(cert)?,
            key: read(key)?,
            client_ca: args.tls_client_ca.as_ref().map(read).transpose()?,
        }),
        _ => None,
    };
    let config = entente_server::Config {
        data_dir: args.data_dir,
        // The flag (or ENTENTE_STORE) over the file's [storage] postgres.
        store: args.store.or(file_store),
        settings,
        limits,
        reload_from: args.config.clone().filter(|_| access.enabled()),
        access,
        tls,
    };
    let shutdown = shutdown_signal()?;
    entente_server::serve(listener, config, shutdown).await?;
    Ok(())
}

/// Completes on SIGINT or SIGTERM. The handlers are installed before this returns, so a
/// signal that arrives while the store is still opening is not lost (nor fatal).
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("cannot listen for SIGTERM")?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .context("cannot listen for SIGINT")?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! {
            _ = term.recv() => {},
            _ = int.recv() => {},
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down: finishing in-flight calls");
    })
}

/// An error and its causes on one line, each said once: most of our errors already quote
/// their cause, which anyhow's `{:#}` would print again after them.
fn reasons(e: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !line.contains(&text) {
            if !line.is_empty() {
                line.push_str(": ");
            }
            line.push_str(&text);
        }
    }
    line
}
