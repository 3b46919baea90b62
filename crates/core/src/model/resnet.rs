//! The whole network: stem, residual stages, global average pool, classifier.

use burn::module::{Module, ModuleMapper, Param};
use burn::nn::Linear;
use burn::tensor::activation::relu;
use burn::tensor::module::{adaptive_avg_pool2d, max_pool2d};
use burn::tensor::ops::MaxPoolOptions;
use burn::tensor::{Device, FloatDType, Tensor, TensorData};

use crate::error::Result;
use crate::model::config::{ResNetConfig, Stem};
use crate::model::layers::{BatchStats, BlockMode, ConvBn, FoldedConv, ResidualBlock};
use crate::model::tensors::ConvRole;
use crate::model::tensors::{FC_BIAS, FC_WEIGHT};
use crate::weights::tensor_set::TensorSet;

/// A ResNet with its weights, on one device.
#[derive(Module, Debug)]
pub struct ResNet {
    pub stem: ConvBn,
    /// All residual blocks in forward order (`layer1.0`, `layer1.1`, ..., `layer4.N`).
    pub blocks: Vec<ResidualBlock>,
    pub fc: Linear,
    /// Whether the stem ends in a 3×3 stride-2 max pool (ImageNet) or not (CIFAR).
    pub stem_pool: bool,
}

impl ResNet {
    /// Builds the network from torchvision-named tensors. The set must match the
    /// architecture exactly; every mismatch is reported at once.
    pub fn from_tensors(
        config: &ResNetConfig,
        tensors: TensorSet,
        device: &Device,
    ) -> Result<Self> {
        Self::from_tensors_observed(config, tensors, device, &mut |_, _, _| {})
    }

    /// [`Self::from_tensors`], with `observe` shown every folded convolution before it is
    /// uploaded: the stem's (block `None`), then each block's, in forward order.
    pub fn from_tensors_observed(
        config: &ResNetConfig,
        mut tensors: TensorSet,
        device: &Device,
        observe: &mut dyn FnMut(Option<usize>, ConvRole, FoldedConv<'_>),
    ) -> Result<Self> {
        config.validate()?;
        tensors.remove_bookkeeping();
        tensors.check_against(&config.tensor_specs())?;
        tensors.check_finite()?;

        let stem_spec = config.stem_conv_bn();
        let stem = ConvBn::load(&mut tensors, &stem_spec, config.bn_eps, device, &mut |f| {
            observe(None, stem_spec.role, f)
        })?;
        let blocks = config
            .blocks()
            .iter()
            .enumerate()
            .map(|(b, info)| {
                let (layout, eps) = (config.layout, config.bn_eps);
                ResidualBlock::load(&mut tensors, info, layout, eps, device, &mut |role, f| {
                    observe(Some(b), role, f)
                })
            })
            .collect::<Result<Vec<_>>>()?;

        // PyTorch stores the classifier as [out, in]; Burn's Linear wants [in, out].
        let fc_weight = tensors.take(FC_WEIGHT)?;
        let fc_bias = tensors.take(FC_BIAS)?;
        let (classes, features) = (fc_weight.shape[0], fc_weight.shape[1]);
        let weight =
            Tensor::<2>::from_data(TensorData::new(fc_weight.data, [classes, features]), device)
                .transpose();
        let bias = Tensor::<1>::from_data(TensorData::new(fc_bias.data, [classes]), device);
        let fc = Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(bias)),
        };

        Ok(Self {
            stem,
            blocks,
            fc,
            stem_pool: config.stem == Stem::ImageNet,
        })
    }

    /// The network with every weight cast to `dtype` (float16 arithmetic on GPUs that have it);
    /// its inputs must be cast the same way. BatchNorm is folded, so the weights are all there is.
    pub fn cast(self, dtype: FloatDType) -> Self {
        struct Cast(FloatDType);
        impl ModuleMapper for Cast {
            fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
                param.map(|tensor| tensor.cast(self.0))
            }
        }
        self.map(&mut Cast(dtype))
    }

    /// `[N, 3, H, W]` images → `[N, classes]` logits.
    pub fn forward(&self, images: Tensor<4>) -> Tensor<2> {
        self.fc.forward(self.pooled_features(images))
    }

    /// `[N, 3, H, W]` images → `[N, C]`: the last stage's activations, globally average
    /// pooled (torchvision's `avgpool` output, the classifier's input).
    pub fn pooled_features(&self, images: Tensor<4>) -> Tensor<2> {
        let mut x = self.forward_stem(images);
        for block in &self.blocks {
            x = block.forward(x);
        }
        global_average_pool(x)
    }

    /// Width of the pooled features (512 for ResNet-18/34, 2048 for ResNet-50 and deeper).
    pub fn feature_width(&self) -> usize {
        self.fc.weight.dims()[0]
    }

    /// Blocks `from..` computed as `modes` says (one mode per block of the network), on `x`,
    /// the input of block `from`; returns the last block's output. Experiments that alter
    /// blocks use it to start from a cached activation instead of the image.
    pub fn forward_blocks_from(
        &self,
        mut x: Tensor<4>,
        from: usize,
        modes: &[BlockMode],
    ) -> Tensor<4> {
        for (block, &mode) in self.blocks.iter().zip(modes).skip(from) {
            x = block.forward_as(x, mode);
        }
        x
    }

    /// Conv, BN, ReLU (and max pool for ImageNet networks).
    pub fn forward_stem(&self, images: Tensor<4>) -> Tensor<4> {
        self.forward_stem_stats(images, BatchStats::Stored)
    }

    /// [`Self::forward_stem`] with BatchNorm using `stats`.
    pub fn forward_stem_stats(&self, images: Tensor<4>, stats: BatchStats) -> Tensor<4> {
        let x = relu(self.stem.forward_stats(images, stats));
        if self.stem_pool {
            max_pool2d(
                x,
                MaxPoolOptions::new([3, 3])
                    .with_stride([2, 2])
                    .with_padding([1, 1]),
            )
        } else {
            x
        }
    }

    /// Global average pool and the classifier: `[N, C, h, w]` → `[N, classes]`.
    pub fn forward_head(&self, features: Tensor<4>) -> Tensor<2> {
        self.fc.forward(global_average_pool(features))
    }
}

/// `[N, C, h, w]` → `[N, C]`.
pub(crate) fn global_average_pool(x: Tensor<4>) -> Tensor<2> {
    adaptive_avg_pool2d(x, [1, 1]).flatten::<2>(1, 3)
}
