//! Every write the API offers, as a command applied to the writer's state.
//! `apply` validates first and mutates only when the whole command is valid,
//! so a refused command leaves the state exactly as it was; it returns the
//! reply, the events to commit and the entities to persist. No I/O here.

use super::error::DomainError;
use super::state::State;
use std::sync::Arc;
use tasksync_sdk::id::is_valid_id;
use tasksync_sdk::{
    Event, Session, SessionLifecycle, SessionStatus, SessionStatusPayload, SpawnSource, Task,
    TaskStatus,
};

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
    fn reply(reply: Reply) -> Self {
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

/// A change to an entity: its version grows by one and `updatedAt` is the
/// change's time (every write goes through this).
trait Bump {
    fn bump(&mut self, at: String);
}

macro_rules! bump_for {
    ($($entity:ty),*) => {$(
        impl Bump for $entity {
            fn bump(&mut self, at: String) {
                self.version += 1;
                self.updated_at = at;
            }
        }
    )*};
}
bump_for!(Task, Session);

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

fn check_id(field: &str, id: &str) -> Result<(), DomainError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(DomainError::validation(
            field,
            format!("`{field}` must be 1-128 characters of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

fn check_text(field: &str, text: &str, required: bool) -> Result<(), DomainError> {
    if required && text.trim().is_empty() {
        return Err(DomainError::validation(
            field,
            format!("`{field}` must not be empty"),
        ));
    }
    if text.chars().count() > MAX_TEXT {
        return Err(DomainError::validation(
            field,
            format!("`{field}` is longer than {MAX_TEXT} characters"),
        ));
    }
    Ok(())
}

fn check_opt_id(field: &str, id: Option<&String>) -> Result<(), DomainError> {
    id.map_or(Ok(()), |id| check_id(field, id))
}

/// Applies `cmd` to `state`. On `Err`, `state` is unchanged.
pub fn apply(
    state: &mut State,
    cmd: Command,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    match cmd {
        Command::CreateTask(new) => create_task(state, new, clock),
        Command::UpdateTask {
            id,
            patch,
            if_match,
        } => update_task(state, &id, patch, if_match, clock),
        Command::DeleteTask { id } => delete_task(state, &id, clock),
        Command::QueueTask {
            task_id,
            session_id,
        } => queue_task(state, &task_id, &session_id, clock),
        Command::RemoveSession {
            task_id,
            session_id,
        } => remove_session(state, &task_id, &session_id, clock),
        Command::SetSessionStatus {
            task_id,
            session_id,
            status,
            notes,
        } => set_session_status(state, &task_id, &session_id, status, notes, clock),
        Command::CreateSession(new) => create_session(state, new, clock),
        Command::Lifecycle { id, to, error } => lifecycle(state, &id, to, error, clock),
        Command::DeleteSession { id } => delete_session(state, &id, clock),
    }
}

fn fresh_id(taken: impl Fn(&str) -> bool, prefix: &str, clock: &mut dyn Clock) -> String {
    loop {
        let id = clock.new_id(prefix);
        if !taken(&id) {
            return id;
        }
    }
}

fn create_task(
    state: &mut State,
    new: NewTask,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    check_opt_id("id", new.id.as_ref())?;
    check_text("title", &new.title, true)?;
    if let Some(d) = &new.description {
        check_text("description", d, false)?;
    }
    check_opt_id("parentId", new.parent_id.as_ref())?;
    check_opt_id("projectId", new.project_id.as_ref())?;
    let id = match new.id {
        Some(id) if state.tasks.contains_key(&id) => {
            return Err(DomainError::conflict(format!(
                "a task with id `{id}` already exists"
            )));
        }
        Some(id) => id,
        None => fresh_id(|id| state.tasks.contains_key(id), "task", clock),
    };
    if new.parent_id.as_deref() == Some(id.as_str()) {
        return Err(
            DomainError::conflict("a task cannot be its own parent (`parentId`)")
                .with_field("parentId"),
        );
    }
    let now = clock.now();
    let task = Arc::new(Task {
        id: id.clone(),
        title: new.title,
        description: new.description,
        status: new.status.unwrap_or(TaskStatus::Todo),
        priority: new.priority.unwrap_or_default(),
        session_ids: vec![],
        session_progress: vec![],
        parent_id: new.parent_id,
        project_id: new.project_id,
        created_at: now.clone(),
        updated_at: now,
        version: 1,
    });
    state.tasks.insert(id.clone(), task.clone());
    Ok(Outcome {
        events: vec![Event::TaskCreated {
            task: (*task).clone(),
        }],
        reply: Some(Reply::Task(task)),
        created: true,
        tasks: vec![id],
        sessions: vec![],
    })
}

fn update_task(
    state: &mut State,
    id: &str,
    patch: TaskPatch,
    if_match: Option<u64>,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    let current = state
        .tasks
        .get(id)
        .ok_or_else(|| DomainError::task_not_found(id))?;
    let mut next = (**current).clone();
    if let Some(title) = patch.title {
        check_text("title", &title, true)?;
        next.title = title;
    }
    if let Some(description) = patch.description {
        if let Some(d) = &description {
            check_text("description", d, false)?;
        }
        next.description = description;
    }
    if let Some(parent) = patch.parent_id {
        check_opt_id("parentId", parent.as_ref())?;
        if parent.as_deref() == Some(id) {
            return Err(
                DomainError::conflict("a task cannot be its own parent (`parentId`)")
                    .with_field("parentId"),
            );
        }
        next.parent_id = parent;
    }
    if let Some(project) = patch.project_id {
        check_opt_id("projectId", project.as_ref())?;
        next.project_id = project;
    }
    if let Some(priority) = patch.priority {
        next.priority = priority;
    }
    // The precondition comes after the request's own checks and before
    // anything that depends on the task's state (RFC 9110, 13.2.1).
    if let Some(v) = if_match
        && v != current.version
    {
        return Err(DomainError::precondition_failed(format!(
            "task `{id}` is at version {}, not {v}; fetch it again and retry",
            current.version
        )));
    }
    if let Some(status) = patch.status {
        current.status.check_transition(status)?;
        next.status = status;
    }
    if next == **current {
        return Ok(Outcome::reply(Reply::Task(current.clone())));
    }
    next.bump(clock.now());
    let next = Arc::new(next);
    state.tasks.insert(id.to_owned(), next.clone());
    Ok(Outcome {
        events: vec![Event::TaskUpdated {
            task: (*next).clone(),
        }],
        reply: Some(Reply::Task(next)),
        tasks: vec![id.to_owned()],
        ..Default::default()
    })
}

/// Bumps a session's version after `change` modified it; returns its event.
fn touch_session(
    state: &mut State,
    id: &str,
    now: &str,
    change: impl FnOnce(&mut Session) -> bool,
) -> Option<Event> {
    let s = state.sessions.get_mut(id)?;
    let mut next = (**s).clone();
    if !change(&mut next) {
        return None;
    }
    next.bump(now.to_owned());
    let event = Event::SessionUpdated {
        session: next.clone(),
    };
    *s = Arc::new(next);
    Some(event)
}

fn delete_task(state: &mut State, id: &str, clock: &mut dyn Clock) -> Result<Outcome, DomainError> {
    let task = state
        .tasks
        .remove(id)
        .ok_or_else(|| DomainError::task_not_found(id))?;
    let now = clock.now();
    let mut out = Outcome {
        reply: Some(Reply::Deleted),
        tasks: vec![id.to_owned()],
        ..Default::default()
    };
    out.events.push(Event::TaskDeleted {
        task_id: id.to_owned(),
    });
    for sid in &task.session_ids {
        if let Some(e) = touch_session(state, sid, &now, |s| s.remove_task(id)) {
            out.events.push(e);
            out.sessions.push(sid.clone());
        }
    }
    Ok(out)
}

fn session_status_event(task: &Task, session_id: &str) -> Event {
    let p = task.progress(session_id).expect("progress entry just set");
    Event::TaskSessionStatus(SessionStatusPayload {
        task_id: task.id.clone(),
        session_id: session_id.to_owned(),
        status: p.status,
        notes: p.notes.clone(),
        last_updated: p.last_updated.clone(),
        version: task.version,
    })
}

/// Sets a session's progress on a task (both must exist and the change must
/// be valid), keeping `sessionIds` and the session's `taskIds` in step.
fn progress_change(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    status: SessionStatus,
    notes: Option<String>,
    now: &str,
    out: &mut Outcome,
) {
    let task = state.tasks.get_mut(task_id).expect("task checked");
    let mut next = (**task).clone();
    next.set_progress(session_id, status, notes, now);
    next.bump(now.to_owned());
    out.events.push(session_status_event(&next, session_id));
    *task = Arc::new(next);
    out.tasks.push(task_id.to_owned());
    if let Some(e) = touch_session(state, session_id, now, |s| s.add_task(task_id)) {
        out.events.push(e);
        out.sessions.push(session_id.to_owned());
    }
}

fn queue_task(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    check_id("sessionId", session_id)?;
    let task = state
        .tasks
        .get(task_id)
        .ok_or_else(|| DomainError::task_not_found(task_id))?
        .clone();
    if !state.sessions.contains_key(session_id) {
        return Err(DomainError::session_not_found(session_id));
    }
    if task.progress(session_id).is_some() {
        return Ok(Outcome::reply(Reply::Task(task)));
    }
    let now = clock.now();
    let mut out = Outcome::default();
    progress_change(
        state,
        task_id,
        session_id,
        SessionStatus::Queued,
        None,
        &now,
        &mut out,
    );
    out.reply = Some(Reply::Task(state.tasks[task_id].clone()));
    Ok(out)
}

fn set_session_status(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    status: SessionStatus,
    notes: Option<String>,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    if let Some(n) = &notes {
        check_text("notes", n, false)?;
    }
    let task = state
        .tasks
        .get(task_id)
        .ok_or_else(|| DomainError::task_not_found(task_id))?
        .clone();
    if !state.sessions.contains_key(session_id) {
        return Err(DomainError::session_not_found(session_id));
    }
    let current = task.progress(session_id);
    let changes = SessionStatus::check_transition(current.map(|p| p.status), status)?;
    if !changes && current.map(|p| &p.notes) == Some(&notes) {
        return Ok(Outcome::reply(Reply::Task(task)));
    }
    let now = clock.now();
    let mut out = Outcome::default();
    progress_change(state, task_id, session_id, status, notes, &now, &mut out);
    out.reply = Some(Reply::Task(state.tasks[task_id].clone()));
    Ok(out)
}

fn remove_session(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    let task = state
        .tasks
        .get(task_id)
        .ok_or_else(|| DomainError::task_not_found(task_id))?;
    let mut next = (**task).clone();
    if !next.remove_session(session_id) {
        return Err(DomainError::not_found(format!(
            "session `{session_id}` is not on task `{task_id}`"
        )));
    }
    let now = clock.now();
    next.bump(now.clone());
    let next = Arc::new(next);
    state.tasks.insert(task_id.to_owned(), next.clone());
    let mut out = Outcome {
        events: vec![Event::TaskUpdated {
            task: (*next).clone(),
        }],
        reply: Some(Reply::Task(next)),
        tasks: vec![task_id.to_owned()],
        ..Default::default()
    };
    if let Some(e) = touch_session(state, session_id, &now, |s| s.remove_task(task_id)) {
        out.events.push(e);
        out.sessions.push(session_id.to_owned());
    }
    Ok(out)
}

fn create_session(
    state: &mut State,
    new: NewSession,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    check_opt_id("id", new.id.as_ref())?;
    check_opt_id("projectId", new.project_id.as_ref())?;
    if let Some(n) = &new.name {
        check_text("name", n, false)?;
    }
    let mut task_ids: Vec<String> = Vec::with_capacity(new.task_ids.len());
    for t in new.task_ids {
        check_id("taskIds", &t)?;
        if !state.tasks.contains_key(&t) {
            return Err(DomainError::task_not_found(&t).with_field("taskIds"));
        }
        if !task_ids.contains(&t) {
            task_ids.push(t);
        }
    }
    let id = match new.id {
        Some(id) if state.sessions.contains_key(&id) => {
            return Err(DomainError::conflict(format!(
                "a session with id `{id}` already exists"
            )));
        }
        Some(id) => id,
        None => fresh_id(|id| state.sessions.contains_key(id), "session", clock),
    };
    let now = clock.now();
    let session = Session {
        id: id.clone(),
        name: new.name,
        status: SessionLifecycle::Spawning,
        task_ids: task_ids.clone(),
        project_id: new.project_id,
        spawn_source: new.spawn_source.unwrap_or(SpawnSource::Ui),
        error: None,
        created_at: now.clone(),
        updated_at: now.clone(),
        version: 1,
    };
    state.sessions.insert(id.clone(), Arc::new(session.clone()));
    let mut out = Outcome {
        created: true,
        sessions: vec![id.clone()],
        ..Default::default()
    };
    out.events.push(Event::SessionSpawn { session });
    for t in &task_ids {
        if state.tasks[t].progress(&id).is_none() {
            // The session already lists the task, so only the task changes.
            progress_change(state, t, &id, SessionStatus::Queued, None, &now, &mut out);
        }
    }
    out.reply = Some(Reply::Session(state.sessions[&id].clone()));
    Ok(out)
}

fn lifecycle(
    state: &mut State,
    id: &str,
    to: SessionLifecycle,
    error: Option<String>,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    if let Some(e) = &error {
        check_text("error", e, false)?;
    }
    let current = state
        .sessions
        .get(id)
        .ok_or_else(|| DomainError::session_not_found(id))?;
    if !current.status.check_transition(to)? {
        return Ok(Outcome::reply(Reply::Session(current.clone())));
    }
    let mut next = (**current).clone();
    next.status = to;
    next.error = if to == SessionLifecycle::Failed {
        error.clone()
    } else {
        None
    };
    next.bump(clock.now());
    let session = next.clone();
    let session_id = id.to_owned();
    let event = match to {
        SessionLifecycle::Spawning => Event::SessionSpawn { session },
        SessionLifecycle::Active => Event::SessionActive {
            session_id,
            session,
        },
        SessionLifecycle::Stopped => Event::SessionStopped {
            session_id,
            session,
        },
        SessionLifecycle::Failed => Event::SessionFailed {
            session_id,
            error,
            session,
        },
    };
    let next = Arc::new(next);
    state.sessions.insert(id.to_owned(), next.clone());
    Ok(Outcome {
        events: vec![event],
        reply: Some(Reply::Session(next)),
        sessions: vec![id.to_owned()],
        ..Default::default()
    })
}

fn delete_session(
    state: &mut State,
    id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    state
        .sessions
        .remove(id)
        .ok_or_else(|| DomainError::session_not_found(id))?;
    let now = clock.now();
    let mut out = Outcome {
        reply: Some(Reply::Deleted),
        sessions: vec![id.to_owned()],
        ..Default::default()
    };
    out.events.push(Event::SessionDeleted {
        session_id: id.to_owned(),
    });
    // Scan every task rather than trusting `taskIds`, so a session can never
    // be left behind on a task.
    let mut touched: Vec<String> = state
        .tasks
        .values()
        .filter(|t| t.session_ids.iter().any(|s| s == id) || t.progress(id).is_some())
        .map(|t| t.id.clone())
        .collect();
    touched.sort();
    for t in touched {
        let task = state.tasks.get_mut(&t).expect("listed above");
        let mut next = (**task).clone();
        next.remove_session(id);
        next.bump(now.clone());
        out.events.push(Event::TaskUpdated { task: next.clone() });
        *task = Arc::new(next);
        out.tasks.push(t);
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
