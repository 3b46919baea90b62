//! ResNet Lab's own file: one `.safetensors` file in torchvision naming whose header
//! metadata says everything else (architecture, layout, input convention, labels, source).
//!
//! Any safetensors reader can open it; ResNet Lab needs nothing beside it. `--half` stores
//! the weights as float16 to halve the download.

use std::collections::HashMap;

use crate::error::{Error, Result};
use crate::weights::safetensors::{StoredDtype, read_safetensors, write_safetensors};
use crate::weights::{LoadedWeights, ModelInfo, WeightFormat};

/// Metadata key that marks a bundle and holds its description (JSON of [`ModelInfo`]).
const INFO_KEY: &str = "resnet_lab";
/// Bundle version, bumped if the description changes incompatibly.
const VERSION_KEY: &str = "resnet_lab_version";
const VERSION: &str = "1";

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
    info.stored_dtype = match dtype {
        StoredDtype::F32 => "float32",
        StoredDtype::F16 => "float16",
    }
    .into();
    info.format = WeightFormat::Bundle;
    let description = serde_json::to_string(&info).map_err(|e| Error::Input(e.to_string()))?;
    let metadata = HashMap::from([
        (INFO_KEY.to_owned(), description),
        (VERSION_KEY.to_owned(), VERSION.to_owned()),
    ]);
    write_safetensors(&weights.tensors, dtype, metadata)
}

/// Reads a bundle written by [`write_bundle`].
pub fn read_bundle(bytes: &[u8]) -> Result<LoadedWeights> {
    let (tensors, metadata) = read_safetensors(bytes)?;
    let version = metadata.get(VERSION_KEY).map(String::as_str).unwrap_or("?");
    if version != VERSION {
        return Err(Error::corrupt(
            "ResNet Lab bundle",
            format!(
                "bundle version {version} is not supported (this build reads version {VERSION})"
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
    tensors.check_against(&info.config.tensor_specs())?;
    Ok(LoadedWeights { info, tensors })
}
