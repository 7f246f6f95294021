//! Runs the engine's actions with what JavaScript offers: `WebSocket`,
//! `fetch`, one `setTimeout` for the engine's next deadline, listeners, the
//! promises of writes, and an outbox storage (`{load, save}`). Decides nothing.

use super::js;
use crate::link::{Action, ConnId, Input, Link, WriteCmd, WriteId};
use js_sys::{Array, Function, Object, Promise};
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;

pub type Shared = Rc<RefCell<Inner>>;

pub struct Inner {
    pub link: Link,
    fetch: Function,
    ws_ctor: Option<Function>,
    outbox: JsValue,
    socket: Option<(ConnId, JsValue)>,
    timer: Option<(u64, JsValue)>,
    listeners: Vec<(u32, String, Function)>,
    next_listener: u32,
    pub waiters: Vec<(Function, Function)>,
    writes: HashMap<WriteId, (Function, Function)>,
    task_js: HashMap<String, JsValue>,
    session_js: HashMap<String, JsValue>,
    snapshot: Option<JsValue>,
    flush_queued: bool,
    background: Vec<Closure<dyn FnMut()>>,
}

impl Inner {
    pub fn new(link: Link, fetch: Function, ws: Option<Function>, outbox: JsValue) -> Inner {
        Inner {
            link,
            fetch,
            ws_ctor: ws,
            outbox,
            socket: None,
            timer: None,
            listeners: Vec::new(),
            next_listener: 0,
            waiters: Vec::new(),
            writes: HashMap::new(),
            task_js: HashMap::new(),
            session_js: HashMap::new(),
            snapshot: None,
            flush_queued: false,
            background: Vec::new(),
        }
    }

    pub fn ws_ctor(&self) -> Option<Function> {
        self.ws_ctor
            .clone()
            .or_else(|| js::global_function("WebSocket"))
    }

    fn listeners(&self, ty: &str) -> Vec<Function> {
        self.listeners
            .iter()
            .filter(|(_, t, _)| t == ty)
            .map(|(_, _, f)| f.clone())
            .collect()
    }

    /// Drops the JS objects of entities that changed.
    fn sync_caches(&mut self) {
        let (tasks, sessions) = self.link.take_changes();
        if tasks.is_empty() && sessions.is_empty() {
            return;
        }
        tasks.iter().for_each(|id| drop(self.task_js.remove(id)));
        sessions
            .iter()
            .for_each(|id| drop(self.session_js.remove(id)));
        self.snapshot = None;
    }

    pub fn task_js(&mut self, id: &str) -> JsValue {
        self.sync_caches();
        cached(&mut self.task_js, id, self.link.task(id))
    }

    pub fn session_js(&mut self, id: &str) -> JsValue {
        self.sync_caches();
        cached(&mut self.session_js, id, self.link.session(id))
    }

    /// The snapshot object: the same one until something changes.
    pub fn snapshot(&mut self) -> JsValue {
        self.sync_caches();
        if let Some(s) = &self.snapshot {
            return s.clone();
        }
        let link = &self.link;
        let tasks: Array = link
            .tasks()
            .iter()
            .map(|t| cached(&mut self.task_js, &t.id, Some(*t)))
            .collect();
        let sessions: Array = link
            .sessions()
            .iter()
            .map(|s| cached(&mut self.session_js, &s.id, Some(*s)))
            .collect();
        let snap = Object::new();
        js::set(&snap, "tasks", &tasks);
        js::set(&snap, "sessions", &sessions);
        js::set(&snap, "seq", &JsValue::from(link.seq() as f64));
        js::set(
            &snap,
            "connectionState",
            &JsValue::from_str(link.state().as_str()),
        );
        self.snapshot = Some(snap.clone().into());
        snap.into()
    }
}

fn cached<T: serde::Serialize>(
    cache: &mut HashMap<String, JsValue>,
    id: &str,
    v: Option<&T>,
) -> JsValue {
    if let Some(v) = cache.get(id) {
        return v.clone();
    }
    let Some(v) = v else {
        return JsValue::UNDEFINED;
    };
    let js = js::parse(&serde_json::to_string(v).expect("entities serialize"));
    cache.insert(id.to_owned(), js.clone());
    js
}

fn now() -> u64 {
    js_sys::Date::now() as u64
}

/// Feeds one input, then runs what the engine asks for, with no borrow held.
pub fn step(rc: &Shared, input: Input<'_>) {
    rc.borrow_mut().link.handle(now(), input);
    run(rc);
}

/// Starts a write; its promise settles with the server's answer.
pub fn write(rc: &Shared, cmd: WriteCmd) -> Promise {
    let mut slot = None;
    let promise = Promise::new(&mut |resolve, reject| slot = Some((resolve, reject)));
    let id = rc.borrow_mut().link.write(now(), cmd);
    rc.borrow_mut()
        .writes
        .insert(id, slot.expect("the executor runs at once"));
    run(rc);
    promise
}

/// A wire type from a JS object; a bad one is a `validation_failed` error.
pub fn from_js<T: serde::de::DeserializeOwned>(value: &JsValue) -> Result<T, JsValue> {
    let text = js_sys::JSON::stringify(value)
        .ok()
        .and_then(|s| s.as_string())
        .unwrap_or_default();
    serde_json::from_str(&text)
        .map_err(|e| js::error("validation_failed", 400, &format!("invalid input: {e}")))
}

fn run(rc: &Shared) {
    loop {
        let action = rc.borrow_mut().link.poll_action();
        let Some(action) = action else { break };
        execute(rc, action);
    }
    arm_timer(rc);
}

fn execute(rc: &Shared, action: Action) {
    match action {
        Action::Open { conn, url } => open(rc, conn, &url),
        Action::Close { conn, code } => {
            let socket = rc.borrow_mut().socket.take_if(|(c, _)| *c == conn);
            if let Some((_, s)) = socket {
                for key in ["onopen", "onmessage", "onclose", "onerror"] {
                    js::set(&s, key, &JsValue::NULL);
                }
                if let Ok(close) = js::get(&s, "close").dyn_into::<Function>() {
                    let _ = close.call2(
                        &s,
                        &JsValue::from(code),
                        &JsValue::from_str("client closing"),
                    );
                }
            }
        }
        Action::Request {
            req,
            url,
            http,
            headers,
        } => {
            let (rc, fetch) = (rc.clone(), rc.borrow().fetch.clone());
            spawn_local(async move {
                let (status, body) =
                    match js::fetch(&fetch, &url, http.method, &headers, http.body).await {
                        Ok(r) => (r.status, r.body),
                        Err(_) => (0, String::new()),
                    };
                step(
                    &rc,
                    Input::Answer {
                        req,
                        status,
                        body: &body,
                    },
                );
            });
        }
        Action::State(state) => {
            let mut inner = rc.borrow_mut();
            inner.snapshot = None;
            let s = JsValue::from_str(state.as_str());
            let mut calls: Vec<(Function, Vec<JsValue>)> = inner
                .listeners("state")
                .into_iter()
                .map(|f| (f, vec![s.clone()]))
                .collect();
            calls.extend(inner.listeners("change").into_iter().map(|f| (f, vec![])));
            match state {
                crate::link::ConnState::Live => {
                    calls.extend(inner.waiters.drain(..).map(|(ok, _)| (ok, vec![])))
                }
                crate::link::ConnState::Closed => {
                    let e = js::error("closed", 0, "the store was closed");
                    calls.extend(inner.waiters.drain(..).map(|(_, no)| (no, vec![e.clone()])));
                }
                _ => {}
            }
            drop(inner);
            calls.iter().for_each(|(f, args)| js::call(f, args));
        }
        Action::Changed => {
            let mut inner = rc.borrow_mut();
            inner.sync_caches();
            if !std::mem::replace(&mut inner.flush_queued, true) {
                let rc = rc.clone();
                let flush = Closure::once_into_js(move || {
                    rc.borrow_mut().flush_queued = false;
                    let subs = rc.borrow().listeners("change");
                    subs.iter().for_each(|f| js::call(f, &[]));
                });
                js::queue_microtask(flush.unchecked_ref());
            }
        }
        Action::Event { ty, text } => {
            let handlers = {
                let inner = rc.borrow();
                let mut h = inner.listeners(ty);
                h.extend(inner.listeners("*"));
                h
            };
            if !handlers.is_empty() {
                let event = js::parse(&text);
                let payload = js::get(&event, "payload");
                handlers
                    .iter()
                    .for_each(|f| js::call(f, &[payload.clone(), event.clone()]));
            }
        }
        Action::Settled { write, result } => {
            let Some((resolve, reject)) = rc.borrow_mut().writes.remove(&write) else {
                return;
            };
            match result {
                Ok(body) if body.is_empty() => js::call(&resolve, &[]),
                Ok(body) => js::call(&resolve, &[js::parse(&body)]),
                Err(r) => js::call(
                    &reject,
                    &[js::error(&r.detail.code, r.status, &r.detail.message)],
                ),
            }
        }
        Action::WriteFailed { cmd, refusal, .. } => {
            let e = js::error(
                &refusal.detail.code,
                refusal.status,
                &refusal.detail.message,
            );
            js::set(
                &e,
                "write",
                &js::parse(&serde_json::to_string(&cmd).unwrap_or_default()),
            );
            let handlers = rc.borrow().listeners("write:failed");
            handlers
                .iter()
                .for_each(|f| js::call(f, std::slice::from_ref(&e)));
        }
        Action::SaveOutbox(text) => {
            let outbox = rc.borrow().outbox.clone();
            if let Ok(save) = js::get(&outbox, "save").dyn_into::<Function>() {
                let _ = save.call1(&outbox, &JsValue::from_str(&text));
            }
        }
        Action::Report(message) => {
            let handlers = rc.borrow().listeners("error");
            if handlers.is_empty() {
                js::console_warn(&format!("tasksync: {message}"), &JsValue::UNDEFINED);
            }
            let e = js::error("client_error", 0, &message);
            handlers
                .iter()
                .for_each(|f| js::call(f, std::slice::from_ref(&e)));
        }
    }
}

fn open(rc: &Shared, conn: ConnId, url: &str) {
    let Some(ctor) = rc.borrow().ws_ctor() else {
        return;
    };
    let socket = match js_sys::Reflect::construct(&ctor, &Array::of1(&JsValue::from_str(url))) {
        Ok(s) => s,
        Err(e) => {
            js::console_warn("tasksync: could not open the WebSocket", &e);
            return step(rc, Input::Closed { conn, code: 1006 });
        }
    };
    let weak = Rc::downgrade(rc);
    let on_message = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let (Some(rc), Some(text)) = (weak.upgrade(), js::get(&event, "data").as_string()) {
            step(&rc, Input::Frame { conn, text: &text });
        }
    });
    let weak = Rc::downgrade(rc);
    let on_close = Closure::<dyn FnMut(JsValue)>::new(move |event: JsValue| {
        if let Some(rc) = weak.upgrade() {
            let code = js::get(&event, "code").as_f64().unwrap_or(1006.0) as u16;
            step(&rc, Input::Closed { conn, code });
        }
    });
    js::set(&socket, "onmessage", on_message.as_ref());
    js::set(&socket, "onclose", on_close.as_ref());
    // The socket owns its handlers: they are freed with it.
    js::set(
        &socket,
        "__tasksync",
        &Array::of2(&on_message.into_js_value(), &on_close.into_js_value()),
    );
    rc.borrow_mut().socket = Some((conn, socket));
}

/// One `setTimeout` for the engine's earliest deadline.
fn arm_timer(rc: &Shared) {
    let mut inner = rc.borrow_mut();
    let due = inner.link.next_deadline();
    if inner.timer.as_ref().map(|(at, _)| *at) == due {
        return;
    }
    if let Some((_, t)) = inner.timer.take() {
        js::clear_timeout(&t);
    }
    let Some(at) = due else { return };
    let weak = Rc::downgrade(rc);
    let fire = Closure::once_into_js(move || {
        if let Some(rc) = weak.upgrade() {
            rc.borrow_mut().timer = None;
            step(&rc, Input::Tick);
        }
    });
    let delay = at.saturating_sub(now()) as f64;
    inner.timer = Some((at, js::set_timeout(fire.unchecked_ref(), delay)));
}

/// A listener of `ty` ("change", "state", an event type, …) and its remover.
pub fn listen(rc: &Shared, ty: &str, f: Function) -> JsValue {
    let id = {
        let mut inner = rc.borrow_mut();
        inner.next_listener += 1;
        let id = inner.next_listener;
        inner.listeners.push((id, ty.to_owned(), f));
        let wants_events = inner
            .listeners
            .iter()
            .any(|(_, t, _)| t.contains(':') || t == "*");
        inner.link.set_emit_events(wants_events);
        id
    };
    let weak = Rc::downgrade(rc);
    Closure::<dyn FnMut()>::new(move || {
        if let Some(rc) = weak.upgrade() {
            rc.borrow_mut().listeners.retain(|(i, _, _)| *i != id);
        }
    })
    .into_js_value()
}

/// The browser's `online`/`offline` and page visibility, fed to the engine.
pub fn start_background(rc: &Shared) {
    if !rc.borrow().background.is_empty() {
        return;
    }
    let global = js_sys::global();
    let Ok(add) = js::get(&global, "addEventListener").dyn_into::<Function>() else {
        return;
    };
    let feed = |make: fn() -> Input<'static>| {
        let weak = Rc::downgrade(rc);
        Closure::<dyn FnMut()>::new(move || {
            if let Some(rc) = weak.upgrade() {
                step(&rc, make());
            }
        })
    };
    let online = feed(|| Input::Online(true));
    let offline = feed(|| Input::Online(false));
    let visible = feed(|| {
        let doc = js::get(&js_sys::global(), "document");
        Input::Visible(js::get(&doc, "visibilityState").as_string().as_deref() != Some("hidden"))
    });
    let _ = add.call2(&global, &"online".into(), online.as_ref());
    let _ = add.call2(&global, &"offline".into(), offline.as_ref());
    let _ = add.call2(&global, &"visibilitychange".into(), visible.as_ref());
    rc.borrow_mut().background = vec![online, offline, visible];
}

/// Loads the saved outbox (`options.outbox.load()`, a promise of text or null).
pub fn restore_outbox(rc: &Shared) {
    let outbox = rc.borrow().outbox.clone();
    let Ok(load) = js::get(&outbox, "load").dyn_into::<Function>() else {
        return;
    };
    let Ok(promise) = load.call0(&outbox).and_then(|p| p.dyn_into::<Promise>()) else {
        return;
    };
    let rc = rc.clone();
    spawn_local(async move {
        let text = wasm_bindgen_futures::JsFuture::from(promise)
            .await
            .ok()
            .and_then(|v| v.as_string());
        if let Some(text) = text {
            let restored = rc.borrow_mut().link.restore_outbox(now(), &text);
            if let Err(e) = restored {
                js::console_warn(
                    &format!("tasksync: the saved outbox is unreadable: {e}"),
                    &JsValue::UNDEFINED,
                );
            }
            run(&rc);
        }
    });
}

pub fn install_panic_hook() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::panic::set_hook(Box::new(|info| {
            js::console_error(&format!("tasksync panicked: {info}"), &JsValue::UNDEFINED)
        }));
    });
}
