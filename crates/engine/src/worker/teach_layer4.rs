//! Teach mode's "also fine-tune the last stage (layer4)": each photo's layer3 output is kept
//! when its features are computed, the head and layer4 train together on those (the core's
//! `train_with_layer4_observed`, as `resnet-lab finetune --layer4`), and a head that carries a
//! fine-tuned layer4 runs it on every classified photo: its classes are computed from the
//! fine-tuned stage's features, ImageNet's top-5 from the network's own layer4.

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use burn::tensor::Tensor;
use resnet_lab_core::Classifier;
use resnet_lab_core::model::ResNetConfig;
use resnet_lab_core::predict::read_f32;
use resnet_lab_core::transfer::layer4::{
    LAST_STAGE, TrainableStage, copy_stage, pooled_from_stage_input, read_stage_inputs,
    stage_input_tensor,
};
use resnet_lab_core::transfer::{LinearHead, StageInputs};
use resnet_lab_core::weights::TensorSet;
use resnet_lab_protocol::teach::TeachClass;

use super::engine::Engine;
use super::weights::fetch_weights;
use crate::error::{EngineError, Result};

/// Photos whose layer3 output is kept (ResNet-50's is 1024×14×14 float32, 800 KB a photo;
/// ResNet-18's 200 KB): fine-tuning layer4 in the page takes at most this many.
pub const MAX_LAYER4_PHOTOS: usize = 200;

/// One photo's layer3 output, for the weights with `fingerprint`.
struct Layer3 {
    fingerprint: String,
    shape: [usize; 3],
    values: Rc<Vec<f32>>,
}

#[derive(Default)]
pub struct Layer4State {
    layer3: RefCell<HashMap<u32, Layer3>>,
    /// The fine-tuned layer4 of the head in use, on the network's device.
    stage: RefCell<Option<Rc<TrainableStage>>>,
}

impl Layer4State {
    /// Other weights were loaded: their layer3 outputs and layer4 no longer apply.
    pub fn model_loaded(&self, fingerprint: Option<&str>) {
        self.layer3
            .borrow_mut()
            .retain(|_, l| Some(l.fingerprint.as_str()) == fingerprint);
        self.stage.borrow_mut().take();
    }

    fn has_room(&self, photo: u32) -> bool {
        let kept = self.layer3.borrow();
        kept.len() < MAX_LAYER4_PHOTOS || kept.contains_key(&photo)
    }

    /// The fine-tuned layer4 in use, if any.
    pub fn stage(&self) -> Option<Rc<TrainableStage>> {
        self.stage.borrow().clone()
    }
}

fn has_layer4(config: &ResNetConfig) -> bool {
    config.stage_blocks.len() == LAST_STAGE + 1
}

impl Engine {
    /// A photo's pooled features; on the way, its layer3 output is kept (while there is room)
    /// for fine-tuning layer4.
    pub(super) async fn photo_features(
        &self,
        classifier: &Classifier,
        batch: Tensor<4>,
        photo: u32,
        fingerprint: &str,
    ) -> Result<Vec<f32>> {
        if !has_layer4(&classifier.info.config) {
            return Ok(classifier.features(batch).await?.pop().unwrap_or_default());
        }
        let x = stage_input_tensor(classifier, batch)?;
        if self.teach.layer4.has_room(photo) {
            let (mut rows, shape) = read_stage_inputs(x.clone()).await?;
            let layer3 = Layer3 {
                fingerprint: fingerprint.to_owned(),
                shape,
                values: Rc::new(rows.pop().unwrap_or_default()),
            };
            self.teach.layer4.layer3.borrow_mut().insert(photo, layer3);
        }
        Ok(read_f32(pooled_from_stage_input(classifier, x)).await?)
    }

    /// What fine-tuning layer4 needs besides the labels: the photos' layer3 outputs (in the
    /// order of `classes`), the network's layer4 before fine-tuning (read again from the
    /// cached weights: the network in use has BatchNorm folded) and the architecture.
    pub(super) async fn layer4_parts(
        &self,
        classes: &[TeachClass],
    ) -> Result<(StageInputs, TensorSet, ResNetConfig)> {
        let fingerprint = self.backbone_id()?.fingerprint;
        let mut inputs = StageInputs {
            rows: Vec::new(),
            shape: [0; 3],
        };
        let mut missing = 0;
        {
            let kept = self.teach.layer4.layer3.borrow();
            for id in classes.iter().flat_map(|c| &c.photos) {
                match kept.get(id).filter(|l| l.fingerprint == fingerprint) {
                    Some(l) => {
                        inputs.shape = l.shape;
                        inputs.rows.push(l.values.as_ref().clone());
                    }
                    None => missing += 1,
                }
            }
        }
        if missing > 0 {
            return Err(EngineError::Unavailable(format!(
                "{missing} photo(s) have no layer3 output to fine-tune layer4 on: the page keeps \
                 it for at most {MAX_LAYER4_PHOTOS} photos, from when their features were \
                 computed (not for photos restored from an earlier visit: add them again), \
                 and only for a network with a layer4; or train the head alone"
            )));
        }
        let source = self
            .source
            .borrow()
            .clone()
            .ok_or_else(|| EngineError::Unavailable("no model is loaded".into()))?;
        let weights = fetch_weights(&source, self.outbox).await?.weights;
        let stage = copy_stage(&weights.tensors, &weights.info.config)?;
        Ok((inputs, stage, weights.info.config))
    }

    /// Puts a head in use; a fine-tuned layer4 it carries is checked against the network and
    /// built on its device.
    pub(super) fn use_head(&self, head: LinearHead) -> Result<()> {
        let stage = match &head.layer4 {
            Some(tensors) => {
                let classifier = self.loaded_classifier()?;
                let config = &classifier.info.config;
                Some(Rc::new(TrainableStage::new(
                    tensors,
                    config,
                    &classifier.device,
                )?))
            }
            None => None,
        };
        *self.teach.layer4.stage.borrow_mut() = stage;
        *self.teach.head.borrow_mut() = Some(head);
        Ok(())
    }
}
