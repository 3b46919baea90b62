//! Classification of a photo and the gradient analysis, on the engine's state.

use std::rc::Rc;

use resnet_lab_core::Classifier;
use resnet_lab_core::gradflow::{
    BatchNormMode, GradFlowAnalyzer, GradFlowOptions, HeInitOptions, Target, analysis_input,
    he_initialized_weights_with,
};
use resnet_lab_core::predict::{mean_softmax, rank, read_f32, rows_of, upload_batch};
use resnet_lab_core::preprocess::views::preprocess_views;
use resnet_lab_core::preprocess::{
    CROP_SIZE, InputConvention, PixelBuffer, normalize_crop, resize_and_crop,
};
use resnet_lab_core::transfer::layer4::{pooled_from_stage_input, stage_input_tensor};
use resnet_lab_protocol::{
    BackendKind, BackendPreference, ClassRef, Crops, GradientNetwork, GradientReport,
    PredictionRow, Response, Timings,
};
use wasm_bindgen::{JsCast, JsValue};

use super::backend::ActiveBackend;
use super::engine::{Analysis, Engine, KeptTrace};
use super::image::decode_in_browser;
use super::js::now;
use super::weights::fetch_weights;
use crate::convert::gradient_report;
use crate::error::{EngineError, Result};

/// The gradient panel can explain any of the last this many photos (224×224×3 bytes each).
const KEPT_CROPS: usize = 32;

/// A classified photo, as the page shows it.
pub(super) struct Classified {
    pub top: Vec<PredictionRow>,
    pub timings: Timings,
    pub backend: BackendKind,
    pub width: u32,
    pub height: u32,
    /// A teach-mode head's classes (empty without one).
    pub custom: Vec<PredictionRow>,
    /// The views the probabilities come from.
    pub crops: Crops,
}

impl Classified {
    /// Photo `id`'s answer to the page: its result, or why there is none.
    pub(super) fn response(id: u32, outcome: std::result::Result<Self, String>) -> Response {
        match outcome {
            Ok(c) => Response::Result {
                id,
                top: c.top,
                timings: c.timings,
                backend: c.backend,
                width: c.width,
                height: c.height,
                custom: c.custom,
                crops: c.crops,
            },
            Err(message) => Response::ClassifyError { id, message },
        }
    }
}

/// A decoded photo's network input and what its card shows of it.
pub(super) struct PreparedPhoto {
    /// The photo whose crop is kept for the gradient panel (none for a webcam frame).
    pub id: Option<u32>,
    /// The views, `[3, height, width]` each, one after another.
    pub input: Vec<f32>,
    /// Views, height, width (`[1, 224, 224]` for the centre crop).
    pub dims: [usize; 3],
    pub crops: Crops,
    pub width: u32,
    pub height: u32,
    pub decode_ms: f64,
    pub preprocess_ms: f64,
}

fn blob_of(payload: Option<JsValue>) -> Option<web_sys::Blob> {
    payload.and_then(|p| p.dyn_into().ok())
}

impl Engine {
    /// Classifies a photo from the views `crops` names and keeps its centre crop for the
    /// gradient panel (photo `id`).
    pub(super) async fn classify(
        &self,
        id: u32,
        payload: Option<JsValue>,
        name: &str,
        crops: Crops,
    ) -> Result<Classified> {
        self.classify_blob(Some(id), payload, name, crops).await
    }

    /// Classifies a webcam frame from its centre crop (the live rate matters more than ten
    /// views); nothing is kept.
    pub(super) async fn classify_frame(&self, payload: Option<JsValue>) -> Result<Classified> {
        self.classify_blob(None, payload, "webcam frame", Crops::Center)
            .await
    }

    /// The classification itself; the crop is kept as photo `keep_as`'s when there is one.
    async fn classify_blob(
        &self,
        keep_as: Option<u32>,
        payload: Option<JsValue>,
        name: &str,
        crops: Crops,
    ) -> Result<Classified> {
        let classifier = self.loaded_classifier()?;
        let photo = self
            .prepare_photo(&classifier, keep_as, payload, name, crops)
            .await?;
        let t2 = now();
        let (features, rows, t3) = self.forward_views(&classifier, &photo).await?;
        let timings = Timings {
            decode_ms: photo.decode_ms,
            preprocess_ms: photo.preprocess_ms,
            inference_ms: t3 - t2,
            readback_ms: now() - t3,
            batch: 1,
        };
        self.classified(&classifier, &photo, &rows, &features, timings)
    }

    /// One forward pass of a photo's views (one batch: ten crops are of one size): each
    /// view's pooled features (for a teach-mode head; with a fine-tuned layer4, that layer4's)
    /// and ImageNet logits, and when the pass had finished.
    async fn forward_views(
        &self,
        classifier: &Classifier,
        photo: &PreparedPhoto,
    ) -> Result<(Vec<Vec<f32>>, Vec<Vec<f32>>, f64)> {
        Ok(
            match (self.teach.layer4.stage(), classifier.cpu_forward()) {
                // The CPU path: channel-last, its bands on every thread the engine has.
                (None, Some(cpu)) => {
                    // One photo's centre crop (what the gradient panel explains; a whole image
                    // could be large): its forward pass is kept, and its panel starts from it.
                    if let (Some(id), Crops::Center, [1, height, width]) =
                        (photo.id, photo.crops, photo.dims)
                        && self.may_keep_trace()
                    {
                        self.kept_trace.borrow_mut().take();
                        let (pooled, trace) = cpu.traced(&photo.input, [height, width])?;
                        *self.kept_trace.borrow_mut() = Some(KeptTrace {
                            photo: id,
                            trace,
                            explained: false,
                        });
                        let features = vec![pooled];
                        let rows = cpu.head(&features);
                        return Ok((features, rows, now()));
                    }
                    let features = cpu.pooled_features(&photo.input, photo.dims)?;
                    let rows = cpu.head(&features);
                    (features, rows, now())
                }
                (stage, _) => {
                    let batch = upload_batch(photo.input.clone(), photo.dims, &classifier.device)?;
                    let (features, head_features) = match stage {
                        Some(stage) => {
                            let x = stage_input_tensor(classifier, batch)?;
                            let tuned = stage.pooled(x.clone());
                            (pooled_from_stage_input(classifier, x), Some(tuned))
                        }
                        None => (classifier.model.pooled_features(batch), None),
                    };
                    let logits = classifier.model.fc.forward(features.clone());
                    // Reading one value waits for the whole forward pass (GPU work is queued
                    // lazily), so the inference time includes execution and the read-back time
                    // is the transfer only.
                    read_f32(logits.clone().slice([0..1, 0..1])).await?;
                    let t3 = now();
                    let dims = logits.dims();
                    let rows = rows_of(&read_f32(logits).await?, dims);
                    let features = match self.teach.has_head() {
                        true => {
                            let features = head_features.unwrap_or(features);
                            let dims = features.dims();
                            rows_of(&read_f32(features).await?, dims)
                        }
                        false => Vec::new(),
                    };
                    (features, rows, t3)
                }
            },
        )
    }

    /// Decodes a photo, resizes, crops and normalises its views (and keeps the centre crop
    /// as photo `keep_as`'s for the gradient panel, whatever the views).
    pub(super) async fn prepare_photo(
        &self,
        classifier: &Classifier,
        keep_as: Option<u32>,
        payload: Option<JsValue>,
        name: &str,
        crops: Crops,
    ) -> Result<PreparedPhoto> {
        let blob = blob_of(payload)
            .ok_or_else(|| EngineError::Unavailable(format!("{name}: no file was received")))?;
        let t0 = now();
        let image = decode_in_browser(&blob).await?;
        let t1 = now();
        let buffer = PixelBuffer::new(image.width, image.height, 4, &image.pixels)?;
        let crop = resize_and_crop(&buffer)?;
        let convention = classifier.info.input;
        let (input, dims) = match crops {
            Crops::Center => (normalize_crop(&crop, convention), [1, CROP_SIZE, CROP_SIZE]),
            Crops::Ten | Crops::Full => {
                let views = preprocess_views(&buffer, convention, crops)?;
                let dims = [views.len(), views[0].height, views[0].width];
                (views.into_iter().flat_map(|v| v.values).collect(), dims)
            }
        };
        let (width, height) = (image.width, image.height);
        drop(image);
        if let Some(id) = keep_as {
            self.keep_crop(id, Rc::new(crop));
        }
        Ok(PreparedPhoto {
            id: keep_as,
            input,
            dims,
            crops,
            width,
            height,
            decode_ms: t1 - t0,
            preprocess_ms: now() - t1,
        })
    }

    /// A photo's answer from its views' logits `rows` and pooled `features` (for a
    /// teach-mode head): the mean of the views' softmax outputs (one view: its softmax).
    pub(super) fn classified(
        &self,
        classifier: &Classifier,
        photo: &PreparedPhoto,
        rows: &[Vec<f32>],
        features: &[Vec<f32>],
        timings: Timings,
    ) -> Result<Classified> {
        if rows.iter().flatten().any(|v| !v.is_finite()) {
            return Err(EngineError::NonFiniteOutput);
        }
        let custom = match self.teach.has_head() {
            true => self.teach.custom_predictions(features)?,
            false => Vec::new(),
        };
        let top = rank(&mean_softmax(rows), 5, |i| classifier.info.labels.name(i))
            .into_iter()
            .map(|p| PredictionRow {
                index: p.index,
                label: p.label,
                prob: p.prob,
            })
            .collect();
        Ok(Classified {
            top,
            timings,
            backend: self.backend_kind(),
            width: photo.width,
            height: photo.height,
            custom,
            crops: photo.crops,
        })
    }

    /// The gradient analysis of a kept photo (or of noise, for an initialised network
    /// without a photo).
    pub(super) async fn gradients(
        &self,
        choice: BackendPreference,
        photo: Option<u32>,
        payload: Option<JsValue>,
        class: Option<ClassRef>,
        network: GradientNetwork,
    ) -> Result<GradientReport> {
        let crop = match photo {
            Some(id) => Some(self.crop_of(id, payload).await?),
            None => None,
        };
        let backend = self.backend(choice).await;
        let (analyzer, convention) = self.analyzer(&network, &backend).await?;
        let config = analyzer.config().clone();
        let (seed, he_options) = match &network {
            GradientNetwork::HeInit { seed, options, .. } => (*seed, *options),
            GradientNetwork::Loaded => (0, HeInitOptions::default()),
        };
        let (input, side) = analysis_input(
            crop.as_ref().map(|c| c.as_slice()),
            &config,
            convention,
            seed,
        )?;
        // A taught class is a logit of the Teach head in use, on the loaded network only.
        let head = match (class, &network) {
            (Some(ClassRef::Taught(_)), GradientNetwork::Loaded) => {
                Some(self.teach.explained_head()?)
            }
            _ => None,
        };
        let target = match (class, &head) {
            (Some(ClassRef::Taught(c)), Some(head)) => Target::Head {
                head,
                class: Some(c),
            },
            // A class of another label set (a link made for ImageNet, opened on a CIFAR net)
            // falls back to the top-1.
            (Some(ClassRef::Model(c)), _) => {
                Target::Model(Some(c).filter(|&c| c < config.num_classes))
            }
            _ => Target::Model(None),
        };
        let t0 = now();
        let options = GradFlowOptions {
            batch_norm: he_options.batch_norm,
            // The batch's other images: noise from the next seed (as `resnet-lab gradflow`).
            noise_seed: seed.wrapping_add(1),
            ..GradFlowOptions::default()
        };
        // The photo's classification kept its forward pass: in inference mode it is reused
        // (taken out while the analysis runs, put back for the next class asked about).
        let kept_photo = self.kept_trace.borrow().as_ref().map(|k| k.photo);
        let trace = match photo.is_some() && photo == kept_photo {
            true => self.kept_trace.borrow_mut().take(),
            false => None,
        };
        let report = match &trace {
            Some(kept) if options.batch_norm == BatchNormMode::Eval => {
                analyzer
                    .analyze_traced(&input, [side, side], target, Some(&kept.trace))
                    .await
            }
            _ => {
                analyzer
                    .analyze_target(&input, [side, side], target, &options)
                    .await
            }
        };
        if let Some(kept) = trace {
            let explained = KeptTrace {
                explained: true,
                ..kept
            };
            self.kept_trace.borrow_mut().get_or_insert(explained);
        }
        let report = report?;
        let elapsed = now() - t0;
        Ok(gradient_report(
            report,
            network,
            &config,
            elapsed,
            backend.kind,
        ))
    }

    /// The kept crop of a photo, or the crop of the file sent along (after a restart).
    pub(super) async fn crop_of(&self, id: u32, payload: Option<JsValue>) -> Result<Rc<Vec<u8>>> {
        let kept = self
            .crops
            .borrow()
            .iter()
            .find(|(kept, _)| *kept == id)
            .map(|(_, crop)| Rc::clone(crop));
        if let Some(crop) = kept {
            return Ok(crop);
        }
        let blob = blob_of(payload).ok_or_else(|| {
            EngineError::Unavailable(
                "this photo is no longer in memory: add it again to explain it".into(),
            )
        })?;
        let image = decode_in_browser(&blob).await?;
        let buffer = PixelBuffer::new(image.width, image.height, 4, &image.pixels)?;
        let crop = Rc::new(resize_and_crop(&buffer)?);
        self.keep_crop(id, Rc::clone(&crop));
        Ok(crop)
    }

    /// Whether a classification may keep its forward pass: none is kept, or the kept one has
    /// been explained, or its photo is no longer one the panel can explain.
    fn may_keep_trace(&self) -> bool {
        let kept = self.kept_trace.borrow();
        let Some(kept) = kept.as_ref() else {
            return true;
        };
        kept.explained || !self.crops.borrow().iter().any(|(id, _)| *id == kept.photo)
    }

    fn keep_crop(&self, id: u32, crop: Rc<Vec<u8>>) {
        let mut crops = self.crops.borrow_mut();
        crops.retain(|(kept, _)| *kept != id);
        if crops.len() == KEPT_CROPS {
            crops.pop_front();
        }
        crops.push_back((id, crop));
    }

    /// The autodiff network for `network`, built on first use and kept until another is asked for.
    async fn analyzer(
        &self,
        network: &GradientNetwork,
        backend: &ActiveBackend,
    ) -> Result<(Rc<GradFlowAnalyzer>, InputConvention)> {
        if let Some(analysis) = self.analysis.borrow().as_ref()
            && analysis.network == *network
        {
            return Ok((Rc::clone(&analysis.analyzer), analysis.input));
        }
        self.analysis.borrow_mut().take();
        // On the CPU the loaded network is analysed on the classifier's own channel-last
        // weights: nothing to download, upload or arrange again.
        let classifier = self.classifier.borrow().clone();
        if *network == GradientNetwork::Loaded
            && let Some(classifier) = classifier
            && let Some(cpu) = classifier.cpu_forward().cloned()
        {
            let analyzer = Rc::new(GradFlowAnalyzer::from_channel_last(
                cpu,
                &classifier.info,
                self.backbone_id().ok(),
                &backend.device,
            ));
            let input = classifier.info.input;
            *self.analysis.borrow_mut() = Some(Analysis {
                network: network.clone(),
                analyzer: Rc::clone(&analyzer),
                input,
            });
            return Ok((analyzer, input));
        }
        let weights = match network {
            GradientNetwork::Loaded => {
                let source = self.source.borrow().clone().ok_or_else(|| {
                    EngineError::Unavailable(
                        "no model is loaded: load one, or pick an initialised network".into(),
                    )
                })?;
                fetch_weights(&source, self.outbox).await?.weights
            }
            GradientNetwork::HeInit {
                arch,
                seed,
                options,
            } => he_initialized_weights_with(arch, *seed, options)?,
        };
        let input = weights.info.input;
        let analyzer = Rc::new(GradFlowAnalyzer::new(weights, &backend.device)?);
        *self.analysis.borrow_mut() = Some(Analysis {
            network: network.clone(),
            analyzer: Rc::clone(&analyzer),
            input,
        });
        Ok((analyzer, input))
    }
}
