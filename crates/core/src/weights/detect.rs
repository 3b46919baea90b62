//! Working out the architecture from the tensors alone, so nobody has to say "ResNet-50".

use crate::error::{Error, Result};
use crate::model::config::{BlockKind, Layout, ResNetConfig, Stem};
use crate::weights::tensor_set::TensorSet;

/// Infers block type, blocks per stage, width, classes and layout from torchvision-named
/// tensors. The result is then checked tensor by tensor against the file, so a guess that
/// does not fit every tensor is reported as a mismatch rather than used.
pub fn detect_architecture(
    tensors: &TensorSet,
    layout: Option<Layout>,
    bn_eps: f64,
) -> Result<ResNetConfig> {
    let stem = tensors.get("conv1.weight").ok_or_else(|| {
        let sample: Vec<&str> = tensors.names().take(5).collect();
        Error::Architecture(format!(
            "no `conv1.weight`, so these are not torchvision-style ResNet weights (the file starts with: {})",
            sample.join(", ")
        ))
    })?;
    if stem.shape.len() != 4 || stem.shape[1] != 3 || stem.shape[2] != stem.shape[3] {
        return Err(Error::Architecture(format!(
            "`conv1.weight` has shape {:?}; a ResNet stem is [width, 3, k, k]",
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
        let Some(rest) = name.strip_prefix("layer") else {
            continue;
        };
        let mut parts = rest.splitn(3, '.');
        let (Some(stage), Some(block)) = (parts.next(), parts.next()) else {
            continue;
        };
        let (Ok(stage), Ok(block)) = (stage.parse::<usize>(), block.parse::<usize>()) else {
            continue;
        };
        if stage == 0 || stage > 8 || block > 1000 {
            continue;
        }
        if stage_blocks.len() < stage {
            stage_blocks.resize(stage, 0);
        }
        stage_blocks[stage - 1] = stage_blocks[stage - 1].max(block + 1);
    }
    if stage_blocks.is_empty() || stage_blocks.contains(&0) {
        return Err(Error::Architecture(format!(
            "could not find the residual stages (`layer1.0...`); found blocks per stage {stage_blocks:?}"
        )));
    }

    let block = if tensors.names().any(|n| n.ends_with(".conv3.weight")) {
        BlockKind::Bottleneck
    } else {
        BlockKind::Basic
    };
    let num_classes = match tensors.get("fc.weight") {
        Some(fc) if fc.shape.len() == 2 => fc.shape[0],
        Some(fc) => {
            return Err(Error::Architecture(format!(
                "`fc.weight` has shape {:?}; expected [classes, features]",
                fc.shape
            )));
        }
        None => {
            return Err(Error::Architecture(
                "no classifier (`fc.weight`) in the file".into(),
            ));
        }
    };
    // Convolution biases only exist in the Keras ("v1") layout.
    let layout = layout.unwrap_or(if tensors.contains("conv1.bias") {
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
