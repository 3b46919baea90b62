//! Training a linear softmax head on frozen features: multinomial logistic regression with
//! an L2 penalty on the weights (weight decay), full-batch Adam from `burn::optim`, on
//! standardised features (the standardisation is folded into the exported weights).
//!
//! Validation: a stratified, seeded split, or leave-one-out when the split would hold too few
//! photos to say anything. Leave-one-out trains one head per photo (each without that photo)
//! beside the exported head (trained on all photos): they are columns of one weight matrix,
//! each with its own masked loss, so one matrix product per step trains them all, and Adam's
//! per-parameter updates keep them exactly as independent as separate runs.
//!
//! Augmented views of a photo (see [`TrainingSet`]) are more training rows under the same
//! masks as their photo: a head that holds a photo out holds out its views too.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

pub use crate::transfer::dataset::{
    MAX_LEAVE_ONE_OUT, MIN_PHOTOS_PER_CLASS, MIN_VALIDATION_PHOTOS, TrainingSet, Validation,
    held_out_photos,
};

use crate::error::Result;
use crate::predict::read_f32;
use crate::transfer::backbone::BackboneId;
use crate::transfer::dataset::standardisation;
use crate::transfer::head::LinearHead;
use crate::transfer::stats::Layout;

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
    /// The exported head's mean cross-entropy on its training rows (without the penalty).
    pub loss: f64,
    /// On the exported head's training rows: its photos' centre crops and their views.
    pub train_accuracy: f64,
    /// `None` without validation (held-out photos' centre crops only).
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
    /// Rows the exported head was trained on: its photos' centre crops and augmented views.
    pub train_rows: usize,
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
    let set = TrainingSet::photos(features, labels);
    train_head_on(set, classes, backbone, config, device, go_on).await
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
    on_epoch: F,
) -> Result<TrainedHead>
where
    F: FnMut(&EpochStats) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let set = TrainingSet::photos(features, labels);
    train_head_on(set, classes, backbone, config, device, on_epoch).await
}

/// [`train_head_observed`] on a [`TrainingSet`], augmented views included.
pub async fn train_head_on<F, Fut>(
    set: TrainingSet<'_>,
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
    let (n, d, c) = (set.features.len(), backbone.feature_width, classes.len());
    set.check(&classes, d)?;
    let rows: Vec<&Vec<f32>> = set.rows().collect();
    let row_photos = set.row_photos();
    let r = rows.len();
    let row_labels: Vec<usize> = row_photos.iter().map(|&p| set.labels[p]).collect();

    // Which photos each head trains on (mask[i][m]) and which one is exported.
    let held_out = held_out_photos(set.labels, c, config.validation, config.seed);
    let (heads, masks) = match config.validation {
        Validation::None => (1, vec![vec![1.0f32]; n]),
        Validation::Split(_) => {
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
    // A view is held out wherever its photo is.
    let masks: Vec<Vec<f32>> = row_photos.iter().map(|&p| masks[p].clone()).collect();
    let exported = heads - 1;
    // Each head standardises with its own training rows (zero mean, unit variance): a
    // held-out photo must not shape the statistics it is judged with (with the all-photo mean,
    // leave-one-out on 15 + 5 photos scored 45 % instead of 85 %). The head sees
    // (x − μ_m)/σ_m, computed as x·(W_m/σ_m) − (μ_m/σ_m)·W_m on the raw features.
    let stats_of: Vec<(Vec<f32>, Vec<f32>)> = (0..heads)
        .map(|m| {
            let trained: Vec<usize> = (0..r).filter(|&i| masks[i][m] > 0.0).collect();
            standardisation(&rows, &trained, d)
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
    let raw: Vec<f32> = rows.iter().flat_map(|f| f.iter()).copied().collect();
    let x = Tensor::<2>::from_data(TensorData::new(raw, [r, d]), &ad);
    let inv_std = Tensor::<3>::from_data(TensorData::new(inv_std, [d, heads, 1]), &ad);
    let scaled_mean = Tensor::<3>::from_data(TensorData::new(scaled_mean, [d, heads, 1]), &ad);
    let one_hot: Vec<f32> = row_labels
        .iter()
        .flat_map(|&l| (0..c).map(move |k| if k == l { 1.0 } else { 0.0 }))
        .collect();
    let one_hot = Tensor::<3>::from_data(TensorData::new(one_hot, [r, 1, c]), &ad);
    // Each head's loss is a mean over its own training rows.
    let counts: Vec<f32> = (0..heads)
        .map(|m| masks.iter().map(|row| row[m]).sum::<f32>())
        .collect();
    let weights: Vec<f32> = masks
        .iter()
        .flat_map(|row| row.iter().zip(&counts).map(|(w, k)| w / k))
        .collect();
    let weights = Tensor::<2>::from_data(TensorData::new(weights, [r, heads]), &ad);
    let layout = Layout {
        photos: n,
        heads,
        classes: c,
        labels: &row_labels,
        masks: &masks,
        validation: config.validation,
    };

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
        let logits = logits.reshape([r, heads, c]);
        let nll = -(log_softmax(logits.clone(), 2) * one_hot.clone()).sum_dim(2);
        let data_loss = (nll.reshape([r, heads]) * weights.clone()).sum();
        let penalty = model
            .weight
            .val()
            .square()
            .sum()
            .mul_scalar(config.weight_decay / 2.0);
        let loss = data_loss + penalty;
        if epoch > 0 {
            let host_logits = read_f32(logits.detach()).await?;
            let line = layout.stats(epoch, &host_logits);
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
        train_rows: layout.train_rows(),
    })
}
