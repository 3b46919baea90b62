//! Reading what the user names on the command line: weight files and inputs.

use std::io::Read;
use std::path::{Component, Path};

use resnet_lab_core::Error;
use resnet_lab_core::gradflow;
use resnet_lab_core::preprocess::MAX_IMAGE_PIXELS;
use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::preprocess::{
    CROP_SIZE, InputConvention, PixelBuffer, preprocess, resize_and_crop,
};
use resnet_lab_core::weights::{self, LoadedWeights, ModelInfo, WeightFormat, tfjs::TfjsModel};

fn read(path: &Path) -> Result<Vec<u8>, Error> {
    std::fs::read(path).map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))
}

/// Loads any supported weights file; a TF.js `model.json` brings its shards from its folder.
pub fn load_weights_file(path: &Path) -> Result<LoadedWeights, Error> {
    let bytes = read(path)?;
    if weights::sniff_format(&bytes) == Some(WeightFormat::TfjsLayers) {
        let model = TfjsModel::parse(&bytes)?;
        let dir = path.parent().unwrap_or(Path::new("."));
        // Shards together may hold no more than the manifest describes, so a shard listed
        // many times (or a huge file) is refused before it multiplies memory.
        let mut budget = model.weight_bytes()?;
        let shards = model
            .shard_paths()
            .iter()
            .map(|p| read_shard(dir, p, &mut budget))
            .collect::<Result<Vec<_>, _>>()?;
        return weights::load_tfjs(&bytes, &shards);
    }
    weights::load_weights(&bytes)
}

/// Reads one TF.js shard, confined to the model's folder: the manifest is untrusted, so its
/// path must be relative with plain components, must still lie inside the folder once links
/// are resolved, and must be a regular file (not /dev/zero) of at most `budget` bytes.
fn read_shard(dir: &Path, relative: &str, budget: &mut usize) -> Result<Vec<u8>, Error> {
    let refuse = |why: &str| {
        Error::Input(format!(
            "TF.js shard path `{}` {why}",
            relative.escape_default()
        ))
    };
    let rel = Path::new(relative);
    if relative.is_empty() || !rel.components().all(|c| matches!(c, Component::Normal(_))) {
        return Err(refuse(
            "is not a plain relative path inside the model's folder",
        ));
    }
    let canonical = |p: &Path| {
        p.canonicalize()
            .map_err(|e| Error::Input(format!("cannot read {}: {e}", p.display())))
    };
    let root = canonical(if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    })?;
    let file = canonical(&dir.join(rel))?;
    if !file.starts_with(&root) {
        return Err(refuse("leads outside the model's folder"));
    }
    let meta = std::fs::metadata(&file)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", file.display())))?;
    if !meta.is_file() {
        return Err(refuse("is not a regular file"));
    }
    let len = usize::try_from(meta.len()).unwrap_or(usize::MAX);
    if len > *budget {
        return Err(refuse(
            "makes the shards hold more bytes than the manifest describes",
        ));
    }
    // The read is capped too, in case the file grows meanwhile.
    let mut out = Vec::with_capacity(len);
    std::fs::File::open(&file)
        .and_then(|f| f.take(len as u64).read_to_end(&mut out))
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", file.display())))?;
    *budget -= out.len();
    Ok(out)
}

/// A network input: `[3, height, width]` values.
pub struct Input {
    pub values: Vec<f32>,
    pub height: usize,
    pub width: usize,
}

/// One network input: a `.npy` as is, or an image through torchvision's centre crop.
pub fn load_input(path: &Path, convention: InputConvention) -> Result<Input, Error> {
    let bytes = read(path)?;
    if bytes.starts_with(b"\x93NUMPY") {
        return load_npy(&bytes);
    }
    let image = decode_image(&bytes)?;
    let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb)?;
    Ok(Input {
        values: preprocess(&pixels, convention)?,
        height: CROP_SIZE,
        width: CROP_SIZE,
    })
}

/// The input of a gradient analysis: a `.npy` as is, an image through the network's own
/// preprocessing (shrunk to 32×32 for a CIFAR network), or seeded noise when there is none.
pub fn analysis_input(path: Option<&Path>, info: &ModelInfo, seed: u64) -> Result<Input, Error> {
    let crop = match path {
        None => None,
        Some(path) => {
            let bytes = read(path)?;
            if bytes.starts_with(b"\x93NUMPY") {
                return load_npy(&bytes);
            }
            let image = decode_image(&bytes)?;
            let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb)?;
            Some(resize_and_crop(&pixels)?)
        }
    };
    let (values, side) = gradflow::analysis_input(crop.as_deref(), &info.config, info.input, seed)?;
    Ok(Input {
        values,
        height: side,
        width: side,
    })
}

/// A float32 `.npy` of shape `[3, H, W]` or `[1, 3, H, W]`, fed to the model as is.
pub fn load_npy(bytes: &[u8]) -> Result<Input, Error> {
    let bad = |why: String| Error::Input(format!("unusable .npy: {why}"));
    let npy = npyz::NpyFile::new(bytes).map_err(|e| bad(e.to_string()))?;
    let shape: Vec<u64> = npy.shape().to_vec();
    let (h, w) = match shape.as_slice() {
        [3, h, w] | [1, 3, h, w] => (*h as usize, *w as usize),
        other => {
            return Err(bad(format!(
                "shape {other:?}; expected [3, H, W] or [1, 3, H, W]"
            )));
        }
    };
    // The same pixel limit as for images: the model would otherwise be run on any size.
    if (h as u64).saturating_mul(w as u64) > MAX_IMAGE_PIXELS {
        return Err(bad(format!(
            "shape {shape:?} is over {} megapixels",
            MAX_IMAGE_PIXELS / 1_000_000
        )));
    }
    // The header's shape must agree with the data actually present (before allocating it).
    let needed = 3usize.saturating_mul(h).saturating_mul(w).saturating_mul(4);
    if needed > bytes.len() {
        return Err(bad(format!(
            "shape {shape:?} needs {needed} bytes of float32 data; the file has {}",
            bytes.len()
        )));
    }
    if npy.order() != npyz::Order::C {
        return Err(bad("Fortran order; save a C-contiguous array".into()));
    }
    let values: Vec<f32> = npy
        .into_vec::<f32>()
        .map_err(|e| bad(format!("{e} (expected float32)")))?;
    if let Some(i) = values.iter().position(|v| !v.is_finite()) {
        return Err(bad(format!("value {i} is {} (NaN or infinity)", values[i])));
    }
    Ok(Input {
        values,
        height: h,
        width: w,
    })
}
