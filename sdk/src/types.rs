//! The TypeScript declarations of the model, shipped in the npm package's
//! `.d.ts`. A native test checks them against what serde actually emits.

/// The declarations (also included by the wasm bindings).
pub const TYPESCRIPT: &str = include_str!("types.d.ts");

#[cfg(test)]
mod tests {
    use super::TYPESCRIPT;
    use crate::model::*;
    use crate::{AggregateStatus, Event};

    /// The body of `export interface <name> { ... }`.
    fn interface(name: &str) -> &'static str {
        let start = TYPESCRIPT
            .find(&format!("export interface {name} {{"))
            .unwrap_or_else(|| panic!("no interface {name}"));
        let body = &TYPESCRIPT[start..];
        &body[..body.find("\n}").unwrap_or(body.len())]
    }

    fn union(name: &str) -> &'static str {
        let start = TYPESCRIPT
            .find(&format!("export type {name} ="))
            .unwrap_or_else(|| panic!("no type {name}"));
        let line = &TYPESCRIPT[start..];
        &line[..line.find(';').unwrap()]
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }

    #[test]
    fn every_serialized_field_is_declared() {
        let mut task = crate::replica::tests_support::full_task();
        task.set_progress("s", SessionStatus::Blocked, Some("n"), "t");
        let t = serde_json::to_value(&task).unwrap();
        for k in keys(&t) {
            assert!(
                interface("Task").contains(&format!("\n  {k}")),
                "Task.{k} is not declared"
            );
        }
        for k in keys(&t["sessionProgress"][0]) {
            assert!(
                interface("SessionProgress").contains(&format!("\n  {k}")),
                "SessionProgress.{k}"
            );
        }
        let s = serde_json::to_value(crate::replica::tests_support::full_session()).unwrap();
        for k in keys(&s) {
            assert!(
                interface("Session").contains(&format!("\n  {k}")),
                "Session.{k} is not declared"
            );
        }
    }

    #[test]
    fn every_enum_value_and_event_type_is_declared() {
        let check = |name: &str, values: Vec<&str>| {
            for v in values {
                assert!(
                    union(name).contains(&format!("\"{v}\"")),
                    "{name} lacks {v}"
                );
            }
        };
        check(
            "TaskStatus",
            TaskStatus::ALL.iter().map(|s| s.as_str()).collect(),
        );
        check(
            "Priority",
            Priority::ALL.iter().map(|s| s.as_str()).collect(),
        );
        check(
            "SessionLifecycle",
            SessionLifecycle::ALL.iter().map(|s| s.as_str()).collect(),
        );
        check(
            "SessionStatus",
            SessionStatus::ALL.iter().map(|s| s.as_str()).collect(),
        );
        check(
            "SpawnSource",
            SpawnSource::ALL.iter().map(|s| s.as_str()).collect(),
        );
        use AggregateStatus as A;
        let aggs = [
            A::NoSessions,
            A::NeedsInput,
            A::Blocked,
            A::Working,
            A::Queued,
            A::AllCompleted,
            A::AllFailed,
        ];
        check("AggregateStatus", aggs.iter().map(|a| a.as_str()).collect());
        for t in Event::TYPES {
            assert!(
                interface("EventPayloads").contains(&format!("\"{t}\":")),
                "event {t}"
            );
        }
    }
}
