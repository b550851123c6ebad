//! PostgreSQL: the shared store that lets several entente servers serve one set of
//! records.
//!
//! # Shape
//!
//! The database holds three things (see [`MIGRATIONS`]):
//! - `entente_kv`: every record under the same keys and in the same encoding as sled
//!   (`storage::key`, `storage::encode`), so there is one key schema and one codec;
//! - `entente_log`: every committed batch, in commit order, numbered by `seq` without gaps;
//! - `entente_head`: one row holding the last `seq`. A writer locks it (`FOR UPDATE`) before
//!   it reads anything, and updates it in the transaction that commits, so commits are
//!   serialised and a reader sees a prefix of the log: never a gap, never a batch of a
//!   later commit without those before it. A sequence would not do: its values are taken
//!   before commit, so a reader could see 7 before 6 commits and skip it.
//!
//! Each server keeps every record in memory, as it does over sled, and answers from there.
//! Before a write it takes the head lock and catches up on the batches other servers
//! committed since its last one (one round trip); before a read it catches up without the
//! lock (one round trip: the batches after its last, usually none). So a write
//! acknowledged by one server is seen by a read issued afterwards on any other, and a
//! conflict check runs against every committed booking.
//!
//! The head row also holds the sole-writer lease (`crate::solo`): while a server holds
//! it, the others commit nothing, so it may answer reads without the round trip.
//!
//! `entente_busy` holds the participant and venue time ranges of confirmed events under an
//! exclusion constraint (`btree_gist`): a safety net under the Rust conflict check, which
//! stays the rule. See [`Busy`] for which events it covers.
//!
//! Time: the database stores instants as the Rust code computed them (from the wall time
//! and zone, with the tzdb the server ships) and the wall time and zone inside the record;
//! it never converts.
//!
//! # Why one file of ~940 lines
//! The schema is embedded as numbered SQL migrations (`MIGRATIONS`), and the statements
//! that rely on each table and function sit next to them, so a change to one is read with
//! the other.

use std::collections::BTreeMap;
use std::sync::Arc;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod};
use tokio_postgres::NoTls;
use tokio_postgres::types::ToSql;

use super::wal::{self, Ops};
use crate::error::{Error, Result};

/// A lock key for migrations (`pg_advisory_xact_lock`): "entente" in ASCII.
const MIGRATION_LOCK: i64 = 0x0065_6e74_656e_7465;

/// The channel on which a commit tells the other servers there is more to read (named
/// again in migration 3's `entente_commit`, which sends it).
pub const CHANNEL: &str = "entente_log";

/// The channel on which a server asks the holder of the sole-writer lease to let it go.
pub const RELEASE_CHANNEL: &str = "entente_release";

/// The schema, one step per version, applied in order and recorded in
/// `entente_migrations`. Never edit a step that has shipped: add one.
pub const MIGRATIONS: &[(i32, &str, &str)] = &[
    (
        1,
        "records, commit log, head, busy ranges",
        r#"
CREATE TABLE entente_kv (
    key   bytea PRIMARY KEY,
    value bytea NOT NULL
);
CREATE TABLE entente_log (
    seq       bigint PRIMARY KEY,
    ops       bytea NOT NULL,
    committed timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE entente_head (
    one bool PRIMARY KEY DEFAULT true CHECK (one),
    seq bigint NOT NULL
);
INSERT INTO entente_head (seq) VALUES (0);
CREATE EXTENSION IF NOT EXISTS btree_gist;
CREATE TABLE entente_busy (
    event_id text NOT NULL,
    holder   bigint NOT NULL,
    family   bigint NOT NULL,
    during   tstzrange NOT NULL,
    CONSTRAINT entente_no_double_booking
        EXCLUDE USING gist (holder WITH =, during WITH &&, family WITH <>)
);
CREATE INDEX entente_busy_event ON entente_busy (event_id);
"#,
    ),
    (
        2,
        "the sole-writer lease",
        r#"
ALTER TABLE entente_head
    ADD COLUMN solo_holder text,
    ADD COLUMN solo_term   bigint NOT NULL DEFAULT 0,
    ADD COLUMN solo_ms     bigint NOT NULL DEFAULT 0,
    ADD COLUMN solo_wanted bool NOT NULL DEFAULT false;
-- The first statement of a commit by the lease's holder, which takes no lease first: the
-- head lock, and proof that no other server committed since the holder's last commit.
CREATE FUNCTION entente_solo_guard(expected bigint, me text) RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM 1 FROM entente_head WHERE seq = expected AND solo_holder = me FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'the sole-writer lease was lost before this commit'
            USING ERRCODE = 'serialization_failure';
    END IF;
END $$;
"#,
    ),
    (
        3,
        "a commit in one statement",
        r#"
-- A group's whole commit as one call: the guard, the log, the records, the busy ranges,
-- the head and the notification. Sent as separate statements, each paid its own
-- protocol messages, snapshot and executor start-up, and a message each way, all while
-- the head row was locked and every other commit waited; as one call they run as the
-- function's cached plans. `me` is the sole-writer lease's holder when the call is its
-- own transaction (it then takes the head lock itself), NULL inside a transaction that
-- already holds it.
--
-- The head row is locked first and compared after: a commit in flight that holds it is
-- waited for, and the row read as that commit left it (comparing in the WHERE clause, as
-- version 2's guard does, tests the row as the statement's snapshot saw it).
CREATE FUNCTION entente_commit(
    expected bigint, me text, seqs int8[], ops bytea[], put_keys bytea[],
    put_values bytea[], deletes bytea[], unbusy text[], busy_ids text[],
    busy_holders int8[], busy_families int8[], busy_starts int8[], busy_ends int8[])
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
    head_seq bigint;
    holder text;
    last bigint := expected + cardinality(seqs);
BEGIN
    SELECT seq, solo_holder INTO head_seq, holder FROM entente_head FOR UPDATE;
    IF head_seq IS DISTINCT FROM expected
       OR (me IS NOT NULL AND holder IS DISTINCT FROM me) THEN
        RAISE EXCEPTION 'the sole-writer lease was lost before this commit'
            USING ERRCODE = 'serialization_failure';
    END IF;
    INSERT INTO entente_log (seq, ops) SELECT * FROM unnest(seqs, ops);
    IF cardinality(put_keys) > 0 THEN
        INSERT INTO entente_kv (key, value) SELECT * FROM unnest(put_keys, put_values)
            ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
    END IF;
    IF cardinality(deletes) > 0 THEN
        DELETE FROM entente_kv WHERE key = ANY(deletes);
    END IF;
    IF cardinality(unbusy) > 0 THEN
        DELETE FROM entente_busy WHERE event_id = ANY(unbusy);
    END IF;
    IF cardinality(busy_ids) > 0 THEN
        INSERT INTO entente_busy (event_id, holder, family, during)
            SELECT i, h, f, tstzrange(to_timestamp(s), to_timestamp(e), '[)')
            FROM unnest(busy_ids, busy_holders, busy_families, busy_starts, busy_ends)
                AS t(i, h, f, s, e);
    END IF;
    UPDATE entente_head SET seq = last;
    -- Delivered when (and only if) the transaction commits.
    PERFORM pg_notify('entente_log', '');
    RETURN last;
END $$;
"#,
    ),
];

/// A PostgreSQL error as ours: the server's message and its SQLSTATE.
fn db(context: &str, e: tokio_postgres::Error) -> Error {
    let detail = match e.as_db_error() {
        Some(d) => format!("{} ({})", d.message(), d.code().code()),
        None => e.to_string(),
    };
    Error::Database(format!("{context}: {detail}"))
}

fn pool_error(e: deadpool_postgres::PoolError) -> Error {
    // The pool's own message hides why ("error connecting to server"): add the causes.
    let mut why = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let text = c.to_string();
        if !why.contains(&text) {
            why = format!("{why}: {text}");
        }
        cause = c.source();
    }
    Error::Database(format!("no database connection: {why}"))
}

/// One range of `entente_busy`: a participant (`p`) or venue (`v`) held by a confirmed
/// event from `start` to `end` (Unix seconds, half-open). The table keys holders and
/// families by [`key64`]. Ranges of one `family` (an event,
/// its sidelines and theirs) never exclude each other, because the domain lets a bilateral
/// sit inside its summit; the domain also lets an office book over a conflict on purpose
/// (an override), so an event that records one has no ranges here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Busy {
    /// The event.
    pub event_id: String,
    /// `b'p'` for a participant, `b'v'` for a venue.
    pub axis: u8,
    /// The participant or venue id.
    pub holder: String,
    /// The id of the event's outermost ancestor (its own when it has none).
    pub family: String,
    /// Start, Unix seconds.
    pub start: i64,
    /// End, Unix seconds.
    pub end: i64,
}

/// The ranges a commit replaces: those of `events` go, `ranges` come.
#[derive(Debug, Default)]
pub struct BusyChanges {
    /// Events whose ranges are recomputed.
    pub events: Vec<String>,
    /// Their ranges now.
    pub ranges: Vec<Busy>,
}

/// The connection pool to one database.
#[derive(Clone)]
pub struct Postgres {
    pool: Pool,
    config: Arc<tokio_postgres::Config>,
    round_trips: Arc<RoundTrips>,
    /// The health probe's own connection ([`Postgres::ping`]): a pool busy with work
    /// must not make a healthy database look down.
    probe: Arc<tokio::sync::Mutex<Option<tokio_postgres::Client>>>,
}

/// Round trips to the database by reads and writes (catch-ups, leases, commits,
/// releases), and those that prepared statements on a connection first (once per
/// connection and statement), counted apart so the steady cost of an operation can be
/// stated (and tested) exactly.
#[derive(Debug, Default)]
pub struct RoundTrips {
    /// Round trips of operations.
    pub operations: std::sync::atomic::AtomicU64,
    /// Round trips that prepared statements.
    pub prepares: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for Postgres {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Postgres").finish_non_exhaustive()
    }
}

/// Where the connection string went wrong, without echoing it (it may hold a password).
fn parse(url: &str) -> Result<tokio_postgres::Config> {
    url.parse::<tokio_postgres::Config>().map_err(|e| {
        Error::Database(format!(
            "the store address is not a PostgreSQL connection string: {e}"
        ))
    })
}

impl Postgres {
    /// Connects to the database at `url` (a `postgres://` URL or a `key=value` string).
    /// Nothing is read or written yet: see [`Postgres::migrate`].
    pub fn new(url: &str, max_connections: usize) -> Result<Postgres> {
        let mut config = parse(url)?;
        // A server that stops mid-write (frozen, cut off) holds the commit lock every
        // other server waits for: PostgreSQL ends such a session after 10 s idle in its
        // transaction (a write holds it for milliseconds), rolling it back.
        let options = format!(
            "{} -c idle_in_transaction_session_timeout=10s",
            config.get_options().unwrap_or_default()
        );
        config.options(options.trim_start());
        if config.get_application_name().is_none() {
            config.application_name("entente-server");
        }
        let manager = Manager::from_config(
            config.clone(),
            NoTls,
            ManagerConfig {
                // A connection that failed is dropped by the pool on return (tokio-postgres
                // marks it closed); checking each one out with a query would cost a round
                // trip per operation.
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections)
            .build()
            .map_err(|e| Error::Database(format!("cannot build the connection pool: {e}")))?;
        Ok(Postgres {
            pool,
            config: Arc::new(config),
            round_trips: Arc::default(),
            probe: Arc::default(),
        })
    }

    async fn client(&self) -> Result<deadpool_postgres::Object> {
        self.pool.get().await.map_err(pool_error)
    }

    /// Whether the database answers: one `SELECT 1` on the probe's own connection, made
    /// again when it was lost (not the pool's, which may be busy with work; not counted
    /// in [`RoundTrips`], which state what operations cost).
    pub async fn ping(&self) -> Result<()> {
        let mut probe = self.probe.lock().await;
        if probe.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            let (client, connection) = self
                .config
                .connect(NoTls)
                .await
                .map_err(|e| db("the database does not answer", e))?;
            tokio::spawn(connection);
            *probe = Some(client);
        }
        let answer = match probe.as_ref() {
            Some(client) => client.simple_query("SELECT 1").await,
            None => return Err(Error::Database("no probe connection".into())),
        };
        answer.map(drop).map_err(|e| {
            *probe = None;
            db("the database does not answer", e)
        })
    }

    /// Round trips to the database so far (see [`RoundTrips`]).
    pub fn round_trips(&self) -> &RoundTrips {
        &self.round_trips
    }

    /// Brings the schema up to this binary's version, in one transaction under an advisory
    /// lock, so servers starting together apply each step once. Returns the versions it
    /// applied (none when the schema was current). A database migrated by a newer entente
    /// is refused rather than served by code that does not know its shape.
    pub async fn migrate(&self) -> Result<Vec<i32>> {
        let mut client = self.client().await?;
        let tx = client
            .transaction()
            .await
            .map_err(|e| db("cannot begin the migration", e))?;
        // "already exists, skipping" is what a second server is meant to find.
        tx.batch_execute("SET LOCAL client_min_messages = warning")
            .await
            .map_err(|e| db("cannot begin the migration", e))?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
            .await
            .map_err(|e| db("cannot take the migration lock", e))?;
        tx.batch_execute(
            "CREATE TABLE IF NOT EXISTS entente_migrations (
                version     integer PRIMARY KEY,
                description text NOT NULL,
                applied     timestamptz NOT NULL DEFAULT now()
            )",
        )
        .await
        .map_err(|e| db("cannot create entente_migrations", e))?;
        let done: Vec<i32> = tx
            .query(
                "SELECT version FROM entente_migrations ORDER BY version",
                &[],
            )
            .await
            .map_err(|e| db("cannot read entente_migrations", e))?
            .iter()
            .map(|r| r.get(0))
            .collect();
        let known = MIGRATIONS.last().map_or(0, |m| m.0);
        if let Some(newer) = done.iter().find(|v| **v > known) {
            // Let the lock go now, not when the connection is closed.
            let _ = tx.rollback().await;
            return Err(Error::Database(format!(
                "the database is at schema version {newer}, newer than this server knows \
                 ({known}): run the entente-server that migrated it, or a later one"
            )));
        }
        let mut applied = Vec::new();
        for (version, description, sql) in MIGRATIONS {
            if done.contains(version) {
                continue;
            }
            tx.batch_execute(sql)
                .await
                .map_err(|e| db(&format!("migration {version} ({description}) failed"), e))?;
            tx.execute(
                "INSERT INTO entente_migrations (version, description) VALUES ($1, $2)",
                &[version, description],
            )
            .await
            .map_err(|e| db("cannot record the migration", e))?;
            applied.push(*version);
        }
        tx.commit()
            .await
            .map_err(|e| db("cannot commit the migration", e))?;
        Ok(applied)
    }

    /// Every record and the `seq` they are current at, read in one snapshot.
    pub async fn snapshot(&self) -> Result<(u64, Vec<(Vec<u8>, Vec<u8>)>)> {
        let mut client = self.client().await?;
        let tx = client
            .build_transaction()
            .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
            .read_only(true)
            .start()
            .await
            .map_err(|e| db("cannot begin reading the store", e))?;
        let head: i64 = tx
            .query_one("SELECT seq FROM entente_head", &[])
            .await
            .map_err(|e| db("cannot read entente_head", e))?
            .get(0);
        let rows = tx
            .query("SELECT key, value FROM entente_kv ORDER BY key", &[])
            .await
            .map_err(|e| db("cannot read entente_kv", e))?;
        let records = rows.into_iter().map(|r| (r.get(0), r.get(1))).collect();
        tx.commit()
            .await
            .map_err(|e| db("cannot finish reading the store", e))?;
        Ok((seq(head)?, records))
    }

    /// The batches committed after `after`, in order: one round trip.
    pub async fn since(&self, after: u64) -> Result<Vec<(u64, Ops)>> {
        let client = self.client().await?;
        let cached = client.statement_cache.size();
        let stmt = client
            .prepare_cached(SINCE)
            .await
            .map_err(|e| db("cannot prepare", e))?;
        count(&self.round_trips, cached, &client);
        let rows = client
            .query(&stmt, &[&signed(after)])
            .await
            .map_err(|e| db("cannot read entente_log", e))?;
        decode_log(rows)
    }

    /// Begins a write: takes the commit lock and reads the batches committed after
    /// `after`, in one round trip. The lock is held until [`Lease::commit`] or the lease is
    /// dropped (which rolls back).
    pub async fn lease(&self, after: u64) -> Result<Lease> {
        let client = self.client().await?;
        let cached = client.statement_cache.size();
        let (lock, since) = {
            let lock = client.prepare_cached(LOCK);
            let since = client.prepare_cached(SINCE);
            let (lock, since) = tokio::join!(lock, since);
            (
                lock.map_err(|e| db("cannot prepare", e))?,
                since.map_err(|e| db("cannot prepare", e))?,
            )
        };
        count(&self.round_trips, cached, &client);
        let after_param = signed(after);
        // Pipelined: sent together, run in order; the log is read once the lock is held,
        // so it holds every commit before ours.
        let since_params: [&(dyn ToSql + Sync); 1] = [&after_param];
        let (begin, head, rows) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.query_one(&lock, &[]),
            client.query(&since, &since_params),
        );
        let mut lease = Lease {
            pool: self.pool.clone(),
            client: Some(client),
            head: 0,
            solo: None,
            foreign: Vec::new(),
            round_trips: self.round_trips.clone(),
        };
        begin.map_err(|e| db("cannot begin", e))?;
        let head = head.map_err(|e| db("cannot take the commit lock", e))?;
        lease.head = seq(head.get(0))?;
        lease.solo = head.get::<_, Option<String>>(1).map(|holder| SoloLease {
            holder,
            term: head.get(2),
            period: std::time::Duration::from_millis(head.get::<_, i64>(3).max(0) as u64),
        });
        lease.foreign = decode_log(rows.map_err(|e| db("cannot read entente_log", e))?)?;
        Ok(lease)
    }

    /// Renews `me`'s sole-writer lease: `None` if `me` no longer holds it, else whether
    /// another server asked for it and the head `seq`. One round trip, not counted (see
    /// [`Lease::take_solo`]).
    pub async fn renew_solo(&self, me: &str) -> Result<Option<(bool, u64)>> {
        let client = self.client().await?;
        let renew = client
            .prepare_cached(
                "UPDATE entente_head SET solo_term = solo_term + 1 WHERE solo_holder = $1 \
                 RETURNING solo_wanted, seq",
            )
            .await
            .map_err(|e| db("cannot prepare", e))?;
        let row = client
            .query_opt(&renew, &[&me])
            .await
            .map_err(|e| db("cannot renew the sole-writer lease", e))?;
        row.map(|r| Ok((r.get(0), seq(r.get(1))?))).transpose()
    }

    /// Lets `me`'s sole-writer lease go, if it holds it.
    pub async fn release_solo(&self, me: &str) -> Result<()> {
        let client = self.client().await?;
        let release = client
            .prepare_cached(
                "UPDATE entente_head SET solo_holder = NULL, solo_wanted = false \
                 WHERE solo_holder = $1",
            )
            .await
            .map_err(|e| db("cannot prepare", e))?;
        client
            .execute(&release, &[&me])
            .await
            .map_err(|e| db("cannot release the sole-writer lease", e))?;
        Ok(())
    }

    /// A connection that receives the commit notifications of every server, each of
    /// which wakes `wake`, and the requests for `me`'s sole-writer lease, each of which
    /// wakes `asked`. Ends when the connection does.
    pub async fn listen(
        &self,
        wake: Arc<tokio::sync::Notify>,
        me: Arc<str>,
        asked: Arc<tokio::sync::Notify>,
    ) -> Result<()> {
        use futures_util::StreamExt;
        let (client, mut connection) = self
            .config
            .connect(NoTls)
            .await
            .map_err(|e| db("cannot connect to listen", e))?;
        let messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        let pump = tokio::spawn(async move {
            let mut messages = std::pin::pin!(messages);
            while let Some(m) = messages.next().await {
                match m {
                    Ok(tokio_postgres::AsyncMessage::Notification(n)) => {
                        if n.channel() == RELEASE_CHANNEL {
                            if n.payload() == &*me {
                                asked.notify_one()
                            }
                        } else {
                            wake.notify_one()
                        }
                    }
                    Ok(_) => {}
                    Err(e) => return Err(db("the listening connection failed", e)),
                }
            }
            Ok(())
        });
        client
            .batch_execute(&format!("LISTEN {CHANNEL}; LISTEN {RELEASE_CHANNEL}"))
            .await
            .map_err(|e| db("cannot listen", e))?;
        let ended = pump
            .await
            .map_err(|e| Error::Database(format!("the listener stopped: {e}")))?;
        drop(client);
        ended
    }
}

const LOCK: &str = "SELECT seq, solo_holder, solo_term, solo_ms FROM entente_head FOR UPDATE";
const SINCE: &str = "SELECT seq, ops FROM entente_log WHERE seq > $1 ORDER BY seq";

/// The sole-writer lease as recorded in `entente_head` (see `crate::solo`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SoloLease {
    /// The server holding it.
    pub holder: String,
    /// Bumped by every renewal: a term that stays the same for `hold` was not renewed.
    pub term: i64,
    /// The holder's lease period: it trusts one renewal for less.
    pub period: std::time::Duration,
}

/// A write in progress: the commit lock, held on one connection.
pub struct Lease {
    client: Option<deadpool_postgres::Object>,
    /// For the lookup of an ambiguous commit ([`committed`]).
    pool: Pool,
    /// The last `seq` committed, as read under the lock.
    pub head: u64,
    /// The sole-writer lease, if a server holds it (see `crate::solo`).
    pub solo: Option<SoloLease>,
    /// The batches committed after the `after` the lease was asked with.
    pub foreign: Vec<(u64, Ops)>,
    round_trips: Arc<RoundTrips>,
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease").field("head", &self.head).finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // A lease dropped without committing leaves its connection inside a transaction
        // that holds the commit lock: close it rather than return it to the pool, so the
        // database rolls back and releases the lock at once.
        if let Some(client) = self.client.take() {
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Lease {
    /// Ends the write without committing anything, and gives the connection back.
    pub async fn release(mut self) {
        self.round_trips
            .operations
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Some(client) = self.client.take()
            && client.batch_execute("ROLLBACK").await.is_err()
        {
            drop(deadpool_postgres::Object::take(client));
        }
    }

    /// Runs `sql` and commits, in one round trip (not counted: the lease's own upkeep is
    /// not part of any request's cost). The statements see the lock held.
    async fn finish(
        mut self,
        context: &str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
        commit: &str,
    ) -> Result<()> {
        let Some(client) = self.client.take() else {
            return Err(Error::Database("the write's connection is gone".into()));
        };
        // Prepared first: a statement given as text is prepared when first polled, and
        // the COMMIT pipelined after it would reach the database before it.
        let run = match client.prepare_cached(sql).await {
            Ok(statement) => {
                let (run, commit) = tokio::join!(
                    client.execute(&statement, params),
                    client.batch_execute(commit)
                );
                run.and(commit)
            }
            Err(e) => Err(e),
        };
        match run {
            Ok(_) => Ok(()),
            Err(e) => {
                drop(deadpool_postgres::Object::take(client));
                Err(db(context, e))
            }
        }
    }

    /// Takes the sole-writer lease for `me`, with lease period `period`, and commits.
    pub async fn take_solo(self, me: &str, period: std::time::Duration) -> Result<()> {
        let ms = period.as_millis().min(i64::MAX as u128) as i64;
        self.finish(
            "cannot take the sole-writer lease",
            "UPDATE entente_head SET solo_holder = $1, solo_term = solo_term + 1, \
             solo_ms = $2, solo_wanted = false",
            &[&me, &ms],
            "COMMIT",
        )
        .await
    }

    /// Asks `holder`, the holder of the sole-writer lease, to let it go (the flag it reads
    /// at its next renewal, and a notification it hears at once), and commits.
    pub async fn ask_for_solo(self, holder: &str) -> Result<()> {
        self.finish(
            "cannot ask for the sole-writer lease",
            "SELECT pg_notify($1, $2)",
            &[&RELEASE_CHANNEL, &holder],
            "UPDATE entente_head SET solo_wanted = true; COMMIT",
        )
        .await
    }

    /// Ends a sole-writer lease its holder stopped renewing (the caller saw the same term
    /// for longer than its `hold`), and commits.
    pub async fn end_solo(self) -> Result<()> {
        self.finish(
            "cannot end the sole-writer lease",
            "UPDATE entente_head SET solo_holder = NULL, solo_wanted = false",
            &[],
            "COMMIT",
        )
        .await
    }

    /// Commits `batches` as log entries `head + 1`, `head + 2`, …, with the busy ranges
    /// they change, and tells the other servers: one round trip (one call of
    /// `entente_commit`, with COMMIT pipelined after it). Returns the last entry's
    /// number. An exclusion violation is a double booking the Rust check missed: refused
    /// whole.
    pub async fn commit(mut self, batches: &[&Ops], busy: &BusyChanges) -> Result<u64> {
        let Some(client) = self.client.take() else {
            return Err(Error::Database("the write's connection is gone".into()));
        };
        commit_on(
            client,
            &self.pool,
            &self.round_trips,
            self.head,
            None,
            batches,
            busy,
        )
        .await
    }
}

impl Postgres {
    /// [`Lease::commit`] for the holder `me` of the sole-writer lease, without a lease:
    /// one call of `entente_commit`, its own transaction, which takes the head lock first
    /// and fails (a serialization failure; nothing is committed) unless `me` still holds
    /// the lease and the log still ends at `head`. One round trip in all.
    pub async fn commit_solo(
        &self,
        me: &str,
        head: u64,
        batches: &[&Ops],
        busy: &BusyChanges,
    ) -> Result<u64> {
        let client = self.client().await?;
        commit_on(
            client,
            &self.pool,
            &self.round_trips,
            head,
            Some(me),
            batches,
            busy,
        )
        .await
    }
}

/// See [`Lease::commit`] and [`Postgres::commit_solo`]: `guard` is the lease's holder
/// when the transaction is yet to begin.
///
/// A commit whose answer is lost (the connection fails after COMMIT was sent) may have
/// landed: it is then looked up ([`committed`]) before anything is answered, so a write
/// that committed is reported as committed, not as a failure.
#[allow(clippy::too_many_arguments)]
async fn commit_on(
    client: deadpool_postgres::Object,
    pool: &Pool,
    round_trips: &RoundTrips,
    head_before: u64,
    guard: Option<&str>,
    batches: &[&Ops],
    busy: &BusyChanges,
) -> Result<u64> {
    let first = head_before + 1;
    let last_seq = head_before + batches.len() as u64;
    // The last operation on a key wins, as it does in sled; one statement may touch a
    // row once.
    let mut last: BTreeMap<&[u8], Option<&[u8]>> = BTreeMap::new();
    for ops in batches {
        for (k, v) in ops.iter() {
            last.insert(k, v.as_deref());
        }
    }
    let (mut put_keys, mut put_values, mut deletes) = (Vec::new(), Vec::new(), Vec::new());
    for (k, v) in last {
        match v {
            Some(v) => {
                put_keys.push(k);
                put_values.push(v);
            }
            None => deletes.push(k),
        }
    }
    let seqs: Vec<i64> = (first..=last_seq).map(signed).collect();
    let encoded: Vec<Vec<u8>> = batches.iter().map(|ops| wal::encode_ops(ops)).collect();
    let cached = client.statement_cache.size();
    let statement = match client.prepare_cached(COMMIT).await {
        Ok(statement) => statement,
        Err(e) => {
            drop(deadpool_postgres::Object::take(client));
            return Err(db("cannot prepare", e));
        }
    };
    count(round_trips, cached, &client);
    let expected = signed(head_before);
    let holders: Vec<i64> = busy
        .ranges
        .iter()
        .map(|b| key64(&[b.axis], &b.holder))
        .collect();
    let ids: Vec<&str> = busy.ranges.iter().map(|b| b.event_id.as_str()).collect();
    let families: Vec<i64> = busy.ranges.iter().map(|b| key64(b"e", &b.family)).collect();
    let starts: Vec<i64> = busy.ranges.iter().map(|b| b.start).collect();
    let ends: Vec<i64> = busy.ranges.iter().map(|b| b.end).collect();
    let params: [&(dyn ToSql + Sync); 13] = [
        &expected,
        &guard,
        &seqs,
        &encoded,
        &put_keys,
        &put_values,
        &deletes,
        &busy.events,
        &ids,
        &holders,
        &families,
        &starts,
        &ends,
    ];
    // The lease's holder sends the call alone: it is its own transaction, committed
    // (durably) before the answer comes. Under a lease the transaction is open, and
    // COMMIT follows in the same round trip; if the call fails, COMMIT rolls back
    // without an error, so the call's error is the outcome.
    let outcome = match guard {
        Some(_) => client.execute(&statement, &params).await.map(drop),
        None => {
            let (call, commit) = tokio::join!(
                client.execute(&statement, &params),
                client.batch_execute("COMMIT"),
            );
            call.and(commit)
        }
    };
    match outcome {
        Ok(()) => Ok(last_seq),
        Err(e) => {
            let code = e.as_db_error().map(|d| d.code().clone());
            // The connection may be left inside the failed transaction: close it.
            drop(deadpool_postgres::Object::take(client));
            match code {
                Some(tokio_postgres::error::SqlState::EXCLUSION_VIOLATION) => {
                    Err(Error::DoubleBooking)
                }
                Some(tokio_postgres::error::SqlState::T_R_SERIALIZATION_FAILURE)
                    if guard.is_some() =>
                {
                    Err(db("cannot commit as the only writer", e))
                }
                // The database refused it: nothing committed.
                Some(_) => Err(db("cannot commit", e)),
                // The connection failed: the database may have committed it anyway.
                None => match committed(pool, first, &encoded[0]).await {
                    Ok(true) => {
                        tracing::warn!(
                            seq = last_seq,
                            error = %e,
                            "the commit's answer was lost, but it committed"
                        );
                        Ok(last_seq)
                    }
                    Ok(false) => Err(db("cannot commit", e)),
                    Err(lookup) => Err(Error::Database(format!(
                        "cannot tell whether the write committed (the connection failed: {e}; \
                         then {lookup}): read it back, or retry with the same request_id"
                    ))),
                },
            }
        }
    }
}

/// Whether the log entry `seq` is the batch `ops`: the identity of a commit, looked up
/// when its answer was lost. Taken in the head row's lock, so it waits for the lost
/// commit's transaction to end (committed, or rolled back when its connection closed)
/// rather than reading around it.
async fn committed(pool: &Pool, seq: u64, ops: &[u8]) -> Result<bool> {
    let mut client = pool.get().await.map_err(pool_error)?;
    let tx = client
        .transaction()
        .await
        .map_err(|e| db("cannot look the commit up", e))?;
    tx.query_one("SELECT seq FROM entente_head FOR SHARE", &[])
        .await
        .map_err(|e| db("cannot look the commit up", e))?;
    let row = tx
        .query_opt(
            "SELECT ops FROM entente_log WHERE seq = $1",
            &[&signed(seq)],
        )
        .await
        .map_err(|e| db("cannot look the commit up", e))?;
    tx.commit()
        .await
        .map_err(|e| db("cannot look the commit up", e))?;
    Ok(row.is_some_and(|r| r.get::<_, &[u8]>(0) == ops))
}

/// One group's commit (migration 3's `entente_commit`).
const COMMIT: &str =
    "SELECT entente_commit($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)";

/// The 64-bit key of a holder or family in `entente_busy`: the first 8 bytes of the
/// SHA-256 of its axis and id. GiST compares these about 2.5 times faster than the ids as
/// text (measured in PostgreSQL 15: 16 against 40 µs per inserted range), and the ranges
/// are inserted under the commit lock. Two ids sharing a key would only make the net
/// refuse a booking it should not (ABORTED), never accept one the check refused; at 2^64
/// keys that is not expected among any realistic number of participants and venues.
pub fn key64(axis: &[u8], id: &str) -> i64 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(axis);
    h.update(b"/");
    h.update(id.as_bytes());
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

/// One round trip, and one that prepared statements if `client`'s cache just grew.
fn count(round_trips: &RoundTrips, cached_before: usize, client: &deadpool_postgres::Object) {
    use std::sync::atomic::Ordering::Relaxed;
    if client.statement_cache.size() > cached_before {
        round_trips.prepares.fetch_add(1, Relaxed);
    }
    round_trips.operations.fetch_add(1, Relaxed);
}

fn decode_log(rows: Vec<tokio_postgres::Row>) -> Result<Vec<(u64, Ops)>> {
    rows.into_iter()
        .map(|r| {
            let n = seq(r.get(0))?;
            let bytes: &[u8] = r.get(1);
            let ops = wal::decode_ops(bytes).map_err(|e| Error::Corrupt {
                key: format!("entente_log {n}"),
                reason: e.to_string(),
            })?;
            Ok((n, ops))
        })
        .collect()
}

fn seq(v: i64) -> Result<u64> {
    u64::try_from(v).map_err(|_| Error::Database(format!("entente_head holds {v}")))
}

fn signed(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

/// Takes a lease in a task, so that a cancelled call cannot drop it half-taken: the task
/// ends, and a lease it does not hand over is rolled back.
pub(crate) async fn in_task(
    lease: impl Future<Output = Result<Lease>> + Send + 'static,
) -> Result<Lease> {
    tokio::spawn(lease).await.map_err(|_| Error::ShuttingDown)?
}

/// Ends a lease without committing, off the caller's path (a task, so a cancelled call
/// cannot leave it half done).
pub(crate) fn release(lease: Lease) {
    tokio::spawn(lease.release());
}
