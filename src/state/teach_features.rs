//! Teach mode's features on the page's side: which photos go to the engine when a model is
//! ready (their kept features for these weights, else the photo to compute them from), and
//! the features each photo keeps per model.

use std::rc::Rc;

use super::teach::{FeatureMap, TeachPhoto, TeachState};

/// Models whose features a photo keeps (switching back and forth costs no recomputation).
pub const MAX_MODELS_PER_PHOTO: usize = 3;

/// What the page sends the engine for a photo once a model is ready.
#[derive(Debug, Clone, PartialEq)]
pub enum FeatureSend {
    /// Features kept for this model: the engine checks and takes them, no recomputation.
    Restore {
        photo: u32,
        fingerprint: String,
        features: Rc<Vec<f32>>,
    },
    /// The photo itself, for the engine to compute its features.
    Compute { photo: u32 },
}

impl TeachState {
    /// A model is ready: every photo's features are sent again (kept ones for these weights
    /// as they are, the others computed).
    pub fn model_ready(&mut self, fingerprint: Option<String>) {
        self.fingerprint = Some(fingerprint.unwrap_or_default());
        for p in self.photos_mut() {
            p.ready = false;
            p.sent = false;
            p.error = None;
        }
    }

    /// The model is (re)loading, or the engine restarting: no photo has features there.
    pub fn model_gone(&mut self) {
        self.fingerprint = None;
        for p in self.photos_mut() {
            p.ready = false;
            p.sent = false;
        }
    }

    /// What to send the engine now: each photo not sent for the ready model, as its kept
    /// features for these weights or, without them, the photo.
    pub fn to_send(&self) -> Vec<FeatureSend> {
        let Some(fingerprint) = &self.fingerprint else {
            return Vec::new();
        };
        self.classes
            .iter()
            .flat_map(|c| &c.photos)
            .filter(|p| !p.sent)
            .map(|p| match p.features.get(fingerprint) {
                Some(f) => FeatureSend::Restore {
                    photo: p.id,
                    fingerprint: fingerprint.clone(),
                    features: f.clone(),
                },
                None => FeatureSend::Compute { photo: p.id },
            })
            .collect()
    }

    pub(super) fn photos_mut(&mut self) -> impl Iterator<Item = &mut TeachPhoto> {
        self.classes.iter_mut().flat_map(|c| &mut c.photos)
    }
}

impl TeachPhoto {
    pub fn new(id: u32, name: String, url: String) -> Self {
        Self {
            id,
            name,
            url,
            ready: false,
            sent: false,
            error: None,
            features: FeatureMap::new(),
        }
    }

    /// Keeps features for `fingerprint`, dropping other models' (not `current`'s) beyond the
    /// bound.
    pub fn keep_features(&mut self, fingerprint: String, values: Vec<f32>, current: Option<&str>) {
        self.features.insert(fingerprint, Rc::new(values));
        while self.features.len() > MAX_MODELS_PER_PHOTO {
            let Some(other) = self
                .features
                .keys()
                .find(|k| Some(k.as_str()) != current)
                .cloned()
            else {
                break;
            };
            self.features.remove(&other);
        }
    }
}
