//! Every write the API offers, as a command for the writer (the rules that
//! apply one are in `domain::apply`, `tasks` and `sessions`), its reply and
//! outcome, and the clock the rules read.

use std::sync::Arc;
use tasksync_sdk::{Event, Session, SessionLifecycle, SessionStatus, Task};

/// Longest title, session name, notes or error text accepted, in characters.
pub const MAX_TEXT: usize = 10_000;

pub use tasksync_sdk::wire::{NewSession, NewTask, TaskPatch};

/// A write, as the writer thread receives it.
#[derive(Debug, Clone)]
pub enum Command {
    CreateTask(NewTask),
    UpdateTask {
        id: String,
        patch: TaskPatch,
        if_match: Option<u64>,
    },
    DeleteTask {
        id: String,
    },
    QueueTask {
        task_id: String,
        session_id: String,
    },
    RemoveSession {
        task_id: String,
        session_id: String,
    },
    SetSessionStatus {
        task_id: String,
        session_id: String,
        status: SessionStatus,
        notes: Option<String>,
    },
    CreateSession(NewSession),
    Lifecycle {
        id: String,
        to: SessionLifecycle,
        error: Option<String>,
    },
    DeleteSession {
        id: String,
    },
    /// Liveness, from the server's own bookkeeping of heartbeats (not a
    /// request): the session was last heard from at `at` (`None`: as
    /// stored) and is, or is no longer, `stale`.
    Seen {
        session_id: String,
        at: Option<String>,
        stale: bool,
    },
}

/// What a successful command answers.
#[derive(Debug, Clone)]
pub enum Reply {
    Task(Arc<Task>),
    Session(Arc<Session>),
    Deleted,
}

/// The result of applying one command.
#[derive(Debug, Default)]
pub struct Outcome {
    pub reply: Option<Reply>,
    pub created: bool,
    pub events: Vec<Event>,
    pub tasks: Vec<String>,
    pub sessions: Vec<String>,
}

impl Outcome {
    pub(super) fn reply(reply: Reply) -> Self {
        Outcome {
            reply: Some(reply),
            ..Default::default()
        }
    }
}

/// Makes fresh ids and timestamps; injected so tests are deterministic.
pub trait Clock {
    fn now(&mut self) -> String;
    fn new_id(&mut self, prefix: &str) -> String;
}

/// The real clock: RFC 3339 UTC milliseconds and random ids.
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&mut self) -> String {
        chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
    }
    fn new_id(&mut self, prefix: &str) -> String {
        let hex = uuid::Uuid::new_v4().simple().to_string();
        format!("{prefix}-{}", &hex[..16])
    }
}
