//! `.safetensors` files: the torchvision/timm naming read as is, and ResNet Lab's own
//! converted files, which are plain safetensors with a description in the metadata.

use std::collections::{HashMap, HashSet};
use std::fmt;

use half::{bf16, f16};
use safetensors::{Dtype, SafeTensors};

use crate::error::{Error, Result};
use crate::weights::tensor_set::{HostTensor, TensorSet};

const FORMAT: &str = "safetensors";

/// Whether the bytes start like a safetensors file: an 8-byte header length, then JSON.
pub fn looks_like_safetensors(bytes: &[u8]) -> bool {
    if bytes.len() < 10 {
        return false;
    }
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(len);
    (2..(100 << 20)).contains(&n) && bytes[8] == b'{'
}

/// The tensors (as `f32`) and the metadata of a safetensors file.
pub fn read_safetensors(bytes: &[u8]) -> Result<(TensorSet, HashMap<String, String>)> {
    let file = open_safetensors(bytes)?;
    let metadata = read_metadata(bytes)?;
    let mut set = TensorSet::new();
    for (name, view) in file.iter() {
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => super::f16_le_to_f32(data),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::F64 => data
                .chunks_exact(8)
                .map(|b| {
                    f64::from_le_bytes([b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]) as f32
                })
                .collect(),
            // Integer tensors in a ResNet checkpoint are `num_batches_tracked` counters.
            Dtype::I64 if name.ends_with("num_batches_tracked") => continue,
            other => {
                return Err(Error::corrupt(
                    FORMAT,
                    format!("tensor `{name}` has unsupported dtype {other:?}"),
                ));
            }
        };
        set.insert(name, HostTensor::new(view.shape().to_vec(), values)?)?;
    }
    Ok((set, metadata))
}

/// The file's tensors, checked: no name twice, every offset and shape consistent.
pub(crate) fn open_safetensors(bytes: &[u8]) -> Result<SafeTensors<'_>> {
    check_unique_keys(bytes)?;
    SafeTensors::deserialize(bytes)
        .map_err(|e| Error::corrupt(FORMAT, format!("{e}; is the file truncated?")))
}

/// The header's `__metadata__` strings (empty when there are none).
pub(crate) fn read_metadata(bytes: &[u8]) -> Result<HashMap<String, String>> {
    let (_, metadata) =
        SafeTensors::read_metadata(bytes).map_err(|e| Error::corrupt(FORMAT, e.to_string()))?;
    Ok(metadata.metadata().clone().unwrap_or_default())
}

/// Refuses a header that names a tensor twice: the JSON object would silently keep one of the
/// two, so the file would not mean what it says.
fn check_unique_keys(bytes: &[u8]) -> Result<()> {
    use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};

    struct UniqueKeys;
    impl<'de> Visitor<'de> for UniqueKeys {
        type Value = ();
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a JSON object")
        }
        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<(), A::Error> {
            let mut seen = HashSet::new();
            while let Some(key) = map.next_key::<String>()? {
                map.next_value::<IgnoredAny>()?;
                if !seen.insert(key.clone()) {
                    return Err(A::Error::custom(format!(
                        "`{key}` appears twice in the header"
                    )));
                }
            }
            Ok(())
        }
    }

    let header = bytes
        .get(..8)
        .map(|n| u64::from_le_bytes(n.try_into().unwrap_or_default()))
        .and_then(|n| usize::try_from(n).ok())
        .and_then(|n| bytes.get(8..8usize.checked_add(n)?))
        .ok_or_else(|| Error::corrupt(FORMAT, "the header is cut short; is the file truncated?"))?;
    serde_json::Deserializer::from_slice(header)
        .deserialize_map(UniqueKeys)
        .map_err(|e| Error::corrupt(FORMAT, format!("bad header: {e}")))
}

/// Element type of a written file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoredDtype {
    F32,
    /// Half precision for convolution and classifier weights (half the download, about three
    /// decimal digits per weight). Vectors (biases, BatchNorm statistics) stay float32: they are
    /// tiny, and a Caffe-scale running variance can exceed float16's range (65504).
    F16,
    /// Per-output-channel int8 weights after BatchNorm folding (a quarter of the download).
    /// Folding needs the architecture, so only bundles are written this way
    /// ([`write_bundle`](crate::weights::bundle::write_bundle)).
    Int8,
}

impl StoredDtype {
    /// The name a bundle's description records.
    pub fn name(self) -> &'static str {
        match self {
            StoredDtype::F32 => "float32",
            StoredDtype::F16 => "float16",
            StoredDtype::Int8 => "int8",
        }
    }
}

/// One tensor ready to be written: name, shape, dtype and little-endian bytes.
pub(crate) struct Encoded {
    name: String,
    shape: Vec<usize>,
    dtype: Dtype,
    bytes: Vec<u8>,
}

impl Encoded {
    pub(crate) fn new(name: String, shape: Vec<usize>, dtype: Dtype, bytes: Vec<u8>) -> Self {
        Self {
            name,
            shape,
            dtype,
            bytes,
        }
    }

    pub(crate) fn f32(name: String, shape: &[usize], values: &[f32]) -> Self {
        let bytes = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        Self::new(name, shape.to_vec(), Dtype::F32, bytes)
    }
}

/// Writes `tensors` as safetensors in `dtype` (float32 or float16), with `metadata` in the
/// header.
pub fn write_safetensors(
    tensors: &TensorSet,
    dtype: StoredDtype,
    metadata: HashMap<String, String>,
) -> Result<Vec<u8>> {
    if dtype == StoredDtype::Int8 {
        return Err(Error::Input(
            "int8 weights need BatchNorm folding: write a bundle instead".into(),
        ));
    }
    let encoded: Vec<Encoded> = tensors
        .iter()
        .map(|(name, t)| {
            if dtype == StoredDtype::F16 && t.shape.len() >= 2 {
                let bytes = t
                    .data
                    .iter()
                    .flat_map(|v| f16::from_f32(*v).to_le_bytes())
                    .collect();
                Encoded::new(name.to_owned(), t.shape.clone(), Dtype::F16, bytes)
            } else {
                Encoded::f32(name.to_owned(), &t.shape, &t.data)
            }
        })
        .collect();
    serialize(&encoded, metadata)
}

/// Writes already encoded tensors, with `metadata` in the header.
pub(crate) fn serialize(encoded: &[Encoded], metadata: HashMap<String, String>) -> Result<Vec<u8>> {
    let views = encoded
        .iter()
        .map(|t| {
            safetensors::tensor::TensorView::new(t.dtype, t.shape.clone(), &t.bytes)
                .map(|view| (t.name.as_str(), view))
                .map_err(|e| Error::corrupt(FORMAT, e.to_string()))
        })
        .collect::<Result<Vec<_>>>()?;
    safetensors::serialize(views, Some(metadata)).map_err(|e| Error::corrupt(FORMAT, e.to_string()))
}
