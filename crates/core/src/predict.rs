//! Running a loaded ResNet on images and turning logits into named predictions.

use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::ResNet;
use crate::weights::{LoadedWeights, ModelInfo};

/// A ResNet on a device, with what it needs to know about its inputs and outputs.
#[derive(Debug)]
pub struct Classifier {
    pub model: ResNet,
    pub info: ModelInfo,
    pub device: Device,
}

/// One line of a top-k list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub prob: f32,
}

impl Classifier {
    /// Builds the network on `device` (uploads and folds every weight).
    pub fn new(weights: LoadedWeights, device: &Device) -> Result<Self> {
        let model = ResNet::from_tensors(&weights.info.config, weights.tensors, device)?;
        Ok(Self {
            model,
            info: weights.info,
            device: device.clone(),
        })
    }

    /// Uploads preprocessed images (`[3, H, W]` each, channel-major) as one batch.
    pub fn input_batch(
        &self,
        images: &[Vec<f32>],
        height: usize,
        width: usize,
    ) -> Result<Tensor<4>> {
        let plane = 3 * height * width;
        if images.is_empty() {
            return Err(Error::Input("no images to classify".into()));
        }
        if let Some(bad) = images.iter().find(|img| img.len() != plane) {
            return Err(Error::Input(format!(
                "an input holds {} values; a [3, {height}, {width}] image has {plane}",
                bad.len()
            )));
        }
        let data: Vec<f32> = images.iter().flatten().copied().collect();
        Ok(Tensor::from_data(
            TensorData::new(data, [images.len(), 3, height, width]),
            &self.device,
        ))
    }

    /// Logits for a batch, read back to the host (asynchronously: browsers forbid blocking
    /// reads from the GPU).
    pub async fn logits(&self, batch: Tensor<4>) -> Result<Vec<Vec<f32>>> {
        let [n, _, h, w] = batch.dims();
        if h < 32 || w < 32 {
            return Err(Error::Input(format!(
                "a {h}×{w} input is too small for a ResNet (at least 32×32)"
            )));
        }
        let logits = self.model.forward(batch);
        let classes = logits.dims()[1];
        let values = read_f32(logits).await?;
        // Weights that overflow (or a NaN input) give NaN logits, which softmax would turn into
        // "probabilities" of null: an error instead.
        if let Some(bad) = values.iter().find(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "the network's output holds {bad} (NaN or infinity): the weights or the input make it overflow"
            )));
        }
        Ok(values
            .chunks(classes)
            .take(n)
            .map(<[f32]>::to_vec)
            .collect())
    }

    /// The `k` most likely classes for one row of logits.
    pub fn top_k(&self, logits: &[f32], k: usize) -> Vec<Prediction> {
        top_predictions(logits, &self.info.labels, k)
    }
}

/// The `k` most likely classes for one row of logits, named from `labels`.
pub fn top_predictions(logits: &[f32], labels: &LabelSet, k: usize) -> Vec<Prediction> {
    top_k(&softmax(logits), k)
        .into_iter()
        .map(|(index, prob)| Prediction {
            index,
            label: labels.name(index),
            prob,
        })
        .collect()
}

/// Reads a tensor back to the host as `f32`s.
pub async fn read_f32<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    let data = tensor
        .into_data_async()
        .await
        .map_err(|e| Error::Backend(format!("reading the result back failed: {e:?}")))?;
    data.try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("unexpected result type: {e:?}")))
}

/// Numerically stable softmax.
pub fn softmax(logits: &[f32]) -> Vec<f32> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let exps: Vec<f64> = logits.iter().map(|&z| ((z - max) as f64).exp()).collect();
    let sum: f64 = exps.iter().sum();
    exps.iter().map(|e| (e / sum) as f32).collect()
}

/// Indices and values of the `k` largest entries, largest first (ties keep index order).
pub fn top_k(values: &[f32], k: usize) -> Vec<(usize, f32)> {
    let mut indexed: Vec<(usize, f32)> = values.iter().copied().enumerate().collect();
    indexed.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    indexed.truncate(k);
    indexed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn softmax_matches_hand_computation() {
        // e^0, e^1, e^2 over their sum.
        let p = softmax(&[0.0, 1.0, 2.0]);
        let e = [1.0f64, std::f64::consts::E, std::f64::consts::E.powi(2)];
        let s: f64 = e.iter().sum();
        for i in 0..3 {
            assert!((p[i] as f64 - e[i] / s).abs() < 1e-7);
        }
        // Large logits do not overflow.
        let p = softmax(&[1000.0, 1000.0]);
        assert_eq!(p, vec![0.5, 0.5]);
    }

    #[test]
    fn top_k_orders_by_value() {
        assert_eq!(top_k(&[0.1, 0.7, 0.2], 2), vec![(1, 0.7), (2, 0.2)]);
        assert_eq!(top_k(&[0.5], 5).len(), 1);
    }
}
