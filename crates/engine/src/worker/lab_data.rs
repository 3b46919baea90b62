//! The live training's CIFAR-10 data in the worker: files the person picked or dropped, or
//! one file at a URL, checked with the core's `lab::cifar_files` (sizes before a byte is
//! read, then every label) and kept in Cache Storage ([`DATA_CACHE`]) so that a reload finds
//! it. The records stay bytes (150 MB for all of CIFAR-10); a training reads them through
//! `Dataset`.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::{Array, Uint8Array};
use resnet_lab_core::lab::cifar_files::{
    BatchRole, CifarError, MAX_CIFAR_BYTES, MAX_CIFAR_FILES, check_records, file_name, plan,
};
use resnet_lab_core::lab::data::{CIFAR_RECORD, Cifar10, Dataset, MAX_CIFAR_RECORDS};
use resnet_lab_protocol::{CifarSummary, DataRequest, DataResponse, Response};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::engine::Engine;
use super::fetch::{DownloadProgress, download};
use super::js::{browser, scope};
use crate::error::{EngineError, Result};
use crate::limits::ByteBudget;

/// Cache Storage bucket for training data (apart from the weights: "Clear cache" leaves it).
pub const DATA_CACHE: &str = "resnet-lab-data-v1";
const TRAIN_KEY: &str = "lab-data/cifar10-train.bin";
const TEST_KEY: &str = "lab-data/cifar10-test.bin";
const SUMMARY_KEY: &str = "lab-data/cifar10-summary.json";
/// A kept summary is a few hundred bytes; anything much larger is not ours.
const MAX_SUMMARY_BYTES: u64 = 64 << 10;

const NO_DATA: &str = "no CIFAR-10 data is loaded: pick data_batch_*.bin files of CIFAR-10's binary version under “Training data”, or train on the built-in grating task";

/// The CIFAR-10 set in memory and what the page is told about it.
struct Held {
    train: Rc<Cifar10>,
    summary: CifarSummary,
}

/// The data part of the engine state.
#[derive(Default)]
pub struct LabData {
    held: RefCell<Option<Held>>,
}

impl Engine {
    /// Answers a data request (one response each).
    pub(super) async fn data(&self, request: DataRequest, payload: Option<JsValue>) {
        let outcome = match request {
            DataRequest::LoadFiles { names } => self.load_cifar_files(names, payload).await,
            DataRequest::LoadUrl { url } => self.load_cifar_url(&url).await,
            DataRequest::Status => Ok(self.cifar_status().await),
            DataRequest::Forget => {
                self.lab_data.held.borrow_mut().take();
                forget_kept().await;
                Ok(DataResponse::Empty)
            }
        };
        let response = outcome.unwrap_or_else(|e| DataResponse::Error {
            message: e.to_string(),
        });
        self.outbox.post(&Response::Data(response));
    }

    /// The training images, from memory or from this browser's storage.
    pub(super) async fn cifar_training_set(&self) -> Result<Rc<Cifar10>> {
        if let Some(held) = self.lab_data.held.borrow().as_ref() {
            return Ok(Rc::clone(&held.train));
        }
        let summary = kept_summary()
            .await
            .ok_or_else(|| EngineError::Unavailable(NO_DATA.into()))?;
        let damaged = || {
            EngineError::Unavailable(
                "the CIFAR-10 data kept in this browser is damaged: load the files again".into(),
            )
        };
        let bytes = read_kept(TRAIN_KEY, MAX_CIFAR_BYTES)
            .await
            .ok_or_else(damaged)?;
        let train = match Cifar10::from_records("the kept CIFAR-10 data", bytes) {
            Ok(train) if train.len() == summary.train_images => Rc::new(train),
            _ => {
                forget_kept().await;
                return Err(damaged());
            }
        };
        *self.lab_data.held.borrow_mut() = Some(Held {
            train: Rc::clone(&train),
            summary,
        });
        Ok(train)
    }

    async fn cifar_status(&self) -> DataResponse {
        if let Some(held) = self.lab_data.held.borrow().as_ref() {
            return DataResponse::Cifar(held.summary.clone());
        }
        match kept_summary().await {
            Some(summary) => DataResponse::Cifar(summary),
            None => DataResponse::Empty,
        }
    }

    /// Files picked or dropped (`File`s beside the request, in the order of `names`).
    async fn load_cifar_files(
        &self,
        names: Vec<String>,
        payload: Option<JsValue>,
    ) -> Result<DataResponse> {
        if names.len() > MAX_CIFAR_FILES {
            return Err(CifarError::TooManyFiles { count: names.len() }.into());
        }
        let files: Array = payload
            .and_then(|p| p.dyn_into().ok())
            .ok_or_else(|| EngineError::Unavailable("no files were received".into()))?;
        if files.length() as usize != names.len() {
            return Err(EngineError::Unavailable(
                "the files received do not match their names".into(),
            ));
        }
        let mut blobs = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let blob: web_sys::Blob = files
                .get(i as u32)
                .dyn_into()
                .map_err(|_| EngineError::Unavailable(format!("{name} is not a file")))?;
            blobs.push(blob);
        }
        // Sizes first: nothing is read, nor allocated, for a set CIFAR-10 cannot be.
        let sizes: Vec<(String, u64)> = names
            .iter()
            .zip(&blobs)
            .map(|(name, blob)| (name.clone(), blob.size().max(0.0) as u64))
            .collect();
        let plan = plan(&sizes)?;
        // The set in memory goes now (the kept copy stays until the new one is checked).
        self.lab_data.held.borrow_mut().take();
        let mut train = Vec::with_capacity(plan.train_bytes);
        let mut test = Vec::with_capacity(plan.test_bytes);
        for (file, blob) in plan.files.iter().zip(&blobs) {
            let buffer = JsFuture::from(blob.array_buffer())
                .await
                .map_err(browser("reading a CIFAR-10 file"))?;
            let array = Uint8Array::new(&buffer);
            if array.length() as u64 != file.bytes {
                return Err(EngineError::Unavailable(format!(
                    "{} changed while it was read",
                    file.name
                )));
            }
            let target = match file.role {
                BatchRole::Train => &mut train,
                BatchRole::Test => &mut test,
            };
            let start = target.len();
            target.resize(start + file.bytes as usize, 0);
            array.copy_to(&mut target[start..]);
            check_records(&file.name, &target[start..])?;
        }
        let names = plan.files.into_iter().map(|f| f.name).collect();
        self.keep(train, test, names).await
    }

    /// One file at `url` (absolute), downloaded within CIFAR-10's size.
    async fn load_cifar_url(&self, url: &str) -> Result<DataResponse> {
        let name = file_name(url).to_string();
        let progress = DownloadProgress::new(
            self.outbox,
            ByteBudget::new("CIFAR-10 data", MAX_CIFAR_BYTES),
            None,
        );
        let fetched = download(url, false, &format!("downloading {name}"), &progress).await?;
        let plan = plan(&[(name.clone(), fetched.bytes.len() as u64)])?;
        check_records(&name, &fetched.bytes)?;
        self.lab_data.held.borrow_mut().take();
        let names = plan.files.into_iter().map(|f| f.name).collect();
        // `plan` refuses a lone test batch, so this one file trains.
        self.keep(fetched.bytes, Vec::new(), names).await
    }

    /// Holds checked records, keeps them in Cache Storage, and says what they are.
    async fn keep(
        &self,
        train: Vec<u8>,
        test: Vec<u8>,
        files: Vec<String>,
    ) -> Result<DataResponse> {
        let train = Cifar10::from_records("the training files", train)?;
        let mut summary = CifarSummary {
            train_images: train.len(),
            test_images: test.len() / CIFAR_RECORD,
            files,
            label_counts: train.label_counts().to_vec(),
            kept: true,
        };
        summary.kept = store(&train, &test, &summary).await;
        *self.lab_data.held.borrow_mut() = Some(Held {
            train: Rc::new(train),
            summary: summary.clone(),
        });
        Ok(DataResponse::Cifar(summary))
    }
}

async fn open_cache() -> Option<web_sys::Cache> {
    let storage = scope().caches().ok()?;
    JsFuture::from(storage.open(DATA_CACHE))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

async fn put(cache: &web_sys::Cache, key: &str, bytes: &[u8]) -> bool {
    let body = Uint8Array::from(bytes);
    let Ok(response) = web_sys::Response::new_with_opt_buffer_source(Some(&body)) else {
        return false;
    };
    match JsFuture::from(cache.put_with_str(key, &response)).await {
        Ok(_) => true,
        Err(e) => {
            web_sys::console::warn_2(
                &"could not keep the CIFAR-10 data (storage full?)".into(),
                &e,
            );
            false
        }
    }
}

/// Keeps the set (summary last: it is what a reload looks for); `false` if it could not.
async fn store(train: &Cifar10, test: &[u8], summary: &CifarSummary) -> bool {
    forget_kept().await;
    let Some(cache) = open_cache().await else {
        return false;
    };
    let Ok(json) = serde_json::to_vec(summary) else {
        return false;
    };
    let kept = put(&cache, TRAIN_KEY, train.records()).await
        && (test.is_empty() || put(&cache, TEST_KEY, test).await)
        && put(&cache, SUMMARY_KEY, &json).await;
    if !kept {
        forget_kept().await;
    }
    kept
}

async fn forget_kept() {
    if let Ok(storage) = scope().caches() {
        let _ = JsFuture::from(storage.delete(DATA_CACHE)).await;
    }
}

/// A kept entry's bytes, if it is there and at most `max` bytes long.
async fn read_kept(key: &str, max: u64) -> Option<Vec<u8>> {
    let cache = open_cache().await?;
    let hit: web_sys::Response = JsFuture::from(cache.match_with_str(key))
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    let blob: web_sys::Blob = JsFuture::from(hit.blob().ok()?)
        .await
        .ok()?
        .dyn_into()
        .ok()?;
    if blob.size() > max as f64 {
        return None;
    }
    let buffer = JsFuture::from(blob.array_buffer()).await.ok()?;
    Some(Uint8Array::new(&buffer).to_vec())
}

/// The kept summary, if it is there and consistent (a damaged one counts as none).
async fn kept_summary() -> Option<CifarSummary> {
    let bytes = read_kept(SUMMARY_KEY, MAX_SUMMARY_BYTES).await?;
    let summary: CifarSummary = serde_json::from_slice(&bytes).ok()?;
    // Each number bounded first, so that the sums below cannot overflow.
    let bounded = |n: usize| n <= MAX_CIFAR_RECORDS;
    let consistent = summary.label_counts.len() == 10
        && summary.files.len() <= MAX_CIFAR_FILES
        && bounded(summary.train_images)
        && bounded(summary.test_images)
        && summary.label_counts.iter().all(|&n| bounded(n))
        && summary.train_images + summary.test_images <= MAX_CIFAR_RECORDS
        && summary.label_counts.iter().sum::<usize>() == summary.train_images;
    consistent.then_some(CifarSummary {
        kept: true,
        ..summary
    })
}
