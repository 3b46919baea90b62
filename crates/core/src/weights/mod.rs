//! Reading the weight files people actually have, from bytes in memory.
//!
//! | format | module | naming |
//! |---|---|---|
//! | PyTorch `.pth` (zip + pickle) | [`pth`] | torchvision |
//! | `.safetensors` | [`safetensors`] | torchvision / timm |
//! | TF.js layers `model.json` + shards | [`tfjs`] | Keras, renamed on load |
//! | ResNet Lab bundle (safetensors + description) | [`bundle`] | torchvision |
//! | ResNet Lab int8 bundle (BatchNorm folded) | [`bundle`], `int8` | torchvision |
//!
//! Every reader produces a [`TensorSet`] in torchvision's naming; [`detect`] infers the
//! architecture from it, and [`ModelInfo`] says how to feed and read the network.

pub mod bundle;
pub mod detect;
mod int8;
mod pickle;
pub mod pth;
pub mod safetensors;
pub mod tensor_set;
pub mod tfjs;

use std::sync::OnceLock;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::config::{Layout, ResNetConfig};
use crate::preprocess::InputConvention;
pub use tensor_set::{HostTensor, TensorSet};

/// The container a set of weights came in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WeightFormat {
    Pth,
    Safetensors,
    TfjsLayers,
    /// A file written by `resnet-lab convert`.
    Bundle,
}

impl WeightFormat {
    pub fn describe(self) -> &'static str {
        match self {
            WeightFormat::Pth => "PyTorch state dict (.pth)",
            WeightFormat::Safetensors => "safetensors",
            WeightFormat::TfjsLayers => "TF.js layers model (model.json)",
            WeightFormat::Bundle => "ResNet Lab bundle (.safetensors with description)",
        }
    }
}

/// Everything needed to use a set of weights, besides the weights.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ModelInfo {
    pub config: ResNetConfig,
    pub input: InputConvention,
    pub labels: LabelSet,
    pub format: WeightFormat,
    /// Element type as stored (`float32`, `float16`, ...).
    pub stored_dtype: String,
    /// Where the weights came from, in words.
    pub source: String,
}

impl ModelInfo {
    /// A short name for the UI and the CLI: `resnet50`, `resnet18-w8`, ...
    pub fn name(&self) -> String {
        self.config.name()
    }
}

/// Weights read from a file, in torchvision naming, with their description.
#[derive(Debug, Clone)]
pub struct LoadedWeights {
    pub info: ModelInfo,
    pub tensors: TensorSet,
}

/// Guesses the format from the first bytes.
pub fn sniff_format(bytes: &[u8]) -> Option<WeightFormat> {
    // Legacy (pre-1.6) torch.save files: pickle protocol 2, then torch's magic number.
    const LEGACY_PTH: [u8; 4] = [0x80, 0x02, 0x8a, 0x0a];
    if safetensors::looks_like_safetensors(bytes) {
        if bundle::is_bundle(bytes) {
            Some(WeightFormat::Bundle)
        } else {
            Some(WeightFormat::Safetensors)
        }
    } else if bytes.starts_with(b"PK\x03\x04") || bytes.starts_with(&LEGACY_PTH) {
        Some(WeightFormat::Pth)
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
        Some(WeightFormat::TfjsLayers)
    } else {
        None
    }
}

/// Reads a self-contained weights file (`.pth`, `.safetensors` or a bundle). A TF.js
/// `model.json` needs its shards: see [`load_tfjs`].
pub fn load_weights(bytes: &[u8]) -> Result<LoadedWeights> {
    match sniff_format(bytes) {
        Some(WeightFormat::Pth) => {
            let tensors = pth::read_pth(bytes)?;
            from_torchvision_tensors(tensors, WeightFormat::Pth, "float32", "PyTorch state dict")
        }
        Some(WeightFormat::Safetensors) => {
            let (tensors, _) = safetensors::read_safetensors(bytes)?;
            from_torchvision_tensors(
                tensors,
                WeightFormat::Safetensors,
                "float32",
                "safetensors (torchvision/timm naming)",
            )
        }
        Some(WeightFormat::Bundle) => bundle::read_bundle(bytes),
        Some(WeightFormat::TfjsLayers) => Err(Error::UnknownFormat(
            "this is a TF.js model.json; it must be loaded together with its weight shards".into(),
        )),
        None => Err(Error::UnknownFormat(
            "expected a PyTorch .pth, a .safetensors, a TF.js model.json or a ResNet Lab bundle"
                .into(),
        )),
    }
}

/// Reads a TF.js layers model: `model.json` and its shards in
/// [`tfjs::TfjsModel::shard_paths`] order.
pub fn load_tfjs(model_json: &[u8], shards: &[Vec<u8>]) -> Result<LoadedWeights> {
    let model = tfjs::TfjsModel::parse(model_json)?;
    let tensors = model.assemble(shards)?;
    let config = detect::detect_architecture(&tensors, Some(Layout::Keras), model.bn_eps)?;
    let info = ModelInfo {
        labels: LabelSet::for_classes(config.num_classes),
        config,
        input: InputConvention::CaffeBgr,
        format: WeightFormat::TfjsLayers,
        stored_dtype: "float32".into(),
        source: format!("Keras ResNet via TF.js ({})", model.generated_by),
    };
    Ok(LoadedWeights { info, tensors })
}

/// Every float16 value as `f32`, indexed by its bits (256 KB, built once with `half`). In
/// WebAssembly, which has no float16 instructions, a lookup is quicker than converting each of
/// ResNet-50's 25.6 M values at every load (BENCHMARKS.md, "Reload").
fn f16_table() -> &'static [f32; 1 << 16] {
    static TABLE: OnceLock<Box<[f32; 1 << 16]>> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table = Box::new([0.0; 1 << 16]);
        for (bits, value) in (0..=u16::MAX).zip(table.iter_mut()) {
            *value = half::f16::from_bits(bits).to_f32();
        }
        table
    })
}

/// Little-endian float16 values as `f32` (on every thread where there are threads: a load
/// converts tens of millions).
pub(crate) fn f16_le_to_f32(data: &[u8]) -> Vec<f32> {
    let table = f16_table();
    let convert = |b: &[u8]| table[usize::from(u16::from_le_bytes([b[0], b[1]]))];
    #[cfg(feature = "rayon")]
    {
        use rayon::prelude::*;
        data.par_chunks_exact(2)
            .with_min_len(1 << 16)
            .map(convert)
            .collect()
    }
    #[cfg(not(feature = "rayon"))]
    data.chunks_exact(2).map(convert).collect()
}

fn from_torchvision_tensors(
    mut tensors: TensorSet,
    format: WeightFormat,
    dtype: &str,
    source: &str,
) -> Result<LoadedWeights> {
    tensors.remove_bookkeeping();
    let config = detect::detect_architecture(&tensors, None, 1e-5)?;
    let input = match config.layout {
        Layout::Torchvision => InputConvention::Torchvision,
        Layout::Keras => InputConvention::CaffeBgr,
    };
    Ok(LoadedWeights {
        info: ModelInfo {
            labels: LabelSet::for_classes(config.num_classes),
            config,
            input,
            format,
            stored_dtype: dtype.into(),
            source: source.into(),
        },
        tensors,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_float16_value_converts_as_the_half_crate_converts_it() {
        let bytes: Vec<u8> = (0..=u16::MAX).flat_map(u16::to_le_bytes).collect();
        let values = f16_le_to_f32(&bytes);
        assert_eq!(values.len(), 1 << 16);
        for (bits, value) in (0..=u16::MAX).zip(values) {
            let expected = half::f16::from_bits(bits).to_f32();
            assert_eq!(
                value.to_bits(),
                expected.to_bits(),
                "float16 bits {bits:#06x}"
            );
        }
    }

    #[test]
    fn sniffing_tells_formats_apart() {
        // A safetensors header length whose first byte is 0x80 must not look like a pickle.
        let mut st = vec![0x80, 0, 0, 0, 0, 0, 0, 0];
        st.extend_from_slice(b"{\"a\":1}");
        st.resize(200, b' ');
        assert_eq!(sniff_format(&st), Some(WeightFormat::Safetensors));
        assert_eq!(sniff_format(b"PK\x03\x04rest"), Some(WeightFormat::Pth));
        assert_eq!(
            sniff_format(&[0x80, 0x02, 0x8a, 0x0a, 0x6c]),
            Some(WeightFormat::Pth)
        );
        assert_eq!(
            sniff_format(b"  {\"modelTopology\": {}}"),
            Some(WeightFormat::TfjsLayers)
        );
        assert_eq!(sniff_format(b"\x89PNG\r\n"), None);
    }
}
