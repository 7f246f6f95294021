//! The in-memory copy of all tasks and sessions. The writer thread owns one
//! (its working copy, ahead of the disk by at most one uncommitted batch);
//! readers share another that the writer updates only after each commit.

use std::collections::HashMap;
use std::sync::Arc;
use tasksync_sdk::wire::sort_listed;
use tasksync_sdk::{Session, Task};

/// All entities, keyed by id. Values are `Arc`s so the writer's copy and the
/// readers' copy share unchanged entities.
#[derive(Debug, Default, Clone)]
pub struct State {
    pub tasks: HashMap<String, Arc<Task>>,
    pub sessions: HashMap<String, Arc<Session>>,
}

/// What readers see: the state as of the committed head `seq`.
#[derive(Debug, Default)]
pub struct View {
    pub state: State,
    pub seq: u64,
}

impl State {
    /// Copies the given entities from `from` (or removes them where `from`
    /// no longer has them).
    pub fn copy_from(&mut self, from: &State, tasks: &[String], sessions: &[String]) {
        for id in tasks {
            match from.tasks.get(id) {
                Some(t) => self.tasks.insert(id.clone(), t.clone()),
                None => self.tasks.remove(id),
            };
        }
        for id in sessions {
            match from.sessions.get(id) {
                Some(s) => self.sessions.insert(id.clone(), s.clone()),
                None => self.sessions.remove(id),
            };
        }
    }

    /// Tasks in a stable order (creation time, then id).
    pub fn tasks_sorted(&self, project_id: Option<&str>) -> Vec<&Task> {
        let mut v: Vec<&Task> = self
            .tasks
            .values()
            .map(AsRef::as_ref)
            .filter(|t| project_id.is_none() || t.project_id.as_deref() == project_id)
            .collect();
        sort_listed(&mut v);
        v
    }

    /// Sessions in a stable order (creation time, then id).
    pub fn sessions_sorted(&self, project_id: Option<&str>) -> Vec<&Session> {
        let mut v: Vec<&Session> = self
            .sessions
            .values()
            .map(AsRef::as_ref)
            .filter(|s| project_id.is_none() || s.project_id.as_deref() == project_id)
            .collect();
        sort_listed(&mut v);
        v
    }
}
