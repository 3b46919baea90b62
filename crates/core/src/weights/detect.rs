//! Working out the architecture from the tensors alone, so nobody has to say "ResNet-50".

use crate::error::{Error, Result};
use crate::model::config::{BlockKind, Layout, ResNetConfig, Stem};
use crate::model::tensors::{
    FC_WEIGHT, STEM_CONV_BIAS, STEM_CONV_WEIGHT, block_of, is_third_branch_conv_weight,
};
use crate::weights::tensor_set::TensorSet;

/// Infers block type, blocks per stage, width, classes and layout from torchvision-named
/// tensors. The result is then checked tensor by tensor against the file, so a guess that
/// does not fit every tensor is reported as a mismatch rather than used.
pub fn detect_architecture(
    tensors: &TensorSet,
    layout: Option<Layout>,
    bn_eps: f64,
) -> Result<ResNetConfig> {
    let stem = tensors.get(STEM_CONV_WEIGHT).ok_or_else(|| {
        let sample: Vec<&str> = tensors.names().take(5).collect();
        Error::Architecture(format!(
            "no `{STEM_CONV_WEIGHT}`, so these are not torchvision-style ResNet weights (the file starts with: {})",
            sample.join(", ")
        ))
    })?;
    if stem.shape.len() != 4 || stem.shape[1] != 3 || stem.shape[2] != stem.shape[3] {
        return Err(Error::Architecture(format!(
            "`{STEM_CONV_WEIGHT}` has shape {:?}; a ResNet stem is [width, 3, k, k]",
            stem.shape
        )));
    }
    let stem_kind = match stem.shape[2] {
        7 => Stem::ImageNet,
        3 => Stem::Cifar,
        k => {
            return Err(Error::Architecture(format!(
                "a {k}×{k} stem convolution is not a ResNet stem"
            )));
        }
    };
    let base_width = stem.shape[0];

    // Blocks per stage: the largest `layer{s}.{b}` index seen, plus one.
    let mut stage_blocks: Vec<usize> = Vec::new();
    for name in tensors.names() {
        let Some((stage, block)) = block_of(name) else {
            continue;
        };
        if stage >= 8 || block > 1000 {
            continue;
        }
        if stage_blocks.len() <= stage {
            stage_blocks.resize(stage + 1, 0);
        }
        stage_blocks[stage] = stage_blocks[stage].max(block + 1);
    }
    if stage_blocks.is_empty() || stage_blocks.contains(&0) {
        return Err(Error::Architecture(format!(
            "could not find the residual stages (`layer1.0...`); found blocks per stage {stage_blocks:?}"
        )));
    }

    let block = if tensors.names().any(is_third_branch_conv_weight) {
        BlockKind::Bottleneck
    } else {
        BlockKind::Basic
    };
    let num_classes = match tensors.get(FC_WEIGHT) {
        Some(fc) if fc.shape.len() == 2 => fc.shape[0],
        Some(fc) => {
            return Err(Error::Architecture(format!(
                "`{FC_WEIGHT}` has shape {:?}; expected [classes, features]",
                fc.shape
            )));
        }
        None => {
            return Err(Error::Architecture(format!(
                "no classifier (`{FC_WEIGHT}`) in the file"
            )));
        }
    };
    // Convolution biases only exist in the Keras ("v1") layout.
    let layout = layout.unwrap_or(if tensors.contains(STEM_CONV_BIAS) {
        Layout::Keras
    } else {
        Layout::Torchvision
    });
    let config = ResNetConfig {
        block,
        stage_blocks,
        base_width,
        num_classes,
        layout,
        stem: stem_kind,
        bn_eps,
    };
    config.validate()?;
    Ok(config)
}
