//! Int8 bundles (`convert --int8`): the same arithmetic as an independent PyTorch
//! quantisation of the tiny ResNets, and on the real Keras ResNet50 a ≤ 27 MB file whose top-1
//! is TensorFlow.js's float32 top-1 on at least 97% of 40 views of the test photos.

use crate::common::{npy, read};
use crate::keras::keras_weights;
use burn::tensor::Device;
use resnet_lab_core::predict::top_k;
use resnet_lab_core::preprocess::{InputConvention, normalize_crop};
use resnet_lab_core::weights::bundle::write_bundle;
use resnet_lab_core::weights::safetensors::StoredDtype;
use resnet_lab_core::{Classifier, load_weights};
use serde_json::Value;

/// The bound on the int8 Keras ResNet50 (float32 is 102 MB, float16 51.6 MB).
const MAX_INT8_BYTES: usize = 27_000_000;
/// Share of inputs whose int8 top-1 must equal the float32 model's.
const MIN_AGREEMENT: f64 = 0.97;

#[test]
fn int8_tiny_resnets_match_pytorch_on_the_same_int8_weights() {
    for name in ["tiny_resnet18", "tiny_resnet50"] {
        let weights = load_weights(&read(&format!("{name}.safetensors"))).unwrap();
        let bundle = write_bundle(&weights, StoredDtype::Int8).unwrap();
        let reloaded = load_weights(&bundle).unwrap();
        assert_eq!(reloaded.info.stored_dtype, "int8");
        assert_eq!(reloaded.info.config, weights.info.config);

        let classifier = Classifier::new(reloaded, &Device::flex()).unwrap();
        let (_, input) = npy("tiny_input.npy");
        let batch = classifier.input_batch(&[input], 64, 64).unwrap();
        let ours = pollster::block_on(classifier.logits(batch))
            .unwrap()
            .remove(0);
        let (_, want) = npy(&format!("{name}_int8_logits.npy"));
        // float32 against PyTorch's float64 on identical int8 weights (fixtures README); the
        // int8 rounding itself moves these logits 100× further (make_int8_reference.py).
        let span = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in ours.iter().zip(&want).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * span + 1e-5,
                "{name} logit {i}: ours {a}, PyTorch {b}"
            );
        }
    }
}

/// View (transpose, flip_v, flip_h) of a square HWC crop, defined as in
/// `tests/fixtures/keras_views.mjs`.
fn view(crop: &[u8], n: usize, transpose: bool, flip_v: bool, flip_h: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(crop.len());
    for y in 0..n {
        for x in 0..n {
            let (mut sy, mut sx) = if transpose { (x, y) } else { (y, x) };
            if flip_v {
                sy = n - 1 - sy;
            }
            if flip_h {
                sx = n - 1 - sx;
            }
            out.extend_from_slice(&crop[(sy * n + sx) * 3..][..3]);
        }
    }
    out
}

#[test]
fn int8_keras_resnet50_fits_27_mb_and_keeps_tfjs_top1() {
    let bundle = write_bundle(&keras_weights(), StoredDtype::Int8).unwrap();
    assert!(
        bundle.len() <= MAX_INT8_BYTES,
        "int8 bundle is {} bytes",
        bundle.len()
    );
    let weights = load_weights(&bundle).unwrap();
    assert_eq!(weights.info.stored_dtype, "int8");
    let classifier = Classifier::new(weights, &Device::flex()).unwrap();

    let doc: Value = serde_json::from_slice(&read("keras_resnet50_views.json")).unwrap();
    let views = doc["results"].as_array().unwrap();
    assert_eq!(views.len(), 40, "5 photos × 8 views");
    let mut agree = 0;
    let mut report = String::new();
    // One batch per photo: its 8 views.
    for photo in views.chunks(8) {
        let image = photo[0]["image"].as_str().unwrap();
        let stem = image.rsplit_once('.').map_or(image, |(s, _)| s);
        let (shape, crop) = npy(&format!("preprocessed/{stem}_crop_u8.npy"));
        assert_eq!(shape, [224, 224, 3]);
        let crop: Vec<u8> = crop.iter().map(|&v| v as u8).collect();
        let flag = |v: &Value, key: &str| v[key].as_bool().unwrap();
        let inputs: Vec<Vec<f32>> = photo
            .iter()
            .map(|v| {
                assert_eq!(v["image"], image);
                let pixels = view(
                    &crop,
                    224,
                    flag(v, "transpose"),
                    flag(v, "flip_v"),
                    flag(v, "flip_h"),
                );
                normalize_crop(&pixels, InputConvention::CaffeBgr)
            })
            .collect();
        let batch = classifier.input_batch(&inputs, 224, 224).unwrap();
        let logits = pollster::block_on(classifier.logits(batch)).unwrap();
        for (v, logits) in photo.iter().zip(&logits) {
            let ours = top_k(logits, 1)[0].0 as u64;
            let theirs = v["top5"][0]["index"].as_u64().unwrap();
            agree += usize::from(ours == theirs);
            if ours != theirs {
                report.push_str(&format!(
                    "\n  {image} t{} v{} h{}: int8 {ours}, TF.js {theirs}",
                    flag(v, "transpose") as u8,
                    flag(v, "flip_v") as u8,
                    flag(v, "flip_h") as u8
                ));
            }
        }
    }
    let share = agree as f64 / views.len() as f64;
    eprintln!(
        "int8 bundle {} bytes; top-1 equal to TF.js float32 on {agree}/{} inputs{report}",
        bundle.len(),
        views.len()
    );
    assert!(
        share >= MIN_AGREEMENT,
        "int8 top-1 agrees on {agree}/{} inputs:{report}",
        views.len()
    );
}
