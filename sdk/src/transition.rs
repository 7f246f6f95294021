//! Which status transitions are allowed (docs/openapi.json, `TaskStatus`). The server enforces
//! these; clients use them to offer only allowed choices.

use crate::model::{SessionLifecycle, SessionStatus, TaskStatus};
use std::fmt;

/// A refused transition, naming what would have been allowed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what} cannot go from `{from}` to `{to}`; allowed from `{from}`: {}", list(.allowed))]
pub struct TransitionError {
    /// What was being changed ("task status", "session lifecycle", "session status").
    pub what: &'static str,
    pub from: String,
    pub to: String,
    pub allowed: Vec<String>,
}

fn list(allowed: &[String]) -> String {
    if allowed.is_empty() {
        "none".to_owned()
    } else {
        allowed.join(", ")
    }
}

fn refuse<T: fmt::Display>(
    what: &'static str,
    from: impl fmt::Display,
    to: T,
    allowed: &[T],
) -> TransitionError {
    TransitionError {
        what,
        from: from.to_string(),
        to: to.to_string(),
        allowed: allowed.iter().map(ToString::to_string).collect(),
    }
}

impl TaskStatus {
    /// Targets reachable from this status by a user.
    pub fn allowed_targets(self) -> &'static [TaskStatus] {
        use TaskStatus::*;
        match self {
            Todo => &[Inprogress, Completed, Cancelled],
            Inprogress => &[Completed, Todo, Cancelled],
            Completed => &[Inprogress],
            Cancelled => &[Todo],
        }
    }

    /// `Ok(false)` for a no-op (same status), `Ok(true)` for an allowed change.
    pub fn check_transition(self, to: TaskStatus) -> Result<bool, TransitionError> {
        if self == to {
            Ok(false)
        } else if self.allowed_targets().contains(&to) {
            Ok(true)
        } else {
            Err(refuse("task status", self, to, self.allowed_targets()))
        }
    }
}

impl SessionLifecycle {
    /// Targets reachable from this lifecycle state (`spawning` again is a restart).
    pub fn allowed_targets(self) -> &'static [SessionLifecycle] {
        use SessionLifecycle::*;
        match self {
            Spawning => &[Active, Failed],
            Active => &[Stopped, Failed],
            Stopped | Failed => &[Spawning],
        }
    }

    /// `Ok(false)` for a no-op (same state), `Ok(true)` for an allowed change.
    pub fn check_transition(self, to: SessionLifecycle) -> Result<bool, TransitionError> {
        if self == to {
            Ok(false)
        } else if self.allowed_targets().contains(&to) {
            Ok(true)
        } else {
            Err(refuse(
                "session lifecycle",
                self,
                to,
                self.allowed_targets(),
            ))
        }
    }
}

impl SessionStatus {
    /// Targets reachable from `from` (`None`: the session has no entry on the task yet).
    pub fn allowed_targets(from: Option<SessionStatus>) -> &'static [SessionStatus] {
        use SessionStatus::*;
        match from {
            None => &[Queued, Working],
            Some(Queued) => &[Working, Cancelled],
            Some(Working) => &[Completed, Blocked, NeedsInput, Failed, Cancelled],
            Some(Blocked | NeedsInput | Failed) => &[Working, Cancelled],
            Some(Completed) => &[Cancelled],
            Some(Cancelled) => &[],
        }
    }

    /// `Ok(false)` for a no-op (same status), `Ok(true)` for an allowed change.
    pub fn check_transition(
        from: Option<SessionStatus>,
        to: SessionStatus,
    ) -> Result<bool, TransitionError> {
        if from == Some(to) {
            Ok(false)
        } else if Self::allowed_targets(from).contains(&to) {
            Ok(true)
        } else {
            let name = from.map_or("none", SessionStatus::as_str);
            Err(refuse(
                "session status",
                name,
                to,
                Self::allowed_targets(from),
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;
    use TaskStatus as T;

    #[test]
    fn task_transitions_match_the_spec_exactly() {
        let allowed = [
            (T::Todo, T::Inprogress),
            (T::Todo, T::Completed),
            (T::Todo, T::Cancelled),
            (T::Inprogress, T::Completed),
            (T::Inprogress, T::Todo),
            (T::Inprogress, T::Cancelled),
            (T::Completed, T::Inprogress),
            (T::Cancelled, T::Todo),
        ];
        for &from in T::ALL {
            for &to in T::ALL {
                let got = from.check_transition(to);
                if from == to {
                    assert_eq!(got, Ok(false));
                } else if allowed.contains(&(from, to)) {
                    assert_eq!(got, Ok(true), "{from}->{to}");
                } else {
                    let e = got.unwrap_err();
                    assert_eq!(e.allowed.len(), from.allowed_targets().len());
                    assert!(
                        e.to_string().contains(&format!("allowed from `{from}`")),
                        "{e}"
                    );
                }
            }
        }
    }

    #[test]
    fn lifecycle_transitions_match_the_spec_exactly() {
        use SessionLifecycle as L;
        let allowed = [
            (L::Spawning, L::Active),
            (L::Spawning, L::Failed),
            (L::Active, L::Stopped),
            (L::Active, L::Failed),
            (L::Failed, L::Spawning),
            (L::Stopped, L::Spawning),
        ];
        for &from in L::ALL {
            for &to in L::ALL {
                let ok = from.check_transition(to);
                assert_eq!(
                    ok.is_ok(),
                    from == to || allowed.contains(&(from, to)),
                    "{from}->{to}"
                );
            }
        }
    }

    #[test]
    fn session_status_transitions_match_the_spec_exactly() {
        let mut allowed = vec![
            (None, S::Queued),
            (None, S::Working),
            (Some(S::Queued), S::Working),
            (Some(S::Working), S::Completed),
            (Some(S::Working), S::Blocked),
            (Some(S::Working), S::NeedsInput),
            (Some(S::Working), S::Failed),
            (Some(S::Blocked), S::Working),
            (Some(S::NeedsInput), S::Working),
            (Some(S::Failed), S::Working),
        ];
        for &s in S::ALL {
            if s != S::Cancelled {
                allowed.push((Some(s), S::Cancelled));
            }
        }
        let froms = std::iter::once(None).chain(S::ALL.iter().copied().map(Some));
        for from in froms {
            for &to in S::ALL {
                let got = S::check_transition(from, to);
                let expect = from == Some(to) || allowed.contains(&(from, to));
                assert_eq!(got.is_ok(), expect, "{from:?}->{to}");
                if let Err(e) = got {
                    assert_eq!(e.from, from.map_or("none", S::as_str));
                }
            }
        }
        let e = S::check_transition(Some(S::Queued), S::Blocked).unwrap_err();
        assert_eq!(
            e.to_string(),
            "session status cannot go from `queued` to `blocked`; allowed from `queued`: working, cancelled"
        );
    }
}
