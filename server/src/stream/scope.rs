//! Which project an event belongs to, for project-scoped streams
//! (`/ws?projectId=P`). The writer works it out as it publishes, from the
//! event and from what the task was just before (`Scoper`); a connection
//! scoped to P then sends an event whose task or session is in P, turns one
//! whose task just left P into a removal (`task:deleted` for that task), and
//! skips the rest.

use crate::domain::state::View;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use tasksync_sdk::Event;

/// An event's place among projects.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Scope {
    /// Not worked out (events read back at start): a scoped resume over it
    /// resyncs instead.
    #[default]
    Unknown,
    Known {
        /// The project of its task or session (after the event).
        project: Option<Arc<str>>,
        /// The project its task left with this event, if it moved.
        left: Option<Arc<str>>,
    },
}

/// What a connection scoped to one project does with an event.
#[derive(Debug, PartialEq, Eq)]
pub enum Delivery {
    Send,
    /// Its task left the project: send a removal instead.
    Exit,
    Skip,
    Unknown,
}

impl Scope {
    pub fn for_project(&self, want: &str) -> Delivery {
        match self {
            Scope::Unknown => Delivery::Unknown,
            Scope::Known { project, .. } if project.as_deref() == Some(want) => Delivery::Send,
            Scope::Known { left, .. } if left.as_deref() == Some(want) => Delivery::Exit,
            Scope::Known { .. } => Delivery::Skip,
        }
    }
}

/// Works out the scope of a batch's events in order: what each task was
/// before comes from the readers' view (the state before the batch) unless
/// an earlier event of the batch moved it.
pub struct Scoper {
    view: Arc<RwLock<View>>,
    tasks: HashMap<String, Option<Arc<str>>>,
}

impl Scoper {
    pub fn new(view: Arc<RwLock<View>>) -> Scoper {
        Scoper {
            view,
            tasks: HashMap::new(),
        }
    }

    /// Forget what the batch moved (after the view was replaced wholesale).
    pub fn reset(&mut self) {
        self.tasks.clear();
    }

    fn task_project(&self, id: &str) -> Option<Arc<str>> {
        match self.tasks.get(id) {
            Some(p) => p.clone(),
            None => {
                let view = self.view.read().expect("view lock");
                view.state
                    .tasks
                    .get(id)
                    .and_then(|t| t.project_id.as_deref().map(Arc::from))
            }
        }
    }

    pub fn scope(&mut self, event: &Event) -> Scope {
        let known = |project: Option<Arc<str>>| Scope::Known {
            project,
            left: None,
        };
        match event {
            Event::TaskCreated { task } | Event::TaskUpdated { task } => {
                let before = self.task_project(&task.id);
                let now: Option<Arc<str>> = task.project_id.as_deref().map(Arc::from);
                self.tasks.insert(task.id.clone(), now.clone());
                let left = before.filter(|b| now.as_ref() != Some(b));
                Scope::Known { project: now, left }
            }
            Event::TaskDeleted { task_id } => {
                let before = self.task_project(task_id);
                self.tasks.insert(task_id.clone(), None);
                known(before)
            }
            Event::TaskSessionStatus(p) => known(self.task_project(&p.task_id)),
            Event::SessionSpawn { session }
            | Event::SessionActive { session, .. }
            | Event::SessionStopped { session, .. }
            | Event::SessionFailed { session, .. }
            | Event::SessionUpdated { session } => {
                known(session.project_id.as_deref().map(Arc::from))
            }
            Event::SessionDeleted { session_id } => {
                let view = self.view.read().expect("view lock");
                known(
                    view.state
                        .sessions
                        .get(session_id)
                        .and_then(|s| s.project_id.as_deref().map(Arc::from)),
                )
            }
        }
    }
}

/// The removal a scoped connection gets for a task that left its project.
pub fn exit_frame(task_id: &str, seq: u64) -> String {
    serde_json::json!({"type": "task:deleted", "payload": {"taskId": task_id}, "seq": seq})
        .to_string()
}
