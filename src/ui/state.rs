//! The page's state and how engine messages and user actions change it.

use std::rc::Rc;

use serde::Deserialize;
use yew::Reducible;

use crate::ui::confirm::PendingWeights;
use resnet_lab_protocol::{
    BackendKind, GradientNetwork, GradientReport, ModelSummary, PredictionRow, Response, Timings,
};

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
pub struct BackendInfo {
    pub kind: BackendKind,
    pub adapter: String,
    pub notice: Option<String>,
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

/// A `blob:` URL that is revoked when the last copy is dropped.
#[derive(Clone)]
pub struct PhotoUrl(pub gloo::file::ObjectUrl);

impl PartialEq for PhotoUrl {
    fn eq(&self, other: &Self) -> bool {
        *self.0 == *other.0
    }
}

impl std::fmt::Debug for PhotoUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Photo {
    pub id: u32,
    pub name: String,
    /// `blob:` URL of the file, for the thumbnail (revoked when the photo is dropped).
    pub url: PhotoUrl,
    pub state: PhotoState,
    pub top: Vec<PredictionRow>,
    pub timings: Option<Timings>,
    pub backend: Option<BackendKind>,
    pub size: Option<(u32, u32)>,
    pub error: Option<String>,
    /// Kept so the gradient panel can send the photo again after an engine restart.
    pub file: web_sys::File,
}

/// The residual-gradient panel: what it explains and what the engine answered.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct GradientState {
    pub network: GradientNetwork,
    /// `None`: the photo's top-1.
    pub class: Option<usize>,
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
    pub backend: Option<BackendInfo>,
    pub photos: Vec<Photo>,
    /// Page-level errors, newest last.
    pub errors: Vec<String>,
    /// A passing remark (cache cleared, engine restarted).
    pub info: Option<String>,
    pub dragging: bool,
    pub gradients: GradientState,
    /// `?weights=` on another site, shown for confirmation before anything is downloaded.
    pub pending_weights: Option<PendingWeights>,
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
            pending_weights: None,
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
    AddPhoto(Photo),
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
        class: Option<usize>,
        network: GradientNetwork,
    },
}

impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        let mut s = (*self).clone();
        match action {
            Action::Manifest(manifest) => s.manifest = Some(manifest),
            Action::Loading {
                label,
                name,
                selected,
                at,
            } => {
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
            Action::Engine(response, now) => apply_response(&mut s, response, now),
            Action::AddPhoto(photo) => s.photos.insert(0, photo),
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
        }
        Rc::new(s)
    }
}

fn apply_response(s: &mut AppState, response: Response, now: f64) {
    match response {
        Response::Started | Response::DeviceLost { .. } => {}
        Response::Backend {
            kind,
            adapter,
            notice,
        } => {
            s.backend = Some(BackendInfo {
                kind,
                adapter,
                notice,
            })
        }
        Response::Progress { done, total, phase } => {
            if s.model.state == LoadState::Loading {
                s.model.progress = Some(Progress { done, total, phase });
            }
        }
        Response::ModelReady(summary) => {
            s.model.state = LoadState::Ready;
            s.model.name = summary.name.clone();
            s.model.summary = Some(summary);
            s.model.error = None;
            s.model.progress = None;
            s.model.ready_ms = Some(now - s.model.started_at);
        }
        Response::ModelError { message } => {
            s.model.state = LoadState::Error;
            s.model.progress = None;
            s.model.error = Some(message.clone());
            s.errors
                .push(format!("The model could not be loaded: {message}"));
        }
        Response::Result {
            id,
            top,
            timings,
            backend,
            width,
            height,
        } => {
            if let Some(p) = s.photos.iter_mut().find(|p| p.id == id) {
                p.state = PhotoState::Done;
                p.top = top;
                p.timings = Some(timings);
                p.backend = Some(backend);
                p.size = Some((width, height));
                p.error = None;
            }
        }
        Response::ClassifyError { id, message } => {
            if let Some(p) = s.photos.iter_mut().find(|p| p.id == id) {
                p.state = PhotoState::Error;
                p.error = Some(message);
            }
        }
        Response::CacheCleared { entries } => {
            s.info = Some(match entries {
                0 => "The weights cache was already empty.".into(),
                1 => "Cleared 1 cached weights file: the next load downloads it again.".into(),
                n => {
                    format!("Cleared {n} cached weights files: the next load downloads them again.")
                }
            });
        }
        Response::Gradients { id, report } => {
            if s.gradients.pending == Some(id) {
                s.gradients.pending = None;
                s.gradients.error = None;
                s.gradients.report = Some(Rc::new(*report));
                s.gradients.shown_photo = s.gradients.photo;
            }
        }
        Response::GradientsError { id, message } => {
            if s.gradients.pending == Some(id) {
                s.gradients.pending = None;
                s.gradients.error = Some(message);
            }
        }
        Response::Failure { message } => s.errors.push(message),
    }
}
