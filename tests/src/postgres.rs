//! A throwaway PostgreSQL cluster for the end-to-end tests, from the machine's own
//! PostgreSQL binaries (Debian's `postgresql` package): nothing is downloaded.
//!
//! The first test of a test binary that needs it runs `initdb` into a temporary folder
//! and starts `postgres` on a Unix socket there, with no TCP port. As root (CI) both run as
//! `nobody`, because `initdb` refuses root. A watchdog shell stops the cluster and deletes
//! the folder when the test process exits. Each test server gets a database of its own,
//! named after its data folder, so a test that restarts a server on "its store" finds it.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// A running cluster.
#[derive(Debug)]
pub struct Cluster {
    /// The folder holding the socket (and the data folder).
    pub socket_dir: PathBuf,
}

const PORT: u16 = 5432;
const USER: &str = "entente";

impl Cluster {
    /// The connection string of database `name`.
    pub fn url(&self, name: &str) -> String {
        format!(
            "postgresql://{USER}@{}:{PORT}/{name}",
            urlencode(&self.socket_dir.to_string_lossy())
        )
    }

    /// Creates database `name` if it does not exist yet; returns its connection string.
    pub async fn database(&self, name: &str) -> String {
        let (client, connection) =
            tokio_postgres::connect(&self.url("postgres"), tokio_postgres::NoTls)
                .await
                .expect("connect to the test cluster");
        let task = tokio::spawn(connection);
        let exists = client
            .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&name])
            .await
            .expect("look the database up")
            .is_some();
        if !exists {
            // Two servers of one test may ask at once: the loser finds it made.
            if let Err(e) = client
                .batch_execute(&format!("CREATE DATABASE \"{name}\""))
                .await
                && e.code() != Some(&tokio_postgres::error::SqlState::DUPLICATE_DATABASE)
                && e.code() != Some(&tokio_postgres::error::SqlState::UNIQUE_VIOLATION)
            {
                panic!("cannot create database {name}: {e}");
            }
        }
        drop(client);
        let _ = task.await;
        self.url(name)
    }
}

/// A host folder in a connection URL: `/` and other reserved bytes percent-encoded.
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The folder of the newest installed PostgreSQL's binaries (`ENTENTE_PG_BIN` wins).
fn bin_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("ENTENTE_PG_BIN") {
        return Some(PathBuf::from(dir));
    }
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .filter_map(|e| {
            let version = e.file_name().to_string_lossy().parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// The test cluster, started on first use; `None` when this machine has no PostgreSQL.
pub fn cluster() -> Option<&'static Cluster> {
    static CLUSTER: OnceLock<Option<Cluster>> = OnceLock::new();
    CLUSTER
        .get_or_init(|| {
            let bin = bin_dir()?;
            Some(start(&bin).unwrap_or_else(|e| panic!("cannot start a test PostgreSQL: {e}")))
        })
        .as_ref()
}

/// The test cluster; without PostgreSQL binaries, says `what` happens instead, loudly (on
/// the process's stderr, which the test harness does not capture), or fails under
/// `ENTENTE_REQUIRE_POSTGRES` (CI).
pub fn cluster_or_say(what: &str) -> Option<&'static Cluster> {
    let found = cluster();
    if found.is_none() {
        let message = format!(
            "\n*** SKIPPED: {what}: no PostgreSQL binaries (install Debian's postgresql \
             package, or set ENTENTE_PG_BIN) ***\n"
        );
        if std::env::var_os("ENTENTE_REQUIRE_POSTGRES").is_some() {
            panic!("{message}");
        }
        let _ = std::io::Write::write_all(&mut std::io::stderr(), message.as_bytes());
    }
    found
}

fn start(bin: &Path) -> Result<Cluster, String> {
    // As root the cluster runs as nobody, who must be able to reach the folder: /tmp, not
    // a TMPDIR that may sit under root's home.
    let root_user = is_root();
    let builder = tempfile::Builder::new().prefix("entente-pg-").clone();
    let root = if root_user {
        builder.tempdir_in("/tmp")
    } else {
        builder.tempdir()
    }
    .map_err(|e| e.to_string())?
    .keep();
    let data = root.join("data");
    // As root, the cluster runs as nobody, which must be able to write here.
    let drop_root: Vec<String> = if root_user {
        Command::new("chmod")
            .arg("0777")
            .arg(&root)
            .status()
            .map_err(|e| e.to_string())?;
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            "--",
        ]
        .map(String::from)
        .to_vec()
    } else {
        Vec::new()
    };
    let initdb = bin.join("initdb");
    let mut cmd = Command::new(drop_root.first().map_or(initdb.as_os_str(), |s| s.as_ref()));
    cmd.args(drop_root.iter().skip(1));
    if !drop_root.is_empty() {
        cmd.arg(&initdb);
    }
    let out = cmd
        .args([
            "-A",
            "trust",
            "-U",
            USER,
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
            "-D",
        ])
        .arg(&data)
        .output()
        .map_err(|e| format!("initdb: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "initdb failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    // Durability is the database's business, not these tests': without fsync the suite
    // runs at memory speed. Many servers at once, each with a pool.
    let postgres = format!(
        "{} {} -D {} -k {} -p {PORT} -c listen_addresses= -c fsync=off \
         -c synchronous_commit=off -c full_page_writes=off -c max_connections=500",
        drop_root.join(" "),
        bin.join("postgres").display(),
        data.display(),
        root.display(),
    );
    // The watchdog: stops the cluster once this test process is gone, then removes it.
    let script = format!(
        "{postgres} >{log} 2>&1 & pg=$!; \
         while kill -0 {parent} 2>/dev/null && kill -0 $pg 2>/dev/null; do sleep 0.2; done; \
         kill -INT $pg 2>/dev/null; wait $pg; rm -rf {root}",
        log = root.join("log").display(),
        parent = std::process::id(),
        root = root.display(),
    );
    Command::new("sh")
        .arg("-c")
        .arg(script)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("cannot start postgres: {e}"))?;
    // Ready once it accepts connections. Until its socket exists pg_isready answers at
    // once, so it is asked again, briefly apart, for up to a minute.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    loop {
        let ready = Command::new(bin.join("pg_isready"))
            .arg("-h")
            .arg(&root)
            .args(["-p", &PORT.to_string(), "-U", USER, "-t", "5"])
            .output()
            .map_err(|e| format!("pg_isready: {e}"))?;
        if ready.status.success() {
            return Ok(Cluster { socket_dir: root });
        }
        if std::time::Instant::now() > deadline {
            let log = std::fs::read_to_string(root.join("log")).unwrap_or_default();
            return Err(format!("postgres did not start: {log}"));
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}
