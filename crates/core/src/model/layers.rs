//! The building blocks: a convolution with its BatchNorm folded in, and the residual block.

use burn::module::{Module, Param};
use burn::nn::PaddingConfig2d;
use burn::nn::conv::Conv2d;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::Result;
use crate::model::config::{BlockInfo, Layout};
use crate::model::tensors::{ConvBnSpec, ConvRole, TensorRole};
use crate::weights::tensor_set::{HostTensor, TensorSet};

/// A convolution followed by inference-mode BatchNorm, folded into one convolution when the
/// weights are loaded:
///
/// `w' = w · γ/√(σ² + ε)` and `b' = β + (b − μ) · γ/√(σ² + ε)`.
///
/// BatchNorm with frozen statistics is an affine map per channel, so the folded conv computes
/// exactly the same function (and the same gradients) with one pass over the activations
/// instead of three.
#[derive(Module, Debug)]
pub struct ConvBn {
    pub conv: Conv2d,
}

/// A folded convolution's weights on the host as they are uploaded, for a second layout of them
/// (the channel-last CPU pass) without reading them back from the device.
pub struct FoldedConv<'a> {
    /// `[cout, cin, k, k]`.
    pub dims: [usize; 4],
    pub stride: usize,
    pub weight: &'a [f32],
    pub bias: &'a [f32],
}

impl ConvBn {
    /// Takes the pair's convolution weight (and bias when present) and its four BatchNorm
    /// tensors out of `tensors`, folds them, and uploads the result to `device`; `observe` sees
    /// the folded weights first.
    pub fn load(
        tensors: &mut TensorSet,
        spec: &ConvBnSpec,
        bn_eps: f64,
        device: &Device,
        observe: &mut dyn FnMut(FoldedConv<'_>),
    ) -> Result<Self> {
        let mut take = |role| tensors.take(&spec.tensor_name(role));
        let weight = take(TensorRole::ConvWeight)?;
        let bias = take(TensorRole::ConvBias).ok();
        let gamma = take(TensorRole::BnWeight)?;
        let beta = take(TensorRole::BnBias)?;
        let mean = take(TensorRole::BnMean)?;
        let var = take(TensorRole::BnVar)?;
        let stride = spec.stride;

        let (weight, folded_bias) =
            fold_batchnorm(weight, bias, &gamma, &beta, &mean, &var, bn_eps);
        let shape = [
            weight.shape[0],
            weight.shape[1],
            weight.shape[2],
            weight.shape[3],
        ];
        observe(FoldedConv {
            dims: shape,
            stride,
            weight: &weight.data,
            bias: &folded_bias,
        });
        let kernel = shape[2];
        // "Same" padding for odd kernels: 7×7 → 3, 3×3 → 1, 1×1 → 0.
        let pad = kernel / 2;
        let conv = Conv2d {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(weight.data, shape),
                device,
            )),
            bias: Some(Param::from_tensor(Tensor::from_data(
                TensorData::new(folded_bias, [shape[0]]),
                device,
            ))),
            stride: [stride, stride],
            kernel_size: [kernel, shape[3]],
            dilation: [1, 1],
            groups: 1,
            padding: PaddingConfig2d::Explicit(pad, pad, pad, pad),
        };
        Ok(Self { conv })
    }

    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        self.conv.forward(x)
    }

    /// [`Self::forward`], or with `BatchStats::Batch` followed by normalisation over the batch.
    pub fn forward_stats(&self, x: Tensor<4>, stats: BatchStats) -> Tensor<4> {
        match stats {
            BatchStats::Stored => self.forward(x),
            BatchStats::Batch { eps } => normalize_over_batch(self.forward(x), eps),
        }
    }

    /// Output channels.
    pub fn out_channels(&self) -> usize {
        self.conv.weight.dims()[0]
    }
}

/// Folds BatchNorm statistics into a conv's weight and bias (computed in f64 so folding adds
/// no rounding of its own beyond the final cast). The int8 bundle folds with it too.
pub(crate) fn fold_batchnorm(
    mut weight: HostTensor,
    bias: Option<HostTensor>,
    gamma: &HostTensor,
    beta: &HostTensor,
    mean: &HostTensor,
    var: &HostTensor,
    eps: f64,
) -> (HostTensor, Vec<f32>) {
    let out_channels = weight.shape[0];
    let per_channel = weight.numel() / out_channels.max(1);
    let mut folded_bias = Vec::with_capacity(out_channels);
    for c in 0..out_channels {
        let scale = gamma.data[c] as f64 / (var.data[c] as f64 + eps).sqrt();
        let conv_bias = bias.as_ref().map_or(0.0, |b| b.data[c] as f64);
        folded_bias.push((beta.data[c] as f64 + (conv_bias - mean.data[c] as f64) * scale) as f32);
        for w in &mut weight.data[c * per_channel..(c + 1) * per_channel] {
            *w = (*w as f64 * scale) as f32;
        }
    }
    (weight, folded_bias)
}

/// Which statistics BatchNorm uses.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BatchStats {
    /// The stored running statistics, folded into the convolution (inference mode).
    Stored,
    /// The batch's own per-channel mean and biased variance (training mode). Only right for
    /// BatchNorm at fresh parameters (γ ∈ {0, 1}, β = 0, statistics (0, 1)): the folded
    /// convolution is then `γ·conv/√(1+ε)`, and normalising it gives `γ·(c − μ_B)/√(σ_B² + ε')`
    /// with ε' = ε(1+ε), PyTorch's `model.train()` up to ε² (a zero output stays zero).
    Batch { eps: f64 },
}

/// `(y − mean) / √(var + eps)` per channel over the batch and spatial positions.
fn normalize_over_batch(y: Tensor<4>, eps: f64) -> Tensor<4> {
    let mean = y.clone().mean_dim(0).mean_dim(2).mean_dim(3);
    let centered = y - mean;
    let var = centered
        .clone()
        .powi_scalar(2)
        .mean_dim(0)
        .mean_dim(2)
        .mean_dim(3);
    centered / var.add_scalar(eps).sqrt()
}

/// How a block computes in an experiment that alters the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockMode {
    /// `ReLU(F(x) + S(x))`, as trained.
    Residual,
    /// `ReLU(F(x))`: the skip connection removed.
    Plain,
    /// `ReLU(S(x))`: the branch removed.
    Lesioned,
}

/// One residual block: `y = ReLU(F(x) + S(x))`, where `F` is the branch of conv+BN pairs with
/// ReLUs between them and `S` is the identity or a 1×1 projection (conv+BN).
///
/// A basic block's branch has two 3×3 convs, a bottleneck's has 1×1, 3×3, 1×1.
#[derive(Module, Debug)]
pub struct ResidualBlock {
    pub branch: Vec<ConvBn>,
    pub shortcut: Option<ConvBn>,
}

impl ResidualBlock {
    /// Loads the block `info.name` (`layer2.0`, ...) from torchvision-named tensors; `observe`
    /// sees each folded convolution with its role.
    pub fn load(
        tensors: &mut TensorSet,
        info: &BlockInfo,
        layout: Layout,
        bn_eps: f64,
        device: &Device,
        observe: &mut dyn FnMut(ConvRole, FoldedConv<'_>),
    ) -> Result<Self> {
        let mut branch = Vec::new();
        let mut shortcut = None;
        for pair in info.conv_bns(layout) {
            let layer = ConvBn::load(tensors, &pair, bn_eps, device, &mut |folded| {
                observe(pair.role, folded)
            })?;
            match pair.role {
                ConvRole::Projection => shortcut = Some(layer),
                _ => branch.push(layer),
            }
        }
        Ok(Self { branch, shortcut })
    }

    /// The residual branch `F(x)`, up to (not including) the addition.
    pub fn residual(&self, x: Tensor<4>) -> Tensor<4> {
        self.residual_stats(x, BatchStats::Stored)
    }

    /// [`Self::residual`] with BatchNorm using `stats`.
    pub fn residual_stats(&self, x: Tensor<4>, stats: BatchStats) -> Tensor<4> {
        let last = self.branch.len().saturating_sub(1);
        let mut h = x;
        for (i, layer) in self.branch.iter().enumerate() {
            h = layer.forward_stats(h, stats);
            if i < last {
                h = relu(h);
            }
        }
        h
    }

    /// The shortcut `S(x)`: the identity, or the projection.
    pub fn shortcut(&self, x: Tensor<4>) -> Tensor<4> {
        self.shortcut_stats(x, BatchStats::Stored)
    }

    /// [`Self::shortcut`] with BatchNorm using `stats`.
    pub fn shortcut_stats(&self, x: Tensor<4>, stats: BatchStats) -> Tensor<4> {
        match &self.shortcut {
            Some(projection) => projection.forward_stats(x, stats),
            None => x,
        }
    }

    /// `ReLU(F(x) + S(x))`.
    pub fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let skip = self.shortcut(x.clone());
        relu(self.residual(x) + skip)
    }

    /// The block without its skip connection: `ReLU(F(x))` (the "plain" network).
    pub fn forward_plain(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.residual(x))
    }

    /// The block with its branch deleted: `ReLU(S(x))` (Veit et al. 2016's lesion; a
    /// projection shortcut stays so that the shapes still fit).
    pub fn forward_lesioned(&self, x: Tensor<4>) -> Tensor<4> {
        relu(self.shortcut(x))
    }

    /// The block computed as `mode` says.
    pub fn forward_as(&self, x: Tensor<4>, mode: BlockMode) -> Tensor<4> {
        match mode {
            BlockMode::Residual => self.forward(x),
            BlockMode::Plain => self.forward_plain(x),
            BlockMode::Lesioned => self.forward_lesioned(x),
        }
    }
}
