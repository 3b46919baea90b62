//! What a ResNet is, independent of any weights: block type, blocks per stage, widths,
//! and the two layouts the family is published in.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::tensors::block_name;
// The checkpoint's tensors are spelled out in `tensors.rs`; these were defined here before.
pub use crate::model::tensors::{TensorKind, TensorSpec};

/// The two residual block designs of the ResNet paper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum BlockKind {
    /// Two 3×3 convolutions (ResNet-18/34, CIFAR ResNets).
    Basic,
    /// 1×1 reduce, 3×3, 1×1 expand by [`BOTTLENECK_EXPANSION`] (ResNet-50/101/152).
    Bottleneck,
}

/// A bottleneck block's output has this many times the channels of its 3×3 conv.
pub const BOTTLENECK_EXPANSION: usize = 4;

impl BlockKind {
    /// Output channels of a block whose inner width is `width`.
    pub fn out_channels(self, width: usize) -> usize {
        match self {
            BlockKind::Basic => width,
            BlockKind::Bottleneck => width * BOTTLENECK_EXPANSION,
        }
    }

    /// Number of conv+BN pairs on the residual branch.
    pub fn branch_len(self) -> usize {
        match self {
            BlockKind::Basic => 2,
            BlockKind::Bottleneck => 3,
        }
    }
}

/// Where a published ResNet puts its stride and whether its convolutions have a bias.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Layout {
    /// torchvision's "ResNet v1.5": a downsampling bottleneck strides on its 3×3 conv;
    /// convolutions have no bias.
    Torchvision,
    /// The original paper / Keras "v1": a downsampling bottleneck strides on its first 1×1
    /// conv; every convolution has a bias.
    Keras,
}

impl Layout {
    /// Whether convolutions carry a bias in this layout.
    pub fn conv_bias(self) -> bool {
        matches!(self, Layout::Keras)
    }
}

/// The stem in front of the residual stages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stem {
    /// 7×7 stride-2 conv, BN, ReLU, 3×3 stride-2 max pool (ImageNet ResNets).
    ImageNet,
    /// 3×3 stride-1 conv, BN, ReLU, no pooling (the CIFAR ResNets of the paper's §4.2).
    Cifar,
}

/// A complete description of one ResNet architecture.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResNetConfig {
    pub block: BlockKind,
    /// Residual blocks in each stage (`layer1`, `layer2`, ...).
    pub stage_blocks: Vec<usize>,
    /// Inner width of the first stage; each later stage doubles it (64 for ImageNet ResNets).
    pub base_width: usize,
    pub num_classes: usize,
    pub layout: Layout,
    pub stem: Stem,
    /// BatchNorm epsilon the weights were trained with (1e-5 in PyTorch; Keras uses 1e-3 or
    /// 1.001e-5 depending on the version).
    pub bn_eps: f64,
}

/// Bounds far beyond any published ResNet (ResNet-152: 4 stages, at most 36 blocks each, 2048
/// channels; the paper's CIFAR ResNet-1202: 200 blocks per stage; ImageNet-21k: 21,843
/// classes). They keep a hostile description from asking for an absurd network or from
/// overflowing the width arithmetic before anything is built.
pub const MAX_STAGES: usize = 8;
pub const MAX_BLOCKS: usize = 1024;
pub const MAX_CHANNELS: usize = 1 << 14;
pub const MAX_CLASSES: usize = 1 << 20;
pub const MAX_PARAMS: u128 = 1 << 28;

/// The five standard ImageNet depths.
pub const STANDARD_DEPTHS: [usize; 5] = [18, 34, 50, 101, 152];

impl ResNetConfig {
    /// A standard ImageNet ResNet in torchvision's layout, or `None` for an unknown depth.
    pub fn standard(depth: usize) -> Option<Self> {
        let (block, stage_blocks) = match depth {
            18 => (BlockKind::Basic, vec![2, 2, 2, 2]),
            34 => (BlockKind::Basic, vec![3, 4, 6, 3]),
            50 => (BlockKind::Bottleneck, vec![3, 4, 6, 3]),
            101 => (BlockKind::Bottleneck, vec![3, 4, 23, 3]),
            152 => (BlockKind::Bottleneck, vec![3, 8, 36, 3]),
            _ => return None,
        };
        Some(Self {
            block,
            stage_blocks,
            base_width: 64,
            num_classes: 1000,
            layout: Layout::Torchvision,
            stem: Stem::ImageNet,
            bn_eps: 1e-5,
        })
    }

    /// A CIFAR-style ResNet of `depth` = 6n + 2 layers (20, 56, 110, ...): three stages of n
    /// basic blocks with 16, 32, 64 channels, as in §4.2 of He et al. (2016).
    pub fn cifar(depth: usize, num_classes: usize) -> Option<Self> {
        if depth < 8 || !(depth - 2).is_multiple_of(6) {
            return None;
        }
        let n = (depth - 2) / 6;
        Some(Self {
            block: BlockKind::Basic,
            stage_blocks: vec![n, n, n],
            base_width: 16,
            num_classes,
            layout: Layout::Torchvision,
            stem: Stem::Cifar,
            bn_eps: 1e-5,
        })
    }

    /// Builder-style: the same architecture in another layout.
    pub fn with_layout(mut self, layout: Layout) -> Self {
        self.layout = layout;
        self
    }

    /// Builder-style: another number of output classes.
    pub fn with_num_classes(mut self, num_classes: usize) -> Self {
        self.num_classes = num_classes;
        self
    }

    /// Builder-style: another base width.
    pub fn with_base_width(mut self, base_width: usize) -> Self {
        self.base_width = base_width;
        self
    }

    /// Refuses descriptions no ResNet has: no classes, width 0, empty or absurdly many stages
    /// or blocks, overflowing widths, a non-positive BatchNorm epsilon. Every other method
    /// assumes a validated config.
    pub fn validate(&self) -> Result<()> {
        let bad = |why: String| Err(Error::Architecture(why));
        let stages = self.stage_blocks.len();
        if stages == 0 || stages > MAX_STAGES {
            return bad(format!("{stages} stages (a ResNet has 1 to {MAX_STAGES})"));
        }
        if let Some(i) = self.stage_blocks.iter().position(|&b| b == 0) {
            return bad(format!("stage {} has no blocks", i + 1));
        }
        let blocks = self
            .stage_blocks
            .iter()
            .fold(0usize, |acc, &b| acc.saturating_add(b));
        if blocks > MAX_BLOCKS {
            return bad(format!("{blocks} residual blocks (at most {MAX_BLOCKS})"));
        }
        if self.base_width == 0 {
            return bad("width 0: the network has no channels".into());
        }
        let widest = (self.base_width as u128) << (stages - 1);
        let widest = widest * BOTTLENECK_EXPANSION as u128;
        if widest > MAX_CHANNELS as u128 {
            return bad(format!(
                "base width {} with {stages} stages makes {widest} channels (at most {MAX_CHANNELS})",
                self.base_width
            ));
        }
        if self.num_classes == 0 {
            return bad("the classifier has 0 classes".into());
        }
        if self.num_classes > MAX_CLASSES {
            return bad(format!(
                "{} classes (at most {MAX_CLASSES})",
                self.num_classes
            ));
        }
        if !(self.bn_eps.is_finite() && self.bn_eps > 0.0) {
            return bad(format!(
                "BatchNorm epsilon {} (it must be positive)",
                self.bn_eps
            ));
        }
        // Widths are bounded now, so products fit in u128 on any target (wasm32 included).
        let conv = |s: [usize; 4]| s.iter().map(|&d| d as u128).product::<u128>();
        let params: u128 = self
            .blocks()
            .iter()
            .flat_map(|b| b.branch_conv_shapes())
            .map(conv)
            .sum::<u128>()
            + self.feature_channels() as u128 * self.num_classes as u128;
        if params > MAX_PARAMS {
            return bad(format!(
                "{params} parameters (at most {MAX_PARAMS}; the largest torchvision ResNet has 127 million)"
            ));
        }
        Ok(())
    }

    /// Weighted layers, counted as the paper does (convs on the main path plus the classifier).
    pub fn depth(&self) -> usize {
        let blocks: usize = self.stage_blocks.iter().sum();
        blocks * self.block.branch_len() + 2
    }

    /// A short name: `resnet50`, `resnet18-w8`, `cifar-resnet56`, ...
    pub fn name(&self) -> String {
        let mut name = match self.stem {
            Stem::ImageNet => format!("resnet{}", self.depth()),
            Stem::Cifar => format!("cifar-resnet{}", self.depth()),
        };
        let standard_width = match self.stem {
            Stem::ImageNet => 64,
            Stem::Cifar => 16,
        };
        if self.base_width != standard_width {
            name.push_str(&format!("-w{}", self.base_width));
        }
        name
    }

    /// Inner width of stage `stage` (0-based).
    pub fn stage_width(&self, stage: usize) -> usize {
        self.base_width << stage
    }

    /// Stride of the first block of stage `stage`: the first stage keeps the resolution
    /// (the stem already pooled), every later stage halves it.
    pub fn stage_stride(&self, stage: usize) -> usize {
        if stage == 0 { 1 } else { 2 }
    }

    /// Channels the classifier sees.
    pub fn feature_channels(&self) -> usize {
        let last = self.stage_blocks.len().saturating_sub(1);
        self.block.out_channels(self.stage_width(last))
    }

    /// Every block, in forward order, with the facts the UI and the gradient panel need.
    pub fn blocks(&self) -> Vec<BlockInfo> {
        let mut in_channels = self.base_width;
        let mut out = Vec::new();
        for (stage, &count) in self.stage_blocks.iter().enumerate() {
            let width = self.stage_width(stage);
            let out_channels = self.block.out_channels(width);
            for index in 0..count {
                let stride = if index == 0 {
                    self.stage_stride(stage)
                } else {
                    1
                };
                out.push(BlockInfo {
                    name: block_name(stage, index),
                    stage,
                    index,
                    kind: self.block,
                    in_channels,
                    width,
                    out_channels,
                    stride,
                    projection: stride != 1 || in_channels != out_channels,
                });
                in_channels = out_channels;
            }
        }
        out
    }

    /// Trainable parameters, counted as `sum(p.numel() for p in model.parameters())` in
    /// PyTorch: BatchNorm running statistics are not parameters.
    pub fn num_params(&self) -> usize {
        self.tensor_specs()
            .iter()
            .filter(|s| s.kind == TensorKind::Parameter)
            .map(TensorSpec::numel)
            .sum()
    }

    /// All weights including BatchNorm moving statistics, as Keras' `count_params()` reports.
    pub fn num_params_with_bn_statistics(&self) -> usize {
        self.tensor_specs().iter().map(TensorSpec::numel).sum()
    }
}

/// One residual block's place in the network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BlockInfo {
    /// torchvision's name: `layer1.0`, ...
    pub name: String,
    pub stage: usize,
    pub index: usize,
    pub kind: BlockKind,
    pub in_channels: usize,
    /// Inner width (the 3×3 conv's channels).
    pub width: usize,
    pub out_channels: usize,
    pub stride: usize,
    /// Whether the shortcut is a 1×1 conv + BN (the shape changes) rather than the identity.
    pub projection: bool,
}
