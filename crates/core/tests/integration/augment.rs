//! Augmented training views against torchvision: for given crop boxes of the `Resize(256)`
//! image, mirrored or not, the views' pixels (every 8th) and tiny_resnet18's pooled features
//! equal what torchvision's crop + flip and PyTorch give (features within 5e-3 of their range,
//! not the 1e-4 of identical inputs: our resize differs from PIL's by a level here and there,
//! bounded by the pixel check as in the preprocessing tests; measured worst 3.5e-3)
//! (`tests/fixtures/make_augment_reference.py`). Where the boxes come from (the seeded draws,
//! inside the image, 224×224) is checked by hand in `preprocess::augment`'s unit tests.

use crate::common::{npy, read};
use crate::crops::{mean_abs_diff, subsample};
use burn::tensor::Device;
use resnet_lab_core::preprocess::views::{CropPosition, View, crops_at};
use resnet_lab_core::preprocess::{
    InputConvention, PixelBuffer, decode::decode_image, normalize_crop, resized_size,
};
use resnet_lab_core::{Classifier, load_weights};
use serde_json::Value;

#[test]
fn augmented_views_match_torchvision_crops_and_features() {
    let reference: Value = serde_json::from_slice(&read("augment/views.json")).unwrap();
    let weights = load_weights(&read("tiny_resnet18.pth")).unwrap();
    let classifier = Classifier::new(weights, &Device::flex()).unwrap();
    let mut checked = 0;
    let mut failures = Vec::new();
    for (stem, r) in reference.as_object().unwrap() {
        let image = decode_image(&read(r["path"].as_str().unwrap())).unwrap();
        let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb).unwrap();
        let (w, h) = resized_size(image.width, image.height);
        assert_eq!(serde_json::json!([w, h]), r["resized"], "{stem}");
        let positions: Vec<CropPosition> = r["boxes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| CropPosition {
                left: b[0].as_u64().unwrap() as u32,
                top: b[1].as_u64().unwrap() as u32,
                flipped: b[2].as_bool().unwrap(),
            })
            .collect();
        let views = crops_at(&pixels, &positions).unwrap();

        let (shape, want) = npy(&format!("augment/{stem}_sub8.npy"));
        assert_eq!(shape, vec![positions.len(), 28, 28, 3]);
        let want: Vec<u8> = want.iter().map(|&v| v as u8).collect();
        for (i, view) in views.iter().enumerate() {
            assert_eq!((view.width, view.height), (224, 224));
            let got = subsample(&view.rgb, view.width, view.height);
            let diff = mean_abs_diff(&got, &want[i * 28 * 28 * 3..][..28 * 28 * 3]);
            assert!(diff <= 0.01, "{stem} view {i}: mean |Δ| = {diff}");
        }

        let inputs: Vec<View> = views
            .iter()
            .map(|v| View {
                values: normalize_crop(&v.rgb, InputConvention::Torchvision),
                height: v.height,
                width: v.width,
            })
            .collect();
        let rows = pollster::block_on(classifier.view_outputs(&inputs, true)).unwrap();
        for (i, (got, want)) in rows
            .iter()
            .zip(r["features"].as_array().unwrap())
            .enumerate()
        {
            let want: Vec<f32> = want
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect();
            assert_eq!(got.len(), want.len());
            let range = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
            let worst = got
                .iter()
                .zip(&want)
                .map(|(a, b)| (a - b).abs())
                .fold(0.0, f32::max);
            eprintln!("{stem} view {i}: features max |Δ| {worst:.2e} (range {range:.3})");
            failures.extend(
                (worst > FEATURE_TOLERANCE * range)
                    .then(|| format!("{stem} view {i}: max |Δ| {worst} (range {range})")),
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 10);
    assert!(failures.is_empty(), "{failures:#?}");
}

/// Relative to the features' range.
const FEATURE_TOLERANCE: f32 = 5e-3;
