//! A client's copy of the server state: applies events exactly as the seed's
//! client handling does, guards against replays and stale payloads, makes the
//! seed's two optimistic changes with exact rollback, and decides the one
//! automatic transition. Plain Rust: the wasm `Store` and the CLI wrap it.

use crate::event::{Envelope, Event, SessionStatusPayload};
use crate::model::{Session, SessionProgress, SessionStatus, Task, TaskStatus};
use crate::wire::sort_listed;
use std::collections::{BTreeSet, HashMap, HashSet};

pub use crate::wire::Snapshot;

/// The auto-transition decision (the seed's only one): a `todo` task with a
/// `working` session should move to `inprogress`. Returns the version to send
/// as `If-Match`, so that with many clients deciding at once exactly one wins.
pub fn auto_transition(task: &Task) -> Option<u64> {
    (task.status == TaskStatus::Todo
        && task
            .session_progress
            .iter()
            .any(|p| p.status == SessionStatus::Working))
    .then_some(task.version)
}

/// What an optimistic change needs to be undone exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Undo {
    task_id: String,
    session_id: String,
    /// The task's version when the change was made; a newer server version wins over the undo.
    version: u64,
    /// Where the session stood in `sessionIds` and `sessionProgress` before (index and entry).
    id_at: Option<usize>,
    progress_at: Option<(usize, SessionProgress)>,
}

impl Undo {
    /// Where `session_id` stands on `task` now.
    fn capture(task: &Task, session_id: &str) -> Undo {
        Undo {
            task_id: task.id.clone(),
            session_id: session_id.to_owned(),
            version: task.version,
            id_at: task.session_ids.iter().position(|s| s == session_id),
            progress_at: task
                .session_progress
                .iter()
                .position(|p| p.session_id == session_id)
                .map(|i| (i, task.session_progress[i].clone())),
        }
    }
}

/// The replicated state, with the `seq` it reflects.
#[derive(Debug, Default, Clone)]
pub struct Replica {
    tasks: HashMap<String, Task>,
    sessions: HashMap<String, Session>,
    epoch: Option<String>,
    seq: u64,
    changed_tasks: BTreeSet<String>,
    changed_sessions: BTreeSet<String>,
    /// Auto-transitions already asked for, by (task, version), so each is asked once.
    asked: HashSet<(String, u64)>,
}

impl Replica {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn epoch(&self) -> Option<&str> {
        self.epoch.as_deref()
    }

    /// The seq of the last applied event (or of the snapshot).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    pub fn task(&self, id: &str) -> Option<&Task> {
        self.tasks.get(id)
    }

    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    /// Tasks in a stable order (creation time, then id), as the server lists them.
    pub fn tasks(&self) -> Vec<&Task> {
        let mut v: Vec<&Task> = self.tasks.values().collect();
        sort_listed(&mut v);
        v
    }

    /// Sessions in a stable order (creation time, then id).
    pub fn sessions(&self) -> Vec<&Session> {
        let mut v: Vec<&Session> = self.sessions.values().collect();
        sort_listed(&mut v);
        v
    }

    /// Replaces everything with a snapshot (the seed's full refetch).
    pub fn load_snapshot(&mut self, snap: Snapshot) {
        self.changed_tasks.extend(self.tasks.keys().cloned());
        self.changed_sessions.extend(self.sessions.keys().cloned());
        self.tasks = snap.tasks.into_iter().map(|t| (t.id.clone(), t)).collect();
        self.sessions = snap
            .sessions
            .into_iter()
            .map(|s| (s.id.clone(), s))
            .collect();
        self.changed_tasks.extend(self.tasks.keys().cloned());
        self.changed_sessions.extend(self.sessions.keys().cloned());
        self.epoch = Some(snap.epoch);
        self.seq = snap.seq;
    }

    /// Starts a new epoch's life (after a `resumed: false` hello from another
    /// epoch) — the snapshot that follows replaces the state.
    pub fn set_epoch(&mut self, epoch: &str) {
        if self.epoch.as_deref() != Some(epoch) {
            self.epoch = Some(epoch.to_owned());
            self.seq = 0;
        }
    }

    /// Applies one event. Returns false (and changes nothing) for an event
    /// already applied (`seq` at or below ours) or a payload older than what
    /// we hold (by `version`).
    pub fn apply(&mut self, env: Envelope) -> bool {
        if env.seq <= self.seq {
            return false;
        }
        self.seq = env.seq;
        match env.event {
            Event::TaskCreated { task } | Event::TaskUpdated { task } => self.put_task(task),
            Event::TaskDeleted { task_id } => {
                let had = self.tasks.remove(&task_id).is_some();
                if had {
                    self.changed_tasks.insert(task_id);
                }
                had
            }
            Event::TaskSessionStatus(p) => self.session_status(p),
            Event::SessionSpawn { session }
            | Event::SessionActive { session, .. }
            | Event::SessionStopped { session, .. }
            | Event::SessionFailed { session, .. }
            | Event::SessionUpdated { session } => self.put_session(session),
            Event::SessionDeleted { session_id } => {
                let had = self.sessions.remove(&session_id).is_some();
                if had {
                    self.changed_sessions.insert(session_id);
                }
                had
            }
        }
    }

    fn put_task(&mut self, task: Task) -> bool {
        if self
            .tasks
            .get(&task.id)
            .is_some_and(|t| t.version > task.version)
        {
            return false;
        }
        self.changed_tasks.insert(task.id.clone());
        self.tasks.insert(task.id.clone(), task);
        true
    }

    fn put_session(&mut self, session: Session) -> bool {
        if self
            .sessions
            .get(&session.id)
            .is_some_and(|s| s.version > session.version)
        {
            return false;
        }
        self.changed_sessions.insert(session.id.clone());
        self.sessions.insert(session.id.clone(), session);
        true
    }

    /// Takes a task from a write's response (version-guarded, seq untouched).
    pub fn observe_task(&mut self, task: Task) -> bool {
        self.put_task(task)
    }

    /// Takes a session from a write's response (version-guarded, seq untouched).
    pub fn observe_session(&mut self, session: Session) -> bool {
        self.put_session(session)
    }

    /// The seed's `task:session_status` handler, plus version, `updatedAt`
    /// and `sessionIds` as the server keeps them.
    fn session_status(&mut self, p: SessionStatusPayload) -> bool {
        let Some(task) = self.tasks.get_mut(&p.task_id) else {
            return false;
        };
        if task.version >= p.version {
            return false;
        }
        task.set_progress(&p.session_id, p.status, p.notes, &p.last_updated);
        task.version = p.version;
        task.updated_at = p.last_updated;
        self.changed_tasks.insert(p.task_id);
        true
    }

    /// The seed's `queueTaskForSession`, locally and at once. `None` if the
    /// task is unknown or nothing changes.
    pub fn queue_local(&mut self, task_id: &str, session_id: &str, now: &str) -> Option<Undo> {
        let task = self.tasks.get_mut(task_id)?;
        let undo = Undo::capture(task, session_id);
        if undo.id_at.is_some() && undo.progress_at.is_some() {
            return None;
        }
        if undo.id_at.is_none() {
            task.session_ids.push(session_id.to_owned());
        }
        if undo.progress_at.is_none() {
            task.session_progress.push(SessionProgress {
                session_id: session_id.to_owned(),
                status: SessionStatus::Queued,
                last_updated: now.to_owned(),
                notes: None,
            });
        }
        self.changed_tasks.insert(task_id.to_owned());
        Some(undo)
    }

    /// The seed's `removeSessionFromTask`, locally and at once.
    pub fn remove_local(&mut self, task_id: &str, session_id: &str) -> Option<Undo> {
        let task = self.tasks.get_mut(task_id)?;
        let undo = Undo::capture(task, session_id);
        if !task.remove_session(session_id) {
            return None;
        }
        self.changed_tasks.insert(task_id.to_owned());
        Some(undo)
    }

    /// Undoes an optimistic change the server refused: the session's place
    /// in `sessionIds` and its progress entry are put back exactly as they
    /// were — unless the server has since sent a newer version of the task,
    /// which is the truth and stays.
    pub fn rollback(&mut self, undo: Undo) -> bool {
        let Some(task) = self.tasks.get_mut(&undo.task_id) else {
            return false;
        };
        if task.version != undo.version {
            return false;
        }
        task.session_ids.retain(|s| s != &undo.session_id);
        task.session_progress
            .retain(|p| p.session_id != undo.session_id);
        if let Some(i) = undo.id_at {
            task.session_ids
                .insert(i.min(task.session_ids.len()), undo.session_id.clone());
        }
        if let Some((i, entry)) = undo.progress_at {
            task.session_progress
                .insert(i.min(task.session_progress.len()), entry);
        }
        self.changed_tasks.insert(undo.task_id);
        true
    }

    /// Ids changed since the last call (tasks, sessions), and forgets them.
    pub fn take_changes(&mut self) -> (Vec<String>, Vec<String>) {
        (
            std::mem::take(&mut self.changed_tasks)
                .into_iter()
                .collect(),
            std::mem::take(&mut self.changed_sessions)
                .into_iter()
                .collect(),
        )
    }

    /// True if anything changed since the last `take_changes`.
    pub fn has_changes(&self) -> bool {
        !self.changed_tasks.is_empty() || !self.changed_sessions.is_empty()
    }

    /// Auto-transitions to ask for among `task_ids` (each (task, version) once):
    /// `(task id, If-Match version)`.
    pub fn auto_transitions<'a>(
        &mut self,
        task_ids: impl IntoIterator<Item = &'a String>,
    ) -> Vec<(String, u64)> {
        let mut out = Vec::new();
        for id in task_ids {
            if let Some(version) = self.tasks.get(id).and_then(auto_transition)
                && self.asked.insert((id.clone(), version))
            {
                out.push((id.clone(), version));
            }
        }
        out
    }

    /// Forgets that an auto-transition was asked for (the request never
    /// reached the server), so the next resync decides it again.
    pub fn forget_auto_transition(&mut self, task_id: &str, version: u64) {
        self.asked.remove(&(task_id.to_owned(), version));
    }

    /// Auto-transitions to ask for among all tasks (after a resync).
    pub fn all_auto_transitions(&mut self) -> Vec<(String, u64)> {
        let ids: Vec<String> = self.tasks.keys().cloned().collect();
        self.auto_transitions(&ids)
    }
}

#[cfg(test)]
mod tests;

/// Fully populated entities (every optional field set), for tests.
#[cfg(test)]
pub(crate) mod tests_support {
    use crate::model::*;

    pub fn full_task() -> Task {
        Task {
            id: "t".into(),
            title: "T".into(),
            description: Some("d".into()),
            status: TaskStatus::Todo,
            priority: Priority::High,
            session_ids: vec![],
            session_progress: vec![],
            parent_id: Some("p".into()),
            project_id: Some("proj".into()),
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 1,
        }
    }

    pub fn full_session() -> Session {
        Session {
            id: "s".into(),
            name: Some("n".into()),
            status: SessionLifecycle::Failed,
            task_ids: vec!["t".into()],
            project_id: Some("proj".into()),
            spawn_source: SpawnSource::Session,
            error: Some("e".into()),
            created_at: "c".into(),
            updated_at: "u".into(),
            version: 1,
        }
    }
}
