//! What the rules of `tasks` and `sessions` share: input checks, fresh ids,
//! the version bump, and the progress and session bookkeeping a task change
//! carries with it.

use super::command::{Clock, MAX_TEXT, Outcome};
use super::error::DomainError;
use super::state::State;
use std::sync::Arc;
use tasksync_sdk::id::is_valid_id;
use tasksync_sdk::{Event, Session, SessionStatus, SessionStatusPayload, Task};

/// A change to an entity: its version grows by one and `updatedAt` is the
/// change's time (every write goes through this).
pub(super) trait Bump {
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

pub(super) fn check_id(field: &str, id: &str) -> Result<(), DomainError> {
    if is_valid_id(id) {
        Ok(())
    } else {
        Err(DomainError::validation(
            field,
            format!("`{field}` must be 1-128 characters of A-Z a-z 0-9 . _ : -"),
        ))
    }
}

pub(super) fn check_text(field: &str, text: &str, required: bool) -> Result<(), DomainError> {
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

pub(super) fn check_opt_id(field: &str, id: Option<&String>) -> Result<(), DomainError> {
    id.map_or(Ok(()), |id| check_id(field, id))
}

pub(super) fn fresh_id(
    taken: impl Fn(&str) -> bool,
    prefix: &str,
    clock: &mut dyn Clock,
) -> String {
    loop {
        let id = clock.new_id(prefix);
        if !taken(&id) {
            return id;
        }
    }
}

/// Bumps a session's version after `change` modified it; returns its event.
pub(super) fn touch_session(
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

pub(super) fn session_status_event(task: &Task, session_id: &str) -> Event {
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
pub(super) fn progress_change(
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
    next.set_progress(session_id, status, notes.as_deref(), now);
    next.bump(now.to_owned());
    out.events.push(session_status_event(&next, session_id));
    *task = Arc::new(next);
    out.tasks.push(task_id.to_owned());
    if let Some(e) = touch_session(state, session_id, now, |s| s.add_task(task_id)) {
        out.events.push(e);
        out.sessions.push(session_id.to_owned());
    }
}

/// The task `id` as it is now, or `not_found`.
pub(super) fn task_of<'a>(state: &'a State, id: &str) -> Result<&'a Arc<Task>, DomainError> {
    state
        .tasks
        .get(id)
        .ok_or_else(|| DomainError::task_not_found(id))
}

/// The session `id` as it is now, or `not_found`.
pub(super) fn session_of<'a>(state: &'a State, id: &str) -> Result<&'a Arc<Session>, DomainError> {
    state
        .sessions
        .get(id)
        .ok_or_else(|| DomainError::session_not_found(id))
}
