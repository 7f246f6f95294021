//! Parsing what the server sends on the WebSocket: control frames
//! (`sync:hello`, `sync:ping`, `sync:pong`) and events with their `seq`.

use crate::event::{Envelope, Event, SessionStatusPayload};
use crate::model::{Session, Task, layout};
use serde::Deserialize;
use serde_json::value::RawValue;

pub use crate::wire::Hello;

/// One frame from the server.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // a frame lives only until it is applied
pub enum Frame {
    Hello(Hello),
    Ping,
    Pong,
    Event(Envelope),
    /// A frame type this client does not know (newer server): skipped.
    Unknown(String),
}

/// Why a frame could not be understood.
#[derive(Debug, thiserror::Error)]
#[error("malformed server message: {0}")]
pub struct FrameError(String);

#[derive(Deserialize)]
struct Wire<'a> {
    #[serde(rename = "type", borrow)]
    ty: std::borrow::Cow<'a, str>,
    #[serde(borrow)]
    payload: Option<&'a RawValue>,
    seq: Option<u64>,
}

/// Parses one text frame from the server.
pub fn parse_frame(text: &str) -> Result<Frame, FrameError> {
    if let Some(frame) = parse_server_layout(text) {
        return Ok(frame);
    }
    let wire: Wire = serde_json::from_str(text).map_err(|e| FrameError(e.to_string()))?;
    let payload = wire.payload.map_or("{}", RawValue::get);
    match wire.ty.as_ref() {
        "sync:hello" => serde_json::from_str(payload)
            .map(Frame::Hello)
            .map_err(|e| FrameError(format!("sync:hello: {e}"))),
        "sync:ping" => Ok(Frame::Ping),
        "sync:pong" => Ok(Frame::Pong),
        ty if Event::TYPES.contains(&ty) => {
            let seq = wire
                .seq
                .ok_or_else(|| FrameError(format!("{ty} without seq")))?;
            let event = parse_event(ty, payload).map_err(|e| FrameError(format!("{ty}: {e}")))?;
            Ok(Frame::Event(Envelope { event, seq }))
        }
        other => Ok(Frame::Unknown(other.to_owned())),
    }
}

/// The server writes every event as `{"type":"…","payload":{…},"seq":N}`.
/// Read in that order, the payload is parsed once, straight into its type,
/// instead of being scanned first to find the type (a third of the cost of
/// a frame). Anything else — another key order, spaces, an error — takes
/// the general path, which decides what is malformed.
fn parse_server_layout(text: &str) -> Option<Frame> {
    let rest = text.strip_prefix(r#"{"type":""#)?;
    let (ty, rest) = rest.split_once('"')?;
    let payload = rest.strip_prefix(r#","payload":"#)?;
    if !Event::TYPES.contains(&ty) {
        return None;
    }
    let (event, end) = match task_payload(ty, payload) {
        Some(read) => read,
        None => {
            let mut source = Prefix {
                text: payload,
                end: 0,
            };
            (event_from(ty, &mut source).ok()?, source.end)
        }
    };
    let seq = payload[end..]
        .strip_prefix(r#","seq":"#)?
        .strip_suffix('}')?;
    // (digits as JSON writes a whole number: no leading zero, which serde refuses)
    if seq.is_empty()
        || !seq.bytes().all(|b| b.is_ascii_digit())
        || seq.len() > 1 && seq.starts_with('0')
    {
        return None;
    }
    Some(Frame::Event(Envelope {
        event,
        seq: seq.parse().ok()?,
    }))
}

/// A task event's payload, `{"task":…}`, with its task in the server's
/// layout (read by hand, `model::layout`), and where it ends.
fn task_payload(ty: &str, payload: &str) -> Option<(Event, usize)> {
    const HEAD: &str = r#"{"task":"#;
    let created = match ty {
        "task:created" => true,
        "task:updated" => false,
        _ => return None,
    };
    let (task, used) = layout::task_in(payload.strip_prefix(HEAD)?)?;
    let end = HEAD.len() + used;
    if payload.as_bytes().get(end) != Some(&b'}') {
        return None;
    }
    let task = task.into_task();
    let event = match created {
        true => Event::TaskCreated { task },
        false => Event::TaskUpdated { task },
    };
    Some((event, end + 1))
}

/// Where a payload is read from.
trait Source<'a> {
    fn parse<T: Deserialize<'a>>(&mut self) -> Result<T, serde_json::Error>;
}

/// One JSON value at the start of `text`; `end` is where it stopped.
struct Prefix<'a> {
    text: &'a str,
    end: usize,
}

impl<'a> Source<'a> for Prefix<'a> {
    fn parse<T: Deserialize<'a>>(&mut self) -> Result<T, serde_json::Error> {
        let mut values = serde_json::Deserializer::from_str(self.text).into_iter::<T>();
        let value = values
            .next()
            .unwrap_or_else(|| Err(serde::de::Error::custom("no payload")))?;
        self.end = values.byte_offset();
        Ok(value)
    }
}

#[derive(Deserialize)]
struct TaskBody {
    task: Task,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TaskIdBody {
    task_id: String,
}

#[derive(Deserialize)]
struct SessionBody {
    session: Session,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionChangeBody {
    session_id: String,
    #[serde(default)]
    error: Option<String>,
    session: Session,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct SessionIdBody {
    session_id: String,
}

/// Parses an event's payload given its type name. Each type's payload is
/// read straight into its own struct: serde's derived code for the whole
/// adjacently-tagged enum is several times larger in WebAssembly, and slower.
pub fn parse_event(ty: &str, payload: &str) -> Result<Event, serde_json::Error> {
    // (the same reader as the one-pass path, so each payload type's parser
    // is compiled once; here the value must be all there is)
    let mut source = Prefix {
        text: payload,
        end: 0,
    };
    let event = event_from(ty, &mut source)?;
    if !payload[source.end..].trim().is_empty() {
        return Err(serde::de::Error::custom(
            "trailing characters after the payload",
        ));
    }
    Ok(event)
}

fn event_from<'a>(ty: &str, src: &mut impl Source<'a>) -> Result<Event, serde_json::Error> {
    Ok(match ty {
        "task:created" => Event::TaskCreated {
            task: src.parse::<TaskBody>()?.task,
        },
        "task:updated" => Event::TaskUpdated {
            task: src.parse::<TaskBody>()?.task,
        },
        "task:deleted" => Event::TaskDeleted {
            task_id: src.parse::<TaskIdBody>()?.task_id,
        },
        "task:session_status" => Event::TaskSessionStatus(src.parse::<SessionStatusPayload>()?),
        "session:spawn" => Event::SessionSpawn {
            session: src.parse::<SessionBody>()?.session,
        },
        "session:updated" => Event::SessionUpdated {
            session: src.parse::<SessionBody>()?.session,
        },
        "session:deleted" => Event::SessionDeleted {
            session_id: src.parse::<SessionIdBody>()?.session_id,
        },
        "session:active" | "session:stopped" | "session:failed" => {
            let b: SessionChangeBody = src.parse()?;
            match ty {
                "session:active" => Event::SessionActive {
                    session_id: b.session_id,
                    session: b.session,
                },
                "session:stopped" => Event::SessionStopped {
                    session_id: b.session_id,
                    session: b.session,
                },
                _ => Event::SessionFailed {
                    session_id: b.session_id,
                    error: b.error,
                    session: b.session,
                },
            }
        }
        other => {
            return Err(serde::de::Error::custom(format!(
                "unknown event type `{other}`"
            )));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_control_frames_events_and_unknowns() {
        let hello =
            parse_frame(r#"{"type":"sync:hello","payload":{"epoch":"e1","seq":4,"resumed":true}}"#)
                .unwrap();
        assert_eq!(
            hello,
            Frame::Hello(Hello {
                epoch: "e1".into(),
                seq: 4,
                resumed: true
            })
        );
        assert_eq!(
            parse_frame(r#"{"type":"sync:ping","payload":{}}"#).unwrap(),
            Frame::Ping
        );
        let e = parse_frame(r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":9}"#).unwrap();
        assert_eq!(
            e,
            Frame::Event(Envelope {
                event: Event::TaskDeleted {
                    task_id: "t".into()
                },
                seq: 9
            })
        );
        // key order does not matter
        let e = parse_frame(r#"{"seq":3,"payload":{"sessionId":"s"},"type":"session:deleted"}"#)
            .unwrap();
        assert!(matches!(e, Frame::Event(Envelope { seq: 3, .. })));
        assert_eq!(
            parse_frame(r#"{"type":"sync:future","payload":{}}"#).unwrap(),
            Frame::Unknown("sync:future".into())
        );
        for bad in [
            "",
            "[]",
            "{}",
            r#"{"type":5}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"}}"#,
            r#"{"type":"task:deleted","payload":{},"seq":1}"#,
            r#"{"type":"sync:hello","payload":{"epoch":1}}"#,
        ] {
            assert!(parse_frame(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod agreement {
    use super::*;
    use crate::replica::tests_support::{full_session, full_task};

    /// The hand-dispatched parser reads back exactly what the server's serde output says.
    #[test]
    fn parse_event_round_trips_every_event_type() {
        let (task, session) = (full_task(), full_session());
        let events = vec![
            Event::TaskCreated { task: task.clone() },
            Event::TaskUpdated { task: task.clone() },
            Event::TaskDeleted {
                task_id: "t".into(),
            },
            Event::TaskSessionStatus(SessionStatusPayload {
                task_id: "t".into(),
                session_id: "s".into(),
                status: crate::SessionStatus::NeedsInput,
                notes: Some("n".into()),
                last_updated: "x".into(),
                version: 3,
            }),
            Event::SessionSpawn {
                session: session.clone(),
            },
            Event::SessionActive {
                session_id: "s".into(),
                session: session.clone(),
            },
            Event::SessionStopped {
                session_id: "s".into(),
                session: session.clone(),
            },
            Event::SessionFailed {
                session_id: "s".into(),
                error: Some("e".into()),
                session: session.clone(),
            },
            Event::SessionFailed {
                session_id: "s".into(),
                error: None,
                session: session.clone(),
            },
            Event::SessionUpdated { session },
            Event::SessionDeleted {
                session_id: "s".into(),
            },
        ];
        for (i, event) in events.into_iter().enumerate() {
            let env = Envelope {
                event,
                seq: i as u64 + 1,
            };
            let text = serde_json::to_string(&env).unwrap();
            // the server's layout takes the one-pass path, and it agrees
            // with the general one (reached here by reordering the keys)
            assert_eq!(
                parse_server_layout(&text),
                Some(Frame::Event(env.clone())),
                "{text}"
            );
            let v: serde_json::Value = serde_json::from_str(&text).unwrap();
            let reordered = format!(
                r#"{{"seq":{},"type":{},"payload":{}}}"#,
                v["seq"], v["type"], v["payload"]
            );
            assert_eq!(parse_server_layout(&reordered), None);
            assert_eq!(
                parse_frame(&reordered).unwrap(),
                Frame::Event(env.clone()),
                "{reordered}"
            );
            assert_eq!(parse_frame(&text).unwrap(), Frame::Event(env), "{text}");
        }
    }

    /// Task events of random tasks as the server writes them (the task read
    /// by hand, `model::layout`, unless it holds an escape) parse as serde
    /// reads them; cut short, or with a byte changed anywhere, they parse
    /// only if serde reads them, and then alike.
    #[test]
    fn task_frames_in_the_servers_layout_parse_as_serde_reads_them() {
        let mut rng = crate::replica::tests_support::Random::new(8);
        for i in 0..600 {
            rng.escapes = i % 3 == 0;
            let task = rng.task();
            let event = match i % 2 {
                0 => Event::TaskCreated { task },
                _ => Event::TaskUpdated { task },
            };
            let env = Envelope { event, seq: i };
            let text = serde_json::to_string(&env).unwrap();
            assert_eq!(parse_frame(&text).unwrap(), Frame::Event(env), "{text}");
            if text.len() > 600 {
                continue;
            }
            for at in 0..text.len() {
                if !text.is_char_boundary(at) {
                    continue;
                }
                let cut = &text[..at];
                assert!(parse_frame(cut).is_err(), "{cut}");
                if !text.as_bytes()[at].is_ascii() {
                    continue;
                }
                for &c in b"\"}0, " {
                    let mut bytes = text.clone().into_bytes();
                    bytes[at] = c;
                    let text = String::from_utf8(bytes).unwrap();
                    let by_serde = serde_json::from_str::<Envelope>(&text).ok();
                    match parse_frame(&text) {
                        Ok(Frame::Event(env)) => assert_eq!(Some(env), by_serde, "{text}"),
                        // (another frame type, unknown, or refused: serde has no event either)
                        _ => assert_eq!(by_serde, None, "{text}"),
                    }
                }
            }
        }
    }

    /// Near misses of the server's layout are left to the general path,
    /// which accepts or refuses them on its own terms.
    #[test]
    fn the_one_pass_path_takes_only_the_servers_exact_layout() {
        let ok = r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":7}"#;
        assert!(parse_server_layout(ok).is_some());
        for near in [
            r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":7} "#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":-7}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":07}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":7,"x":1}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t"}}"#,
            r#"{"type":"task:deleted","payload":{"taskId":5},"seq":7}"#,
            r#"{"type":"task:nope","payload":{"taskId":"t"},"seq":7}"#,
            r#"{"type":"task:deleted","payload":{"taskId":"t""#,
            r#"{"type": "task:deleted","payload":{"taskId":"t"},"seq":7}"#,
        ] {
            assert_eq!(parse_server_layout(near), None, "{near}");
        }
        // whitespace after the last brace is still a valid frame for the general path
        assert!(
            parse_frame(r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":7} "#).is_ok()
        );
        assert!(
            parse_frame(r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":-7}"#).is_err()
        );
        assert!(
            parse_frame(r#"{"type":"task:deleted","payload":{"taskId":"t"},"seq":07}"#).is_err()
        );
    }
}
