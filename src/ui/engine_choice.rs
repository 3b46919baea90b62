//! Which build of the engine the page starts. The multi-threaded one (`engine-mt/`, built by
//! scripts/build-threads.sh) runs Burn flex on every core, but it needs a cross-origin
//! isolated page (shared WebAssembly memory) and has no WebGPU; so it is started only when
//! the page is isolated and WebGPU is not going to be used. Otherwise the single-threaded
//! engine (`engine_loader.js`, WebGPU and the CPU) starts, as before.

use js_sys::Reflect;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::Worker;

use resnet_lab_protocol::{BackendPreference, is_software_adapter};

/// An engine build: its script and whether it is an ES module worker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EngineBuild {
    /// Trunk's worker (`data-loader-shim`): WebGPU, or the CPU on one thread.
    SingleThread,
    /// The CPU on every core (a module worker: wasm-bindgen-rayon's threads import it).
    Threads,
}

impl EngineBuild {
    pub fn script(self) -> &'static str {
        match self {
            EngineBuild::SingleThread => "./engine_loader.js",
            EngineBuild::Threads => "./engine-mt/worker.js",
        }
    }
}

/// Starts a worker running `build`.
pub fn start(build: EngineBuild) -> Result<Worker, JsValue> {
    let options = web_sys::WorkerOptions::new();
    options.set_name("resnet-lab-engine");
    if build == EngineBuild::Threads {
        options.set_type(web_sys::WorkerType::Module);
    }
    Worker::new_with_options(build.script(), &options)
}

/// Where index.html leaves the threaded engine it started before the page's own WebAssembly
/// (when the page is isolated and will not look for WebGPU), so that the engine's start
/// overlaps the page's: `{ worker, early }`, `early` holding the events it sent meanwhile.
const PRESTARTED: &str = "resnetLabPrestarted";

/// The engine index.html started, if it is the `build` chosen, with the events it sent before
/// the page listened. Taken once: a restarted engine is a new worker; one not wanted is ended.
pub fn take_prestarted(build: EngineBuild) -> Option<(Worker, js_sys::Array)> {
    let global = js_sys::global();
    let prestarted = get(&global, PRESTARTED);
    if prestarted.is_undefined() {
        return None;
    }
    let _ = Reflect::delete_property(global.unchecked_ref::<js_sys::Object>(), &PRESTARTED.into());
    let worker = get(&prestarted, "worker").dyn_into::<Worker>().ok()?;
    if build != EngineBuild::Threads {
        worker.terminate();
        return None;
    }
    let early = get(&prestarted, "early").dyn_into::<js_sys::Array>().ok()?;
    Some((worker, early))
}

/// Hands the events a prestarted worker sent before the page listened to the handlers the page
/// has now set on it, in order.
pub fn replay(worker: &Worker, early: &js_sys::Array) {
    for event in early.iter() {
        let handler = if event.is_instance_of::<web_sys::MessageEvent>() {
            worker.onmessage()
        } else {
            worker.onerror()
        };
        if let Some(handler) = handler {
            let _ = handler.call1(&JsValue::NULL, &event);
        }
    }
}

fn get(object: &JsValue, key: &str) -> JsValue {
    Reflect::get(object, &key.into()).unwrap_or(JsValue::UNDEFINED)
}

/// Whether `SharedArrayBuffer` and so threads are allowed (COOP/COEP headers, or the
/// service worker that adds them).
pub fn cross_origin_isolated() -> bool {
    get(&js_sys::global(), "crossOriginIsolated")
        .as_bool()
        .unwrap_or(false)
}

/// Whether the browser offers a hardware WebGPU adapter: the engine then runs on WebGPU
/// (with `?backend=auto`), and only the single-threaded build has it. The engine asks the
/// same question again, with the same rule for software renderers.
async fn hardware_webgpu() -> bool {
    let gpu = get(&get(&js_sys::global(), "navigator"), "gpu");
    let Ok(request) = get(&gpu, "requestAdapter").dyn_into::<js_sys::Function>() else {
        return false;
    };
    let Ok(promise) = request.call0(&gpu) else {
        return false;
    };
    let Ok(adapter) = JsFuture::from(js_sys::Promise::resolve(&promise)).await else {
        return false;
    };
    if adapter.is_null() || adapter.is_undefined() {
        return false;
    }
    let info = get(&adapter, "info");
    let fallback = [&info, &adapter]
        .iter()
        .any(|o| get(o, "isFallbackAdapter").as_bool() == Some(true));
    let text = ["vendor", "architecture", "device", "description"]
        .map(|k| get(&info, k).as_string().unwrap_or_default())
        .join(" ")
        .to_ascii_lowercase();
    !fallback && !is_software_adapter(&text)
}

/// Marks the one reload through the service worker in this tab (no loop where isolation
/// cannot be had).
const RELOAD_KEY: &str = "resnet-lab.isolation-reload";
/// How long to wait for the service worker before going on with one thread.
const SERVICE_WORKER_WAIT_MS: i32 = 10_000;

/// A promise settled after `ms` milliseconds.
fn delay(ms: i32) -> js_sys::Promise {
    js_sys::Promise::new(&mut |resolve, _| {
        if let Some(window) = web_sys::window() {
            let _ = window.set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, ms);
        }
    })
}

/// On a host that does not send COOP/COEP, the service worker (static/sw.js) adds them: once
/// it is active, reload through it. Called before the page is mounted, so that nothing a
/// person does in the first second of a first visit is lost with the reload. True when a
/// reload is under way. At most once per tab (no loop where isolation cannot be had, and no
/// second wait where the service worker never becomes active).
pub async fn reload_for_isolation() -> bool {
    if cross_origin_isolated() {
        return false;
    }
    let Some(window) = web_sys::window() else {
        return false;
    };
    let Some(storage) = window.session_storage().ok().flatten() else {
        return false;
    };
    if storage.get_item(RELOAD_KEY).ok().flatten().is_some()
        || storage.set_item(RELOAD_KEY, "1").is_err()
    {
        return false;
    }
    let container = get(&window.navigator(), "serviceWorker");
    let Ok(get_registration) = get(&container, "getRegistration").dyn_into::<js_sys::Function>()
    else {
        return false;
    };
    // index.html registers it before the page starts; none means none will come.
    let registration = match get_registration.call0(&container) {
        Ok(p) => JsFuture::from(js_sys::Promise::resolve(&p)).await,
        Err(e) => Err(e),
    };
    if !registration.is_ok_and(|r| !r.is_undefined()) {
        return false;
    }
    let ready = js_sys::Promise::resolve(&get(&container, "ready"));
    let contenders: js_sys::Array = [ready, delay(SERVICE_WORKER_WAIT_MS)].into_iter().collect();
    let race = js_sys::Promise::race(&contenders);
    let settled = JsFuture::from(race).await;
    if !settled.is_ok_and(|r| !r.is_undefined()) {
        return false;
    }
    window.location().reload().is_ok()
}

/// The build to start for this backend preference (`threads_failed`: the threaded engine
/// already failed to start in this page).
pub async fn choose(preference: BackendPreference, threads_failed: bool) -> EngineBuild {
    if threads_failed || !cross_origin_isolated() {
        return EngineBuild::SingleThread;
    }
    let webgpu = match preference {
        BackendPreference::Cpu => false,
        BackendPreference::Webgpu => true,
        BackendPreference::Auto => hardware_webgpu().await,
    };
    if webgpu {
        EngineBuild::SingleThread
    } else {
        EngineBuild::Threads
    }
}
