//! Teach mode's augmentation: K flipped random crops of each training photo's 256 resize
//! (the core's `preprocess::augment`, as `resnet-lab finetune --augment K` draws them), their
//! pooled features computed in one batch per photo before training, with progress and Stop,
//! and kept per photo and model so that training again costs no recomputation.
//!
//! Held-out photos get no views (they are judged on their centre crop alone); with
//! leave-one-out the core keeps each photo's views out of the head that judges it.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use resnet_lab_core::preprocess::PixelBuffer;
use resnet_lab_core::preprocess::augment::{augmented_views, photo_seed};
use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::{MAX_PAGE_AUGMENT, TeachClass};
use wasm_bindgen::{JsCast, JsValue};

use super::engine::Engine;
use super::image::decode_in_browser;
use crate::error::{EngineError, Result};

/// The run seed the views of every photo derive from (the photo id picks its stream), so a
/// photo's k-th view is the same in every training.
const AUGMENT_SEED: u64 = 0x7eac;

/// A photo's augmented views' features (the first `len()` of its seeded views), for the
/// weights with `fingerprint`.
struct PhotoViews {
    fingerprint: String,
    rows: Vec<Rc<Vec<f32>>>,
}

/// The views computed so far, by teach-photo id.
#[derive(Default)]
pub struct ViewCache {
    views: RefCell<HashMap<u32, PhotoViews>>,
}

impl ViewCache {
    /// Other weights were loaded: their views no longer apply.
    pub fn model_loaded(&self, fingerprint: Option<&str>) {
        self.views
            .borrow_mut()
            .retain(|_, v| Some(v.fingerprint.as_str()) == fingerprint);
    }

    /// The first `count` views of `photo` for `fingerprint`, when that many are kept.
    fn get(&self, photo: u32, fingerprint: &str, count: usize) -> Option<Vec<Rc<Vec<f32>>>> {
        let views = self.views.borrow();
        let kept = views.get(&photo)?;
        (kept.fingerprint == fingerprint && kept.rows.len() >= count)
            .then(|| kept.rows[..count].to_vec())
    }
}

/// The photos' files as the page sent them beside a training request: one `Blob` per photo
/// of the classes, in their order.
fn photo_files(payload: Option<JsValue>, expected: usize) -> Result<Vec<web_sys::Blob>> {
    let missing = || EngineError::Unavailable("the photos' files did not arrive".into());
    let array: js_sys::Array = payload
        .and_then(|p| p.dyn_into().ok())
        .ok_or_else(missing)?;
    if array.length() as usize != expected {
        return Err(EngineError::Unavailable(format!(
            "{} photo files arrived for {expected} photos",
            array.length()
        )));
    }
    array
        .iter()
        .map(|v| v.dyn_into::<web_sys::Blob>().map_err(|_| missing()))
        .collect()
}

impl Engine {
    /// The augmented training rows: `(photo index in the classes' order, features)` for
    /// `count` views of every photo not in `held_out` (sorted indices). Announces progress
    /// per photo; `Ok(None)` when Stop arrived meanwhile.
    pub(super) async fn augmented_rows(
        &self,
        classes: &[TeachClass],
        payload: Option<JsValue>,
        count: usize,
        held_out: &[usize],
    ) -> Result<Option<Vec<(usize, Vec<f32>)>>> {
        if count > MAX_PAGE_AUGMENT {
            return Err(EngineError::Unavailable(format!(
                "{count} augmented views per photo: at most {MAX_PAGE_AUGMENT} in the page"
            )));
        }
        let ids: Vec<u32> = classes.iter().flat_map(|c| c.photos.clone()).collect();
        let files = photo_files(payload, ids.len())?;
        let classifier = self.loaded_classifier()?;
        let fingerprint = self.backbone_id()?.fingerprint;
        let trained: Vec<usize> = (0..ids.len())
            .filter(|i| held_out.binary_search(i).is_err())
            .collect();
        let mut rows = Vec::with_capacity(trained.len() * count);
        for (done, &index) in trained.iter().enumerate() {
            self.outbox.post(&resnet_lab_protocol::Response::Teach(
                TeachResponse::Augmenting {
                    done,
                    total: trained.len(),
                },
            ));
            super::teach::yield_to_event_loop().await;
            if self.teach.stop_requested() {
                return Ok(None);
            }
            let photo = ids[index];
            let views = match self.teach.views.get(photo, &fingerprint, count) {
                Some(views) => views,
                None => {
                    let views = self
                        .compute_views(&classifier, photo, &files[index], count)
                        .await?;
                    self.teach.views.views.borrow_mut().insert(
                        photo,
                        PhotoViews {
                            fingerprint: fingerprint.clone(),
                            rows: views.clone(),
                        },
                    );
                    views
                }
            };
            rows.extend(views.iter().map(|v| (index, v.as_ref().clone())));
        }
        Ok(Some(rows))
    }

    /// The pooled features of `photo`'s first `count` views, in one batch.
    async fn compute_views(
        &self,
        classifier: &resnet_lab_core::Classifier,
        photo: u32,
        file: &web_sys::Blob,
        count: usize,
    ) -> Result<Vec<Rc<Vec<f32>>>> {
        let image = decode_in_browser(file).await?;
        let buffer = PixelBuffer::new(image.width, image.height, 4, &image.pixels)?;
        let seed = photo_seed(AUGMENT_SEED, photo.into());
        let views = augmented_views(&buffer, classifier.info.input, seed, count)?;
        drop(image);
        let inputs: Vec<Vec<f32>> = views.into_iter().map(|v| v.values).collect();
        let rows = classifier
            .features(classifier.input_batch(&inputs, 224, 224)?)
            .await?;
        if rows.iter().flatten().any(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteOutput);
        }
        Ok(rows.into_iter().map(Rc::new).collect())
    }
}
