//! The last residual stage (`layer4`) as something that trains: its convolutions and its
//! BatchNorm's weight and bias are parameters, while BatchNorm stays in eval mode (the running
//! mean and variance are fixed, as PyTorch's `model.eval()` keeps them). The inference model
//! (`model::ResNet`) folds BatchNorm into each convolution when it loads; this module keeps
//! γ and β apart so that Adam updates the same parameters PyTorch's does, and folds them on
//! the fly in every forward pass (`w·γ/√(σ²+ε)`, a weight-sized product, cheaper than
//! normalising the activations).
//!
//! The backbone up to `layer3` stays frozen: its output is computed once per photo
//! ([`stage_inputs`]) and layer4 trains on those cached activations.

use burn::module::{Module, Param};
use burn::tensor::activation::relu;
use burn::tensor::module::conv2d;
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::config::ResNetConfig;
use crate::model::tensors::{ConvBnSpec, ConvRole, TensorRole, TensorSpec};
use crate::predict::{Classifier, read_f32};
use crate::weights::tensor_set::{HostTensor, TensorSet};

/// The stage that `--layer4` fine-tunes, 0-based (torchvision's `layer4`).
pub const LAST_STAGE: usize = 3;
/// Its tensors' name prefix.
pub const STAGE_PREFIX: &str = "layer4.";

/// The conv+BN pairs of `layer4`, block by block, refusing networks without one (the CIFAR
/// ResNets have three stages).
fn stage_pairs(config: &ResNetConfig) -> Result<Vec<Vec<ConvBnSpec>>> {
    if config.stage_blocks.len() != LAST_STAGE + 1 {
        return Err(Error::Architecture(format!(
            "{} has {} stages; fine-tuning layer4 needs an ImageNet ResNet's four",
            config.name(),
            config.stage_blocks.len()
        )));
    }
    Ok(config
        .blocks()
        .iter()
        .filter(|b| b.stage == LAST_STAGE)
        .map(|b| b.conv_bns(config.layout))
        .collect())
}

/// Every tensor of `layer4` (weights and running statistics), as the checkpoint names them.
pub fn stage_specs(config: &ResNetConfig) -> Result<Vec<TensorSpec>> {
    Ok(stage_pairs(config)?
        .iter()
        .flatten()
        .flat_map(ConvBnSpec::tensor_specs)
        .collect())
}

/// Index of layer4's first block among all blocks.
fn first_stage_block(config: &ResNetConfig) -> usize {
    config.stage_blocks.iter().take(LAST_STAGE).sum()
}

/// A copy of the `layer4` tensors of a full checkpoint.
pub fn copy_stage(tensors: &TensorSet, config: &ResNetConfig) -> Result<TensorSet> {
    let mut stage = TensorSet::new();
    for spec in stage_specs(config)? {
        let t = tensors
            .get(&spec.name)
            .ok_or_else(|| Error::Architecture(format!("tensor `{}` is missing", spec.name)))?;
        stage.insert(spec.name, t.clone())?;
    }
    Ok(stage)
}

/// Checks a `layer4` from a head file against the backbone's architecture: every tensor there,
/// nothing else, every shape right, all finite. A mismatch is the head's fault.
pub fn check_stage(stage: &TensorSet, config: &ResNetConfig) -> Result<()> {
    let head_error = |e: Error| {
        Error::Head(format!(
            "the head's fine-tuned layer4 does not fit these weights ({}): {e}",
            config.name()
        ))
    };
    stage
        .check_against(&stage_specs(config).map_err(head_error)?)
        .map_err(head_error)?;
    stage.check_finite().map_err(head_error)
}

/// Replaces the checkpoint's `layer4` with a fine-tuned one (checked first).
pub fn replace_stage(
    tensors: &mut TensorSet,
    stage: &TensorSet,
    config: &ResNetConfig,
) -> Result<()> {
    check_stage(stage, config)?;
    for (name, t) in stage.iter() {
        tensors.take(name)?;
        tensors.insert(name, t.clone())?;
    }
    Ok(())
}

/// The input of `layer4` (the output of `layer3`) of a batch, left on the device.
pub fn stage_input_tensor(classifier: &Classifier, batch: Tensor<4>) -> Result<Tensor<4>> {
    let config = &classifier.info.config;
    stage_pairs(config)?;
    let model = &classifier.model;
    let mut x = model.forward_stem(batch);
    for block in &model.blocks[..first_stage_block(config)] {
        x = block.forward(x);
    }
    Ok(x)
}

/// The network's own (pretrained) layer4 on a layer3 output, globally average pooled: the
/// features the ImageNet classifier reads.
pub fn pooled_from_stage_input(classifier: &Classifier, mut x: Tensor<4>) -> Tensor<2> {
    let first = first_stage_block(&classifier.info.config);
    for block in classifier.model.blocks.iter().skip(first) {
        x = block.forward(x);
    }
    let [n, c, _, _] = x.dims();
    x.mean_dim(3).mean_dim(2).reshape([n, c])
}

/// A `[N, C, H, W]` layer3 output read back: one row of `C·H·W` values per photo, and
/// `[C, H, W]`.
pub async fn read_stage_inputs(x: Tensor<4>) -> Result<(Vec<Vec<f32>>, [usize; 3])> {
    let [n, c, h, w] = x.dims();
    let values = read_f32(x).await?;
    if values.iter().any(|v| !v.is_finite()) {
        return Err(Error::Input(
            "the network's layer3 output holds NaN or infinity".into(),
        ));
    }
    let rows = values
        .chunks_exact((c * h * w).max(1))
        .take(n)
        .map(<[f32]>::to_vec)
        .collect();
    Ok((rows, [c, h, w]))
}

/// The cached input of `layer4` (the output of `layer3`) of a batch of photos: one row of
/// `C·H·W` values per photo, and `[C, H, W]`.
pub async fn stage_inputs(
    classifier: &Classifier,
    batch: Tensor<4>,
) -> Result<(Vec<Vec<f32>>, [usize; 3])> {
    read_stage_inputs(stage_input_tensor(classifier, batch)?).await
}

/// A convolution and its eval-mode BatchNorm, γ and β trainable.
#[derive(Module, Debug)]
pub struct TrainableConvBn {
    weight: Param<Tensor<4>>,
    /// Only the Keras layout's convolutions have a bias.
    conv_bias: Option<Param<Tensor<1>>>,
    gamma: Param<Tensor<1>>,
    beta: Param<Tensor<1>>,
    /// Fixed: the running mean and 1/√(running variance + ε).
    mean: Tensor<1>,
    inv_std: Tensor<1>,
    stride: usize,
    padding: usize,
}

impl TrainableConvBn {
    fn load(tensors: &TensorSet, spec: &ConvBnSpec, eps: f64, device: &Device) -> Result<Self> {
        let get = |role| {
            let name = spec.tensor_name(role);
            tensors
                .get(&name)
                .cloned()
                .ok_or_else(|| Error::Architecture(format!("tensor `{name}` is missing")))
        };
        let vector = |t: HostTensor| {
            let len = t.numel();
            Tensor::<1>::from_data(TensorData::new(t.data, [len]), device)
        };
        let weight = get(TensorRole::ConvWeight)?;
        let shape = [
            weight.shape[0],
            weight.shape[1],
            weight.shape[2],
            weight.shape[3],
        ];
        let var = get(TensorRole::BnVar)?;
        let inv_std: Vec<f32> = var
            .data
            .iter()
            .map(|&v| (1.0 / (v as f64 + eps).sqrt()) as f32)
            .collect();
        let conv_bias = match spec.bias {
            true => Some(Param::from_tensor(vector(get(TensorRole::ConvBias)?))),
            false => None,
        };
        Ok(Self {
            weight: Param::from_tensor(Tensor::from_data(
                TensorData::new(weight.data, shape),
                device,
            )),
            conv_bias,
            gamma: Param::from_tensor(vector(get(TensorRole::BnWeight)?)),
            beta: Param::from_tensor(vector(get(TensorRole::BnBias)?)),
            mean: vector(get(TensorRole::BnMean)?),
            inv_std: vector(HostTensor::new(vec![inv_std.len()], inv_std)?),
            stride: spec.stride,
            padding: shape[2] / 2,
        })
    }

    /// `BN(conv(x))` with BatchNorm folded into the convolution:
    /// `conv(x, w·s) + β + (b − μ)·s`, `s = γ/√(σ²+ε)`.
    fn forward(&self, x: Tensor<4>) -> Tensor<4> {
        let scale = self.gamma.val() * self.inv_std.clone();
        let [out] = scale.dims();
        let weight = self.weight.val() * scale.clone().reshape([out, 1, 1, 1]);
        let centred = match &self.conv_bias {
            Some(b) => b.val() - self.mean.clone(),
            None => -self.mean.clone(),
        };
        let bias = self.beta.val() + centred * scale;
        let (s, p) = (self.stride, self.padding);
        conv2d(
            x,
            weight,
            Some(bias),
            ConvOptions::new([s, s], [p, p], [1, 1], 1),
        )
    }

    /// The trained tensors, by role.
    async fn trained(&self) -> Result<Vec<(TensorRole, Vec<usize>, Vec<f32>)>> {
        let mut out = Vec::new();
        let w = self.weight.val();
        out.push((TensorRole::ConvWeight, w.dims().to_vec(), read(w).await?));
        if let Some(b) = &self.conv_bias {
            out.push((
                TensorRole::ConvBias,
                b.dims().to_vec(),
                read(b.val()).await?,
            ));
        }
        for (role, t) in [
            (TensorRole::BnWeight, self.gamma.val()),
            (TensorRole::BnBias, self.beta.val()),
        ] {
            out.push((role, t.dims().to_vec(), read(t).await?));
        }
        Ok(out)
    }
}

async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    read_f32(t.inner()).await
}

/// One residual block of layer4.
#[derive(Module, Debug)]
pub struct TrainableBlock {
    branch: Vec<TrainableConvBn>,
    shortcut: Option<TrainableConvBn>,
}

/// `layer4` with trainable convolutions and BatchNorm affine parameters.
#[derive(Module, Debug)]
pub struct TrainableStage {
    blocks: Vec<TrainableBlock>,
}

impl TrainableStage {
    /// Builds layer4 from its tensors (as [`copy_stage`] gives them) on `device` (an autodiff
    /// device to train).
    pub fn new(stage: &TensorSet, config: &ResNetConfig, device: &Device) -> Result<Self> {
        check_stage(stage, config)?;
        let mut blocks = Vec::new();
        for pairs in stage_pairs(config)? {
            let mut block = TrainableBlock {
                branch: Vec::new(),
                shortcut: None,
            };
            for pair in &pairs {
                let layer = TrainableConvBn::load(stage, pair, config.bn_eps, device)?;
                match pair.role {
                    ConvRole::Projection => block.shortcut = Some(layer),
                    _ => block.branch.push(layer),
                }
            }
            blocks.push(block);
        }
        Ok(Self { blocks })
    }

    /// `[N, C, H, W]` layer3 outputs → `[N, features]`, layer4's output globally average pooled.
    pub fn pooled(&self, mut x: Tensor<4>) -> Tensor<2> {
        for block in &self.blocks {
            let last = block.branch.len().saturating_sub(1);
            let mut h = x.clone();
            for (i, layer) in block.branch.iter().enumerate() {
                h = layer.forward(h);
                if i < last {
                    h = relu(h);
                }
            }
            let skip = match &block.shortcut {
                Some(projection) => projection.forward(x),
                None => x,
            };
            x = relu(h + skip);
        }
        let [n, c, _, _] = x.dims();
        x.mean_dim(3).mean_dim(2).reshape([n, c])
    }

    /// Every layer4 tensor in torchvision's naming: the trained ones from this module, the
    /// running statistics from `original` (they do not change).
    pub async fn to_tensors(
        &self,
        original: &TensorSet,
        config: &ResNetConfig,
    ) -> Result<TensorSet> {
        let mut set = original.clone();
        for (pairs, block) in stage_pairs(config)?.iter().zip(&self.blocks) {
            let mut branch = block.branch.iter();
            for pair in pairs {
                let layer = match pair.role {
                    ConvRole::Projection => block.shortcut.as_ref(),
                    _ => branch.next(),
                }
                .ok_or_else(|| Error::Architecture("layer4 lost a layer".into()))?;
                for (role, shape, data) in layer.trained().await? {
                    let name = pair.tensor_name(role);
                    set.take(&name)?;
                    set.insert(name, HostTensor::new(shape, data)?)?;
                }
            }
        }
        Ok(set)
    }
}
