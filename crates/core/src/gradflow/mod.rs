//! Why skip connections work, measured on a real network.
//!
//! For an input image and a class `c` with logit `z_c`, every residual block `b` computes
//! `u_b = F_b(x_b) + S_b(x_b)` and then `ReLU(u_b)`. By the chain rule
//!
//! `∂z/∂x_b = S_bᵀ g_u + J_F_bᵀ g_u`,   with `g_u = ∂z/∂u_b`,
//!
//! which for an identity shortcut is the guide's `∂L/∂x = ∂L/∂H · (1 + ∂F/∂x)`: the first
//! term passes the gradient through untouched. This module measures both terms per block,
//! the same network with every shortcut removed (the "plain" network), and saliency maps,
//! with Burn's autodiff on whichever backend the device names.
//!
//! How the two terms are separated in a single backward pass: each block gets two zero-valued
//! probe tensors, one added to the shortcut's input and one to the branch's input. Adding zero
//! changes nothing in the forward pass, and the gradient with respect to each probe is exactly
//! the part of `∂z/∂x_b` that flows through that path.

use std::sync::{Arc, OnceLock};

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::config::{BlockInfo, ResNetConfig};
use crate::model::cpu_backward::{CpuBackward, ForwardTrace};
use crate::model::init::has_fresh_batchnorm;
use crate::model::layers::BatchStats;
use crate::model::{CpuForward, ResNet};
use crate::predict::{is_cpu, read_f32, top_k};
use crate::transfer::BackboneId;
use crate::weights::{LoadedWeights, ModelInfo};

mod channel_last;
mod inputs;
mod target;

use target::Readout;
pub use target::Target;

pub use inputs::{
    analysis_input, he_initialized_weights, he_initialized_weights_with, input_side, noise_batch,
    noise_input, parse_arch,
};
// The report is plain data shared with the page (which does not link Burn): defined once in
// the protocol crate.
pub use resnet_lab_protocol::report::{
    BatchNormMode, BlockGradient, GradFlowReport, HeInitOptions, Saliency,
};

/// Images in a training-mode batch unless asked otherwise, and the most accepted.
pub const DEFAULT_BATCH: usize = 8;
pub const MAX_BATCH: usize = 64;

/// How BatchNorm computes in an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GradFlowOptions {
    pub batch_norm: BatchNormMode,
    /// Training mode: images per batch, the analysed one first, then standard normal noise
    /// images drawn from `noise_seed`.
    pub batch: usize,
    pub noise_seed: u64,
}

impl Default for GradFlowOptions {
    fn default() -> Self {
        Self {
            batch_norm: BatchNormMode::Eval,
            batch: DEFAULT_BATCH,
            noise_seed: 0,
        }
    }
}

/// A network prepared for gradient analysis: built once on an autodiff version of a device,
/// then asked about any number of images and classes.
#[derive(Debug)]
pub struct GradFlowAnalyzer {
    /// The network on the autodiff device (`None` for an analyzer made from a classifier's
    /// channel-last network, [`Self::from_channel_last`]).
    model: Option<ResNet>,
    config: ResNetConfig,
    labels: LabelSet,
    name: String,
    device: Device,
    /// Whether BatchNorm is at fresh parameters (training mode is offered only then).
    fresh_batchnorm: bool,
    /// Which weights these are, for heads trained on them ([`Target::Head`]).
    backbone: Option<BackboneId>,
    /// On the CPU device, analyses in inference mode run on the channel-last path
    /// (`channel_last.rs`), about half the work of Burn's autodiff there.
    cpu: Option<ChannelLast>,
}

/// The channel-last network and its backward pass, each arranged on first use.
#[derive(Debug, Default)]
struct ChannelLast {
    forward: OnceLock<Arc<CpuForward>>,
    backward: OnceLock<CpuBackward>,
}

impl GradFlowAnalyzer {
    /// Uploads the weights to an autodiff version of `device`.
    pub fn new(weights: LoadedWeights, device: &Device) -> Result<Self> {
        let config = weights.info.config.clone();
        let fresh_batchnorm = has_fresh_batchnorm(&config, &weights.tensors);
        let backbone = BackboneId::of(&weights).ok();
        let cpu = is_cpu(device).then(ChannelLast::default);
        let ad = device.clone().autodiff();
        // Gradients are wanted for activations only, not for the millions of weights.
        let model = ResNet::from_tensors(&config, weights.tensors, &ad)?.no_grad();
        Ok(Self {
            model: Some(model),
            labels: weights.info.labels.clone(),
            name: weights.info.name(),
            config,
            device: ad,
            fresh_batchnorm,
            backbone,
            cpu,
        })
    }

    /// The channel-last forward pass and its gradients, on the CPU device; its weights are
    /// arranged on the first analysis.
    fn channel_last(&self) -> Result<Option<(&Arc<CpuForward>, &CpuBackward)>> {
        let Some(cpu) = &self.cpu else {
            return Ok(None);
        };
        let forward = match cpu.forward.get() {
            Some(ready) => ready,
            None => {
                let built = Arc::new(CpuForward::from_model(self.autodiff_model()?)?);
                cpu.forward.get_or_init(|| built)
            }
        };
        Ok(Some((
            forward,
            cpu.backward.get_or_init(|| forward.adjoint()),
        )))
    }

    /// An analyzer that shares a classifier's channel-last network (the CPU device, inference
    /// mode only): nothing is uploaded or arranged again, and a classification's forward pass
    /// of the same image can be reused ([`Self::analyze_traced`]).
    pub fn from_channel_last(
        network: Arc<CpuForward>,
        info: &ModelInfo,
        backbone: Option<BackboneId>,
        device: &Device,
    ) -> Self {
        let cpu = ChannelLast::default();
        let _ = cpu.forward.set(network);
        Self {
            model: None,
            config: info.config.clone(),
            labels: info.labels.clone(),
            name: info.name(),
            device: device.clone().autodiff(),
            fresh_batchnorm: false,
            backbone,
            cpu: Some(cpu),
        }
    }

    fn autodiff_model(&self) -> Result<&ResNet> {
        self.model.as_ref().ok_or_else(|| {
            Error::Input(
                "this analysis needs the network on an autodiff device; it was given the \
                 channel-last network only"
                    .into(),
            )
        })
    }

    /// The architecture being analysed.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// One forward and backward pass for the residual network and one for the plain network,
    /// BatchNorm in inference mode.
    ///
    /// `input` is one preprocessed image, `[3, height, width]`; `class` defaults to the top-1.
    pub async fn analyze(
        &self,
        input: &[f32],
        size: [usize; 2],
        class: Option<usize>,
    ) -> Result<GradFlowReport> {
        self.analyze_with(input, size, class, &GradFlowOptions::default())
            .await
    }

    /// [`Self::analyze`] with BatchNorm as `options` say: in training mode the image is the
    /// first of a batch completed by seeded noise images.
    pub async fn analyze_with(
        &self,
        input: &[f32],
        size: [usize; 2],
        class: Option<usize>,
        options: &GradFlowOptions,
    ) -> Result<GradFlowReport> {
        self.analyze_target(input, size, Target::Model(class), options)
            .await
    }

    /// [`Self::analyze_with`] for the logit `target` names: one of the network's classes or
    /// one of a head's trained on its pooled features.
    pub async fn analyze_target(
        &self,
        input: &[f32],
        [height, width]: [usize; 2],
        target: Target<'_>,
        options: &GradFlowOptions,
    ) -> Result<GradFlowReport> {
        match options.batch_norm {
            BatchNormMode::Eval => {
                self.analyze_batch(input, 1, [height, width], target, BatchNormMode::Eval)
                    .await
            }
            BatchNormMode::Train => {
                if !(1..=MAX_BATCH).contains(&options.batch) {
                    return Err(Error::Input(format!(
                        "a batch of {} images: use 1 to {MAX_BATCH}",
                        options.batch
                    )));
                }
                let mut images = input.to_vec();
                images.extend(noise_batch(
                    options.batch - 1,
                    [height, width],
                    options.noise_seed,
                ));
                self.analyze_batch(
                    &images,
                    options.batch,
                    [height, width],
                    target,
                    BatchNormMode::Train,
                )
                .await
            }
        }
    }

    /// The analysis of the first of `batch` images (`[batch, 3, height, width]` in `images`).
    /// Every number is the first image's: its logit, its activations, and the gradient of its
    /// logit at its activations (in training mode that includes the paths through the batch
    /// statistics, which the other images share).
    pub async fn analyze_batch(
        &self,
        images: &[f32],
        batch: usize,
        size: [usize; 2],
        target: Target<'_>,
        batch_norm: BatchNormMode,
    ) -> Result<GradFlowReport> {
        self.analyze_batch_traced(images, batch, size, target, batch_norm, None)
            .await
    }

    /// [`Self::analyze_target`] in inference mode, reusing `trace` (a classification's forward
    /// pass on the same channel-last network) when it is of this very image: the analysis then
    /// costs the residual network's backward pass and the plain network's two.
    pub async fn analyze_traced(
        &self,
        input: &[f32],
        size: [usize; 2],
        target: Target<'_>,
        trace: Option<&ForwardTrace>,
    ) -> Result<GradFlowReport> {
        self.analyze_batch_traced(input, 1, size, target, BatchNormMode::Eval, trace)
            .await
    }

    async fn analyze_batch_traced(
        &self,
        images: &[f32],
        batch: usize,
        [height, width]: [usize; 2],
        target: Target<'_>,
        batch_norm: BatchNormMode,
        trace: Option<&ForwardTrace>,
    ) -> Result<GradFlowReport> {
        if batch == 0 || images.len() != batch * 3 * height * width {
            return Err(Error::Input(format!(
                "the input holds {} values; {batch} [3, {height}, {width}] images have {}",
                images.len(),
                batch * 3 * height * width
            )));
        }
        if height < 32 || width < 32 {
            return Err(Error::Input(format!(
                "a {height}×{width} input is too small (at least 32×32)"
            )));
        }
        let stats = match batch_norm {
            BatchNormMode::Eval => BatchStats::Stored,
            BatchNormMode::Train if self.fresh_batchnorm => BatchStats::Batch {
                eps: self.config.bn_eps,
            },
            BatchNormMode::Train => {
                return Err(Error::Input(
                    "BatchNorm in training mode is offered for freshly initialised networks \
                     only (γ 0 or 1, β 0, statistics 0 and 1): a trained network's BatchNorm \
                     is folded into its convolutions"
                        .into(),
                ));
            }
        };
        let (config, ad) = (&self.config, &self.device);
        let readout = Readout::new(&target, &self.labels, self.backbone.as_ref(), ad)?;
        if batch_norm == BatchNormMode::Eval
            && let Some(network) = self.channel_last()?
        {
            // In inference mode the first image's numbers are its own: the others are not read.
            let image = &images[..3 * height * width];
            let traced = trace.filter(|t| t.is_of(network.0, image, [height, width]));
            return channel_last::analyze(
                self,
                network,
                image,
                [height, width],
                (&target, &readout),
                traced,
            );
        }
        let model = self.autodiff_model()?;
        let image = || {
            Tensor::<4>::from_data(
                TensorData::new(images.to_vec(), [batch, 3, height, width]),
                ad,
            )
        };

        // Residual network: forward with probes.
        let x0 = image().require_grad();
        let mut h = model.forward_stem_stats(x0.clone(), stats);
        let mut probes = Vec::with_capacity(model.blocks.len());
        let mut activations = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            activations.push(l2(first(h.clone())));
            let to_shortcut = h.zeros_like().require_grad();
            let to_branch = h.zeros_like().require_grad();
            let u = block.shortcut_stats(h.clone() + to_shortcut.clone(), stats)
                + block.residual_stats(h + to_branch.clone(), stats);
            h = relu(u);
            probes.push((to_shortcut, to_branch));
        }
        let features_probe = h.zeros_like().require_grad();
        let features = h + features_probe.clone();
        let logits = first(readout.logits(model, features.clone()));
        let logit_values = read_f32(logits.clone().inner()).await?;
        let class = pick_class(&target, &logit_values)?;
        let z = logits.narrow(1, class, 1).sum();
        let grads = z.backward();

        // Norms are computed on the device and read back together (one sync, not one per block).
        let missing = || Error::Backend("autodiff returned no gradient for a probe".into());
        let mut norms = Vec::new();
        for (to_shortcut, to_branch) in &probes {
            let gs = first(to_shortcut.grad(&grads).ok_or_else(missing)?);
            let gf = first(to_branch.grad(&grads).ok_or_else(missing)?);
            norms.push(l2(gs.clone() + gf.clone()));
            norms.push(l2(gs));
            norms.push(l2(gf));
        }
        let input_grad = first(x0.grad(&grads).ok_or_else(missing)?);
        norms.push(l2(input_grad.clone()));
        norms.extend(activations);
        let residual_norms = read_f32(Tensor::cat(norms, 0)).await?;

        // Saliency: Grad-CAM weights each last-stage channel by its mean gradient.
        let feature_grad = first(features_probe.grad(&grads).ok_or_else(missing)?);
        let [_, _, fh, fw] = feature_grad.dims();
        let alpha = feature_grad.mean_dim(3).mean_dim(2);
        let cam = relu((first(features.inner()) * alpha).sum_dim(1)).reshape([fh * fw]);
        let grad_cam = scale_to_unit(read_f32(cam).await?);
        let input_map = input_grad.abs().max_dim(1).reshape([height * width]);
        let input_gradient = scale_to_unit(read_f32(input_map).await?);

        // Plain network: the same weights, every shortcut removed.
        let x0 = image().require_grad();
        let mut h = model.forward_stem_stats(x0.clone(), stats);
        let mut plain_probes = Vec::with_capacity(model.blocks.len());
        let mut activations = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            activations.push(l2(first(h.clone())));
            let probe = h.zeros_like().require_grad();
            h = relu(block.residual_stats(h + probe.clone(), stats));
            plain_probes.push(probe);
        }
        let z = first(readout.logits(model, h)).narrow(1, class, 1).sum();
        let grads = z.backward();
        let mut norms = Vec::new();
        for probe in &plain_probes {
            // A block whose whole input was cut off by ReLUs has no gradient: its norm is zero.
            norms.push(
                probe
                    .grad(&grads)
                    .map_or_else(|| zero(ad), |g| l2(first(g))),
            );
        }
        norms.push(x0.grad(&grads).map_or_else(|| zero(ad), |g| l2(first(g))));
        norms.extend(activations);
        let plain_norms = read_f32(Tensor::cat(norms, 0)).await?;

        let infos = config.blocks();
        let n = infos.len();
        let blocks = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let acts = [residual_norms[3 * n + 1 + i], plain_norms[n + 1 + i]];
                block_gradient(
                    info,
                    &residual_norms[3 * i..3 * i + 3],
                    plain_norms[i],
                    acts,
                )
            })
            .collect();
        Ok(GradFlowReport {
            model: self.name.clone(),
            class,
            label: readout.label(class),
            logit: logit_values[class] as f64,
            input_grad_norm: residual_norms[3 * n] as f64,
            plain_input_grad_norm: plain_norms[n] as f64,
            blocks,
            saliency: Saliency {
                grad_cam,
                grad_cam_size: [fh, fw],
                input_gradient,
                input_size: [height, width],
            },
            batch_norm,
            batch,
            taught: target.is_head(),
        })
    }
}

/// Convenience: builds a [`GradFlowAnalyzer`] on `device` and analyses one image.
pub async fn analyze(
    weights: LoadedWeights,
    input: &[f32],
    size: [usize; 2],
    class: Option<usize>,
    device: &Device,
) -> Result<GradFlowReport> {
    analyze_with(
        weights,
        input,
        size,
        class,
        &GradFlowOptions::default(),
        device,
    )
    .await
}

/// [`analyze`] with BatchNorm as `options` say.
pub async fn analyze_with(
    weights: LoadedWeights,
    input: &[f32],
    size: [usize; 2],
    class: Option<usize>,
    options: &GradFlowOptions,
    device: &Device,
) -> Result<GradFlowReport> {
    GradFlowAnalyzer::new(weights, device)?
        .analyze_with(input, size, class, options)
        .await
}

/// The class `target` names, or the top-1 of `logits`, checked.
pub(super) fn pick_class(target: &Target, logits: &[f32]) -> Result<usize> {
    if logits.iter().any(|v| !v.is_finite()) {
        return Err(Error::Backend(
            "the network produced non-finite logits".into(),
        ));
    }
    match target.class() {
        Some(c) if c < logits.len() => Ok(c),
        Some(c) => Err(Error::Input(format!(
            "class {c} does not exist: the {} has {} classes",
            if target.is_head() { "head" } else { "model" },
            logits.len()
        ))),
        None => Ok(top_k(logits, 1).first().map_or(0, |(i, _)| *i)),
    }
}

pub(super) fn block_gradient(
    info: &BlockInfo,
    norms: &[f32],
    plain: f32,
    acts: [f32; 2],
) -> BlockGradient {
    BlockGradient {
        block: info.name.clone(),
        grad_norm: norms[0] as f64,
        shortcut_norm: norms[1] as f64,
        residual_norm: norms[2] as f64,
        plain_grad_norm: plain as f64,
        act_norm: acts[0] as f64,
        plain_act_norm: acts[1] as f64,
        stage: info.stage,
        stride: info.stride,
        in_channels: info.in_channels,
        out_channels: info.out_channels,
        projection: info.projection,
    }
}

/// The first image of a batch, `[1, ...]`.
fn first<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    t.narrow(0, 0, 1)
}

/// ‖t‖₂ as a one-element tensor.
fn l2<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    t.inner().powi_scalar(2).sum().sqrt()
}

fn zero(device: &Device) -> Tensor<1> {
    Tensor::zeros([1], &device.clone().without_autodiff())
}

pub(super) fn scale_to_unit(mut v: Vec<f32>) -> Vec<f32> {
    let max = v.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        v.iter_mut().for_each(|x| *x /= max);
    }
    v
}
