//! Teach mode's page state: the classes a person makes, their photos (ids of their own,
//! features computed by the engine), the training curve and the head in use. Plain Rust,
//! tested natively like the rest of the reducer.

use std::collections::BTreeMap;
use std::rc::Rc;

use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::TeachClass;

use super::NewPhoto;
pub use super::teach_features::FeatureSend;
pub use super::teach_kept::{
    KeptFeatures, MAX_FEATURE_WIDTH, MAX_KEPT_RECORD_CHARS, feature_key, parse_feature_key,
};
pub use super::teach_training::{TrainState, Training};

/// A head has 2 to this many classes in the page (the core accepts more from files).
pub const MAX_CLASSES: usize = 20;
pub const MIN_CLASSES: usize = 2;
/// Each class needs this many photos (the core's `MIN_PHOTOS_PER_CLASS`).
pub const MIN_PHOTOS: usize = 2;
/// Longest class name typed in (a head file allows 200 characters).
pub const MAX_NAME_CHARS: usize = 60;
/// Training steps of one run by default (the CLI's `finetune` default).
pub const EPOCHS: usize = 100;
/// The epochs offered (full-batch steps; fine-tuning layer4 costs about a layer4 forward and
/// backward pass of every photo per epoch, so fewer keeps it short).
pub const EPOCH_CHOICES: [usize; 5] = [10, 30, EPOCHS, 300, 1000];
/// Photos one class takes (with 20 classes: 1000 photos, what the browser keeps at most).
pub const MAX_PHOTOS_PER_CLASS: usize = 50;

/// Features by model fingerprint.
pub type FeatureMap = BTreeMap<String, Rc<Vec<f32>>>;

#[derive(Debug, Clone, PartialEq)]
pub struct TeachPhoto {
    pub id: u32,
    pub name: String,
    /// `blob:` URL of the thumbnail.
    pub url: String,
    /// The engine has its features.
    pub ready: bool,
    /// Its features (or the photo) went to the engine for the current model.
    pub sent: bool,
    pub error: Option<String>,
    /// Its features for each model they were computed with (kept across reloads).
    pub features: FeatureMap,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ClassState {
    pub name: String,
    pub photos: Vec<TeachPhoto>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TeachState {
    pub classes: Vec<ClassState>,
    /// Above every photo id seen (the page hands ids out from its own counter).
    pub next_photo_id: u32,
    pub training: Option<Training>,
    /// The classes of the head the engine uses (trained or imported).
    pub head: Option<Vec<String>>,
    /// Why the last class name was refused, or an import/export problem.
    pub message: Option<String>,
    /// Feature time of each photo, in ms (for the "features per photo" line); its length is
    /// how many photos' features the engine computed in this page's life.
    pub feature_ms: Vec<f64>,
    /// The loaded model's fingerprint (`None` while none is ready).
    pub fingerprint: Option<String>,
    /// The browser's kept classes have been read (saving starts only then).
    pub restored: bool,
    /// What came back from the browser's copy, or why it was ignored (apart from `message`,
    /// which the head kept for these weights reports on at about the same time).
    pub kept_message: Option<String>,
}

impl Default for TeachState {
    fn default() -> Self {
        Self {
            classes: Vec::new(),
            next_photo_id: 1,
            training: None,
            head: None,
            message: None,
            feature_ms: Vec::new(),
            fingerprint: None,
            restored: false,
            kept_message: None,
        }
    }
}

pub enum TeachAction {
    AddClass(String),
    /// A class's new name (checked as a new class's name is).
    RenameClass {
        from: String,
        to: String,
    },
    DeleteClass(String),
    /// Photos for a class, each with the id the page sent its features request under.
    AddPhotos {
        class: String,
        photos: Vec<(u32, NewPhoto)>,
    },
    RemovePhoto(u32),
    /// These photos (or their kept features) were sent to the engine.
    Sent(Vec<u32>),
    /// What the browser kept (see `teach_kept`); `problem`: why it could not be read.
    Restore {
        record: Option<String>,
        photos: Vec<(u32, String)>,
        features: Vec<KeptFeatures>,
        problem: Option<String>,
    },
    /// Forget every class and photo (the browser's copy too).
    Forget,
    /// A remark (a photo refused by the page, storage full).
    Message(String),
    /// Training was asked for: `epochs` steps, `augment` augmented views per training photo.
    TrainRequested {
        epochs: usize,
        augment: usize,
    },
}

/// Checks a typed class name against the existing classes; the trimmed name when fine.
pub fn validate_class_name(classes: &[ClassState], name: &str) -> Result<String, String> {
    let name = name.trim();
    if name.is_empty() {
        return Err("Type a name for the class.".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(format!(
            "A class name has at most {MAX_NAME_CHARS} characters."
        ));
    }
    if classes.iter().any(|c| c.name == name) {
        return Err(format!("There is already a class `{name}`."));
    }
    if classes.len() >= MAX_CLASSES {
        return Err(format!("At most {MAX_CLASSES} classes."));
    }
    Ok(name.to_owned())
}

/// Checks a class's new name against the other classes; the trimmed name when fine.
pub fn validate_rename(classes: &[ClassState], from: &str, to: &str) -> Result<String, String> {
    let others: Vec<ClassState> = classes.iter().filter(|c| c.name != from).cloned().collect();
    validate_class_name(&others, to)
}

impl TeachState {
    pub fn running(&self) -> bool {
        self.training
            .as_ref()
            .is_some_and(|t| t.state == TrainState::Running)
    }

    /// Why training cannot start now, or `None` when it can.
    pub fn blocker(&self) -> Option<String> {
        if self.running() {
            return Some("Training…".into());
        }
        if self.fingerprint.is_none() {
            return Some("Waiting for the model…".into());
        }
        if self.classes.len() < MIN_CLASSES {
            return Some(format!("Make at least {MIN_CLASSES} classes."));
        }
        if let Some(c) = self.classes.iter().find(|c| c.photos.len() < MIN_PHOTOS) {
            return Some(format!("`{}` needs at least {MIN_PHOTOS} photos.", c.name));
        }
        if let Some(p) = self
            .classes
            .iter()
            .flat_map(|c| &c.photos)
            .find(|p| p.error.is_some())
        {
            return Some(format!("Remove {}: it could not be read.", p.name));
        }
        if self
            .classes
            .iter()
            .flat_map(|c| &c.photos)
            .any(|p| !p.ready)
        {
            return Some("Computing the photos' features…".into());
        }
        None
    }

    /// The classes as the engine's training request lists them.
    pub fn request_classes(&self) -> Vec<TeachClass> {
        self.classes
            .iter()
            .map(|c| TeachClass {
                name: c.name.clone(),
                photos: c.photos.iter().map(|p| p.id).collect(),
            })
            .collect()
    }

    fn photo_mut(&mut self, id: u32) -> Option<&mut TeachPhoto> {
        self.classes
            .iter_mut()
            .flat_map(|c| &mut c.photos)
            .find(|p| p.id == id)
    }

    pub fn apply(&mut self, action: TeachAction) {
        match action {
            TeachAction::AddClass(name) => match validate_class_name(&self.classes, &name) {
                Ok(name) => {
                    self.classes.push(ClassState {
                        name,
                        photos: Vec::new(),
                    });
                    self.message = None;
                }
                Err(why) => self.message = Some(why),
            },
            TeachAction::RenameClass { from, to } => {
                match validate_rename(&self.classes, &from, &to) {
                    Ok(to) => {
                        if let Some(c) = self.classes.iter_mut().find(|c| c.name == from) {
                            c.name = to;
                        }
                        self.message = None;
                    }
                    Err(why) => self.message = Some(why),
                }
            }
            TeachAction::DeleteClass(name) => self.classes.retain(|c| c.name != name),
            TeachAction::AddPhotos { class, photos } => {
                if let Some(last) = photos.iter().map(|(id, _)| *id).max() {
                    self.next_photo_id = self.next_photo_id.max(last + 1);
                }
                if let Some(c) = self.classes.iter_mut().find(|c| c.name == class) {
                    let room = MAX_PHOTOS_PER_CLASS.saturating_sub(c.photos.len());
                    if photos.len() > room {
                        self.message = Some(format!(
                            "A class takes at most {MAX_PHOTOS_PER_CLASS} photos: {} of them were left out.",
                            photos.len() - room
                        ));
                    }
                    for (id, new) in photos.into_iter().take(room) {
                        c.photos.push(TeachPhoto::new(id, new.name, new.url));
                    }
                }
            }
            TeachAction::RemovePhoto(id) => {
                for c in &mut self.classes {
                    c.photos.retain(|p| p.id != id);
                }
            }
            TeachAction::Sent(ids) => {
                for p in self.photos_mut().filter(|p| ids.contains(&p.id)) {
                    p.sent = true;
                }
            }
            TeachAction::Restore {
                record,
                photos,
                features,
                problem,
            } => self.restore(record, photos, features, problem),
            TeachAction::Forget => {
                self.classes.clear();
                self.message = Some("Forgot every class and photo.".into());
            }
            TeachAction::Message(message) => self.message = Some(message),
            TeachAction::TrainRequested { epochs, augment } => {
                self.training = Some(Training::started(epochs, augment));
            }
        }
    }

    /// An engine answer about teach mode.
    pub fn respond(&mut self, response: TeachResponse) {
        match response {
            TeachResponse::Features {
                photo,
                error,
                ms,
                features,
            } => {
                if features.is_some() {
                    self.feature_ms.push(ms);
                }
                let current = self.fingerprint.clone();
                let Some(p) = self.photo_mut(photo) else {
                    return;
                };
                if let Some(f) = features {
                    p.keep_features(f.fingerprint, f.values, current.as_deref());
                }
                let restored = current.as_ref().is_some_and(|f| p.features.contains_key(f));
                match error {
                    // Kept features the engine refused (damaged, other weights): computed anew.
                    Some(_) if restored => {
                        if let Some(f) = &current {
                            p.features.remove(f);
                        }
                        p.sent = false;
                    }
                    error => {
                        p.ready = error.is_none();
                        p.error = error;
                    }
                }
            }
            TeachResponse::Augmenting { .. }
            | TeachResponse::Epoch { .. }
            | TeachResponse::TrainError { .. } => {
                if let Some(t) = self.training.as_mut() {
                    t.respond(response);
                }
            }
            TeachResponse::Trained { ref classes, .. } => {
                self.head = Some(classes.clone());
                if let Some(t) = self.training.as_mut() {
                    t.respond(response);
                }
            }
            // The page saves the file as it arrives (ui/client.rs).
            TeachResponse::Exported { .. } => self.message = None,
            TeachResponse::Imported { classes, name } => {
                self.message = Some(format!(
                    "Imported {name}: {} classes ({}).",
                    classes.len(),
                    classes.join(", ")
                ));
                self.head = Some(classes);
            }
            TeachResponse::HeadError { message } => self.message = Some(message),
        }
    }
}
