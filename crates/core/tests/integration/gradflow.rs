//! The gradient-flow numbers agree with PyTorch autograd (`tests/fixtures/generate.py`):
//! per block ‖∂z/∂x‖, the shortcut and residual-branch parts, the plain network, and the
//! forward activation norms ‖x_b‖ of both.

use crate::common::{npy, read};
use burn::tensor::Device;
use std::sync::Arc;

use resnet_lab_core::gradflow::{GradFlowAnalyzer, GradFlowReport, Target, analyze};
use resnet_lab_core::{Classifier, load_weights};
use serde_json::Value;

fn check(net: &str) {
    let weights = load_weights(&read(&format!("{net}.safetensors"))).unwrap();
    let reference: Value = serde_json::from_slice(&read(&format!("{net}_gradflow.json"))).unwrap();
    let (_, input) = npy("tiny_input.npy");

    // Let the model pick the class: it must be the same top-1 as PyTorch's. Twice: analysed
    // alone, and as the page does on the CPU, on a classifier's network reusing the forward
    // pass of its classification.
    let alone = pollster::block_on(analyze(
        weights.clone(),
        &input,
        [64, 64],
        None,
        &Device::flex(),
    ))
    .unwrap();
    let classifier = Classifier::new(weights, &Device::flex()).unwrap();
    let network = Arc::clone(classifier.cpu_forward().unwrap());
    let (pooled, trace) = network.traced(&input, [64, 64]).unwrap();
    assert_eq!(pooled.len(), classifier.model.feature_width());
    let analyzer =
        GradFlowAnalyzer::from_channel_last(network, &classifier.info, None, &Device::flex());
    let reused = pollster::block_on(analyzer.analyze_traced(
        &input,
        [64, 64],
        Target::Model(None),
        Some(&trace),
    ))
    .unwrap();
    for report in [alone, reused] {
        check_report(net, &reference, &report);
    }
}

fn check_report(net: &str, reference: &Value, report: &GradFlowReport) {
    let class = reference["class"].as_u64().unwrap() as usize;
    assert_eq!(report.class, class, "{net}: top-1 class");

    let want = reference["blocks"].as_array().unwrap();
    assert_eq!(report.blocks.len(), want.len(), "{net}: block count");
    let close = |got: f64, want: f64| (got - want).abs() <= 1e-3 * want.abs().max(1e-12);
    for (got, want) in report.blocks.iter().zip(want) {
        assert_eq!(got.block, want["block"].as_str().unwrap());
        for (field, value) in [
            ("grad_norm", got.grad_norm),
            ("shortcut_norm", got.shortcut_norm),
            ("residual_norm", got.residual_norm),
            ("plain_grad_norm", got.plain_grad_norm),
            ("act_norm", got.act_norm),
            ("plain_act_norm", got.plain_act_norm),
        ] {
            let expected = want[field].as_f64().unwrap();
            assert!(
                close(value, expected),
                "{net} {} {field}: got {value}, PyTorch {expected}",
                got.block
            );
        }
    }
    let input_norm = reference["input_grad_norm"].as_f64().unwrap();
    assert!(
        close(report.input_grad_norm, input_norm),
        "{net}: input grad norm {} vs {input_norm}",
        report.input_grad_norm
    );
}

#[test]
fn resnet18_gradient_flow_matches_pytorch_autograd() {
    check("tiny_resnet18");
}

#[test]
fn resnet50_gradient_flow_matches_pytorch_autograd() {
    check("tiny_resnet50");
}
