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
use postgres::{Client, Config, NoTls};
use std::cell::{Cell, RefCell};
use std::collections::BTreeSet;
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

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// The writer's connection to the database. (In a `RefCell`: the trait
/// reads through `&self`, and only the writer thread ever holds it.)
pub struct Postgres {
    client: RefCell<Client>,
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
    fn client(&self) -> Result<std::cell::RefMut<'_, Client>, StorageError> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() && !self.in_write.get() {
            tracing::warn!("the PostgreSQL connection was lost; connecting again");
            *client = connect(&self.config)?;
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
    client: &mut Client,
    read: impl FnOnce(&mut Client) -> Result<T, StorageError>,
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
fn load(client: &mut Client, retain: usize) -> Result<Loaded, StorageError> {
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
fn head(client: &mut Client, lock: &str) -> Result<u64, StorageError> {
    let seq: i64 = client
        .query_one(&format!("SELECT seq FROM seq_head{lock}"), &[])?
        .get(0);
    Ok(seq as u64)
}

/// What was committed after `mine`, up to `latest`: the events and the rows
/// they touched (read in the caller's snapshot or write turn).
fn news(client: &mut Client, mine: u64, latest: u64, retain: usize) -> Result<News, StorageError> {
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
        let found: std::collections::HashMap<String, String> =
            found.iter().map(|r| (r.get(0), r.get(1))).collect();
        Ok::<_, StorageError>((ids, found))
    };
    let (task_ids, task_rows) = rows("tasks", task_ids)?;
    let (session_ids, session_rows) = rows("sessions", session_ids)?;
    let tasks = task_ids
        .into_iter()
        .map(|id| {
            let t = task_rows
                .get(&id)
                .map(|b| entity("tasks", &id, b))
                .transpose()?;
            Ok((id, t))
        })
        .collect::<Result<_, StorageError>>()?;
    let sessions = session_ids
        .into_iter()
        .map(|id| {
            let s = session_rows
                .get(&id)
                .map(|b| entity("sessions", &id, b))
                .transpose()?;
            Ok((id, s))
        })
        .collect::<Result<_, StorageError>>()?;
    Ok(News::Events {
        events,
        tasks,
        sessions,
    })
}

impl Storage for Postgres {
    fn begin(&mut self, mine: u64) -> Result<News, StorageError> {
        let mut client = self.client()?;
        client.batch_execute("BEGIN")?;
        self.in_write.set(true);
        let result = head(&mut client, " FOR UPDATE")
            .and_then(|latest| news(&mut client, mine, latest, self.retain));
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
        let mut tx = self.client()?;
        let (task_rows, session_rows) = entity_rows(state, tasks, sessions);
        for (table, rows) in [("tasks", task_rows), ("sessions", session_rows)] {
            let put = tx.prepare(&format!(
                "INSERT INTO {table} (id, body) VALUES ($1, $2) \
                 ON CONFLICT (id) DO UPDATE SET body = EXCLUDED.body"
            ))?;
            let del = tx.prepare(&format!("DELETE FROM {table} WHERE id = $1"))?;
            for (id, body) in rows {
                match body {
                    Some(body) => tx.execute(&put, &[&id, &body])?,
                    None => tx.execute(&del, &[&id])?,
                };
            }
        }
        let put_event = tx.prepare("INSERT INTO events (seq, body) VALUES ($1, $2)")?;
        for (seq, body) in events {
            tx.execute(&put_event, &[&(*seq as i64), body])?;
        }
        if let Some((last, _)) = events.last() {
            let last = *last as i64;
            tx.execute("UPDATE seq_head SET seq = $1", &[&last])?;
            tx.execute("SELECT pg_notify($1, $2)", &[&CHANNEL, &last.to_string()])?;
        }
        let put_kept = tx.prepare(
            "INSERT INTO idempotency (key, request, at, kind, created, body) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (key) DO UPDATE SET request = EXCLUDED.request, at = EXCLUDED.at, \
             kind = EXCLUDED.kind, created = EXCLUDED.created, body = EXCLUDED.body",
        )?;
        for (key, k) in kept {
            let kind = i16::from(k.kind);
            tx.execute(
                &put_kept,
                &[key, &k.request, &k.at, &kind, &k.created, &k.body],
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
            Ok(c) => c,
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
            let mut notices = client.notifications();
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

fn load_state(client: &mut Client) -> Result<State, StorageError> {
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
