//! Fine-tuning layer4 with the head against PyTorch (`tests/fixtures/make_layer4_reference.py`):
//! the same full-batch Adam steps on the tiny ResNet-18 give the same losses, the same layer4
//! updates and the same head, and the network with the fine-tuned layer4 put back (what
//! `classify --head` runs) gives PyTorch's probabilities.

use crate::common::{npy, read};
use burn::tensor::Device;
use resnet_lab_core::predict::softmax;
use resnet_lab_core::transfer::layer4::{copy_stage, replace_stage, stage_inputs};
use resnet_lab_core::transfer::{
    BackboneId, Layer4Job, StageInputs, TrainConfig, Validation, train_with_layer4,
};
use resnet_lab_core::weights::safetensors::read_safetensors;
use resnet_lab_core::{Classifier, LoadedWeights, load_weights};
use serde_json::Value;

fn floats(v: &Value) -> Vec<f32> {
    v.as_array()
        .unwrap()
        .iter()
        .flat_map(|x| match x.as_array() {
            Some(row) => row.iter().map(|y| y.as_f64().unwrap() as f32).collect(),
            None => vec![x.as_f64().unwrap() as f32],
        })
        .collect()
}

fn max_abs(values: impl IntoIterator<Item = f32>) -> f32 {
    values.into_iter().fold(0.0, |m, v| m.max(v.abs()))
}

/// The fixture's six images, [3, 64, 64] each.
fn images() -> Vec<Vec<f32>> {
    let (shape, values) = npy("layer4/inputs.npy");
    assert_eq!(shape, vec![6, 3, 64, 64]);
    values.chunks(3 * 64 * 64).map(<[f32]>::to_vec).collect()
}

#[test]
fn layer4_fine_tuning_matches_pytorch_adam_steps() {
    let reference: Value = serde_json::from_slice(&read("layer4/reference.json")).unwrap();
    let weights = load_weights(&read("tiny_resnet18.pth")).unwrap();
    let backbone = BackboneId::of(&weights).unwrap();
    let architecture = weights.info.config.clone();
    let stage = copy_stage(&weights.tensors, &architecture).unwrap();
    let device = Device::flex();
    let classifier = Classifier::new(weights.clone(), &device).unwrap();
    let batch = classifier.input_batch(&images(), 64, 64).unwrap();
    let (rows, shape) = pollster::block_on(stage_inputs(&classifier, batch)).unwrap();
    assert_eq!(
        shape,
        [32, 4, 4],
        "tiny_resnet18's layer3 output for 64×64 inputs"
    );

    // The reference's settings are the defaults.
    let config = TrainConfig {
        epochs: reference["steps"].as_u64().unwrap() as usize,
        validation: Validation::None,
        ..TrainConfig::default()
    };
    assert_eq!(config.learning_rate, reference["head_lr"].as_f64().unwrap());
    assert_eq!(
        config.layer4_learning_rate,
        reference["layer4_lr"].as_f64().unwrap()
    );
    assert_eq!(
        config.weight_decay,
        reference["weight_decay"].as_f64().unwrap()
    );
    let labels: Vec<usize> = reference["labels"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_u64().unwrap() as usize)
        .collect();
    let trained = pollster::block_on(train_with_layer4(
        Layer4Job {
            inputs: &StageInputs { rows, shape },
            labels: &labels,
            classes: vec!["a".into(), "b".into(), "c".into()],
            backbone,
            stage: &stage,
            architecture: &architecture,
        },
        &config,
        &device,
    ))
    .unwrap();

    // The loss after each step.
    let losses = floats(&reference["losses"]);
    assert_eq!(trained.epochs.len(), losses.len());
    for (got, want) in trained.epochs.iter().zip(&losses) {
        let err = (got.loss - *want as f64).abs() / *want as f64;
        assert!(
            err <= 1e-4,
            "epoch {}: loss {} vs PyTorch {want}",
            got.epoch,
            got.loss
        );
    }

    // Every trained layer4 tensor moved as PyTorch's did; the running statistics did not move.
    // The updated weights agree to 1e-4 of their range. The updates themselves are compared as
    // a whole (relative L2 error): Adam divides each gradient by its own RMS + ε, so a weight
    // whose gradient is near ε = 1e-5 amplifies rounding, and PyTorch's own float32 run is off
    // its float64 one by 0.9 % of the largest update on some weights, 3.8e-4 in L2.
    let (deltas, _) =
        read_safetensors(&read("layer4/tiny_resnet18_layer4_delta.safetensors")).unwrap();
    let tuned = trained
        .head
        .layer4
        .as_ref()
        .expect("the head carries layer4");
    assert_eq!(tuned.len(), stage.len());
    let norm = |v: &mut dyn Iterator<Item = f32>| v.map(|x| (x as f64).powi(2)).sum::<f64>().sqrt();
    let mut checked = 0;
    for (name, want) in deltas.iter() {
        let (before, after) = (stage.get(name).unwrap(), tuned.get(name).unwrap());
        assert_eq!(after.shape, want.shape, "{name}");
        let wrong = max_abs(
            after
                .data
                .iter()
                .zip(&before.data)
                .zip(&want.data)
                .map(|((a, b), d)| a - (b + d)),
        );
        let range = max_abs(after.data.iter().copied());
        assert!(
            wrong <= 1e-4 * range,
            "{name}: updated weights off by {wrong} (range {range})"
        );
        let reference = norm(&mut want.data.iter().copied());
        assert!(reference > 0.0, "{name} moved in PyTorch");
        let error = norm(
            &mut after
                .data
                .iter()
                .zip(&before.data)
                .zip(&want.data)
                .map(|((a, b), d)| (a - b) - d),
        );
        assert!(
            error <= 5e-3 * reference,
            "{name}: updates off by {error} in L2 (PyTorch's update: {reference})"
        );
        checked += 1;
    }
    assert_eq!(
        checked, 15,
        "5 convolutions, each with its BatchNorm weight and bias"
    );
    for (name, t) in stage.iter().filter(|(n, _)| n.contains("running_")) {
        assert_eq!(tuned.get(name), Some(t), "{name}");
    }

    // The exported head, in raw-feature space.
    for (got, key) in [
        (&trained.head.weight, "head_weight"),
        (&trained.head.bias, "head_bias"),
    ] {
        let want = floats(&reference[key]);
        // PyTorch's float32 run is 9.7e-5 of the range off its float64 one here.
        let scale = max_abs(want.iter().copied());
        let worst = max_abs(got.iter().zip(&want).map(|(a, b)| a - b));
        assert!(
            worst <= 1e-3 * scale,
            "{key}: off by {worst} (range {scale})"
        );
    }

    // The backbone with the fine-tuned layer4 put back, and the head: PyTorch's probabilities.
    let mut tensors = weights.tensors;
    replace_stage(&mut tensors, tuned, &architecture).unwrap();
    let tuned_net = LoadedWeights {
        info: weights.info,
        tensors,
    };
    let classifier = Classifier::new(tuned_net, &device).unwrap();
    let batch = classifier.input_batch(&images(), 64, 64).unwrap();
    let features = pollster::block_on(classifier.features(batch)).unwrap();
    let want = floats(&reference["probs"]);
    let effect = reference["layer4_effect_on_probs"].as_f64().unwrap() as f32;
    for (i, f) in features.iter().enumerate() {
        let probs = softmax(&trained.head.logits(f).unwrap());
        let worst = max_abs(probs.iter().zip(&want[i * 3..]).map(|(a, b)| a - b));
        assert!(
            worst <= 1e-5 && worst < effect / 10.0,
            "photo {i}: probabilities off by {worst} (the fine-tuned layer4 moves them by {effect})"
        );
    }
}

#[test]
fn a_network_without_layer4_is_refused() {
    let weights = load_weights(&read("lab/cifar20_w8_init.safetensors")).unwrap();
    let err = copy_stage(&weights.tensors, &weights.info.config).unwrap_err();
    assert!(err.to_string().contains("four"), "{err}");
}
