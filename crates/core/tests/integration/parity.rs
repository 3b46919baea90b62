//! Logits agree with PyTorch (eval mode) for reduced-width ResNet-18 and ResNet-50 in
//! torchvision's exact key layout, read from `.pth` and from `.safetensors`.
//!
//! The fixtures have random BatchNorm affine parameters and running statistics, so swapping
//! `running_mean`/`running_var` or `weight`/`bias` would change the logits far beyond the
//! tolerance. Reference: `tests/fixtures/generate.py`.

use crate::common::{fixture, npy, read};
use burn::tensor::Device;
use resnet_lab_core::model::{BlockKind, Layout};
use resnet_lab_core::{Classifier, load_weights};

fn check_logits(weights_file: &str, reference: &str, depth_blocks: Vec<usize>, block: BlockKind) {
    let weights = load_weights(&read(weights_file)).unwrap();
    let config = &weights.info.config;
    assert_eq!(
        config.stage_blocks, depth_blocks,
        "{weights_file}: detected stages"
    );
    assert_eq!(config.block, block);
    assert_eq!(config.layout, Layout::Torchvision);
    assert_eq!((config.base_width, config.num_classes), (8, 16));

    let (shape, input) = npy("tiny_input.npy");
    assert_eq!(shape, vec![1, 3, 64, 64]);
    let (_, want) = npy(reference);

    let classifier = Classifier::new(weights, &Device::flex()).unwrap();
    let batch = classifier.input_batch(&[input], 64, 64).unwrap();
    let got = pollster::block_on(classifier.logits(batch))
        .unwrap()
        .remove(0);

    let range = want.iter().copied().fold(f32::MIN, f32::max)
        - want.iter().copied().fold(f32::MAX, f32::min);
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0f32, f32::max);
    assert!(
        worst <= 1e-4 * range,
        "{weights_file}: max |Δlogit| = {worst}, allowed {} (1e-4 of the range {range})",
        1e-4 * range
    );
}

#[test]
fn resnet18_from_pth_matches_pytorch() {
    check_logits(
        "tiny_resnet18.pth",
        "tiny_resnet18_logits.npy",
        vec![2, 2, 2, 2],
        BlockKind::Basic,
    );
}

#[test]
fn resnet18_from_safetensors_matches_pytorch() {
    check_logits(
        "tiny_resnet18.safetensors",
        "tiny_resnet18_logits.npy",
        vec![2, 2, 2, 2],
        BlockKind::Basic,
    );
}

#[test]
fn resnet50_from_pth_matches_pytorch() {
    check_logits(
        "tiny_resnet50.pth",
        "tiny_resnet50_logits.npy",
        vec![3, 4, 6, 3],
        BlockKind::Bottleneck,
    );
}

#[test]
fn resnet50_from_safetensors_matches_pytorch() {
    check_logits(
        "tiny_resnet50.safetensors",
        "tiny_resnet50_logits.npy",
        vec![3, 4, 6, 3],
        BlockKind::Bottleneck,
    );
}

/// Our in-memory `.pth` reader agrees tensor for tensor with Burn's file-based
/// `pytorch-reader`, an independent implementation.
#[test]
fn pth_reader_agrees_with_pytorch_reader() {
    for name in ["tiny_resnet18.pth", "tiny_resnet50.pth"] {
        let ours = resnet_lab_core::weights::pth::read_pth(&read(name)).unwrap();
        let theirs = pytorch_reader::PytorchReader::new(fixture(name)).unwrap();
        assert_eq!(ours.len(), theirs.len(), "{name}: tensor count");
        for (key, tensor) in theirs.tensors() {
            let mine = ours
                .get(key)
                .unwrap_or_else(|| panic!("{name}: `{key}` missing"));
            assert_eq!(mine.shape, tensor.shape(), "{name}: `{key}` shape");
            let bytes = tensor.read().unwrap();
            let values: Vec<f32> = match tensor.dtype() {
                pytorch_reader::DType::F32 => bytes
                    .chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                    .collect(),
                pytorch_reader::DType::I64 => bytes
                    .chunks_exact(8)
                    .map(|b| i64::from_le_bytes(b.try_into().unwrap()) as f32)
                    .collect(),
                other => panic!("unexpected dtype {other:?}"),
            };
            assert_eq!(mine.data, values, "{name}: `{key}` values");
        }
    }
}
