//! The Lab section's experiments on the loaded network: the lesion study (Veit, Wilber &
//! Belongie 2016), on the core's `lab::lesion`, as `resnet-lab lesion` runs it.

use js_sys::Array;
use resnet_lab_core::lab::lesion::{Lesion, LesionStudy};
use resnet_lab_core::labels::LabelSet;
use resnet_lab_core::predict::top_predictions;
use resnet_lab_protocol::lab::{
    LesionBlock, LesionIntact, LesionOutcome, LesionReport, MAX_LESION_PHOTOS, PlainLesions,
};
use resnet_lab_protocol::{LabPhoto, PredictionRow};
use wasm_bindgen::{JsCast, JsValue};

use super::engine::Engine;
use super::js::now;
use crate::error::{EngineError, Result};

/// Classes listed per photo and network in the report (as the CLI's default `--top`).
const TOP: usize = 5;

impl Engine {
    /// Deletes each block of the loaded network alone, residual and plain, and compares how
    /// the photos are classified with the intact network.
    pub(super) async fn lesion(
        &self,
        photos: Vec<LabPhoto>,
        payload: Option<JsValue>,
    ) -> Result<LesionReport> {
        if photos.is_empty() {
            return Err(EngineError::Unavailable(
                "no photos: add photos to run the lesion study on".into(),
            ));
        }
        if photos.len() > MAX_LESION_PHOTOS {
            return Err(EngineError::Unavailable(format!(
                "the lesion study runs on at most {MAX_LESION_PHOTOS} photos, not {}",
                photos.len()
            )));
        }
        let classifier = self.loaded_classifier()?;
        let backend = self.backend_kind();
        // The photos' files, in the order of `photos` (used only for crops no longer kept).
        let files: Option<Array> = payload.and_then(|p| p.dyn_into().ok());
        let mut images = Vec::with_capacity(photos.len());
        for (i, photo) in photos.iter().enumerate() {
            let file = files.as_ref().map(|f| f.get(i as u32));
            let crop = self.crop_of(photo.id, file).await?;
            images.push(resnet_lab_core::preprocess::normalize_crop(
                &crop,
                classifier.info.input,
            ));
        }
        let study = LesionStudy::from_classifier(&classifier);
        let t0 = now();
        let report = study.run(&images, [224, 224], None).await?;
        let study_ms = now() - t0;
        if self.device_lost() {
            return Err(EngineError::DeviceLost);
        }
        let labels = study.labels();
        let blocks = |lesions: &[Lesion]| -> Vec<LesionBlock> {
            report
                .blocks
                .iter()
                .zip(lesions)
                .map(|(info, lesion)| LesionBlock {
                    block: info.name.clone(),
                    stage: info.stage,
                    stride: info.stride,
                    downsample: info.projection,
                    outcome: outcome(lesion, labels),
                })
                .collect()
        };
        Ok(LesionReport {
            model: report.model.clone(),
            images: photos.into_iter().map(|p| p.name).collect(),
            intact: LesionIntact {
                top: top(&report.intact, labels),
            },
            blocks: blocks(&report.single),
            plain: PlainLesions {
                intact: outcome(&report.plain_intact, labels),
                blocks: blocks(&report.plain_single),
            },
            backend,
            study_ms,
        })
    }
}

fn outcome(lesion: &Lesion, labels: &LabelSet) -> LesionOutcome {
    LesionOutcome {
        top1_unchanged: lesion.top1_unchanged,
        mean_prob: lesion.mean_prob,
        top: top(&lesion.logits, labels),
    }
}

fn top(logits: &[Vec<f32>], labels: &LabelSet) -> Vec<Vec<PredictionRow>> {
    logits
        .iter()
        .map(|row| {
            top_predictions(row, labels, TOP)
                .into_iter()
                .map(|p| PredictionRow {
                    index: p.index,
                    label: p.label,
                    prob: p.prob,
                })
                .collect()
        })
        .collect()
}
