//! Shattered gradients (`lab::shatter`) against PyTorch autograd (`tests/fixtures/make_lab.py`),
//! and the ordering Balduzzi et al. (2017) report: a deep plain network's dz/dt decorrelates,
//! a residual one's does not.

use crate::common::{npy, read};
use burn::module::Module;
use burn::tensor::Device;
use resnet_lab_core::gradflow::he_initialized_weights;
use resnet_lab_core::lab::shatter::{Line, line_gradients, shatter};
use resnet_lab_core::{ResNet, load_weights};
use serde_json::Value;

#[test]
fn line_gradients_match_pytorch_autograd() {
    let weights = load_weights(&read("lab/cifar20_w8_init.safetensors")).unwrap();
    let reference: Value = serde_json::from_slice(&read("lab/shatter_cifar20_w8.json")).unwrap();
    let (shape, line) = npy("lab/shatter_line.npy");
    assert_eq!(shape, [2, 3, 32, 32]);
    let (start, direction) = line.split_at(3 * 32 * 32);
    let t: Vec<f32> = reference["t"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap() as f32)
        .collect();

    let ad = Device::flex().autodiff();
    let model = ResNet::from_tensors(&weights.info.config, weights.tensors, &ad)
        .unwrap()
        .no_grad();
    for (key, plain) in [("resnet", false), ("plain", true)] {
        let want: Vec<f64> = reference[key]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_f64().unwrap())
            .collect();
        // Batches of 5 over 16 points: the chunking must not change anything.
        let line = Line {
            start,
            direction,
            size: [32, 32],
        };
        let got = pollster::block_on(line_gradients(&model, line, &t, 0, plain, 5, &ad)).unwrap();
        assert_eq!(got.len(), want.len());
        let scale = want.iter().fold(0.0f64, |m, v| m.max(v.abs()));
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            let g = *g as f64;
            // 1e-3 relative, with a floor of 1e-5 of the largest value for the zero crossings.
            assert!(
                (g - w).abs() <= 1e-3 * w.abs() + 1e-5 * scale,
                "{key} t[{i}]: got {g}, PyTorch {w}"
            );
        }
    }
}

#[test]
fn plain_110_gradients_shatter_and_resnet_110_do_not() {
    // 64 points keep this at a few seconds; the ordering holds for every seed tried.
    for seed in [0, 1] {
        let lag1 = |plain| {
            let weights = he_initialized_weights("cifar110", seed).unwrap();
            pollster::block_on(shatter(weights, plain, 64, seed, &Device::flex()))
                .unwrap()
                .lag1
        };
        let (residual, plain) = (lag1(false), lag1(true));
        assert!(
            plain < residual,
            "seed {seed}: plain-110 lag-1 {plain} is not below ResNet-110's {residual}"
        );
        assert!(residual > 0.5, "seed {seed}: ResNet-110 lag-1 {residual}");
    }
}
