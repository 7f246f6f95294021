//! PostgreSQL (`--db postgres://…`): the same rows as SQLite, in the same
//! shape, behind the same trait, and any number of nodes on one database.
//!
//! - **One write at a time, database-wide.** A write transaction starts by
//!   locking the one row of `seq_head` (`SELECT … FOR UPDATE`), which every
//!   node's writes take in turn and hold until their commit. Under it the
//!   node reads what other nodes committed since its own head (the events,
//!   then the rows they touched), checks its batch of commands against that
//!   latest state, writes, and moves `seq_head` on. So one `seq` runs across
//!   all nodes, gapless and in commit order, and a version check or an
//!   idempotency key means the same as on one node. Group commit is kept: a
//!   turn writes every command its node has queued.
//! - **Wake-ups.** Each commit also sends `NOTIFY tasksync, '<head>'`. A
//!   thread per node listens on its own connection and wakes the writer,
//!   which reads the news (events after its head, and their rows, in one
//!   snapshot) and publishes them to its clients. The same thread polls
//!   `seq_head` every 250 ms when no notice comes, which is also its
//!   heartbeat: a lost or dead listening connection is made again and the
//!   node catches up from its head.
//! - **Durable when answered**: PostgreSQL's default `synchronous_commit =
//!   on`. The schema is created (or brought up to date) on start.

use super::backend::{
    IDEMPOTENCY_RETAIN_MS, KeptAnswer, Loaded, News, Storage, StorageError, Wake, entity,
    entity_rows, state_from_rows, touched,
};
use crate::domain::state::State;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::ToSql;
use postgres::{Client, Config, NoTls, Row, Statement};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap};
use std::time::Duration;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS events (seq BIGINT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, request TEXT NOT NULL, at BIGINT NOT NULL,
  kind SMALLINT NOT NULL, created BOOLEAN NOT NULL, body TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS seq_head (one BOOLEAN PRIMARY KEY CHECK (one), seq BIGINT NOT NULL);
INSERT INTO seq_head (one, seq) SELECT true, COALESCE(MAX(seq), 0) FROM events
  ON CONFLICT (one) DO NOTHING;
";

/// The advisory lock taken while the schema is created, so nodes starting
/// at once do not race ("tasksync" in ASCII).
const SCHEMA_LOCK: i64 = 0x7461_736b_7379_6e63;

/// The channel commits are announced on.
const CHANNEL: &str = "tasksync";

/// How often the listening thread polls `seq_head` when no notice comes.
const POLL: Duration = Duration::from_millis(250);

/// A connection and the statements prepared on it: a query with a
/// prepared statement is one round trip, where one from text is two.
struct Conn {
    client: Client,
    prepared: HashMap<String, Statement>,
}

type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

impl Conn {
    fn new(client: Client) -> Conn {
        Conn {
            client,
            prepared: HashMap::new(),
        }
    }

    fn statement(&mut self, sql: &str) -> Result<Statement, postgres::Error> {
        if let Some(s) = self.prepared.get(sql) {
            return Ok(s.clone());
        }
        let s = self.client.prepare(sql)?;
        self.prepared.insert(sql.to_owned(), s.clone());
        Ok(s)
    }

    fn query(&mut self, sql: &str, params: Params) -> Result<Vec<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.query(&st, params)
    }

    fn query_one(&mut self, sql: &str, params: Params) -> Result<Row, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.query_one(&st, params)
    }

    fn query_opt(&mut self, sql: &str, params: Params) -> Result<Option<Row>, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.query_opt(&st, params)
    }

    fn execute(&mut self, sql: &str, params: Params) -> Result<u64, postgres::Error> {
        let st = self.statement(sql)?;
        self.client.execute(&st, params)
    }

    fn batch_execute(&mut self, sql: &str) -> Result<(), postgres::Error> {
        self.client.batch_execute(sql)
    }
}

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The writer's connection to the database. (In a `RefCell`: the trait
/// reads through `&self`, and only the writer thread ever holds it.)
pub struct Postgres {
    client: RefCell<Conn>,
    config: Config,
    retain: usize,
    /// Between `begin` and `commit`/`abort`.
    in_write: Cell<bool>,
}

impl Postgres {
    /// Connects to `url`, creates the schema if it is missing, and loads the
    /// state and the newest `retain` events. A new database gets a new epoch.
    pub fn open(url: &str, retain: usize) -> Result<(Postgres, Loaded), StorageError> {
        let mut config: Config = url.parse()?;
        if config.get_application_name().is_none() {
            config.application_name("tasksync");
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(5));
        }
        let mut client = connect(&config)?;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        tx.batch_execute(SCHEMA)?;
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING",
            &[&fresh],
        )?;
        tx.commit()?;
        let mut client = Conn::new(client);
        let loaded = snapshot(&mut client, |c| load(c, retain))?;
        Ok((
            Postgres {
                client: RefCell::new(client),
                config,
                retain,
                in_write: Cell::new(false),
            },
            loaded,
        ))
    }

    /// The connection, connected again first if it was lost (the database
    /// restarted, or the connection was killed) and no write is open: the
    /// write that saw it go was refused (503) and nothing of it was
    /// committed; the next one goes ahead.
    fn client(&self) -> Result<std::cell::RefMut<'_, Conn>, StorageError> {
        let mut client = self.client.borrow_mut();
        if client.client.is_closed() && !self.in_write.get() {
            tracing::warn!("the PostgreSQL connection was lost; connecting again");
            *client = Conn::new(connect(&self.config)?);
        }
        Ok(client)
    }

    fn end_write(&self, sql: &str) -> Result<(), StorageError> {
        self.in_write.set(false);
        self.client.borrow_mut().batch_execute(sql)?;
        Ok(())
    }
}

/// Connects with the settings every connection of a node has: a write
/// that waits more than 10 s for its turn is refused rather than hanging,
/// and a connection idle inside a transaction (a node that froze mid-write)
/// is ended by the server after 10 s, so it cannot hold the turn for ever.
fn connect(config: &Config) -> Result<Client, StorageError> {
    let mut client = config.connect(NoTls)?;
    client.batch_execute(
        "SET lock_timeout = '10s'; SET idle_in_transaction_session_timeout = '10s'",
    )?;
    Ok(client)
}

/// Runs `read` in one read-only snapshot (everything it reads is as of one
/// moment, whatever other nodes commit meanwhile).
fn snapshot<T>(
    client: &mut Conn,
    read: impl FnOnce(&mut Conn) -> Result<T, StorageError>,
) -> Result<T, StorageError> {
    client.batch_execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")?;
    match read(client) {
        Ok(v) => {
            client.batch_execute("COMMIT")?;
            Ok(v)
        }
        Err(e) => {
            let _ = client.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Everything: the epoch, the state, the head and the newest `retain` events.
fn load(client: &mut Conn, retain: usize) -> Result<Loaded, StorageError> {
    let epoch: String = client
        .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])?
        .get(0);
    let state = load_state(client)?;
    let head = head(client, "")?;
    let since = head.saturating_sub(retain as u64) as i64;
    let events = client
        .query(
            "SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq",
            &[&since],
        )?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)))
        .collect();
    Ok(Loaded {
        epoch,
        state,
        head,
        events,
    })
}

/// The newest committed seq (`lock` = " FOR UPDATE" takes the write turn).
fn head(client: &mut Conn, lock: &str) -> Result<u64, StorageError> {
    let seq: i64 = client
        .query_one(&format!("SELECT seq FROM seq_head{lock}"), &[])?
        .get(0);
    Ok(seq as u64)
}

/// What was committed after `mine`, up to `latest`: the events and the rows
/// they touched (read in the caller's snapshot or write turn).
fn news(client: &mut Conn, mine: u64, latest: u64, retain: usize) -> Result<News, StorageError> {
    if latest <= mine {
        return Ok(News::None);
    }
    let events: Vec<(u64, String)> = client
        .query(
            "SELECT seq, body FROM events WHERE seq > $1 AND seq <= $2 ORDER BY seq",
            &[&(mine as i64), &(latest as i64)],
        )?
        .iter()
        .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)))
        .collect();
    let continuous = events.first().map(|e| e.0) == Some(mine + 1)
        && events.last().map(|e| e.0) == Some(latest)
        && events.len() as u64 == latest - mine;
    if !continuous {
        tracing::warn!(
            head = mine,
            latest,
            "fell behind further than the retained events; loading everything again"
        );
        return Ok(News::Gap(load(client, retain)?));
    }
    let (mut task_ids, mut session_ids) = (BTreeSet::new(), BTreeSet::new());
    for (seq, json) in &events {
        touched(*seq, json, &mut task_ids, &mut session_ids)?;
    }
    let mut rows = |table: &'static str, ids: BTreeSet<String>| {
        let ids: Vec<String> = ids.into_iter().collect();
        let found = client.query(
            &format!("SELECT id, body FROM {table} WHERE id = ANY($1)"),
            &[&ids],
        )?;
        let found: HashMap<String, String> = found.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok::<_, StorageError>((ids, found))
    };
    let (task_ids, task_rows) = rows("tasks", task_ids)?;
    let (session_ids, session_rows) = rows("sessions", session_ids)?;
    let tasks = rows_as("tasks", task_ids, &task_rows)?;
    let sessions = rows_as("sessions", session_ids, &session_rows)?;
    Ok(News::Events {
        events,
        tasks,
        sessions,
    })
}

/// Ids with their entities as found (`None`: gone).
type Found<T> = Vec<(String, Option<std::sync::Arc<T>>)>;

/// Each id with its entity as found (`None`: gone).
fn rows_as<T: serde::de::DeserializeOwned>(
    table: &'static str,
    ids: Vec<String>,
    found: &HashMap<String, String>,
) -> Result<Found<T>, StorageError> {
    ids.into_iter()
        .map(|id| {
            let e = found.get(&id).map(|b| entity(table, &id, b)).transpose()?;
            Ok((id, e))
        })
        .collect()
}

impl Storage for Postgres {
    fn begin(&mut self, mine: u64) -> Result<News, StorageError> {
        let mut client = self.client()?;
        // (one round trip: the transaction and the turn)
        let started = client
            .client
            .simple_query("BEGIN; SELECT seq FROM seq_head FOR UPDATE");
        self.in_write.set(true);
        let result = started.map_err(StorageError::from).and_then(|messages| {
            let latest = messages
                .iter()
                .find_map(|m| match m {
                    postgres::SimpleQueryMessage::Row(r) => r.get(0)?.parse::<u64>().ok(),
                    _ => None,
                })
                .unwrap_or(0);
            news(&mut client, mine, latest, self.retain)
        });
        drop(client);
        if result.is_err() {
            let _ = self.end_write("ROLLBACK");
        }
        result
    }

    fn abort(&mut self) {
        if self.in_write.get() {
            let _ = self.end_write("ROLLBACK");
        }
    }

    fn news(&mut self, mine: u64) -> Result<News, StorageError> {
        let retain = self.retain;
        snapshot(&mut *self.client()?, |c| {
            let latest = head(c, "")?;
            news(c, mine, latest, retain)
        })
    }

    fn watch(&self, wake: Wake) {
        let config = self.config.clone();
        std::thread::Builder::new()
            .name("tasksync-listen".into())
            .spawn(move || listen(config, wake))
            .expect("spawn listening thread");
    }

    fn commit(
        &mut self,
        state: &State,
        tasks: &BTreeSet<String>,
        sessions: &BTreeSet<String>,
        events: &[(u64, String)],
        kept: &[(String, KeptAnswer)],
        prune: Option<(u64, i64)>,
    ) -> Result<(), StorageError> {
        debug_assert!(self.in_write.get(), "commit follows begin");
        let result = self.write(state, tasks, sessions, events, kept, prune);
        match result {
            Ok(()) => self.end_write("COMMIT"),
            Err(e) => {
                let _ = self.end_write("ROLLBACK");
                Err(e)
            }
        }
    }

    fn kept_answer(&self, key: &str, now: i64) -> Result<Option<KeptAnswer>, StorageError> {
        let row = self.client()?.query_opt(
            "SELECT request, at, kind, created, body FROM idempotency WHERE key = $1 AND at >= $2",
            &[&key, &(now - IDEMPOTENCY_RETAIN_MS)],
        )?;
        Ok(row.map(|r| KeptAnswer {
            request: r.get(0),
            at: r.get(1),
            kind: r.get::<_, i16>(2) as u8,
            created: r.get(3),
            body: r.get(4),
        }))
    }

    fn reload(&self) -> Result<State, StorageError> {
        snapshot(&mut *self.client()?, load_state)
    }

    fn tokens(&self) -> Result<Vec<String>, StorageError> {
        Ok(self
            .client()?
            .query("SELECT body FROM tokens ORDER BY id", &[])?
            .iter()
            .map(|r| r.get(0))
            .collect())
    }

    fn put_token(&mut self, id: &str, body: &str) -> Result<(), StorageError> {
        self.client()?.execute(
            "INSERT INTO tokens (id, body) VALUES ($1, $2) \
             ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body",
            &[&id, &body],
        )?;
        Ok(())
    }
}

impl Postgres {
    /// The statements of one commit, inside the write turn.
    fn write(
        &self,
        state: &State,
        tasks: &BTreeSet<String>,
        sessions: &BTreeSet<String>,
        events: &[(u64, String)],
        kept: &[(String, KeptAnswer)],
        prune: Option<(u64, i64)>,
    ) -> Result<(), StorageError> {
        // A few statements over arrays, whatever the batch's size: each
        // statement is a round trip, and round trips are what a write costs.
        let mut tx = self.client()?;
        let (task_rows, session_rows) = entity_rows(state, tasks, sessions);
        for (table, rows) in [("tasks", task_rows), ("sessions", session_rows)] {
            let (put, gone): (Vec<_>, Vec<_>) = rows.into_iter().partition(|r| r.1.is_some());
            if !put.is_empty() {
                let (ids, bodies): (Vec<&str>, Vec<String>) = put
                    .into_iter()
                    .map(|(id, b)| (id, b.unwrap_or_default()))
                    .unzip();
                tx.execute(
                    &format!(
                        "INSERT INTO {table} (id, body) SELECT * FROM unnest($1::text[], $2::text[]) \
                         ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body"
                    ),
                    &[&ids, &bodies],
                )?;
            }
            if !gone.is_empty() {
                let ids: Vec<&str> = gone.into_iter().map(|(id, _)| id).collect();
                tx.execute(&format!("DELETE FROM {table} WHERE id = ANY($1)"), &[&ids])?;
            }
        }
        if let Some((last, _)) = events.last() {
            let (seqs, bodies): (Vec<i64>, Vec<&str>) = events
                .iter()
                .map(|(seq, b)| (*seq as i64, b.as_str()))
                .unzip();
            tx.execute(
                "INSERT INTO events (seq, body) SELECT * FROM unnest($1::bigint[], $2::text[])",
                &[&seqs, &bodies],
            )?;
            let last = *last as i64;
            tx.execute(
                "WITH moved AS (UPDATE seq_head SET seq = $1) SELECT pg_notify($2, $3)",
                &[&last, &CHANNEL, &last.to_string()],
            )?;
        }
        if !kept.is_empty() {
            let keys: Vec<&str> = kept.iter().map(|(key, _)| key.as_str()).collect();
            let requests: Vec<&str> = kept.iter().map(|(_, k)| k.request.as_str()).collect();
            let ats: Vec<i64> = kept.iter().map(|(_, k)| k.at).collect();
            let kinds: Vec<i16> = kept.iter().map(|(_, k)| i16::from(k.kind)).collect();
            let created: Vec<bool> = kept.iter().map(|(_, k)| k.created).collect();
            let bodies: Vec<&str> = kept.iter().map(|(_, k)| k.body.as_str()).collect();
            tx.execute(
                "INSERT INTO idempotency (key, request, at, kind, created, body) \
                 SELECT * FROM unnest($1::text[], $2::text[], $3::bigint[], $4::smallint[], $5::boolean[], $6::text[]) \
                 ON CONFLICT (key) DO UPDATE SET request = EXCLUDED.request, at = EXCLUDED.at, \
                 kind = EXCLUDED.kind, created = EXCLUDED.created, body = EXCLUDED.body",
                &[&keys, &requests, &ats, &kinds, &created, &bodies],
            )?;
        }
        if let Some((through, now)) = prune {
            tx.execute("DELETE FROM events WHERE seq <= $1", &[&(through as i64)])?;
            tx.execute(
                "DELETE FROM idempotency WHERE at < $1",
                &[&(now - IDEMPOTENCY_RETAIN_MS)],
            )?;
        }
        Ok(())
    }
}

/// The listening thread: wakes the writer with the newest head it learns
/// of, from a notice or, when none comes for `POLL`, from a poll. A failed
/// poll or a closed connection means the connection is made again (at once,
/// then once a second while that fails) and the head read afresh. Ends when
/// `wake` says nobody listens any more.
fn listen(mut config: Config, wake: Wake) {
    config.application_name("tasksync-listen");
    // A poll that hangs on a dead network ends here, and the thread connects again.
    config.tcp_user_timeout(Duration::from_secs(2));
    config.keepalives_idle(Duration::from_secs(2));
    let mut failures = 0u32;
    loop {
        let mut client = match config.connect(NoTls).and_then(|mut c| {
            c.batch_execute(&format!("LISTEN {CHANNEL}"))?;
            Ok(c)
        }) {
            Ok(c) => Conn::new(c),
            Err(e) => {
                failures += 1;
                if failures == 1 {
                    tracing::warn!(error = %e, "cannot listen for other nodes' commits; retrying every second");
                }
                std::thread::sleep(Duration::from_secs(1));
                if !wake(0) {
                    return;
                }
                continue;
            }
        };
        if failures > 0 {
            tracing::info!("listening for other nodes' commits again");
        }
        failures = 0;
        let mut poll = true;
        let reason = loop {
            if poll {
                match head(&mut client, "") {
                    Ok(seen) if wake(seen) => {}
                    Ok(_) => return,
                    Err(e) => break e,
                }
            }
            let mut notices = client.client.notifications();
            // (None: no notice in time, or the connection closed; the poll tells which.)
            let mut newest = match notices.timeout_iter(POLL).next() {
                Ok(Some(n)) => n.payload().parse::<u64>().ok(),
                Ok(None) => {
                    poll = true;
                    continue;
                }
                Err(e) => break e.into(),
            };
            // Take every notice already here, then wake once.
            let mut ready = notices.iter();
            while let Ok(Some(n)) = ready.next() {
                newest = newest.max(n.payload().parse().ok());
            }
            poll = newest.is_none();
            if let Some(seen) = newest
                && !wake(seen)
            {
                return;
            }
        };
        tracing::warn!(error = %reason, "lost the connection that listens for other nodes' commits; connecting again");
    }
}

fn load_state(client: &mut Conn) -> Result<State, StorageError> {
    let mut rows = |sql: &str| -> Result<Vec<(String, String)>, StorageError> {
        Ok(client
            .query(sql, &[])?
            .iter()
            .map(|r| (r.get(0), r.get(1)))
            .collect())
    };
    let tasks = rows("SELECT id, body FROM tasks")?;
    let sessions = rows("SELECT id, body FROM sessions")?;
    state_from_rows(tasks, sessions)
}
