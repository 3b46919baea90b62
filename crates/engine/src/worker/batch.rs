//! Photos dropped together, classified together: on the CPU path the photos waiting in the
//! queue go through one forward pass of up to [`MAX_PHOTO_BATCH`] images (wider matrix
//! products, more work for each thread), each answered with its own result. A photo alone is
//! never held back to wait for others: only those already queued join it.

use resnet_lab_protocol::{Request, Timings};
use wasm_bindgen::JsValue;

use super::engine::Engine;
use super::infer::{Classified, PreparedPhoto};
use super::js::now;
use crate::error::Result;

/// Most photos in one forward pass (ResNet-50's largest channel-last activation is then
/// 4 × 3.2 MB, and the im2col bands stay within their cap).
pub const MAX_PHOTO_BATCH: usize = 4;

impl Engine {
    /// How many photos may share a forward pass now: only the CPU path batches (without a
    /// head that fine-tuned layer4, which runs its own stage per photo).
    pub(super) fn photo_batch(&self) -> usize {
        let cpu = self
            .loaded_classifier()
            .is_ok_and(|c| c.cpu_forward().is_some());
        match cpu && self.teach.layer4.stage().is_none() {
            true => MAX_PHOTO_BATCH,
            false => 1,
        }
    }

    /// Classifies `photos` (each a `Request::Classify` and its file) in one forward pass and
    /// posts one answer per photo; a photo that cannot be decoded gets its error alone.
    pub(super) async fn classify_together(&self, photos: Vec<(Request, Option<JsValue>)>) {
        let mut prepared = Vec::with_capacity(photos.len());
        for (request, payload) in photos {
            let Request::Classify { id, name, crops } = request else {
                continue;
            };
            let photo = match self.loaded_classifier() {
                Ok(classifier) => {
                    self.prepare_photo(&classifier, Some(id), payload, &name, crops)
                        .await
                }
                Err(e) => Err(e),
            };
            match photo {
                Ok(photo) => prepared.push((id, photo)),
                Err(e) => self
                    .outbox
                    .post(&Classified::response(id, Err(e.to_string()))),
            }
        }
        if prepared.is_empty() {
            return;
        }
        let answers = match self.forward_together(&prepared) {
            Ok(answers) => answers,
            Err(e) => {
                let message = e.to_string();
                prepared.iter().map(|_| Err(message.clone())).collect()
            }
        };
        for ((id, _), answer) in prepared.iter().zip(answers) {
            self.outbox.post(&Classified::response(*id, answer));
        }
    }

    /// One channel-last forward pass of the prepared photos; each photo's answer (or why
    /// not, e.g. non-finite logits of that photo alone).
    fn forward_together(
        &self,
        prepared: &[(u32, PreparedPhoto)],
    ) -> Result<Vec<std::result::Result<Classified, String>>> {
        let classifier = self.loaded_classifier()?;
        let cpu = classifier.cpu_forward().ok_or_else(|| {
            crate::error::EngineError::Unavailable("batches run on the CPU path only".into())
        })?;
        let n = prepared.len();
        let images: Vec<f32> = prepared
            .iter()
            .flat_map(|(_, p)| p.input.iter().copied())
            .collect();
        let t0 = now();
        let features = cpu.pooled_features(&images, [n, 224, 224])?;
        let rows = cpu.head(&features);
        let share = (now() - t0) / n as f64;
        Ok(prepared
            .iter()
            .zip(rows.iter().zip(&features))
            .map(|((_, photo), (row, features))| {
                let timings = Timings {
                    decode_ms: photo.decode_ms,
                    preprocess_ms: photo.preprocess_ms,
                    inference_ms: share,
                    readback_ms: 0.0,
                    batch: n as u32,
                };
                let (row, features) = (std::slice::from_ref(row), std::slice::from_ref(features));
                self.classified(&classifier, photo, row, features, timings)
                    .map_err(|e| e.to_string())
            })
            .collect())
    }
}
