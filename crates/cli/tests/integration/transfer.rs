//! `finetune` and `classify --head` / `--crops` end to end on the tiny ResNets (fast), and
//! every bad input the issue names: a single class, an empty class folder, unreadable photos
//! (skipped with a warning, refused when too few remain), a head for another backbone.

use std::path::{Path, PathBuf};

use crate::common::{fixture, json, run, success_json};

/// A fresh folder under the system temp dir, removed when dropped.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("resnet-lab-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }
    pub(crate) fn path(&self, rel: &str) -> String {
        self.0.join(rel).display().to_string()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Copies `count` photos of each named class of the committed teach set into `dir`.
pub(crate) fn photo_set(dir: &Path, classes: &[(&str, usize)]) {
    for (class, count) in classes {
        std::fs::create_dir_all(dir.join(class)).unwrap();
        let source = PathBuf::from(fixture(&format!("teach/{class}")));
        let mut files: Vec<PathBuf> = std::fs::read_dir(&source)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        files.sort();
        for f in files.iter().take(*count) {
            std::fs::copy(f, dir.join(class).join(f.file_name().unwrap())).unwrap();
        }
    }
}

pub(crate) fn stderr(output: &std::process::Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn finetune_writes_a_head_that_classify_uses() {
    let s = Scratch::new("finetune");
    photo_set(&s.0.join("data"), &[("bird", 5), ("vehicle", 5)]);
    // An unreadable photo is listed and skipped; the rest still train.
    std::fs::copy(
        fixture("bad/not_an_image.txt"),
        s.0.join("data/bird/broken.jpg"),
    )
    .unwrap();
    let weights = fixture("tiny_resnet18.safetensors");
    let out = run(&[
        "finetune",
        "--weights",
        &weights,
        "--data",
        &s.path("data"),
        "--out",
        &s.path("head.safetensors"),
        "--epochs",
        "30",
        "--json",
    ]);
    let doc = success_json(&out);
    assert!(
        stderr(&out).contains("warning: skipping") && stderr(&out).contains("broken.jpg"),
        "{}",
        stderr(&out)
    );
    assert_eq!(doc["classes"], serde_json::json!(["bird", "vehicle"]));
    assert_eq!(doc["photos"], serde_json::json!([5, 5]));
    assert_eq!(doc["skipped"].as_array().unwrap().len(), 1);
    // 10 photos: a 20 % split would hold out 2, so leave-one-out is used.
    assert_eq!(doc["validation"], "leave_one_out");
    let epochs = doc["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 30);
    for key in ["epoch", "loss", "train_accuracy", "val_accuracy"] {
        assert!(epochs[0].get(key).is_some(), "{key}");
    }
    // Full-batch Adam on a convex objective: the loss falls.
    assert!(epochs[29]["loss"].as_f64().unwrap() < epochs[0]["loss"].as_f64().unwrap());
    assert!(doc["features_ms"].as_f64().is_some() && doc["train_ms"].as_f64().is_some());

    let out = run(&[
        "classify",
        "--weights",
        &weights,
        "--head",
        &s.path("head.safetensors"),
        "--crops",
        "ten",
        "--json",
        &fixture("teach/bird/ab06.jpg"),
    ]);
    let doc = success_json(&out);
    assert_eq!(doc["crops"], "ten");
    let result = &doc["results"][0];
    assert_eq!(result["crops"], "ten");
    let top = result["top"].as_array().unwrap();
    assert_eq!(top.len(), 2, "two classes");
    let sum: f64 = top.iter().map(|p| p["prob"].as_f64().unwrap()).sum();
    assert!((sum - 1.0).abs() < 1e-5);
    assert!(["bird", "vehicle"].contains(&top[0]["label"].as_str().unwrap()));

    // The head refuses another backbone, and a weights file is not a head.
    let out = run(&[
        "classify",
        "--weights",
        &fixture("tiny_resnet50.pth"),
        "--head",
        &s.path("head.safetensors"),
        &fixture("teach/bird/ab06.jpg"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("reads 64 features"),
        "{}",
        stderr(&out)
    );
    let out = run(&[
        "classify",
        "--weights",
        &weights,
        "--head",
        &weights,
        &fixture("teach/bird/ab06.jpg"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("not a usable head file"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn finetune_refuses_bad_photo_folders() {
    let s = Scratch::new("finetune-bad");
    let weights = fixture("tiny_resnet18.safetensors");
    let finetune = |data: &str| {
        let out = run(&[
            "finetune",
            "--weights",
            &weights,
            "--data",
            &s.path(data),
            "--out",
            &s.path("h.safetensors"),
        ]);
        assert_eq!(out.status.code(), Some(1), "{data}");
        assert!(!s.0.join("h.safetensors").exists());
        stderr(&out)
    };
    photo_set(&s.0.join("single"), &[("bird", 3)]);
    assert!(finetune("single").contains("needs at least two"));
    photo_set(&s.0.join("empty"), &[("bird", 3)]);
    std::fs::create_dir_all(s.0.join("empty/vehicle")).unwrap();
    assert!(finetune("empty").contains("holds no photos"));
    photo_set(&s.0.join("few"), &[("bird", 3), ("vehicle", 1)]);
    std::fs::copy(
        fixture("bad/not_an_image.txt"),
        s.0.join("few/vehicle/x.png"),
    )
    .unwrap();
    let msg = finetune("few");
    assert!(
        msg.contains("warning: skipping") && msg.contains("too few readable photos"),
        "{msg}"
    );
    assert!(finetune("missing").contains("cannot read the folder"));
}

#[test]
fn classify_reports_the_crops_used() {
    let photo = fixture("photos/dog.jpg");
    let weights = fixture("tiny_resnet18.pth");
    for crops in ["center", "ten", "full"] {
        let doc = success_json(&run(&[
            "classify",
            "--weights",
            &weights,
            "--crops",
            crops,
            "--json",
            &photo,
        ]));
        assert_eq!(doc["results"][0]["crops"], crops);
    }
    // A 300×40 panorama is 1920×256 whole: under the 2048 limit.
    let out = run(&[
        "classify",
        "--weights",
        &weights,
        "--crops",
        "full",
        "--json",
        &fixture("formats/panorama.png"),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    // A tensor is fed as is: crops do not apply.
    let out = run(&[
        "classify",
        "--weights",
        &weights,
        "--crops",
        "ten",
        "--json",
        &fixture("tiny_input.npy"),
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        json(&out)["results"][0]["error"]
            .as_str()
            .unwrap()
            .contains("applies to images")
    );
}
