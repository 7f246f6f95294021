//! The `Store` class for JavaScript: an executor around the sync engine
//! (`crate::link`). It turns the engine's actions into WebSocket, fetch,
//! timer and callback calls and feeds what happens back as inputs; every
//! decision is the engine's. No JS callback runs while the state is
//! borrowed: actions are drained first, then executed (`step`).

mod exec;
mod js;

use crate::link::{Input, Lifecycle, Link, Options, Resync, WriteCmd};
use crate::wire::{NewSession, NewTask, TaskPatch};
use exec::{Inner, Shared, step};
use js_sys::{Function, Promise};
use std::cell::RefCell;
use std::rc::Rc;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = include_str!("../types.d.ts");

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
        exec::install_panic_hook();
        let opt = |k: &str| js::get(&options, k);
        let url = opt("url").as_string().ok_or_else(|| {
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
        let fetch: Function = match opt("fetch").dyn_into() {
            Ok(f) => f,
            Err(_) => js::global_function("fetch")
                .ok_or_else(|| js::error("unsupported", 0, "no fetch here: pass options.fetch"))?,
        };
        let seed = (js_sys::Math::random() * 2f64.powi(53)) as u64;
        let link = Link::new(Options {
            base_url: url,
            token: opt("token").as_string().filter(|t| !t.is_empty()),
            auto_transition: opt("autoTransition").as_bool().unwrap_or(true),
            resync: Resync::Snapshot,
            client_id: format!("{:012x}", seed & 0xffff_ffff_ffff),
            seed,
            since: None,
        });
        let inner = Inner::new(link, fetch, opt("WebSocket").dyn_into().ok(), opt("outbox"));
        let rc: Shared = Rc::new(RefCell::new(inner));
        exec::restore_outbox(&rc);
        Ok(Store { inner: rc })
    }

    /// Connects (or reconnects after `close()`); resolves once the first sync is complete.
    #[wasm_bindgen(unchecked_return_type = "Promise<void>")]
    pub fn connect(&self) -> Promise {
        let rc = self.inner.clone();
        Promise::new(&mut |resolve, reject| {
            let mut inner = rc.borrow_mut();
            if inner.link.state() == crate::link::ConnState::Live {
                let _ = resolve.call0(&JsValue::NULL);
                return;
            }
            if inner.ws_ctor().is_none() {
                let e = "no WebSocket here: pass options.WebSocket (on Node 20, run with --experimental-websocket)";
                let _ = reject.call1(&JsValue::NULL, &js::error("unsupported", 0, e));
                return;
            }
            inner.waiters.push((resolve, reject));
            drop(inner);
            exec::start_background(&rc);
            step(&rc, Input::Connect);
        })
    }

    /// Closes the connection and stops all reconnecting. Pending `connect()`s reject.
    pub fn close(&self) {
        step(&self.inner, Input::Close);
    }

    /// 'connecting' | 'syncing' | 'live' | 'reconnecting' | 'closed'.
    #[wasm_bindgen(getter, js_name = connectionState, unchecked_return_type = "ConnectionState")]
    pub fn connection_state(&self) -> String {
        self.inner.borrow().link.state().as_str().to_owned()
    }

    /// When reconnecting: the time (ms since the epoch) of the next attempt.
    #[wasm_bindgen(getter, js_name = nextRetryAt)]
    pub fn next_retry_at(&self) -> Option<f64> {
        self.inner.borrow().link.retry_at().map(|t| t as f64)
    }

    /// The seq of the last applied event.
    #[wasm_bindgen(getter)]
    pub fn seq(&self) -> f64 {
        self.inner.borrow().link.seq() as f64
    }

    /// Writes not yet accepted by the server (the offline outbox).
    #[wasm_bindgen(getter, js_name = pendingWrites)]
    pub fn pending_writes(&self) -> u32 {
        self.inner.borrow().link.outbox_len() as u32
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
        match self.inner.borrow().link.task(task_id) {
            Some(t) => JsValue::from_str(crate::aggregate_status(&t.session_progress).as_str()),
            None => JsValue::UNDEFINED,
        }
    }

    /// Calls `listener()` after every change; returns the unsubscribe function.
    #[wasm_bindgen(unchecked_return_type = "() => void")]
    pub fn subscribe(
        &self,
        #[wasm_bindgen(unchecked_param_type = "() => void")] listener: Function,
    ) -> JsValue {
        exec::listen(&self.inner, "change", listener)
    }

    /// Calls `handler(payload, event)` for each applied event of `type` ('*': all;
    /// 'error': problems; 'write:failed': an outbox write the server refused).
    /// Returns the unsubscribe function. (Typed per event type in `types.d.ts`.)
    #[wasm_bindgen(skip_typescript)]
    pub fn on(&self, ty: String, handler: Function) -> Result<JsValue, JsValue> {
        let known = ["*", "error", "write:failed"].contains(&ty.as_str())
            || crate::Event::TYPES.contains(&ty.as_str());
        if !known {
            return Err(js_sys::TypeError::new(&format!(
                "unknown event type `{ty}`; use one of {}, '*', 'error' or 'write:failed'",
                crate::Event::TYPES.join(", ")
            ))
            .into());
        }
        Ok(exec::listen(&self.inner, &ty, handler))
    }

    /// Calls `listener(state)` when the connection state changes; returns the unsubscribe function.
    #[wasm_bindgen(js_name = onConnectionChange, unchecked_return_type = "() => void")]
    pub fn on_connection_change(
        &self,
        #[wasm_bindgen(unchecked_param_type = "(state: ConnectionState) => void")]
        listener: Function,
    ) -> JsValue {
        exec::listen(&self.inner, "state", listener)
    }

    /// Feeds one server frame that arrived by your own transport.
    #[wasm_bindgen(js_name = applyMessage)]
    pub fn apply_message(&self, text: &str) {
        step(&self.inner, Input::Message(text));
    }

    /// Loads a `GET /api/snapshot` body that arrived by your own transport.
    #[wasm_bindgen(js_name = loadSnapshot)]
    pub fn load_snapshot(&self, text: &str) {
        step(&self.inner, Input::LoadSnapshot(text));
    }

    #[wasm_bindgen(js_name = createTask, unchecked_return_type = "Promise<Task>")]
    pub fn create_task(
        &self,
        #[wasm_bindgen(unchecked_param_type = "NewTask")] input: JsValue,
    ) -> Promise {
        match exec::from_js::<NewTask>(&input) {
            Ok(task) => exec::write(&self.inner, WriteCmd::CreateTask { task }),
            Err(e) => Promise::reject(&e),
        }
    }

    /// (Typed in `types.d.ts`, where `options` can be optional.)
    #[wasm_bindgen(js_name = updateTask, skip_typescript)]
    pub fn update_task(&self, id: String, patch: JsValue, options: JsValue) -> Promise {
        let if_match = js::get(&options, "ifMatch").as_f64().map(|v| v as u64);
        match exec::from_js::<TaskPatch>(&patch) {
            Ok(patch) => exec::write(
                &self.inner,
                WriteCmd::UpdateTask {
                    id,
                    patch,
                    if_match,
                },
            ),
            Err(e) => Promise::reject(&e),
        }
    }

    #[wasm_bindgen(js_name = deleteTask, unchecked_return_type = "Promise<void>")]
    pub fn delete_task(&self, id: String) -> Promise {
        exec::write(&self.inner, WriteCmd::DeleteTask { id })
    }

    /// Queues a task for a session: shown at once, rolled back if the server refuses.
    #[wasm_bindgen(js_name = queueTask, unchecked_return_type = "Promise<Task>")]
    pub fn queue_task(&self, task_id: String, session_id: String) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::QueueTask {
                task_id,
                session_id,
            },
        )
    }

    /// Removes a session from a task: shown at once, rolled back if the server refuses.
    #[wasm_bindgen(js_name = removeSessionFromTask, unchecked_return_type = "Promise<Task>")]
    pub fn remove_session_from_task(&self, task_id: String, session_id: String) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::RemoveSession {
                task_id,
                session_id,
            },
        )
    }

    /// Sets a session's status on a task (what agents report).
    #[wasm_bindgen(js_name = setSessionStatus, unchecked_return_type = "Promise<Task>")]
    pub fn set_session_status(
        &self,
        task_id: String,
        session_id: String,
        #[wasm_bindgen(unchecked_param_type = "SessionStatus")] status: String,
        notes: Option<String>,
    ) -> Promise {
        let Some(status) = crate::SessionStatus::parse(&status) else {
            let msg = format!("`{status}` is not a session status");
            return Promise::reject(&js::error("validation_failed", 400, &msg));
        };
        let cmd = WriteCmd::SetSessionStatus {
            task_id,
            session_id,
            status,
            notes,
        };
        exec::write(&self.inner, cmd)
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
        match exec::from_js::<NewSession>(&input) {
            Ok(session) => exec::write(&self.inner, WriteCmd::CreateSession { session }),
            Err(e) => Promise::reject(&e),
        }
    }

    #[wasm_bindgen(js_name = activateSession, unchecked_return_type = "Promise<Session>")]
    pub fn activate_session(&self, id: String) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::Lifecycle {
                id,
                action: Lifecycle::Activate,
            },
        )
    }

    #[wasm_bindgen(js_name = stopSession, unchecked_return_type = "Promise<Session>")]
    pub fn stop_session(&self, id: String) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::Lifecycle {
                id,
                action: Lifecycle::Stop,
            },
        )
    }

    #[wasm_bindgen(js_name = failSession, unchecked_return_type = "Promise<Session>")]
    pub fn fail_session(&self, id: String, error: Option<String>) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::Lifecycle {
                id,
                action: Lifecycle::Fail { error },
            },
        )
    }

    #[wasm_bindgen(js_name = restartSession, unchecked_return_type = "Promise<Session>")]
    pub fn restart_session(&self, id: String) -> Promise {
        exec::write(
            &self.inner,
            WriteCmd::Lifecycle {
                id,
                action: Lifecycle::Restart,
            },
        )
    }

    #[wasm_bindgen(js_name = deleteSession, unchecked_return_type = "Promise<void>")]
    pub fn delete_session(&self, id: String) -> Promise {
        exec::write(&self.inner, WriteCmd::DeleteSession { id })
    }
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
