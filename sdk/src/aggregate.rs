//! The aggregate session status of a task, derived for display.

use crate::model::{SessionProgress, SessionStatus};
use serde::{Deserialize, Serialize};

/// The one-word summary of all sessions' progress on a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AggregateStatus {
    NoSessions,
    NeedsInput,
    Blocked,
    Working,
    Queued,
    AllCompleted,
    AllFailed,
}

impl AggregateStatus {
    /// The value as it appears in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            AggregateStatus::NoSessions => "no_sessions",
            AggregateStatus::NeedsInput => "needs_input",
            AggregateStatus::Blocked => "blocked",
            AggregateStatus::Working => "working",
            AggregateStatus::Queued => "queued",
            AggregateStatus::AllCompleted => "all_completed",
            AggregateStatus::AllFailed => "all_failed",
        }
    }
}

/// `no_sessions` without entries; else the first of needs_input,
/// blocked, working, queued that any entry has; else `all_completed` or
/// `all_failed` when every entry is; else `working`.
pub fn aggregate_status(progress: &[SessionProgress]) -> AggregateStatus {
    if progress.is_empty() {
        return AggregateStatus::NoSessions;
    }
    let any = |s: SessionStatus| progress.iter().any(|p| p.status == s);
    let all = |s: SessionStatus| progress.iter().all(|p| p.status == s);
    for (s, a) in [
        (SessionStatus::NeedsInput, AggregateStatus::NeedsInput),
        (SessionStatus::Blocked, AggregateStatus::Blocked),
        (SessionStatus::Working, AggregateStatus::Working),
        (SessionStatus::Queued, AggregateStatus::Queued),
    ] {
        if any(s) {
            return a;
        }
    }
    if all(SessionStatus::Completed) {
        AggregateStatus::AllCompleted
    } else if all(SessionStatus::Failed) {
        AggregateStatus::AllFailed
    } else {
        AggregateStatus::Working
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SessionStatus as S;

    fn agg(statuses: &[S]) -> AggregateStatus {
        let progress: Vec<_> = statuses
            .iter()
            .enumerate()
            .map(|(i, &status)| SessionProgress {
                session_id: format!("s{i}"),
                status,
                last_updated: String::new(),
                notes: None,
            })
            .collect();
        aggregate_status(&progress)
    }

    #[test]
    fn aggregate_follows_the_precedence() {
        use AggregateStatus as A;
        assert_eq!(agg(&[]), A::NoSessions);
        assert_eq!(agg(&[S::Working, S::Blocked, S::NeedsInput]), A::NeedsInput);
        assert_eq!(agg(&[S::Working, S::Blocked]), A::Blocked);
        assert_eq!(agg(&[S::Queued, S::Working]), A::Working);
        assert_eq!(agg(&[S::Queued, S::Completed]), A::Queued);
        assert_eq!(agg(&[S::Completed, S::Completed]), A::AllCompleted);
        assert_eq!(agg(&[S::Failed]), A::AllFailed);
        assert_eq!(agg(&[S::Completed, S::Failed]), A::Working);
        assert_eq!(agg(&[S::Cancelled]), A::Working);
        assert_eq!(
            serde_json::to_string(&A::AllCompleted).unwrap(),
            "\"all_completed\""
        );
    }
}
