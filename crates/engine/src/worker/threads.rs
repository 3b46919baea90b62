//! The threads the CPU kernels run on. The multi-threaded engine (feature `threads`, built
//! with WebAssembly atomics) starts a rayon pool of Web Workers sharing its memory, one per
//! core, before it serves requests; Burn flex's convolutions and matrix products then run
//! on all of them. The single-threaded engine runs them on its own thread.

use js_sys::Reflect;

use super::js::scope;

/// Whether the page is cross-origin isolated (`SharedArrayBuffer`, hence threads, allowed).
pub fn cross_origin_isolated() -> bool {
    Reflect::get(&scope(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Threads of the CPU kernels.
#[cfg(feature = "threads")]
pub fn count() -> u32 {
    rayon::current_num_threads() as u32
}

#[cfg(not(feature = "threads"))]
pub fn count() -> u32 {
    1
}

/// Starts one pool thread per core (`navigator.hardwareConcurrency`).
#[cfg(feature = "threads")]
pub async fn start_pool() -> Result<(), String> {
    let cores = (scope().navigator().hardware_concurrency() as usize).max(1);
    wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(cores))
        .await
        .map(|_| ())
        .map_err(|e| {
            format!(
                "the engine's {cores} threads could not be started: {}",
                super::js::js_error(&e)
            )
        })
}
