//! The engine (`crate::link`) for JavaScript. The package's `Store`
//! (`npm/store.js`) is the executor: it owns the WebSocket, `fetch`, the one
//! timer, the listeners and the write promises, feeds what happens here, and
//! runs the actions `poll()` hands back (JSON, see `link::Action`). Nothing
//! here decides or does I/O; text crosses the boundary as JSON, which
//! V8's `JSON.parse` turns into objects fastest.

use crate::link::{Input, Link, Millis, Options, Resync, WriteCmd};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EngineOptions {
    url: String,
    token: Option<String>,
    auto_transition: bool,
    client_id: String,
    seed: u64,
}

#[wasm_bindgen]
pub struct Engine {
    link: Link,
}

fn at(now: f64) -> Millis {
    now as Millis
}

fn json<T: serde::Serialize>(v: &T) -> String {
    serde_json::to_string(v).expect("engine types serialize")
}

#[wasm_bindgen]
impl Engine {
    /// `options`: `{"url", "token", "autoTransition", "clientId", "seed"}` as JSON.
    #[wasm_bindgen(constructor)]
    pub fn new(options: &str) -> Result<Engine, String> {
        let o: EngineOptions = serde_json::from_str(options).map_err(|e| e.to_string())?;
        Ok(Engine {
            link: Link::new(Options {
                base_url: o.url,
                token: o.token,
                auto_transition: o.auto_transition,
                resync: Resync::Snapshot,
                client_id: o.client_id,
                seed: o.seed,
                since: None,
            }),
        })
    }

    /// The next action as JSON (`{"a": kind, "v": …}`), or nothing.
    pub fn poll(&mut self) -> Option<String> {
        self.link.poll_action().map(|a| json(&a))
    }

    /// When to call `tick()` next (ms since the Unix epoch), or -1.
    #[wasm_bindgen(js_name = nextDeadline)]
    pub fn next_deadline(&self) -> f64 {
        self.link.next_deadline().map_or(-1.0, |t| t as f64)
    }

    pub fn connect(&mut self, now: f64) {
        self.link.handle(at(now), Input::Connect);
    }

    pub fn close(&mut self, now: f64) {
        self.link.handle(at(now), Input::Close);
    }

    pub fn frame(&mut self, now: f64, conn: f64, text: &str) {
        let conn = conn as u64;
        self.link.handle(at(now), Input::Frame { conn, text });
    }

    pub fn closed(&mut self, now: f64, conn: f64, code: u16) {
        let conn = conn as u64;
        self.link.handle(at(now), Input::Closed { conn, code });
    }

    pub fn answer(&mut self, now: f64, req: f64, status: u16, body: &str) {
        let req = req as u64;
        self.link
            .handle(at(now), Input::Answer { req, status, body });
    }

    pub fn online(&mut self, now: f64, online: bool) {
        self.link.handle(at(now), Input::Online(online));
    }

    pub fn visible(&mut self, now: f64, visible: bool) {
        self.link.handle(at(now), Input::Visible(visible));
    }

    pub fn tick(&mut self, now: f64) {
        self.link.handle(at(now), Input::Tick);
    }

    pub fn message(&mut self, now: f64, text: &str) {
        self.link.handle(at(now), Input::Message(text));
    }

    #[wasm_bindgen(js_name = loadSnapshot)]
    pub fn load_snapshot(&mut self, now: f64, text: &str) {
        self.link.handle(at(now), Input::LoadSnapshot(text));
    }

    /// A write (`{"op": "createTask", …}` as JSON); its id, or why it is malformed.
    pub fn write(&mut self, now: f64, cmd: &str) -> Result<f64, String> {
        let cmd: WriteCmd = serde_json::from_str(cmd).map_err(|e| e.to_string())?;
        Ok(self.link.write(at(now), cmd) as f64)
    }

    #[wasm_bindgen(js_name = restoreOutbox)]
    pub fn restore_outbox(&mut self, now: f64, text: &str) -> Result<(), String> {
        self.link.restore_outbox(at(now), text)
    }

    #[wasm_bindgen(js_name = setEmitEvents)]
    pub fn set_emit_events(&mut self, on: bool) {
        self.link.set_emit_events(on);
    }

    pub fn state(&self) -> String {
        self.link.state().as_str().to_owned()
    }

    pub fn seq(&self) -> f64 {
        self.link.seq() as f64
    }

    /// When reconnecting: the time of the next attempt, or -1.
    #[wasm_bindgen(js_name = retryAt)]
    pub fn retry_at(&self) -> f64 {
        self.link.retry_at().map_or(-1.0, |t| t as f64)
    }

    #[wasm_bindgen(js_name = outboxLen)]
    pub fn outbox_len(&self) -> u32 {
        self.link.outbox_len() as u32
    }

    /// `[taskIds, sessionIds]` whose visible copy changed since the last call, as JSON.
    #[wasm_bindgen(js_name = takeChanges)]
    pub fn take_changes(&mut self) -> String {
        json(&self.link.take_changes())
    }

    /// One task as the user sees it, as JSON.
    pub fn task(&self, id: &str) -> Option<String> {
        self.link.task(id).map(json)
    }

    pub fn session(&self, id: &str) -> Option<String> {
        self.link.session(id).map(json)
    }

    /// Ids of all tasks, in list order (objects come from `task()`, cached by the caller).
    #[wasm_bindgen(js_name = taskIds)]
    pub fn task_ids(&self) -> Vec<String> {
        self.link.tasks().iter().map(|t| t.id.clone()).collect()
    }

    #[wasm_bindgen(js_name = sessionIds)]
    pub fn session_ids(&self) -> Vec<String> {
        self.link.sessions().iter().map(|s| s.id.clone()).collect()
    }

    #[wasm_bindgen(js_name = aggregateStatus)]
    pub fn aggregate_status(&self, task_id: &str) -> Option<String> {
        let t = self.link.task(task_id)?;
        Some(
            crate::aggregate_status(&t.session_progress)
                .as_str()
                .to_owned(),
        )
    }
}

/// The statuses a user may move a task to from `from` (the server's rules).
#[wasm_bindgen(js_name = allowedTaskTransitions)]
pub fn allowed_task_transitions(from: &str) -> Vec<String> {
    crate::TaskStatus::parse(from)
        .map(|s| {
            s.allowed_targets()
                .iter()
                .map(|t| t.as_str().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// The event types the stream sends.
#[wasm_bindgen(js_name = eventTypes)]
pub fn event_types() -> Vec<String> {
    crate::Event::TYPES
        .iter()
        .map(|t| (*t).to_owned())
        .collect()
}
