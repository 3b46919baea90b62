//! Preprocessing matches torchvision's `Resize(256), CenterCrop(224), ToTensor(),
//! Normalize(...)` on PIL images (references from `tests/fixtures/generate.py` and
//! `make_format_inputs.py`), for real photos and every pixel layout we decode.

use crate::common::{fixture, npy, read};
use resnet_lab_core::preprocess::{
    InputConvention, PixelBuffer, decode::decode_image, normalize_crop, preprocess,
};

/// Our tensor for an image file, torchvision convention.
fn ours(path: &str) -> Vec<f32> {
    let decoded = decode_image(&read(path)).unwrap_or_else(|e| panic!("{path}: {e}"));
    let pixels = PixelBuffer::new(decoded.width, decoded.height, 3, &decoded.rgb).unwrap();
    preprocess(&pixels, InputConvention::Torchvision).unwrap()
}

fn mean_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter().zip(b).map(|(x, y)| (x - y).abs()).sum::<f32>() / a.len() as f32
}

#[test]
fn real_photos_match_torchvision() {
    for stem in ["chelsea", "coffee", "dog", "eagle", "rocket"] {
        let ext = if stem == "chelsea" || stem == "coffee" {
            "png"
        } else {
            "jpg"
        };
        let got = ours(&format!("photos/{stem}.{ext}"));
        let (shape, crop) = npy(&format!("preprocessed/{stem}_crop_u8.npy"));
        assert_eq!(shape, vec![224, 224, 3]);
        let crop: Vec<u8> = crop.iter().map(|&v| v as u8).collect();
        let want = normalize_crop(&crop, InputConvention::Torchvision);
        let diff = mean_abs_diff(&got, &want);
        assert!(
            diff <= 0.01,
            "{stem}: mean |Δ| = {diff} in normalised units"
        );
    }
}

/// The whole transform, normalisation included, against torchvision's own float output.
#[test]
fn chelsea_matches_torchvision_tensor() {
    let got = ours("photos/chelsea.png");
    let (shape, want) = npy("preprocessed/chelsea.npy");
    assert_eq!(shape, vec![3, 224, 224]);
    let diff = mean_abs_diff(&got, &want);
    assert!(diff <= 0.01, "mean |Δ| = {diff}");
}

#[test]
fn every_format_and_layout_matches_torchvision() {
    for name in [
        "gray.png",
        "palette.png",
        "rgb16.png",
        "rgba.png",
        "webp.webp",
        "gif.gif",
        "bmp.bmp",
        "exif6.jpg",
        "panorama.png",
        "small.png",
    ] {
        let got = ours(&format!("formats/{name}"));
        let stem = name.rsplit_once('.').unwrap().0;
        let reference = image::open(fixture(&format!("formats/{stem}_ref.png")))
            .unwrap()
            .to_rgb8();
        assert_eq!(reference.dimensions(), (224, 224));
        let want = normalize_crop(reference.as_raw(), InputConvention::Torchvision);
        let diff = mean_abs_diff(&got, &want);
        assert!(diff <= 0.01, "{name}: mean |Δ| = {diff}");
    }
}
