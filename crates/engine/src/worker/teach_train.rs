//! Teach mode's training run in the worker: the photos' features (and, asked for, their
//! augmented views or their layer3 outputs for layer4) into the core's `transfer` training,
//! with the curve posted epoch by epoch and Stop seen between epochs; the trained head is
//! kept in Cache Storage and put to use.

use resnet_lab_core::transfer::{
    Layer4Job, TrainConfig, TrainingSet, Validation, held_out_photos, train_head_on,
    train_with_layer4_observed,
};
use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::{EpochPoint, TeachClass};
use wasm_bindgen::JsValue;

use super::engine::Engine;
use super::js::now;
use super::teach::{MAX_EPOCHS, yield_to_event_loop};
use super::teach_storage::save_head;
use crate::error::{EngineError, Result};

impl Engine {
    pub(super) async fn train(
        &self,
        classes: &[TeachClass],
        epochs: usize,
        layer4: bool,
        augment: usize,
        payload: Option<JsValue>,
    ) -> Result<TeachResponse> {
        if layer4 && augment > 0 {
            return Err(EngineError::Unavailable(
                "augmented views train the head alone: fine-tuning layer4 uses the photos' \
                 centre crops (untick one of the two)"
                    .into(),
            ));
        }
        let backbone = self.backbone_id()?;
        let mut features = Vec::new();
        let mut labels = Vec::new();
        let mut counts = Vec::new();
        {
            let cache = self.teach.features.borrow();
            for (label, class) in classes.iter().enumerate() {
                for id in &class.photos {
                    let row = cache
                        .get(id)
                        .filter(|(f, _)| *f == backbone.fingerprint)
                        .ok_or_else(|| {
                            EngineError::Unavailable(format!(
                                "a photo of `{}` has no features yet (wait until every photo is ready)",
                                class.name
                            ))
                        })?;
                    features.push(row.1.as_ref().clone());
                    labels.push(label);
                }
                counts.push(class.photos.len());
            }
        }
        let names: Vec<String> = classes.iter().map(|c| c.name.clone()).collect();
        let validation = match Validation::choose(0.2, &counts) {
            // One layer4 per photo would be needed: a split it is (a photo per class at least).
            Validation::LeaveOneOut if layer4 => Validation::Split(0.2),
            v => v,
        };
        let config = TrainConfig {
            epochs: epochs.clamp(1, MAX_EPOCHS),
            validation,
            ..TrainConfig::default()
        };
        let device = self
            .backend
            .borrow()
            .as_ref()
            .map(|b| b.device.clone())
            .ok_or_else(|| EngineError::Unavailable("no backend yet".into()))?;
        // Views of the training photos only: held-out photos are judged on their centre crop.
        let t0 = now();
        let augmented = if augment > 0 {
            let held_out = held_out_photos(&labels, classes.len(), validation, config.seed);
            self.augmented_rows(classes, payload, augment, &held_out)
                .await?
                .ok_or_else(|| {
                    EngineError::Unavailable(
                        "stopped while computing the augmented views: no head was trained".into(),
                    )
                })?
        } else {
            Vec::new()
        };
        let augment_ms = now() - t0;
        let total = config.epochs;
        let outbox = self.outbox;
        let stop = &self.teach.stop;
        let t0 = now();
        let on_epoch = |s: &resnet_lab_core::transfer::EpochStats| {
            outbox.post(&resnet_lab_protocol::Response::Teach(
                TeachResponse::Epoch {
                    point: EpochPoint {
                        epoch: s.epoch,
                        loss: s.loss,
                        train_accuracy: s.train_accuracy,
                        val_accuracy: s.val_accuracy,
                    },
                    epochs: total,
                },
            ));
            async move {
                yield_to_event_loop().await;
                !stop.get()
            }
        };
        let trained = if layer4 {
            let (inputs, stage, architecture) = self.layer4_parts(classes).await?;
            let job = Layer4Job {
                inputs: &inputs,
                labels: &labels,
                classes: names,
                backbone,
                stage: &stage,
                architecture: &architecture,
            };
            train_with_layer4_observed(job, &config, &device, on_epoch).await?
        } else {
            let set = TrainingSet {
                features: &features,
                labels: &labels,
                augmented: &augmented,
            };
            train_head_on(set, names, backbone, &config, &device, on_epoch).await?
        };
        let train_ms = now() - t0;
        let stopped = trained.epochs.len() < total;
        let validation = match trained.validation {
            Validation::None => "none",
            Validation::Split(_) => "split",
            Validation::LeaveOneOut => "leave_one_out",
        };
        let classes = trained.head.classes.clone();
        let train_rows = trained.train_rows;
        save_head(&trained.head).await;
        self.use_head(trained.head)?;
        Ok(TeachResponse::Trained {
            classes,
            validation: validation.into(),
            stopped,
            train_ms,
            train_rows,
            augment_ms,
        })
    }
}
