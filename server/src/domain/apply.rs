//! `apply`: one command against the state. It validates first and mutates
//! only when the whole command is valid, so a refused command leaves the
//! state exactly as it was; it returns the reply, the events to commit and
//! the entities to persist. No I/O here.

use super::command::{Clock, Command, Outcome};
use super::error::DomainError;
use super::state::State;
use super::{sessions, tasks};

/// Applies `cmd` to `state`. On `Err`, `state` is unchanged.
pub fn apply(
    state: &mut State,
    cmd: Command,
    clock: &mut dyn Clock,
) -> Result<Outcome, DomainError> {
    match cmd {
        Command::CreateTask(new) => tasks::create_task(state, new, clock),
        Command::UpdateTask {
            id,
            patch,
            if_match,
        } => tasks::update_task(state, &id, patch, if_match, clock),
        Command::DeleteTask { id } => tasks::delete_task(state, &id, clock),
        Command::QueueTask {
            task_id,
            session_id,
        } => tasks::queue_task(state, &task_id, &session_id, clock),
        Command::RemoveSession {
            task_id,
            session_id,
        } => tasks::remove_session(state, &task_id, &session_id, clock),
        Command::SetSessionStatus {
            task_id,
            session_id,
            status,
            notes,
        } => tasks::set_session_status(state, &task_id, &session_id, status, notes, clock),
        Command::CreateSession(new) => sessions::create_session(state, new, clock),
        Command::Lifecycle { id, to, error } => sessions::lifecycle(state, &id, to, error, clock),
        Command::DeleteSession { id } => sessions::delete_session(state, &id, clock),
        Command::Seen {
            session_id,
            at,
            stale,
        } => sessions::seen(state, &session_id, at, stale, clock),
    }
}
