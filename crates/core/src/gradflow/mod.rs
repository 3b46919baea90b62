//! Why skip connections work, measured on a real network.
//!
//! For an input image and a class `c` with logit `z_c`, every residual block `b` computes
//! `u_b = F_b(x_b) + S_b(x_b)` and then `ReLU(u_b)`. By the chain rule
//!
//! `∂z/∂x_b = S_bᵀ g_u + J_F_bᵀ g_u`,   with `g_u = ∂z/∂u_b`,
//!
//! which for an identity shortcut is the guide's `∂L/∂x = ∂L/∂H · (1 + ∂F/∂x)`: the first
//! term passes the gradient through untouched. This module measures both terms per block,
//! the same network with every shortcut removed (the "plain" network), and saliency maps.
//!
//! Two implementations of the same numbers, both tested against PyTorch autograd:
//! `autodiff.rs`, Burn's autodiff on whichever backend the device names, the two terms
//! separated in one backward pass by zero-valued probe tensors on each block's shortcut and
//! branch inputs; and `channel_last.rs`, on the CPU in inference mode, the channel-last forward
//! pass and its hand-written input gradients (`model::cpu_backward`), where the two terms are
//! the two paths' gradients before they are added.

use std::sync::{Arc, OnceLock};

use burn::module::Module;
use burn::tensor::Device;

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::config::{BlockInfo, ResNetConfig};
use crate::model::cpu_backward::{CpuBackward, ForwardTrace};
use crate::model::init::has_fresh_batchnorm;
use crate::model::layers::BatchStats;
use crate::model::{CpuForward, ResNet};
use crate::predict::{is_cpu, top_k};
use crate::transfer::BackboneId;
use crate::weights::{LoadedWeights, ModelInfo};

mod autodiff;
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
        let readout = Readout::new(&target, &self.labels, self.backbone.as_ref(), &self.device)?;
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
        self.analyze_autodiff(
            images,
            batch,
            [height, width],
            (target, readout),
            (batch_norm, stats),
        )
        .await
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

pub(super) fn scale_to_unit(mut v: Vec<f32>) -> Vec<f32> {
    let max = v.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        v.iter_mut().for_each(|x| *x /= max);
    }
    v
}
