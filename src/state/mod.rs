//! The page's state and how engine messages and user actions change it: plain Rust (no
//! browser types), so the reducer is tested natively (`cargo test --workspace --lib`). The
//! page wraps it in Yew's `use_reducer` (`ui/mod.rs`); the photos' `File`s and `blob:` URLs
//! stay on the page's side (`ui/photos.rs`), keyed by the ids handed out here.

mod lab;
pub mod lab_data;
pub mod lab_runs;
pub mod lesion;
mod response;
pub mod teach;
mod teach_features;
mod teach_kept;
#[cfg(test)]
mod teach_kept_tests;
#[cfg(test)]
mod teach_tests;
mod teach_training;
#[cfg(test)]
mod tests;
pub mod webcam;

use std::rc::Rc;

use serde::Deserialize;

pub use lab::LabState;

use resnet_lab_protocol::{
    BackendKind, ClassRef, Crops, GradientNetwork, GradientReport, ModelSummary, PredictionRow,
    Response, Timings,
};

/// Weights from another origin (`?weights=`), waiting for the person's go-ahead.
#[derive(Debug, Clone, PartialEq)]
pub struct PendingWeights {
    /// As given in the address bar.
    pub url: String,
    /// Who would be downloaded from (`host:port`, or the scheme for `data:` and the like).
    pub host: String,
}

/// `weights/manifest.json`: what the server offers.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct Manifest {
    pub models: Vec<ManifestModel>,
}

#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ManifestModel {
    pub name: String,
    #[serde(default)]
    pub title: Option<String>,
    pub file: String,
    #[serde(default)]
    pub bytes: Option<u64>,
}

impl ManifestModel {
    pub fn title(&self) -> String {
        self.title.clone().unwrap_or_else(|| self.name.clone())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadState {
    Idle,
    Loading,
    Ready,
    Error,
}

impl LoadState {
    pub fn as_str(self) -> &'static str {
        match self {
            LoadState::Idle => "idle",
            LoadState::Loading => "loading",
            LoadState::Ready => "ready",
            LoadState::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
    pub phase: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ModelState {
    pub state: LoadState,
    /// What is being loaded, for people (a title, file name or URL).
    pub label: String,
    /// The architecture name (`resnet50`), known from the manifest or once loaded.
    pub name: String,
    pub summary: Option<ModelSummary>,
    pub error: Option<String>,
    pub progress: Option<Progress>,
    pub started_at: f64,
    pub ready_ms: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ActiveBackend {
    pub kind: BackendKind,
    pub adapter: String,
    pub notice: Option<String>,
    /// Threads of the CPU kernels (0 on WebGPU).
    pub threads: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PhotoState {
    Pending,
    Done,
    Error,
}

impl PhotoState {
    pub fn as_str(self) -> &'static str {
        match self {
            PhotoState::Pending => "pending",
            PhotoState::Done => "done",
            PhotoState::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub id: u32,
    pub name: String,
    /// `blob:` URL of the file, for the thumbnail (the page revokes it once the photo is
    /// dropped from here).
    pub url: String,
    pub state: PhotoState,
    pub top: Vec<PredictionRow>,
    pub timings: Option<Timings>,
    pub backend: Option<BackendKind>,
    pub size: Option<(u32, u32)>,
    pub error: Option<String>,
    /// A teach-mode head's classes, most likely first.
    pub custom: Vec<PredictionRow>,
    /// The views its probabilities come from (once classified).
    pub crops: Option<Crops>,
}

impl Photo {
    /// A card waiting for its classification.
    pub fn pending(id: u32, name: String, url: String) -> Self {
        Self {
            id,
            name,
            url,
            state: PhotoState::Pending,
            top: Vec::new(),
            timings: None,
            backend: None,
            size: None,
            error: None,
            custom: Vec::new(),
            crops: None,
        }
    }
}

/// A photo a person added: its name and the `blob:` URL of its thumbnail.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPhoto {
    pub name: String,
    pub url: String,
}

/// The residual-gradient panel: what it explains and what the engine answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GradientState {
    pub network: GradientNetwork,
    /// `None`: the photo's top-1.
    pub class: Option<ClassRef>,
    /// The photo asked about (`None`: noise, for an initialised network before any photo).
    pub photo: Option<u32>,
    /// The photo the shown report is about (the one asked about, once its answer is in).
    pub shown_photo: Option<u32>,
    /// Id of the request whose answer is awaited; older answers are ignored.
    pub pending: Option<u32>,
    pub report: Option<Rc<GradientReport>>,
    pub error: Option<String>,
}

impl GradientState {
    pub fn status(&self) -> &'static str {
        match (&self.pending, &self.report, &self.error) {
            (Some(_), _, _) => "computing",
            (None, _, Some(_)) => "error",
            (None, Some(_), None) => "done",
            _ => "idle",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct AppState {
    pub manifest: Option<Manifest>,
    pub selected: Option<String>,
    pub model: ModelState,
    pub backend: Option<ActiveBackend>,
    pub photos: Vec<Photo>,
    /// Page-level errors, newest last.
    pub errors: Vec<String>,
    /// A passing remark (cache cleared, engine restarted).
    pub info: Option<String>,
    pub dragging: bool,
    pub gradients: GradientState,
    /// The Lab section (lesion study, long runs).
    pub lab: LabState,
    /// `?weights=` on another site, shown for confirmation before anything is downloaded.
    pub pending_weights: Option<PendingWeights>,
    /// The id the next photo gets (ids are never reused, so a late answer about a photo that
    /// was cleared cannot land on another).
    pub next_photo_id: u32,
    /// Teach mode: the person's own classes.
    pub teach: teach::TeachState,
    /// The webcam's live classification.
    pub webcam: webcam::LiveFrames,
    /// The views new photos are classified from (`?crops=`).
    pub crops: Crops,
}

impl Default for AppState {
    fn default() -> Self {
        Self {
            manifest: None,
            selected: None,
            model: ModelState {
                state: LoadState::Idle,
                label: String::new(),
                name: String::new(),
                summary: None,
                error: None,
                progress: None,
                started_at: 0.0,
                ready_ms: None,
            },
            backend: None,
            photos: Vec::new(),
            errors: Vec::new(),
            info: None,
            dragging: false,
            gradients: GradientState::default(),
            lab: LabState::default(),
            pending_weights: None,
            next_photo_id: 1,
            teach: teach::TeachState::default(),
            webcam: webcam::LiveFrames::default(),
            crops: Crops::Center,
        }
    }
}

pub enum Action {
    Manifest(Manifest),
    /// A model load was sent to the engine.
    Loading {
        label: String,
        name: String,
        selected: Option<String>,
        at: f64,
    },
    /// A model could not even be asked for (no manifest, bad parameter).
    ModelUnavailable(String),
    /// Ask before downloading weights from another site (`None`: answered).
    ConfirmWeights(Option<PendingWeights>),
    Engine(Response, f64),
    /// New cards, newest first, with ids from [`AppState::next_photo_id`] on in this order.
    AddPhotos(Vec<NewPhoto>),
    PhotoFailed {
        id: u32,
        message: String,
    },
    ClearPhotos,
    Error(String),
    DismissError(usize),
    Info(Option<String>),
    Dragging(bool),
    /// A gradient analysis was sent to the engine.
    GradientsRequested {
        id: u32,
        photo: Option<u32>,
        class: Option<ClassRef>,
        network: GradientNetwork,
    },
    /// The Lab section shown or hidden.
    LabOpen(bool),
    /// A lesion study was sent to the engine: its id, photos and random deletions.
    LesionRequested {
        id: u32,
        photos: usize,
        random: Option<resnet_lab_protocol::lab::RandomSettings>,
    },
    /// The engine worker was replaced (lost device, crash, test hook): its runs are gone.
    EngineRestarted,
    /// A webcam frame went to the engine (its id).
    FrameSent(u32),
    /// The camera was closed: its frame in flight no longer matters.
    WebcamClosed,
    /// Another Lab tab.
    LabTab(lab_runs::LabTab),
    /// A long Lab run was asked for, stopped or resumed.
    LabRun(lab_runs::LabRunAction),
    /// The live training's CIFAR-10 data.
    LabData(lab_data::DataAction),
    Teach(teach::TeachAction),
    /// Classify new photos from other views (existing cards keep theirs, and say which).
    Crops(Crops),
}

impl AppState {
    /// The ids the next `count` photos get (what [`Action::AddPhotos`] will assign).
    pub fn photo_ids(&self, count: usize) -> std::ops::Range<u32> {
        self.next_photo_id..self.next_photo_id + count as u32
    }

    /// The newest photo that has its classification.
    pub fn latest_done(&self) -> Option<u32> {
        self.photos
            .iter()
            .find(|p| p.state == PhotoState::Done)
            .map(|p| p.id)
    }

    /// The state after `action`.
    pub fn after(&self, action: Action) -> Self {
        let mut s = self.clone();
        match action {
            Action::Manifest(manifest) => s.manifest = Some(manifest),
            Action::Loading {
                label,
                name,
                selected,
                at,
            } => {
                s.teach.model_gone();
                s.model = ModelState {
                    state: LoadState::Loading,
                    label,
                    name,
                    summary: None,
                    error: None,
                    progress: None,
                    started_at: at,
                    ready_ms: None,
                };
                if selected.is_some() {
                    s.selected = selected;
                }
            }
            Action::ModelUnavailable(message) => {
                s.model.state = LoadState::Error;
                s.model.error = Some(message.clone());
                s.errors.push(message);
            }
            Action::ConfirmWeights(pending) => s.pending_weights = pending,
            Action::Engine(response, now) => response::apply(&mut s, response, now),
            Action::AddPhotos(photos) => {
                for new in photos {
                    let photo = Photo::pending(s.next_photo_id, new.name, new.url);
                    s.next_photo_id += 1;
                    s.photos.insert(0, photo);
                }
            }
            Action::PhotoFailed { id, message } => {
                if let Some(p) = s.photos.iter_mut().find(|p| p.id == id) {
                    p.state = PhotoState::Error;
                    p.error = Some(message);
                }
            }
            Action::ClearPhotos => s.photos.retain(|p| p.state == PhotoState::Pending),
            Action::Error(message) => s.errors.push(message),
            Action::DismissError(i) => {
                if i < s.errors.len() {
                    s.errors.remove(i);
                }
            }
            Action::Info(info) => s.info = info,
            Action::Dragging(on) => s.dragging = on,
            Action::GradientsRequested {
                id,
                photo,
                class,
                network,
            } => {
                let g = &mut s.gradients;
                g.pending = Some(id);
                g.photo = photo;
                g.class = class;
                g.network = network;
                g.error = None;
            }
            Action::LabOpen(open) => s.lab.open = open,
            Action::LesionRequested { id, photos, random } => {
                s.lab.lesion.requested(id, photos, random)
            }
            Action::EngineRestarted => {
                s.lab.engine_restarted();
                s.webcam.reset();
            }
            Action::FrameSent(id) => s.webcam.sent(id),
            Action::WebcamClosed => s.webcam.reset(),
            Action::LabTab(tab) => s.lab.tab = tab,
            Action::LabRun(action) => lab_runs::apply(&mut s.lab.shatter, &mut s.lab.train, action),
            Action::LabData(action) => s.lab.data.apply(action),
            Action::Teach(action) => s.teach.apply(action),
            Action::Crops(crops) => s.crops = crops,
        }
        s
    }
}
