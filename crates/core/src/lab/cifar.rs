//! A CIFAR ResNet (He et al. 2016 §4.2) that trains: real BatchNorm layers with batch
//! statistics and running averages, where the inference model (`model::ResNet`) folds
//! BatchNorm into its convolutions. It reads and writes torchvision-named tensors, so a
//! trained network goes back into the converted format and `classify` folds it as usual.
//!
//! `plain` removes every shortcut (He et al.'s plain baseline, the same layers without skips);
//! the projection shortcuts' tensors are then kept but never used nor updated.

use burn::module::{Module, Param, RunningState};
use burn::nn::conv::Conv2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, batch_norm, batch_norm_train};
use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::model::config::{ResNetConfig, Stem};
use crate::predict::read_f32;
use crate::weights::tensor_set::{HostTensor, TensorSet};

/// PyTorch's BatchNorm defaults, which the CIFAR networks use.
const BN_MOMENTUM: f64 = 0.1;
const BN_EPS: f64 = 1e-5;

/// BatchNorm in training mode: normalises with the batch's mean and biased variance and
/// updates the running averages. The running variance takes the *unbiased* batch variance
/// (·n/(n−1)) as PyTorch does; Burn's own `BatchNorm` uses the biased one, which would make a
/// trained network's statistics drift from PyTorch's.
#[derive(Module, Debug)]
pub struct TrainBatchNorm {
    pub gamma: Param<Tensor<1>>,
    pub beta: Param<Tensor<1>>,
    pub running_mean: RunningState<Tensor<1>>,
    pub running_var: RunningState<Tensor<1>>,
}

impl TrainBatchNorm {
    fn forward(&self, x: Tensor<4>, train: bool) -> Tensor<4> {
        if !train {
            let device = x.device();
            let mean = self.running_mean.value_sync().to_device(&device);
            let var = self.running_var.value_sync().to_device(&device);
            return batch_norm(x, self.gamma.val(), self.beta.val(), mean, var, BN_EPS);
        }
        let [n, _, h, w] = x.dims();
        let count = (n * h * w) as f64;
        let out = batch_norm_train(x, self.gamma.val(), self.beta.val(), BN_EPS);
        let unbiased = count / (count - 1.0).max(1.0);
        let mean = self.running_mean.value_sync().to_device(&out.mean.device());
        let var = self.running_var.value_sync().to_device(&out.mean.device());
        self.running_mean.update(
            (mean.mul_scalar(1.0 - BN_MOMENTUM) + out.mean.mul_scalar(BN_MOMENTUM)).detach(),
        );
        self.running_var.update(
            (var.mul_scalar(1.0 - BN_MOMENTUM) + out.variance.mul_scalar(BN_MOMENTUM * unbiased))
                .detach(),
        );
        out.output
    }
}

/// A bias-free convolution and its BatchNorm.
#[derive(Module, Debug)]
pub struct TrainConvBn {
    pub conv: Conv2d,
    pub bn: TrainBatchNorm,
}

impl TrainConvBn {
    fn forward(&self, x: Tensor<4>, train: bool) -> Tensor<4> {
        self.bn.forward(self.conv.forward(x), train)
    }
}

/// A basic block: conv-BN-ReLU-conv-BN, plus the shortcut (identity or projection), ReLU.
#[derive(Module, Debug)]
pub struct TrainBlock {
    pub first: TrainConvBn,
    pub second: TrainConvBn,
    pub projection: Option<TrainConvBn>,
}

/// The trainable CIFAR ResNet (or, with `plain`, the network without skips).
#[derive(Module, Debug)]
pub struct TrainableCifarNet {
    pub stem: TrainConvBn,
    pub blocks: Vec<TrainBlock>,
    pub fc: Linear,
    pub plain: bool,
}

impl TrainableCifarNet {
    /// Builds the network of `config` (a CIFAR stem, basic blocks) from torchvision-named
    /// tensors on `device` (an autodiff device for training).
    pub fn from_tensors(
        config: &ResNetConfig,
        mut tensors: TensorSet,
        plain: bool,
        device: &Device,
    ) -> Result<Self> {
        config.validate()?;
        if config.stem != Stem::Cifar || config.layout.conv_bias() {
            return Err(Error::Architecture(format!(
                "{} is not a CIFAR ResNet; only those can be trained here",
                config.name()
            )));
        }
        tensors.remove_bookkeeping();
        tensors.check_against(&config.tensor_specs())?;
        tensors.check_finite()?;
        let mut load = |conv: &str, bn: &str, stride: usize| -> Result<TrainConvBn> {
            let weight = tensors.take(&format!("{conv}.weight"))?;
            let mut vector = |suffix: &str| -> Result<Tensor<1>> {
                let t = tensors.take(&format!("{bn}.{suffix}"))?;
                let len = t.numel();
                Ok(Tensor::from_data(TensorData::new(t.data, [len]), device))
            };
            let (gamma, beta) = (vector("weight")?, vector("bias")?);
            let (mean, var) = (vector("running_mean")?, vector("running_var")?);
            Ok(TrainConvBn {
                conv: conv2d(weight, stride, device),
                bn: TrainBatchNorm {
                    gamma: Param::from_tensor(gamma),
                    beta: Param::from_tensor(beta),
                    running_mean: RunningState::new(mean),
                    running_var: RunningState::new(var),
                },
            })
        };
        let stem = load("conv1", "bn1", 1)?;
        let mut blocks = Vec::new();
        for info in config.blocks() {
            let p = &info.name;
            blocks.push(TrainBlock {
                first: load(&format!("{p}.conv1"), &format!("{p}.bn1"), info.stride)?,
                second: load(&format!("{p}.conv2"), &format!("{p}.bn2"), 1)?,
                projection: if info.projection {
                    Some(load(
                        &format!("{p}.downsample.0"),
                        &format!("{p}.downsample.1"),
                        info.stride,
                    )?)
                } else {
                    None
                },
            });
        }
        // PyTorch stores the classifier as [out, in]; Burn's Linear wants [in, out].
        let fc_weight = tensors.take("fc.weight")?;
        let fc_bias = tensors.take("fc.bias")?;
        let (classes, features) = (fc_weight.shape[0], fc_weight.shape[1]);
        let weight =
            Tensor::<2>::from_data(TensorData::new(fc_weight.data, [classes, features]), device)
                .transpose();
        let bias = Tensor::<1>::from_data(TensorData::new(fc_bias.data, [classes]), device);
        Ok(Self {
            stem,
            blocks,
            fc: Linear {
                weight: Param::from_tensor(weight),
                bias: Some(Param::from_tensor(bias)),
            },
            plain,
        })
    }

    /// `[N, 3, 32, 32]` → `[N, classes]` logits; `train` uses batch statistics (and updates the
    /// running averages), otherwise the running averages.
    pub fn forward(&self, x: Tensor<4>, train: bool) -> Tensor<2> {
        let mut h = relu(self.stem.forward(x, train));
        for block in &self.blocks {
            let branch = block
                .second
                .forward(relu(block.first.forward(h.clone(), train)), train);
            h = if self.plain {
                relu(branch)
            } else {
                let skip = match &block.projection {
                    Some(projection) => projection.forward(h, train),
                    None => h,
                };
                relu(branch + skip)
            };
        }
        let pooled = adaptive_avg_pool2d(h, [1, 1]).flatten::<2>(1, 3);
        self.fc.forward(pooled)
    }

    /// Every tensor in torchvision's naming (the inverse of [`Self::from_tensors`]).
    pub async fn to_tensors(&self, config: &ResNetConfig) -> Result<TensorSet> {
        let mut set = TensorSet::new();
        let mut put = |name: String, shape: Vec<usize>, data: Vec<f32>| -> Result<()> {
            set.insert(name, HostTensor::new(shape, data)?)
        };
        let mut layers: Vec<(String, String, &TrainConvBn)> =
            vec![("conv1".into(), "bn1".into(), &self.stem)];
        for (info, block) in config.blocks().iter().zip(&self.blocks) {
            let p = &info.name;
            layers.push((format!("{p}.conv1"), format!("{p}.bn1"), &block.first));
            layers.push((format!("{p}.conv2"), format!("{p}.bn2"), &block.second));
            if let Some(projection) = &block.projection {
                let (conv, bn) = (format!("{p}.downsample.0"), format!("{p}.downsample.1"));
                layers.push((conv, bn, projection));
            }
        }
        for (conv, bn, layer) in layers {
            let w = layer.conv.weight.val();
            put(format!("{conv}.weight"), w.dims().to_vec(), read(w).await?)?;
            let stats = [
                ("weight", layer.bn.gamma.val()),
                ("bias", layer.bn.beta.val()),
                ("running_mean", layer.bn.running_mean.value_sync()),
                ("running_var", layer.bn.running_var.value_sync()),
            ];
            for (suffix, t) in stats {
                put(format!("{bn}.{suffix}"), t.dims().to_vec(), read(t).await?)?;
            }
        }
        let w = self.fc.weight.val().transpose();
        put("fc.weight".into(), w.dims().to_vec(), read(w).await?)?;
        if let Some(b) = &self.fc.bias {
            let b = b.val();
            put("fc.bias".into(), b.dims().to_vec(), read(b).await?)?;
        }
        Ok(set)
    }
}

async fn read<const D: usize>(t: Tensor<D>) -> Result<Vec<f32>> {
    read_f32(t.inner()).await
}

fn conv2d(weight: HostTensor, stride: usize, device: &Device) -> Conv2d {
    let shape = [
        weight.shape[0],
        weight.shape[1],
        weight.shape[2],
        weight.shape[3],
    ];
    let pad = shape[2] / 2;
    Conv2d {
        weight: Param::from_tensor(Tensor::from_data(
            TensorData::new(weight.data, shape),
            device,
        )),
        bias: None,
        stride: [stride, stride],
        kernel_size: [shape[2], shape[3]],
        dilation: [1, 1],
        groups: 1,
        padding: PaddingConfig2d::Explicit(pad, pad, pad, pad),
    }
}
