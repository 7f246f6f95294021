//! PostgreSQL (`--db postgres://…`): the same rows as SQLite, in the same
//! shape, behind the same trait. A commit is one transaction; PostgreSQL's
//! default `synchronous_commit = on` makes it durable when it returns. The
//! schema is created on start. One node per database for now: `seq` is
//! assigned by this node's writer, as with SQLite, and a second node on the
//! same database is refused at start (an advisory lock).

use super::backend::{
    IDEMPOTENCY_RETAIN_MS, KeptAnswer, Loaded, Storage, StorageError, entity_rows, state_from_rows,
};
use crate::domain::state::State;
use postgres::{Client, NoTls};
use std::cell::RefCell;
use std::collections::BTreeSet;

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
";

/// The advisory lock a serving node holds ("tasksync" in ASCII).
const NODE_LOCK: i64 = 0x7461_736b_7379_6e63;

/// Whether `db` names a PostgreSQL database rather than a SQLite file.
pub fn is_url(db: &str) -> bool {
    db.starts_with("postgres://") || db.starts_with("postgresql://")
}

/// An open connection to the database. (In a `RefCell`: the trait reads
/// through `&self`, and only the writer thread ever holds it.)
pub struct Postgres {
    client: RefCell<Client>,
    url: String,
}

impl Postgres {
    /// Connects to `url`, creates the schema if it is missing, and loads the
    /// state and the newest `retain` events. A new database gets a new epoch.
    pub fn open(url: &str, retain: usize) -> Result<(Postgres, Loaded), StorageError> {
        let mut client = connect(url)?;
        client.batch_execute(SCHEMA)?;
        let fresh = uuid::Uuid::new_v4().simple().to_string();
        // (ON CONFLICT: two nodes starting at once agree on one epoch)
        client.execute(
            "INSERT INTO meta (key, value) VALUES ('epoch', $1) ON CONFLICT (key) DO NOTHING",
            &[&fresh],
        )?;
        let epoch: String = client
            .query_one("SELECT value FROM meta WHERE key = 'epoch'", &[])?
            .get(0);
        let state = load_state(&mut client)?;
        let head: i64 = client
            .query_one("SELECT COALESCE(MAX(seq), 0) FROM events", &[])?
            .get(0);
        let since = (head as u64).saturating_sub(retain as u64) as i64;
        let events = client
            .query(
                "SELECT seq, body FROM events WHERE seq > $1 ORDER BY seq",
                &[&since],
            )?
            .iter()
            .map(|r| (r.get::<_, i64>(0) as u64, r.get::<_, String>(1)))
            .collect();
        Ok((
            Postgres {
                client: RefCell::new(client),
                url: url.to_owned(),
            },
            Loaded {
                epoch,
                state,
                head: head as u64,
                events,
            },
        ))
    }
}

impl Postgres {
    /// The connection, connected again first if it was lost (the database
    /// restarted, or the connection was killed): the write that saw it go
    /// was refused (503) and nothing was committed; the next one goes ahead.
    fn client(&self) -> Result<std::cell::RefMut<'_, Client>, StorageError> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() {
            tracing::warn!("the PostgreSQL connection was lost; connecting again");
            *client = connect(&self.url)?;
        }
        Ok(client)
    }
}

/// Connects and takes the node lock. One node per database for now: this
/// connection holds a session lock for as long as the node runs, and a
/// second node is refused. (Tried for a few seconds: a node that just
/// stopped may not have been seen to disconnect yet, as in a quick restart.)
fn connect(url: &str) -> Result<Client, StorageError> {
    let mut client = Client::connect(url, NoTls)?;
    let mut tries = 0;
    while !client
        .query_one("SELECT pg_try_advisory_lock($1)", &[&NODE_LOCK])?
        .get::<_, bool>(0)
    {
        tries += 1;
        if tries == 50 {
            return Err(StorageError::InUse);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    Ok(client)
}

impl Storage for Postgres {
    fn commit(
        &mut self,
        state: &State,
        tasks: &BTreeSet<String>,
        sessions: &BTreeSet<String>,
        events: &[(u64, String)],
        kept: &[(String, KeptAnswer)],
        prune: Option<(u64, i64)>,
    ) -> Result<(), StorageError> {
        let mut client = self.client()?;
        let mut tx = client.transaction()?;
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
        tx.commit()?;
        Ok(())
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
        load_state(&mut *self.client()?)
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
