//! The Lab's lesion study on the loaded network (Veit, Wilber & Belongie 2016), on the core's
//! `lab::lesion`, as `resnet-lab lesion [--random-k K --draws N --seed S]` runs it.
//!
//! It runs in steps like the long runs of [`super::lab_runs`]: the first decodes the photos
//! and classifies them with the intact network, then each step computes one altered network
//! (one block deleted, or one random draw) in the core's `plan` order and reports it at once.
//! Between steps photos are classified and Stop is seen.

use std::rc::Rc;

use js_sys::Array;
use resnet_lab_core::Classifier;
use resnet_lab_core::lab::lesion::{
    Lesion, LesionBatch, LesionStudy, LesionTask, RandomPlan, plan,
};
use resnet_lab_core::labels::LabelSet;
use resnet_lab_core::model::config::BlockInfo;
use resnet_lab_core::predict::top_predictions;
use resnet_lab_protocol::lab::{
    LesionBlock, LesionDraw, LesionIntact, LesionOutcome, LesionReport, LesionStep,
    MAX_LESION_PHOTOS, PlainLesions, RandomCurve, RandomSettings,
};
use resnet_lab_protocol::lab_runs::LabResponse;
use resnet_lab_protocol::{LabPhoto, PredictionRow, Response};
use wasm_bindgen::{JsCast, JsValue};

use super::engine::Engine;
use super::js::now;
use super::lab_runs::After;
use crate::error::{EngineError, Result};

/// Classes listed per photo and network in the report (as the CLI's default `--top`).
const TOP: usize = 5;

/// A study between two steps.
pub(super) struct LesionRun {
    id: u32,
    /// The network studied: a study ends when another model is loaded.
    classifier: Rc<Classifier>,
    study: LesionStudy,
    batch: LesionBatch,
    blocks: Vec<BlockInfo>,
    tasks: Vec<LesionTask>,
    next: usize,
}

impl Engine {
    /// Decodes the photos, classifies them with the intact network and reports that; the
    /// altered networks follow in steps.
    pub(super) async fn lesion_start(
        &self,
        id: u32,
        photos: Vec<LabPhoto>,
        random: Option<RandomSettings>,
        payload: Option<JsValue>,
    ) -> Result<After> {
        // A new study replaces the one before, finished or not.
        self.lab_runs.lesion.borrow_mut().take();
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
        if let Some(reason) = random.as_ref().and_then(RandomSettings::refusal) {
            return Err(EngineError::Unavailable(reason));
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
        let blocks = study.config().blocks();
        // k stops at the network's number of blocks (8 for ResNet-18, 16 for ResNet-50).
        let random_sets = match random {
            Some(r) => RandomPlan {
                max_k: r.max_k.min(blocks.len()),
                draws: r.draws,
                seed: r.seed,
            }
            .deletion_sets(blocks.len())?,
            None => Vec::new(),
        };
        let tasks = plan(blocks.len(), &random_sets);
        let t0 = now();
        let batch = study.start_batch(&images, [224, 224]).await?;
        let study_ms = now() - t0;
        if self.device_lost() {
            return Err(EngineError::DeviceLost);
        }
        let report = LesionReport {
            model: classifier.info.name(),
            images: photos.into_iter().map(|p| p.name).collect(),
            intact: LesionIntact {
                top: top(batch.intact(), study.labels()),
            },
            blocks: Vec::new(),
            plain: PlainLesions {
                intact: None,
                blocks: Vec::new(),
            },
            backend,
            study_ms,
            random_k: random.map(|r| RandomCurve {
                seed: r.seed,
                draws: r.draws,
                curve: Vec::new(),
            }),
        };
        self.outbox.post(&Response::Lab(LabResponse::LesionStarted {
            id,
            report: Box::new(report),
            steps: tasks.len(),
        }));
        let after = if tasks.is_empty() {
            After::Finished { stopped: false }
        } else {
            After::Continue
        };
        *self.lab_runs.lesion.borrow_mut() = Some(LesionRun {
            id,
            classifier,
            study,
            batch,
            blocks,
            tasks,
            next: 0,
        });
        Ok(after)
    }

    /// The next altered network of study `id`.
    pub(super) async fn lesion_step(&self, id: u32) -> Result<After> {
        // Out of its cell while it works; dropped (with its activations) once it ends.
        let Some(mut run) = self.lab_runs.lesion.borrow_mut().take() else {
            return Ok(After::Finished { stopped: true });
        };
        if run.id != id {
            // A newer study replaced this one.
            *self.lab_runs.lesion.borrow_mut() = Some(run);
            return Ok(After::Finished { stopped: true });
        }
        if self.lab_runs.is_stopped(id) {
            return Ok(After::Finished { stopped: true });
        }
        let same_model = self
            .classifier
            .borrow()
            .as_ref()
            .is_some_and(|c| Rc::ptr_eq(c, &run.classifier));
        if !same_model {
            return Err(EngineError::Unavailable(
                "another model was loaded during the study: run it again".into(),
            ));
        }
        let Some(task) = run.tasks.get(run.next).cloned() else {
            return Ok(After::Finished { stopped: false });
        };
        let t0 = now();
        let lesion = run.study.lesion(&mut run.batch, &task).await?;
        let ms = now() - t0;
        let step = step_of(&task, &lesion, &run.blocks, run.study.labels());
        self.outbox.post(&Response::Lab(LabResponse::LesionStep {
            id,
            step: Box::new(step),
            ms,
        }));
        run.next += 1;
        if run.next == run.tasks.len() {
            return Ok(After::Finished { stopped: false });
        }
        *self.lab_runs.lesion.borrow_mut() = Some(run);
        Ok(After::Continue)
    }
}

/// What the page is told about one altered network.
fn step_of(
    task: &LesionTask,
    lesion: &Lesion,
    blocks: &[BlockInfo],
    labels: &LabelSet,
) -> LesionStep {
    let name = |b: usize| {
        blocks
            .get(b)
            .map_or_else(|| b.to_string(), |i| i.name.clone())
    };
    match task {
        LesionTask::Single { plain, block } => {
            let info = blocks.get(*block);
            LesionStep::Block {
                plain: *plain,
                block: LesionBlock {
                    block: name(*block),
                    stage: info.map_or(0, |i| i.stage),
                    stride: info.map_or(1, |i| i.stride),
                    downsample: info.is_some_and(|i| i.projection),
                    outcome: outcome(lesion, labels),
                },
            }
        }
        LesionTask::PlainIntact => LesionStep::PlainIntact {
            outcome: outcome(lesion, labels),
        },
        LesionTask::Random { k, deleted, .. } => LesionStep::Random {
            k: *k,
            draw: LesionDraw {
                blocks: deleted.iter().map(|&b| name(b)).collect(),
                top1_unchanged: lesion.top1_unchanged,
                mean_prob: lesion.mean_prob,
            },
        },
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
