//! Transfer learning: the frozen features equal PyTorch's `avgpool` output, and a head
//! trained on the real Keras ResNet50's features of real photos reaches what a PyTorch
//! softmax regression reaches on TensorFlow.js's features of the same photos
//! (`tests/fixtures/make_transfer_reference.py`).

use crate::common::{keras_model_json, npy, read};
use burn::tensor::Device;
use resnet_lab_core::predict::softmax;
use resnet_lab_core::preprocess::views::{Crops, View, preprocess_views};
use resnet_lab_core::preprocess::{PixelBuffer, decode::decode_image};
use resnet_lab_core::transfer::{BackboneId, TrainConfig, Validation, train_head};
use resnet_lab_core::weights::tfjs::TfjsModel;
use resnet_lab_core::{Classifier, load_tfjs, load_weights};
use serde_json::Value;

#[test]
fn frozen_features_match_pytorch_avgpool() {
    for name in ["tiny_resnet18", "tiny_resnet50"] {
        let weights = load_weights(&read(&format!("{name}.pth"))).unwrap();
        let classifier = Classifier::new(weights, &Device::flex()).unwrap();
        let (shape, input) = npy("tiny_input.npy");
        let batch = classifier
            .input_batch(&[input], shape[2], shape[3])
            .unwrap();
        let got = pollster::block_on(classifier.features(batch))
            .unwrap()
            .remove(0);
        let (want_shape, want) = npy(&format!("{name}_features.npy"));
        assert_eq!(want_shape, vec![1, got.len()], "{name}");
        let range = want.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let worst = got
            .iter()
            .zip(&want)
            .map(|(a, b)| (a - b).abs())
            .fold(0.0, f32::max);
        assert!(
            worst <= 1e-4 * range + 1e-6,
            "{name}: max |Δ| {worst} (range {range})"
        );
    }
}

#[test]
fn head_on_keras_features_matches_a_pytorch_softmax_regression() {
    let reference: Value = serde_json::from_slice(&read("teach_reference/reference.json")).unwrap();
    let model = keras_model_json();
    let json = std::fs::read(&model).unwrap();
    let shards: Vec<Vec<u8>> = TfjsModel::parse(&json)
        .unwrap()
        .shard_paths()
        .iter()
        .map(|p| std::fs::read(model.parent().unwrap().join(p)).unwrap())
        .collect();
    let weights = load_tfjs(&json, &shards).unwrap();
    let backbone = BackboneId::of(&weights).unwrap();
    let convention = weights.info.input;
    let classifier = Classifier::new(weights, &Device::flex()).unwrap();

    let files: Vec<&str> = reference["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    let labels: Vec<usize> = reference["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as usize)
        .collect();
    let classes: Vec<String> = reference["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_owned())
        .collect();
    let mut features = Vec::new();
    for chunk in files.chunks(8) {
        let views: Vec<View> = chunk
            .iter()
            .map(|f| {
                let image = decode_image(&read(f)).unwrap();
                let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb).unwrap();
                preprocess_views(&pixels, convention, Crops::Center)
                    .unwrap()
                    .remove(0)
            })
            .collect();
        features.extend(pollster::block_on(classifier.view_outputs(&views, true)).unwrap());
    }

    // Our features against TensorFlow.js's (float16 in the fixture): the two differ by the
    // resize (ours vs PIL's, a level here and there) and by float summation order.
    let (shape, tfjs) = npy("teach_reference/features.npy");
    assert_eq!(shape, vec![files.len(), 2048]);
    let mut worst = 0.0f32;
    for (i, ours) in features.iter().enumerate() {
        let theirs = &tfjs[i * 2048..][..2048];
        let err: f32 = ours
            .iter()
            .zip(theirs)
            .map(|(a, b)| (a - b).powi(2))
            .sum::<f32>()
            .sqrt();
        let norm: f32 = theirs.iter().map(|b| b * b).sum::<f32>().sqrt();
        worst = worst.max(err / norm);
        assert!(
            err <= 0.05 * norm,
            "{}: relative L2 error {}",
            files[i],
            err / norm
        );
    }
    eprintln!("features: relative L2 error against TensorFlow.js at most {worst:.4}");

    let config = TrainConfig {
        validation: Validation::LeaveOneOut,
        ..TrainConfig::default()
    };
    assert_eq!(
        config.weight_decay,
        reference["weight_decay"].as_f64().unwrap()
    );
    let trained = pollster::block_on(train_head(
        &features,
        &labels,
        classes.clone(),
        backbone,
        &config,
        &Device::flex(),
    ))
    .unwrap();
    let last = trained.epochs.last().unwrap();
    let loo = last.val_accuracy.unwrap();
    let want_loo = reference["loo_accuracy"].as_f64().unwrap();
    eprintln!(
        "leave-one-out accuracy {loo:.3} (PyTorch {want_loo:.3}), train {:.3}, loss {:.4}",
        last.train_accuracy, last.loss
    );
    assert!(
        (loo - want_loo).abs() <= 0.05,
        "leave-one-out accuracy {loo} vs {want_loo}"
    );
    assert_eq!(
        last.train_accuracy,
        reference["train_accuracy"].as_f64().unwrap()
    );

    // The exported head (all photos) gives PyTorch's optimum's probabilities.
    let mut worst = 0.0f64;
    for (i, f) in features.iter().enumerate() {
        let probs = softmax(&trained.head.logits(f).unwrap());
        for (k, p) in probs.iter().enumerate() {
            worst = worst.max((*p as f64 - reference["probs"][i][k].as_f64().unwrap()).abs());
        }
    }
    eprintln!("head probabilities: max |Δ| {worst:.2e} against PyTorch's L-BFGS optimum");
    assert!(worst <= 0.05, "max |Δ| {worst}");
}

/// Stopping through the observer after k epochs gives the head of a k-epoch run, and the
/// observer saw exactly the epochs returned (the page's live curve and Stop rely on both).
/// Features: the committed TensorFlow.js ones of the browser test's 9 photos.
#[test]
fn an_observed_training_stopped_early_equals_a_shorter_run() {
    use resnet_lab_core::transfer::{EpochStats, train_head_observed};
    let reference: Value = serde_json::from_slice(&read("teach_reference/browser.json")).unwrap();
    let all: Value = serde_json::from_slice(&read("teach_reference/reference.json")).unwrap();
    let (_, tfjs) = npy("teach_reference/features.npy");
    let files = all["files"].as_array().unwrap();
    let mut features = Vec::new();
    let mut labels = Vec::new();
    for f in reference["train_files"].as_array().unwrap() {
        let i = files.iter().position(|g| g == f).unwrap();
        features.push(tfjs[i * 2048..][..2048].to_vec());
        labels.push(all["labels"][i].as_u64().unwrap() as usize);
    }
    let classes: Vec<String> = ["bird", "mammal", "vehicle"].map(String::from).to_vec();
    let backbone = BackboneId {
        architecture: "resnet50".into(),
        feature_width: 2048,
        fingerprint: "0000000000000000".into(),
    };
    let device = Device::flex();
    let config = TrainConfig {
        validation: Validation::LeaveOneOut,
        ..TrainConfig::default()
    };
    let mut seen: Vec<EpochStats> = Vec::new();
    let stopped = pollster::block_on(train_head_observed(
        &features,
        &labels,
        classes.clone(),
        backbone.clone(),
        &config,
        &device,
        |s| {
            seen.push(s.clone());
            std::future::ready(s.epoch < 7)
        },
    ))
    .unwrap();
    assert_eq!(stopped.epochs.len(), 7);
    assert_eq!(seen, stopped.epochs);
    let short = TrainConfig {
        epochs: 7,
        ..config
    };
    let full = pollster::block_on(train_head(
        &features, &labels, classes, backbone, &short, &device,
    ))
    .unwrap();
    assert_eq!(full.epochs, stopped.epochs);
    for (a, b) in full.head.weight.iter().zip(&stopped.head.weight) {
        assert!((a - b).abs() <= 1e-6 * a.abs().max(1.0), "{a} vs {b}");
    }
    assert_eq!(full.head.bias, stopped.head.bias);
}
