//! Streamed downloads with progress and byte caps, and the Cache Storage that keeps them.

use std::cell::Cell;

use js_sys::{Reflect, Uint8Array};
use resnet_lab_protocol::Response;
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;

use super::Outbox;
use super::js::{browser, js_error, now, scope};
use crate::error::{EngineError, Result};
use crate::limits::ByteBudget;

use resnet_lab_protocol::WEIGHTS_CACHE as CACHE_NAME;

fn caches() -> Option<web_sys::CacheStorage> {
    scope().caches().ok()
}

pub async fn open_cache() -> Option<web_sys::Cache> {
    let storage = caches()?;
    JsFuture::from(storage.open(CACHE_NAME))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

/// Empties the cache; the number of entries it held.
pub async fn clear_cache() -> Result<u32> {
    let Some(cache) = open_cache().await else {
        return Ok(0);
    };
    let keys = JsFuture::from(cache.keys())
        .await
        .map_err(browser("listing the cache"))?;
    let count = js_sys::Array::from(&keys).length();
    if let Some(storage) = caches() {
        JsFuture::from(storage.delete(CACHE_NAME))
            .await
            .map_err(browser("deleting the cache"))?;
    }
    Ok(count)
}

/// A write to Cache Storage under way: awaiting it waits until it is done (or failed).
pub type CacheWrite = futures::channel::oneshot::Receiver<()>;

/// Keeps a download that parsed (a broken one is never cached) in `cache` (opened beforehand,
/// so that the write is handed to the browser now, not when this thread next yields). The
/// browser writes while the caller goes on building the network; the caller awaits the write
/// before it says the model is ready.
pub fn cache_put(cache: &web_sys::Cache, url: &str, bytes: &[u8]) -> CacheWrite {
    let (done, written) = futures::channel::oneshot::channel();
    let body = Uint8Array::from(bytes);
    let put = web_sys::Response::new_with_opt_buffer_source(Some(&body))
        .map(|response| cache.put_with_str(url, &response));
    wasm_bindgen_futures::spawn_local(async move {
        if let Ok(put) = put
            && let Err(e) = JsFuture::from(put).await
        {
            web_sys::console::warn_2(&"could not cache the weights (storage full?)".into(), &e);
        }
        let _ = done.send(());
    });
    written
}

/// One downloaded file.
pub struct Download {
    pub bytes: Vec<u8>,
    pub from_cache: bool,
}

/// Bytes received across the files of one model (shards download in parallel), posted to
/// the page at most every 100 ms, and the cap they must stay under together.
pub struct DownloadProgress {
    outbox: Outbox,
    pub budget: ByteBudget,
    done: Cell<u64>,
    pub total: Cell<Option<u64>>,
    last_post: Cell<f64>,
}

impl DownloadProgress {
    pub fn new(outbox: Outbox, budget: ByteBudget, total: Option<u64>) -> Self {
        Self {
            outbox,
            budget,
            done: Cell::new(0),
            total: Cell::new(total),
            last_post: Cell::new(0.0),
        }
    }

    fn add(&self, bytes: u64, phase: &str, force: bool) {
        self.done.set(self.done.get() + bytes);
        let t = now();
        if force || t - self.last_post.get() > 100.0 {
            self.last_post.set(t);
            self.outbox.post(&Response::Progress {
                done: self.done.get(),
                total: self.total.get(),
                phase: phase.to_string(),
            });
        }
    }
}

/// The network's response for `url`.
async fn respond(url: &str) -> Result<web_sys::Response> {
    let fetched = JsFuture::from(scope().fetch_with_str(url))
        .await
        .map_err(|e| EngineError::Network {
            url: url.into(),
            detail: js_error(&e),
        })?;
    Ok(fetched.unchecked_into())
}

/// The body length the server declares, and whether it is the length of what `read()`
/// yields: not for compressed bodies, and a cross-origin response may hide its encoding.
fn declared_length(response: &web_sys::Response) -> (Option<u64>, bool) {
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let length = header("content-length").and_then(|v| v.trim().parse::<u64>().ok());
    let identity = header("content-encoding").is_none_or(|e| e.trim() == "identity");
    let visible = response.type_() == web_sys::ResponseType::Basic;
    (length, identity && visible)
}

/// `url` from Cache Storage only, as it is stored (still to be checked against a budget by
/// [`cached`]): None when it is not there or cannot be read.
pub async fn read_cache(url: &str) -> Option<Uint8Array> {
    let cache = open_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(url)).await.ok()?;
    let hit = hit.dyn_into::<web_sys::Response>().ok()?;
    let whole = JsFuture::from(hit.array_buffer().ok()?).await.ok()?;
    Some(Uint8Array::new(&whole))
}

/// A cached copy of `url`, whose size still answers to the budget.
pub fn cached(
    url: &str,
    array: &Uint8Array,
    phase: &str,
    progress: &DownloadProgress,
) -> Result<Download> {
    let n = u64::from(array.length());
    if progress.total.get().is_none() {
        progress.total.set(Some(n));
    }
    let mut guard = progress.budget.start(url, Some(n), true)?;
    guard.accept(n)?;
    let bytes = array.to_vec();
    progress.add(n, &format!("{phase} (from cache)"), true);
    guard.finish()?;
    Ok(Download {
        bytes,
        from_cache: true,
    })
}

/// Downloads `url` (or reads it from the cache), adding what arrives to `progress`. Nothing
/// is reserved from `Content-Length` beyond a fixed ceiling, and the stream stops as soon as
/// it passes the declared length or the budget.
pub async fn download(
    url: &str,
    use_cache: bool,
    phase: &str,
    progress: &DownloadProgress,
) -> Result<Download> {
    // A cache hit (weights this engine parsed before, see `cache_put`) is read whole: it has no
    // progress worth showing, and one copy is quicker than a read per chunk (51.6 MB: 0.24 s
    // against 0.50 s in the single-threaded engine, BENCHMARKS.md "Reload").
    if use_cache && let Some(whole) = read_cache(url).await {
        return cached(url, &whole, phase, progress);
    }
    let response = respond(url).await?;
    if !response.ok() {
        return Err(EngineError::Http {
            url: url.into(),
            status: response.status(),
            text: response.status_text(),
        });
    }
    let (length, exact) = declared_length(&response);
    if progress.total.get().is_none() {
        progress.total.set(length);
    }
    let mut guard = progress.budget.start(url, length, exact)?;
    let Some(body) = response.body() else {
        return Ok(Download {
            bytes: Vec::new(),
            from_cache: false,
        });
    };
    let reader: web_sys::ReadableStreamDefaultReader =
        body.get_reader()
            .dyn_into()
            .map_err(|_| EngineError::Browser {
                what: "streaming the download",
                detail: "the body has no default reader".into(),
            })?;
    let mut bytes = Vec::with_capacity(guard.initial_capacity());
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| EngineError::Interrupted {
                url: url.into(),
                detail: js_error(&e),
            })?;
        let done = Reflect::get(&chunk, &"done".into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(true);
        if done {
            break;
        }
        if let Ok(value) = Reflect::get(&chunk, &"value".into())
            && let Ok(array) = value.dyn_into::<Uint8Array>()
        {
            let n = array.length() as u64;
            if let Err(e) = guard.accept(n) {
                // Stop the transfer rather than let the rest arrive.
                let _ = reader.cancel();
                return Err(e);
            }
            let start = bytes.len();
            bytes.resize(start + n as usize, 0);
            array.copy_to(&mut bytes[start..]);
            progress.add(n, phase, false);
        }
    }
    progress.add(0, phase, true);
    guard.finish()?;
    Ok(Download {
        bytes,
        from_cache: false,
    })
}
