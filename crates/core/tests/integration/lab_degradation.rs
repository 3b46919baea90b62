//! The degradation problem (He et al. 2016, Figures 1 and 6) on the built-in grating task,
//! trained by our code with fixed seeds: after the same number of steps, plain-56's training
//! loss is above plain-20's, ResNet-56's is below plain-56's, and ResNet-56's is not above
//! ResNet-20's by more than noise when both start with zero-initialised residual γ.
//!
//! That last ordering needs zero-γ at this budget. With the paper's initialisation, PyTorch
//! (at 150 and 300 steps, lr 0.1, 0.05 or 0.02, with or without warm-up) has ResNet-56 still
//! *above* ResNet-20 by more than the seed spread: the deeper residual network catches up only
//! later (He et al.'s Figure 6 is over 64k iterations). With torchvision's
//! `zero_init_residual` (Goyal et al. 2017 §5.1) each block starts as the identity, the
//! 56-layer ResNet starts as shallow as the 20-layer one, and PyTorch has them level
//! (ResNet-56 − ResNet-20 over seeds 0–7 in `bench/degradation_pytorch.py`'s docstring).
//!
//! The configuration and the noise come from PyTorch runs of the same networks, optimiser and
//! task (`bench/degradation_pytorch.py`, findings in its docstring): narrow networks (width 4)
//! so that three trainings fit the test budget, batch 16, 150 steps, lr 0.1, momentum 0.9 and
//! weight decay 1e-4 as in the paper, no warm-up.

use burn::tensor::Device;
use resnet_lab_core::lab::data::{Batches, SyntheticGratings};
use resnet_lab_core::lab::train::{TrainSettings, Trainer};

const WIDTH: usize = 4;
const BATCH: usize = 16;
const STEPS: usize = 150;
/// The loss compared is the mean over the last LAST steps (one batch's loss is noisy).
const LAST: usize = 20;
const SEED: u64 = 0;
/// Twice the seed-to-seed standard deviation of a network's last-20-step mean loss in PyTorch
/// at this configuration (0.046 plain-20, 0.046 plain-56, 0.052 ResNet-56 over seeds 0–3;
/// there plain-56 − plain-20 = 0.30…0.47 and plain-56 − ResNet-56 = 0.22…0.35).
const NOISE: f64 = 0.1;
/// Twice the seed-to-seed standard deviation of ResNet-56 − ResNet-20 with zero-γ in PyTorch
/// (sd 0.141, mean +0.08 over seeds 0–7; with the paper's initialisation the mean is +0.47 and
/// three of four seeds exceed this bound).
const RESIDUAL_NOISE: f64 = 0.28;

fn last_loss(arch: &str, plain: bool) -> f64 {
    last_loss_with(arch, plain, false)
}

fn last_loss_with(arch: &str, plain: bool, zero_init_residual: bool) -> f64 {
    let settings = TrainSettings {
        width: WIDTH,
        zero_init_residual,
        ..TrainSettings::default()
    };
    let mut trainer =
        Trainer::he_initialized_with(arch, plain, SEED, &settings, &Device::flex()).unwrap();
    let data = SyntheticGratings::standard();
    let mut batches = Batches::new(data.len, SEED);
    let mut losses = Vec::with_capacity(STEPS);
    for _ in 0..STEPS {
        let (images, labels) = batches.next_batch(&data, BATCH);
        losses.push(
            pollster::block_on(trainer.step(&images, &labels))
                .unwrap()
                .loss,
        );
    }
    losses[STEPS - LAST..].iter().sum::<f64>() / LAST as f64
}

#[test]
fn degradation_plain56_above_plain20_resnet56_below_plain56_and_level_with_resnet20() {
    let plain20 = last_loss("cifar20", true);
    let plain56 = last_loss("cifar56", true);
    let resnet56 = last_loss("cifar56", false);
    let all = format!("plain-20 {plain20:.4}, plain-56 {plain56:.4}, ResNet-56 {resnet56:.4}");
    eprintln!("{all}");
    assert!(
        plain56 > plain20 + NOISE,
        "plain-56 not above plain-20: {all}"
    );
    // The shortcuts are what lets the 56-layer network train.
    assert!(
        resnet56 < plain56 - NOISE,
        "ResNet-56 not below plain-56: {all}"
    );
    // Zero-γ: the deeper residual network trains as well as the shorter one.
    let resnet20_zero = last_loss_with("cifar20", false, true);
    let resnet56_zero = last_loss_with("cifar56", false, true);
    let zero = format!("zero-γ ResNet-20 {resnet20_zero:.4}, ResNet-56 {resnet56_zero:.4}");
    eprintln!("{zero}");
    assert!(
        resnet56_zero <= resnet20_zero + RESIDUAL_NOISE,
        "zero-γ ResNet-56 above ResNet-20 by more than noise: {zero}"
    );
    assert!(
        resnet56_zero < plain56 - NOISE,
        "zero-γ ResNet-56 not below plain-56: {zero}; {all}"
    );
}
