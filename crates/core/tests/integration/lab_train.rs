//! One SGD step (momentum 0.9, weight decay 1e-4, lr 0.1, BatchNorm in training mode) of a
//! small ResNet-20 and plain-20 against PyTorch (`tests/fixtures/make_lab.py`): the loss and
//! every tensor afterwards, running statistics included.

use crate::common::{npy, read};
use burn::tensor::Device;
use resnet_lab_core::lab::train::Trainer;
use resnet_lab_core::load_weights;
use serde_json::Value;

fn check(key: &str, plain: bool) {
    let init = load_weights(&read("lab/cifar20_w8_init.safetensors")).unwrap();
    let want = load_weights(&read(&format!("lab/train_step_{key}.safetensors"))).unwrap();
    let reference: Value = serde_json::from_slice(&read("lab/train_step.json")).unwrap();
    let (_, images) = npy("lab/train_batch.npy");
    let labels: Vec<usize> = reference["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_u64().unwrap() as usize)
        .collect();

    let mut trainer =
        Trainer::new(init.info.config, init.tensors, plain, 0.1, &Device::flex()).unwrap();
    let record = pollster::block_on(trainer.step(&images, &labels)).unwrap();
    let loss = reference[key]["loss"].as_f64().unwrap();
    assert!(
        (record.loss - loss).abs() <= 1e-4,
        "{key}: loss {} vs PyTorch {loss}",
        record.loss
    );
    let accuracy = reference[key]["accuracy"].as_f64().unwrap();
    assert_eq!(record.accuracy, accuracy, "{key}: batch accuracy");

    let got = pollster::block_on(trainer.tensors()).unwrap();
    let mut compared = 0;
    for (name, expected) in want.tensors.iter() {
        let actual = got.get(name).unwrap_or_else(|| panic!("{key}: no {name}"));
        assert_eq!(actual.shape, expected.shape, "{key} {name}");
        for (i, (a, b)) in actual.data.iter().zip(&expected.data).enumerate() {
            assert!(
                (a - b).abs() <= 1e-4 * b.abs().max(1.0),
                "{key} {name}[{i}]: {a} vs PyTorch {b}"
            );
        }
        compared += 1;
    }
    assert_eq!(compared, got.len(), "{key}: tensor count");
}

#[test]
fn resnet20_sgd_step_matches_pytorch() {
    check("resnet", false);
}

#[test]
fn plain20_sgd_step_matches_pytorch() {
    check("plain", true);
}
