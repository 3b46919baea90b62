//! `resnet-lab train`'s options beyond the paper's defaults: `--width`, `--warmup`, `--last`,
//! `--zero-init-residual`; and `--out`, the trained network in the converted format.

use crate::common::{fixture, run, success_json};
use crate::transfer::Scratch;
use serde_json::Value;

fn train(extra: &[&str]) -> Value {
    let mut args = vec![
        "train", "--arch", "cifar20", "--width", "2", "--batch", "4", "--steps", "3", "--json",
    ];
    args.extend_from_slice(extra);
    success_json(&run(&args))
}

fn losses(doc: &Value) -> Vec<f64> {
    doc["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["loss"].as_f64().unwrap())
        .collect()
}

#[test]
fn train_warmup_steps_at_a_tenth_of_the_learning_rate() {
    // One warm-up step at lr 1.0 is a step at lr 0.1: the same loss after it; then they part.
    let warm = train(&["--lr", "1.0", "--warmup", "1", "--last", "2"]);
    let paper = train(&["--lr", "0.1"]);
    let fast = train(&["--lr", "1.0"]);
    let (w, p, f) = (losses(&warm), losses(&paper), losses(&fast));
    assert_eq!(w[0], p[0]);
    assert_eq!(w[1], p[1], "after one warm-up step: {w:?} vs {p:?}");
    assert_ne!(
        w[1], f[1],
        "lr 1.0 without warm-up must differ: {w:?} vs {f:?}"
    );
    assert_ne!(w[2], p[2], "after warm-up the rate is 1.0: {w:?} vs {p:?}");
    assert_eq!(warm["width"], 2);
    assert_eq!(warm["warmup"], 1);
    assert_eq!(warm["last"], 2);
    let mean = (w[1] + w[2]) / 2.0;
    assert!((warm["last_loss"].as_f64().unwrap() - mean).abs() < 1e-9);
}

#[test]
fn zero_init_residual_changes_residual_networks_only() {
    let plain = train(&["--plain"]);
    let plain_zero = train(&["--plain", "--zero-init-residual"]);
    // A plain block with γ = 0 would pass nothing: plain networks keep their initialisation.
    assert_eq!(losses(&plain), losses(&plain_zero));
    assert_eq!(plain_zero["zero_init_residual"], false);
    let residual = train(&[]);
    let residual_zero = train(&["--zero-init-residual"]);
    assert_eq!(residual_zero["zero_init_residual"], true);
    // The same batches, another start: the first loss already differs.
    let (r, z) = (losses(&residual), losses(&residual_zero));
    assert_ne!(r[0], z[0], "{r:?} vs {z:?}");
}

#[test]
fn train_refuses_a_width_of_zero() {
    let out = run(&["train", "--arch", "cifar20", "--width", "0", "--steps", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("width"), "{stderr}");
}

/// `--out` writes the converted format: `classify` loads a network saved by `train --out`
/// and gives PyTorch's logits for its tensors (eval mode, the running statistics the training
/// left; `tests/fixtures/make_trained_reference.py`), and a fresh save is that format too.
#[test]
fn a_network_saved_by_train_out_classifies_as_pytorch_computes_it() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("lab/trained_cifar20_w4.json")).unwrap(),
    )
    .unwrap();
    let classify = |weights: &str| {
        success_json(&run(&[
            "classify",
            "--weights",
            weights,
            "--logits",
            "--json",
            &fixture("lab/trained_input.npy"),
        ]))
    };
    let doc = classify(&fixture("lab/trained_cifar20_w4.safetensors"));
    assert_eq!(doc["model"]["parameters"], reference["parameters"]);
    let values = |v: &Value| -> Vec<f64> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_f64().unwrap())
            .collect()
    };
    let (got, want) = (
        values(&doc["results"][0]["logits"]),
        values(&reference["logits"]),
    );
    let range = want.iter().cloned().fold(f64::MIN, f64::max)
        - want.iter().cloned().fold(f64::MAX, f64::min);
    assert_eq!(got.len(), 10);
    for (g, w) in got.iter().zip(&want) {
        assert!((g - w).abs() <= 1e-4 * range, "{got:?} vs PyTorch {want:?}");
    }
    let s = Scratch::new("train-out");
    let out = s.path("net.safetensors");
    train(&["--out", &out]);
    let fresh = classify(&out);
    assert_eq!(fresh["model"]["name"], "cifar-resnet20-w2");
    assert_eq!(fresh["results"][0]["logits"].as_array().unwrap().len(), 10);
}
