//! The `Store` class for JavaScript: a thin layer over `Replica` that opens
//! the WebSocket, resyncs, calls the REST API and hands out plain JS objects.
//! See `link.rs` for the rule that keeps callbacks out of borrows.

mod js;
mod link;

use crate::aggregate_status;
use crate::model::{Session, Task};
use crate::replica::Snapshot;
use js_sys::{Function, Promise};
use link::{ConnState, Inner, Outbox, Shared, SocketHandlers};
use std::cell::RefCell;
use std::rc::{Rc, Weak};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::{future_to_promise, spawn_local};

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("../types.d.ts");

/// Runs what an `Outbox` collected, with no borrow of the store held.
pub(crate) fn deliver(rc: &Shared, out: Outbox) {
    for (f, args) in out.calls {
        js::call(&f, &args);
    }
    if out.schedule_flush {
        let rc = rc.clone();
        let flush = Closure::once_into_js(move || with(&rc, |inner, out| inner.flush(out)));
        js::queue_microtask(flush.unchecked_ref());
    }
    if out.fetch_snapshot {
        let rc = rc.clone();
        spawn_local(async move { fetch_snapshot(rc).await });
    }
    for (task_id, version) in out.auto {
        // Wait a short random moment, then decide again: a CLI or another
        // store usually made the move by then, and nothing is sent. If-Match
        // keeps it exactly-once either way.
        let weak = Rc::downgrade(rc);
        let later = Closure::once_into_js(move || {
            let Some(rc) = weak.upgrade() else { return };
            let still = rc
                .borrow()
                .replica
                .task(&task_id)
                .and_then(crate::replica::auto_transition)
                == Some(version);
            if still && !rc.borrow().closing {
                spawn_local(async move { auto_transition(rc, task_id, version).await });
            }
        });
        js::set_timeout(
            later.unchecked_ref(),
            AUTO_TRANSITION_DELAY_MS.0 + js_sys::Math::random() * AUTO_TRANSITION_DELAY_MS.1,
        );
    }
}

/// After a failed auto-transition request, decide again this much later (ms).
const AUTO_TRANSITION_RETRY_MS: f64 = 1000.0;

/// The auto-transition waits this long (ms): a fixed part plus a random part.
const AUTO_TRANSITION_DELAY_MS: (f64, f64) = (50.0, 200.0);

/// Runs `f` under a borrow, then delivers what it collected.
fn with(rc: &Shared, f: impl FnOnce(&mut Inner, &mut Outbox)) {
    let mut out = Outbox::default();
    f(&mut rc.borrow_mut(), &mut out);
    deliver(rc, out);
}

async fn fetch_snapshot(rc: Shared) {
    match request(&rc, "GET", "/api/snapshot", None, None).await {
        Ok(text) => match serde_json::from_str::<Snapshot>(&text) {
            Ok(snap) => with(&rc, |inner, out| inner.on_snapshot(snap, out)),
            Err(e) => with(&rc, |inner, out| {
                inner.report(&format!("malformed snapshot: {e}"), JsValue::UNDEFINED, out);
                let weak = Rc::downgrade(&rc);
                inner.link_lost(&weak, out);
            }),
        },
        Err(e) => with(&rc, |inner, out| {
            inner.report("could not fetch the snapshot; reconnecting", e, out);
            let weak = Rc::downgrade(&rc);
            inner.link_lost(&weak, out);
        }),
    }
}

/// The seed's auto-transition, made safe for many stores: `If-Match` on the
/// version seen; a 412 means another store (or the CLI) already did it.
async fn auto_transition(rc: Shared, task_id: String, version: u64) {
    let forget = |rc: &Shared| {
        rc.borrow_mut()
            .replica
            .forget_auto_transition(&task_id, version)
    };
    let path = format!("/api/tasks/{task_id}");
    let body = r#"{"status":"inprogress"}"#.to_owned();
    match request(&rc, "PATCH", &path, Some(body), Some(version)).await {
        Ok(text) => observe::<Task>(&rc, &text),
        Err(e) => {
            let status = js::get(&e, "status").as_f64().unwrap_or(0.0) as u16;
            match status {
                // Someone else made the move, or the task changed or went away.
                404 | 409 | 412 => {}
                // Unreachable or unavailable: decide again in a second (and
                // after the next resync), until the server answers or the task moves.
                0 | 500.. => {
                    forget(&rc);
                    let weak = Rc::downgrade(&rc);
                    let retry = Closure::once_into_js(move || {
                        let Some(rc) = weak.upgrade() else { return };
                        with(&rc, |inner, out| {
                            if !inner.closing {
                                out.auto.extend(
                                    inner
                                        .replica
                                        .auto_transitions(std::slice::from_ref(&task_id)),
                                );
                            }
                        });
                    });
                    js::set_timeout(retry.unchecked_ref(), AUTO_TRANSITION_RETRY_MS);
                }
                _ => with(&rc, |inner, out| {
                    inner.report("auto-transition to inprogress failed", e, out)
                }),
            }
        }
    }
}

/// One REST call: the response text on 2xx, else a JS `Error` with `code` and `status`.
async fn request(
    rc: &Shared,
    method: &str,
    path: &str,
    body: Option<String>,
    if_match: Option<u64>,
) -> Result<String, JsValue> {
    let (fetch, url, token) = {
        let inner = rc.borrow();
        (
            inner.fetch.clone(),
            format!("{}{path}", inner.http),
            inner.token.clone(),
        )
    };
    let mut headers = Vec::new();
    if body.is_some() {
        headers.push(("content-type", "application/json".to_owned()));
    }
    if let Some(t) = token {
        headers.push(("authorization", format!("Bearer {t}")));
    }
    if let Some(v) = if_match {
        headers.push(("if-match", format!("\"{v}\"")));
    }
    let resp = js::fetch(&fetch, &url, method, &headers, body)
        .await
        .map_err(|e| {
            let msg = js::get(&e, "message")
                .as_string()
                .unwrap_or_else(|| "network error".into());
            js::error("network_error", 0, &format!("cannot reach {url}: {msg}"))
        })?;
    if (200..300).contains(&resp.status) {
        return Ok(resp.body);
    }
    #[derive(serde::Deserialize)]
    struct Body {
        error: ErrorBody,
    }
    #[derive(serde::Deserialize)]
    struct ErrorBody {
        code: String,
        message: String,
    }
    Err(match serde_json::from_str::<Body>(&resp.body) {
        Ok(b) => js::error(&b.error.code, resp.status, &b.error.message),
        Err(_) => js::error(
            "http_error",
            resp.status,
            &format!("{method} {path} failed with HTTP {}", resp.status),
        ),
    })
}

/// Takes an entity from a write's response into the store (read-your-writes);
/// the event that follows is then a no-op.
fn observe<T: serde::de::DeserializeOwned + Observed>(rc: &Shared, text: &str) {
    if let Ok(entity) = serde_json::from_str::<T>(text) {
        with(rc, |inner, out| {
            entity.observe(&mut inner.replica);
            inner.after_changes(out);
        });
    }
}

trait Observed {
    fn observe(self, replica: &mut crate::replica::Replica);
}
impl Observed for Task {
    fn observe(self, replica: &mut crate::replica::Replica) {
        replica.observe_task(self);
    }
}
impl Observed for Session {
    fn observe(self, replica: &mut crate::replica::Replica) {
        replica.observe_session(self);
    }
}

fn json_body(value: &JsValue) -> Result<String, JsValue> {
    let s = js_sys::JSON::stringify(value)?;
    s.as_string().ok_or_else(|| {
        js::error(
            "bad_request",
            0,
            "the argument must be a JSON-serializable object",
        )
    })
}

/// A JSON object of string fields (absent ones left out).
fn body(fields: &[(&str, Option<&str>)]) -> String {
    let mut map = std::collections::BTreeMap::new();
    for (k, v) in fields {
        if let Some(v) = v {
            map.insert(*k, *v);
        }
    }
    serde_json::to_string(&map).expect("strings serialize")
}

fn path_segment(id: &str) -> String {
    js_sys::encode_uri_component(id)
        .as_string()
        .unwrap_or_default()
}

/// The tasksync store: a live, synced copy of tasks and sessions.
#[wasm_bindgen]
pub struct Store {
    inner: Shared,
}

#[wasm_bindgen]
impl Store {
    /// Creates a store; nothing connects until `connect()`.
    #[wasm_bindgen(constructor)]
    pub fn new(
        #[wasm_bindgen(unchecked_param_type = "StoreOptions")] options: JsValue,
    ) -> Result<Store, JsValue> {
        install_panic_hook();
        let url = js::get(&options, "url").as_string().ok_or_else(|| {
            js::error(
                "bad_request",
                0,
                "options.url is required, e.g. 'http://127.0.0.1:7878'",
            )
        })?;
        let url = url.trim_end_matches('/').to_owned();
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            return Err(js::error(
                "bad_request",
                0,
                "options.url must start with http:// or https://",
            ));
        }
        let token = js::get(&options, "token")
            .as_string()
            .filter(|t| !t.is_empty());
        let auto = js::get(&options, "autoTransition")
            .as_bool()
            .unwrap_or(true);
        // Checked by connect(): a store used only for writes or replays needs no WebSocket.
        let ws_ctor: Option<Function> = js::get(&options, "WebSocket")
            .dyn_into()
            .ok()
            .or_else(|| js::global_function("WebSocket"));
        let fetch: Function = match js::get(&options, "fetch").dyn_into() {
            Ok(f) => f,
            Err(_) => js::global_function("fetch")
                .ok_or_else(|| js::error("unsupported", 0, "no fetch here: pass options.fetch"))?,
        };
        let inner: Shared = Rc::new(RefCell::new(Inner::new(url, token, auto, ws_ctor, fetch)));
        let weak = Rc::downgrade(&inner);
        inner.borrow_mut().socket_handlers = Some(socket_handlers(&weak));
        Ok(Store { inner })
    }

    /// Connects (or reconnects after `close()`); resolves once the first sync is complete.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn connect(&self) -> Promise {
        let rc = self.inner.clone();
        Promise::new(&mut |resolve, reject| {
            let rc = rc.clone();
            with(&rc.clone(), move |inner, out| {
                if inner.state == ConnState::Live {
                    out.calls.push((resolve, vec![]));
                    return;
                }
                if inner.ws_ctor.is_none() {
                    let e = "no WebSocket here: pass options.WebSocket (on Node 20, run with --experimental-websocket)";
                    out.calls
                        .push((reject, vec![js::error("unsupported", 0, e)]));
                    return;
                }
                inner.waiters.push((resolve, reject));
                inner.closing = false;
                start_background(&rc, inner);
                inner.open(out);
            });
        })
    }

    /// Closes the connection and stops all reconnecting. Pending `connect()`s reject.
    pub fn close(&self) {
        with(&self.inner, |inner, out| {
            inner.closing = true;
            if let Some(t) = inner.retry_timer.take() {
                js::clear_timeout(&t);
            }
            if let Some(t) = inner.watchdog.take() {
                js::clear_interval(&t);
            }
            inner.retry_at = None;
            inner.drop_socket(1000);
            inner.set_state(ConnState::Closed, out);
            let err = js::error("closed", 0, "the store was closed");
            out.calls.extend(
                inner
                    .waiters
                    .drain(..)
                    .map(|(_, reject)| (reject, vec![err.clone()])),
            );
        });
    }

    /// 'connecting' | 'syncing' | 'live' | 'reconnecting' | 'closed'.
    #[wasm_bindgen(getter, js_name = connectionState, unchecked_return_type = "ConnectionState")]
    pub fn connection_state(&self) -> String {
        self.inner.borrow().state.as_str().to_owned()
    }

    /// When reconnecting: the time (ms since the epoch) of the next attempt.
    #[wasm_bindgen(getter, js_name = nextRetryAt)]
    pub fn next_retry_at(&self) -> Option<f64> {
        self.inner.borrow().retry_at
    }

    /// The seq of the last applied event.
    #[wasm_bindgen(getter)]
    pub fn seq(&self) -> f64 {
        self.inner.borrow().replica.seq() as f64
    }

    /// The current state as one object, the same object until something changes.
    #[wasm_bindgen(js_name = getSnapshot, unchecked_return_type = "StoreSnapshot")]
    pub fn get_snapshot(&self) -> JsValue {
        self.inner.borrow_mut().snapshot()
    }

    /// All tasks (oldest first). Treat the objects as read-only.
    #[wasm_bindgen(js_name = getTasks, unchecked_return_type = "Task[]")]
    pub fn get_tasks(&self) -> JsValue {
        js::get(&self.inner.borrow_mut().snapshot(), "tasks")
    }

    #[wasm_bindgen(js_name = getTask, unchecked_return_type = "Task | undefined")]
    pub fn get_task(&self, id: &str) -> JsValue {
        self.inner.borrow_mut().task_js(id)
    }

    #[wasm_bindgen(js_name = getSessions, unchecked_return_type = "Session[]")]
    pub fn get_sessions(&self) -> JsValue {
        js::get(&self.inner.borrow_mut().snapshot(), "sessions")
    }

    #[wasm_bindgen(js_name = getSession, unchecked_return_type = "Session | undefined")]
    pub fn get_session(&self, id: &str) -> JsValue {
        self.inner.borrow_mut().session_js(id)
    }

    /// The aggregate session status of a task, or undefined for an unknown task.
    #[wasm_bindgen(js_name = aggregateStatus, unchecked_return_type = "AggregateStatus | undefined")]
    pub fn aggregate_status(&self, task_id: &str) -> JsValue {
        match self.inner.borrow().replica.task(task_id) {
            Some(t) => JsValue::from_str(aggregate_status(&t.session_progress).as_str()),
            None => JsValue::UNDEFINED,
        }
    }

    /// Calls `listener()` after every change; returns the unsubscribe function.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "() => void")] listener: Function,
    ) -> JsValue {
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_id();
            inner.subscribers.push((id, listener));
            id
        };
        unsubscriber(&self.inner, move |inner| {
            inner.subscribers.retain(|(i, _)| *i != id)
        })
    }

    /// Calls `handler(payload, event)` for each applied event of `type` ('*': all;
    /// 'error': problems such as malformed server messages). Returns the unsubscribe function.
    /// (Typed per event type in `types.d.ts`.)
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, ty: String, handler: Function) -> Result<JsValue, JsValue> {
        if ty != "*" && ty != "error" && !crate::Event::TYPES.contains(&ty.as_str()) {
            return Err(js_sys::TypeError::new(&format!(
                "unknown event type `{ty}`; use one of {}, '*' or 'error'",
                crate::Event::TYPES.join(", ")
            ))
            .into());
        }
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_id();
            inner.handlers.push((id, ty, handler));
            id
        };
        Ok(unsubscriber(&self.inner, move |inner| {
            inner.handlers.retain(|(i, _, _)| *i != id)
        }))
    }

    /// Calls `listener(state)` when the connection state changes; returns the unsubscribe function.
    #[wasm_bindgen(js_name = onConnectionChange, unchecked_return_type = "() => void")]
    pub fn on_connection_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(state: ConnectionState) => void")]
        listener: Function,
    ) -> JsValue {
        let id = {
            let mut inner = self.inner.borrow_mut();
            let id = inner.next_id();
            inner.state_listeners.push((id, listener));
            id
        };
        unsubscriber(&self.inner, move |inner| {
            inner.state_listeners.retain(|(i, _)| *i != id)
        })
    }

    /// Feeds one server message by hand (replays, tests); `connect()` does this itself.
    #[wasm_bindgen(js_name = applyMessage)]
    pub fn apply_message(&self, text: &str) {
        with(&self.inner, |inner, out| inner.on_text(text, out));
    }

    #[wasm_bindgen(js_name = createTask, unchecked_return_type = "Promise<Task>")]
    pub fn create_task(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewTask")] input: JsValue,
    ) -> Promise {
        self.write::<Task>("POST", "/api/tasks".into(), Some(input), None)
    }

    /// (Typed in `types.d.ts`, where `options` can be optional.)
    #[wasm_bindgen(js_name = updateTask, skip_typescript)]
    pub fn update_task(&self, id: &str, patch: JsValue, options: Option<Object>) -> Promise {
        let if_match = options
            .and_then(|o| js::get(&o, "ifMatch").as_f64())
            .map(|v| v as u64);
        self.write::<Task>(
            "PATCH",
            format!("/api/tasks/{}", path_segment(id)),
            Some(patch),
            if_match,
        )
    }

    #[wasm_bindgen(js_name = deleteTask, unchecked_return_type = "Promise<void>")]
    pub fn delete_task(&self, id: &str) -> Promise {
        self.write::<Task>(
            "DELETE",
            format!("/api/tasks/{}", path_segment(id)),
            None,
            None,
        )
    }

    /// Queues a task for a session: shown at once, rolled back if the server refuses.
    #[wasm_bindgen(js_name = queueTask, unchecked_return_type = "Promise<Task>")]
    pub fn queue_task(&self, task_id: &str, session_id: &str) -> Promise {
        let now = js_sys::Date::new_0()
            .to_iso_string()
            .as_string()
            .unwrap_or_default();
        let mut undo = None;
        with(&self.inner, |inner, out| {
            undo = inner.replica.queue_local(task_id, session_id, &now);
            inner.after_changes(out);
        });
        let body = body(&[("sessionId", Some(session_id))]);
        self.optimistic(
            format!("/api/tasks/{}/queue", path_segment(task_id)),
            "POST",
            Some(body),
            undo,
        )
    }

    /// Removes a session from a task: shown at once, rolled back if the server refuses.
    #[wasm_bindgen(js_name = removeSessionFromTask, unchecked_return_type = "Promise<Task>")]
    pub fn remove_session_from_task(&self, task_id: &str, session_id: &str) -> Promise {
        let mut undo = None;
        with(&self.inner, |inner, out| {
            undo = inner.replica.remove_local(task_id, session_id);
            inner.after_changes(out);
        });
        let path = format!(
            "/api/tasks/{}/sessions/{}",
            path_segment(task_id),
            path_segment(session_id)
        );
        self.optimistic(path, "DELETE", None, undo)
    }

    /// Sets a session's status on a task (what agents report).
    #[wasm_bindgen(js_name = setSessionStatus, unchecked_return_type = "Promise<Task>")]
    pub fn set_session_status(
        &self,
        task_id: &str,
        session_id: &str,
        #[wasm_bindgen(unchecked_param_type = "SessionStatus")] status: String,
        notes: Option<String>,
    ) -> Promise {
        let body = body(&[("status", Some(&status)), ("notes", notes.as_deref())]);
        let path = format!(
            "/api/tasks/{}/sessions/{}/status",
            path_segment(task_id),
            path_segment(session_id)
        );
        self.write_text::<Task>("PUT", path, Some(body), None)
    }

    #[wasm_bindgen(js_name = createSession, unchecked_return_type = "Promise<Session>")]
    pub fn create_session(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewSession")] input: JsValue,
    ) -> Promise {
        let input = if input.is_undefined() || input.is_null() {
            js_sys::Object::new().into()
        } else {
            input
        };
        self.write::<Session>("POST", "/api/sessions".into(), Some(input), None)
    }

    #[wasm_bindgen(js_name = activateSession, unchecked_return_type = "Promise<Session>")]
    pub fn activate_session(&self, id: &str) -> Promise {
        self.write_text::<Session>(
            "POST",
            format!("/api/sessions/{}/activate", path_segment(id)),
            Some("{}".into()),
            None,
        )
    }

    #[wasm_bindgen(js_name = stopSession, unchecked_return_type = "Promise<Session>")]
    pub fn stop_session(&self, id: &str) -> Promise {
        self.write_text::<Session>(
            "POST",
            format!("/api/sessions/{}/stop", path_segment(id)),
            Some("{}".into()),
            None,
        )
    }

    #[wasm_bindgen(js_name = failSession, unchecked_return_type = "Promise<Session>")]
    pub fn fail_session(&self, id: &str, error: Option<String>) -> Promise {
        let body = match error {
            Some(e) => body(&[("error", Some(&e))]),
            None => "{}".into(),
        };
        self.write_text::<Session>(
            "POST",
            format!("/api/sessions/{}/fail", path_segment(id)),
            Some(body),
            None,
        )
    }

    #[wasm_bindgen(js_name = restartSession, unchecked_return_type = "Promise<Session>")]
    pub fn restart_session(&self, id: &str) -> Promise {
        self.write_text::<Session>(
            "POST",
            format!("/api/sessions/{}/restart", path_segment(id)),
            Some("{}".into()),
            None,
        )
    }

    #[wasm_bindgen(js_name = deleteSession, unchecked_return_type = "Promise<void>")]
    pub fn delete_session(&self, id: &str) -> Promise {
        self.write_text::<Session>(
            "DELETE",
            format!("/api/sessions/{}", path_segment(id)),
            None,
            None,
        )
    }
}

use js_sys::Object;

impl Store {
    fn write<T: serde::de::DeserializeOwned + Observed + 'static>(
        &self,
        method: &'static str,
        path: String,
        body: Option<JsValue>,
        if_match: Option<u64>,
    ) -> Promise {
        let body = match body.map(|b| json_body(&b)).transpose() {
            Ok(b) => b,
            Err(e) => return Promise::reject(&e),
        };
        self.write_text::<T>(method, path, body, if_match)
    }

    fn write_text<T: serde::de::DeserializeOwned + Observed + 'static>(
        &self,
        method: &'static str,
        path: String,
        body: Option<String>,
        if_match: Option<u64>,
    ) -> Promise {
        let rc = self.inner.clone();
        future_to_promise(async move {
            let text = request(&rc, method, &path, body, if_match).await?;
            if text.is_empty() {
                return Ok(JsValue::UNDEFINED);
            }
            observe::<T>(&rc, &text);
            Ok(js::parse(&text))
        })
    }

    fn optimistic(
        &self,
        path: String,
        method: &'static str,
        body: Option<String>,
        undo: Option<crate::replica::Undo>,
    ) -> Promise {
        let rc = self.inner.clone();
        future_to_promise(async move {
            match request(&rc, method, &path, body, None).await {
                Ok(text) => {
                    observe::<Task>(&rc, &text);
                    Ok(js::parse(&text))
                }
                Err(e) => {
                    if let Some(undo) = undo {
                        with(&rc, |inner, out| {
                            inner.replica.rollback(undo);
                            inner.after_changes(out);
                        });
                    }
                    Err(e)
                }
            }
        })
    }
}

/// A JS function that runs `remove` once (later calls do nothing).
fn unsubscriber(rc: &Shared, remove: impl FnOnce(&mut Inner) + 'static) -> JsValue {
    let weak = Rc::downgrade(rc);
    let mut remove = Some(remove);
    Closure::wrap(Box::new(move || {
        if let (Some(rc), Some(f)) = (weak.upgrade(), remove.take()) {
            f(&mut rc.borrow_mut());
        }
    }) as Box<dyn FnMut()>)
    .into_js_value()
}

fn socket_handlers(weak: &Weak<RefCell<Inner>>) -> SocketHandlers {
    let handler = |f: fn(&mut Inner, &JsValue, &Weak<RefCell<Inner>>, &mut Outbox)| {
        let weak = weak.clone();
        Closure::wrap(Box::new(move |event: JsValue| {
            let Some(rc) = weak.upgrade() else { return };
            with(&rc, |inner, out| {
                if inner.is_current(&event) {
                    f(inner, &event, &weak, out);
                }
            });
        }) as Box<dyn FnMut(JsValue)>)
    };
    SocketHandlers {
        open: handler(|_, _, _, _| {}),
        message: handler(
            |inner, event, _, out| match js::get(event, "data").as_string() {
                Some(text) => inner.on_text(&text, out),
                None => inner.report(
                    "ignored a non-text message from the server",
                    js::get(event, "data"),
                    out,
                ),
            },
        ),
        close: handler(|inner, _, weak, out| inner.link_lost(weak, out)),
        error: handler(|_, _, _, _| {}),
    }
}

/// The watchdog interval and the browser's `online` event, started by the first `connect()`.
fn start_background(rc: &Shared, inner: &mut Inner) {
    if inner.watchdog.is_none() {
        let weak = Rc::downgrade(rc);
        let check = Closure::wrap(Box::new(move || {
            if let Some(rc) = weak.upgrade() {
                let weak = Rc::downgrade(&rc);
                with(&rc, |inner, out| inner.check_silence(&weak, out));
            }
        }) as Box<dyn FnMut()>);
        inner.watchdog = Some(js::set_interval(
            check.as_ref().unchecked_ref(),
            Inner::watchdog_interval(),
        ));
        inner.watchdog_fn = Some(check);
    }
    if inner.online_fn.is_none()
        && let Ok(add) = js::get(&js_sys::global(), "addEventListener").dyn_into::<Function>()
    {
        let weak = Rc::downgrade(rc);
        let online = Closure::wrap(Box::new(move || {
            if let Some(rc) = weak.upgrade() {
                // Back online: retry now instead of waiting out the backoff.
                with(&rc, |inner, out| {
                    if inner.state == ConnState::Reconnecting && inner.socket.is_none() {
                        inner.open(out);
                    }
                });
            }
        }) as Box<dyn FnMut()>);
        let _ = add.call2(
            &js_sys::global(),
            &JsValue::from_str("online"),
            online.as_ref(),
        );
        inner.online_fn = Some(online);
    }
}

fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            js::console_error(&format!("tasksync panicked: {info}"), &JsValue::UNDEFINED)
        }));
    });
}

/// The statuses a user may move a task to from `from` (the server's rules).
#[wasm_bindgen(js_name = allowedTaskTransitions, unchecked_return_type = "TaskStatus[]")]
pub fn allowed_task_transitions(
    #[wasm_bindgen(unchecked_param_type = "TaskStatus")] from: &str,
) -> js_sys::Array {
    crate::TaskStatus::parse(from)
        .map(|s| {
            s.allowed_targets()
                .iter()
                .map(|t| JsValue::from_str(t.as_str()))
                .collect()
        })
        .unwrap_or_default()
}
