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

/// A part of [`StatusRef::from_parts`]: where a string is in the frame, as
/// a byte span (start, end exclusive).
pub type Span = (u32, u32);

/// `notes`' start in [`StatusRef::from_parts`] when the frame has none.
pub const NO_NOTES: u32 = u32::MAX;

impl<'a> StatusRef<'a> {
    /// The `task:session_status` an executor read itself (the Store's
    /// `statusFrame`), borrowed from `frame`: its `seq` and `version` as the
    /// numbers JavaScript has, and its five strings (task id, session id,
    /// status, notes, lastUpdated) as spans of `frame`, each the text
    /// between a string's quotes. None unless every part is one JSON would
    /// read as it is: a whole number below 9e15 (JavaScript's exact range;
    /// larger ones come as text), a span inside `frame` on UTF-8 boundaries,
    /// no control character (invalid in a JSON string), a known status.
    /// The executor sends only parts with no escape, so a part's bytes are
    /// its string's.
    pub fn from_parts(
        frame: &'a [u8],
        seq: f64,
        version: f64,
        [task, session, status, notes, at]: [Span; 5],
    ) -> Option<(u64, StatusRef<'a>)> {
        let whole = |x: f64| (x >= 0.0 && x.fract() == 0.0 && x < 9.0e15).then_some(x as u64);
        let (seq, version) = (whole(seq)?, whole(version)?);
        let part = |(start, end): Span| -> Option<&'a str> {
            let bytes = frame.get(start as usize..end as usize)?;
            if bytes.iter().any(|&b| b < 0x20) {
                return None;
            }
            std::str::from_utf8(bytes).ok()
        };
        let notes = match notes.0 {
            NO_NOTES => None,
            _ => Some(part(notes)?),
        };
        Some((
            seq,
            StatusRef {
                task_id: part(task)?,
                session_id: part(session)?,
                status: SessionStatus::parse(part(status)?)?,
                notes,
                last_updated: part(at)?,
                version,
            },
        ))
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

    /// The spans of a status frame's five strings, found as the Store's
    /// `statusFrame` finds them (text with no quote in it).
    fn spans_of(text: &str) -> [Span; 5] {
        let span = |key: &str| -> Span {
            let Some(at) = text.find(&format!("\"{key}\":\"")) else {
                return (NO_NOTES, NO_NOTES);
            };
            let start = at + key.len() + 4;
            let end = start + text[start..].find('"').unwrap();
            (start as u32, end as u32)
        };
        ["taskId", "sessionId", "status", "notes", "lastUpdated"].map(span)
    }

    fn random_status(r: &mut crate::replica::tests_support::Random) -> Envelope {
        let status = SessionStatus::ALL[r.below(SessionStatus::ALL.len() as u64)];
        let notes = (r.below(3) > 0).then(|| r.text());
        Envelope {
            event: Event::TaskSessionStatus(SessionStatusPayload {
                task_id: format!("task-{}", r.below(1000)),
                session_id: format!("session-{}", r.below(1000)),
                status,
                notes,
                last_updated: r.text(),
                version: r.next() % 9_000_000_000_000_000,
            }),
            seq: r.next() % 9_000_000_000_000_000,
        }
    }

    #[test]
    fn a_status_passed_in_parts_is_the_one_serde_reads_from_its_text() {
        let mut r = crate::replica::tests_support::Random::new(12);
        r.escapes = false; // (the Store sends no part with an escape)
        for _ in 0..2_000 {
            let env = random_status(&mut r);
            let text = serde_json::to_string(&env).unwrap();
            let Event::TaskSessionStatus(p) = &env.event else {
                unreachable!()
            };
            let got = StatusRef::from_parts(
                text.as_bytes(),
                env.seq as f64,
                p.version as f64,
                spans_of(&text),
            );
            assert_eq!(got, Some((env.seq, p.as_ref())), "{text}");
            assert_eq!(serde_json::from_str::<Envelope>(&text).unwrap(), env);
        }
    }

    #[test]
    fn parts_that_json_would_not_read_so_are_refused() {
        let text = r#"{"type":"task:session_status","payload":{"taskId":"t1","sessionId":"s1","status":"working","lastUpdated":"2026-11-30T13:09:56.696Z","version":3},"seq":9}"#;
        let frame = text.as_bytes();
        let spans = spans_of(text);
        let ok = StatusRef::from_parts(frame, 9.0, 3.0, spans).unwrap();
        assert_eq!((ok.0, ok.1.task_id, ok.1.notes), (9, "t1", None));
        assert_eq!(ok.1.status, SessionStatus::Working);
        // numbers: negative, fractional, not finite, beyond JavaScript's exact range
        for bad in [-1.0, 1.5, f64::NAN, f64::INFINITY, 9.0e15, 1.0e300] {
            assert_eq!(
                StatusRef::from_parts(frame, bad, 3.0, spans),
                None,
                "seq {bad}"
            );
            assert_eq!(
                StatusRef::from_parts(frame, 9.0, bad, spans),
                None,
                "version {bad}"
            );
        }
        assert!(StatusRef::from_parts(frame, 8.999e15, 0.0, spans).is_some());
        let with = |i: usize, span: Span| {
            let mut s = spans;
            s[i] = span;
            StatusRef::from_parts(frame, 9.0, 3.0, s)
        };
        let len = frame.len() as u32;
        for i in 0..5 {
            // past the end, reversed, starting past the end
            assert_eq!(with(i, (len - 2, len + 1)), None, "part {i}");
            assert_eq!(with(i, (10, 5)), None, "part {i}");
            assert_eq!(with(i, (len + 5, len + 9)), None, "part {i}");
        }
        // a status that is not one (case counts)
        assert_eq!(with(2, spans[0]), None);
        let upper = text.replace(r#""working""#, r#""Working""#);
        assert_eq!(
            StatusRef::from_parts(upper.as_bytes(), 9.0, 3.0, spans),
            None
        );
        // a control character in a part, and a span cutting a character in two
        let tab = text.replace(r#""t1""#, "\"t\t\""); // (a raw tab, as an executor might send)
        assert_eq!(StatusRef::from_parts(tab.as_bytes(), 9.0, 3.0, spans), None);
        let accented = text.replace(r#""t1""#, r#""é""#);
        assert_eq!(
            StatusRef::from_parts(accented.as_bytes(), 9.0, 3.0, spans_of(&accented))
                .unwrap()
                .1
                .task_id,
            "é"
        );
        let (start, end) = spans_of(&accented)[0];
        assert_eq!(
            StatusRef::from_parts(
                accented.as_bytes(),
                9.0,
                3.0,
                [(start, end - 1), spans[1], spans[2], spans[3], spans[4]]
            ),
            None
        );
        // notes: none, empty, or text
        assert_eq!(with(3, (spans[0].0, spans[0].0)).unwrap().1.notes, Some(""));
        assert_eq!(with(3, spans[0]).unwrap().1.notes, Some("t1"));
        assert_eq!(with(3, (len, len + 1)), None);
    }
}
