//! Events on the stream, in the envelope `{"type","payload"}` of the original design plus the
//! server's `seq`. Control frames (`sync:*`) are not events and have no seq.

use crate::model::{Session, SessionStatus, Task};
use serde::{Deserialize, Serialize};

/// Payload of `task:session_status`: the original fields plus the task's new `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionStatusPayload {
    pub task_id: String,
    pub session_id: String,
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
    pub last_updated: String,
    pub version: u64,
}

/// A `task:session_status` payload borrowed from where it was read (the
/// engine applies it without making its strings first).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusRef<'a> {
    pub task_id: &'a str,
    pub session_id: &'a str,
    pub status: SessionStatus,
    pub notes: Option<&'a str>,
    pub last_updated: &'a str,
    pub version: u64,
}

impl SessionStatusPayload {
    pub fn as_ref(&self) -> StatusRef<'_> {
        StatusRef {
            task_id: &self.task_id,
            session_id: &self.session_id,
            status: self.status,
            notes: self.notes.as_deref(),
            last_updated: &self.last_updated,
            version: self.version,
        }
    }
}

impl StatusRef<'_> {
    pub fn to_payload(&self) -> SessionStatusPayload {
        SessionStatusPayload {
            task_id: self.task_id.to_owned(),
            session_id: self.session_id.to_owned(),
            status: self.status,
            notes: self.notes.map(str::to_owned),
            last_updated: self.last_updated.to_owned(),
            version: self.version,
        }
    }
}

/// Every change the server commits is one of these.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", content = "payload", rename_all_fields = "camelCase")]
pub enum Event {
    #[serde(rename = "task:created")]
    TaskCreated { task: Task },
    #[serde(rename = "task:updated")]
    TaskUpdated { task: Task },
    #[serde(rename = "task:deleted")]
    TaskDeleted { task_id: String },
    #[serde(rename = "task:session_status")]
    TaskSessionStatus(SessionStatusPayload),
    #[serde(rename = "session:spawn")]
    SessionSpawn { session: Session },
    #[serde(rename = "session:active")]
    SessionActive {
        session_id: String,
        session: Session,
    },
    #[serde(rename = "session:stopped")]
    SessionStopped {
        session_id: String,
        session: Session,
    },
    #[serde(rename = "session:failed")]
    SessionFailed {
        session_id: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        error: Option<String>,
        session: Session,
    },
    #[serde(rename = "session:updated")]
    SessionUpdated { session: Session },
    #[serde(rename = "session:deleted")]
    SessionDeleted { session_id: String },
}

impl Event {
    /// Every event type name, as on the wire.
    pub const TYPES: &'static [&'static str] = &[
        "task:created",
        "task:updated",
        "task:deleted",
        "task:session_status",
        "session:spawn",
        "session:active",
        "session:stopped",
        "session:failed",
        "session:updated",
        "session:deleted",
    ];

    /// The task this event is about, if it is about one (its history).
    pub fn task_id(&self) -> Option<&str> {
        match self {
            Event::TaskCreated { task } | Event::TaskUpdated { task } => Some(&task.id),
            Event::TaskDeleted { task_id } => Some(task_id),
            Event::TaskSessionStatus(p) => Some(&p.task_id),
            _ => None,
        }
    }

    /// The session this event changed, if it changed one.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            Event::TaskSessionStatus(p) => Some(&p.session_id),
            Event::SessionSpawn { session }
            | Event::SessionActive { session, .. }
            | Event::SessionStopped { session, .. }
            | Event::SessionFailed { session, .. }
            | Event::SessionUpdated { session } => Some(&session.id),
            Event::SessionDeleted { session_id } => Some(session_id),
            _ => None,
        }
    }

    /// The wire name of this event's type.
    pub fn type_name(&self) -> &'static str {
        match self {
            Event::TaskCreated { .. } => "task:created",
            Event::TaskUpdated { .. } => "task:updated",
            Event::TaskDeleted { .. } => "task:deleted",
            Event::TaskSessionStatus(_) => "task:session_status",
            Event::SessionSpawn { .. } => "session:spawn",
            Event::SessionActive { .. } => "session:active",
            Event::SessionStopped { .. } => "session:stopped",
            Event::SessionFailed { .. } => "session:failed",
            Event::SessionUpdated { .. } => "session:updated",
            Event::SessionDeleted { .. } => "session:deleted",
        }
    }
}

/// An event as sent on the stream: `{"type","payload","seq"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Envelope {
    #[serde(flatten)]
    pub event: Event,
    pub seq: u64,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::tests::sample_task;
    use serde_json::json;

    #[test]
    fn session_status_envelope_has_the_seed_shape_plus_seq_and_version() {
        let env = Envelope {
            event: Event::TaskSessionStatus(SessionStatusPayload {
                task_id: "task-1".into(),
                session_id: "session-1".into(),
                status: SessionStatus::Blocked,
                notes: Some("Need API key".into()),
                last_updated: "2024-01-15T10:30:00Z".into(),
                version: 4,
            }),
            seq: 7,
        };
        let v = serde_json::to_value(&env).unwrap();
        assert_eq!(
            v,
            json!({"type": "task:session_status", "payload": {"taskId": "task-1", "sessionId": "session-1",
                "status": "blocked", "notes": "Need API key", "lastUpdated": "2024-01-15T10:30:00Z", "version": 4}, "seq": 7})
        );
        let text = serde_json::to_string(&env).unwrap();
        assert!(
            text.starts_with(r#"{"type":"task:session_status","payload":{"taskId""#),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), env);
    }

    #[test]
    fn every_event_type_round_trips_and_names_itself() {
        let task = sample_task();
        let v = serde_json::to_value(Event::TaskUpdated { task: task.clone() }).unwrap();
        assert_eq!(v["type"], "task:updated");
        assert_eq!(v["payload"]["task"]["sessionProgress"], json!([]));
        let d = serde_json::to_value(Event::TaskDeleted {
            task_id: "t".into(),
        })
        .unwrap();
        assert_eq!(
            d,
            json!({"type": "task:deleted", "payload": {"taskId": "t"}})
        );
        let f = serde_json::to_value(Event::SessionDeleted {
            session_id: "s".into(),
        })
        .unwrap();
        assert_eq!(
            f,
            json!({"type": "session:deleted", "payload": {"sessionId": "s"}})
        );
        for name in Event::TYPES {
            assert!(name.contains(':'));
        }
        let e = Event::TaskCreated { task };
        assert_eq!(serde_json::to_value(&e).unwrap()["type"], e.type_name());
    }
}
