//! Ten-crop and full-image testing against torchvision: the crops' positions (every 8th
//! pixel of each crop and of the resized image) and the probabilities tiny_resnet18 gives
//! (PyTorch, `tests/fixtures/make_crops_reference.py`).

use crate::common::{npy, read};
use burn::tensor::Device;
use resnet_lab_core::predict::{mean_softmax, softmax};
use resnet_lab_core::preprocess::views::{Crops, preprocess_views, view_pixels};
use resnet_lab_core::preprocess::{
    InputConvention, PixelBuffer, decode::decode_image, normalize_crop,
};
use resnet_lab_core::{Classifier, load_weights};
use serde_json::Value;

const PHOTOS: [(&str, &str); 3] = [
    ("dog", "photos/dog.jpg"),
    ("chelsea", "photos/chelsea.png"),
    ("panorama", "formats/panorama.png"),
];

/// Every 8th pixel from (4, 4) of an RGB8 image: what the fixture stores.
pub(crate) fn subsample(rgb: &[u8], width: usize, height: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for y in (4..height).step_by(8) {
        for x in (4..width).step_by(8) {
            out.extend_from_slice(&rgb[(y * width + x) * 3..][..3]);
        }
    }
    out
}

/// Mean |Δ| in normalised units, the preprocessing tests' measure.
pub(crate) fn mean_abs_diff(a: &[u8], b: &[u8]) -> f32 {
    assert_eq!(a.len(), b.len());
    let (a, b) = (
        normalize_crop(a, InputConvention::Torchvision),
        normalize_crop(b, InputConvention::Torchvision),
    );
    a.iter().zip(&b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

fn max_abs_diff(a: &[f32], b: &Value) -> f64 {
    a.iter()
        .zip(b.as_array().unwrap())
        .map(|(x, y)| (*x as f64 - y.as_f64().unwrap()).abs())
        .fold(0.0, f64::max)
}

#[test]
fn ten_crops_and_the_full_image_match_torchvision() {
    let reference: Value = serde_json::from_slice(&read("crops/reference.json")).unwrap();
    let weights = load_weights(&read("tiny_resnet18.pth")).unwrap();
    let classifier = Classifier::new(weights, &Device::flex()).unwrap();
    for (stem, path) in PHOTOS {
        let image = decode_image(&read(path)).unwrap();
        let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb).unwrap();
        let r = &reference[stem];

        // Where the crops lie: every 8th pixel of each, against torchvision's.
        let (shape, want) = npy(&format!("crops/{stem}_ten_sub8.npy"));
        assert_eq!(shape, vec![10, 28, 28, 3]);
        let want: Vec<u8> = want.iter().map(|&v| v as u8).collect();
        for (i, view) in view_pixels(&pixels, Crops::Ten).unwrap().iter().enumerate() {
            let got = subsample(&view.rgb, view.width, view.height);
            let diff = mean_abs_diff(&got, &want[i * 28 * 28 * 3..][..28 * 28 * 3]);
            assert!(diff <= 0.01, "{stem} crop {i}: mean |Δ| = {diff}");
        }
        let full = view_pixels(&pixels, Crops::Full).unwrap().remove(0);
        let resized = r["resized"].as_array().unwrap();
        assert_eq!(full.width as u64, resized[0].as_u64().unwrap(), "{stem}");
        assert_eq!(full.height as u64, resized[1].as_u64().unwrap(), "{stem}");
        let (_, want_full) = npy(&format!("crops/{stem}_full_sub8.npy"));
        let want_full: Vec<u8> = want_full.iter().map(|&v| v as u8).collect();
        let diff = mean_abs_diff(&subsample(&full.rgb, full.width, full.height), &want_full);
        assert!(diff <= 0.01, "{stem} full image: mean |Δ| = {diff}");

        // The probabilities: each crop's softmax, their mean, and the whole image's.
        let views = preprocess_views(&pixels, InputConvention::Torchvision, Crops::Ten).unwrap();
        let rows = pollster::block_on(classifier.view_outputs(&views, false)).unwrap();
        let mut worst = 0.0f64;
        for (i, row) in rows.iter().enumerate() {
            worst = worst.max(max_abs_diff(&softmax(row), &r["ten_probs"][i]));
        }
        let mean = max_abs_diff(&mean_softmax(&rows), &r["ten_mean"]);
        let views = preprocess_views(&pixels, InputConvention::Torchvision, Crops::Full).unwrap();
        let rows = pollster::block_on(classifier.view_outputs(&views, false)).unwrap();
        let whole = max_abs_diff(&softmax(&rows[0]), &r["full"]);
        eprintln!("{stem}: per crop {worst:.2e}, ten-crop mean {mean:.2e}, full image {whole:.2e}");
        assert!(worst <= 2e-3 && mean <= 1e-3 && whole <= 1e-3, "{stem}");
    }
}
