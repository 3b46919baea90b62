//! Training a linear softmax head on frozen features: multinomial logistic regression with
//! an L2 penalty on the weights (weight decay), full-batch Adam from `burn::optim`, on
//! standardised features (the standardisation is folded into the exported weights).
//!
//! Validation: a stratified, seeded split, or leave-one-out when the split would hold too few
//! photos to say anything. Leave-one-out trains one head per photo (each without that photo)
//! beside the exported head (trained on all photos): they are columns of one weight matrix,
//! each with its own masked loss, so one matrix product per step trains them all, and Adam's
//! per-parameter updates keep them exactly as independent as separate runs.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::predict::read_f32;
use crate::transfer::backbone::BackboneId;
use crate::transfer::head::{LinearHead, MAX_CLASSES};

/// Each class needs at least this many photos.
pub const MIN_PHOTOS_PER_CLASS: usize = 2;
/// A validation split smaller than this gives way to leave-one-out...
pub const MIN_VALIDATION_PHOTOS: usize = 10;
/// ...unless there are more photos than this (leave-one-out trains one head per photo).
pub const MAX_LEAVE_ONE_OUT: usize = 200;

/// How held-out accuracy is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// No held-out photos (`--val-split 0`).
    None,
    /// This fraction of each class is held out; the exported head never sees it.
    Split(f64),
    /// Each photo is classified by a head trained on all the others; the exported head is
    /// trained on every photo.
    LeaveOneOut,
}

impl Validation {
    /// A split of `fraction`, or leave-one-out when that would hold out fewer than
    /// [`MIN_VALIDATION_PHOTOS`] of `class_counts`.
    pub fn choose(fraction: f64, class_counts: &[usize]) -> Self {
        let total: usize = class_counts.iter().sum();
        let held_out: usize = class_counts
            .iter()
            .map(|&n| held_out_count(n, fraction))
            .sum();
        if fraction <= 0.0 {
            Validation::None
        } else if held_out < MIN_VALIDATION_PHOTOS && total <= MAX_LEAVE_ONE_OUT {
            Validation::LeaveOneOut
        } else {
            Validation::Split(fraction)
        }
    }
}

/// Photos of a class of `n` held out by a split: rounded, at least one, and never all.
pub(crate) fn held_out_count(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1))
}

/// Training settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainConfig {
    /// Full-batch steps.
    pub epochs: usize,
    pub learning_rate: f64,
    /// λ in mean cross-entropy + λ/2 · ‖W‖² (the bias is not penalised).
    pub weight_decay: f64,
    pub validation: Validation,
    /// Shuffles the validation split.
    pub seed: u64,
    /// Adam's learning rate for layer4 when it is fine-tuned too (the head keeps
    /// `learning_rate`): small, so that a few photos nudge the pretrained stage rather than
    /// overwrite it.
    #[serde(default = "default_layer4_learning_rate")]
    pub layer4_learning_rate: f64,
}

/// The default of [`TrainConfig::layer4_learning_rate`].
pub const LAYER4_LEARNING_RATE: f64 = 1e-4;

fn default_layer4_learning_rate() -> f64 {
    LAYER4_LEARNING_RATE
}

impl Default for TrainConfig {
    fn default() -> Self {
        Self {
            epochs: 100,
            learning_rate: 0.01,
            weight_decay: 0.01,
            validation: Validation::Split(0.2),
            seed: 0,
            layer4_learning_rate: LAYER4_LEARNING_RATE,
        }
    }
}

/// One line of the training curve: the exported head after `epoch` steps.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EpochStats {
    pub epoch: usize,
    /// The exported head's mean cross-entropy on its training photos (without the penalty).
    pub loss: f64,
    pub train_accuracy: f64,
    /// `None` without validation.
    pub val_accuracy: Option<f64>,
}

/// A trained head with its curve and which photos it held out.
#[derive(Debug, Clone)]
pub struct TrainedHead {
    pub head: LinearHead,
    pub epochs: Vec<EpochStats>,
    pub validation: Validation,
    /// Indices of the held-out photos of a split (empty otherwise).
    pub held_out: Vec<usize>,
}

/// The trainable part: one `[features, heads × classes]` matrix and its bias.
#[derive(Module, Debug)]
struct Heads {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

/// Trains a head on `features` (one row per photo) with `labels` (indices into `classes`).
pub async fn train_head(
    features: &[Vec<f32>],
    labels: &[usize],
    classes: Vec<String>,
    backbone: BackboneId,
    config: &TrainConfig,
    device: &Device,
) -> Result<TrainedHead> {
    let go_on = |_: &EpochStats| std::future::ready(true);
    train_head_observed(features, labels, classes, backbone, config, device, go_on).await
}

/// [`train_head`], telling `on_epoch` each epoch's numbers as they come (the page's live
/// curve); when it answers `false` training stops there and the head trained so far is
/// returned. It is awaited between epochs, so a browser worker can yield to its event loop.
pub async fn train_head_observed<F, Fut>(
    features: &[Vec<f32>],
    labels: &[usize],
    classes: Vec<String>,
    backbone: BackboneId,
    config: &TrainConfig,
    device: &Device,
    mut on_epoch: F,
) -> Result<TrainedHead>
where
    F: FnMut(&EpochStats) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let (n, d, c) = (features.len(), backbone.feature_width, classes.len());
    check_dataset(features, labels, &classes, d)?;

    // Which photos each head trains on (mask[i][m]) and which one is exported.
    let mut held_out = Vec::new();
    let (heads, masks) = match config.validation {
        Validation::None => (1, vec![vec![1.0f32]; n]),
        Validation::Split(fraction) => {
            held_out = split(labels, c, fraction, config.seed);
            let mask = (0..n)
                .map(|i| vec![if held_out.contains(&i) { 0.0 } else { 1.0 }])
                .collect();
            (1, mask)
        }
        Validation::LeaveOneOut => {
            let mask = (0..n)
                .map(|i| (0..=n).map(|m| if m == i { 0.0 } else { 1.0 }).collect())
                .collect();
            (n + 1, mask)
        }
    };
    let exported = heads - 1;
    // Each head standardises with its own training photos (zero mean, unit variance): a
    // held-out photo must not shape the statistics it is judged with (with the all-photo mean,
    // leave-one-out on 15 + 5 photos scored 45 % instead of 85 %). The head sees
    // (x − μ_m)/σ_m, computed as x·(W_m/σ_m) − (μ_m/σ_m)·W_m on the raw features.
    let stats_of: Vec<(Vec<f32>, Vec<f32>)> = (0..heads)
        .map(|m| {
            let rows: Vec<usize> = (0..n).filter(|&i| masks[i][m] > 0.0).collect();
            standardisation(features, &rows, d)
        })
        .collect();
    let per_feature = |f: &dyn Fn(f32, f32) -> f32| -> Vec<f32> {
        (0..d)
            .flat_map(|j| stats_of.iter().map(move |(mu, sd)| f(mu[j], sd[j])))
            .collect()
    };
    let inv_std = per_feature(&|_, sd| 1.0 / sd);
    let scaled_mean = per_feature(&|mu, sd| mu / sd);
    let (mean, std) = stats_of[exported].clone();

    let ad = device.clone().autodiff();
    let raw: Vec<f32> = features.iter().flatten().copied().collect();
    let x = Tensor::<2>::from_data(TensorData::new(raw, [n, d]), &ad);
    let inv_std = Tensor::<3>::from_data(TensorData::new(inv_std, [d, heads, 1]), &ad);
    let scaled_mean = Tensor::<3>::from_data(TensorData::new(scaled_mean, [d, heads, 1]), &ad);
    let one_hot: Vec<f32> = labels
        .iter()
        .flat_map(|&l| (0..c).map(move |k| if k == l { 1.0 } else { 0.0 }))
        .collect();
    let one_hot = Tensor::<3>::from_data(TensorData::new(one_hot, [n, 1, c]), &ad);
    // Each head's loss is a mean over its own training photos.
    let counts: Vec<f32> = (0..heads)
        .map(|m| masks.iter().map(|row| row[m]).sum::<f32>())
        .collect();
    let weights: Vec<f32> = masks
        .iter()
        .flat_map(|row| row.iter().zip(&counts).map(|(w, k)| w / k))
        .collect();
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [n, heads]), &ad);

    let mut model = Heads {
        weight: Param::from_tensor(Tensor::zeros([d, heads * c], &ad)),
        bias: Param::from_tensor(Tensor::zeros([heads * c], &ad)),
    };
    let mut optim = AdamConfig::new().init();
    let mut epochs = Vec::with_capacity(config.epochs);
    for epoch in 0..=config.epochs {
        let w = model.weight.val().reshape([d, heads, c]);
        let shift = (w.clone() * scaled_mean.clone())
            .sum_dim(0)
            .reshape([1, heads * c]);
        let w_raw = (w * inv_std.clone()).reshape([d, heads * c]);
        let logits = x.clone().matmul(w_raw) + model.bias.val().reshape([1, heads * c]) - shift;
        let logits = logits.reshape([n, heads, c]);
        let nll = -(log_softmax(logits.clone(), 2) * one_hot.clone()).sum_dim(2);
        let data_loss = (nll.reshape([n, heads]) * weights.clone()).sum();
        let penalty = model
            .weight
            .val()
            .square()
            .sum()
            .mul_scalar(config.weight_decay / 2.0);
        let loss = data_loss + penalty;
        if epoch > 0 {
            let host_logits = read_f32(logits.detach()).await?;
            let line = stats(epoch, &host_logits, labels, &masks, heads, c, config);
            let go_on = on_epoch(&line).await;
            epochs.push(line);
            if !go_on {
                break;
            }
        }
        if epoch == config.epochs {
            break;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &model);
        model = optim.step(config.learning_rate, model, grads);
    }

    // Columns of the exported head, back to raw features: w/σ and b − Σ w·μ/σ.
    let w = read_f32(model.weight.val()).await?;
    let b = read_f32(model.bias.val()).await?;
    let mut weight = vec![0.0f32; c * d];
    let mut bias = vec![0.0f32; c];
    for (k, (row, bias_k)) in weight.chunks_exact_mut(d).zip(&mut bias).enumerate() {
        let col = exported * c + k;
        let mut shift = 0.0f64;
        for (j, (out, (s, m))) in row.iter_mut().zip(std.iter().zip(&mean)).enumerate() {
            *out = w[j * heads * c + col] / s;
            shift += (*out * m) as f64;
        }
        *bias_k = b[col] - shift as f32;
    }
    Ok(TrainedHead {
        head: LinearHead {
            classes,
            backbone,
            weight,
            bias,
            layer4: None,
        },
        epochs,
        validation: config.validation,
        held_out,
    })
}

pub(crate) fn check_dataset(
    features: &[Vec<f32>],
    labels: &[usize],
    classes: &[String],
    d: usize,
) -> Result<()> {
    let c = classes.len();
    if !(2..=MAX_CLASSES).contains(&c) {
        return Err(Error::Dataset(format!(
            "{c} class(es): a head needs 2 to {MAX_CLASSES} classes"
        )));
    }
    if features.len() != labels.len() || features.iter().any(|f| f.len() != d) {
        return Err(Error::Dataset(format!(
            "every photo needs {d} features and one label"
        )));
    }
    for (k, name) in classes.iter().enumerate() {
        let count = labels.iter().filter(|&&l| l == k).count();
        if count < MIN_PHOTOS_PER_CLASS {
            return Err(Error::Dataset(format!(
                "class `{name}` has {count} photo(s); each class needs at least {MIN_PHOTOS_PER_CLASS}"
            )));
        }
    }
    if labels.iter().any(|&l| l >= c) {
        return Err(Error::Dataset("a label names no class".into()));
    }
    Ok(())
}

/// Stratified split: from each class, `held_out_count` photos chosen by a seeded shuffle.
pub(crate) fn split(labels: &[usize], classes: usize, fraction: f64, seed: u64) -> Vec<usize> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut held_out = Vec::new();
    for k in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == k).collect();
        members.shuffle(&mut rng);
        held_out.extend_from_slice(&members[..held_out_count(members.len(), fraction)]);
    }
    held_out.sort_unstable();
    held_out
}

/// Per-feature mean and standard deviation over `rows`; a constant feature gets σ = 1.
pub(crate) fn standardisation(
    features: &[Vec<f32>],
    rows: &[usize],
    d: usize,
) -> (Vec<f32>, Vec<f32>) {
    let k = rows.len() as f64;
    let mut mean = vec![0.0f64; d];
    for &i in rows {
        for (m, v) in mean.iter_mut().zip(&features[i]) {
            *m += *v as f64 / k;
        }
    }
    let mut var = vec![0.0f64; d];
    for &i in rows {
        for ((s, v), m) in var.iter_mut().zip(&features[i]).zip(&mean) {
            *s += (*v as f64 - m).powi(2) / k;
        }
    }
    let std = var
        .iter()
        .map(|v| {
            if v.sqrt() > 1e-6 {
                v.sqrt() as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|m| *m as f32).collect(), std)
}

/// Loss and accuracies from one forward pass (`logits`: `[n, heads, classes]`).
pub(crate) fn stats(
    epoch: usize,
    logits: &[f32],
    labels: &[usize],
    masks: &[Vec<f32>],
    heads: usize,
    c: usize,
    config: &TrainConfig,
) -> EpochStats {
    let exported = heads - 1;
    let predicted = |i: usize, m: usize| {
        let row = &logits[(i * heads + m) * c..][..c];
        (0..c).fold(0, |best, k| if row[k] > row[best] { k } else { best })
    };
    let accuracy = |pairs: &[(usize, usize)]| {
        let right = pairs
            .iter()
            .filter(|&&(i, m)| predicted(i, m) == labels[i])
            .count();
        right as f64 / pairs.len().max(1) as f64
    };
    let n = labels.len();
    let train: Vec<(usize, usize)> = (0..n)
        .filter(|&i| masks[i][exported] > 0.0)
        .map(|i| (i, exported))
        .collect();
    let val: Vec<(usize, usize)> = match config.validation {
        Validation::None => Vec::new(),
        Validation::Split(_) => (0..n)
            .filter(|&i| masks[i][exported] == 0.0)
            .map(|i| (i, exported))
            .collect(),
        // Photo i against the head that did not see it.
        Validation::LeaveOneOut => (0..n).map(|i| (i, i)).collect(),
    };
    let loss = exported_loss(logits, labels, &train, heads, c);
    EpochStats {
        epoch,
        loss,
        train_accuracy: accuracy(&train),
        val_accuracy: (!val.is_empty()).then(|| accuracy(&val)),
    }
}

/// Mean cross-entropy of the exported head over its training photos `rows`.
fn exported_loss(
    logits: &[f32],
    labels: &[usize],
    rows: &[(usize, usize)],
    heads: usize,
    c: usize,
) -> f64 {
    let total: f64 = rows
        .iter()
        .map(|&(i, m)| {
            let row = &logits[(i * heads + m) * c..][..c];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
            let sum: f64 = row.iter().map(|&z| (z as f64 - max).exp()).sum();
            max + sum.ln() - row[labels[i]] as f64
        })
        .sum();
    total / rows.len().max(1) as f64
}
