//! The rules of every task write: create, update (with `If-Match`), delete,
//! queue a session, set a session's status, remove a session.

use super::command::{Clock, NewTask, Outcome, Reply, TaskPatch};
use super::error::DomainError;
use super::rules::*;
use super::state::State;
use std::sync::Arc;
use tasksync_sdk::{Event, SessionStatus, Task, TaskStatus};

pub(super) fn create_task(
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

pub(super) fn update_task(
    state: &mut State,
    id: &str,
    patch: TaskPatch,
    if_match: Option<u64>,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    let current = task_of(state, id)?;
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

pub(super) fn delete_task(
    state: &mut State,
    id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
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

pub(super) fn queue_task(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    check_id("sessionId", session_id)?;
    let task = task_of(state, task_id)?.clone();
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

pub(super) fn set_session_status(
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
    let task = task_of(state, task_id)?.clone();
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

pub(super) fn remove_session(
    state: &mut State,
    task_id: &str,
    session_id: &str,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    let task = task_of(state, task_id)?;
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
