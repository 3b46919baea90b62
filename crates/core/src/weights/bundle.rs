//! ResNet Lab's own file: one `.safetensors` file in torchvision naming whose header
//! metadata says everything else (architecture, layout, input convention, labels, source).
//!
//! Any safetensors reader can open it; ResNet Lab needs nothing beside it. `--half` stores
//! the weights as float16 to halve the download; `--int8` writes version 2, BatchNorm folded
//! and int8 weights with per-channel scales (see `weights::int8`), dequantised at load.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::weights::int8;
use crate::weights::safetensors::{
    StoredDtype, read_metadata, read_safetensors, serialize, write_safetensors,
};
use crate::weights::{LoadedWeights, ModelInfo, WeightFormat};

/// Metadata key that marks a bundle and holds its description (JSON of [`ModelInfo`]).
const INFO_KEY: &str = "resnet_lab";
/// Bundle version, bumped if the description or the tensor layout changes incompatibly.
const VERSION_KEY: &str = "resnet_lab_version";
/// Float bundles: the checkpoint's tensors as they are (BatchNorm unfolded).
const VERSION: &str = "1";
/// Int8 bundles: BatchNorm folded, int8 weights with scales. An older build reading one says
/// it does not support version 2 instead of failing on a tensor's dtype.
const VERSION_INT8: &str = "2";
/// For people opening an int8 bundle with another safetensors reader.
const LAYOUT_KEY: &str = "resnet_lab_layout";
const LAYOUT_INT8: &str = "BatchNorm folded into each conv; `X.weight` int8 (per output channel \
    symmetric) times `X.weight_scale` (float32), `X.bias` float32; conv1 float32";

/// Whether a safetensors file carries a ResNet Lab description.
pub fn is_bundle(bytes: &[u8]) -> bool {
    ::safetensors::SafeTensors::read_metadata(bytes)
        .ok()
        .and_then(|(_, m)| m.metadata().as_ref().map(|m| m.contains_key(INFO_KEY)))
        .unwrap_or(false)
}

/// Writes `weights` as a bundle.
pub fn write_bundle(weights: &LoadedWeights, dtype: StoredDtype) -> Result<Vec<u8>> {
    // The ResNet is built from these before writing, so a bundle is always loadable.
    weights
        .tensors
        .check_against(&weights.info.config.tensor_specs())?;
    let mut info = weights.info.clone();
    info.stored_dtype = dtype.name().into();
    info.format = WeightFormat::Bundle;
    let description = serde_json::to_string(&info).map_err(|e| Error::Input(e.to_string()))?;
    let mut metadata = HashMap::from([(INFO_KEY.to_owned(), description)]);
    if dtype == StoredDtype::Int8 {
        let tensors = int8::quantise(&weights.tensors, &info.config)?;
        metadata.insert(VERSION_KEY.to_owned(), VERSION_INT8.to_owned());
        metadata.insert(LAYOUT_KEY.to_owned(), LAYOUT_INT8.to_owned());
        serialize(&tensors, metadata)
    } else {
        metadata.insert(VERSION_KEY.to_owned(), VERSION.to_owned());
        write_safetensors(&weights.tensors, dtype, metadata)
    }
}

/// Reads a bundle written by [`write_bundle`]; an int8 one comes back dequantised.
pub fn read_bundle(bytes: &[u8]) -> Result<LoadedWeights> {
    let metadata = read_metadata(bytes)?;
    let version = metadata.get(VERSION_KEY).map(String::as_str).unwrap_or("?");
    if version != VERSION && version != VERSION_INT8 {
        return Err(Error::corrupt(
            "ResNet Lab bundle",
            format!(
                "bundle version {version} is not supported (this build reads versions {VERSION} and {VERSION_INT8})"
            ),
        ));
    }
    let description = metadata
        .get(INFO_KEY)
        .ok_or_else(|| Error::corrupt("ResNet Lab bundle", "no description in the metadata"))?;
    let info: ModelInfo = serde_json::from_str(description)
        .map_err(|e| Error::corrupt("ResNet Lab bundle", format!("unreadable description: {e}")))?;
    // The description is untrusted: bound it before anything is sized from it, then hold it
    // against the tensors actually present.
    info.config.validate()?;
    let int8_dtype = StoredDtype::Int8.name();
    if (version == VERSION_INT8) != (info.stored_dtype == int8_dtype) {
        return Err(Error::corrupt(
            "ResNet Lab bundle",
            format!(
                "a version {version} bundle cannot hold `{}` weights (int8 weights are version {VERSION_INT8})",
                info.stored_dtype
            ),
        ));
    }
    let tensors = if version == VERSION_INT8 {
        int8::dequantise(bytes, &info.config)?
    } else {
        read_safetensors(bytes)?.0
    };
    tensors.check_against(&info.config.tensor_specs())?;
    Ok(LoadedWeights { info, tensors })
}
