//! The He-initialised modes of the gradient panel against PyTorch autograd
//! (`tests/fixtures/make_gradflow_modes.py`): BatchNorm as the identity (fresh statistics,
//! eval mode) or in training mode on a batch, with and without torchvision's
//! `zero_init_residual`; and the numbers the panel's explanation states, checked by hand.

use crate::common::{npy, read};
use burn::tensor::Device;
use resnet_lab_core::gradflow::{BatchNormMode, GradFlowAnalyzer, GradFlowReport, Target};
use resnet_lab_core::load_weights;
use resnet_lab_core::model::init::zero_init_residual;
use serde_json::Value;

/// The fixture's network analysed as PyTorch did: image 0 of `train_batch.npy`, alone in eval
/// mode, first of the 8 in training mode.
fn analyse(batch_norm: BatchNormMode, zero_init: bool) -> GradFlowReport {
    let mut weights = load_weights(&read("lab/cifar20_w8_init.safetensors")).unwrap();
    if zero_init {
        zero_init_residual(&weights.info.config, &mut weights.tensors).unwrap();
    }
    let (shape, images) = npy("lab/train_batch.npy");
    assert_eq!(shape, [8, 3, 32, 32]);
    let batch = match batch_norm {
        BatchNormMode::Eval => 1,
        BatchNormMode::Train => 8,
    };
    let analyzer = GradFlowAnalyzer::new(weights, &Device::flex()).unwrap();
    let images = &images[..batch * 3 * 32 * 32];
    pollster::block_on(analyzer.analyze_batch(
        images,
        batch,
        [32, 32],
        Target::Model(None),
        batch_norm,
    ))
    .unwrap()
}

fn reference() -> Value {
    serde_json::from_slice(&read("lab/gradflow_modes_cifar20_w8.json")).unwrap()
}

#[test]
fn he_init_modes_match_pytorch_autograd() {
    let reference = reference();
    for mode in reference["modes"].as_array().unwrap() {
        let batch_norm = BatchNormMode::parse(mode["bn"].as_str().unwrap()).unwrap();
        let zero_init = mode["zero_init_residual"].as_bool().unwrap();
        let report = analyse(batch_norm, zero_init);
        let what = format!("bn {batch_norm:?}, zero_init {zero_init}");
        assert_eq!(
            report.class as u64,
            mode["class"].as_u64().unwrap(),
            "{what}: class"
        );
        // float32 against float64, as the other gradient-flow tests; exact zeros (the plain
        // network with zero γ is dead) must come out as zeros.
        let close = |got: f64, want: f64| (got - want).abs() <= 1e-3 * want.abs() + 1e-9;
        for (got, want) in report.blocks.iter().zip(mode["blocks"].as_array().unwrap()) {
            assert_eq!(got.block, want["block"].as_str().unwrap());
            for (field, value) in [
                ("grad_norm", got.grad_norm),
                ("plain_grad_norm", got.plain_grad_norm),
                ("act_norm", got.act_norm),
                ("plain_act_norm", got.plain_act_norm),
            ] {
                let expected = want[field].as_f64().unwrap();
                assert!(
                    close(value, expected),
                    "{what} {} {field}: got {value}, PyTorch {expected}",
                    got.block
                );
            }
        }
        let expected = mode["input_grad_norm"].as_f64().unwrap();
        assert!(
            close(report.input_grad_norm, expected),
            "{what}: input gradient"
        );
    }
}

/// Geometric mean of `x_{b+1}/x_b` over the blocks with an identity shortcut that have a next
/// block (the output of such a block is the next one's input).
fn growth_per_identity_block(blocks: &[(bool, f64)]) -> f64 {
    let logs: Vec<f64> = blocks
        .windows(2)
        .filter(|w| !w[0].0)
        .map(|w| (w[1].1 / w[0].1).ln())
        .collect();
    (logs.iter().sum::<f64>() / logs.len() as f64).exp()
}

/// With BatchNorm as the identity, a He-initialised branch has E[F²] ≈ 2·E[x²] (each conv's
/// gain 2 from He et al. 2015, halved by the ReLU between them, doubled again by the second
/// conv), so E[(x+F)²] ≈ 3·E[x²], of which the block's final ReLU keeps between half and all:
/// the activation norm grows by a factor between √1.5 and √3 per block (the variance roughly
/// doubles). With batch statistics every branch is renormalised to unit variance whatever the
/// size of the stream, so the stream grows additively, more slowly than with BN as identity.
#[test]
fn bn_as_identity_grows_residual_activations_about_sqrt2_per_block() {
    let reference = reference();
    let mode = |bn: &str| {
        reference["modes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["bn"] == bn && m["zero_init_residual"] == false)
            .unwrap()
            .clone()
    };
    let mut growth = Vec::new();
    for (bn, batch_norm) in [
        ("eval", BatchNormMode::Eval),
        ("train", BatchNormMode::Train),
    ] {
        let ours = analyse(batch_norm, false);
        let mine: Vec<(bool, f64)> = ours
            .blocks
            .iter()
            .map(|b| (b.projection, b.act_norm))
            .collect();
        let theirs: Vec<(bool, f64)> = ours
            .blocks
            .iter()
            .zip(mode(bn)["blocks"].as_array().unwrap())
            .map(|(b, r)| (b.projection, r["act_norm"].as_f64().unwrap()))
            .collect();
        let (got, want) = (
            growth_per_identity_block(&mine),
            growth_per_identity_block(&theirs),
        );
        assert!(
            (got - want).abs() <= 1e-3 * want,
            "{bn}: growth {got} vs PyTorch {want}"
        );
        growth.push(got);
    }
    let (identity, batch) = (growth[0], growth[1]);
    assert!(
        (1.5f64.sqrt()..=3f64.sqrt()).contains(&identity),
        "BN as identity: growth {identity} per block, expected within [√1.5, √3]"
    );
    assert!(
        batch < identity,
        "batch statistics: growth {batch} per block, not below BN as identity's {identity}"
    );
}

/// With γ = 0 on the last BatchNorm of every branch, an identity block computes
/// ReLU(0 + x) = x (x is already a ReLU output): the activation is passed on unchanged, the
/// branch receives no gradient, and when the next block is an identity block too the gradient
/// at a block's input equals the gradient at the next block's input exactly (the mask of the
/// ReLU is the same one the next block already applied).
#[test]
fn zero_init_residual_makes_identity_blocks() {
    for batch_norm in [BatchNormMode::Eval, BatchNormMode::Train] {
        let report = analyse(batch_norm, true);
        let blocks = &report.blocks;
        for b in blocks {
            if !b.projection {
                assert_eq!(
                    b.residual_norm, 0.0,
                    "{batch_norm:?} {}: branch gradient",
                    b.block
                );
            }
        }
        let mut checked = 0;
        for pair in blocks.windows(2) {
            let (this, next) = (&pair[0], &pair[1]);
            if this.projection || next.projection {
                continue;
            }
            let same = |a: f64, b: f64| (a - b).abs() <= 1e-5 * b.abs();
            assert!(
                same(this.act_norm, next.act_norm),
                "{batch_norm:?} {}: ‖x‖",
                this.block
            );
            assert!(
                same(this.grad_norm, next.grad_norm),
                "{batch_norm:?} {}: ‖∂z/∂x‖",
                this.block
            );
            checked += 1;
        }
        assert_eq!(
            checked, 4,
            "four pairs of consecutive identity blocks in a CIFAR ResNet-20"
        );
    }
}

#[test]
fn training_mode_batchnorm_is_refused_for_trained_weights() {
    let weights = load_weights(&read("tiny_resnet18.safetensors")).unwrap();
    let (_, input) = npy("tiny_input.npy");
    let analyzer = GradFlowAnalyzer::new(weights, &Device::flex()).unwrap();
    let result = pollster::block_on(analyzer.analyze_batch(
        &input,
        1,
        [64, 64],
        Target::Model(None),
        BatchNormMode::Train,
    ));
    assert!(result.is_err());
}
