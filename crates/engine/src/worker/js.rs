//! Small bridges to the worker's JavaScript globals.

use wasm_bindgen::{JsCast, JsValue};

use crate::error::EngineError;

/// The worker's global scope (`self`).
pub fn scope() -> web_sys::WorkerGlobalScope {
    js_sys::global().unchecked_into()
}

/// Milliseconds from `performance.now()`.
pub fn now() -> f64 {
    scope().performance().map(|p| p.now()).unwrap_or_default()
}

/// A JavaScript exception in words.
pub fn js_error(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else if let Some(s) = value.as_string() {
        s
    } else {
        format!("{value:?}")
    }
}

/// For `map_err`: a failed browser call at step `what`.
pub fn browser(what: &'static str) -> impl Fn(JsValue) -> EngineError {
    move |e| EngineError::Browser {
        what,
        detail: js_error(&e),
    }
}
