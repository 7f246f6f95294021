//! The wire protocol, defined once and used by the server, the CLI and the
//! Store: the control frames of the stream (`sync:hello`, `sync:ping`,
//! `sync:pong`), the snapshot, every REST request body, the error body, the
//! `Idempotency-Key` rules and the order lists are returned in. Events and
//! their envelope live in `event.rs`; parsing what the server sends is
//! `frame.rs`. Nothing outside tests builds one of these messages by hand.

use crate::model::{Priority, Session, SessionStatus, SpawnSource, Task, TaskStatus};
use serde::{Deserialize, Deserializer, Serialize};

/// Payload of `sync:hello`, the first frame on every connection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    pub epoch: String,
    /// The server's head when the connection was made.
    pub seq: u64,
    /// True when the events after the client's `since` follow.
    pub resumed: bool,
}

/// A control frame (`sync:*`): a type and a payload, no `seq`.
#[derive(Debug, Clone, Serialize)]
pub struct Control<P> {
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub payload: P,
}

/// The empty payload of `sync:ping` and `sync:pong`.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Empty {}

impl Hello {
    /// The frame's text.
    pub fn to_frame(&self) -> String {
        to_text(&Control {
            ty: "sync:hello",
            payload: self,
        })
    }
}

/// `{"type":"sync:ping","payload":{}}`
pub fn ping_frame() -> String {
    to_text(&Control {
        ty: "sync:ping",
        payload: Empty {},
    })
}

/// `{"type":"sync:pong","payload":{}}`
pub fn pong_frame() -> String {
    to_text(&Control {
        ty: "sync:pong",
        payload: Empty {},
    })
}

fn to_text(v: &impl Serialize) -> String {
    serde_json::to_string(v).expect("wire messages serialize")
}

/// `GET /api/snapshot`: every task and session, read at one `seq`. The
/// server serializes it over borrowed entities, clients read it owned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Snapshot<T = Task, S = Session> {
    pub epoch: String,
    pub seq: u64,
    pub tasks: Vec<T>,
    pub sessions: Vec<S>,
}

/// `GET /api/events`: a page of retained events (each an envelope).
#[derive(Debug, Clone, Deserialize)]
pub struct EventPage<'a> {
    pub epoch: String,
    #[serde(borrow)]
    pub events: Vec<&'a serde_json::value::RawValue>,
}

/// The body of every error answer: `{"error": {"code","message","field"?}}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

/// A stable snake_case `code`, a sentence for a person, and the offending
/// input's name when there is one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorDetail {
    pub code: String,
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
}

impl ErrorBody {
    pub fn new(code: &str, message: &str, field: Option<&str>) -> Self {
        ErrorBody {
            error: ErrorDetail {
                code: code.to_owned(),
                message: message.to_owned(),
                field: field.map(str::to_owned),
            },
        }
    }

    /// Reads an error answer; a body that is not one (a proxy's HTML page,
    /// say) becomes `http_error` naming the status.
    pub fn parse(status: u16, body: &str) -> ErrorDetail {
        serde_json::from_str::<ErrorBody>(body)
            .map(|b| b.error)
            .unwrap_or_else(|_| ErrorDetail {
                code: "http_error".into(),
                message: format!("the server answered HTTP {status}"),
                field: None,
            })
    }

    pub fn to_text(&self) -> String {
        to_text(self)
    }
}

/// Body of `POST /api/tasks`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewTask {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
}

/// Body of `PATCH /api/tasks/:id`. For the optional text fields, `null`
/// clears the value and an absent field leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TaskPatch {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub description: Option<Option<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<TaskStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority: Option<Priority>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub parent_id: Option<Option<String>>,
    #[serde(
        default,
        deserialize_with = "present",
        skip_serializing_if = "Option::is_none"
    )]
    pub project_id: Option<Option<String>>,
}

impl TaskPatch {
    /// `{"status": …}` — the patch of a status move.
    pub fn status(status: TaskStatus) -> Self {
        TaskPatch {
            status: Some(status),
            ..Default::default()
        }
    }

    /// Applies the patch to a task as the server does (no validation: the
    /// server's answer is the truth; this is the local, optimistic view).
    pub fn apply_to(&self, task: &mut Task) {
        if let Some(t) = &self.title {
            task.title.clone_from(t);
        }
        if let Some(d) = &self.description {
            task.description.clone_from(d);
        }
        if let Some(s) = self.status {
            task.status = s;
        }
        if let Some(p) = self.priority {
            task.priority = p;
        }
        if let Some(p) = &self.parent_id {
            task.parent_id.clone_from(p);
        }
        if let Some(p) = &self.project_id {
            task.project_id.clone_from(p);
        }
    }
}

/// Body of `POST /api/sessions`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewSession {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub task_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_source: Option<SpawnSource>,
}

/// Body of `POST /api/tasks/:id/queue`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct QueueBody {
    pub session_id: String,
}

/// Body of `PUT /api/tasks/:id/sessions/:sid/status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct StatusBody {
    pub status: SessionStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notes: Option<String>,
}

/// Body of `POST /api/sessions/:id/fail`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FailBody {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// Body of the other lifecycle actions (`activate`, `stop`, `restart`): `{}`.
pub type EmptyBody = Empty;

/// A field that was present in the JSON, possibly as `null`.
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// The header that makes a write safe to retry: the server answers a
/// repeated key with the first answer.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// A valid `Idempotency-Key`: 1–255 visible ASCII characters.
pub fn is_valid_idempotency_key(key: &str) -> bool {
    (1..=255).contains(&key.len()) && key.bytes().all(|b| b.is_ascii_graphic())
}

/// The order every list of tasks or sessions is given in: creation time,
/// then id (the server's lists, the snapshot, the Store's `getTasks()`).
pub trait Listed {
    fn list_key(&self) -> (&str, &str);
    /// The id alone, as bytes (what a lookup compares).
    fn id_bytes(&self) -> &[u8] {
        self.list_key().1.as_bytes()
    }
}

impl Listed for Task {
    fn list_key(&self) -> (&str, &str) {
        (&self.created_at, &self.id)
    }
}

impl<T: Listed> Listed for Box<T> {
    fn list_key(&self) -> (&str, &str) {
        (**self).list_key()
    }
    fn id_bytes(&self) -> &[u8] {
        (**self).id_bytes()
    }
}

impl Listed for Session {
    fn list_key(&self) -> (&str, &str) {
        (&self.created_at, &self.id)
    }
}

/// Sorts into list order.
pub fn sort_listed<T: Listed>(items: &mut [&T]) {
    let order = order_of(items.iter().map(|t| t.list_key()));
    let sorted: Vec<&T> = order.iter().map(|&i| items[i as usize]).collect();
    items.copy_from_slice(&sorted);
}

/// The positions of `keys` in their sorted order. Every sort in this crate
/// goes through this one (each instance of the standard library's sort is
/// about 10 KB of WebAssembly).
pub(crate) fn order_of<'a>(keys: impl Iterator<Item = (&'a str, &'a str)>) -> Vec<u32> {
    let mut keyed: Vec<(&str, &str, u32)> = keys
        .enumerate()
        .map(|(i, (a, b))| (a, b, i as u32))
        .collect();
    keyed.sort_unstable();
    keyed.into_iter().map(|(_, _, i)| i).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::frame::{Frame, parse_frame};

    #[test]
    fn control_frames_round_trip_through_the_client_parser() {
        let hello = Hello {
            epoch: "e".into(),
            seq: 7,
            resumed: false,
        };
        assert_eq!(
            hello.to_frame(),
            r#"{"type":"sync:hello","payload":{"epoch":"e","seq":7,"resumed":false}}"#
        );
        assert_eq!(parse_frame(&hello.to_frame()).unwrap(), Frame::Hello(hello));
        assert_eq!(parse_frame(&ping_frame()).unwrap(), Frame::Ping);
        assert_eq!(parse_frame(&pong_frame()).unwrap(), Frame::Pong);
    }

    #[test]
    fn error_bodies_round_trip_and_strangers_become_http_error() {
        let b = ErrorBody::new("invalid_transition", "no", Some("status"));
        assert_eq!(
            b.to_text(),
            r#"{"error":{"code":"invalid_transition","message":"no","field":"status"}}"#
        );
        assert_eq!(ErrorBody::parse(409, &b.to_text()), b.error);
        let other = ErrorBody::parse(502, "<html>bad gateway</html>");
        assert_eq!(other.code, "http_error");
        assert!(other.message.contains("502"));
    }

    #[test]
    fn patch_distinguishes_absent_from_null_both_ways() {
        let p: TaskPatch = serde_json::from_str(r#"{"description":null,"title":"x"}"#).unwrap();
        assert_eq!(p.description, Some(None));
        assert_eq!(p.parent_id, None);
        assert_eq!(
            serde_json::to_string(&p).unwrap(),
            r#"{"title":"x","description":null}"#
        );
        assert_eq!(
            serde_json::to_string(&TaskPatch::status(TaskStatus::Inprogress)).unwrap(),
            r#"{"status":"inprogress"}"#
        );
        assert!(serde_json::from_str::<TaskPatch>(r#"{"nope":1}"#).is_err());
    }

    #[test]
    fn request_bodies_leave_out_what_is_absent() {
        let t = NewTask {
            title: "T".into(),
            ..Default::default()
        };
        assert_eq!(serde_json::to_string(&t).unwrap(), r#"{"title":"T"}"#);
        let s = StatusBody {
            status: SessionStatus::Blocked,
            notes: Some("key".into()),
        };
        assert_eq!(
            serde_json::to_string(&s).unwrap(),
            r#"{"status":"blocked","notes":"key"}"#
        );
        assert_eq!(serde_json::to_string(&NewSession::default()).unwrap(), "{}");
    }

    #[test]
    fn idempotency_keys_are_short_visible_ascii() {
        assert!(is_valid_idempotency_key("c-1f2e:3"));
        for bad in ["", "a b", "é", &"x".repeat(256)] {
            assert!(!is_valid_idempotency_key(bad), "{bad:?}");
        }
    }
}
