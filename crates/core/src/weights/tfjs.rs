//! TensorFlow.js layers models (`model.json` + binary shards) of the Keras ResNet50.
//!
//! Keras names its layers differently from torchvision and stores kernels as
//! `[kh, kw, in, out]`; this module renames and transposes everything into torchvision's
//! naming and `[out, in, kh, kw]` layout, so the rest of the crate sees one convention. The
//! network itself keeps Keras' "v1" layout (stride on the first 1×1 conv, conv biases).

use half::f16;
use serde::Deserialize;

use crate::error::{Error, Result};
use crate::weights::tensor_set::{HostTensor, TensorSet, checked_numel};

const FORMAT: &str = "TF.js model.json";

/// A parsed `model.json`: where the weights are and how to read them.
#[derive(Debug, Clone)]
pub struct TfjsModel {
    groups: Vec<WeightGroup>,
    /// BatchNorm epsilon from the topology (Keras 2.2.4 used 1e-3, later versions 1.001e-5).
    pub bn_eps: f64,
    /// `generatedBy` / `convertedBy`, for the model's description.
    pub generated_by: String,
}

#[derive(Debug, Clone, Deserialize)]
struct WeightGroup {
    paths: Vec<String>,
    weights: Vec<WeightEntry>,
}

#[derive(Debug, Clone, Deserialize)]
struct WeightEntry {
    name: String,
    shape: Vec<usize>,
    dtype: String,
    #[serde(default)]
    quantization: Option<Quantization>,
}

#[derive(Debug, Clone, Deserialize)]
struct Quantization {
    dtype: String,
    #[serde(default)]
    scale: Option<f32>,
    #[serde(default)]
    min: Option<f32>,
}

impl TfjsModel {
    /// Parses `model.json`. Only layers models are accepted: a graph model (`"format":
    /// "graph-model"`) has no layer names to map.
    pub fn parse(json: &[u8]) -> Result<Self> {
        let root: serde_json::Value = serde_json::from_slice(json)
            .map_err(|e| Error::corrupt(FORMAT, format!("not valid JSON: {e}")))?;
        if root.get("format").and_then(|f| f.as_str()) == Some("graph-model") {
            return Err(Error::UnknownFormat(
                "this is a TF.js graph model; only layers models (Keras) can be mapped onto a ResNet".into(),
            ));
        }
        let manifest = root
            .get("weightsManifest")
            .ok_or_else(|| Error::corrupt(FORMAT, "no weightsManifest"))?;
        let groups: Vec<WeightGroup> = serde_json::from_value(manifest.clone())
            .map_err(|e| Error::corrupt(FORMAT, format!("malformed weightsManifest: {e}")))?;
        let topology = root
            .get("modelTopology")
            .ok_or_else(|| Error::corrupt(FORMAT, "no modelTopology"))?;
        let bn_eps = batchnorm_epsilon(topology)?;
        let generated_by = [root.get("generatedBy"), root.get("convertedBy")]
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Self {
            groups,
            bn_eps,
            generated_by,
        })
    }

    /// Shard file names, relative to `model.json`, in the order [`assemble`](Self::assemble)
    /// wants their bytes.
    pub fn shard_paths(&self) -> Vec<String> {
        self.groups
            .iter()
            .flat_map(|g| g.paths.iter().cloned())
            .collect()
    }

    /// Bytes the manifest describes in all, so that a reader can refuse shards that hold more
    /// before reading them (one shard listed a thousand times, a device file).
    pub fn weight_bytes(&self) -> Result<usize> {
        self.groups.iter().try_fold(0usize, |acc, g| {
            acc.checked_add(group_bytes(g)?).ok_or_else(|| {
                Error::corrupt(FORMAT, "the manifest describes impossibly many bytes")
            })
        })
    }

    /// Decodes the shards (in [`shard_paths`](Self::shard_paths) order) into torchvision-named
    /// tensors.
    pub fn assemble(&self, shards: &[Vec<u8>]) -> Result<TensorSet> {
        let expected = self.shard_paths().len();
        if shards.len() != expected {
            return Err(Error::corrupt(
                FORMAT,
                format!("expected {expected} shard(s), got {}", shards.len()),
            ));
        }
        let mut set = TensorSet::new();
        let mut shard_iter = shards.iter();
        for group in &self.groups {
            let files: Vec<&Vec<u8>> = shard_iter.by_ref().take(group.paths.len()).collect();
            // Sizes are compared before the shards are joined, so the copy is never larger
            // than what the manifest describes.
            let needed = group_bytes(group)?;
            let held = files
                .iter()
                .fold(0usize, |acc, f| acc.saturating_add(f.len()));
            if held < needed {
                return Err(Error::corrupt(
                    FORMAT,
                    format!(
                        "the shards hold {held} bytes but the manifest describes {needed}; a shard is missing or truncated"
                    ),
                ));
            }
            if held > needed {
                return Err(Error::corrupt(
                    FORMAT,
                    format!("the shards hold {held} bytes but the manifest describes {needed}"),
                ));
            }
            // A group's shards are one buffer cut into files.
            let mut buffer = Vec::with_capacity(needed);
            for file in files {
                buffer.extend_from_slice(file);
            }
            let mut offset = 0usize;
            for entry in &group.weights {
                let (len, element_size, decode) = entry_bytes(entry)?;
                let bytes = offset
                    .checked_add(len)
                    .and_then(|end| buffer.get(offset..end))
                    .ok_or_else(|| {
                        Error::corrupt(
                            FORMAT,
                            format!(
                                "the shards end before weight `{}`; a shard is missing or truncated",
                                entry.name
                            ),
                        )
                    })?;
                offset += len;
                let values: Vec<f32> = bytes.chunks_exact(element_size).map(&decode).collect();
                let (name, tensor) =
                    to_torchvision(&entry.name, HostTensor::new(entry.shape.clone(), values)?)?;
                set.insert(name, tensor)?;
            }
        }
        Ok(set)
    }
}

/// Bytes of one weight, its element size and its decoder.
fn entry_bytes(entry: &WeightEntry) -> Result<(usize, usize, Decode)> {
    let numel = checked_numel(&entry.shape)?;
    let (element_size, decode) = decoder(entry)?;
    let len = numel.checked_mul(element_size).ok_or_else(|| {
        Error::corrupt(
            FORMAT,
            format!("weight `{}` is impossibly large", entry.name),
        )
    })?;
    Ok((len, element_size, decode))
}

/// Bytes of one weight group, with checked arithmetic (a hostile manifest overflows it).
fn group_bytes(group: &WeightGroup) -> Result<usize> {
    group.weights.iter().try_fold(0usize, |acc, e| {
        acc.checked_add(entry_bytes(e)?.0)
            .ok_or_else(|| Error::corrupt(FORMAT, "the manifest describes impossibly many bytes"))
    })
}

type Decode = Box<dyn Fn(&[u8]) -> f32>;

/// Element size and decoder for a manifest entry (plain float32/float16, or quantised).
fn decoder(entry: &WeightEntry) -> Result<(usize, Decode)> {
    if let Some(q) = &entry.quantization {
        return match (q.dtype.as_str(), q.scale, q.min) {
            ("uint8", Some(scale), Some(min)) => {
                Ok((1, Box::new(move |b| min + scale * b[0] as f32)))
            }
            ("uint16", Some(scale), Some(min)) => Ok((
                2,
                Box::new(move |b| min + scale * u16::from_le_bytes([b[0], b[1]]) as f32),
            )),
            ("float16", _, _) => Ok((2, Box::new(|b| f16::from_le_bytes([b[0], b[1]]).to_f32()))),
            (other, _, _) => Err(Error::corrupt(
                FORMAT,
                format!("unsupported quantisation {other} on `{}`", entry.name),
            )),
        };
    }
    match entry.dtype.as_str() {
        "float32" => Ok((
            4,
            Box::new(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        )),
        other => Err(Error::corrupt(
            FORMAT,
            format!("unsupported dtype {other} on `{}`", entry.name),
        )),
    }
}

/// The (single) BatchNorm epsilon of the model's BatchNormalization layers.
fn batchnorm_epsilon(topology: &serde_json::Value) -> Result<f64> {
    let config = topology.get("model_config").unwrap_or(topology);
    let layers = config
        .pointer("/config/layers")
        .and_then(|l| l.as_array())
        .ok_or_else(|| Error::corrupt(FORMAT, "the topology lists no layers"))?;
    let eps: Vec<f64> = layers
        .iter()
        .filter(|l| l.get("class_name").and_then(|c| c.as_str()) == Some("BatchNormalization"))
        .filter_map(|l| l.pointer("/config/epsilon").and_then(|e| e.as_f64()))
        .collect();
    let first = *eps.first().ok_or_else(|| {
        Error::Architecture("the model has no BatchNormalization layers; not a ResNet".into())
    })?;
    if eps.iter().any(|&e| (e - first).abs() > 1e-12) {
        return Err(Error::Architecture(
            "BatchNorm layers use different epsilons".into(),
        ));
    }
    Ok(first)
}

/// Maps one Keras weight (`res2a_branch2b/kernel`, `conv2_block1_2_conv/kernel`, ...) to its
/// torchvision name, transposing kernels into PyTorch's layout.
fn to_torchvision(keras: &str, tensor: HostTensor) -> Result<(String, HostTensor)> {
    let unknown = || Error::Architecture(format!("weight `{keras}` is not part of a Keras ResNet"));
    let (layer, variable) = keras.rsplit_once('/').ok_or_else(unknown)?;
    // Converters sometimes prefix the model name (`resnet50/conv1/kernel`).
    let layer = layer.rsplit('/').next().unwrap_or(layer);
    let module = keras_module(layer).ok_or_else(unknown)?;
    let (suffix, tensor) = match variable {
        "kernel" if tensor.shape.len() == 4 => ("weight", hwio_to_oihw(tensor)),
        "kernel" if tensor.shape.len() == 2 => ("weight", transpose2(tensor)),
        "bias" => ("bias", tensor),
        "gamma" => ("weight", tensor),
        "beta" => ("bias", tensor),
        "moving_mean" => ("running_mean", tensor),
        "moving_variance" => ("running_var", tensor),
        _ => return Err(unknown()),
    };
    Ok((format!("{module}.{suffix}"), tensor))
}

/// Keras layer name → torchvision module name, for both Keras naming schemes.
fn keras_module(layer: &str) -> Option<String> {
    match layer {
        "conv1" | "conv1_conv" => return Some("conv1".into()),
        "bn_conv1" | "conv1_bn" => return Some("bn1".into()),
        "fc1000" | "predictions" | "probs" => return Some("fc".into()),
        _ => {}
    }
    // Keras ≤ 2.2.4: res{stage}{block letter}_branch{1 | 2a | 2b | 2c}, bn... likewise.
    for (prefix, is_bn) in [("res", false), ("bn", true)] {
        if let Some(rest) = layer.strip_prefix(prefix) {
            let (head, branch) = rest.split_once("_branch")?;
            let stage: usize = head.get(..1)?.parse().ok()?;
            let block = head.get(1..)?;
            let block = if block.len() == 1 {
                (block.as_bytes()[0].checked_sub(b'a'))? as usize
            } else {
                // ResNet-101/152 ports name blocks a, b1, b2, ...
                block.strip_prefix('b')?.parse::<usize>().ok()?
            };
            let stage = stage.checked_sub(1)?;
            let part = match (branch, is_bn) {
                ("1", false) => "downsample.0".to_string(),
                ("1", true) => "downsample.1".to_string(),
                (b, false) => format!("conv{}", branch_index(b)?),
                (b, true) => format!("bn{}", branch_index(b)?),
            };
            return Some(format!("layer{stage}.{block}.{part}"));
        }
    }
    // tf.keras: conv{stage}_block{n}_{0 | 1 | 2 | 3}_{conv | bn}.
    let rest = layer.strip_prefix("conv")?;
    let (stage, rest) = rest.split_once("_block")?;
    let mut parts = rest.split('_');
    let block: usize = parts.next()?.parse().ok()?;
    let index: usize = parts.next()?.parse().ok()?;
    let kind = parts.next()?;
    let stage = stage.parse::<usize>().ok()?.checked_sub(1)?;
    let block = block.checked_sub(1)?;
    let part = match (index, kind) {
        (0, "conv") => "downsample.0".to_string(),
        (0, "bn") => "downsample.1".to_string(),
        (n @ 1..=3, "conv") => format!("conv{n}"),
        (n @ 1..=3, "bn") => format!("bn{n}"),
        _ => return None,
    };
    Some(format!("layer{stage}.{block}.{part}"))
}

fn branch_index(branch: &str) -> Option<usize> {
    match branch {
        "2a" => Some(1),
        "2b" => Some(2),
        "2c" => Some(3),
        _ => None,
    }
}

/// `[kh, kw, in, out]` → `[out, in, kh, kw]`.
fn hwio_to_oihw(t: HostTensor) -> HostTensor {
    let [kh, kw, ci, co] = [t.shape[0], t.shape[1], t.shape[2], t.shape[3]];
    let mut data = vec![0.0; t.data.len()];
    for h in 0..kh {
        for w in 0..kw {
            for i in 0..ci {
                for o in 0..co {
                    data[((o * ci + i) * kh + h) * kw + w] =
                        t.data[((h * kw + w) * ci + i) * co + o];
                }
            }
        }
    }
    HostTensor {
        shape: vec![co, ci, kh, kw],
        data,
    }
}

/// `[in, out]` → `[out, in]`.
fn transpose2(t: HostTensor) -> HostTensor {
    let [rows, cols] = [t.shape[0], t.shape[1]];
    let mut data = vec![0.0; t.data.len()];
    for r in 0..rows {
        for c in 0..cols {
            data[c * rows + r] = t.data[r * cols + c];
        }
    }
    HostTensor {
        shape: vec![cols, rows],
        data,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keras_names_map_to_torchvision() {
        let cases = [
            ("conv1", "conv1"),
            ("bn_conv1", "bn1"),
            ("res2a_branch2a", "layer1.0.conv1"),
            ("bn3d_branch2c", "layer2.3.bn3"),
            ("res5a_branch1", "layer4.0.downsample.0"),
            ("bn4f_branch1", "layer3.5.downsample.1"),
            ("conv2_block1_0_conv", "layer1.0.downsample.0"),
            ("conv5_block3_3_bn", "layer4.2.bn3"),
            ("fc1000", "fc"),
        ];
        for (keras, torch) in cases {
            assert_eq!(keras_module(keras).as_deref(), Some(torch), "{keras}");
        }
        assert_eq!(keras_module("dense_7"), None);
    }

    #[test]
    fn kernel_transpose_moves_each_element() {
        // A 1×2 kernel, 2 in, 3 out: value encodes (h, w, i, o).
        let shape = vec![1, 2, 2, 3];
        let data: Vec<f32> = (0..12).map(|v| v as f32).collect();
        let t = hwio_to_oihw(HostTensor::new(shape, data).unwrap());
        assert_eq!(t.shape, vec![3, 2, 1, 2]);
        // (o=2, i=1, h=0, w=1) sits at ((2·2 + 1)·1 + 0)·2 + 1 = 11 in OIHW and came from
        // (h=0, w=1, i=1, o=2) at ((0·2 + 1)·2 + 1)·3 + 2 = 11 in HWIO.
        assert_eq!(t.data[11], 11.0);
        // (o=1, i=0, h=0, w=1) sits at ((1·2 + 0)·1 + 0)·2 + 1 = 5 and came from (0, 1, 0, 1) = 7.
        assert_eq!(t.data[5], 7.0);
        // element (o=0, i=0, h=0, w=0) is the first input value
        assert_eq!(t.data[0], 0.0);
    }
}
