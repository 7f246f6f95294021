//! Parsing what the server sends on the WebSocket: control frames
//! (`sync:hello`, `sync:ping`, `sync:pong`) and events with their `seq`.

use crate::event::{Envelope, Event};
use serde::Deserialize;
use serde_json::value::RawValue;

/// The payload of `sync:hello`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Hello {
    pub epoch: String,
    pub seq: u64,
    pub resumed: bool,
}

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

/// Parses an event's payload given its type name.
pub fn parse_event(ty: &str, payload: &str) -> Result<Event, serde_json::Error> {
    // Let serde's adjacently-tagged impl pick the variant: with the tag
    // first it reads the payload straight into the variant, without buffering.
    let mut doc = String::with_capacity(payload.len() + ty.len() + 24);
    doc.push_str("{\"type\":");
    doc.push_str(&serde_json::to_string(ty)?);
    doc.push_str(",\"payload\":");
    doc.push_str(payload);
    doc.push('}');
    serde_json::from_str(&doc)
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
