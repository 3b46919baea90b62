//! A ResNet checkpoint's tensors in torchvision's naming: the one place that spells `conv1`,
//! `layer2.0.conv1`, `layer2.0.downsample.1`, `fc.weight`, ... with each tensor's shape and
//! role, and each convolution's stride. Loading ([`crate::model::layers`]), initialisation
//! ([`crate::model::init`]), the parameter count and architecture detection
//! ([`crate::weights::detect`]) all read these.

use crate::model::config::{BlockInfo, BlockKind, Layout, ResNetConfig, Stem};

/// The stem convolution's weight, present in every ResNet checkpoint.
pub const STEM_CONV_WEIGHT: &str = "conv1.weight";
/// Only the Keras ("v1") layout has convolution biases.
pub const STEM_CONV_BIAS: &str = "conv1.bias";
pub const FC_WEIGHT: &str = "fc.weight";
pub const FC_BIAS: &str = "fc.bias";
const STEM_CONV: &str = "conv1";
const STEM_BN: &str = "bn1";
const BLOCK_PREFIX: &str = "layer";

/// torchvision's name of block `index` of stage `stage` (both 0-based): `layer1.0`, ...
pub fn block_name(stage: usize, index: usize) -> String {
    format!("{BLOCK_PREFIX}{}.{index}", stage + 1)
}

/// The block a tensor belongs to, 0-based `(stage, index)`: `layer2.3.conv1.weight` → (1, 3).
pub fn block_of(tensor_name: &str) -> Option<(usize, usize)> {
    let rest = tensor_name.strip_prefix(BLOCK_PREFIX)?;
    let mut parts = rest.splitn(3, '.');
    let stage: usize = parts.next()?.parse().ok()?;
    let index: usize = parts.next()?.parse().ok()?;
    Some((stage.checked_sub(1)?, index))
}

/// The third convolution of a block's branch (`layer1.0.conv3.weight`): only bottlenecks
/// have one.
pub fn is_third_branch_conv_weight(tensor_name: &str) -> bool {
    block_of(tensor_name).is_some() && tensor_name.ends_with(".conv3.weight")
}

/// What a convolution (with its BatchNorm) does in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ConvRole {
    Stem,
    /// Position on a block's residual branch, 0-based.
    Branch(usize),
    /// The 1×1 projection shortcut of a block that changes shape.
    Projection,
}

/// A convolution followed by BatchNorm, as a checkpoint names it and the network runs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConvBnSpec {
    /// Module names: `layer1.0.conv1` and `layer1.0.bn1`, `layer2.0.downsample.0` and `.1`.
    pub conv: String,
    pub bn: String,
    /// `[out, in, kh, kw]`.
    pub shape: [usize; 4],
    pub stride: usize,
    /// Whether the convolution has a bias (the Keras layout).
    pub bias: bool,
    pub role: ConvRole,
}

impl ConvBnSpec {
    /// The checkpoint tensors of this pair, in torchvision's order.
    pub fn tensor_specs(&self) -> Vec<TensorSpec> {
        let out = self.shape[0];
        let (conv, bn) = (&self.conv, &self.bn);
        let mut specs = vec![TensorSpec::new(
            format!("{conv}.weight"),
            self.shape.to_vec(),
            TensorRole::ConvWeight,
        )];
        if self.bias {
            specs.push(TensorSpec::new(
                format!("{conv}.bias"),
                vec![out],
                TensorRole::ConvBias,
            ));
        }
        for (suffix, role) in [
            ("weight", TensorRole::BnWeight),
            ("bias", TensorRole::BnBias),
            ("running_mean", TensorRole::BnMean),
            ("running_var", TensorRole::BnVar),
        ] {
            specs.push(TensorSpec::new(format!("{bn}.{suffix}"), vec![out], role));
        }
        specs
    }

    /// The name of this pair's tensor of `role` (for BatchNorm and convolution roles).
    pub fn tensor_name(&self, role: TensorRole) -> String {
        let (module, suffix) = match role {
            TensorRole::ConvWeight => (&self.conv, "weight"),
            TensorRole::ConvBias => (&self.conv, "bias"),
            TensorRole::BnWeight => (&self.bn, "weight"),
            TensorRole::BnBias => (&self.bn, "bias"),
            TensorRole::BnMean => (&self.bn, "running_mean"),
            TensorRole::BnVar => (&self.bn, "running_var"),
            TensorRole::FcWeight => return FC_WEIGHT.into(),
            TensorRole::FcBias => return FC_BIAS.into(),
        };
        format!("{module}.{suffix}")
    }
}

impl BlockInfo {
    /// The block's conv+BN pairs: the branch in order, then the projection if any.
    pub fn conv_bns(&self, layout: Layout) -> Vec<ConvBnSpec> {
        let p = &self.name;
        let bias = layout.conv_bias();
        let mut pairs: Vec<ConvBnSpec> = self
            .branch_conv_shapes()
            .into_iter()
            .zip(self.branch_strides(layout))
            .enumerate()
            .map(|(i, (shape, stride))| ConvBnSpec {
                conv: format!("{p}.conv{}", i + 1),
                bn: format!("{p}.bn{}", i + 1),
                shape,
                stride,
                bias,
                role: ConvRole::Branch(i),
            })
            .collect();
        if self.projection {
            pairs.push(ConvBnSpec {
                conv: format!("{p}.downsample.0"),
                bn: format!("{p}.downsample.1"),
                shape: [self.out_channels, self.in_channels, 1, 1],
                stride: self.stride,
                bias,
                role: ConvRole::Projection,
            });
        }
        pairs
    }

    /// Weight shapes `[out, in, kh, kw]` of the convolutions on the residual branch.
    pub fn branch_conv_shapes(&self) -> Vec<[usize; 4]> {
        let (i, w, o) = (self.in_channels, self.width, self.out_channels);
        match self.kind {
            BlockKind::Basic => vec![[w, i, 3, 3], [w, w, 3, 3]],
            BlockKind::Bottleneck => vec![[w, i, 1, 1], [w, w, 3, 3], [o, w, 1, 1]],
        }
    }

    /// Stride of each branch convolution under `layout`.
    pub fn branch_strides(&self, layout: Layout) -> Vec<usize> {
        let s = self.stride;
        match (self.kind, layout) {
            (BlockKind::Basic, _) => vec![s, 1],
            (BlockKind::Bottleneck, Layout::Torchvision) => vec![1, s, 1],
            (BlockKind::Bottleneck, Layout::Keras) => vec![s, 1, 1],
        }
    }
}

impl ResNetConfig {
    /// The stem's conv+BN: 7×7 stride 2 (ImageNet) or 3×3 stride 1 (CIFAR).
    pub fn stem_conv_bn(&self) -> ConvBnSpec {
        let (kernel, stride) = match self.stem {
            Stem::ImageNet => (7, 2),
            Stem::Cifar => (3, 1),
        };
        ConvBnSpec {
            conv: STEM_CONV.into(),
            bn: STEM_BN.into(),
            shape: [self.base_width, 3, kernel, kernel],
            stride,
            bias: self.layout.conv_bias(),
            role: ConvRole::Stem,
        }
    }

    /// Every tensor a checkpoint of this architecture holds, in torchvision's naming and
    /// order, with its shape. Trainable parameters and BatchNorm running statistics both
    /// appear.
    pub fn tensor_specs(&self) -> Vec<TensorSpec> {
        let mut specs = self.stem_conv_bn().tensor_specs();
        for block in self.blocks() {
            for pair in block.conv_bns(self.layout) {
                specs.extend(pair.tensor_specs());
            }
        }
        let features = self.feature_channels();
        specs.push(TensorSpec::new(
            FC_WEIGHT,
            vec![self.num_classes, features],
            TensorRole::FcWeight,
        ));
        specs.push(TensorSpec::new(
            FC_BIAS,
            vec![self.num_classes],
            TensorRole::FcBias,
        ));
        specs
    }
}

/// Whether a checkpoint tensor is trained or a running statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorKind {
    Parameter,
    Statistic,
}

/// What a tensor is to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorRole {
    ConvWeight,
    ConvBias,
    /// BatchNorm γ.
    BnWeight,
    /// BatchNorm β.
    BnBias,
    BnMean,
    BnVar,
    FcWeight,
    FcBias,
}

impl TensorRole {
    pub fn kind(self) -> TensorKind {
        match self {
            TensorRole::BnMean | TensorRole::BnVar => TensorKind::Statistic,
            _ => TensorKind::Parameter,
        }
    }
}

/// A tensor an architecture expects to find in its checkpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub kind: TensorKind,
    pub role: TensorRole,
}

impl TensorSpec {
    fn new(name: impl Into<String>, shape: Vec<usize>, role: TensorRole) -> Self {
        Self {
            name: name.into(),
            shape,
            kind: role.kind(),
            role,
        }
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.shape.iter().product()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn block_names_read_back() {
        assert_eq!(block_name(1, 3), "layer2.3");
        assert_eq!(block_of("layer2.3.conv1.weight"), Some((1, 3)));
        assert_eq!(block_of("layer0.1.conv1.weight"), None);
        assert_eq!(block_of("fc.weight"), None);
        assert!(is_third_branch_conv_weight("layer4.2.conv3.weight"));
        assert!(!is_third_branch_conv_weight("layer4.2.conv2.weight"));
    }

    /// torchvision's resnet50().state_dict() keys of layer2.0 in order, with shapes, as PyTorch
    /// prints them (`[(k, list(v.shape)) for k, v in sd.items() if k.startswith('layer2.0.')]`,
    /// less the `num_batches_tracked` counters); strides from `m.layer2[0].conv2.stride` etc.
    #[test]
    fn a_downsampling_bottleneck_has_torchvisions_tensors() {
        let config = ResNetConfig::standard(50).unwrap();
        let block = &config.blocks()[3];
        let specs: Vec<(String, Vec<usize>)> = block
            .conv_bns(config.layout)
            .iter()
            .flat_map(ConvBnSpec::tensor_specs)
            .map(|s| (s.name, s.shape))
            .collect();
        let names: Vec<&str> = specs.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names.len(), 20);
        assert_eq!(
            &names[..5],
            &[
                "layer2.0.conv1.weight",
                "layer2.0.bn1.weight",
                "layer2.0.bn1.bias",
                "layer2.0.bn1.running_mean",
                "layer2.0.bn1.running_var",
            ]
        );
        assert_eq!(names[15], "layer2.0.downsample.0.weight");
        assert_eq!(names[19], "layer2.0.downsample.1.running_var");
        assert_eq!(specs[0].1, vec![128, 256, 1, 1]);
        assert_eq!(specs[5].1, vec![128, 128, 3, 3]);
        assert_eq!(specs[10].1, vec![512, 128, 1, 1]);
        assert_eq!(specs[15].1, vec![512, 256, 1, 1]);
        // torchvision v1.5 strides on the 3×3 conv; the projection strides too.
        let strides: Vec<usize> = block
            .conv_bns(config.layout)
            .iter()
            .map(|p| p.stride)
            .collect();
        assert_eq!(strides, vec![1, 2, 1, 2]);
    }
}
