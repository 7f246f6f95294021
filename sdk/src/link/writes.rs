//! The writes a client makes, as data: each knows its REST request (method,
//! path, body from `wire`) and its local effect (what the store shows at
//! once, before the server answers). Being data, a write can be kept in the
//! outbox, saved across a page reload and replayed over a newer server state.

use crate::model::{
    Session, SessionLifecycle, SessionProgress, SessionStatus, SpawnSource, Task, TaskStatus,
};
use crate::wire::{EmptyBody, FailBody, NewSession, NewTask, QueueBody, StatusBody, TaskPatch};
use serde::{Deserialize, Serialize};

/// A session lifecycle action (`POST /api/sessions/:id/<action>`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Lifecycle {
    Activate,
    Stop,
    Fail { error: Option<String> },
    Restart,
}

/// One write, as the store's API offers it (JSON: `{"op": "queueTask",
/// "taskId": …}`, the Store method's name and its arguments).
///
/// (Read through `WriteWire`, one flat struct, rather than serde's
/// internally tagged enum, which buffers every write as `Content` first:
/// that reader alone was 41 KB of the WebAssembly build.)
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    tag = "op",
    rename_all = "camelCase",
    rename_all_fields = "camelCase",
    try_from = "WriteWire"
)]
pub enum WriteCmd {
    CreateTask {
        task: NewTask,
    },
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
    CreateSession {
        session: NewSession,
    },
    Lifecycle {
        id: String,
        action: Lifecycle,
    },
    DeleteSession {
        id: String,
    },
}

/// The `op` of a write.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
enum Op {
    CreateTask,
    UpdateTask,
    DeleteTask,
    QueueTask,
    RemoveSession,
    SetSessionStatus,
    CreateSession,
    Lifecycle,
    DeleteSession,
}

/// A write as JSON: its `op` and every field any write has; `WriteCmd`
/// takes the ones its `op` needs (others are ignored, as serde ignores
/// unknown fields).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WriteWire {
    op: Op,
    task: Option<NewTask>,
    session: Option<NewSession>,
    id: Option<String>,
    patch: Option<TaskPatch>,
    if_match: Option<u64>,
    task_id: Option<String>,
    session_id: Option<String>,
    status: Option<SessionStatus>,
    notes: Option<String>,
    action: Option<Lifecycle>,
}

impl TryFrom<WriteWire> for WriteCmd {
    type Error = String;

    fn try_from(w: WriteWire) -> Result<WriteCmd, String> {
        fn need<T>(v: Option<T>, name: &str) -> Result<T, String> {
            v.ok_or_else(|| format!("missing field `{name}`"))
        }
        Ok(match w.op {
            Op::CreateTask => WriteCmd::CreateTask {
                task: need(w.task, "task")?,
            },
            Op::UpdateTask => WriteCmd::UpdateTask {
                id: need(w.id, "id")?,
                patch: need(w.patch, "patch")?,
                if_match: w.if_match,
            },
            Op::DeleteTask => WriteCmd::DeleteTask {
                id: need(w.id, "id")?,
            },
            Op::QueueTask => WriteCmd::QueueTask {
                task_id: need(w.task_id, "taskId")?,
                session_id: need(w.session_id, "sessionId")?,
            },
            Op::RemoveSession => WriteCmd::RemoveSession {
                task_id: need(w.task_id, "taskId")?,
                session_id: need(w.session_id, "sessionId")?,
            },
            Op::SetSessionStatus => WriteCmd::SetSessionStatus {
                task_id: need(w.task_id, "taskId")?,
                session_id: need(w.session_id, "sessionId")?,
                status: need(w.status, "status")?,
                notes: w.notes,
            },
            Op::CreateSession => WriteCmd::CreateSession {
                session: need(w.session, "session")?,
            },
            Op::Lifecycle => WriteCmd::Lifecycle {
                id: need(w.id, "id")?,
                action: need(w.action, "action")?,
            },
            Op::DeleteSession => WriteCmd::DeleteSession {
                id: need(w.id, "id")?,
            },
        })
    }
}

/// What the server answers a write with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answers {
    Task,
    Session,
    Nothing,
}

/// A REST request, ready for any HTTP client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRequest {
    pub method: &'static str,
    /// Path and query, to be appended to the server's base URL.
    pub path: String,
    pub body: Option<String>,
    pub if_match: Option<u64>,
}

fn json(v: &impl Serialize) -> Option<String> {
    Some(serde_json::to_string(v).expect("wire bodies serialize"))
}

/// Percent-encodes a path segment or query value (everything outside the
/// unreserved set), as `encodeURIComponent` does.
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl WriteCmd {
    /// The request this write sends.
    pub fn request(&self) -> HttpRequest {
        let (method, path, body, if_match) = match self {
            WriteCmd::CreateTask { task } => ("POST", "/api/tasks".into(), json(task), None),
            WriteCmd::UpdateTask {
                id,
                patch,
                if_match,
            } => (
                "PATCH",
                format!("/api/tasks/{}", encode(id)),
                json(patch),
                *if_match,
            ),
            WriteCmd::DeleteTask { id } => {
                ("DELETE", format!("/api/tasks/{}", encode(id)), None, None)
            }
            WriteCmd::QueueTask {
                task_id,
                session_id,
            } => (
                "POST",
                format!("/api/tasks/{}/queue", encode(task_id)),
                json(&QueueBody {
                    session_id: session_id.clone(),
                }),
                None,
            ),
            WriteCmd::RemoveSession {
                task_id,
                session_id,
            } => (
                "DELETE",
                format!(
                    "/api/tasks/{}/sessions/{}",
                    encode(task_id),
                    encode(session_id)
                ),
                None,
                None,
            ),
            WriteCmd::SetSessionStatus {
                task_id,
                session_id,
                status,
                notes,
            } => (
                "PUT",
                format!(
                    "/api/tasks/{}/sessions/{}/status",
                    encode(task_id),
                    encode(session_id)
                ),
                json(&StatusBody {
                    status: *status,
                    notes: notes.clone(),
                }),
                None,
            ),
            WriteCmd::CreateSession { session } => {
                ("POST", "/api/sessions".into(), json(session), None)
            }
            WriteCmd::Lifecycle { id, action } => {
                let (name, body) = match action {
                    Lifecycle::Activate => ("activate", json(&EmptyBody {})),
                    Lifecycle::Stop => ("stop", json(&EmptyBody {})),
                    Lifecycle::Restart => ("restart", json(&EmptyBody {})),
                    Lifecycle::Fail { error } => (
                        "fail",
                        json(&FailBody {
                            error: error.clone(),
                        }),
                    ),
                };
                (
                    "POST",
                    format!("/api/sessions/{}/{name}", encode(id)),
                    body,
                    None,
                )
            }
            WriteCmd::DeleteSession { id } => (
                "DELETE",
                format!("/api/sessions/{}", encode(id)),
                None,
                None,
            ),
        };
        HttpRequest {
            method,
            path,
            body,
            if_match,
        }
    }

    /// What a 2xx answer carries.
    pub fn answers(&self) -> Answers {
        match self {
            WriteCmd::CreateSession { .. } | WriteCmd::Lifecycle { .. } => Answers::Session,
            WriteCmd::DeleteTask { .. } | WriteCmd::DeleteSession { .. } => Answers::Nothing,
            _ => Answers::Task,
        }
    }

    /// The task this write shows a change on, if any.
    pub fn task_id(&self) -> Option<&str> {
        match self {
            WriteCmd::CreateTask { task } => task.id.as_deref(),
            WriteCmd::UpdateTask { id, .. } | WriteCmd::DeleteTask { id } => Some(id),
            WriteCmd::QueueTask { task_id, .. }
            | WriteCmd::RemoveSession { task_id, .. }
            | WriteCmd::SetSessionStatus { task_id, .. } => Some(task_id),
            _ => None,
        }
    }

    /// The session this write shows a change on, if any.
    pub fn session_id(&self) -> Option<&str> {
        match self {
            WriteCmd::CreateSession { session } => session.id.as_deref(),
            WriteCmd::Lifecycle { id, .. } | WriteCmd::DeleteSession { id } => Some(id),
            _ => None,
        }
    }

    /// The local effect on the task it names (`None` = absent).
    pub fn apply_to_task(&self, task: &mut Option<Task>, now: &str) {
        match self {
            WriteCmd::CreateTask { task: new } if task.is_none() => {
                *task = Some(Task {
                    id: new.id.clone().unwrap_or_default(),
                    title: new.title.clone(),
                    description: new.description.clone(),
                    status: new.status.unwrap_or(TaskStatus::Todo),
                    priority: new.priority.unwrap_or_default(),
                    session_ids: vec![],
                    session_progress: vec![],
                    parent_id: new.parent_id.clone(),
                    project_id: new.project_id.clone(),
                    created_at: now.to_owned(),
                    updated_at: now.to_owned(),
                    version: 0,
                });
            }
            WriteCmd::UpdateTask { patch, .. } => {
                if let Some(t) = task {
                    patch.apply_to(t);
                }
            }
            WriteCmd::DeleteTask { .. } => *task = None,
            // queueTaskForSession of the original design.
            WriteCmd::QueueTask { session_id, .. } => {
                if let Some(t) = task {
                    if !t.session_ids.contains(session_id) {
                        t.session_ids.push(session_id.clone());
                    }
                    if t.progress(session_id).is_none() {
                        t.session_progress.push(SessionProgress {
                            session_id: session_id.clone(),
                            status: SessionStatus::Queued,
                            last_updated: now.to_owned(),
                            notes: None,
                        });
                    }
                }
            }
            // removeSessionFromTask of the original design.
            WriteCmd::RemoveSession { session_id, .. } => {
                if let Some(t) = task {
                    t.remove_session(session_id);
                }
            }
            WriteCmd::SetSessionStatus {
                session_id,
                status,
                notes,
                ..
            } => {
                if let Some(t) = task {
                    t.set_progress(session_id, *status, notes.as_deref(), now);
                }
            }
            _ => {}
        }
    }

    /// The local effect on the session it names.
    pub fn apply_to_session(&self, session: &mut Option<Session>, now: &str) {
        match self {
            WriteCmd::CreateSession { session: new } if session.is_none() => {
                *session = Some(Session {
                    id: new.id.clone().unwrap_or_default(),
                    name: new.name.clone(),
                    status: SessionLifecycle::Spawning,
                    task_ids: new.task_ids.clone(),
                    project_id: new.project_id.clone(),
                    spawn_source: new.spawn_source.unwrap_or(SpawnSource::Ui),
                    error: None,
                    created_at: now.to_owned(),
                    updated_at: now.to_owned(),
                    version: 0,
                    last_seen_at: None,
                    stale: false,
                });
            }
            WriteCmd::Lifecycle { action, .. } => {
                if let Some(s) = session {
                    match action {
                        Lifecycle::Activate => s.status = SessionLifecycle::Active,
                        Lifecycle::Stop => s.status = SessionLifecycle::Stopped,
                        Lifecycle::Restart => {
                            s.status = SessionLifecycle::Spawning;
                            s.error = None;
                        }
                        Lifecycle::Fail { error } => {
                            s.status = SessionLifecycle::Failed;
                            s.error.clone_from(error);
                        }
                    }
                }
            }
            WriteCmd::DeleteSession { .. } => *session = None,
            _ => {}
        }
    }
}

/// RFC 3339 UTC with milliseconds, from milliseconds since the Unix epoch
/// (the engine has no clock; its caller's `now` is the time).
pub fn rfc3339(ms: u64) -> String {
    let (secs, milli) = (ms / 1000, ms % 1000);
    let (days, rem) = (secs / 86_400, secs % 86_400);
    // Howard Hinnant's civil_from_days.
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{milli:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_matches_known_instants() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_705_314_600_123), "2024-01-15T10:30:00.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }

    #[test]
    fn requests_use_the_wire_bodies_and_encode_ids() {
        let r = WriteCmd::SetSessionStatus {
            task_id: "t/1".into(),
            session_id: "s 1".into(),
            status: SessionStatus::Blocked,
            notes: Some("Need API key".into()),
        }
        .request();
        assert_eq!(r.method, "PUT");
        assert_eq!(r.path, "/api/tasks/t%2F1/sessions/s%201/status");
        assert_eq!(
            r.body.as_deref(),
            Some(r#"{"status":"blocked","notes":"Need API key"}"#)
        );
        let r = WriteCmd::Lifecycle {
            id: "s".into(),
            action: Lifecycle::Fail { error: None },
        }
        .request();
        assert_eq!(
            (r.path.as_str(), r.body.as_deref()),
            ("/api/sessions/s/fail", Some("{}"))
        );
    }

    #[test]
    fn writes_survive_a_round_trip_through_json() {
        let cmds = vec![
            WriteCmd::UpdateTask {
                id: "t".into(),
                patch: TaskPatch {
                    description: Some(None),
                    ..TaskPatch::status(TaskStatus::Completed)
                },
                if_match: Some(3),
            },
            WriteCmd::Lifecycle {
                id: "s".into(),
                action: Lifecycle::Fail {
                    error: Some("boom".into()),
                },
            },
        ];
        let text = serde_json::to_string(&cmds).unwrap();
        assert_eq!(serde_json::from_str::<Vec<WriteCmd>>(&text).unwrap(), cmds);
    }

    #[test]
    fn every_write_reads_back_as_written_and_bad_ones_say_why() {
        let cmds = vec![
            WriteCmd::CreateTask {
                task: NewTask {
                    id: Some("t".into()),
                    title: "T".into(),
                    ..NewTask::default()
                },
            },
            WriteCmd::UpdateTask {
                id: "t".into(),
                patch: TaskPatch::status(TaskStatus::Inprogress),
                if_match: None,
            },
            WriteCmd::DeleteTask { id: "t".into() },
            WriteCmd::QueueTask {
                task_id: "t".into(),
                session_id: "s".into(),
            },
            WriteCmd::RemoveSession {
                task_id: "t".into(),
                session_id: "s".into(),
            },
            WriteCmd::SetSessionStatus {
                task_id: "t".into(),
                session_id: "s".into(),
                status: SessionStatus::Blocked,
                notes: Some("need a key".into()),
            },
            WriteCmd::SetSessionStatus {
                task_id: "t".into(),
                session_id: "s".into(),
                status: SessionStatus::Working,
                notes: None,
            },
            WriteCmd::CreateSession {
                session: NewSession::default(),
            },
            WriteCmd::Lifecycle {
                id: "s".into(),
                action: Lifecycle::Restart,
            },
            WriteCmd::DeleteSession { id: "s".into() },
        ];
        for cmd in cmds {
            let text = serde_json::to_string(&cmd).unwrap();
            assert_eq!(
                serde_json::from_str::<WriteCmd>(&text).unwrap(),
                cmd,
                "{text}"
            );
        }
        // The Store's own shape: nulls for absent optionals.
        let w: WriteCmd = serde_json::from_str(
            r#"{"op":"updateTask","id":"t","patch":{"title":"x"},"ifMatch":null}"#,
        )
        .unwrap();
        assert!(matches!(w, WriteCmd::UpdateTask { if_match: None, .. }));
        let err = |text: &str| {
            serde_json::from_str::<WriteCmd>(text)
                .unwrap_err()
                .to_string()
        };
        assert!(err(r#"{"op":"explode","id":"t"}"#).contains("unknown variant `explode`"));
        assert!(err(r#"{"id":"t"}"#).contains("missing field `op`"));
        assert!(err(r#"{"op":"updateTask","id":"t"}"#).contains("missing field `patch`"));
        assert!(err(r#"{"op":"queueTask","taskId":"t"}"#).contains("missing field `sessionId`"));
        assert!(
            err(r#"{"op":"updateTask","id":"t","patch":{"status":"bogus"}}"#).contains("bogus")
        );
        assert!(err(r#"{"op":"deleteTask","id":7}"#).contains("invalid type"));
        assert!(err(r#"["deleteTask","t"]"#).contains("expected"));
    }
}
