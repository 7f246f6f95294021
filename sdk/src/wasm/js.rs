//! Small bindings to what browsers and Node both have on the global object
//! (`setTimeout`, `fetch`, `console`), and the error type promises reject with.

use js_sys::{Function, JSON, Object, Reflect};
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;

#[wasm_bindgen]
extern "C" {
    #[wasm_bindgen(js_name = setTimeout)]
    pub fn set_timeout(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearTimeout)]
    pub fn clear_timeout(id: &JsValue);
    #[wasm_bindgen(js_name = queueMicrotask)]
    pub fn queue_microtask(callback: &Function);
    #[wasm_bindgen(js_name = setInterval)]
    pub fn set_interval(handler: &Function, ms: f64) -> JsValue;
    #[wasm_bindgen(js_name = clearInterval)]
    pub fn clear_interval(id: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = warn)]
    pub fn console_warn(message: &str, detail: &JsValue);
    #[wasm_bindgen(js_namespace = console, js_name = error)]
    pub fn console_error(message: &str, detail: &JsValue);
}

pub fn get(target: &JsValue, key: &str) -> JsValue {
    Reflect::get(target, &JsValue::from_str(key)).unwrap_or(JsValue::UNDEFINED)
}

pub fn set(target: &JsValue, key: &str, value: &JsValue) {
    let _ = Reflect::set(target, &JsValue::from_str(key), value);
}

/// `globalThis[name]` if it is a function.
pub fn global_function(name: &str) -> Option<Function> {
    get(&js_sys::global(), name).dyn_into().ok()
}

/// A JS `Error` carrying the server's `code` and the HTTP `status`.
pub fn error(code: &str, status: u16, message: &str) -> JsValue {
    let e = js_sys::Error::new(message);
    set(&e, "code", &JsValue::from_str(code));
    set(&e, "status", &JsValue::from(status));
    e.into()
}

/// Calls a user callback; an exception it throws is reported, not propagated.
pub fn call(f: &Function, args: &[JsValue]) {
    let result = match args {
        [] => f.call0(&JsValue::NULL),
        [a] => f.call1(&JsValue::NULL, a),
        [a, b, ..] => f.call2(&JsValue::NULL, a, b),
    };
    if let Err(e) = result {
        console_error("tasksync: a listener threw", &e);
    }
}

/// Parses JSON text into a JS value (V8's parser is the fastest way in).
pub fn parse(text: &str) -> JsValue {
    JSON::parse(text).unwrap_or(JsValue::UNDEFINED)
}

/// One HTTP exchange: the status and the body text, or a network failure.
pub struct HttpResponse {
    pub status: u16,
    pub body: String,
}

/// `fetch(url, {method, headers, body})` and the response text.
pub async fn fetch(
    fetch: &Function,
    url: &str,
    method: &str,
    headers: &[(&str, String)],
    body: Option<String>,
) -> Result<HttpResponse, JsValue> {
    let init = Object::new();
    set(&init, "method", &JsValue::from_str(method));
    let h = Object::new();
    for (k, v) in headers {
        set(&h, k, &JsValue::from_str(v));
    }
    set(&init, "headers", &h);
    if let Some(b) = body {
        set(&init, "body", &JsValue::from_str(&b));
    }
    let promise: js_sys::Promise = fetch
        .call2(&JsValue::NULL, &JsValue::from_str(url), &init)?
        .dyn_into()?;
    let resp = JsFuture::from(promise).await?;
    let status = get(&resp, "status").as_f64().unwrap_or(0.0) as u16;
    let text_fn: Function = get(&resp, "text").dyn_into()?;
    let text: js_sys::Promise = text_fn.call0(&resp)?.dyn_into()?;
    let body = JsFuture::from(text).await?.as_string().unwrap_or_default();
    Ok(HttpResponse { status, body })
}
