//! Training the head together with the last stage (`layer4`), on the cached layer3 outputs
//! of the photos (see [`crate::transfer::layer4`]).
//!
//! The same objective as the frozen head ([`crate::transfer::train`]): mean cross-entropy +
//! λ/2·‖W‖² on the head's weight, full batch, the head starting at zero and reading
//! standardised features. The standardisation (mean and population std over the training
//! photos) is that of the *pretrained* layer4's features and stays fixed while layer4 moves, so
//! the run starts exactly where the frozen head's starts. Two `burn::optim` Adams step the two
//! parameter groups: the head at `learning_rate`, layer4 (convolutions and BatchNorm γ, β; the
//! running statistics are fixed: BatchNorm in eval mode) at `layer4_learning_rate`, without
//! weight decay. Photos go through in passes of [`PHOTOS_PER_PASS`] whose gradients add up
//! to the full-batch one, which bounds the memory the backward pass holds.
//!
//! Validation is a split or none: leave-one-out would fine-tune one layer4 per photo.

use burn::module::{Module, Param};
use burn::optim::{AdamConfig, GradientsAccumulator, GradientsParams};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::config::ResNetConfig;
use crate::predict::read_f32;
use crate::transfer::backbone::BackboneId;
use crate::transfer::dataset::{TrainingSet, held_out_photos, standardisation};
use crate::transfer::head::LinearHead;
use crate::transfer::layer4::TrainableStage;
use crate::transfer::stats::Layout;
use crate::transfer::train::{EpochStats, TrainConfig, TrainedHead, Validation};
use crate::weights::tensor_set::TensorSet;

/// Photos per forward and backward pass (their gradients are summed before each step).
pub const PHOTOS_PER_PASS: usize = 16;

/// The photos' cached layer4 inputs (layer3 outputs): one row of `C·H·W` values each.
#[derive(Debug, Clone)]
pub struct StageInputs {
    pub rows: Vec<Vec<f32>>,
    /// `[C, H, W]`.
    pub shape: [usize; 3],
}

/// What to fine-tune on: the photos, their labels and the network they came from.
pub struct Layer4Job<'a> {
    pub inputs: &'a StageInputs,
    pub labels: &'a [usize],
    pub classes: Vec<String>,
    pub backbone: BackboneId,
    /// layer4's tensors before fine-tuning ([`crate::transfer::layer4::copy_stage`]).
    pub stage: &'a TensorSet,
    pub architecture: &'a ResNetConfig,
}

/// The head's parameters in standardised-feature space: `[features, classes]` and `[classes]`.
#[derive(Module, Debug)]
struct Head {
    weight: Param<Tensor<2>>,
    bias: Param<Tensor<1>>,
}

impl Head {
    fn logits(&self, features: Tensor<2>, scaling: &Scaling) -> Tensor<2> {
        let [_, c] = self.weight.dims();
        let standardised = (features - scaling.mean.clone()) * scaling.inv_std.clone();
        standardised.matmul(self.weight.val()) + self.bias.val().reshape([1, c])
    }
}

/// The fixed standardisation, `[1, features]` each.
#[derive(Clone)]
struct Scaling {
    mean: Tensor<2>,
    inv_std: Tensor<2>,
}

/// [`train_with_layer4_observed`] without watching.
pub async fn train_with_layer4(
    job: Layer4Job<'_>,
    config: &TrainConfig,
    device: &Device,
) -> Result<TrainedHead> {
    let go_on = |_: &EpochStats| std::future::ready(true);
    train_with_layer4_observed(job, config, device, go_on).await
}

/// Trains the head and layer4 together, telling `on_epoch` each epoch's numbers (the exported
/// head after that many steps); when it answers `false` training stops there. The returned
/// head carries the fine-tuned layer4.
pub async fn train_with_layer4_observed<F, Fut>(
    job: Layer4Job<'_>,
    config: &TrainConfig,
    device: &Device,
    mut on_epoch: F,
) -> Result<TrainedHead>
where
    F: FnMut(&EpochStats) -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let Layer4Job {
        inputs,
        labels,
        classes,
        backbone,
        stage: original,
        architecture,
    } = job;
    let (n, d, c) = (inputs.rows.len(), backbone.feature_width, classes.len());
    let plane: usize = inputs.shape.iter().product();
    if labels.len() != n {
        return Err(Error::Dataset("every photo needs one label".into()));
    }
    if inputs.rows.iter().any(|r| r.len() != plane) {
        return Err(Error::Dataset(format!(
            "every photo needs a layer3 output of {plane} values"
        )));
    }
    let held_out = match config.validation {
        Validation::None => Vec::new(),
        Validation::Split(_) => held_out_photos(labels, c, config.validation, config.seed),
        Validation::LeaveOneOut => {
            return Err(Error::Dataset(
                "leave-one-out would fine-tune one layer4 per photo: use a validation split or none"
                    .into(),
            ));
        }
    };
    let train_rows: Vec<usize> = (0..n).filter(|i| !held_out.contains(i)).collect();
    let masks: Vec<Vec<f32>> = (0..n)
        .map(|i| vec![if held_out.contains(&i) { 0.0 } else { 1.0 }])
        .collect();

    let ad = device.clone().autodiff();
    let plain = ad.clone().inner();
    let mut stage = TrainableStage::new(original, architecture, &ad)?;

    // The pretrained layer4's features fix the standardisation.
    let mut initial = vec![Vec::new(); n];
    let all: Vec<usize> = (0..n).collect();
    let frozen = stage.valid();
    for chunk in all.chunks(PHOTOS_PER_PASS) {
        let pooled = frozen.pooled(upload(inputs, chunk, &plain)?);
        let [_, width] = pooled.dims();
        if width != d {
            return Err(Error::Head(format!(
                "layer4 gives {width} features; the head reads {d}"
            )));
        }
        let values = read_f32(pooled).await?;
        for (&i, row) in chunk.iter().zip(values.chunks_exact(d.max(1))) {
            initial[i] = row.to_vec();
        }
    }
    drop(frozen);
    TrainingSet::photos(&initial, labels).check(&classes, d)?;
    let rows: Vec<&Vec<f32>> = initial.iter().collect();
    let (mean, std) = standardisation(&rows, &train_rows, d);
    let inv_std: Vec<f32> = std.iter().map(|s| 1.0 / s).collect();
    let scaling = Scaling {
        mean: Tensor::from_data(TensorData::new(mean.clone(), [1, d]), &ad),
        inv_std: Tensor::from_data(TensorData::new(inv_std, [1, d]), &ad),
    };
    let plain_scaling = Scaling {
        mean: scaling.mean.clone().inner(),
        inv_std: scaling.inv_std.clone().inner(),
    };

    let mut head = Head {
        weight: Param::from_tensor(Tensor::zeros([d, c], &ad)),
        bias: Param::from_tensor(Tensor::zeros([c], &ad)),
    };
    let mut head_optim = AdamConfig::new().init();
    let mut stage_optim = AdamConfig::new().init();
    let share = 1.0 / train_rows.len().max(1) as f64;
    let mut epochs = Vec::with_capacity(config.epochs);
    for epoch in 0..=config.epochs {
        let stepping = epoch < config.epochs;
        let mut logits = vec![0.0f32; n * c];
        let mut head_grads = GradientsAccumulator::<Head>::new();
        let mut stage_grads = GradientsAccumulator::<TrainableStage>::new();
        if stepping {
            for (pass, chunk) in train_rows.chunks(PHOTOS_PER_PASS).enumerate() {
                let z = head.logits(stage.pooled(upload(inputs, chunk, &ad)?), &scaling);
                let one_hot: Vec<f32> = chunk
                    .iter()
                    .flat_map(|&i| (0..c).map(move |k| if k == labels[i] { 1.0 } else { 0.0 }))
                    .collect();
                let one_hot =
                    Tensor::<2>::from_data(TensorData::new(one_hot, [chunk.len(), c]), &ad);
                let nll = -(log_softmax(z.clone(), 1) * one_hot).sum_dim(1);
                let mut loss = nll.sum().mul_scalar(share);
                if pass == 0 {
                    let penalty = head.weight.val().square().sum();
                    loss = loss + penalty.mul_scalar(config.weight_decay / 2.0);
                }
                scatter(&mut logits, chunk, &read_f32(z.detach()).await?, c);
                let mut grads = loss.backward();
                head_grads.accumulate(&head, GradientsParams::from_module(&mut grads, &head));
                stage_grads.accumulate(&stage, GradientsParams::from_module(&mut grads, &stage));
            }
        }
        if epoch > 0 {
            // The photos without a backward pass: the held-out ones, and after the last step all.
            let rest: Vec<usize> = match stepping {
                true => held_out.clone(),
                false => all.clone(),
            };
            let (frozen_stage, frozen_head) = (stage.valid(), head.valid());
            for chunk in rest.chunks(PHOTOS_PER_PASS) {
                let features = frozen_stage.pooled(upload(inputs, chunk, &plain)?);
                let z = frozen_head.logits(features, &plain_scaling);
                scatter(&mut logits, chunk, &read_f32(z).await?, c);
            }
            if logits.iter().any(|v| !v.is_finite()) {
                return Err(Error::Backend(format!(
                    "training diverged at epoch {epoch} (NaN or infinite logits)"
                )));
            }
            let layout = Layout {
                photos: n,
                heads: 1,
                classes: c,
                labels,
                masks: &masks,
                validation: config.validation,
            };
            let line = layout.stats(epoch, &logits);
            let go_on = on_epoch(&line).await;
            epochs.push(line);
            if !go_on {
                break;
            }
        }
        if !stepping {
            break;
        }
        head = head_optim.step(config.learning_rate, head, head_grads.grads());
        stage = stage_optim.step(config.layer4_learning_rate, stage, stage_grads.grads());
    }

    // The head back to raw features: w/σ and b − Σ w·μ/σ.
    let w = read_f32(head.weight.val().inner()).await?;
    let b = read_f32(head.bias.val().inner()).await?;
    let mut weight = vec![0.0f32; c * d];
    let mut bias = vec![0.0f32; c];
    for (k, (row, bias_k)) in weight.chunks_exact_mut(d).zip(&mut bias).enumerate() {
        let mut shift = 0.0f64;
        for (j, (out, (s, m))) in row.iter_mut().zip(std.iter().zip(&mean)).enumerate() {
            *out = w[j * c + k] / s;
            shift += (*out * m) as f64;
        }
        *bias_k = b[k] - shift as f32;
    }
    let layer4 = stage.to_tensors(original, architecture).await?;
    Ok(TrainedHead {
        head: LinearHead {
            classes,
            backbone,
            weight,
            bias,
            layer4: Some(layer4),
        },
        epochs,
        validation: config.validation,
        held_out,
        train_rows: train_rows.len(),
    })
}

/// The rows `chunk` of the cached inputs as one `[k, C, H, W]` batch on `device`.
fn upload(inputs: &StageInputs, chunk: &[usize], device: &Device) -> Result<Tensor<4>> {
    let [ch, h, w] = inputs.shape;
    let mut values = Vec::with_capacity(chunk.len() * ch * h * w);
    for &i in chunk {
        values.extend_from_slice(&inputs.rows[i]);
    }
    Ok(Tensor::from_data(
        TensorData::new(values, [chunk.len(), ch, h, w]),
        device,
    ))
}

/// Puts a pass's `[k, classes]` logits into the rows `chunk` of `[n, classes]`.
fn scatter(logits: &mut [f32], chunk: &[usize], values: &[f32], c: usize) {
    for (&i, row) in chunk.iter().zip(values.chunks_exact(c)) {
        logits[i * c..(i + 1) * c].copy_from_slice(row);
    }
}
