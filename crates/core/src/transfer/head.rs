//! A trained linear head and its file: one `.safetensors` with `weight` `[classes, width]`
//! (PyTorch's `nn.Linear` layout) and `bias` `[classes]`, float32, and in the metadata the
//! class names and the backbone it belongs to. A head trained with `--layer4` also holds the
//! fine-tuned last stage, every `layer4.*` tensor in torchvision's naming (running statistics
//! included, unchanged), float32: 8.4 M values (34 MB) for ResNet-18, 15 M (60 MB) for
//! ResNet-50. Float16 would halve that, but its 11-bit mantissa (steps of 2.4e-4 at 0.5)
//! is coarser than what fine-tuning at a learning rate of 1e-4 changes.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::transfer::backbone::BackboneId;
use crate::transfer::layer4::STAGE_PREFIX;
use crate::weights::safetensors::{StoredDtype, read_safetensors, write_safetensors};
use crate::weights::tensor_set::{HostTensor, TensorSet};

/// The metadata value that marks a head file.
pub const HEAD_FORMAT: &str = "resnet-lab-head/1";
/// Most classes a head may have (a sanity bound for files from elsewhere).
pub const MAX_CLASSES: usize = 1000;
/// Longest class name accepted from a file.
const MAX_NAME_CHARS: usize = 200;

/// A linear classifier on a frozen backbone's pooled features.
#[derive(Debug, Clone, PartialEq)]
pub struct LinearHead {
    pub classes: Vec<String>,
    pub backbone: BackboneId,
    /// `[classes, feature_width]`, row-major.
    pub weight: Vec<f32>,
    pub bias: Vec<f32>,
    /// The fine-tuned `layer4` (torchvision names) that computes the features this head reads,
    /// or `None` for a head on the frozen backbone. Its shapes are checked against a backbone
    /// where it is applied ([`crate::transfer::layer4::replace_stage`]).
    pub layer4: Option<TensorSet>,
}

impl LinearHead {
    /// Logits for one feature vector.
    pub fn logits(&self, features: &[f32]) -> Result<Vec<f32>> {
        let width = self.backbone.feature_width;
        if features.len() != width {
            return Err(Error::Head(format!(
                "the head reads {width} features; the backbone gave {}",
                features.len()
            )));
        }
        Ok(self
            .weight
            .chunks_exact(width)
            .zip(&self.bias)
            .map(|(row, b)| b + row.iter().zip(features).map(|(w, x)| w * x).sum::<f32>())
            .collect())
    }

    /// Refuses to run on a backbone other than the one the head was trained on.
    pub fn check_backbone(&self, backbone: &BackboneId) -> Result<()> {
        let ours = &self.backbone;
        if ours.feature_width != backbone.feature_width {
            return Err(Error::Head(format!(
                "this head was trained on {} and reads {} features; the loaded weights ({}) give {}",
                ours.describe(),
                ours.feature_width,
                backbone.describe(),
                backbone.feature_width
            )));
        }
        if ours.fingerprint != backbone.fingerprint {
            return Err(Error::Head(format!(
                "this head was trained on {}; the loaded weights are {}: other weights compute \
                 other features, so the head would give meaningless answers (train a head on \
                 these weights with `resnet-lab finetune`)",
                ours.describe(),
                backbone.describe()
            )));
        }
        Ok(())
    }

    /// The head file's bytes.
    pub fn to_safetensors(&self) -> Result<Vec<u8>> {
        let (c, d) = (self.classes.len(), self.backbone.feature_width);
        let mut tensors = TensorSet::new();
        tensors.insert("weight", HostTensor::new(vec![c, d], self.weight.clone())?)?;
        tensors.insert("bias", HostTensor::new(vec![c], self.bias.clone())?)?;
        for (name, t) in self.layer4.iter().flat_map(TensorSet::iter) {
            tensors.insert(name, t.clone())?;
        }
        let classes = serde_json::to_string(&self.classes).unwrap_or_default();
        let mut metadata = HashMap::from([
            ("format".to_owned(), HEAD_FORMAT.to_owned()),
            ("classes".to_owned(), classes),
            (
                "backbone_architecture".to_owned(),
                self.backbone.architecture.clone(),
            ),
            ("backbone_feature_width".to_owned(), d.to_string()),
            (
                "backbone_fingerprint".to_owned(),
                self.backbone.fingerprint.clone(),
            ),
        ]);
        if self.layer4.is_some() {
            metadata.insert("fine_tuned".to_owned(), "layer4".to_owned());
        }
        write_safetensors(&tensors, StoredDtype::F32, metadata)
    }

    /// Reads a head file, checking everything a hostile file could get wrong.
    pub fn from_safetensors(bytes: &[u8]) -> Result<Self> {
        let bad = |why: String| Error::Head(format!("not a usable head file: {why}"));
        let (mut tensors, meta) = read_safetensors(bytes).map_err(|e| bad(e.to_string()))?;
        let field = |key: &str| {
            meta.get(key)
                .ok_or_else(|| bad(format!("the metadata has no `{key}`")))
        };
        if field("format")? != HEAD_FORMAT {
            return Err(bad(format!(
                "its format is not `{HEAD_FORMAT}` (a weights file? pass it as --weights)"
            )));
        }
        let classes: Vec<String> = serde_json::from_str(field("classes")?)
            .map_err(|e| bad(format!("`classes` is not a list of names: {e}")))?;
        if !(2..=MAX_CLASSES).contains(&classes.len()) {
            return Err(bad(format!(
                "{} classes (2 to {MAX_CLASSES} expected)",
                classes.len()
            )));
        }
        if let Some(name) = classes
            .iter()
            .find(|n| n.is_empty() || n.chars().count() > MAX_NAME_CHARS)
        {
            return Err(bad(format!(
                "a class name is empty or over {MAX_NAME_CHARS} characters ({} characters)",
                name.chars().count()
            )));
        }
        let feature_width: usize = field("backbone_feature_width")?
            .parse()
            .map_err(|_| bad("`backbone_feature_width` is not a number".into()))?;
        let backbone = BackboneId {
            architecture: field("backbone_architecture")?.clone(),
            feature_width,
            fingerprint: field("backbone_fingerprint")?.clone(),
        };
        let weight = tensors
            .take("weight")
            .map_err(|_| bad("no `weight`".into()))?;
        let bias = tensors.take("bias").map_err(|_| bad("no `bias`".into()))?;
        if let Some(extra) = tensors.names().find(|n| !n.starts_with(STAGE_PREFIX)) {
            return Err(bad(format!("unexpected tensor `{extra}`")));
        }
        tensors.check_finite().map_err(|e| bad(e.to_string()))?;
        let layer4 = (!tensors.is_empty()).then_some(tensors);
        let c = classes.len();
        if weight.shape != [c, feature_width] || bias.shape != [c] {
            return Err(bad(format!(
                "`weight` is {:?} and `bias` {:?}; {c} classes on {feature_width} features need \
                 [{c}, {feature_width}] and [{c}]",
                weight.shape, bias.shape
            )));
        }
        if weight.data.iter().chain(&bias.data).any(|v| !v.is_finite()) {
            return Err(bad("it holds NaN or infinite values".into()));
        }
        Ok(Self {
            classes,
            backbone,
            weight: weight.data,
            bias: bias.data,
            layer4,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head() -> LinearHead {
        LinearHead {
            classes: vec!["cat".into(), "dog".into()],
            backbone: BackboneId {
                architecture: "resnet18".into(),
                feature_width: 3,
                fingerprint: "0123456789abcdef".into(),
            },
            weight: vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0],
            bias: vec![0.25, -0.5],
            layer4: None,
        }
    }

    #[test]
    fn logits_are_weight_times_features_plus_bias() {
        // [1,2,3]·[1,1,2] + 0.25 = 9.25; [-1,0.5,0]·[1,1,2] - 0.5 = -1.
        assert_eq!(head().logits(&[1.0, 1.0, 2.0]).unwrap(), vec![9.25, -1.0]);
        assert!(head().logits(&[1.0]).is_err());
    }

    #[test]
    fn file_round_trips_and_refuses_other_backbones() {
        let h = head();
        let back = LinearHead::from_safetensors(&h.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, h);
        let mut other = h.backbone.clone();
        other.fingerprint = "fedcba9876543210".into();
        assert!(matches!(h.check_backbone(&other), Err(Error::Head(_))));
        other = h.backbone.clone();
        other.feature_width = 2048;
        let msg = h.check_backbone(&other).unwrap_err().to_string();
        assert!(msg.contains("reads 3 features"), "{msg}");
    }

    #[test]
    fn a_fine_tuned_layer4_travels_in_the_file_and_nothing_else_does() {
        let stage = |name: &str, value: f32| {
            let mut set = TensorSet::new();
            set.insert(
                name,
                HostTensor::new(vec![1, 1, 1, 1], vec![value]).unwrap(),
            )
            .unwrap();
            Some(set)
        };
        let mut h = head();
        h.layer4 = stage("layer4.0.conv1.weight", 0.5);
        let back = LinearHead::from_safetensors(&h.to_safetensors().unwrap()).unwrap();
        assert_eq!(back, h);
        let reread = |layer4| {
            let mut other = head();
            other.layer4 = layer4;
            LinearHead::from_safetensors(&other.to_safetensors().unwrap())
                .unwrap_err()
                .to_string()
        };
        let msg = reread(stage("layer3.0.conv1.weight", 0.5));
        assert!(
            msg.contains("unexpected tensor `layer3.0.conv1.weight`"),
            "{msg}"
        );
        let msg = reread(stage("layer4.0.conv1.weight", f32::NAN));
        assert!(msg.contains("non-finite"), "{msg}");
    }
}
