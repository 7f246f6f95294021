//! What every storage backend provides (`Storage`) and the types it trades in.

use crate::domain::state::State;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Errors opening or using the database.
#[derive(Debug, thiserror::Error)]
pub enum StorageError {
    #[error("database error: {0}")]
    Sqlite(#[from] rusqlite::Error),
    #[error("PostgreSQL error: {0}")]
    Postgres(#[from] postgres::Error),
    #[error(
        "another tasksync node is serving this database (one node per PostgreSQL database for now)"
    )]
    InUse,
    #[error("corrupt row in `{table}` ({id}): {source}")]
    Corrupt {
        table: &'static str,
        id: String,
        source: serde_json::Error,
    },
}

/// What the database held when it was opened.
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

/// What the writer needs of a database. Only the writer thread calls it.
pub trait Storage: Send {
    /// Writes one batch in one transaction: the given entities as they are
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
}

/// The state from its rows (`(id, JSON)` of tasks, then of sessions), as
/// every backend stores it.
pub fn state_from_rows(
    tasks: Vec<(String, String)>,
    sessions: Vec<(String, String)>,
) -> Result<State, StorageError> {
    let mut state = State::default();
    for (id, body) in tasks {
        let task = serde_json::from_str(&body).map_err(|source| StorageError::Corrupt {
            table: "tasks",
            id: id.clone(),
            source,
        })?;
        state.tasks.insert(id, Arc::new(task));
    }
    for (id, body) in sessions {
        let s = serde_json::from_str(&body).map_err(|source| StorageError::Corrupt {
            table: "sessions",
            id: id.clone(),
            source,
        })?;
        state.sessions.insert(id, Arc::new(s));
    }
    Ok(state)
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
