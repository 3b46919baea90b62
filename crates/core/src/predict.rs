//! Running a loaded ResNet on images and turning logits into named predictions.

use std::sync::Arc;

use burn::tensor::{Device, FloatDType, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::{CpuForward, ResNet};
use crate::preprocess::views::View;
use crate::weights::{LoadedWeights, ModelInfo};

/// The arithmetic a classifier's network runs in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Precision {
    #[default]
    F32,
    /// Weights and activations in float16 (GPU backends; half the memory traffic). Logits are
    /// read back as float32.
    F16,
}

/// A ResNet on a device, with what it needs to know about its inputs and outputs.
#[derive(Debug)]
pub struct Classifier {
    /// The network in [`Classifier::precision`]'s arithmetic: float32 unless
    /// [`Classifier::with_precision`] said otherwise.
    pub model: ResNet,
    pub info: ModelInfo,
    pub device: Device,
    /// On the CPU device, classification and features run on the channel-last forward pass
    /// (faster than Burn flex's convolutions there), its weights arranged as the network is
    /// built.
    cpu: Option<Arc<CpuForward>>,
    precision: Precision,
}

/// One line of a top-k list.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prediction {
    pub index: usize,
    pub label: String,
    pub prob: f32,
}

impl Classifier {
    /// Builds the network on `device` (uploads and folds every weight), and on the CPU the
    /// channel-last pass from the same folded weights.
    pub fn new(weights: LoadedWeights, device: &Device) -> Result<Self> {
        let config = &weights.info.config;
        let (model, cpu) = if is_cpu(device) {
            let (model, cpu) = CpuForward::with_model(config, weights.tensors, device)?;
            (model, Some(Arc::new(cpu)))
        } else {
            (ResNet::from_tensors(config, weights.tensors, device)?, None)
        };
        Ok(Self {
            model,
            info: weights.info,
            device: device.clone(),
            cpu,
            precision: Precision::F32,
        })
    }

    /// The same classifier computing in `precision`. Float16 is for GPU backends: the CPU path
    /// computes in float32 and refuses it.
    pub fn with_precision(mut self, precision: Precision) -> Result<Self> {
        if precision == self.precision {
            return Ok(self);
        }
        if self.cpu.is_some() {
            return Err(Error::Input(
                "float16 compute is for GPU backends; the CPU path computes in float32".into(),
            ));
        }
        let dtype = match precision {
            Precision::F32 => FloatDType::F32,
            Precision::F16 => FloatDType::F16,
        };
        self.model = self.model.cast(dtype);
        self.precision = precision;
        Ok(self)
    }

    pub fn precision(&self) -> Precision {
        self.precision
    }

    /// `batch` in the network's arithmetic.
    fn to_model_precision(&self, batch: Tensor<4>) -> Tensor<4> {
        match self.precision {
            Precision::F32 => batch,
            Precision::F16 => batch.cast(FloatDType::F16),
        }
    }

    /// Uploads preprocessed images (`[3, H, W]` each, channel-major) as one batch.
    pub fn input_batch(
        &self,
        images: &[Vec<f32>],
        height: usize,
        width: usize,
    ) -> Result<Tensor<4>> {
        upload_images(images, [height, width], &self.device)
    }

    /// Logits for a batch, read back to the host (asynchronously: browsers forbid blocking
    /// reads from the GPU).
    pub async fn logits(&self, batch: Tensor<4>) -> Result<Vec<Vec<f32>>> {
        check_input_size(&batch)?;
        if let Some(cpu) = self.cpu_forward() {
            let [n, _, h, w] = batch.dims();
            return finite_rows(cpu.logits(&read_f32(batch).await?, [n, h, w])?);
        }
        let logits = self.model.forward(self.to_model_precision(batch));
        read_rows(logits.cast(FloatDType::F32)).await
    }

    /// The globally average-pooled features of a batch (`[N, 512]` for ResNet-18, `[N, 2048]`
    /// for ResNet-50): what a transfer-learning head sees.
    pub async fn features(&self, batch: Tensor<4>) -> Result<Vec<Vec<f32>>> {
        check_input_size(&batch)?;
        if let Some(cpu) = self.cpu_forward() {
            let [n, _, h, w] = batch.dims();
            return finite_rows(cpu.pooled_features(&read_f32(batch).await?, [n, h, w])?);
        }
        let features = self.model.pooled_features(self.to_model_precision(batch));
        read_rows(features.cast(FloatDType::F32)).await
    }

    /// The channel-last forward pass, on the CPU.
    pub fn cpu_forward(&self) -> Option<&Arc<CpuForward>> {
        self.cpu.as_ref()
    }

    /// Logits (or with `features`, pooled features) of each view, one row per view; views of
    /// one size go through the network as one batch (ten crops: a batch of ten).
    pub async fn view_outputs(&self, views: &[View], features: bool) -> Result<Vec<Vec<f32>>> {
        let mut rows = Vec::with_capacity(views.len());
        for group in views.chunk_by(|a, b| (a.height, a.width) == (b.height, b.width)) {
            let values: Vec<Vec<f32>> = group.iter().map(|v| v.values.clone()).collect();
            let batch = self.input_batch(&values, group[0].height, group[0].width)?;
            rows.extend(if features {
                self.features(batch).await?
            } else {
                self.logits(batch).await?
            });
        }
        Ok(rows)
    }

    /// The `k` most likely classes for one row of logits.
    pub fn top_k(&self, logits: &[f32], k: usize) -> Vec<Prediction> {
        rank(&softmax(logits), k, |i| self.info.labels.name(i))
    }
}

fn check_input_size(batch: &Tensor<4>) -> Result<()> {
    let [_, _, h, w] = batch.dims();
    if h < 32 || w < 32 {
        return Err(Error::Input(format!(
            "a {h}×{w} input is too small for a ResNet (at least 32×32)"
        )));
    }
    Ok(())
}

/// Whether [`CpuForward`] runs instead of Burn: on the CPU device (Burn flex), natively and in
/// WebAssembly (faster than Burn flex's convolutions in both, BENCHMARKS.md).
pub(crate) fn is_cpu(device: &Device) -> bool {
    #[cfg(feature = "flex")]
    {
        *device == Device::flex()
    }
    #[cfg(not(feature = "flex"))]
    {
        let _ = device;
        false
    }
}

/// Reads `[N, K]` back as N rows, refusing non-finite values.
async fn read_rows(output: Tensor<2>) -> Result<Vec<Vec<f32>>> {
    let dims = output.dims();
    finite_rows(rows_of(&read_f32(output).await?, dims))
}

/// The values of an `[n, k]` output read back, as its `n` rows.
pub fn rows_of(values: &[f32], [n, k]: [usize; 2]) -> Vec<Vec<f32>> {
    values
        .chunks(k.max(1))
        .take(n)
        .map(<[f32]>::to_vec)
        .collect()
}

/// Refuses non-finite values: weights that overflow (or a NaN input) give NaN, which softmax
/// would turn into "probabilities" of null.
fn finite_rows(rows: Vec<Vec<f32>>) -> Result<Vec<Vec<f32>>> {
    if let Some(bad) = rows.iter().flatten().find(|v| !v.is_finite()) {
        return Err(Error::Input(format!(
            "the network's output holds {bad} (NaN or infinity): the weights or the input make it overflow"
        )));
    }
    Ok(rows)
}

/// The mean of each row's softmax: ten-crop testing averages probabilities, not logits.
pub fn mean_softmax(rows: &[Vec<f32>]) -> Vec<f32> {
    let width = rows.first().map_or(0, Vec::len);
    let mut mean = vec![0.0f64; width];
    for row in rows {
        for (m, p) in mean.iter_mut().zip(softmax(row)) {
            *m += p as f64;
        }
    }
    mean.iter()
        .map(|m| (m / rows.len() as f64) as f32)
        .collect()
}

/// The `k` most probable classes of a probability vector, named by `label`.
pub fn rank(probs: &[f32], k: usize, label: impl Fn(usize) -> String) -> Vec<Prediction> {
    top_k(probs, k)
        .into_iter()
        .map(|(index, prob)| Prediction {
            index,
            label: label(index),
            prob,
        })
        .collect()
}

/// The `k` most likely classes for one row of logits, named from `labels`.
pub fn top_predictions(logits: &[f32], labels: &LabelSet, k: usize) -> Vec<Prediction> {
    rank(&softmax(logits), k, |i| labels.name(i))
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

/// Uploads preprocessed images (`[3, H, W]` each, channel-major) to `device` as one batch.
pub fn upload_images(
    images: &[Vec<f32>],
    [height, width]: [usize; 2],
    device: &Device,
) -> Result<Tensor<4>> {
    let plane = 3 * height * width;
    if images.is_empty() {
        return Err(Error::Input("no images given".into()));
    }
    if let Some(bad) = images.iter().find(|img| img.len() != plane) {
        return Err(Error::Input(format!(
            "an input holds {} values; a [3, {height}, {width}] image has {plane}",
            bad.len()
        )));
    }
    let data: Vec<f32> = images.iter().flatten().copied().collect();
    upload_batch(data, [images.len(), height, width], device)
}

/// Uploads `n` preprocessed images laid end to end (`[n, 3, height, width]`) as one batch.
pub fn upload_batch(
    values: Vec<f32>,
    [n, height, width]: [usize; 3],
    device: &Device,
) -> Result<Tensor<4>> {
    if values.is_empty() || values.len() != n * 3 * height * width {
        return Err(Error::Input(format!(
            "the input holds {} values; {n} [3, {height}, {width}] images have {}",
            values.len(),
            n * 3 * height * width
        )));
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [n, 3, height, width]),
        device,
    ))
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
    fn ten_crop_averages_probabilities_not_logits() {
        // softmax([0, ln 3]) = [1/4, 3/4]; softmax([0, 0]) = [1/2, 1/2]; mean [3/8, 5/8]
        // (the softmax of the mean logits would give [1/(1+√3), √3/(1+√3)] = [0.366, 0.634]).
        let p = mean_softmax(&[vec![0.0, 3f32.ln()], vec![0.0, 0.0]]);
        assert!(
            (p[0] - 0.375).abs() < 1e-6 && (p[1] - 0.625).abs() < 1e-6,
            "{p:?}"
        );
    }

    #[test]
    fn top_k_orders_by_value() {
        assert_eq!(top_k(&[0.1, 0.7, 0.2], 2), vec![(1, 0.7), (2, 0.2)]);
        assert_eq!(top_k(&[0.5], 5).len(), 1);
    }
}
