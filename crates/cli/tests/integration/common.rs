//! Helpers shared by the CLI's integration tests: run the binary, read its JSON, read the
//! committed reference fixtures.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

/// `tests/fixtures/<name>` at the repository root, as a command-line argument.
pub fn fixture(name: &str) -> String {
    repo_path(&format!("tests/fixtures/{name}"))
}

/// A path relative to the repository root.
pub fn repo_path(relative: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(relative)
        .display()
        .to_string()
}

pub fn run(args: &[&str]) -> Output {
    run_with_env(args, &[])
}

pub fn run_with_env(args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resnet-lab"))
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("the binary runs")
}

/// Stdout as JSON, after checking that the command succeeded.
pub fn success_json(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "exit status {:?}: {}",
        output.status.code(),
        String::from_utf8_lossy(&output.stderr)
    );
    json(output)
}

pub fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

/// The `logits` array of one classify result.
pub fn logits_of(result: &Value) -> Vec<f64> {
    result["logits"]
        .as_array()
        .expect("logits requested with --logits")
        .iter()
        .map(|v| v.as_f64().expect("a number"))
        .collect()
}

/// A float32 `.npy` fixture, flattened.
pub fn npy_f32(name: &str) -> Vec<f64> {
    let bytes = std::fs::read(fixture(name)).expect("fixture exists");
    npyz::NpyFile::new(&bytes[..])
        .expect("valid npy")
        .into_vec::<f32>()
        .expect("float32 npy")
        .into_iter()
        .map(f64::from)
        .collect()
}

/// Every logit within `tolerance × (max − min)` of PyTorch's.
pub fn assert_logits_close(got: &[f64], reference: &[f64], tolerance: f64) {
    assert_eq!(got.len(), reference.len());
    let (lo, hi) = reference
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), &v| (lo.min(v), hi.max(v)));
    let worst = got
        .iter()
        .zip(reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst <= tolerance * (hi - lo),
        "largest logit error {worst:e} exceeds {tolerance:e} of the range {:e}",
        hi - lo
    );
}

/// Gradient-flow numbers (all four per block) within `relative` of PyTorch autograd's.
pub fn assert_gradflow_matches(doc: &Value, reference_file: &str, relative: f64) {
    let reference: Value =
        serde_json::from_str(&std::fs::read_to_string(fixture(reference_file)).unwrap()).unwrap();
    assert_gradflow_equals(doc, &reference, relative);
}

/// [`assert_gradflow_matches`] against a reference already read.
pub fn assert_gradflow_equals(doc: &Value, reference: &Value, relative: f64) {
    assert_eq!(doc["class"], reference["class"]);
    let (got, want) = (
        doc["blocks"].as_array().unwrap(),
        reference["blocks"].as_array().unwrap(),
    );
    assert_eq!(got.len(), want.len());
    for (g, w) in got.iter().zip(want) {
        assert_eq!(g["block"], w["block"]);
        for field in [
            "grad_norm",
            "shortcut_norm",
            "residual_norm",
            "plain_grad_norm",
        ] {
            let (a, b) = (g[field].as_f64().unwrap(), w[field].as_f64().unwrap());
            assert!(
                (a - b).abs() <= relative * b.abs(),
                "{} {field}: {a} vs PyTorch {b}",
                g["block"]
            );
        }
    }
}
