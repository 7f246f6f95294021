//! The rules of every session write: create (queuing it on its tasks),
//! lifecycle changes, delete (removing it from its tasks).

use super::command::{Clock, NewSession, Outcome, Reply};
use super::error::DomainError;
use super::rules::*;
use super::state::State;
use std::sync::Arc;
use tasksync_sdk::{Event, Session, SessionLifecycle, SessionStatus, SpawnSource};

pub(super) fn create_session(
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
        last_seen_at: Some(now.clone()),
        stale: false,
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

pub(super) fn lifecycle(
    state: &mut State,
    id: &str,
    to: SessionLifecycle,
    error: Option<String>,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    if let Some(e) = &error {
        check_text("error", e, false)?;
    }
    let current = session_of(state, id)?;
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
    let now = clock.now();
    // A lifecycle step is a sign of life (and a stopped session is not stale).
    next.last_seen_at = Some(now.clone());
    next.stale = false;
    next.bump(now);
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

/// Liveness: a newer `lastSeenAt` and the stale flag; no change, no event.
pub(super) fn seen(
    state: &mut State,
    id: &str,
    at: Option<String>,
    stale: bool,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    let current = session_of(state, id)?;
    let newer = at.filter(|at| current.last_seen_at.as_deref() < Some(at.as_str()));
    if newer.is_none() && current.stale == stale {
        return Ok(Outcome::reply(Reply::Session(current.clone())));
    }
    let mut next = (**current).clone();
    if let Some(at) = newer {
        next.last_seen_at = Some(at);
    }
    next.stale = stale;
    next.bump(clock.now());
    let next = Arc::new(next);
    state.sessions.insert(id.to_owned(), next.clone());
    Ok(Outcome {
        events: vec![Event::SessionUpdated {
            session: (*next).clone(),
        }],
        reply: Some(Reply::Session(next)),
        sessions: vec![id.to_owned()],
        ..Default::default()
    })
}

pub(super) fn delete_session(
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
