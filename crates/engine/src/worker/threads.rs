//! The threads the CPU kernels run on. The multi-threaded engine (feature `threads`, built
//! with WebAssembly atomics) starts a rayon pool of Web Workers sharing its memory, one per
//! core; Burn flex's convolutions and matrix products then run on all of them. The
//! single-threaded engine runs them on its own thread.
//!
//! The pool starts beside the message loop, not before it: a model's weights are read from
//! the cache (or downloaded) while the pool's workers start. Nothing may touch rayon before
//! the pool is up (rayon would make a one-thread pool of its own and this one could not be
//! installed), so every request but the download waits for [`ready`].

use js_sys::Reflect;

use super::js::scope;

/// Whether the page is cross-origin isolated (`SharedArrayBuffer`, hence threads, allowed).
pub fn cross_origin_isolated() -> bool {
    Reflect::get(&scope(), &"crossOriginIsolated".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
}

/// Threads of the CPU kernels (after [`ready`]).
#[cfg(feature = "threads")]
pub fn count() -> u32 {
    rayon::current_num_threads() as u32
}

#[cfg(not(feature = "threads"))]
pub fn count() -> u32 {
    1
}

#[cfg(feature = "threads")]
mod pool {
    use std::cell::OnceCell;

    use futures::FutureExt;
    use futures::future::{LocalBoxFuture, Shared};
    use resnet_lab_protocol::Response;

    use crate::worker::Outbox;
    use crate::worker::js::{js_error, scope};

    type Started = Shared<LocalBoxFuture<'static, Result<(), String>>>;

    thread_local! {
        static POOL: OnceCell<Started> = const { OnceCell::new() };
    }

    /// Starts one pool thread per core (`navigator.hardwareConcurrency`); if that fails, the
    /// page is told (it then starts the single-threaded engine).
    pub fn start(outbox: Outbox) {
        let cores = (scope().navigator().hardware_concurrency() as usize).max(1);
        let started = async move {
            wasm_bindgen_futures::JsFuture::from(wasm_bindgen_rayon::init_thread_pool(cores))
                .await
                .map(|_| ())
                .map_err(|e| {
                    format!(
                        "the engine's {cores} threads could not be started: {}",
                        js_error(&e)
                    )
                })
        }
        .boxed_local()
        .shared();
        POOL.with(|pool| {
            let _ = pool.set(started.clone());
        });
        wasm_bindgen_futures::spawn_local(async move {
            if let Err(message) = started.await {
                outbox.post(&Response::ThreadsFailed { message });
            }
        });
    }

    pub async fn ready() -> bool {
        let Some(started) = POOL.with(|pool| pool.get().cloned()) else {
            return false;
        };
        started.await.is_ok()
    }
}

#[cfg(feature = "threads")]
pub use pool::start;

/// Waits until the pool is running; false if it could not start (the page, told by
/// [`start`], replaces this engine, so the caller drops its work).
pub async fn ready() -> bool {
    #[cfg(feature = "threads")]
    return pool::ready().await;
    #[cfg(not(feature = "threads"))]
    true
}
