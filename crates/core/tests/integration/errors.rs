//! Bad input gets a clear error, never a panic.

use crate::common::read;
use burn::tensor::Device;
use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::weights::tfjs::TfjsModel;
use resnet_lab_core::weights::{HostTensor, TensorSet};
use resnet_lab_core::{Classifier, Error, ResNet, load_tfjs, load_weights};

fn message(result: Result<impl std::fmt::Debug, Error>) -> String {
    match result {
        Ok(v) => panic!("expected an error, got {v:?}"),
        Err(e) => e.to_string(),
    }
}

#[test]
fn truncated_weights_are_refused() {
    for name in ["tiny_resnet18.pth", "tiny_resnet18.safetensors"] {
        let bytes = read(name);
        for cut in [bytes.len() / 2, bytes.len() - 100, 20] {
            let msg = message(load_weights(&bytes[..cut]).map(|w| w.info));
            assert!(
                msg.contains("truncated") || msg.contains("corrupt"),
                "{name} cut at {cut}: {msg}"
            );
        }
    }
}

#[test]
fn foreign_files_are_refused() {
    let msg = message(load_weights(&read("photos/chelsea.png")).map(|w| w.info));
    assert!(msg.contains("unrecognised weights file"), "{msg}");
    let msg = message(load_weights(b"").map(|w| w.info));
    assert!(msg.contains("unrecognised"), "{msg}");
}

#[test]
fn pth_that_is_not_a_state_dict_is_refused() {
    let msg = message(load_weights(&read("bad/whole_module.pth")).map(|w| w.info));
    assert!(
        msg.contains("not a state dict") && msg.contains("torch.nn"),
        "{msg}"
    );
    let msg = message(load_weights(&read("bad/list.pth")).map(|w| w.info));
    assert!(msg.contains("not a state dict"), "{msg}");
}

#[test]
fn mismatched_weights_list_every_problem() {
    let weights = load_weights(&read("tiny_resnet18.safetensors")).unwrap();
    let mut tensors = TensorSet::new();
    for (name, t) in weights.tensors.iter() {
        match name {
            "layer2.0.conv1.weight" => {} // missing
            "layer3.1.bn2.bias" => tensors.insert("layer3.1.bn2.beta", t.clone()).unwrap(), // renamed
            "fc.bias" => tensors
                .insert(name, HostTensor::new(vec![4, 4], t.data.clone()).unwrap())
                .unwrap(), // reshaped
            _ => tensors.insert(name, t.clone()).unwrap(),
        }
    }
    let msg = message(ResNet::from_tensors(
        &weights.info.config,
        tensors,
        &Device::flex(),
    ));
    for expected in [
        "layer2.0.conv1.weight",
        "layer3.1.bn2.bias",
        "layer3.1.bn2.beta",
        "fc.bias: expected [16], found [4, 4]",
    ] {
        assert!(msg.contains(expected), "message lacks `{expected}`:\n{msg}");
    }
}

#[test]
fn nan_weights_are_refused() {
    let mut weights = load_weights(&read("tiny_resnet18.safetensors")).unwrap();
    let mut poisoned = TensorSet::new();
    for (name, t) in weights.tensors.iter() {
        let mut t = t.clone();
        if name == "layer1.0.conv2.weight" {
            t.data[3] = f32::NAN;
        }
        poisoned.insert(name, t).unwrap();
    }
    weights.tensors = poisoned;
    let msg = message(Classifier::new(weights, &Device::flex()).map(|c| c.info));
    assert!(
        msg.contains("layer1.0.conv2.weight") && msg.contains("non-finite"),
        "{msg}"
    );
}

#[test]
fn broken_tfjs_models_are_refused() {
    let json = br#"{"format": "layers-model", "modelTopology": {"model_config": {"config": {"layers": [
        {"class_name": "BatchNormalization", "config": {"epsilon": 0.001}}]}}},
        "weightsManifest": [{"paths": ["a.bin"], "weights": [{"name": "conv1/kernel", "shape": [7, 7, 3, 8], "dtype": "float32"}]}]}"#;
    let model = TfjsModel::parse(json).unwrap();
    assert_eq!(model.shard_paths(), vec!["a.bin"]);
    let msg = message(load_tfjs(json, &[vec![0u8; 100]]).map(|w| w.info));
    assert!(msg.contains("truncated"), "{msg}");
    let msg = message(load_tfjs(json, &[]).map(|w| w.info));
    assert!(msg.contains("expected 1 shard"), "{msg}");
    let msg = message(load_tfjs(b"{not json", &[]).map(|w| w.info));
    assert!(msg.contains("not valid JSON"), "{msg}");
}

#[test]
fn huge_images_are_refused_before_decoding() {
    // A 74-byte PNG announcing 30000×30000 pixels.
    let msg = message(decode_image(&read("bad/huge_30000x30000.png")).map(|i| i.width));
    assert!(
        msg.contains("30000×30000") && msg.contains("limit"),
        "{msg}"
    );
}

#[test]
fn non_images_are_refused() {
    let msg = message(decode_image(&read("bad/not_an_image.txt")).map(|i| i.width));
    assert!(msg.contains("not an image"), "{msg}");
    let png = read("photos/chelsea.png");
    let msg = message(decode_image(&png[..png.len() / 3]).map(|i| i.width));
    assert!(msg.contains("cannot decode"), "{msg}");
}

#[test]
fn wrong_input_shapes_are_refused() {
    let classifier = Classifier::new(
        load_weights(&read("tiny_resnet18.safetensors")).unwrap(),
        &Device::flex(),
    )
    .unwrap();
    let msg = message(
        classifier
            .input_batch(&[vec![0.0; 10]], 224, 224)
            .map(|t| t.dims()),
    );
    assert!(msg.contains("[3, 224, 224]"), "{msg}");
    let batch = classifier
        .input_batch(&[vec![0.0; 3 * 8 * 8]], 8, 8)
        .unwrap();
    let msg = message(pollster::block_on(classifier.logits(batch)));
    assert!(msg.contains("too small"), "{msg}");
}
