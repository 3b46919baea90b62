//! `resnet-lab train`'s options beyond the paper's defaults: `--width`, `--warmup`, `--last`,
//! `--zero-init-residual`.

use crate::common::{run, success_json};
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
