//! Messages between the page (UI thread) and the inference engine (a dedicated Web Worker).
//!
//! Control messages travel as JSON strings; the bulky payloads (photos) travel beside them
//! as structured-cloned `File` objects, so nothing large is serialised.

use serde::{Deserialize, Serialize};

pub mod crops;
pub mod format;
pub use format::{format_bytes, format_count, format_ms};
pub mod image_header;
pub mod read_ahead;
pub use read_ahead::{ReadAheadHint, WEIGHTS_CACHE};
pub mod lab;
pub mod report;
pub use crops::Crops;
pub use lab::{LabPhoto, LesionReport};
pub mod lab_data;
pub use lab_data::{CifarSummary, DataRequest, DataResponse, TrainData};
pub mod lab_runs;
pub use lab_runs::{LabRequest, LabResponse};
pub mod teach;
pub use report::{BatchNormMode, BlockGradient, GradFlowReport, HeInitOptions, Saliency};
pub use teach::{TeachRequest, TeachResponse};

/// Which compute backend a person asked for (`?backend=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum BackendPreference {
    /// WebGPU on a real GPU, the CPU when the only adapter is a software one or none.
    #[default]
    Auto,
    Cpu,
    Webgpu,
}

impl BackendPreference {
    /// Reads the `?backend=` value; anything unknown means automatic.
    pub fn parse(value: Option<&str>) -> Self {
        match value.map(|v| v.trim().to_ascii_lowercase()).as_deref() {
            Some("cpu" | "wasm" | "flex") => BackendPreference::Cpu,
            Some("webgpu" | "gpu" | "wgpu") => BackendPreference::Webgpu,
            _ => BackendPreference::Auto,
        }
    }
}

/// The backend actually in use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BackendKind {
    Webgpu,
    Cpu,
}

impl BackendKind {
    /// The value of `data-backend`.
    pub fn as_str(self) -> &'static str {
        match self {
            BackendKind::Webgpu => "webgpu",
            BackendKind::Cpu => "cpu",
        }
    }
}

/// Where to get a model's weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WeightsSource {
    /// The name shown while loading (manifest name, file name or URL).
    pub label: String,
    /// URL of the weights file or of a TF.js `model.json` (may be a `blob:` URL).
    pub url: String,
    /// For a `model.json` picked from disk: its shard files by name, as `blob:` URLs.
    #[serde(default)]
    pub shard_urls: Vec<(String, String)>,
    /// Size announced by the manifest, to detect a truncated download.
    #[serde(default)]
    pub expected_bytes: Option<u64>,
    /// Keep the download in Cache Storage (not for local files).
    pub cache: bool,
}

/// UI → engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Request {
    /// Pick the backend (once per worker) and load a model on it, with a warm-up pass.
    Load {
        backend: BackendPreference,
        source: WeightsSource,
    },
    /// Classify the photo sent beside this message (a `File` / `Blob`) from the views `crops`
    /// names (the centre crop when absent).
    Classify {
        id: u32,
        name: String,
        #[serde(default)]
        crops: Crops,
    },
    /// Classify one webcam frame sent beside this message (a JPEG `Blob`): answered by
    /// [`Response::Frame`]; nothing is kept (the gradient panel explains photos, not frames).
    /// The page sends the next frame only after this one's answer.
    ClassifyFrame { id: u32 },
    /// Explain a classified photo: gradient norms per block, residual vs plain network,
    /// saliency. `photo` is the id of a photo sent with `Classify` (the engine keeps the
    /// last few preprocessed inputs); `class` defaults to the network's top-1.
    Gradients {
        id: u32,
        photo: Option<u32>,
        class: Option<ClassRef>,
        network: GradientNetwork,
        /// Used when no model was loaded yet (an initialised network first).
        backend: BackendPreference,
    },
    /// The lesion study of the loaded network on some photos of the page (their `File`s
    /// travel beside, as an array in the same order), with random deletions when `random`
    /// says. It runs in steps like the Lab's long runs: answered by
    /// [`LabResponse::LesionStarted`], one [`LabResponse::LesionStep`] per altered network,
    /// then `Finished` or `Error`; `LabRequest::Stop` with its id stops it.
    Lesion {
        id: u32,
        photos: Vec<LabPhoto>,
        #[serde(default)]
        random: Option<lab::RandomSettings>,
    },
    /// A served model's weights read from Cache Storage ahead of its `Load`: index.html sends
    /// it while the page itself starts, from the hint the page left at the last visit
    /// ([`ReadAheadHint`]), with the cached file's bytes beside it (an `ArrayBuffer`) when it
    /// has read them already; otherwise the engine reads the cache. Nothing from the network,
    /// nothing is answered, and a `Load` of another URL drops what was read.
    ReadAhead { url: String },
    /// Forget every cached weights file.
    ClearCache,
    /// Test hook: destroy the GPU device to exercise recovery.
    LoseDevice,
    /// Teach mode (your own classes): see [`teach`].
    Teach(TeachRequest),
    /// The Lab's long runs (shattered gradients, live training): see [`lab_runs`].
    Lab(LabRequest),
    /// The live training's CIFAR-10 data: see [`lab_data`].
    Data(DataRequest),
}

impl Request {
    /// A photo classified from its centre crop alone: photos like it may share a forward pass
    /// (a photo with ten crops is a batch of its own).
    pub fn is_batchable_photo(&self) -> bool {
        matches!(
            self,
            Request::Classify {
                crops: Crops::Center,
                ..
            }
        )
    }
}

/// A class whose logit the gradient panel differentiates: one of the network's own classifier
/// (ImageNet's 1000), or one of the Teach head in use (its logit `W_c · features + b_c`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClassRef {
    Model(usize),
    Taught(usize),
}

impl ClassRef {
    /// The class a report explains.
    pub fn of(report: &GradFlowReport) -> Self {
        if report.taught {
            Self::Taught(report.class)
        } else {
            Self::Model(report.class)
        }
    }
}

/// Which network the gradient panel analyses.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum GradientNetwork {
    /// The model loaded for classification (trained weights).
    #[default]
    Loaded,
    /// A freshly He-initialised network, no download needed: `resnet18`, `cifar56`, ...
    HeInit {
        arch: String,
        seed: u64,
        /// BatchNorm mode and zero-initialised residual γ.
        #[serde(default)]
        options: HeInitOptions,
    },
}

impl GradientNetwork {
    pub const DEFAULT_INIT_ARCH: &'static str = "cifar56";
}

/// Everything the gradient panel shows for one photo, network and class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradientReport {
    /// The core library's numbers; flattened, so the JSON (and the panel's download) reads as
    /// one object, as `resnet-lab gradflow --json` writes it, plus the fields below.
    #[serde(flatten)]
    pub analysis: GradFlowReport,
    /// What was analysed, for people: "ResNet-50 (Keras, ImageNet)", "He init, seed 0".
    pub network: GradientNetwork,
    /// Block type of the architecture: `basic` or `bottleneck`.
    pub block_kind: String,
    /// Wall time of the analysis and of one plain forward pass on the same backend, for
    /// the panel's "costs N forward passes" line.
    pub analysis_ms: f64,
    pub backend: BackendKind,
}

/// Timings of one photo, in milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct Timings {
    pub decode_ms: f64,
    pub preprocess_ms: f64,
    /// With a batch, this photo's share of the batch's forward pass.
    pub inference_ms: f64,
    pub readback_ms: f64,
    /// Photos classified together in one forward pass with this one (1: alone).
    #[serde(default = "one")]
    pub batch: u32,
}

fn one() -> u32 {
    1
}

impl Timings {
    pub fn total_ms(&self) -> f64 {
        self.decode_ms + self.preprocess_ms + self.inference_ms + self.readback_ms
    }
}

/// One line of a top-5 list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PredictionRow {
    pub index: usize,
    pub label: String,
    pub prob: f32,
}

/// What the engine says about the loaded model.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelSummary {
    /// `resnet50`, `resnet18`, ...
    pub name: String,
    pub label: String,
    pub format: String,
    pub dtype: String,
    pub source: String,
    pub input: String,
    /// Learnable parameters of the architecture as published (torchvision's count, what
    /// `resnet-lab inspect` prints), not of the BatchNorm-folded network the engine runs.
    pub parameters: usize,
    pub bytes: u64,
    pub from_cache: bool,
    /// Whether the cached weights had been read ahead, while the page started.
    #[serde(default)]
    pub read_ahead: bool,
    pub download_ms: f64,
    pub build_ms: f64,
    pub warmup_ms: f64,
    /// The backbone's fingerprint (`resnet_lab_core::transfer::BackboneId`): what kept teach
    /// features and heads are matched against.
    #[serde(default)]
    pub fingerprint: Option<String>,
}

/// Whether a WebGPU adapter's vendor, architecture, device and description (lower case)
/// name a software renderer, slower than the CPU path (the engine and the page both ask).
pub fn is_software_adapter(info_lowercase: &str) -> bool {
    ["swiftshader", "llvmpipe", "lavapipe", "warp"]
        .iter()
        .any(|s| info_lowercase.contains(s))
}

/// Engine → UI.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Response {
    /// The engine's WebAssembly is running and accepts requests.
    Started,
    /// The backend chosen for this worker, and why.
    Backend {
        kind: BackendKind,
        adapter: String,
        notice: Option<String>,
        /// Threads the CPU kernels run on (0 on WebGPU).
        #[serde(default)]
        threads: u32,
    },
    /// Download progress (`total` when the server said).
    Progress {
        done: u64,
        total: Option<u64>,
        phase: String,
    },
    ModelReady(ModelSummary),
    ModelError {
        message: String,
    },
    Result {
        id: u32,
        top: Vec<PredictionRow>,
        timings: Timings,
        backend: BackendKind,
        width: u32,
        height: u32,
        /// With a trained or imported head: its classes, most likely first.
        #[serde(default)]
        custom: Vec<PredictionRow>,
        /// The views the probabilities come from.
        #[serde(default)]
        crops: Crops,
    },
    ClassifyError {
        id: u32,
        message: String,
    },
    /// A webcam frame's top-5 and, with a head, its classes.
    Frame {
        id: u32,
        top: Vec<PredictionRow>,
        custom: Vec<PredictionRow>,
        inference_ms: f64,
    },
    FrameError {
        id: u32,
        message: String,
    },
    Gradients {
        id: u32,
        report: Box<GradientReport>,
    },
    GradientsError {
        id: u32,
        message: String,
    },
    /// The GPU device went away; the UI restarts the engine and reloads the model.
    DeviceLost {
        message: String,
    },
    CacheCleared {
        entries: u32,
    },
    /// The multi-threaded engine could not start its threads: the page starts the
    /// single-threaded one instead.
    ThreadsFailed {
        message: String,
    },
    /// A problem not tied to a photo or the model.
    Failure {
        message: String,
    },
    Teach(TeachResponse),
    Lab(LabResponse),
    Data(DataResponse),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Adapter strings as Chromium reports them (SwiftShader in headless Chromium here, Mesa's
    /// llvmpipe, Windows' WARP) against a hardware GPU's.
    #[test]
    fn software_adapters_are_recognised() {
        assert!(is_software_adapter("google swiftshader  "));
        assert!(is_software_adapter("mesa llvmpipe (llvm 15.0.6, 256 bits)"));
        assert!(is_software_adapter("microsoft basic render driver warp"));
        assert!(!is_software_adapter(
            "nvidia ampere  nvidia geforce rtx 3080"
        ));
    }

    /// A Backend message from an engine that does not send `threads` still reads (as 0).
    #[test]
    fn backend_threads_default_to_zero() {
        let json = r#"{"type":"backend","kind":"cpu","adapter":"CPU","notice":null}"#;
        let Response::Backend { threads, .. } = serde_json::from_str(json).unwrap() else {
            panic!("not a Backend message");
        };
        assert_eq!(threads, 0);
    }

    #[test]
    fn messages_round_trip_as_json() {
        let req = Request::Load {
            backend: BackendPreference::Cpu,
            source: WeightsSource {
                label: "resnet50".into(),
                url: "weights/x.safetensors".into(),
                shard_urls: vec![],
                expected_bytes: Some(10),
                cache: true,
            },
        };
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"type\":\"load\""));
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let resp = Response::Progress {
            done: 1,
            total: None,
            phase: "download".into(),
        };
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
    }

    #[test]
    fn a_gradient_report_travels_as_one_flat_object() {
        let report = GradientReport {
            analysis: GradFlowReport {
                model: "resnet18".into(),
                class: 281,
                label: "tabby".into(),
                logit: 12.5,
                input_grad_norm: 0.25,
                plain_input_grad_norm: 1e-9,
                blocks: vec![],
                saliency: Saliency {
                    grad_cam: vec![1.0],
                    grad_cam_size: [1, 1],
                    input_gradient: vec![0.5],
                    input_size: [1, 1],
                },
                batch_norm: BatchNormMode::Train,
                batch: 8,
                taught: false,
            },
            network: GradientNetwork::HeInit {
                arch: "cifar56".into(),
                seed: 3,
                options: HeInitOptions {
                    batch_norm: BatchNormMode::Train,
                    zero_init_residual: true,
                },
            },
            block_kind: "basic".into(),
            analysis_ms: 42.0,
            backend: BackendKind::Cpu,
        };
        let json: serde_json::Value = serde_json::to_value(&report).unwrap();
        // The core's fields sit beside the page's, as `resnet-lab gradflow --json` writes them.
        assert_eq!(json["class"], 281);
        assert_eq!(json["logit"], 12.5);
        assert_eq!(json["block_kind"], "basic");
        assert_eq!(json["network"]["seed"], 3);
        assert_eq!(json["network"]["options"]["batch_norm"], "train");
        assert_eq!(json["batch"], 8);
        assert_eq!(
            serde_json::from_value::<GradientReport>(json).unwrap(),
            report
        );
    }

    #[test]
    fn backend_preference_parses_loosely() {
        assert_eq!(
            BackendPreference::parse(Some("CPU")),
            BackendPreference::Cpu
        );
        assert_eq!(
            BackendPreference::parse(Some("webgpu")),
            BackendPreference::Webgpu
        );
        assert_eq!(
            BackendPreference::parse(Some("nonsense")),
            BackendPreference::Auto
        );
        assert_eq!(BackendPreference::parse(None), BackendPreference::Auto);
    }
}
