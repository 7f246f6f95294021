//! The store's state behind the JS class: the replica plus the link to the
//! server (socket, resume, snapshot fallback, backoff, watchdog). Every
//! method here runs under a borrow of the state and only *collects* what JS
//! must see into an `Outbox`; the caller delivers it after the borrow ends,
//! so no JS callback ever runs while the store is borrowed.

use super::js;
use crate::event::Envelope;
use crate::frame::{Frame, parse_frame};
use crate::replica::{Replica, Snapshot};
use js_sys::{Array, Function, Object};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::{Rc, Weak};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;

/// A link silent this long is treated as dead.
const SILENCE_MS: f64 = 60_000.0;
/// A socket that has not said hello by then is given up on.
const HANDSHAKE_MS: f64 = 10_000.0;
/// How often the watchdog looks.
const WATCHDOG_MS: f64 = 5_000.0;
const BACKOFF_START_MS: f64 = 500.0;
const BACKOFF_CAP_MS: f64 = 30_000.0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConnState {
    Connecting,
    Syncing,
    Live,
    Reconnecting,
    Closed,
}

impl ConnState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnState::Connecting => "connecting",
            ConnState::Syncing => "syncing",
            ConnState::Live => "live",
            ConnState::Reconnecting => "reconnecting",
            ConnState::Closed => "closed",
        }
    }
}

/// What to do once the borrow is released.
#[derive(Default)]
pub struct Outbox {
    pub calls: Vec<(Function, Vec<JsValue>)>,
    /// Auto-transitions to request: (task id, If-Match version).
    pub auto: Vec<(String, u64)>,
    pub fetch_snapshot: bool,
    /// Queue a microtask that announces the changes made so far.
    pub schedule_flush: bool,
}

pub type Shared = Rc<RefCell<Inner>>;

/// The four socket callbacks, made once per store and reused for every socket.
pub struct SocketHandlers {
    pub open: Closure<dyn FnMut(JsValue)>,
    pub message: Closure<dyn FnMut(JsValue)>,
    pub close: Closure<dyn FnMut(JsValue)>,
    pub error: Closure<dyn FnMut(JsValue)>,
}

pub struct Inner {
    pub replica: Replica,
    pub http: String,
    pub ws: String,
    pub token: Option<String>,
    pub auto: bool,
    pub ws_ctor: Option<Function>,
    pub fetch: Function,
    pub socket: Option<JsValue>,
    pub state: ConnState,
    pub closing: bool,
    pub attempt: u32,
    pub retry_timer: Option<JsValue>,
    pub retry_at: Option<f64>,
    pub watchdog: Option<JsValue>,
    pub last_heard: f64,
    target_seq: u64,
    awaiting_snapshot: bool,
    buffered: Vec<(Envelope, String)>,
    pub subscribers: Vec<(u32, Function)>,
    pub handlers: Vec<(u32, String, Function)>,
    pub state_listeners: Vec<(u32, Function)>,
    pub next_id: u32,
    snapshot: Option<JsValue>,
    unannounced: bool,
    unannounced_tasks: Vec<String>,
    flush_scheduled: bool,
    task_js: HashMap<String, JsValue>,
    session_js: HashMap<String, JsValue>,
    pub waiters: Vec<(Function, Function)>,
    pub socket_handlers: Option<SocketHandlers>,
    pub watchdog_fn: Option<Closure<dyn FnMut()>>,
    pub online_fn: Option<Closure<dyn FnMut()>>,
}

impl Inner {
    pub fn new(
        http: String,
        token: Option<String>,
        auto: bool,
        ws_ctor: Option<Function>,
        fetch: Function,
    ) -> Inner {
        let ws = if let Some(rest) = http.strip_prefix("https://") {
            format!("wss://{rest}")
        } else {
            format!("ws://{}", http.strip_prefix("http://").unwrap_or(&http))
        };
        Inner {
            replica: Replica::new(),
            http,
            ws,
            token,
            auto,
            ws_ctor,
            fetch,
            socket: None,
            state: ConnState::Closed,
            closing: false,
            attempt: 0,
            retry_timer: None,
            retry_at: None,
            watchdog: None,
            last_heard: 0.0,
            target_seq: 0,
            awaiting_snapshot: false,
            buffered: Vec::new(),
            subscribers: Vec::new(),
            handlers: Vec::new(),
            state_listeners: Vec::new(),
            next_id: 1,
            snapshot: None,
            unannounced: false,
            unannounced_tasks: Vec::new(),
            flush_scheduled: false,
            task_js: HashMap::new(),
            session_js: HashMap::new(),
            waiters: Vec::new(),
            socket_handlers: None,
            watchdog_fn: None,
            online_fn: None,
        }
    }

    pub fn next_id(&mut self) -> u32 {
        self.next_id += 1;
        self.next_id
    }

    pub fn set_state(&mut self, state: ConnState, out: &mut Outbox) {
        if self.state == state {
            return;
        }
        self.state = state;
        self.snapshot = None;
        let arg = JsValue::from_str(state.as_str());
        out.calls.extend(
            self.state_listeners
                .iter()
                .map(|(_, f)| (f.clone(), vec![arg.clone()])),
        );
        self.notify_subscribers(out);
    }

    fn notify_subscribers(&self, out: &mut Outbox) {
        out.calls
            .extend(self.subscribers.iter().map(|(_, f)| (f.clone(), vec![])));
    }

    /// After the replica changed: drop stale JS objects, tell subscribers,
    /// and decide auto-transitions among the changed tasks.
    pub fn after_changes(&mut self, out: &mut Outbox) {
        self.sync_caches();
        if !self.unannounced {
            return;
        }
        self.unannounced = false;
        let tasks = std::mem::take(&mut self.unannounced_tasks);
        self.notify_subscribers(out);
        if self.auto && !self.awaiting_snapshot {
            out.auto.extend(self.replica.auto_transitions(&tasks));
        }
    }

    /// Drops the JS objects of entities that changed (getters call this, so
    /// they never return stale objects even before the coalesced flush).
    pub fn sync_caches(&mut self) {
        if !self.replica.has_changes() {
            return;
        }
        let (tasks, sessions) = self.replica.take_changes();
        for id in &tasks {
            self.task_js.remove(id);
        }
        for id in &sessions {
            self.session_js.remove(id);
        }
        self.snapshot = None;
        self.unannounced = true;
        self.unannounced_tasks.extend(tasks);
    }

    /// Events arrive in bursts: announce their changes once, from a
    /// microtask, instead of once per event.
    fn changed_later(&mut self, out: &mut Outbox) {
        if !self.flush_scheduled {
            self.flush_scheduled = true;
            out.schedule_flush = true;
        }
    }

    /// The coalesced announcement (run from the microtask).
    pub fn flush(&mut self, out: &mut Outbox) {
        self.flush_scheduled = false;
        self.after_changes(out);
    }

    /// Reports a problem to `on('error')` listeners, or the console.
    pub fn report(&self, message: &str, detail: JsValue, out: &mut Outbox) {
        let listeners: Vec<_> = self
            .handlers
            .iter()
            .filter(|(_, t, _)| t == "error")
            .collect();
        if listeners.is_empty() {
            js::console_warn(&format!("tasksync: {message}"), &detail);
        }
        let err = js::error("client_error", 0, message);
        js::set(&err, "detail", &detail);
        out.calls.extend(
            listeners
                .into_iter()
                .map(|(_, _, f)| (f.clone(), vec![err.clone()])),
        );
    }

    fn fire_event(&self, ty: &str, text: &str, out: &mut Outbox) {
        let listeners: Vec<&Function> = self
            .handlers
            .iter()
            .filter(|(_, t, _)| t == ty || t == "*")
            .map(|(_, _, f)| f)
            .collect();
        if listeners.is_empty() {
            return;
        }
        let event = js::parse(text);
        let payload = js::get(&event, "payload");
        out.calls.extend(
            listeners
                .into_iter()
                .map(|f| (f.clone(), vec![payload.clone(), event.clone()])),
        );
    }

    /// One text frame from the server.
    pub fn on_text(&mut self, text: &str, out: &mut Outbox) {
        self.last_heard = js_sys::Date::now();
        match parse_frame(text) {
            Err(e) => self.report(&e.to_string(), JsValue::from_str(text), out),
            Ok(Frame::Hello(h)) => {
                self.target_seq = h.seq;
                if h.resumed && self.replica.epoch() == Some(h.epoch.as_str()) {
                    self.set_state(ConnState::Syncing, out);
                    if self.auto {
                        out.auto.extend(self.replica.all_auto_transitions());
                    }
                    self.maybe_live(out);
                } else {
                    // The seed's full refetch: events that arrive meanwhile are kept
                    // and applied on top of the snapshot (those at or below its seq are skipped).
                    self.replica.set_epoch(&h.epoch);
                    self.awaiting_snapshot = true;
                    self.buffered.clear();
                    self.set_state(ConnState::Syncing, out);
                    out.fetch_snapshot = true;
                }
            }
            Ok(Frame::Event(env)) => {
                if self.awaiting_snapshot {
                    self.buffered.push((env, text.to_owned()));
                    return;
                }
                let ty = env.event.type_name();
                if self.replica.apply(env) {
                    self.fire_event(ty, text, out);
                    self.changed_later(out);
                }
                self.maybe_live(out);
            }
            Ok(Frame::Ping | Frame::Pong | Frame::Unknown(_)) => {}
        }
    }

    fn maybe_live(&mut self, out: &mut Outbox) {
        if self.state != ConnState::Live
            && !self.awaiting_snapshot
            && self.socket.is_some()
            && self.replica.seq() >= self.target_seq
        {
            self.attempt = 0;
            self.set_state(ConnState::Live, out);
            out.calls
                .extend(self.waiters.drain(..).map(|(resolve, _)| (resolve, vec![])));
        }
    }

    pub fn on_snapshot(&mut self, snap: Snapshot, out: &mut Outbox) {
        if !self.awaiting_snapshot {
            return;
        }
        self.replica.load_snapshot(snap);
        self.awaiting_snapshot = false;
        for (env, text) in std::mem::take(&mut self.buffered) {
            let ty = env.event.type_name();
            if self.replica.apply(env) {
                self.fire_event(ty, &text, out);
            }
        }
        self.after_changes(out);
        if self.auto {
            out.auto.extend(self.replica.all_auto_transitions());
        }
        self.maybe_live(out);
    }

    /// Detaches and closes the current socket, if any.
    pub fn drop_socket(&mut self, code: u16) {
        if let Some(socket) = self.socket.take() {
            for key in ["onopen", "onmessage", "onclose", "onerror"] {
                js::set(&socket, key, &JsValue::NULL);
            }
            if let Ok(close) = js::get(&socket, "close").dyn_into::<Function>() {
                let _ = close.call2(
                    &socket,
                    &JsValue::from(code),
                    &JsValue::from_str("client closing"),
                );
            }
        }
        self.awaiting_snapshot = false;
        self.buffered.clear();
    }

    /// The link is gone: retry with capped exponential backoff and full jitter.
    pub fn link_lost(&mut self, weak: &Weak<RefCell<Inner>>, out: &mut Outbox) {
        self.drop_socket(1000);
        if self.closing {
            self.set_state(ConnState::Closed, out);
            return;
        }
        let cap = (BACKOFF_START_MS * 2f64.powi(self.attempt.min(16) as i32)).min(BACKOFF_CAP_MS);
        let delay = js_sys::Math::random() * cap;
        self.attempt += 1;
        self.retry_at = Some(js_sys::Date::now() + delay);
        self.set_state(ConnState::Reconnecting, out);
        let weak = weak.clone();
        let retry = Closure::once_into_js(move || {
            if let Some(rc) = weak.upgrade() {
                let mut out = Outbox::default();
                {
                    let mut inner = rc.borrow_mut();
                    inner.retry_timer = None;
                    inner.open(&mut out);
                }
                super::deliver(&rc, out);
            }
        });
        if let Some(old) = self.retry_timer.take() {
            js::clear_timeout(&old);
        }
        self.retry_timer = Some(js::set_timeout(retry.unchecked_ref(), delay));
    }

    /// Opens a socket, resuming from our last seq when we have one.
    pub fn open(&mut self, out: &mut Outbox) {
        if self.closing || self.socket.is_some() {
            return;
        }
        if let Some(t) = self.retry_timer.take() {
            js::clear_timeout(&t);
        }
        self.retry_at = None;
        let mut url = format!("{}/ws", self.ws);
        let mut sep = '?';
        if let Some(epoch) = self.replica.epoch() {
            url.push_str(&format!(
                "?since={}&epoch={}",
                self.replica.seq(),
                encode(epoch)
            ));
            sep = '&';
        }
        if let Some(token) = &self.token {
            url.push_str(&format!("{sep}token={}", encode(token)));
        }
        let first = self.state == ConnState::Closed;
        self.set_state(
            if first {
                ConnState::Connecting
            } else {
                ConnState::Reconnecting
            },
            out,
        );
        let args = Array::of1(&JsValue::from_str(&url));
        let Some(ctor) = &self.ws_ctor else { return };
        match js_sys::Reflect::construct(ctor, &args) {
            Ok(socket) => {
                let h = self
                    .socket_handlers
                    .as_ref()
                    .expect("handlers are set at construction");
                js::set(&socket, "onopen", h.open.as_ref());
                js::set(&socket, "onmessage", h.message.as_ref());
                js::set(&socket, "onclose", h.close.as_ref());
                js::set(&socket, "onerror", h.error.as_ref());
                self.last_heard = js_sys::Date::now();
                self.socket = Some(socket);
            }
            Err(e) => self.report("could not open the WebSocket", e, out),
        }
    }

    /// True if `event` came from the current socket.
    pub fn is_current(&self, event: &JsValue) -> bool {
        let target = js::get(event, "target");
        self.socket.as_ref().is_some_and(|s| Object::is(s, &target))
    }

    /// The watchdog: 60 s of silence means a dead link.
    pub fn check_silence(&mut self, weak: &Weak<RefCell<Inner>>, out: &mut Outbox) {
        if self.socket.is_none() {
            return;
        }
        let quiet = js_sys::Date::now() - self.last_heard;
        // Before the hello a socket may hang in its handshake without ever
        // reporting open or close; it gets a much shorter leash.
        let handshaking = matches!(self.state, ConnState::Connecting | ConnState::Reconnecting);
        if handshaking && quiet > HANDSHAKE_MS {
            self.link_lost(weak, out);
        } else if quiet > SILENCE_MS {
            self.report(
                "no message from the server for 60 s; reconnecting",
                JsValue::UNDEFINED,
                out,
            );
            self.link_lost(weak, out);
        }
    }

    pub fn watchdog_interval() -> f64 {
        WATCHDOG_MS
    }

    pub fn task_js(&mut self, id: &str) -> JsValue {
        self.sync_caches();
        if let Some(v) = self.task_js.get(id) {
            return v.clone();
        }
        let Some(t) = self.replica.task(id) else {
            return JsValue::UNDEFINED;
        };
        let v = js::parse(&serde_json::to_string(t).expect("task serializes"));
        self.task_js.insert(id.to_owned(), v.clone());
        v
    }

    pub fn session_js(&mut self, id: &str) -> JsValue {
        self.sync_caches();
        if let Some(v) = self.session_js.get(id) {
            return v.clone();
        }
        let Some(s) = self.replica.session(id) else {
            return JsValue::UNDEFINED;
        };
        let v = js::parse(&serde_json::to_string(s).expect("session serializes"));
        self.session_js.insert(id.to_owned(), v.clone());
        v
    }

    /// The snapshot object: the same one until something changes.
    pub fn snapshot(&mut self) -> JsValue {
        self.sync_caches();
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let task_ids: Vec<String> = self.replica.tasks().iter().map(|t| t.id.clone()).collect();
        let session_ids: Vec<String> = self
            .replica
            .sessions()
            .iter()
            .map(|s| s.id.clone())
            .collect();
        let tasks: Array = task_ids.iter().map(|id| self.task_js(id)).collect();
        let sessions: Array = session_ids.iter().map(|id| self.session_js(id)).collect();
        let snap = Object::new();
        js::set(&snap, "tasks", &tasks);
        js::set(&snap, "sessions", &sessions);
        js::set(&snap, "seq", &JsValue::from(self.replica.seq() as f64));
        js::set(
            &snap,
            "connectionState",
            &JsValue::from_str(self.state.as_str()),
        );
        let snap: JsValue = snap.into();
        self.snapshot = Some(snap.clone());
        snap
    }
}

/// Percent-encodes a query value.
fn encode(s: &str) -> String {
    js_sys::encode_uri_component(s)
        .as_string()
        .unwrap_or_default()
}
