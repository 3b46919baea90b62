//! The Web Worker: receives the page's requests and answers them.
//!
//! Downloading and caching weights, parsing them, building the network on the chosen Burn
//! device, decoding photos (`createImageBitmap` + `OffscreenCanvas`), preprocessing,
//! inference and the gradient analysis all happen here, off the page's thread. Requests are
//! processed one at a time, in the order they arrive, so a model load always completes
//! before the photos sent after it are classified.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, Ordering};

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use futures::{StreamExt, TryStreamExt};
use js_sys::{Reflect, Uint8Array};
use resnet_lab_core::gradflow::{GradFlowAnalyzer, analysis_input, he_initialized_weights};
use resnet_lab_core::predict::read_f32;
use resnet_lab_core::preprocess::{InputConvention, PixelBuffer, normalize_crop, resize_and_crop};
use resnet_lab_core::weights::{WeightFormat, sniff_format, tfjs::TfjsModel};
use resnet_lab_core::{Classifier, load_tfjs, load_weights};
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use resnet_lab_protocol::{
    BackendChoice, BackendKind, GradientNetwork, GradientReport, ModelSummary, PredictionRow,
    Request, Response, Timings, WeightsSource,
};

use crate::convert::gradient_report;

/// Cache Storage bucket for downloaded weights.
pub const CACHE_NAME: &str = "resnet-lab-weights-v1";
/// Photos are scaled down in the browser so that their short side is at most this
/// (never below 512, so the network's 256-pixel resize sees practically the same image).
const MAX_SHORT_SIDE: u32 = 1024;
/// And so that no decoded photo exceeds this many pixels.
const MAX_PIXELS: f64 = 16_000_000.0;
/// The gradient panel can explain any of the last this many photos (224×224×3 bytes each).
const KEPT_CROPS: usize = 32;
/// Weight shards fetched at once.
const PARALLEL_DOWNLOADS: usize = 6;

static DEVICE_LOST: AtomicBool = AtomicBool::new(false);

/// Entry point of the worker binary.
pub fn start() {
    console_error_panic_hook::set_once();
    let scope: DedicatedWorkerGlobalScope = js_sys::global().unchecked_into();
    let engine = Rc::new(Engine::default());
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |event: MessageEvent| {
        let data = event.data();
        let json = Reflect::get(&data, &"json".into())
            .ok()
            .and_then(|v| v.as_string());
        let payload = Reflect::get(&data, &"file".into())
            .ok()
            .filter(|v| !v.is_undefined());
        match json.as_deref().map(serde_json::from_str::<Request>) {
            Some(Ok(request)) => engine.enqueue(request, payload),
            Some(Err(e)) => post(&Response::Failure {
                message: format!("engine received a malformed request: {e}"),
            }),
            None => post(&Response::Failure {
                message: "engine received a message without a request".into(),
            }),
        }
    });
    scope.set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&Response::Started);
}

/// Sends a response to the page.
fn post(response: &Response) {
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

fn now() -> f64 {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.performance().map(|p| p.now()).unwrap_or_default()
}

/// A JavaScript exception in words.
fn js_error(value: &JsValue) -> String {
    if let Some(error) = value.dyn_ref::<js_sys::Error>() {
        String::from(error.message())
    } else if let Some(s) = value.as_string() {
        s
    } else {
        format!("{value:?}")
    }
}

/// The device in use and what the page shows about it.
struct ActiveBackend {
    device: Device,
    kind: BackendKind,
    /// The wgpu device behind a WebGPU backend (to watch for loss, and to lose it on purpose).
    gpu: Option<burn::tensor::wgpu::wgpu::Device>,
}

/// A network prepared for gradient analysis, and what it was built from.
struct Analysis {
    network: GradientNetwork,
    analyzer: Rc<GradFlowAnalyzer>,
    input: InputConvention,
}

#[derive(Default)]
struct Engine {
    queue: RefCell<VecDeque<(Request, Option<JsValue>)>>,
    busy: Cell<bool>,
    backend: RefCell<Option<Rc<ActiveBackend>>>,
    classifier: RefCell<Option<Rc<Classifier>>>,
    /// Where the loaded model came from: the gradient panel builds its autodiff copy of the
    /// network from the same (by then cached) weights, only when first asked.
    source: RefCell<Option<WeightsSource>>,
    analysis: RefCell<Option<Analysis>>,
    /// The 224×224 RGB crops of the last photos, by photo id.
    crops: RefCell<VecDeque<(u32, Rc<Vec<u8>>)>>,
}

impl Engine {
    fn enqueue(self: &Rc<Self>, request: Request, payload: Option<JsValue>) {
        if request == Request::LoseDevice {
            // A test hook: it must act now, even in the middle of a long analysis.
            self.lose_device();
            return;
        }
        {
            let mut queue = self.queue.borrow_mut();
            if matches!(request, Request::Gradients { .. }) {
                // A newer analysis supersedes a queued one (the page only waits for the last).
                queue.retain(|(queued, _)| !matches!(queued, Request::Gradients { .. }));
            }
            queue.push_back((request, payload));
        }
        if !self.busy.get() {
            self.busy.set(true);
            let engine = Rc::clone(self);
            wasm_bindgen_futures::spawn_local(async move {
                loop {
                    let next = engine.next_request();
                    let Some((request, payload)) = next else {
                        break;
                    };
                    engine.handle(request, payload).await;
                }
                engine.busy.set(false);
            });
        }
    }

    /// The oldest request, except that photos and model loads go before a gradient
    /// analysis: a slow analysis never holds up the next classification.
    fn next_request(&self) -> Option<(Request, Option<JsValue>)> {
        let mut queue = self.queue.borrow_mut();
        let first_quick = queue
            .iter()
            .position(|(request, _)| !matches!(request, Request::Gradients { .. }));
        match first_quick {
            Some(i) => queue.remove(i),
            None => queue.pop_front(),
        }
    }

    fn lose_device(&self) {
        let backend = self.backend.borrow().clone();
        match backend.as_ref().and_then(|b| b.gpu.as_ref()) {
            Some(gpu) => gpu.destroy(),
            None => post(&Response::Failure {
                message: "there is no GPU device to lose (the CPU backend is in use)".into(),
            }),
        }
    }

    async fn handle(&self, request: Request, payload: Option<JsValue>) {
        match request {
            Request::Load { backend, source } => {
                let response = match self.load(backend, &source).await {
                    Ok(summary) => Response::ModelReady(summary),
                    Err(message) => Response::ModelError { message },
                };
                post(&response);
            }
            Request::Classify { id, name } => {
                let response = match self.classify(id, payload, &name).await {
                    Ok((top, timings, kind, width, height)) => Response::Result {
                        id,
                        top,
                        timings,
                        backend: kind,
                        width,
                        height,
                    },
                    Err(message) => Response::ClassifyError { id, message },
                };
                // A device loss is reported by its own message; the page re-sends the photo.
                if !DEVICE_LOST.load(Ordering::SeqCst) {
                    post(&response);
                }
            }
            Request::Gradients {
                id,
                photo,
                class,
                network,
                backend,
            } => {
                let response = match self
                    .gradients(backend, photo, payload, class, network)
                    .await
                {
                    Ok(report) => Response::Gradients {
                        id,
                        report: Box::new(report),
                    },
                    Err(message) => Response::GradientsError { id, message },
                };
                if !DEVICE_LOST.load(Ordering::SeqCst) {
                    post(&response);
                }
            }
            Request::ClearCache => match clear_cache().await {
                Ok(entries) => post(&Response::CacheCleared { entries }),
                Err(message) => post(&Response::Failure {
                    message: format!("could not clear the cache: {message}"),
                }),
            },
            Request::LoseDevice => self.lose_device(),
        }
    }

    /// The backend of this worker, chosen on first use.
    async fn backend(&self, choice: BackendChoice) -> Rc<ActiveBackend> {
        let existing = self.backend.borrow().clone();
        match existing {
            Some(backend) => backend,
            None => {
                let (backend, adapter, notice) = select_backend(choice).await;
                post(&Response::Backend {
                    kind: backend.kind,
                    adapter,
                    notice,
                });
                let backend = Rc::new(backend);
                *self.backend.borrow_mut() = Some(Rc::clone(&backend));
                backend
            }
        }
    }

    /// Picks the backend (first time only), downloads the weights and builds the network.
    async fn load(
        &self,
        choice: BackendChoice,
        source: &WeightsSource,
    ) -> Result<ModelSummary, String> {
        let backend = self.backend(choice).await;
        // Free the previous networks before building the next one.
        self.classifier.borrow_mut().take();
        self.analysis.borrow_mut().take();
        self.source.borrow_mut().take();

        let t0 = now();
        let (weights, bytes, from_cache) = fetch_weights(source).await?;
        let t1 = now();
        post(&Response::Progress {
            done: bytes,
            total: Some(bytes),
            phase: "building".into(),
        });
        let classifier = Classifier::new(weights, &backend.device).map_err(|e| e.to_string())?;
        let t2 = now();
        post(&Response::Progress {
            done: bytes,
            total: Some(bytes),
            phase: "warming up".into(),
        });
        // One pass on a blank image: compiles the GPU kernels now rather than on the first photo.
        let blank = Tensor::<4>::from_data(
            TensorData::new(vec![0.0f32; 3 * 224 * 224], [1, 3, 224, 224]),
            &backend.device,
        );
        classifier
            .logits(blank)
            .await
            .map_err(|e| format!("the warm-up pass failed: {e}"))?;
        let t3 = now();
        if DEVICE_LOST.load(Ordering::SeqCst) {
            return Err("the GPU device was lost while loading the model".into());
        }
        let info = &classifier.info;
        let summary = ModelSummary {
            name: info.name(),
            label: source.label.clone(),
            format: info.format.describe().into(),
            dtype: info.stored_dtype.clone(),
            source: info.source.clone(),
            input: info.input.describe().into(),
            parameters: classifier.model.num_params(),
            bytes,
            from_cache,
            download_ms: t1 - t0,
            build_ms: t2 - t1,
            warmup_ms: t3 - t2,
        };
        *self.classifier.borrow_mut() = Some(Rc::new(classifier));
        *self.source.borrow_mut() = Some(source.clone());
        Ok(summary)
    }

    /// The gradient analysis of a kept photo (or of noise, for an initialised network
    /// without a photo).
    async fn gradients(
        &self,
        choice: BackendChoice,
        photo: Option<u32>,
        payload: Option<JsValue>,
        class: Option<usize>,
        network: GradientNetwork,
    ) -> Result<GradientReport, String> {
        let crop = match photo {
            Some(id) => Some(self.crop_of(id, payload).await?),
            None => None,
        };
        let backend = self.backend(choice).await;
        let (analyzer, convention) = self.analyzer(&network, &backend).await?;
        let config = analyzer.config().clone();
        let seed = match &network {
            GradientNetwork::HeInit { seed, .. } => *seed,
            GradientNetwork::Loaded => 0,
        };
        let (input, side) = analysis_input(
            crop.as_ref().map(|c| c.as_slice()),
            &config,
            convention,
            seed,
        )
        .map_err(|e| e.to_string())?;
        // A class of another label set (a link made for ImageNet, opened on a CIFAR net)
        // falls back to the top-1.
        let class = class.filter(|&c| c < config.num_classes);
        let t0 = now();
        let report = analyzer
            .analyze(&input, [side, side], class)
            .await
            .map_err(|e| e.to_string())?;
        let elapsed = now() - t0;
        gradient_report(&report, network, &config, elapsed, backend.kind)
    }

    /// The kept crop of a photo, or the crop of the file sent along (after a restart).
    async fn crop_of(&self, id: u32, payload: Option<JsValue>) -> Result<Rc<Vec<u8>>, String> {
        let kept = self
            .crops
            .borrow()
            .iter()
            .find(|(kept, _)| *kept == id)
            .map(|(_, crop)| Rc::clone(crop));
        if let Some(crop) = kept {
            return Ok(crop);
        }
        let blob: web_sys::Blob = payload
            .and_then(|p| p.dyn_into().ok())
            .ok_or("this photo is no longer in memory: add it again to explain it")?;
        let (pixels, width, height) = decode_image(&blob).await?;
        let buffer = PixelBuffer::new(width, height, 4, &pixels).map_err(|e| e.to_string())?;
        let crop = Rc::new(resize_and_crop(&buffer).map_err(|e| e.to_string())?);
        self.keep_crop(id, Rc::clone(&crop));
        Ok(crop)
    }

    fn keep_crop(&self, id: u32, crop: Rc<Vec<u8>>) {
        let mut crops = self.crops.borrow_mut();
        crops.retain(|(kept, _)| *kept != id);
        if crops.len() == KEPT_CROPS {
            crops.pop_front();
        }
        crops.push_back((id, crop));
    }

    /// The autodiff network for `network`, built on first use and kept until another is asked for.
    async fn analyzer(
        &self,
        network: &GradientNetwork,
        backend: &ActiveBackend,
    ) -> Result<(Rc<GradFlowAnalyzer>, InputConvention), String> {
        if let Some(analysis) = self.analysis.borrow().as_ref()
            && analysis.network == *network
        {
            return Ok((Rc::clone(&analysis.analyzer), analysis.input));
        }
        self.analysis.borrow_mut().take();
        let weights = match network {
            GradientNetwork::Loaded => {
                let source = self
                    .source
                    .borrow()
                    .clone()
                    .ok_or("no model is loaded: load one, or pick an initialised network")?;
                fetch_weights(&source).await?.0
            }
            GradientNetwork::HeInit { arch, seed } => {
                he_initialized_weights(arch, *seed).map_err(|e| e.to_string())?
            }
        };
        let input = weights.info.input;
        let analyzer =
            Rc::new(GradFlowAnalyzer::new(weights, &backend.device).map_err(|e| e.to_string())?);
        *self.analysis.borrow_mut() = Some(Analysis {
            network: network.clone(),
            analyzer: Rc::clone(&analyzer),
            input,
        });
        Ok((analyzer, input))
    }

    async fn classify(
        &self,
        id: u32,
        payload: Option<JsValue>,
        name: &str,
    ) -> Result<(Vec<PredictionRow>, Timings, BackendKind, u32, u32), String> {
        let blob: web_sys::Blob = payload
            .and_then(|p| p.dyn_into().ok())
            .ok_or_else(|| format!("{name}: no file was received"))?;
        let classifier = self
            .classifier
            .borrow()
            .clone()
            .ok_or_else(|| "no model is loaded (see the model status above)".to_string())?;
        let kind = self
            .backend
            .borrow()
            .as_ref()
            .map(|b| b.kind)
            .unwrap_or(BackendKind::Cpu);

        let t0 = now();
        let (pixels, width, height) = decode_image(&blob).await?;
        let t1 = now();
        let buffer = PixelBuffer::new(width, height, 4, &pixels).map_err(|e| e.to_string())?;
        let crop = resize_and_crop(&buffer).map_err(|e| e.to_string())?;
        drop(pixels);
        let input = normalize_crop(&crop, classifier.info.input);
        self.keep_crop(id, Rc::new(crop));
        let batch = classifier
            .input_batch(&[input], 224, 224)
            .map_err(|e| e.to_string())?;
        let t2 = now();
        let logits = classifier.model.forward(batch);
        // Reading one value waits for the whole forward pass (GPU work is queued lazily), so
        // the inference time includes execution and the read-back time is the transfer only.
        read_f32(logits.clone().slice([0..1, 0..1]))
            .await
            .map_err(|e| e.to_string())?;
        let t3 = now();
        let row = read_f32(logits).await.map_err(|e| e.to_string())?;
        let t4 = now();
        if row.iter().any(|v| !v.is_finite()) {
            return Err("the network produced non-finite outputs (NaN or infinity)".into());
        }
        let top = classifier
            .top_k(&row, 5)
            .into_iter()
            .map(|p| PredictionRow {
                index: p.index,
                label: p.label,
                prob: p.prob,
            })
            .collect();
        let timings = Timings {
            decode_ms: t1 - t0,
            preprocess_ms: t2 - t1,
            inference_ms: t3 - t2,
            readback_ms: t4 - t3,
        };
        Ok((top, timings, kind, width, height))
    }
}

/// What `navigator.gpu.requestAdapter()` says about the adapter, if anything.
enum AdapterProbe {
    NoWebGpu,
    NoAdapter(String),
    Adapter { name: String, software: bool },
}

async fn probe_adapter() -> AdapterProbe {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let navigator = scope.navigator();
    let gpu = Reflect::get(&navigator, &"gpu".into()).unwrap_or(JsValue::UNDEFINED);
    if gpu.is_undefined() || gpu.is_null() {
        return AdapterProbe::NoWebGpu;
    }
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()
        .and_then(|f| f.dyn_into::<js_sys::Function>().ok());
    let Some(request) = request else {
        return AdapterProbe::NoWebGpu;
    };
    let options = js_sys::Object::new();
    let _ = Reflect::set(
        &options,
        &"powerPreference".into(),
        &"high-performance".into(),
    );
    let adapter = match request.call1(&gpu, &options) {
        Ok(promise) => match JsFuture::from(js_sys::Promise::resolve(&promise)).await {
            Ok(adapter) => adapter,
            Err(e) => return AdapterProbe::NoAdapter(js_error(&e)),
        },
        Err(e) => return AdapterProbe::NoAdapter(js_error(&e)),
    };
    if adapter.is_null() || adapter.is_undefined() {
        return AdapterProbe::NoAdapter("the browser offered no WebGPU adapter".into());
    }
    let info = Reflect::get(&adapter, &"info".into()).unwrap_or(JsValue::UNDEFINED);
    let field = |object: &JsValue, key: &str| -> String {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let flag = |object: &JsValue, key: &str| -> bool {
        Reflect::get(object, &key.into())
            .ok()
            .and_then(|v| v.as_bool())
            .unwrap_or(false)
    };
    let (vendor, architecture, device, description) = (
        field(&info, "vendor"),
        field(&info, "architecture"),
        field(&info, "device"),
        field(&info, "description"),
    );
    let name = if !description.is_empty() {
        description.clone()
    } else {
        [vendor.as_str(), architecture.as_str(), device.as_str()]
            .iter()
            .filter(|s| !s.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let all = format!("{vendor} {architecture} {device} {description}").to_ascii_lowercase();
    let software = flag(&info, "isFallbackAdapter")
        || flag(&adapter, "isFallbackAdapter")
        || all.contains("swiftshader")
        || all.contains("llvmpipe")
        || all.contains("lavapipe")
        || all.contains("warp");
    AdapterProbe::Adapter {
        name: if name.is_empty() {
            "unnamed WebGPU adapter".into()
        } else {
            name
        },
        software,
    }
}

fn cpu_backend() -> ActiveBackend {
    ActiveBackend {
        device: Device::flex(),
        kind: BackendKind::Cpu,
        gpu: None,
    }
}

const CPU_NAME: &str = "CPU (WebAssembly, Burn flex)";

/// Chooses WebGPU or the CPU, and the notice that explains a fallback.
async fn select_backend(choice: BackendChoice) -> (ActiveBackend, String, Option<String>) {
    if choice == BackendChoice::Cpu {
        return (
            cpu_backend(),
            CPU_NAME.into(),
            Some("Running on the CPU, as asked with ?backend=cpu.".into()),
        );
    }
    let fallback = |why: String| (cpu_backend(), CPU_NAME.to_string(), Some(why));
    let adapter_name = match probe_adapter().await {
        AdapterProbe::NoWebGpu => {
            return fallback("WebGPU is not available in this browser: running on the CPU (WebAssembly) instead.".into());
        }
        AdapterProbe::NoAdapter(why) => {
            return fallback(format!(
                "No WebGPU adapter could be had ({why}): running on the CPU (WebAssembly) instead."
            ));
        }
        AdapterProbe::Adapter { name, software } => {
            if software && choice == BackendChoice::Auto {
                return fallback(format!(
                    "The only WebGPU adapter is a software renderer ({name}), slower than the CPU backend: \
                     running on the CPU (WebAssembly). Add ?backend=webgpu to use it anyway."
                ));
            }
            name
        }
    };
    match Device::wgpu_options().init_with_setup_async().await {
        Ok((device, setup)) => {
            let gpu = setup.device.clone();
            gpu.set_device_lost_callback(|reason, message| {
                DEVICE_LOST.store(true, Ordering::SeqCst);
                post(&Response::DeviceLost {
                    message: format!("the GPU device was lost ({reason:?}): {message}"),
                });
            });
            let info = setup.adapter.get_info();
            let name = if info.name.trim().is_empty() {
                adapter_name
            } else {
                info.name
            };
            let notice = (choice == BackendChoice::Webgpu)
                .then(|| "Running on WebGPU, as asked with ?backend=webgpu.".into());
            (
                ActiveBackend {
                    device,
                    kind: BackendKind::Webgpu,
                    gpu: Some(gpu),
                },
                format!("WebGPU: {name}"),
                notice,
            )
        }
        Err(e) => fallback(format!(
            "The WebGPU device could not be created ({e}): running on the CPU (WebAssembly) instead."
        )),
    }
}

/// Decodes a photo with the browser (EXIF orientation applied) into RGBA pixels, scaled
/// down when huge.
async fn decode_image(blob: &web_sys::Blob) -> Result<(Vec<u8>, u32, u32), String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let not_image = |detail: String| {
        let kind = blob.type_();
        let kind = if kind.is_empty() {
            "unknown type".to_string()
        } else {
            kind
        };
        format!("This file is not an image the browser can decode ({kind}): {detail}")
    };
    let options = web_sys::ImageBitmapOptions::new();
    options.set_image_orientation(web_sys::ImageOrientation::FromImage);
    let promise = scope
        .create_image_bitmap_with_blob_and_image_bitmap_options(blob, &options)
        .map_err(|e| not_image(js_error(&e)))?;
    let bitmap: web_sys::ImageBitmap = JsFuture::from(promise)
        .await
        .map_err(|e| not_image(js_error(&e)))?
        .unchecked_into();
    let (w, h) = (bitmap.width(), bitmap.height());
    if w == 0 || h == 0 {
        return Err(not_image("the image has no pixels".into()));
    }
    let short = w.min(h) as f64;
    let mut scale = (MAX_SHORT_SIDE as f64 / short)
        .min((MAX_PIXELS / (w as f64 * h as f64)).sqrt())
        .min(1.0);
    if short * scale < 512.0 && short > 512.0 {
        scale = 512.0 / short;
    }
    let bitmap = if scale < 1.0 {
        let (nw, nh) = (
            ((w as f64 * scale).round() as u32).max(1),
            ((h as f64 * scale).round() as u32).max(1),
        );
        let options = web_sys::ImageBitmapOptions::new();
        options.set_resize_width(nw);
        options.set_resize_height(nh);
        options.set_resize_quality(web_sys::ResizeQuality::High);
        let promise = scope
            .create_image_bitmap_with_image_bitmap_and_image_bitmap_options(&bitmap, &options)
            .map_err(|e| format!("scaling the photo down failed: {}", js_error(&e)))?;
        let scaled: web_sys::ImageBitmap = JsFuture::from(promise)
            .await
            .map_err(|e| format!("scaling the photo down failed: {}", js_error(&e)))?
            .unchecked_into();
        bitmap.close();
        scaled
    } else {
        bitmap
    };
    let (w, h) = (bitmap.width(), bitmap.height());
    let canvas =
        web_sys::OffscreenCanvas::new(w, h).map_err(|e| format!("no canvas: {}", js_error(&e)))?;
    let context: web_sys::OffscreenCanvasRenderingContext2d = canvas
        .get_context("2d")
        .map_err(|e| format!("no 2D context: {}", js_error(&e)))?
        .ok_or("no 2D context")?
        .unchecked_into();
    context
        .draw_image_with_image_bitmap(&bitmap, 0.0, 0.0)
        .map_err(|e| format!("drawing the photo failed: {}", js_error(&e)))?;
    bitmap.close();
    let data = context
        .get_image_data(0.0, 0.0, w as f64, h as f64)
        .map_err(|e| format!("reading the pixels failed: {}", js_error(&e)))?;
    Ok((data.data().0, w, h))
}

fn caches() -> Option<web_sys::CacheStorage> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    scope.caches().ok()
}

async fn open_cache() -> Option<web_sys::Cache> {
    let storage = caches()?;
    JsFuture::from(storage.open(CACHE_NAME))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

async fn clear_cache() -> Result<u32, String> {
    let Some(cache) = open_cache().await else {
        return Ok(0);
    };
    let keys = JsFuture::from(cache.keys())
        .await
        .map_err(|e| js_error(&e))?;
    let count = js_sys::Array::from(&keys).length();
    if let Some(storage) = caches() {
        JsFuture::from(storage.delete(CACHE_NAME))
            .await
            .map_err(|e| js_error(&e))?;
    }
    Ok(count)
}

/// Resolves `url` against the worker's location (the page's directory).
fn absolute_url(url: &str, base: Option<&str>) -> Result<String, String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let base = match base {
        Some(base) => base.to_string(),
        None => scope.location().href(),
    };
    web_sys::Url::new_with_base(url, &base)
        .map(|u| u.href())
        .map_err(|_| format!("`{url}` is not a valid URL"))
}

/// One downloaded file.
struct Download {
    bytes: Vec<u8>,
    from_cache: bool,
}

/// Bytes received across the files of one model (shards download in parallel), posted to
/// the page at most every 100 ms.
struct DownloadProgress {
    done: Cell<u64>,
    total: Cell<Option<u64>>,
    last_post: Cell<f64>,
}

impl DownloadProgress {
    fn new(total: Option<u64>) -> Self {
        Self {
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
            post(&Response::Progress {
                done: self.done.get(),
                total: self.total.get(),
                phase: phase.to_string(),
            });
        }
    }
}

/// Downloads `url` (or reads it from the cache), adding what arrives to `progress`.
async fn download(
    url: &str,
    use_cache: bool,
    phase: &str,
    progress: &DownloadProgress,
) -> Result<Download, String> {
    let scope: web_sys::WorkerGlobalScope = js_sys::global().unchecked_into();
    let cache = if use_cache { open_cache().await } else { None };
    let mut from_cache = false;
    let mut response = None;
    if let Some(cache) = &cache
        && let Ok(hit) = JsFuture::from(cache.match_with_str(url)).await
        && let Ok(hit) = hit.dyn_into::<web_sys::Response>()
    {
        from_cache = true;
        response = Some(hit);
    }
    let response = match response {
        Some(r) => r,
        None => {
            let fetched = JsFuture::from(scope.fetch_with_str(url)).await.map_err(|e| {
                format!(
                    "could not download {url}: {} (network error, the server is down, or CORS forbids it)",
                    js_error(&e)
                )
            })?;
            fetched.unchecked_into()
        }
    };
    if !response.ok() {
        let status = response.status();
        let text = response.status_text();
        let hint = if status == 404 {
            " (no such file on the server)"
        } else {
            ""
        };
        return Err(format!(
            "could not download {url}: HTTP {status} {text}{hint}"
        ));
    }
    let length = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.trim().parse::<u64>().ok());
    if progress.total.get().is_none() {
        progress.total.set(length);
    }
    let Some(body) = response.body() else {
        return Ok(Download {
            bytes: Vec::new(),
            from_cache,
        });
    };
    let reader: web_sys::ReadableStreamDefaultReader = body
        .get_reader()
        .dyn_into()
        .map_err(|_| "the download cannot be streamed".to_string())?;
    let mut bytes = Vec::with_capacity(length.unwrap_or(0).min(1 << 31) as usize);
    let phase = if from_cache {
        format!("{phase} (from cache)")
    } else {
        phase.to_string()
    };
    loop {
        let chunk = JsFuture::from(reader.read())
            .await
            .map_err(|e| format!("the download of {url} was interrupted: {}", js_error(&e)))?;
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
            let start = bytes.len();
            bytes.resize(start + array.length() as usize, 0);
            array.copy_to(&mut bytes[start..]);
            progress.add(array.length() as u64, &phase, false);
        }
    }
    progress.add(0, &phase, true);
    if let Some(length) = length
        && (bytes.len() as u64) < length
    {
        return Err(format!(
            "the download of {url} is truncated: got {} of {} bytes",
            bytes.len(),
            length
        ));
    }
    Ok(Download { bytes, from_cache })
}

async fn cache_put(url: &str, bytes: &[u8]) {
    let Some(cache) = open_cache().await else {
        return;
    };
    let body = Uint8Array::from(bytes);
    let Ok(response) = web_sys::Response::new_with_opt_buffer_source(Some(&body)) else {
        return;
    };
    if let Err(e) = JsFuture::from(cache.put_with_str(url, &response)).await {
        web_sys::console::warn_2(&"could not cache the weights (storage full?)".into(), &e);
    }
}

/// Downloads and parses a model's weights (one file, or a TF.js `model.json` and its shards).
async fn fetch_weights(
    source: &WeightsSource,
) -> Result<(resnet_lab_core::LoadedWeights, u64, bool), String> {
    let url = absolute_url(&source.url, None)?;
    let cacheable = source.cache && !url.starts_with("blob:") && !url.starts_with("data:");
    let progress = DownloadProgress::new(source.expected_bytes);
    let first = download(&url, cacheable, "downloading", &progress).await?;
    if let Some(expected) = source.expected_bytes
        && (first.bytes.len() as u64) != expected
    {
        return Err(format!(
            "the weights file {url} is truncated or not the one the manifest lists: {} bytes, expected {expected}",
            first.bytes.len()
        ));
    }
    let mut total_bytes = first.bytes.len() as u64;
    let mut all_cached = first.from_cache;
    let describe = |e: resnet_lab_core::Error| format!("{} ({url})", e);
    let weights = match sniff_format(&first.bytes) {
        Some(WeightFormat::TfjsLayers) => {
            let model = TfjsModel::parse(&first.bytes).map_err(describe)?;
            let paths = model.shard_paths();
            let mut shard_urls = Vec::with_capacity(paths.len());
            for path in &paths {
                let shard_url = if let Some((_, blob)) = source
                    .shard_urls
                    .iter()
                    .find(|(name, _)| path.ends_with(name.as_str()))
                {
                    blob.clone()
                } else if url.starts_with("blob:") {
                    return Err(format!(
                        "this TF.js model.json needs its weight shard `{path}`: pick model.json together with its .bin files"
                    ));
                } else {
                    absolute_url(path, Some(&url))?
                };
                shard_urls.push(shard_url);
            }
            // The total is unknown until every shard has answered: show bytes only.
            progress.total.set(None);
            let phase = format!("{} weight shards", paths.len());
            // A few at a time, as browsers allow six connections per host.
            let mut shards: Vec<(String, Download)> =
                futures::stream::iter(shard_urls.into_iter().map(|shard_url| {
                    let (phase, progress) = (&phase, &progress);
                    async move {
                        let shard = download(&shard_url, cacheable, phase, progress).await?;
                        Ok::<_, String>((shard_url, shard))
                    }
                }))
                .buffered(PARALLEL_DOWNLOADS)
                .try_collect()
                .await?;
            for (_, shard) in &shards {
                total_bytes += shard.bytes.len() as u64;
                all_cached &= shard.from_cache;
            }
            let shard_bytes: Vec<Vec<u8>> = shards
                .iter_mut()
                .map(|(_, s)| std::mem::take(&mut s.bytes))
                .collect();
            let weights = load_tfjs(&first.bytes, &shard_bytes).map_err(describe)?;
            if cacheable {
                for ((shard_url, shard), bytes) in shards.iter().zip(&shard_bytes) {
                    if !shard.from_cache {
                        cache_put(shard_url, bytes).await;
                    }
                }
            }
            weights
        }
        _ => load_weights(&first.bytes).map_err(describe)?,
    };
    // Only weights that parsed are cached: a broken download is never kept.
    if cacheable && !first.from_cache {
        cache_put(&url, &first.bytes).await;
    }
    if !cacheable {
        all_cached = false;
    }
    Ok((weights, total_bytes, all_cached))
}
