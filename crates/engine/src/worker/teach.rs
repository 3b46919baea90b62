//! Teach mode in the worker: each class photo's frozen features (computed once per photo and
//! model), training the core's linear head on them with a live curve and Stop, the head's
//! file (export, import), and the head's classes beside ImageNet's for every classified photo.
//! The training itself is `resnet_lab_core::transfer`, as the CLI's `finetune` runs it.
//! The last head of each backbone is kept in Cache Storage and comes back after a reload
//! ([`super::teach_storage`]); the training run is [`super::teach_train`], fine-tuning layer4
//! with the head [`super::teach_layer4`], augmented views [`super::teach_augment`].

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use resnet_lab_core::predict::{mean_softmax, rank};
use resnet_lab_core::preprocess::{PixelBuffer, normalize_crop, resize_and_crop};
use resnet_lab_core::transfer::{BackboneId, LinearHead};
use resnet_lab_protocol::teach::PhotoFeatures;
use resnet_lab_protocol::{PredictionRow, TeachRequest, TeachResponse};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::engine::Engine;
use super::image::decode_in_browser;
use super::js::{now, scope};
use super::teach_augment::ViewCache;
use super::teach_layer4::Layer4State;
use super::teach_storage::saved_head;
use crate::error::{EngineError, Result};

/// Photos whose features are kept (2048 floats each for ResNet-50: 8 KB).
const MAX_TEACH_PHOTOS: usize = 2000;
/// Training steps asked for are clamped to this.
pub(super) const MAX_EPOCHS: usize = 10_000;
/// A photo's pooled features and the fingerprint of the weights that computed them.
type CachedFeatures = (String, Rc<Vec<f32>>);

/// Teach mode's part of the engine state.
#[derive(Default)]
pub struct TeachState {
    /// The loaded model's identity (heads are only used on the backbone they were made for).
    backbone: RefCell<Option<BackboneId>>,
    /// Features by teach-photo id, for the model fingerprint they were computed with.
    pub(super) features: RefCell<HashMap<u32, CachedFeatures>>,
    pub(super) head: RefCell<Option<LinearHead>>,
    pub(super) stop: Cell<bool>,
    /// Layer3 outputs of the photos and the head's fine-tuned layer4.
    pub(super) layer4: Layer4State,
    /// Augmented views' features of the photos.
    pub(super) views: ViewCache,
}

impl TeachState {
    /// A model was loaded: features of other weights no longer apply, nor does their head.
    pub fn model_loaded(&self, backbone: Option<BackboneId>) {
        let fingerprint = backbone.as_ref().map(|b| b.fingerprint.clone());
        self.features
            .borrow_mut()
            .retain(|_, (f, _)| fingerprint.as_deref() == Some(f.as_str()));
        self.layer4.model_loaded(fingerprint.as_deref());
        self.views.model_loaded(fingerprint.as_deref());
        let mut head = self.head.borrow_mut();
        // A fine-tuned layer4 runs on the network's device: it is rebuilt from the kept head
        // (`restore_head`) once the new network is ready.
        if let (Some(h), Some(b)) = (head.as_ref(), backbone.as_ref())
            && (h.check_backbone(b).is_err() || h.layer4.is_some())
        {
            *head = None;
        }
        *self.backbone.borrow_mut() = backbone;
    }

    /// Called as a teach request arrives, before it is queued; `true` when it was handled
    /// here. Stop acts at once (the training loop sees it after its current epoch); a new
    /// training clears it on arrival, so a Stop sent just after Train stops that training
    /// even if it has not started yet.
    pub fn on_arrival(&self, request: &TeachRequest) -> bool {
        match request {
            TeachRequest::Stop => {
                self.stop.set(true);
                true
            }
            TeachRequest::Train { .. } => {
                self.stop.set(false);
                false
            }
            _ => false,
        }
    }

    /// A copy of the head in use for the gradient panel (without a fine-tuned layer4: the
    /// analysis runs the network's own, so such a head is refused, before it is copied).
    pub(super) fn explained_head(&self) -> Result<LinearHead> {
        let head = self.head.borrow();
        let head = head.as_ref().ok_or_else(|| {
            EngineError::Unavailable(
                "no head for your own classes is in use: train or import one first".into(),
            )
        })?;
        if head.layer4.is_some() {
            return Err(EngineError::Unavailable(
                "this head fine-tuned layer4: the gradient panel explains heads on the frozen \
                 backbone only"
                    .into(),
            ));
        }
        Ok(head.clone())
    }

    /// Stop was asked for since the training started.
    pub(super) fn stop_requested(&self) -> bool {
        self.stop.get()
    }

    pub fn has_head(&self) -> bool {
        self.head.borrow().is_some()
    }

    /// The head's classes for one photo, most likely first, from its views' pooled features
    /// (the mean of the views' softmax outputs).
    pub fn custom_predictions(&self, views: &[Vec<f32>]) -> Result<Vec<PredictionRow>> {
        let head = self.head.borrow();
        let Some(head) = head.as_ref() else {
            return Ok(Vec::new());
        };
        let logits = views
            .iter()
            .map(|features| head.logits(features))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        let probs = mean_softmax(&logits);
        Ok(rank(&probs, probs.len(), |i| head.classes[i].clone())
            .into_iter()
            .map(|p| PredictionRow {
                index: p.index,
                label: p.label,
                prob: p.prob,
            })
            .collect())
    }
}

/// Lets the worker's event loop run (so a Stop message is seen between epochs).
pub(super) async fn yield_to_event_loop() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback(&resolve);
    });
    let _ = JsFuture::from(promise).await;
}

impl Engine {
    /// After a model load: the head kept in this browser for these weights comes back into
    /// use (announced as an import), unless a head for them is already in use.
    pub(super) async fn restore_head(&self) {
        let Ok(backbone) = self.backbone_id() else {
            return;
        };
        if self.teach.has_head() {
            return;
        }
        if let Some(head) = saved_head(&backbone).await {
            let classes = head.classes.clone();
            if self.use_head(head).is_err() {
                return;
            }
            self.outbox.post(&resnet_lab_protocol::Response::Teach(
                TeachResponse::Imported {
                    classes,
                    name: "the head kept in this browser".into(),
                },
            ));
        }
    }

    /// Runs one teach request; its answers (several while training) go out from here.
    pub(super) async fn teach(&self, request: TeachRequest, payload: Option<JsValue>) {
        let response = match request {
            TeachRequest::Features { photo } => {
                let t0 = now();
                let (features, error) = match self.teach_features(photo, payload).await {
                    Ok(f) => (Some(f), None),
                    Err(e) => (None, Some(e.to_string())),
                };
                TeachResponse::Features {
                    photo,
                    error,
                    ms: now() - t0,
                    features,
                }
            }
            TeachRequest::Restore {
                photo,
                fingerprint,
                features,
            } => TeachResponse::Features {
                photo,
                error: self
                    .restore_features(photo, &fingerprint, features)
                    .err()
                    .map(|e| e.to_string()),
                ms: 0.0,
                features: None,
            },
            TeachRequest::Train {
                classes,
                epochs,
                layer4,
                augment,
            } => match self.train(&classes, epochs, layer4, augment, payload).await {
                Ok(done) => done,
                Err(e) => TeachResponse::TrainError {
                    message: e.to_string(),
                },
            },
            // Handled on arrival (see `Engine::enqueue`); a queued one has nothing left to stop.
            TeachRequest::Stop => return,
            TeachRequest::Export => match self.teach.head.borrow().as_ref() {
                Some(head) => match head.to_safetensors() {
                    Ok(bytes) => TeachResponse::Exported {
                        bytes,
                        file_name: "resnet-lab-head.safetensors".into(),
                    },
                    Err(e) => TeachResponse::HeadError {
                        message: e.to_string(),
                    },
                },
                None => TeachResponse::HeadError {
                    message: "there is no head to export yet: train one first".into(),
                },
            },
            TeachRequest::Import { name } => match self.import_head(payload).await {
                Ok(classes) => TeachResponse::Imported { classes, name },
                Err(e) => TeachResponse::HeadError {
                    message: format!("{name}: {e}"),
                },
            },
        };
        self.outbox
            .post(&resnet_lab_protocol::Response::Teach(response));
    }

    /// Features the page kept: taken only for the loaded weights, at their width, all finite
    /// (what comes back from the browser's storage may be damaged or from other weights).
    fn restore_features(&self, photo: u32, fingerprint: &str, values: Vec<f32>) -> Result<()> {
        let backbone = self.backbone_id()?;
        let refuse = |why: &str| Err(EngineError::Unavailable(format!("kept features {why}")));
        if fingerprint != backbone.fingerprint {
            return refuse("belong to other weights");
        }
        if values.len() != backbone.feature_width || values.iter().any(|v| !v.is_finite()) {
            return refuse("are damaged");
        }
        self.check_room(photo)?;
        self.teach
            .features
            .borrow_mut()
            .insert(photo, (backbone.fingerprint, Rc::new(values)));
        Ok(())
    }

    fn check_room(&self, photo: u32) -> Result<()> {
        let features = self.teach.features.borrow();
        if features.len() >= MAX_TEACH_PHOTOS && !features.contains_key(&photo) {
            return Err(EngineError::Unavailable(format!(
                "at most {MAX_TEACH_PHOTOS} photos can be taught at once"
            )));
        }
        Ok(())
    }

    /// The photo's features (computed unless already there), for the page to keep.
    async fn teach_features(&self, photo: u32, payload: Option<JsValue>) -> Result<PhotoFeatures> {
        let blob: web_sys::Blob = payload
            .and_then(|p| p.dyn_into().ok())
            .ok_or_else(|| EngineError::Unavailable("no file was received".into()))?;
        let classifier = self.loaded_classifier()?;
        let fingerprint = self.backbone_id()?.fingerprint;
        if let Some((f, row)) = self.teach.features.borrow().get(&photo)
            && *f == fingerprint
        {
            return Ok(PhotoFeatures {
                fingerprint,
                values: row.as_ref().clone(),
            });
        }
        self.check_room(photo)?;
        let image = decode_in_browser(&blob).await?;
        let buffer = PixelBuffer::new(image.width, image.height, 4, &image.pixels)?;
        let crop = resize_and_crop(&buffer)?;
        drop(image);
        let input = normalize_crop(&crop, classifier.info.input);
        let batch = classifier.input_batch(&[input], 224, 224)?;
        let row = self
            .photo_features(&classifier, batch, photo, &fingerprint)
            .await?;
        if row.iter().any(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteOutput);
        }
        let values = Rc::new(row);
        self.teach
            .features
            .borrow_mut()
            .insert(photo, (fingerprint.clone(), values.clone()));
        Ok(PhotoFeatures {
            fingerprint,
            values: values.as_ref().clone(),
        })
    }

    pub(super) fn backbone_id(&self) -> Result<BackboneId> {
        self.teach
            .backbone
            .borrow()
            .clone()
            .ok_or_else(|| EngineError::Unavailable("no model is loaded".into()))
    }
}
