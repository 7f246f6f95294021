//! Entities and status enums, in the JSON shape of docs/openapi.json (camelCase
//! fields, lowercase / snake_case status values).

use serde::{Deserialize, Serialize};

pub mod layout;
use std::borrow::Cow;
use std::fmt;

/// Defines a status enum whose wire names are given explicitly, with `ALL`,
/// `as_str` and `Display`, so messages and JSON always agree.
macro_rules! wire_enum {
    ($(#[$meta:meta])* $name:ident { $($variant:ident = $wire:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum $name {
            $(#[serde(rename = $wire)] $variant,)+
        }
        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];
            /// The value as it appears in JSON.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $wire,)+ }
            }
            /// Parses the JSON name of a value.
            pub fn parse(s: &str) -> Option<Self> {
                match s { $($wire => Some($name::$variant),)+ _ => None }
            }
        }
        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

wire_enum!(
    /// A task's own status, set by users.
    TaskStatus { Todo = "todo", Inprogress = "inprogress", Completed = "completed", Cancelled = "cancelled" }
);
wire_enum!(
    /// How urgent a task is.
    Priority { Low = "low", Medium = "medium", High = "high", Urgent = "urgent" }
);
wire_enum!(
    /// The lifecycle of a session (an agent process).
    SessionLifecycle { Spawning = "spawning", Active = "active", Stopped = "stopped", Failed = "failed" }
);
wire_enum!(
    /// A session's status on one task, reported by the session.
    SessionStatus {
        Queued = "queued",
        Working = "working",
        NeedsInput = "needs_input",
        Blocked = "blocked",
        Completed = "completed",
        Failed = "failed",
        Cancelled = "cancelled",
    }
);
wire_enum!(
    /// Who created a session.
    SpawnSource { Ui = "ui", Session = "session" }
);

// `wire_enum!` declares the enum, so `#[default]` cannot be attached there.
#[allow(clippy::derivable_impls)]
impl Default for Priority {
    fn default() -> Self {
        Priority::Medium
    }
}

/// One session's progress on a task.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionProgress {
    pub session_id: String,
    pub status: SessionStatus,
    /// RFC 3339, UTC, made by the server.
    pub last_updated: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Makes `to` equal `from`, in `to`'s own room when it has enough.
pub(crate) fn copy_into(to: &mut String, from: &str) {
    to.clear();
    to.push_str(from);
}

/// A unit of work. `version` starts at 1 and grows by one with every change.
/// A list read with no spare room. Read item by item (JSON says no length
/// first), a `Vec` takes room for 4 at the first item, and most tasks have
/// one or two sessions. Measured: 10,000 tasks' copies in the browser took
/// 1.4 MB less (npm/bench/sdk.js (d)); taking exact room for one or two
/// items instead of shrinking saved nothing more.
fn exact<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Vec<T>, D::Error> {
    let mut v = Vec::<T>::deserialize(d)?;
    v.shrink_to_fit();
    Ok(v)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Task {
    pub id: String,
    pub title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub status: TaskStatus,
    pub priority: Priority,
    pub session_ids: Vec<String>,
    pub session_progress: Vec<SessionProgress>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
}

/// The items in a `Vec` of exactly their number (`collect` here would keep
/// the room of the list they came from: see `exact`).
fn exactly<T>(items: impl ExactSizeIterator<Item = T>) -> Vec<T> {
    let mut v = Vec::with_capacity(items.len());
    v.extend(items);
    v
}

/// (Read through `TaskIn`: one reader of a task's JSON in the WebAssembly,
/// not two. Its lists come out exactly as long as they are, with no spare
/// room; see `exact`.)
impl<'de> Deserialize<'de> for Task {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        TaskIn::deserialize(d).map(TaskIn::into_task)
    }
}

/// A string as read from text: borrowed where it holds no escape.
#[derive(Debug)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Text;
        impl<'de> serde::de::Visitor<'de> for Text {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
        }
        d.deserialize_str(Text).map(Str)
    }
}

/// A task as JSON has it, its strings borrowed from the text where they
/// hold no escape: what every `Task` is read through (`Task`'s own
/// `Deserialize` is this, then owned), and what the replica packs a
/// snapshot's tasks from without making a `Task` first (see
/// `replica::PackedTask::read_with`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TaskIn<'a> {
    #[serde(borrow)]
    pub id: Str<'a>,
    #[serde(borrow)]
    pub title: Str<'a>,
    #[serde(default, borrow)]
    pub description: Option<Str<'a>>,
    pub status: TaskStatus,
    pub priority: Priority,
    #[serde(borrow)]
    pub session_ids: Vec<Str<'a>>,
    #[serde(borrow)]
    pub session_progress: Vec<ProgressIn<'a>>,
    #[serde(default, borrow)]
    pub parent_id: Option<Str<'a>>,
    #[serde(default, borrow)]
    pub project_id: Option<Str<'a>>,
    #[serde(borrow)]
    pub created_at: Str<'a>,
    #[serde(borrow)]
    pub updated_at: Str<'a>,
    pub version: u64,
}

impl<'a> TaskIn<'a> {
    /// Its list key: creation time and id.
    pub fn list_key(&self) -> (&str, &str) {
        (&self.created_at.0, &self.id.0)
    }

    pub fn into_task(self) -> Task {
        let own = |s: Str<'_>| s.0.into_owned();
        Task {
            id: own(self.id),
            title: own(self.title),
            description: self.description.map(own),
            status: self.status,
            priority: self.priority,
            session_ids: exactly(self.session_ids.into_iter().map(own)),
            session_progress: exactly(self.session_progress.into_iter().map(|p| SessionProgress {
                session_id: own(p.session_id),
                status: p.status,
                last_updated: own(p.last_updated),
                notes: p.notes.map(own),
            })),
            parent_id: self.parent_id.map(own),
            project_id: self.project_id.map(own),
            created_at: own(self.created_at),
            updated_at: own(self.updated_at),
            version: self.version,
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProgressIn<'a> {
    #[serde(borrow)]
    pub session_id: Str<'a>,
    pub status: SessionStatus,
    #[serde(borrow)]
    pub last_updated: Str<'a>,
    #[serde(default, borrow)]
    pub notes: Option<Str<'a>>,
}

impl Task {
    /// The progress entry of `session_id`, if it has one.
    pub fn progress(&self, session_id: &str) -> Option<&SessionProgress> {
        self.session_progress
            .iter()
            .find(|p| p.session_id == session_id)
    }

    /// Sets a session's progress as the original client handling did: update
    /// the entry in place, or append one; also keeps `sessionIds` in step.
    /// Returns where: the index of the progress entry, and whether the
    /// session id was new to `sessionIds`.
    /// (Strings are copied into the entry's own, which keep their room: an
    /// update of an existing entry allocates nothing.)
    pub fn set_progress(
        &mut self,
        session_id: &str,
        status: SessionStatus,
        notes: Option<&str>,
        at: &str,
    ) -> (usize, bool) {
        let index = match self
            .session_progress
            .iter()
            .position(|p| p.session_id == session_id)
        {
            Some(i) => {
                let p = &mut self.session_progress[i];
                p.status = status;
                match (&mut p.notes, notes) {
                    (Some(old), Some(new)) => copy_into(old, new),
                    (old, new) => *old = new.map(str::to_owned),
                }
                copy_into(&mut p.last_updated, at);
                i
            }
            None => {
                self.session_progress.push(SessionProgress {
                    session_id: session_id.to_owned(),
                    status,
                    last_updated: at.to_owned(),
                    notes: notes.map(str::to_owned),
                });
                self.session_progress.len() - 1
            }
        };
        let new_id = !self.session_ids.iter().any(|s| s == session_id);
        if new_id {
            self.session_ids.push(session_id.to_owned());
        }
        (index, new_id)
    }

    /// Removes a session from the task (ids and progress); true if it was there.
    pub fn remove_session(&mut self, session_id: &str) -> bool {
        let before = (self.session_ids.len(), self.session_progress.len());
        self.session_ids.retain(|s| s != session_id);
        self.session_progress.retain(|p| p.session_id != session_id);
        before != (self.session_ids.len(), self.session_progress.len())
    }
}

/// An agent session. `taskIds` mirrors the tasks whose `sessionIds` hold it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    pub id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub status: SessionLifecycle,
    #[serde(deserialize_with = "exact")]
    pub task_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    pub spawn_source: SpawnSource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub created_at: String,
    pub updated_at: String,
    pub version: u64,
    /// When the session was last heard from (a report, a heartbeat, a hook
    /// event), as stored; the server refreshes it at most about once a
    /// minute while the session keeps reporting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_seen_at: Option<String>,
    /// Not heard from for the server's `--stale-after` while spawning or
    /// active: its agent may be gone.
    #[serde(default, skip_serializing_if = "is_false")]
    pub stale: bool,
}

fn is_false(b: &bool) -> bool {
    !*b
}

impl Session {
    /// Adds a task id if missing; true if it was added.
    pub fn add_task(&mut self, task_id: &str) -> bool {
        if self.task_ids.iter().any(|t| t == task_id) {
            return false;
        }
        self.task_ids.push(task_id.to_owned());
        true
    }

    /// Removes a task id; true if it was there.
    pub fn remove_task(&mut self, task_id: &str) -> bool {
        let before = self.task_ids.len();
        self.task_ids.retain(|t| t != task_id);
        before != self.task_ids.len()
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn status_names_round_trip_through_json() {
        for s in SessionStatus::ALL {
            let json = serde_json::to_string(s).unwrap();
            assert_eq!(json, format!("\"{}\"", s.as_str()));
            assert_eq!(serde_json::from_str::<SessionStatus>(&json).unwrap(), *s);
            assert_eq!(SessionStatus::parse(s.as_str()), Some(*s));
        }
        assert_eq!(SessionStatus::NeedsInput.as_str(), "needs_input");
        assert_eq!(TaskStatus::Inprogress.as_str(), "inprogress");
        assert!(TaskStatus::parse("in_progress").is_none());
    }

    #[test]
    fn set_progress_updates_or_appends_like_the_seed() {
        let mut t = sample_task();
        t.set_progress("s1", SessionStatus::Queued, None, "t1");
        t.set_progress("s1", SessionStatus::Blocked, Some("Need API key"), "t2");
        assert_eq!(t.session_progress.len(), 1);
        assert_eq!(t.session_ids, vec!["s1"]);
        let p = t.progress("s1").unwrap();
        assert_eq!(
            (p.status, p.notes.as_deref(), p.last_updated.as_str()),
            (SessionStatus::Blocked, Some("Need API key"), "t2")
        );
        // new notes over old ones (copied into their room)
        t.set_progress("s1", SessionStatus::Blocked, Some("Key?"), "t2b");
        assert_eq!(t.progress("s1").unwrap().notes.as_deref(), Some("Key?"));
        assert_eq!(t.progress("s1").unwrap().last_updated, "t2b");
        // notes omitted clears them (`progress.notes = notes` in the original handler)
        t.set_progress("s1", SessionStatus::Working, None, "t3");
        assert_eq!(t.progress("s1").unwrap().notes, None);
        assert!(t.remove_session("s1"));
        assert!(!t.remove_session("s1"));
        assert!(t.session_ids.is_empty() && t.session_progress.is_empty());
    }

    #[test]
    fn lists_are_read_with_no_spare_room() {
        let mut t = sample_task();
        t.set_progress("s1", SessionStatus::Working, None, "t1");
        t.set_progress("s2", SessionStatus::Blocked, Some("key"), "t2");
        t.set_progress("s3", SessionStatus::Queued, None, "t3");
        let back: Task = serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
        assert_eq!(back, t);
        assert_eq!(back.session_ids.capacity(), 3);
        assert_eq!(back.session_progress.capacity(), 3);
        let one: Task = serde_json::from_str(
            &serde_json::to_string(&Task {
                session_ids: vec!["s".into()],
                ..sample_task()
            })
            .unwrap(),
        )
        .unwrap();
        assert_eq!(one.session_ids.capacity(), 1);
        let s: Session = serde_json::from_str(
            r#"{"id":"s","status":"active","taskIds":["a"],"spawnSource":"ui","createdAt":"c","updatedAt":"u","version":1}"#,
        )
        .unwrap();
        assert_eq!((s.task_ids.len(), s.task_ids.capacity()), (1, 1));
        assert!(serde_json::from_str::<Task>(r#"{"sessionIds":7}"#).is_err());
    }

    pub(crate) fn sample_task() -> Task {
        Task {
            id: "task-1".into(),
            title: "Fix auth bug".into(),
            description: None,
            status: TaskStatus::Todo,
            priority: Priority::Medium,
            session_ids: vec![],
            session_progress: vec![],
            parent_id: None,
            project_id: None,
            created_at: "2024-01-15T10:30:00Z".into(),
            updated_at: "2024-01-15T10:30:00Z".into(),
            version: 1,
        }
    }
}
