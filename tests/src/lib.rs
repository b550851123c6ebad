//! The harness for end-to-end tests: a real entente server on `127.0.0.1:0`, reached over
//! gRPC. The listener is bound before the server task starts, so clients connect at once,
//! with no sleeps.

pub mod postgres;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use entente_proto::v1::audit_service_client::AuditServiceClient;
use entente_proto::v1::calendar_service_client::CalendarServiceClient;
use entente_proto::v1::change_service_client::ChangeServiceClient;
use entente_proto::v1::conflict_service_client::ConflictServiceClient;
use entente_proto::v1::directory_service_client::DirectoryServiceClient;
use entente_proto::v1::event_service_client::EventServiceClient;
use entente_proto::v1::i_calendar_service_client::ICalendarServiceClient;
use entente_proto::v1::proposal_service_client::ProposalServiceClient;
use entente_server::{Config, ManualClock, Settings};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tonic::transport::{Channel, Endpoint};

/// Which store the servers of this test binary run on: PostgreSQL in the binaries named
/// `pg_…` (the same test files, compiled a second time; see `tests/Cargo.toml`), sled in
/// the others.
pub fn on_postgres() -> bool {
    static PG: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *PG.get_or_init(|| {
        let named = std::env::current_exe()
            .ok()
            .and_then(|p| {
                p.file_name()
                    .map(|n| n.to_string_lossy().starts_with("pg_"))
            })
            .unwrap_or(false);
        if !named {
            return false;
        }
        postgres::cluster_or_say("the PostgreSQL variant of these tests runs on sled").is_some()
    })
}

/// The database a server on `data_dir` uses in the PostgreSQL variant (one per folder,
/// so a server restarted on its folder finds its records); `None` on sled.
pub async fn shared_store_for(data_dir: &Path) -> Option<String> {
    if !on_postgres() {
        return None;
    }
    let cluster = postgres::cluster()?;
    // A name PostgreSQL accepts (63 bytes), unique per folder.
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in data_dir.as_os_str().as_encoded_bytes() {
        hash = (hash ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3);
    }
    Some(cluster.database(&format!("t{hash:016x}")).await)
}

/// `n` servers sharing one fresh PostgreSQL database, each on its own port, as a load
/// balancer would spread clients over them, and the database's connection string. `None` when this machine has no PostgreSQL
/// (said on stderr; a failure under `ENTENTE_REQUIRE_POSTGRES`).
pub async fn servers_sharing_a_database(
    n: usize,
    config: Config,
) -> Option<(Vec<TestServer>, String)> {
    let cluster = postgres::cluster_or_say("this cross-server test is skipped")?;
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let name = format!(
        "shared_{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst)
    );
    let url = cluster.database(&name).await;
    let mut servers = Vec::new();
    for _ in 0..n {
        servers.push(
            TestServer::start_config(Config {
                store: Some(url.clone()),
                ..config.clone()
            })
            .await,
        );
    }
    Some((servers, url))
}

/// The `entente-server` binary beside this test binary (`cargo test --workspace` builds
/// it with the server package's tests).
pub fn server_binary() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    let bin = exe
        .parent()
        .and_then(Path::parent)
        .map(|dir| dir.join(format!("entente-server{}", std::env::consts::EXE_SUFFIX)))
        .expect("target folder");
    assert!(
        bin.exists(),
        "{} is missing: run the workspace's tests (cargo test --workspace), or cargo build -p entente-server",
        bin.display()
    );
    bin
}

/// The real `entente-server` binary on `127.0.0.1:0` with two workers and `args`, once
/// it serves: the process (killed when dropped), its address, and the lines of its log
/// that follow (stdout, `RUST_LOG=info`), for a test to wait on.
pub async fn spawn_server<I, S>(
    args: I,
) -> (
    tokio::process::Child,
    SocketAddr,
    tokio::sync::mpsc::UnboundedReceiver<String>,
)
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    use tokio::io::AsyncBufReadExt;
    let mut server = tokio::process::Command::new(server_binary())
        .args(["--listen", "127.0.0.1:0", "--workers", "2"])
        .args(args)
        .env("RUST_LOG", "info")
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn entente-server");
    let mut lines = tokio::io::BufReader::new(server.stdout.take().expect("stdout")).lines();
    let addr = loop {
        let line = lines
            .next_line()
            .await
            .expect("read log")
            .expect("the server exited before serving");
        if let Some(rest) = line.split("entente is serving addr=").nth(1) {
            break rest.trim().parse().expect("address");
        }
    };
    let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            let _ = tx.send(line);
        }
    });
    (server, addr, rx)
}

/// The batches of a watch until a progress message reports `revision` or later; each
/// message must come within ten seconds.
pub async fn batches_through(
    s: &mut tonic::Streaming<entente_proto::v1::WatchChangesResponse>,
    revision: i64,
) -> Vec<entente_proto::v1::ChangeBatch> {
    use entente_proto::v1::watch_changes_response::Message;
    let mut out = Vec::new();
    loop {
        let m = tokio::time::timeout(std::time::Duration::from_secs(10), s.message())
            .await
            .expect("the watch keeps talking")
            .expect("ok")
            .expect("open");
        match m.message {
            Some(Message::Batch(b)) => out.push(b),
            Some(Message::Progress(p)) if p.revision >= revision => return out,
            _ => {}
        }
    }
}

/// A running server and a channel to it.
#[derive(Debug)]
pub struct TestServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// A connected channel.
    pub channel: Channel,
    /// Its data folder.
    pub data_dir: PathBuf,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), entente_server::ServeError>>>,
    _temp: Option<tempfile::TempDir>,
}

impl TestServer {
    /// A server on a fresh temporary store.
    pub async fn start() -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let mut s = TestServer::start_in(temp.path(), Settings::default()).await;
        s._temp = Some(temp);
        s
    }

    /// A server on a fresh temporary store whose clock only moves when the test says.
    pub async fn start_with_clock(clock: &ManualClock) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let settings = Settings {
            clock: clock.clock(),
            ..Settings::default()
        };
        let mut s = TestServer::start_in(temp.path(), settings).await;
        s._temp = Some(temp);
        s
    }

    /// A server on a fresh temporary store with this access control.
    pub async fn start_with_access(access: entente_server::auth::Access) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: temp.path().to_path_buf(),
            access,
            ..Config::default()
        };
        let mut s = TestServer::start_config(config).await;
        s._temp = Some(temp);
        s
    }

    /// A server on a fresh temporary store with this access control and these settings.
    pub async fn start_with_access_and(
        access: entente_server::auth::Access,
        settings: Settings,
    ) -> TestServer {
        let temp = tempfile::tempdir().expect("temp dir");
        let config = Config {
            data_dir: temp.path().to_path_buf(),
            access,
            settings,
            ..Config::default()
        };
        let mut s = TestServer::start_config(config).await;
        s._temp = Some(temp);
        s
    }

    /// A server on the store in `dir` (kept after the server stops).
    pub async fn start_in(dir: &Path, settings: Settings) -> TestServer {
        TestServer::start_config(Config {
            data_dir: dir.to_path_buf(),
            settings,
            ..Config::default()
        })
        .await
    }

    /// A server with a full configuration whose channel connects only when first used
    /// (for TLS servers, which the harness's plaintext channel cannot reach).
    pub async fn start_config_lazy(mut config: Config) -> TestServer {
        if config.store.is_none()
            && let Some(url) = shared_store_for(&config.data_dir).await
        {
            config.store = Some(url);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let dir = config.data_dir.clone();
        let task = tokio::spawn(entente_server::serve(listener, config, async {
            let _ = stopped.await;
        }));
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect_lazy();
        TestServer {
            addr,
            channel,
            data_dir: dir,
            stop: Some(stop),
            task: Some(task),
            _temp: None,
        }
    }

    /// Serves a scheduler the test holds too (to run its sweep, say), with default limits
    /// and no access control.
    pub async fn serving(scheduler: entente_server::Scheduler) -> TestServer {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind an ephemeral port");
        let addr = listener.local_addr().expect("local addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = tokio::spawn(entente_server::serve_scheduler(
            listener,
            scheduler,
            async {
                let _ = stopped.await;
            },
        ));
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .expect("endpoint")
            .connect()
            .await
            .expect("connect");
        TestServer {
            addr,
            channel,
            data_dir: PathBuf::new(),
            stop: Some(stop),
            task: Some(task),
            _temp: None,
        }
    }

    /// Keeps `dir` alive as long as the server (it is deleted with it).
    pub fn own_dir(&mut self, dir: tempfile::TempDir) {
        self._temp = Some(dir);
    }

    /// A server with a full configuration.
    pub async fn start_config(config: Config) -> TestServer {
        let mut s = TestServer::start_config_lazy(config).await;
        s.channel = match Endpoint::from_shared(format!("http://{}", s.addr))
            .expect("endpoint")
            .connect()
            .await
        {
            Ok(c) => c,
            // Say why the server died rather than that the connection was reset.
            Err(e) => match s.task.take() {
                Some(task) if task.is_finished() => {
                    panic!("the server did not start: {:?} ({e})", task.await)
                }
                _ => panic!("cannot connect to the test server: {e}"),
            },
        };
        s
    }

    /// Stops the server gracefully and waits until its store is flushed; returns the data
    /// folder's owner so a test can restart on it.
    pub async fn stop(mut self) -> Option<tempfile::TempDir> {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
        if let Some(t) = self.task.take() {
            t.await
                .expect("server task")
                .expect("server stopped cleanly");
        }
        self._temp.take()
    }

    /// A directory client.
    pub fn directory(&self) -> DirectoryServiceClient<Channel> {
        DirectoryServiceClient::new(self.channel.clone())
    }

    /// An event client.
    pub fn events(&self) -> EventServiceClient<Channel> {
        EventServiceClient::new(self.channel.clone())
    }

    /// A conflict client.
    pub fn conflicts(&self) -> ConflictServiceClient<Channel> {
        ConflictServiceClient::new(self.channel.clone())
    }

    /// A proposal client.
    pub fn proposals(&self) -> ProposalServiceClient<Channel> {
        ProposalServiceClient::new(self.channel.clone())
    }

    /// A change feed client.
    pub fn changes(&self) -> ChangeServiceClient<Channel> {
        ChangeServiceClient::new(self.channel.clone())
    }

    /// A calendar (working calendars, slot finder) client.
    pub fn calendars(&self) -> CalendarServiceClient<Channel> {
        CalendarServiceClient::new(self.channel.clone())
    }

    /// An iCalendar (export, import, feeds) client.
    pub fn ics(&self) -> ICalendarServiceClient<Channel> {
        ICalendarServiceClient::new(self.channel.clone())
    }

    /// A plain HTTP/1.1 GET of `path` on the server's port with extra `headers`, as a
    /// calendar app sends it: the status, the response headers (names lowercase) and the
    /// body.
    pub async fn http_get(
        &self,
        path: &str,
        headers: &[(&str, &str)],
    ) -> (u16, Vec<(String, String)>, String) {
        http_get(self.addr, path, headers).await
    }

    /// Clients that send `token` as a bearer token.
    pub fn as_token(&self, token: &str) -> Authed {
        Authed::new(&self.channel, token)
    }
}

/// [`TestServer::http_get`] of a server at `addr` (one the test spawned as a process).
pub async fn http_get(
    addr: SocketAddr,
    path: &str,
    headers: &[(&str, &str)],
) -> (u16, Vec<(String, String)>, String) {
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut s = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let mut req = format!(
            "GET {path} HTTP/1.1\r\nHost: {addr}\r\nUser-Agent: test-calendar\r\nConnection: close\r\n"
        );
        for (k, v) in headers {
            req += &format!("{k}: {v}\r\n");
        }
        req += "\r\n";
        s.write_all(req.as_bytes()).await.expect("send");
        let mut raw = Vec::new();
        s.read_to_end(&mut raw).await.expect("read");
        let raw = String::from_utf8_lossy(&raw).to_string();
        let (head, body) = raw.split_once("\r\n\r\n").unwrap_or((&raw, ""));
        let mut lines = head.split("\r\n");
        let status = lines
            .next()
            .and_then(|l| l.split(' ').nth(1))
            .and_then(|c| c.parse().ok())
            .unwrap_or(0);
        let headers: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
            .collect();
        let chunked = headers
            .iter()
            .any(|(k, v)| k == "transfer-encoding" && v.contains("chunked"));
        let body = if chunked {
            dechunk(body)
        } else {
            body.to_string()
        };
        (status, headers, body)
    }
}

/// Adds a bearer token to every call.
#[derive(Debug, Clone)]
pub struct Bearer(tonic::metadata::AsciiMetadataValue);

impl tonic::service::Interceptor for Bearer {
    fn call(&mut self, mut req: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        req.metadata_mut().insert("authorization", self.0.clone());
        Ok(req)
    }
}

type Svc = tonic::service::interceptor::InterceptedService<Channel, Bearer>;

/// One caller's clients.
#[derive(Debug, Clone)]
pub struct Authed {
    /// Directory.
    pub directory: DirectoryServiceClient<Svc>,
    /// Events.
    pub events: EventServiceClient<Svc>,
    /// Conflicts.
    pub conflicts: ConflictServiceClient<Svc>,
    /// Proposals.
    pub proposals: ProposalServiceClient<Svc>,
    /// Audit log.
    pub audit: AuditServiceClient<Svc>,
    /// Change feed.
    pub changes: ChangeServiceClient<Svc>,
    /// Working calendars and the slot finder.
    pub calendars: CalendarServiceClient<Svc>,
    /// iCalendar export, import and feeds.
    pub ics: ICalendarServiceClient<Svc>,
}

impl Authed {
    /// Clients on `channel` that send `token` as a bearer token.
    pub fn new(channel: &Channel, token: &str) -> Authed {
        let bearer = Bearer(format!("Bearer {token}").parse().expect("ascii token"));
        let channel = channel.clone();
        Authed {
            directory: DirectoryServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            events: EventServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            conflicts: ConflictServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            proposals: ProposalServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            audit: AuditServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            changes: ChangeServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            calendars: CalendarServiceClient::with_interceptor(channel.clone(), bearer.clone()),
            ics: ICalendarServiceClient::with_interceptor(channel, bearer),
        }
    }
}

/// A chunked HTTP/1.1 body, joined.
fn dechunk(mut s: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = s.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out += &rest[..n];
        s = rest[n..].trim_start_matches("\r\n");
    }
    out
}

impl TestServer {}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(s) = self.stop.take() {
            let _ = s.send(());
        }
    }
}

/// Offices and their tokens, for tests of access control: each token's secret is
/// `secret-<name>`, and only its digest is configured.
pub mod offices {
    use entente_proto::v1 as pb;
    use entente_server::auth::{Access, digest};

    use crate::{Authed, TestServer};

    /// An access file with `tokens` (name, office, role) and the BRICS secretariat office;
    /// `extra` is appended (more `[[offices]]` entries).
    pub fn access(tokens: &[(&str, &str, &str)], extra: &str) -> Access {
        let mut text = String::from(
            "[[offices]]\nid = \"brics-secretariat\"\nsecretariat_of = [\"brics\"]\n\n",
        );
        text += extra;
        for (name, office, role) in tokens {
            text += &format!(
                "[[tokens]]\nname = \"{name}\"\nsha256 = \"{}\"\noffice = \"{office}\"\nrole = \"{role}\"\n\n",
                digest(&format!("secret-{name}"))
            );
        }
        Access::parse(&text).expect("access file")
    }

    /// The clients of token `name`.
    pub fn as_(server: &TestServer, name: &str) -> Authed {
        server.as_token(&format!("secret-{name}"))
    }

    /// Registers a participant as `a`.
    pub async fn participant(a: &mut Authed, id: &str, country: &str, zone: &str) {
        a.directory
            .create_participant(pb::CreateParticipantRequest {
                participant: Some(pb::Participant {
                    display_name: id.into(),
                    country_code: country.into(),
                    home_time_zone: zone.into(),
                    ..Default::default()
                }),
                participant_id: id.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("participant {id}: {e:?}"));
    }

    /// Registers a venue as `a`; `at` is (latitude, longitude).
    pub async fn venue(
        a: &mut Authed,
        id: &str,
        city: &str,
        country: &str,
        zone: &str,
        at: Option<(f64, f64)>,
    ) {
        a.directory
            .create_venue(pb::CreateVenueRequest {
                venue: Some(pb::Venue {
                    display_name: id.into(),
                    city: city.into(),
                    country_code: country.into(),
                    time_zone: zone.into(),
                    location: at.map(|(latitude, longitude)| pb::LatLng {
                        latitude,
                        longitude,
                    }),
                    ..Default::default()
                }),
                venue_id: id.into(),
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("venue {id}: {e:?}"));
    }
}

/// Builders and the article's directory, shared by the test files.
pub mod fixtures {
    use entente_proto::v1 as pb;
    use tonic::transport::Channel;

    use entente_proto::v1::directory_service_client::DirectoryServiceClient;
    use entente_proto::v1::event_service_client::EventServiceClient;

    /// Kazan, venue of the BRICS summit.
    pub const KAZAN: (f64, f64) = (55.7963, 49.1088);
    /// Ashgabat, venue of the conference.
    pub const ASHGABAT: (f64, f64) = (37.9601, 58.3261);
    /// Moscow.
    pub const MOSCOW: (f64, f64) = (55.7558, 37.6173);

    /// Registers a participant.
    pub async fn participant(
        dir: &mut DirectoryServiceClient<Channel>,
        id: &str,
        name: &str,
        country: &str,
        zone: &str,
    ) {
        dir.create_participant(pb::CreateParticipantRequest {
            participant: Some(pb::Participant {
                display_name: name.into(),
                role: pb::ParticipantRole::HeadOfState as i32,
                country_code: country.into(),
                home_time_zone: zone.into(),
                ..Default::default()
            }),
            participant_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("create participant");
    }

    /// Registers a venue; `at` is (latitude, longitude).
    pub async fn venue(
        dir: &mut DirectoryServiceClient<Channel>,
        id: &str,
        city: &str,
        country: &str,
        zone: &str,
        at: Option<(f64, f64)>,
    ) {
        dir.create_venue(pb::CreateVenueRequest {
            venue: Some(pb::Venue {
                display_name: format!("{city} {id}"),
                city: city.into(),
                country_code: country.into(),
                time_zone: zone.into(),
                location: at.map(|(latitude, longitude)| pb::LatLng {
                    latitude,
                    longitude,
                }),
                ..Default::default()
            }),
            venue_id: id.into(),
            ..Default::default()
        })
        .await
        .expect("create venue");
    }

    /// The article's directory: Putin, Pezeshkian and Xi; venues in Ashgabat, Kazan and
    /// Moscow (with coordinates) and a second hall in Ashgabat; the BRICS forum.
    pub async fn article_directory(dir: &mut DirectoryServiceClient<Channel>) {
        participant(dir, "putin", "Vladimir Putin", "RU", "Europe/Moscow").await;
        participant(dir, "pezeshkian", "Masoud Pezeshkian", "IR", "Asia/Tehran").await;
        participant(dir, "xi", "Xi Jinping", "CN", "Asia/Shanghai").await;
        venue(
            dir,
            "ashgabat-congress",
            "Ashgabat",
            "TM",
            "Asia/Ashgabat",
            Some(ASHGABAT),
        )
        .await;
        venue(
            dir,
            "ashgabat-palace",
            "Ashgabat",
            "TM",
            "Asia/Ashgabat",
            Some(ASHGABAT),
        )
        .await;
        venue(
            dir,
            "kazan-expo",
            "Kazan",
            "RU",
            "Europe/Moscow",
            Some(KAZAN),
        )
        .await;
        venue(
            dir,
            "kremlin",
            "Moscow",
            "RU",
            "Europe/Moscow",
            Some(MOSCOW),
        )
        .await;
        dir.create_forum(pb::CreateForumRequest {
            forum: Some(pb::Forum {
                display_name: "BRICS".into(),
                member_country_codes: vec![
                    "BR".into(),
                    "RU".into(),
                    "IN".into(),
                    "CN".into(),
                    "ZA".into(),
                    "IR".into(),
                ],
                ..Default::default()
            }),
            forum_id: "brics".into(),
            ..Default::default()
        })
        .await
        .expect("forum");
    }

    /// A timed span in the venue's zone.
    pub fn timed(start: &str, end: &str) -> Option<pb::EventTiming> {
        Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::Timed(pb::TimedSpan {
                start: start.into(),
                end: end.into(),
                time_zone: String::new(),
            })),
        })
    }

    /// Whole days in the venue's zone.
    pub fn days(first: &str, last: &str) -> Option<pb::EventTiming> {
        Some(pb::EventTiming {
            span: Some(pb::event_timing::Span::AllDay(pb::DateSpan {
                start_date: first.into(),
                end_date: last.into(),
                time_zone: String::new(),
            })),
        })
    }

    /// An event with the usual fields.
    pub fn event(
        kind: pb::EventKind,
        title: &str,
        venue: &str,
        participants: &[&str],
        timing: Option<pb::EventTiming>,
    ) -> pb::Event {
        pb::Event {
            kind: kind as i32,
            title: title.into(),
            venue_id: venue.into(),
            participant_ids: participants.iter().map(|p| p.to_string()).collect(),
            timing,
            ..Default::default()
        }
    }

    /// Creates an event with an id and returns it as stored.
    pub async fn create(
        events: &mut EventServiceClient<Channel>,
        id: &str,
        event: pb::Event,
    ) -> pb::Event {
        create_with(events, id, event, false).await
    }

    /// Creates an event, optionally overriding hard conflicts.
    pub async fn create_with(
        events: &mut EventServiceClient<Channel>,
        id: &str,
        event: pb::Event,
        allow_conflicts: bool,
    ) -> pb::Event {
        *events
            .create_event(pb::CreateEventRequest {
                event: Some(Box::new(event)),
                event_id: id.into(),
                allow_conflicts,
                ..Default::default()
            })
            .await
            .unwrap_or_else(|e| panic!("create {id}: {e:?}"))
            .into_inner()
            .event
            .expect("event")
    }

    /// Local time of a zoned time.
    pub fn local(z: &Option<pb::ZonedTime>) -> String {
        z.as_ref().map(|z| z.local_time.clone()).unwrap_or_default()
    }

    /// The RFC 9557 form of a zoned time.
    pub fn rfc(z: &Option<pb::ZonedTime>) -> String {
        z.as_ref().map(|z| z.rfc9557.clone()).unwrap_or_default()
    }

    /// The field paths named in a status's BadRequest detail.
    pub fn bad_fields(status: &tonic::Status) -> Vec<String> {
        use tonic_types::StatusExt;
        status
            .get_details_bad_request()
            .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
            .unwrap_or_default()
    }

    /// The violation types in a status's PreconditionFailure detail.
    pub fn precondition_types(status: &tonic::Status) -> Vec<String> {
        use tonic_types::StatusExt;
        status
            .get_details_precondition_failure()
            .map(|p| p.violations.into_iter().map(|v| v.r#type).collect())
            .unwrap_or_default()
    }

    /// The subjects ("events/talks") in a status's PreconditionFailure detail.
    pub fn precondition_subjects(status: &tonic::Status) -> Vec<String> {
        use tonic_types::StatusExt;
        status
            .get_details_precondition_failure()
            .map(|p| p.violations.into_iter().map(|v| v.subject).collect())
            .unwrap_or_default()
    }

    /// Unix seconds of a zoned time.
    pub fn utc(z: &Option<pb::ZonedTime>) -> i64 {
        z.as_ref()
            .and_then(|z| z.utc_time)
            .map(|t| t.seconds)
            .unwrap_or(i64::MIN)
    }
}
