//! The `resnet-lab` command-line contract that tests and benchmarks rely on.

use serde_json::Value;

use crate::common::{
    assert_gradflow_equals, assert_gradflow_matches, assert_logits_close, fixture, json, logits_of,
    npy_f32, run, success_json,
};

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
    let doc = success_json(&out);
    assert_eq!(doc["model"]["name"], "resnet18-w8");
    assert_eq!(doc["model"]["num_classes"], 16);
    assert_eq!(doc["backend"]["kind"], "cpu");
    let result = &doc["results"][0];
    assert_eq!(result["top"].as_array().unwrap().len(), 3);
    assert_logits_close(
        &logits_of(result),
        &npy_f32("tiny_resnet18_logits.npy"),
        1e-4,
    );
    // PyTorch's top-1 for this input is class 7 (tests/fixtures/tiny_resnet18_logits.npy).
    assert_eq!(result["top"][0]["index"], 7);
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
    let doc = success_json(&out);
    assert_eq!(doc["label"], "class 3");
    assert_eq!(doc["blocks"].as_array().unwrap().len(), 16);
    assert_gradflow_matches(&doc, "tiny_resnet50_gradflow.json", 1e-3);
}

/// `convert --int8`: a bundle that says it is int8 and computes what PyTorch computes with
/// the same int8 weights (`make_int8_reference.py`), not what the float32 weights give.
#[test]
fn convert_int8_writes_an_int8_bundle() {
    let dir = std::env::temp_dir().join(format!("resnet-lab-int8-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let out_path = dir.join("tiny-int8.safetensors");
    let out_path = out_path.to_str().unwrap();
    let out = run(&[
        "convert",
        &fixture("tiny_resnet50.pth"),
        "--out",
        out_path,
        "--int8",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let info = success_json(&run(&["inspect", out_path, "--json"]));
    assert_eq!(info["stored_dtype"], "int8");
    assert_eq!(info["format"], "bundle");
    let doc = success_json(&run(&[
        "classify",
        "--weights",
        out_path,
        "--json",
        "--logits",
        &fixture("tiny_input.npy"),
    ]));
    let logits = logits_of(&doc["results"][0]);
    assert_logits_close(&logits, &npy_f32("tiny_resnet50_int8_logits.npy"), 1e-4);
    let float = npy_f32("tiny_resnet50_logits.npy");
    let moved = logits
        .iter()
        .zip(&float)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f64::max);
    assert!(moved > 0.1, "int8 logits equal the float32 ones ({moved})");
    std::fs::remove_dir_all(&dir).ok();
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
    let converted = success_json(&converted);
    assert_eq!(converted["model"]["format"], "bundle");
    // Bit-identical to the original file's result, and so to PyTorch's.
    assert_eq!(
        converted["results"][0]["logits"],
        success_json(&original)["results"][0]["logits"]
    );
    assert_logits_close(
        &logits_of(&converted["results"][0]),
        &npy_f32("tiny_resnet18_logits.npy"),
        1e-4,
    );
    std::fs::remove_dir_all(&dir).ok();
}

/// `gradflow --head`: the gradient of a trained head's logit (Teach mode's classes), block by
/// block and as Grad-CAM, equals PyTorch autograd's with the head in place of `fc`
/// (`make_head_gradflow.py`), for the head's top-1 and for a class picked with `--class`.
#[test]
fn gradflow_of_a_head_class_matches_pytorch() {
    let reference: Value = serde_json::from_slice(
        &std::fs::read(fixture("tiny_resnet18_head_gradflow.json")).unwrap(),
    )
    .unwrap();
    let head = fixture("teach_reference/tiny_resnet18_head.safetensors");
    let top1 = reference["top1"].as_u64().unwrap() as usize;
    let other = 1 - top1;
    for (class, expected) in [(None, top1), (Some(other.to_string()), other)] {
        let (weights, input) = (fixture("tiny_resnet18.pth"), fixture("tiny_input.npy"));
        let mut args = vec!["gradflow", "--weights", &weights, "--head", &head, "--json"];
        if let Some(class) = &class {
            args.extend(["--class", class]);
        }
        args.push(&input);
        let doc = success_json(&run(&args));
        let want = &reference["by_class"][expected];
        assert_eq!(doc["taught"], true);
        assert_gradflow_equals(&doc, want, 1e-3);
        let (logit, want_logit) = (
            doc["logit"].as_f64().unwrap(),
            want["logit"].as_f64().unwrap(),
        );
        assert!(
            (logit - want_logit).abs() < 1e-4 * want_logit.abs(),
            "logit {logit} vs {want_logit}"
        );
        assert_eq!(doc["saliency"]["grad_cam_size"], want["grad_cam_size"]);
        let cam = doc["saliency"]["grad_cam"].as_array().unwrap();
        let want_cam = want["grad_cam"].as_array().unwrap();
        assert_eq!(cam.len(), want_cam.len());
        for (a, b) in cam.iter().zip(want_cam) {
            let (a, b) = (a.as_f64().unwrap(), b.as_f64().unwrap());
            assert!((a - b).abs() < 1e-3, "Grad-CAM {a} vs PyTorch {b}");
        }
    }

    // A head of other weights, and a class the head does not have: refused.
    let out = run(&[
        "gradflow",
        "--weights",
        &fixture("tiny_resnet50.safetensors"),
        "--head",
        &head,
        &fixture("tiny_input.npy"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("features"));
    let out = run(&[
        "gradflow",
        "--weights",
        &fixture("tiny_resnet18.pth"),
        "--head",
        &head,
        "--class",
        "2",
        &fixture("tiny_input.npy"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("the head has 2 classes"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Float16 compute is for GPU backends: on the CPU path `--f16` is a clear error, not a silent
/// float32 run.
#[test]
fn float16_on_the_cpu_is_refused() {
    let out = run(&[
        "classify",
        "--f16",
        "--weights",
        &fixture("tiny_resnet18.pth"),
        &fixture("tiny_input.npy"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("float16 compute is for GPU backends"),
        "{stderr}"
    );
}
