//! SQLite on disk: entities as JSON rows, the event log, and the epoch.
//! WAL with `synchronous=FULL`, so a committed transaction survives a crash
//! or power cut. Only the writer thread writes.

use super::backend::{
    IDEMPOTENCY_RETAIN_MS, KeptAnswer, Loaded, Storage, StorageError, entity_rows, state_from_rows,
};
use crate::domain::state::State;
use rusqlite::{Connection, OptionalExtension, params};
use std::collections::BTreeSet;
use std::path::Path;

/// The open SQLite database.
pub struct Sqlite {
    conn: Connection,
}

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tasks (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sessions (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS events (seq INTEGER PRIMARY KEY, body TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS idempotency (
  key TEXT PRIMARY KEY, request TEXT NOT NULL, at INTEGER NOT NULL,
  kind INTEGER NOT NULL, created INTEGER NOT NULL, body TEXT NOT NULL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS idempotency_at ON idempotency (at);
CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, body TEXT NOT NULL) WITHOUT ROWID;
";

impl Sqlite {
    /// Opens (or creates) the database at `path`, keeping `retain` events.
    /// A new database gets a new random epoch.
    pub fn open(path: &Path, retain: usize) -> Result<(Sqlite, Loaded), StorageError> {
        let conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "FULL")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.execute_batch(SCHEMA)?;
        let epoch: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'epoch'", [], |r| {
                r.get(0)
            })
            .optional()?;
        let epoch = match epoch {
            Some(e) => e,
            None => {
                let e = uuid::Uuid::new_v4().simple().to_string();
                conn.execute("INSERT INTO meta (key, value) VALUES ('epoch', ?1)", [&e])?;
                e
            }
        };
        let state = load_state(&conn)?;
        let head: u64 =
            conn.query_row("SELECT COALESCE(MAX(seq), 0) FROM events", [], |r| r.get(0))?;
        let mut stmt = conn.prepare("SELECT seq, body FROM events WHERE seq > ?1 ORDER BY seq")?;
        let since = head.saturating_sub(retain as u64);
        let events = stmt
            .query_map([since], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<Vec<_>, _>>()?;
        drop(stmt);
        Ok((
            Sqlite { conn },
            Loaded {
                epoch,
                state,
                head,
                events,
            },
        ))
    }
}

impl Storage for Sqlite {
    /// Writes one batch in one transaction: the given entities as they are
    /// in `state` (deleted where absent), the events, the kept answers of
    /// idempotent requests, and with `prune` = `(seq, ms)` drops events at
    /// or below `seq` and kept answers older than 24 h before `ms`. Returns once the commit is durable.
    fn commit(
        &mut self,
        state: &State,
        tasks: &BTreeSet<String>,
        sessions: &BTreeSet<String>,
        events: &[(u64, String)],
        kept: &[(String, KeptAnswer)],
        prune: Option<(u64, i64)>,
    ) -> Result<(), StorageError> {
        let tx = self
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
        {
            let (task_rows, session_rows) = entity_rows(state, tasks, sessions);
            for (table, rows) in [("tasks", task_rows), ("sessions", session_rows)] {
                let mut put = tx.prepare_cached(&format!(
                    "INSERT OR REPLACE INTO {table} (id, body) VALUES (?1, ?2)"
                ))?;
                let mut del = tx.prepare_cached(&format!("DELETE FROM {table} WHERE id = ?1"))?;
                for (id, body) in rows {
                    match body {
                        Some(body) => put.execute(params![id, body])?,
                        None => del.execute([id])?,
                    };
                }
            }
            let mut put_event =
                tx.prepare_cached("INSERT INTO events (seq, body) VALUES (?1, ?2)")?;
            for (seq, body) in events {
                put_event.execute(params![seq, body])?;
            }
            let mut put_kept = tx.prepare_cached(
                "INSERT OR REPLACE INTO idempotency (key, request, at, kind, created, body) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            for (key, k) in kept {
                put_kept.execute(params![key, k.request, k.at, k.kind, k.created, k.body])?;
            }
            if let Some((through, now)) = prune {
                tx.execute("DELETE FROM events WHERE seq <= ?1", [through])?;
                tx.execute(
                    "DELETE FROM idempotency WHERE at < ?1",
                    [now - IDEMPOTENCY_RETAIN_MS],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn tokens(&self) -> Result<Vec<String>, StorageError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT body FROM tokens ORDER BY id")?;
        Ok(stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<Vec<String>, _>>()?)
    }

    fn put_token(&mut self, id: &str, body: &str) -> Result<(), StorageError> {
        self.conn.execute(
            "INSERT OR REPLACE INTO tokens (id, body) VALUES (?1, ?2)",
            params![id, body],
        )?;
        Ok(())
    }

    /// The kept answer for an `Idempotency-Key`, if it is younger than 24 h.
    fn kept_answer(&self, key: &str, now: i64) -> Result<Option<KeptAnswer>, StorageError> {
        let mut stmt = self.conn.prepare_cached(
            "SELECT request, at, kind, created, body FROM idempotency WHERE key = ?1 AND at >= ?2",
        )?;
        Ok(stmt
            .query_row(params![key, now - IDEMPOTENCY_RETAIN_MS], |r| {
                Ok(KeptAnswer {
                    request: r.get(0)?,
                    at: r.get(1)?,
                    kind: r.get(2)?,
                    created: r.get(3)?,
                    body: r.get(4)?,
                })
            })
            .optional()?)
    }

    /// Reads the entities back, after a failed commit left memory ahead of disk.
    fn reload(&self) -> Result<State, StorageError> {
        load_state(&self.conn)
    }
}

fn load_state(conn: &Connection) -> Result<State, StorageError> {
    state_from_rows(
        rows(conn, "SELECT id, body FROM tasks")?,
        rows(conn, "SELECT id, body FROM sessions")?,
    )
}

fn rows(conn: &Connection, sql: &str) -> rusqlite::Result<Vec<(String, String)>> {
    let mut stmt = conn.prepare(sql)?;
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use tasksync_sdk::{Priority, Task, TaskStatus};

    fn task(id: &str) -> Arc<Task> {
        Arc::new(Task {
            id: id.into(),
            title: "t".into(),
            description: None,
            status: TaskStatus::Todo,
            priority: Priority::Low,
            session_ids: vec![],
            session_progress: vec![],
            parent_id: None,
            project_id: None,
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 1,
        })
    }

    #[test]
    fn reopening_keeps_epoch_head_entities_and_the_retained_tail() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.db");
        let (mut db, loaded) = Sqlite::open(&path, 3).unwrap();
        assert_eq!((loaded.head, loaded.events.len()), (0, 0));
        let epoch = loaded.epoch;
        let mut state = State::default();
        state.tasks.insert("a".into(), task("a"));
        let ids: BTreeSet<String> = ["a".to_owned()].into();
        let events: Vec<(u64, String)> = (1..=5).map(|s| (s, format!("{{\"seq\":{s}}}"))).collect();
        db.commit(&state, &ids, &BTreeSet::new(), &events, &[], Some((2, 0)))
            .unwrap();
        state.tasks.clear();
        db.commit(
            &state,
            &ids,
            &BTreeSet::new(),
            &[(6, "{}".into())],
            &[],
            None,
        )
        .unwrap();
        drop(db);
        let (_, loaded) = Sqlite::open(&path, 3).unwrap();
        assert_eq!(loaded.epoch, epoch);
        assert_eq!(loaded.head, 6);
        assert!(loaded.state.tasks.is_empty(), "the delete was persisted");
        assert_eq!(
            loaded.events.iter().map(|e| e.0).collect::<Vec<_>>(),
            [4, 5, 6]
        );
        let (_, other) = Sqlite::open(&dir.path().join("other.db"), 3).unwrap();
        assert_ne!(other.epoch, epoch);
    }

    #[test]
    fn kept_answers_are_durable_and_expire_after_a_day() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.db");
        let (mut db, _) = Sqlite::open(&path, 10).unwrap();
        let kept = KeptAnswer {
            request: "POST /api/tasks".into(),
            at: 1_000,
            kind: 0,
            created: true,
            body: "{}".into(),
        };
        let none = BTreeSet::new();
        db.commit(
            &State::default(),
            &none,
            &none,
            &[],
            &[("k".into(), kept.clone())],
            None,
        )
        .unwrap();
        drop(db);
        let (mut db, _) = Sqlite::open(&path, 10).unwrap();
        assert_eq!(db.kept_answer("k", 2_000).unwrap(), Some(kept.clone()));
        assert_eq!(db.kept_answer("other", 2_000).unwrap(), None);
        let day = IDEMPOTENCY_RETAIN_MS;
        assert_eq!(
            db.kept_answer("k", 1_000 + day + 1).unwrap(),
            None,
            "expired"
        );
        // pruning removes it from disk
        db.commit(
            &State::default(),
            &none,
            &none,
            &[],
            &[],
            Some((0, 1_000 + day + 1)),
        )
        .unwrap();
        assert_eq!(db.kept_answer("k", 1_000).unwrap(), None);
    }
}
