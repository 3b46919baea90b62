//! `finetune --layer4` and `classify --head` with a fine-tuned layer4, end to end on the tiny
//! ResNet-18 (the numbers themselves are checked against PyTorch in the core's
//! `transfer_layer4` test), and hostile head files: a layer4 tensor of the wrong shape, one
//! missing, one from another stage, a layer4 for another network.

use resnet_lab_core::transfer::LinearHead;
use resnet_lab_core::weights::HostTensor;

use crate::common::{fixture, run, success_json};
use crate::transfer::{Scratch, photo_set, stderr};

fn read_head(path: &str) -> LinearHead {
    LinearHead::from_safetensors(&std::fs::read(path).unwrap()).unwrap()
}

/// `classify --head HEAD --json` of one photo: (label, prob) in rank order, or the failure.
fn classify(weights: &str, head: &str) -> Result<Vec<(String, f64)>, String> {
    let out = run(&[
        "classify",
        "--weights",
        weights,
        "--head",
        head,
        "--json",
        &fixture("teach/bird/ab06.jpg"),
    ]);
    if out.status.code() == Some(1) {
        return Err(stderr(&out));
    }
    let doc = success_json(&out);
    Ok(doc["results"][0]["top"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["label"].as_str().unwrap().to_owned(),
                p["prob"].as_f64().unwrap(),
            )
        })
        .collect())
}

#[test]
fn finetune_layer4_writes_a_head_that_classify_applies_and_refuses_broken_ones() {
    let s = Scratch::new("finetune-layer4");
    photo_set(&s.0.join("data"), &[("bird", 3), ("vehicle", 3)]);
    let weights = fixture("tiny_resnet18.safetensors");
    let head = s.path("head.safetensors");
    let out = run(&[
        "finetune",
        "--weights",
        &weights,
        "--data",
        &s.path("data"),
        "--out",
        &head,
        "--epochs",
        "3",
        "--layer4",
        "--json",
    ]);
    let doc = success_json(&out);
    // The same JSON as without --layer4; 6 photos: a split, not leave-one-out.
    let mut keys: Vec<&str> = doc
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "augment",
            "augment_ms",
            "augmented_views",
            "backbone",
            "backend",
            "classes",
            "epochs",
            "features_ms",
            "head",
            "held_out",
            "photos",
            "skipped",
            "train_ms",
            "train_rows",
            "validation"
        ]
    );
    assert_eq!(doc["augmented_views"], 0);
    assert_eq!(doc["train_rows"], 4, "the 6 photos but the 2 held out");
    assert_eq!(doc["validation"], "split");
    assert_eq!(doc["held_out"], 2, "one photo of each class");
    let epochs = doc["epochs"].as_array().unwrap();
    assert_eq!(epochs.len(), 3);
    assert!(epochs[2]["val_accuracy"].as_f64().is_some());

    // The file holds the head and all of layer4 (5 convolutions with their BatchNorm:
    // 5 × 5 tensors), the weights moved and the statistics did not.
    let tuned = read_head(&head);
    let stage = tuned.layer4.as_ref().expect("layer4 is in the head file");
    assert_eq!(stage.len(), 25);
    let original = resnet_lab_core::load_weights(&std::fs::read(&weights).unwrap()).unwrap();
    let same = |name: &str| original.tensors.get(name) == stage.get(name);
    assert!(!same("layer4.0.conv1.weight") && !same("layer4.1.bn2.bias"));
    assert!(same("layer4.0.bn1.running_mean") && same("layer4.0.downsample.1.running_var"));

    // classify applies the fine-tuned layer4: without it the same head answers otherwise.
    let with = classify(&weights, &head).unwrap();
    let mut frozen = tuned.clone();
    frozen.layer4 = None;
    let frozen_path = s.path("frozen.safetensors");
    std::fs::write(&frozen_path, frozen.to_safetensors().unwrap()).unwrap();
    let without = classify(&weights, &frozen_path).unwrap();
    assert_eq!(with.len(), 2);
    assert_ne!(with, without);

    // Hostile head files: each refused with exit 1 and a message naming the problem.
    let broken = |name: &str, edit: &dyn Fn(&mut LinearHead)| {
        let mut h = tuned.clone();
        edit(&mut h);
        let path = s.path(name);
        std::fs::write(&path, h.to_safetensors().unwrap()).unwrap();
        classify(&weights, &path).expect_err(name)
    };
    let msg = broken("wrong-shape.safetensors", &|h| {
        let set = h.layer4.as_mut().unwrap();
        set.take("layer4.0.conv2.weight").unwrap();
        set.insert(
            "layer4.0.conv2.weight",
            HostTensor::new(vec![64, 64, 1, 1], vec![0.01; 64 * 64]).unwrap(),
        )
        .unwrap();
    });
    assert!(
        msg.contains("layer4 does not fit")
            && msg.contains("layer4.0.conv2.weight: expected [64, 64, 3, 3], found [64, 64, 1, 1]"),
        "{msg}"
    );
    let msg = broken("missing.safetensors", &|h| {
        h.layer4
            .as_mut()
            .unwrap()
            .take("layer4.1.bn2.running_var")
            .unwrap();
    });
    assert!(
        msg.contains("missing 1 tensor") && msg.contains("layer4.1.bn2.running_var"),
        "{msg}"
    );
    let msg = broken("other-stage.safetensors", &|h| {
        let extra = HostTensor::new(vec![1], vec![1.0]).unwrap();
        h.layer4
            .as_mut()
            .unwrap()
            .insert("layer3.0.bn1.bias", extra)
            .unwrap();
    });
    assert!(
        msg.contains("unexpected tensor `layer3.0.bn1.bias`"),
        "{msg}"
    );
    // A tiny ResNet-18 head with its layer4 on the tiny ResNet-50.
    let msg = classify(&fixture("tiny_resnet50.pth"), &head).unwrap_err();
    assert!(msg.contains("reads 64 features"), "{msg}");
}

#[test]
fn finetune_layer4_refuses_a_network_without_layer4() {
    let s = Scratch::new("finetune-layer4-cifar");
    photo_set(&s.0.join("data"), &[("bird", 2), ("vehicle", 2)]);
    let out = run(&[
        "finetune",
        "--weights",
        &fixture("lab/cifar20_w8_init.safetensors"),
        "--data",
        &s.path("data"),
        "--out",
        &s.path("h.safetensors"),
        "--layer4",
    ]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("four"), "{}", stderr(&out));
    assert!(!s.0.join("h.safetensors").exists());
}
