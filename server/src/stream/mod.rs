//! The event stream: the in-memory log with fan-out (`log`) and the one
//! writer that applies commands, stores them and publishes their events
//! (`writer`), and which project each event belongs to (`scope`). The WebSocket endpoint that serves the log is in `http::ws`.

pub mod log;
pub mod scope;
pub mod writer;
