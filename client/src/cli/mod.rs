//! The `entente` command line: global options, the command tree, and the one place where
//! errors become exit codes.
//!
//! Exit codes: 0 success; 1 the server refused the request; 2 usage error; 3 cannot reach
//! the server; 4 refused because of a scheduling conflict.

mod audit;
mod calendar;
mod directory;
mod events;
mod ics;
mod output;
mod proposals;
mod watch;
mod window;

use std::io::{self, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};
use entente_client::Client;
use tonic::Code;
use tonic_types::StatusExt;

pub use output::Out;

/// Schedule summits, bilateral meetings, visits and signings with an entente server.
///
/// Exit codes: 0 ok; 1 the server refused the request; 2 usage error; 3 cannot reach the
/// server; 4 refused because of a scheduling conflict.
#[derive(Debug, Parser)]
#[command(name = "entente", version, about, long_about)]
pub struct Cli {
    /// Server address.
    #[arg(
        long,
        global = true,
        env = "ENTENTE_SERVER",
        default_value = "http://127.0.0.1:50051"
    )]
    pub server: String,
    /// Bearer token for servers with access control.
    #[arg(long, global = true, env = "ENTENTE_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Output format: aligned tables for people, or stable JSON for scripts.
    #[arg(long, global = true, value_enum, default_value_t = Format::Table)]
    pub output: Format,
    /// CA certificate (PEM) to trust for an https:// server.
    #[arg(long, global = true, env = "ENTENTE_CA_FILE")]
    pub ca_file: Option<std::path::PathBuf>,
    /// Client certificate (PEM), for servers that require mutual TLS.
    #[arg(long, global = true, env = "ENTENTE_TLS_CERT", requires = "tls_key")]
    pub tls_cert: Option<std::path::PathBuf>,
    /// Client private key (PEM).
    #[arg(long, global = true, env = "ENTENTE_TLS_KEY", requires = "tls_cert")]
    pub tls_key: Option<std::path::PathBuf>,
    /// Show every time also in this IANA zone (e.g. Asia/Tehran).
    #[arg(long, global = true, value_name = "ZONE", value_parser = iana_zone)]
    pub tz: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

/// Output formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned tables.
    Table,
    /// One JSON object, or an array, in the proto3 JSON mapping.
    Json,
}

/// Commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Countries (ISO 3166-1 alpha-2).
    #[command(subcommand)]
    Country(directory::CountryCmd),
    /// Heads of state and government, ministers, delegations.
    #[command(subcommand)]
    Participant(directory::ParticipantCmd),
    /// Venues and their time zones.
    #[command(subcommand)]
    Venue(directory::VenueCmd),
    /// Forums such as BRICS or the SCO.
    #[command(subcommand)]
    Forum(directory::ForumCmd),
    /// Summits, meetings, visits and signings.
    #[command(subcommand)]
    Event(events::EventCmd),
    /// Conflict checks and free/busy.
    #[command(subcommand, name = "conflicts")]
    Conflicts(events::ConflictCmd),
    /// Invitations, meeting requests and agreements.
    #[command(subcommand)]
    Proposal(proposals::ProposalCmd),
    /// The audit log: who wrote what (ADMIN tokens).
    #[command(subcommand)]
    Audit(audit::AuditCmd),
    /// Find the times at which participants can meet: free, in each one's working hours
    /// where they will be, on working days, with time to travel.
    FindTime(Box<calendar::FindTimeArgs>),
    /// Each country's work week and holidays.
    #[command(subcommand)]
    Calendar(calendar::CalendarCmd),
    /// Write a calendar as iCalendar (.ics) for Outlook or Google, on stdout.
    Export(Box<ics::ExportArgs>),
    /// Create or update events from an iCalendar (.ics) file (matched by UID).
    Import(Box<ics::ImportArgs>),
    /// Subscription URLs that Outlook and Google Calendar poll.
    #[command(subcommand)]
    Feed(ics::FeedCmd),
    /// Follow the change feed: one line per change your office may see, until
    /// interrupted (JSON lines with --output json).
    Watch(watch::WatchArgs),
    /// Print a shell completion script.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

/// Everything that can end a command.
#[derive(Debug)]
pub enum Failure {
    /// Bad arguments (exit 2).
    Usage(String),
    /// No server (exit 3).
    Connect(String),
    /// The server said no (exit 1, or 4 for conflicts).
    Status(tonic::Status),
    /// Writing the output failed.
    Io(io::Error),
}

impl From<tonic::Status> for Failure {
    fn from(s: tonic::Status) -> Failure {
        Failure::Status(s)
    }
}

impl From<io::Error> for Failure {
    fn from(e: io::Error) -> Failure {
        Failure::Io(e)
    }
}

/// A command's result.
pub type Res = Result<(), Failure>;

/// `--tz`: a zone this binary knows, checked before any call (a usage error, exit 2).
fn iana_zone(s: &str) -> Result<String, String> {
    s.parse::<chrono_tz::Tz>()
        .map(|_| s.to_string())
        .map_err(|_| {
            format!("{s:?} is not an IANA time zone (for example Europe/Moscow or Asia/Tehran)")
        })
}

/// Every item of a paginated listing: `fetch(page_token)` returns one page's items and
/// the next token, which is empty on the last page.
pub async fn every_page<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, tonic::Status>
where
    F: FnMut(String) -> Fut,
    Fut: std::future::Future<Output = Result<(Vec<T>, String), tonic::Status>>,
{
    let mut all = Vec::new();
    let mut token = String::new();
    loop {
        let (items, next) = fetch(token).await?;
        all.extend(items);
        if next.is_empty() {
            return Ok(all);
        }
        token = next;
    }
}

/// Parses arguments, runs the command, maps the outcome to an exit code.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start: {e}");
            return ExitCode::from(1);
        }
    };
    let result = runtime.block_on(run(cli));
    exit(result)
}

async fn run(cli: Cli) -> Res {
    let out = Out::new(cli.output == Format::Json, cli.tz.clone());
    if let Command::Completions { shell } = cli.command {
        let mut cmd = <Cli as clap::CommandFactory>::command();
        // clap_complete panics when its writer fails, so the script is built in memory and
        // written here, where a closed pipe (`entente completions bash | head`) is no error.
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut cmd, "entente", &mut script);
        io::stdout().lock().write_all(&script)?;
        return Ok(());
    }
    let read = |p: &std::path::PathBuf| {
        std::fs::read(p).map_err(|e| Failure::Usage(format!("cannot read {}: {e}", p.display())))
    };
    let tls = entente_client::TlsOptions {
        ca: cli.ca_file.as_ref().map(read).transpose()?,
        identity: match (&cli.tls_cert, &cli.tls_key) {
            (Some(c), Some(k)) => Some((read(c)?, read(k)?)),
            _ => None,
        },
    };
    let mut client = Client::connect_tls(&cli.server, &tls)
        .await
        .map_err(|e| match e {
            entente_client::ClientError::BadAddress(_) | entente_client::ClientError::Tls(_) => {
                Failure::Usage(e.to_string())
            }
            _ => Failure::Connect(e.to_string()),
        })?;
    if let Some(t) = &cli.token {
        client = client
            .with_token(t)
            .map_err(|e| Failure::Usage(e.to_string()))?;
    }
    let tz = cli.tz.clone().unwrap_or_default();
    match cli.command {
        Command::Country(c) => directory::country(&client, &out, c).await,
        Command::Participant(c) => directory::participant(&client, &out, c).await,
        Command::Venue(c) => directory::venue(&client, &out, c).await,
        Command::Forum(c) => directory::forum(&client, &out, c).await,
        Command::Event(c) => events::event(&client, &out, &tz, c).await,
        Command::Conflicts(c) => events::conflicts(&client, &out, &tz, c).await,
        Command::Proposal(c) => proposals::proposal(&client, &out, c).await,
        Command::Audit(c) => audit::audit(&client, &out, c).await,
        Command::Watch(a) => watch::watch(&client, &out, &tz, a).await,
        Command::FindTime(a) => calendar::find_time(&client, &out, &tz, *a).await,
        Command::Calendar(c) => calendar::calendar(&client, &out, c).await,
        Command::Export(a) => ics::export(&client, &out, &tz, *a).await,
        Command::Import(a) => ics::import(&client, &out, *a).await,
        Command::Feed(c) => ics::feed(&client, &out, &cli.server, c).await,
        Command::Completions { .. } => Ok(()),
    }
}

fn exit(result: Res) -> ExitCode {
    let err = match result {
        Ok(()) => return ExitCode::SUCCESS,
        Err(e) => e,
    };
    let mut stderr = io::stderr().lock();
    let code = match err {
        // A closed pipe (`entente event list | head`) is not a failure.
        Failure::Io(e) if e.kind() == io::ErrorKind::BrokenPipe => return ExitCode::SUCCESS,
        Failure::Io(e) => {
            let _ = writeln!(stderr, "error: {e}");
            1
        }
        Failure::Usage(m) => {
            let _ = writeln!(stderr, "error: {m}");
            2
        }
        Failure::Connect(m) => {
            let _ = writeln!(stderr, "error: {m}");
            3
        }
        Failure::Status(s) => {
            let conflict = print_status(&mut stderr, &s);
            match s.code() {
                Code::Unavailable
                    if s.message().contains("connect") || s.message().contains("transport") =>
                {
                    3
                }
                _ if conflict => 4,
                _ => 1,
            }
        }
    };
    ExitCode::from(code)
}

/// Prints the server's message and its details plainly; returns whether it was a conflict.
fn print_status(w: &mut impl Write, s: &tonic::Status) -> bool {
    let _ = writeln!(w, "error: {} ({})", s.message(), code_name(s.code()));
    if let Some(b) = s.get_details_bad_request() {
        for v in b.field_violations {
            let _ = writeln!(w, "  - {}: {}", v.field, v.description);
        }
    }
    let mut conflict = false;
    if let Some(p) = s.get_details_precondition_failure() {
        for v in p.violations {
            conflict |= v.r#type.ends_with("_CONFLICT");
            let _ = writeln!(w, "  - [{}] {}: {}", v.r#type, v.subject, v.description);
        }
    }
    conflict
}

fn code_name(c: Code) -> &'static str {
    match c {
        Code::InvalidArgument => "INVALID_ARGUMENT",
        Code::NotFound => "NOT_FOUND",
        Code::AlreadyExists => "ALREADY_EXISTS",
        Code::FailedPrecondition => "FAILED_PRECONDITION",
        Code::Aborted => "ABORTED",
        Code::Unauthenticated => "UNAUTHENTICATED",
        Code::PermissionDenied => "PERMISSION_DENIED",
        Code::ResourceExhausted => "RESOURCE_EXHAUSTED",
        Code::Unavailable => "UNAVAILABLE",
        Code::Unimplemented => "UNIMPLEMENTED",
        Code::DeadlineExceeded => "DEADLINE_EXCEEDED",
        _ => "INTERNAL",
    }
}

/// A usage error from a message.
pub fn usage(m: impl Into<String>) -> Failure {
    Failure::Usage(m.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_tree_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn parses_the_readme_style_event_create() {
        let cli = Cli::try_parse_from([
            "entente",
            "event",
            "create",
            "--kind",
            "bilateral-meeting",
            "--title",
            "Talks",
            "--venue",
            "ashgabat-congress",
            "--start",
            "2024-10-11T11:00",
            "--end",
            "2024-10-11T12:30",
            "--participant",
            "putin",
            "--participant",
            "pezeshkian",
            "--sidelines",
            "ashgabat-forum-2024",
        ])
        .expect("parses");
        assert!(matches!(
            cli.command,
            Command::Event(events::EventCmd::Create(_))
        ));
        for bad in [
            vec![
                "entente", "event", "create", "--kind", "picnic", "--title", "x", "--venue", "v",
            ],
            vec!["entente", "--output", "yaml", "country", "list"],
            vec!["entente", "event", "frobnicate"],
        ] {
            assert!(Cli::try_parse_from(bad.clone()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn every_page_follows_the_tokens_to_the_last_page() {
        let pages = [("", "t1", 1..3), ("t1", "t2", 3..5), ("t2", "", 5..6)];
        let mut asked = Vec::new();
        let runtime = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        let all = runtime
            .block_on(every_page(|token: String| {
                asked.push(token.clone());
                let page = pages.iter().find(|p| p.0 == token).cloned();
                async move {
                    let (_, next, items) = page.expect("a token it was given");
                    Ok((items.collect::<Vec<_>>(), next.to_string()))
                }
            }))
            .expect("pages");
        assert_eq!(all, vec![1, 2, 3, 4, 5]);
        assert_eq!(asked, vec!["", "t1", "t2"]);
    }
}
