//! A model's weights: one file, or a TF.js `model.json` and its shards, downloaded (or read
//! from the cache) and parsed by the core library.

use futures::{StreamExt, TryStreamExt};
use resnet_lab_core::weights::{WeightFormat, sniff_format, tfjs::TfjsModel};
use resnet_lab_core::{LoadedWeights, load_tfjs, load_weights};
use resnet_lab_protocol::WeightsSource;
use wasm_bindgen::{JsCast, JsValue};

use super::Outbox;
use super::fetch::{
    CacheWrite, Download, DownloadProgress, cache_put, cached, download, open_cache, read_cache,
};
use super::js::scope;
use crate::error::{EngineError, Result};
use crate::limits::ByteBudget;
use crate::urls::{check_shard_list, confine_shard};

/// Weight shards fetched at once (browsers allow six connections per host).
const PARALLEL_DOWNLOADS: usize = 6;

/// Parsed weights and what it took to get them.
pub struct FetchedWeights {
    pub weights: LoadedWeights,
    /// Bytes of every file together.
    pub bytes: u64,
    /// Whether every file came from Cache Storage.
    pub from_cache: bool,
    /// The downloaded files being written to Cache Storage.
    pub caching: Vec<CacheWrite>,
}

/// The page's directory, relative to the worker's script: the multi-threaded engine's lives
/// in `engine-mt/`, the single-threaded one's beside index.html.
const PAGE_DIR: &str = if cfg!(feature = "threads") {
    "../"
} else {
    "./"
};

/// Resolves `url` against the page's directory.
fn absolute_url(url: &str) -> Result<String> {
    let page = web_sys::Url::new_with_base(PAGE_DIR, &scope().location().href())
        .map_err(|_| EngineError::BadUrl(url.into()))?;
    web_sys::Url::new_with_base(url, &page.href())
        .map(|u| u.href())
        .map_err(|_| EngineError::BadUrl(url.into()))
}

/// Where each shard of `model` comes from: a picked file, or a URL confined to the
/// model.json's origin and directory (see [`crate::urls`]).
fn shard_urls(model: &TfjsModel, url: &str, source: &WeightsSource) -> Result<Vec<String>> {
    let paths = model.shard_paths();
    let refuse = |path: String, why| EngineError::ShardPath {
        model: url.to_string(),
        path,
        why,
    };
    check_shard_list(&paths).map_err(|(path, why)| refuse(path, why))?;
    let mut urls = Vec::with_capacity(paths.len());
    for path in paths {
        let picked = source
            .shard_urls
            .iter()
            .find(|(name, _)| path.ends_with(name.as_str()));
        urls.push(match picked {
            Some((_, blob)) => blob.clone(),
            None if url.starts_with("blob:") => return Err(EngineError::MissingShard(path)),
            None => confine_shard(url, &path).map_err(|why| refuse(path.clone(), why))?,
        });
    }
    // `a.bin` and `./a.bin`, or two names matching one picked file, are still one file.
    check_shard_list(&urls).map_err(|(path, why)| refuse(path, why))?;
    Ok(urls)
}

/// A served model's file being read from Cache Storage before its `Load` arrives
/// (`Request::ReadAhead`): the read starts at once; a `Load` of the same URL takes it.
pub struct ReadAhead {
    url: String,
    read: futures::channel::oneshot::Receiver<Option<js_sys::Uint8Array>>,
}

impl ReadAhead {
    /// `url`'s bytes as the page read them from the cache (an `ArrayBuffer`), or else a read
    /// of the cache started now (nothing from the network).
    pub fn start(url: &str, read_by_page: Option<JsValue>) -> Result<Self> {
        let url = absolute_url(url)?;
        let (done, read) = futures::channel::oneshot::channel();
        match read_by_page.and_then(|b| b.dyn_into::<js_sys::ArrayBuffer>().ok()) {
            Some(buffer) => {
                let _ = done.send(Some(js_sys::Uint8Array::new(&buffer)));
            }
            None => {
                let key = url.clone();
                wasm_bindgen_futures::spawn_local(async move {
                    let _ = done.send(read_cache(&key).await);
                });
            }
        }
        Ok(Self { url, read })
    }

    /// The file read ahead, if it is `url`'s (absolute) and was in the cache.
    async fn take(self, url: &str) -> Option<js_sys::Uint8Array> {
        if self.url != url {
            return None;
        }
        self.read.await.ok().flatten()
    }
}

/// A model's files as downloaded (or read from the cache), not yet parsed.
pub struct Downloaded {
    url: String,
    cacheable: bool,
    /// Where downloaded files are kept (opened only when something was downloaded).
    cache: Option<web_sys::Cache>,
    /// The weights file, or a TF.js `model.json`.
    first: Download,
    /// A `model.json`'s shards, by URL.
    shards: Option<Vec<(String, Download)>>,
    /// Whether the first file had been read ahead.
    pub read_ahead: bool,
}

/// Downloads a model's files: only I/O, so that it may overlap the engine's start (see
/// `threads`). The first file may have been read ahead.
pub async fn download_weights(
    source: &WeightsSource,
    ahead: Option<ReadAhead>,
    outbox: Outbox,
) -> Result<Downloaded> {
    let url = absolute_url(&source.url)?;
    let cacheable = source.cache && !url.starts_with("blob:") && !url.starts_with("data:");
    let progress = DownloadProgress::new(outbox, ByteBudget::weights(), source.expected_bytes);
    let phase = "downloading";
    let read_ahead = match ahead {
        Some(ahead) if cacheable => ahead.take(&url).await,
        _ => None,
    };
    let first = match &read_ahead {
        Some(bytes) => cached(&url, bytes, phase, &progress)?,
        None => download(&url, cacheable, phase, &progress).await?,
    };
    if let Some(expected) = source.expected_bytes
        && (first.bytes.len() as u64) != expected
    {
        return Err(EngineError::NotAsListed {
            url,
            got: first.bytes.len() as u64,
            expected,
        });
    }
    let shards = match sniff_format(&first.bytes) {
        Some(WeightFormat::TfjsLayers) => {
            let model = TfjsModel::parse(&first.bytes).map_err(|source| EngineError::Weights {
                url: url.clone(),
                source,
            })?;
            let urls = shard_urls(&model, &url, source)?;
            // The total is unknown until every shard has answered: show bytes only.
            progress.total.set(None);
            let phase = format!("{} weight shards", urls.len());
            let shards = futures::stream::iter(urls.into_iter().map(|shard_url| {
                let (phase, progress) = (&phase, &progress);
                async move {
                    let shard = download(&shard_url, cacheable, phase, progress).await?;
                    Ok::<_, EngineError>((shard_url, shard))
                }
            }))
            .buffered(PARALLEL_DOWNLOADS)
            .try_collect::<Vec<_>>()
            .await?;
            Some(shards)
        }
        _ => None,
    };
    let downloaded_some = !first.from_cache
        || shards
            .as_ref()
            .is_some_and(|s| s.iter().any(|(_, d)| !d.from_cache));
    let cache = match cacheable && downloaded_some {
        true => open_cache().await,
        false => None,
    };
    Ok(Downloaded {
        url,
        cacheable,
        cache,
        first,
        shards,
        read_ahead: read_ahead.is_some(),
    })
}

impl Downloaded {
    /// Parses the files and starts caching those that were downloaded (a broken download is
    /// never kept).
    pub fn parse(self) -> Result<FetchedWeights> {
        let Self {
            url,
            cacheable,
            cache,
            first,
            shards,
            ..
        } = self;
        let describe = |source| EngineError::Weights {
            url: url.clone(),
            source,
        };
        let mut bytes = first.bytes.len() as u64;
        let mut from_cache = first.from_cache;
        let mut caching = Vec::new();
        let weights = match shards {
            Some(mut shards) => {
                for (_, shard) in &shards {
                    bytes += shard.bytes.len() as u64;
                    from_cache &= shard.from_cache;
                }
                let shard_bytes: Vec<Vec<u8>> = shards
                    .iter_mut()
                    .map(|(_, s)| std::mem::take(&mut s.bytes))
                    .collect();
                let weights = load_tfjs(&first.bytes, &shard_bytes).map_err(describe)?;
                if let Some(cache) = &cache {
                    for ((shard_url, shard), data) in shards.iter().zip(&shard_bytes) {
                        if !shard.from_cache {
                            caching.push(cache_put(cache, shard_url, data));
                        }
                    }
                }
                weights
            }
            None => load_weights(&first.bytes).map_err(describe)?,
        };
        if let Some(cache) = &cache
            && !first.from_cache
        {
            caching.push(cache_put(cache, &url, &first.bytes));
        }
        Ok(FetchedWeights {
            weights,
            bytes,
            from_cache: from_cache && cacheable,
            caching,
        })
    }
}

/// Downloads and parses a model's weights.
pub async fn fetch_weights(source: &WeightsSource, outbox: Outbox) -> Result<FetchedWeights> {
    download_weights(source, None, outbox).await?.parse()
}
