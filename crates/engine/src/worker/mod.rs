//! The Web Worker: receives the page's requests and answers them.
//!
//! Downloading and caching weights ([`fetch`], [`weights`]), choosing the Burn device
//! ([`backend`]), decoding photos ([`image`]), inference and the gradient analysis
//! ([`engine`], [`infer`]) all happen here, off the page's thread. Requests are processed
//! one at a time (see [`crate::queue`]). Responses leave through one [`Outbox`], and errors
//! become text only there.

mod backend;
mod batch;
mod engine;
mod fetch;
mod image;
mod infer;
mod js;
mod lab;
mod lab_data;
mod lab_runs;
mod lab_shatter;
mod teach;
mod teach_augment;
mod teach_layer4;
mod teach_storage;
mod teach_train;
mod threads;
mod weights;

use std::rc::Rc;

use js_sys::Reflect;
use resnet_lab_protocol::{Request, Response};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

/// The way responses reach the page. Zero-sized (the global scope is looked up per
/// message), so it is `Copy` and `Send`: the wgpu device-lost callback must be `Send`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Outbox;

impl Outbox {
    pub fn post(self, response: &Response) {
        let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
        match serde_json::to_string(response) {
            Ok(json) => {
                if let Err(e) = scope.post_message(&JsValue::from_str(&json)) {
                    web_sys::console::error_2(&"engine: postMessage failed".into(), &e);
                }
            }
            Err(e) => {
                web_sys::console::error_1(&format!("engine: cannot encode a response: {e}").into())
            }
        }
    }
}

/// Entry point of the worker binary: the message loop (in the multi-threaded engine, with
/// its pool of threads starting beside it, see [`threads`]).
pub fn start() {
    console_error_panic_hook::set_once();
    #[cfg(feature = "threads")]
    threads::start(Outbox);
    serve();
}

fn serve() {
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let outbox = Outbox;
    let engine = Rc::new(engine::Engine::new(outbox));
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let json = Reflect::get(&data, &"json".into())
            .ok()
            .and_then(|v| v.as_string());
        // A photo travels beside the JSON as a structured-cloned `File`.
        let payload = Reflect::get(&data, &"file".into())
            .ok()
            .filter(|v| !v.is_undefined());
        match json.as_deref().map(serde_json::from_str::<Request>) {
            Some(Ok(request)) => engine.enqueue(request, payload),
            Some(Err(e)) => outbox.post(&Response::Failure {
                message: format!("engine received a malformed request: {e}"),
            }),
            None => outbox.post(&Response::Failure {
                message: "engine received a message without a request".into(),
            }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    outbox.post(&Response::Started);
}
