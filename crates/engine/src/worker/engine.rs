//! The engine's state (backend, loaded network, kept crops) and the dispatch of requests.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use burn::tensor::{Tensor, TensorData};
use resnet_lab_core::Classifier;
use resnet_lab_core::gradflow::GradFlowAnalyzer;
use resnet_lab_core::model::ForwardTrace;
use resnet_lab_core::preprocess::InputConvention;
use resnet_lab_core::transfer::BackboneId;
use resnet_lab_protocol::lab_runs::LabExperiment;
use resnet_lab_protocol::{
    BackendKind, BackendPreference, GradientNetwork, ModelSummary, Request, Response, WeightsSource,
};
use wasm_bindgen::JsValue;

use super::Outbox;
use super::backend::{ActiveBackend, select_backend};
use super::fetch::clear_cache;
use super::infer::Classified;
use super::js::now;
use super::weights::{ReadAhead, download_weights};
use crate::error::{EngineError, Result};
use crate::queue::RequestQueue;

/// A network prepared for gradient analysis, and what it was built from.
pub(super) struct Analysis {
    pub network: GradientNetwork,
    pub analyzer: Rc<GradFlowAnalyzer>,
    pub input: InputConvention,
}

/// A classification's forward pass kept for the gradient panel. The page explains the first
/// photo of a drop, so a trace is replaced only once it has been explained (or its photo is no
/// longer one the panel can explain).
pub(super) struct KeptTrace {
    pub photo: u32,
    pub trace: ForwardTrace,
    pub explained: bool,
}

pub struct Engine {
    pub(super) outbox: Outbox,
    queue: RefCell<RequestQueue<Option<JsValue>>>,
    busy: Cell<bool>,
    pub(super) backend: RefCell<Option<Rc<ActiveBackend>>>,
    pub(super) classifier: RefCell<Option<Rc<Classifier>>>,
    /// Where the loaded model came from: the gradient panel builds its autodiff copy of the
    /// network from the same (by then cached) weights, only when first asked.
    pub(super) source: RefCell<Option<WeightsSource>>,
    pub(super) analysis: RefCell<Option<Analysis>>,
    /// A photo's forward pass on the CPU path, kept for its gradient panel (which then does not
    /// run the network again).
    pub(super) kept_trace: RefCell<Option<KeptTrace>>,
    /// The 224×224 RGB crops of the last photos, by photo id.
    pub(super) crops: RefCell<VecDeque<(u32, Rc<Vec<u8>>)>>,
    /// Teach mode: class photos' features and the trained head.
    pub(super) teach: super::teach::TeachState,
    /// The Lab's long runs (shattered gradients, training).
    pub(super) lab_runs: super::lab_runs::LabRuns,
    /// The live training's CIFAR-10 data.
    pub(super) lab_data: super::lab_data::LabData,
    /// Weights being read from the cache before their `Load` (sent by index.html).
    read_ahead: RefCell<Option<ReadAhead>>,
}

impl Engine {
    pub fn new(outbox: Outbox) -> Self {
        Self {
            outbox,
            queue: RefCell::default(),
            busy: Cell::new(false),
            backend: RefCell::default(),
            classifier: RefCell::default(),
            source: RefCell::default(),
            analysis: RefCell::default(),
            kept_trace: RefCell::default(),
            crops: RefCell::default(),
            teach: super::teach::TeachState::default(),
            lab_runs: super::lab_runs::LabRuns::default(),
            lab_data: super::lab_data::LabData::default(),
            read_ahead: RefCell::default(),
        }
    }

    pub fn enqueue(self: &Rc<Self>, request: Request, payload: Option<JsValue>) {
        if RequestQueue::<()>::acts_immediately(&request) {
            self.lose_device();
            return;
        }
        // Not queued: the read overlaps whatever comes first (the engine's thread pool starting).
        if let Request::ReadAhead { url } = &request {
            *self.read_ahead.borrow_mut() = ReadAhead::start(url, payload).ok();
            return;
        }
        if let Request::Teach(teach) = &request
            && self.teach.on_arrival(teach)
        {
            return;
        }
        if let Request::Lab(lab) = &request
            && self.lab_runs.on_arrival(lab)
        {
            return;
        }
        self.queue.borrow_mut().push(request, payload);
        if !self.busy.get() {
            self.busy.set(true);
            let engine = Rc::clone(self);
            wasm_bindgen_futures::spawn_local(async move {
                // Not `while let`: the queue must not stay borrowed across `handle`.
                loop {
                    let next = engine.queue.borrow_mut().pop();
                    let Some((request, payload)) = next else {
                        break;
                    };
                    // Only a model's download may start before the thread pool is up.
                    if !matches!(request, Request::Load { .. }) && !super::threads::ready().await {
                        continue;
                    }
                    // Photos already waiting behind this one share its forward pass.
                    if request.is_batchable_photo() {
                        let more = engine.photo_batch() - 1;
                        let others = engine.queue.borrow_mut().pop_photos(more);
                        if !others.is_empty() {
                            let photos = std::iter::once((request, payload)).chain(others);
                            engine.classify_together(photos.collect()).await;
                            continue;
                        }
                    }
                    engine.handle(request, payload).await;
                }
                engine.busy.set(false);
            });
        }
    }

    /// Queues the next step of a lab run behind whatever waits (called from inside a request,
    /// so the loop above picks it up).
    pub(super) fn queue_next(&self, request: Request) {
        self.queue.borrow_mut().push_continuation(request, None);
    }

    /// The classifier of the loaded model, or the error every model-bound request gives.
    pub(super) fn loaded_classifier(&self) -> Result<Rc<Classifier>> {
        self.classifier.borrow().clone().ok_or_else(|| {
            EngineError::Unavailable("no model is loaded (see the model status above)".into())
        })
    }

    /// Which backend the work runs on (the CPU until one has been chosen).
    pub(super) fn backend_kind(&self) -> BackendKind {
        self.backend
            .borrow()
            .as_ref()
            .map(|b| b.kind)
            .unwrap_or(BackendKind::Cpu)
    }

    /// Whether the GPU device behind the backend was lost (a new worker takes over then).
    pub(super) fn device_lost(&self) -> bool {
        self.backend.borrow().as_ref().is_some_and(|b| b.is_lost())
    }

    fn lose_device(&self) {
        let backend = self.backend.borrow().clone();
        match backend.as_ref().and_then(|b| b.gpu.as_ref()) {
            Some(gpu) => gpu.destroy(),
            None => self.outbox.post(&Response::Failure {
                message: "there is no GPU device to lose (the CPU backend is in use)".into(),
            }),
        }
    }

    /// Runs one request and posts its answer; errors become text here.
    async fn handle(&self, request: Request, payload: Option<JsValue>) {
        let response = match request {
            Request::Load { backend, source } => match self.load(backend, &source).await {
                Ok(summary) => Response::ModelReady(summary),
                // The page, told already, replaces this engine.
                Err(EngineError::ThreadsFailed) => return,
                Err(e) => Response::ModelError {
                    message: e.to_string(),
                },
            },
            Request::ClassifyFrame { id } => match self.classify_frame(payload).await {
                Ok(c) => Response::Frame {
                    id,
                    top: c.top,
                    custom: c.custom,
                    inference_ms: c.timings.inference_ms,
                },
                Err(e) => Response::FrameError {
                    id,
                    message: e.to_string(),
                },
            },
            Request::Classify { id, name, crops } => {
                let outcome = self.classify(id, payload, &name, crops).await;
                Classified::response(id, outcome.map_err(|e| e.to_string()))
            }
            Request::Gradients {
                id,
                photo,
                class,
                network,
                backend,
            } => match self
                .gradients(backend, photo, payload, class, network)
                .await
            {
                Ok(report) => Response::Gradients {
                    id,
                    report: Box::new(report),
                },
                Err(e) => Response::GradientsError {
                    id,
                    message: e.to_string(),
                },
            },
            Request::Lesion { id, photos, random } => {
                let outcome = self.lesion_start(id, photos, random, payload).await;
                self.after_step(id, LabExperiment::Lesion, outcome).await;
                return;
            }
            // Handled on arrival (`enqueue`).
            Request::ReadAhead { .. } => return,
            Request::ClearCache => match clear_cache().await {
                Ok(entries) => Response::CacheCleared { entries },
                Err(e) => Response::Failure {
                    message: format!("could not clear the cache: {e}"),
                },
            },
            Request::LoseDevice => {
                self.lose_device();
                return;
            }
            Request::Teach(teach) => {
                self.teach(teach, payload).await;
                return;
            }
            Request::Lab(lab) => {
                self.lab(lab).await;
                return;
            }
            Request::Data(data) => {
                self.data(data, payload).await;
                return;
            }
        };
        // A device loss is reported by its own message; the page re-sends the photo.
        let lost_work = matches!(
            response,
            Response::Result { .. }
                | Response::ClassifyError { .. }
                | Response::Frame { .. }
                | Response::FrameError { .. }
                | Response::Gradients { .. }
                | Response::GradientsError { .. }
        );
        if !(lost_work && self.device_lost()) {
            self.outbox.post(&response);
        }
    }

    /// The backend of this worker, chosen on first use.
    pub(super) async fn backend(&self, choice: BackendPreference) -> Rc<ActiveBackend> {
        let existing = self.backend.borrow().clone();
        if let Some(backend) = existing {
            return backend;
        }
        let chosen = select_backend(choice, self.outbox).await;
        self.outbox.post(&Response::Backend {
            kind: chosen.backend.kind,
            adapter: chosen.adapter,
            notice: chosen.notice,
            threads: chosen.threads,
        });
        let backend = Rc::new(chosen.backend);
        *self.backend.borrow_mut() = Some(Rc::clone(&backend));
        backend
    }

    fn progress(&self, bytes: u64, phase: &str) {
        self.outbox.post(&Response::Progress {
            done: bytes,
            total: Some(bytes),
            phase: phase.into(),
        });
    }

    /// Picks the backend (first time only), downloads the weights and builds the network.
    async fn load(
        &self,
        choice: BackendPreference,
        source: &WeightsSource,
    ) -> Result<ModelSummary> {
        // Free the previous networks before building the next one.
        self.classifier.borrow_mut().take();
        self.analysis.borrow_mut().take();
        self.kept_trace.borrow_mut().take();
        self.source.borrow_mut().take();

        let t0 = now();
        // The download (or cache read) overlaps the thread pool's start and the choice of
        // backend (a GPU device's request, on the first load).
        let backend = async {
            match super::threads::ready().await {
                true => Some(self.backend(choice).await),
                false => None,
            }
        };
        let ahead = self.read_ahead.borrow_mut().take();
        let (downloaded, backend) =
            futures::future::join(download_weights(source, ahead, self.outbox), backend).await;
        let backend = backend.ok_or(EngineError::ThreadsFailed)?;
        let downloaded = downloaded?;
        let read_ahead = downloaded.read_ahead;
        let mut fetched = downloaded.parse()?;
        let t1 = now();
        self.progress(fetched.bytes, "building");
        self.teach
            .model_loaded(BackboneId::of(&fetched.weights).ok());
        let caching = std::mem::take(&mut fetched.caching);
        let classifier = Classifier::new(fetched.weights, &backend.device)?;
        // A model said to be ready is in the cache (the next visit reads it from there).
        for write in caching {
            let _ = write.await;
        }
        let t2 = now();
        self.progress(fetched.bytes, "warming up");
        // On the CPU there is nothing to compile (the channel-last weights were arranged with
        // the build). Elsewhere one pass on a blank image compiles the GPU kernels now rather
        // than on the first photo.
        if classifier.cpu_forward().is_none() {
            let blank = Tensor::<4>::from_data(
                TensorData::new(vec![0.0f32; 3 * 224 * 224], [1, 3, 224, 224]),
                &backend.device,
            );
            classifier
                .logits(blank)
                .await
                .map_err(EngineError::Warmup)?;
        }
        let t3 = now();
        if backend.is_lost() {
            return Err(EngineError::DeviceLost);
        }
        let info = &classifier.info;
        let summary = ModelSummary {
            name: info.name(),
            label: source.label.clone(),
            format: info.format.describe().into(),
            dtype: info.stored_dtype.clone(),
            source: info.source.clone(),
            input: info.input.describe().into(),
            // The published count, as the CLI prints it (the model itself has BatchNorm folded in).
            parameters: info.config.num_params(),
            bytes: fetched.bytes,
            from_cache: fetched.from_cache,
            read_ahead,
            download_ms: t1 - t0,
            build_ms: t2 - t1,
            warmup_ms: t3 - t2,
            fingerprint: self.backbone_id().ok().map(|b| b.fingerprint),
        };
        *self.classifier.borrow_mut() = Some(Rc::new(classifier));
        *self.source.borrow_mut() = Some(source.clone());
        self.restore_head().await;
        Ok(summary)
    }
}
