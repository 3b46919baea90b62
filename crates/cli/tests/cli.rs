//! The `resnet-lab` command-line contract that tests and benchmarks rely on.

use std::path::PathBuf;
use std::process::{Command, Output};

use serde_json::Value;

fn fixture(name: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures")
        .join(name)
        .display()
        .to_string()
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_resnet-lab"))
        .args(args)
        .output()
        .expect("the binary runs")
}

fn json(output: &Output) -> Value {
    serde_json::from_slice(&output.stdout).unwrap_or_else(|e| {
        panic!(
            "stdout is not JSON ({e}): {}",
            String::from_utf8_lossy(&output.stdout)
        )
    })
}

#[test]
fn classify_json_with_logits_matches_pytorch() {
    let out = run(&[
        "classify",
        "--weights",
        &fixture("tiny_resnet18.pth"),
        "--json",
        "--logits",
        "--top",
        "3",
        &fixture("tiny_input.npy"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    assert_eq!(doc["model"]["name"], "resnet18-w8");
    assert_eq!(doc["model"]["num_classes"], 16);
    let result = &doc["results"][0];
    assert_eq!(result["top"].as_array().unwrap().len(), 3);
    let logits: Vec<f64> = result["logits"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_f64().unwrap())
        .collect();
    // PyTorch's reference logits (tests/fixtures/tiny_resnet18_logits.npy): its top-1 is class 7.
    let top1 = result["top"][0]["index"].as_u64().unwrap();
    assert_eq!(top1, 7);
    assert_eq!(logits.len(), 16);
    let probs: f64 = result["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["prob"].as_f64().unwrap())
        .sum();
    assert!(probs > 0.0 && probs <= 1.0 + 1e-6);
}

#[test]
fn failed_inputs_get_an_error_entry_and_exit_status_1() {
    let out = run(&[
        "classify",
        "--weights",
        &fixture("tiny_resnet18.safetensors"),
        "--json",
        &fixture("bad/not_an_image.txt"),
        &fixture("tiny_input.npy"),
        &fixture("bad/huge_30000x30000.png"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let doc = json(&out);
    let results = doc["results"].as_array().unwrap();
    assert_eq!(results.len(), 3);
    assert!(
        results[0]["error"]
            .as_str()
            .unwrap()
            .contains("not an image")
    );
    assert!(
        results[1]["top"].is_array(),
        "the good input is still classified"
    );
    assert!(results[2]["error"].as_str().unwrap().contains("megapixels"));
}

#[test]
fn bad_weights_exit_1_with_a_message() {
    for (file, words) in [
        ("photos/chelsea.png", "unrecognised weights file"),
        ("bad/whole_module.pth", "not a state dict"),
        ("missing-file.pth", "cannot read"),
    ] {
        let out = run(&["inspect", &fixture(file)]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(words), "{file}: {stderr}");
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    }
}

#[test]
fn inspect_reports_the_detected_architecture() {
    let out = run(&["inspect", "--json", &fixture("tiny_resnet50.pth")]);
    assert!(out.status.success());
    let doc = json(&out);
    assert_eq!(doc["name"], "resnet50-w8");
    assert_eq!(doc["layout"], "torchvision");
    assert_eq!(doc["block"], "bottleneck");
    assert_eq!(doc["input"], "torchvision");
    // sum(p.numel() for p in model.parameters()) in PyTorch: 378,264.
    assert_eq!(doc["parameters"], 378_264);
}

#[test]
fn gradflow_json_matches_pytorch() {
    let out = run(&[
        "gradflow",
        "--weights",
        &fixture("tiny_resnet50.safetensors"),
        "--json",
        &fixture("tiny_input.npy"),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let doc = json(&out);
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("tiny_resnet50_gradflow.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(doc["class"], reference["class"]);
    assert_eq!(doc["label"], "class 3");
    let (got, want) = (
        doc["blocks"].as_array().unwrap(),
        reference["blocks"].as_array().unwrap(),
    );
    assert_eq!(got.len(), 16);
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
                (a - b).abs() <= 1e-3 * b.abs(),
                "{} {field}: {a} vs {b}",
                g["block"]
            );
        }
    }
}

#[test]
fn convert_round_trips_through_the_bundle() {
    let dir = std::env::temp_dir().join(format!("resnet-lab-cli-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("tiny.safetensors");
    let out = run(&[
        "convert",
        &fixture("tiny_resnet18.pth"),
        "--out",
        out_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let converted = run(&[
        "classify",
        "--weights",
        out_path.to_str().unwrap(),
        "--json",
        "--logits",
        &fixture("tiny_input.npy"),
    ]);
    let original = run(&[
        "classify",
        "--weights",
        &fixture("tiny_resnet18.pth"),
        "--json",
        "--logits",
        &fixture("tiny_input.npy"),
    ]);
    assert_eq!(
        json(&converted)["results"][0]["logits"],
        json(&original)["results"][0]["logits"]
    );
    assert_eq!(json(&converted)["model"]["format"], "bundle");
    std::fs::remove_dir_all(&dir).ok();
}
