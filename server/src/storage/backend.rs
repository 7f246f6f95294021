//! What every storage backend provides (`Storage`) and the types it trades in.

use crate::domain::state::State;
use std::collections::BTreeSet;
use std::sync::Arc;
use tasksync_sdk::{Session, Task};

/// Errors opening or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error("corrupt row in `{table}` ({id}): {source}")]
    Corrupt {
        table: &'static str,
        id: String,
        source: serde_json::Error,
    },
}

/// What the database held when it was opened.
#[derive(Debug)]
pub struct Loaded {
    pub epoch: String,
    pub state: State,
    pub head: u64,
    /// The newest retained events, oldest first, as `(seq, json)`.
    pub events: Vec<(u64, String)>,
}

/// How long an `Idempotency-Key` and its first answer are kept (24 h).
pub const IDEMPOTENCY_RETAIN_MS: i64 = 24 * 60 * 60 * 1000;

/// The first successful answer to a request that carried an
/// `Idempotency-Key`, stored in the transaction of its change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeptAnswer {
    /// Which request the key was first used for (method and path).
    pub request: String,
    /// Milliseconds since the Unix epoch.
    pub at: i64,
    /// 0 task, 1 session, 2 deleted.
    pub kind: u8,
    pub created: bool,
    /// The entity's JSON as it was answered (empty for a delete).
    pub body: String,
}

/// What other nodes on the same database committed after this node's head.
#[derive(Debug, Default)]
pub enum News {
    /// Nothing.
    #[default]
    None,
    /// The next events in seq order (`(seq, json)`, starting at head + 1)
    /// and, as they are after the last of them, the rows they touched
    /// (`None` where the entity is gone).
    Events {
        events: Vec<(u64, String)>,
        tasks: Vec<(String, Option<Arc<Task>>)>,
        sessions: Vec<(String, Option<Arc<Session>>)>,
    },
    /// This node fell further behind than the retained events reach: the
    /// whole state again, with the newest retained events.
    Gap(Loaded),
}

/// Called by a backend's watcher with the newest head it has seen committed;
/// returns false once nobody listens any more (the watcher then stops).
pub type Wake = Box<dyn Fn(u64) -> bool + Send>;

/// What the writer needs of a database. Only the writer thread calls it
/// (and `watch`'s thread calls the `Wake` it is given).
///
/// A write is `begin`, then reads of kept answers, then `commit` or
/// `abort`. On a database that many nodes share, `begin` takes the
/// database-wide write turn (held until the commit or abort) and brings the
/// news from other nodes, so that commands are checked against the latest
/// state and seqs follow commit order. A database only this node writes
/// (SQLite) has no news, and the defaults say so.
pub trait Storage: Send {
    /// Starts a write at this node's `head`.
    fn begin(&mut self, _head: u64) -> Result<News, StorageError> {
        Ok(News::None)
    }

    /// Ends a write begun with `begin` without writing.
    fn abort(&mut self) {}

    /// What other nodes committed after `head`, outside any write.
    fn news(&mut self, _head: u64) -> Result<News, StorageError> {
        Ok(News::None)
    }

    /// Starts watching for commits of other nodes, calling `wake` with the
    /// newest head seen (at once, on every notice, and on each poll).
    fn watch(&self, _wake: Wake) {}

    /// Writes one batch and ends the write: the given entities as they are
    /// in `state` (deleted where absent), the events, the kept answers of
    /// idempotent requests, and with `prune` = `(seq, ms)` drops events at
    /// or below `seq` and kept answers older than 24 h before `ms`. Returns
    /// once the commit is durable.
    fn commit(
        &mut self,
        state: &State,
        tasks: &BTreeSet<String>,
        sessions: &BTreeSet<String>,
        events: &[(u64, String)],
        kept: &[(String, KeptAnswer)],
        prune: Option<(u64, i64)>,
    ) -> Result<(), StorageError>;

    /// The kept answer for `key`, if it is younger than 24 h at `now` (ms).
    fn kept_answer(&self, key: &str, now: i64) -> Result<Option<KeptAnswer>, StorageError>;

    /// The state as committed (after a failed commit).
    fn reload(&self) -> Result<State, StorageError>;

    /// Every stored access token's record (JSON; the token's hash, never
    /// the token).
    fn tokens(&self) -> Result<Vec<String>, StorageError>;

    /// Stores a token's record (new, or changed: revoked), durably.
    fn put_token(&mut self, id: &str, body: &str) -> Result<(), StorageError>;
}

/// The state from its rows (`(id, JSON)` of tasks, then of sessions), as
/// every backend stores it.
pub fn state_from_rows(
    tasks: Vec<(String, String)>,
    sessions: Vec<(String, String)>,
) -> Result<State, StorageError> {
    let mut state = State::default();
    for (id, body) in tasks {
        let task = entity("tasks", &id, &body)?;
        state.tasks.insert(id, task);
    }
    for (id, body) in sessions {
        let session = entity("sessions", &id, &body)?;
        state.sessions.insert(id, session);
    }
    Ok(state)
}

/// One entity from its row.
pub fn entity<T: serde::de::DeserializeOwned>(
    table: &'static str,
    id: &str,
    body: &str,
) -> Result<Arc<T>, StorageError> {
    serde_json::from_str(body)
        .map(Arc::new)
        .map_err(|source| StorageError::Corrupt {
            table,
            id: id.to_owned(),
            source,
        })
}

/// The ids of the task and session rows an event (its JSON envelope) was
/// written with, added to `tasks` and `sessions`.
pub fn touched(
    seq: u64,
    json: &str,
    tasks: &mut BTreeSet<String>,
    sessions: &mut BTreeSet<String>,
) -> Result<(), StorageError> {
    let event = serde_json::from_str::<tasksync_sdk::Envelope>(json)
        .map_err(|source| StorageError::Corrupt {
            table: "events",
            id: seq.to_string(),
            source,
        })?
        .event;
    tasks.extend(event.task_id().map(str::to_owned));
    sessions.extend(event.session_id().map(str::to_owned));
    Ok(())
}

/// The rows a commit writes: each named entity's JSON as it is in `state`,
/// or `None` where it is gone (tasks, then sessions).
pub type Rows<'a> = Vec<(&'a str, Option<String>)>;

pub fn entity_rows<'a>(
    state: &State,
    tasks: &'a BTreeSet<String>,
    sessions: &'a BTreeSet<String>,
) -> (Rows<'a>, Rows<'a>) {
    let task_rows = tasks
        .iter()
        .map(|id| {
            let body = state
                .tasks
                .get(id)
                .map(|t| serde_json::to_string(&**t).expect("task serializes"));
            (id.as_str(), body)
        })
        .collect();
    let session_rows = sessions
        .iter()
        .map(|id| {
            let body = state
                .sessions
                .get(id)
                .map(|s| serde_json::to_string(&**s).expect("session serializes"));
            (id.as_str(), body)
        })
        .collect();
    (task_rows, session_rows)
}
