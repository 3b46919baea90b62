//! Shattered gradients (Balduzzi et al. 2017, "The shattered gradients problem: if resnets are
//! the answer, then what is the question?").
//!
//! The input moves along a line `x(t) = x0 + t·d`, `t` evenly spaced in [−1, 1], and for a fixed
//! logit `z` we record `dz/dt = ∇ₓz(x(t)) · d`. In a deep plain rectifier network this sequence
//! decorrelates like white noise; with skip connections it keeps its structure. The summary is
//! the autocorrelation of the sequence, mostly its value at lag 1.
//!
//! **BatchNorm.** The networks are He-initialised with fresh BatchNorm statistics and run in
//! inference mode, where BatchNorm is the identity (up to 1/√(1+ε)): for the plain networks the
//! setting of Balduzzi et al.'s Theorem 1 (rectifier networks without BatchNorm); their 1/√L
//! for resnets (Theorem 3) assumes BatchNorm in the residual blocks. Every point
//! of the line is then its own input and `dz/dt` is an ordinary per-point derivative; BatchNorm
//! in training mode would compute its statistics over the line's points and couple them. The
//! PyTorch reference (`tests/fixtures/make_lab.py`) runs the same model in `eval()` mode.
//!
//! The points are independent, so they go through the network as batches and one backward pass
//! of `Σ_i z(x(t_i))` gives every `∇ₓz(x(t_i))` at once.

use burn::module::Module;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gradflow::input_side;
use crate::model::ResNet;
use crate::predict::read_f32;
use crate::weights::LoadedWeights;

/// The default number of points on the line (as in Balduzzi et al.'s figures).
pub const DEFAULT_POINTS: usize = 256;
/// More points than this are refused (a sweep of ResNet-50 at 224×224 is already minutes).
pub const MAX_POINTS: usize = 4096;
/// The logit differentiated: class 0 (any fixed logit shows the same effect at initialisation).
pub const DEFAULT_CLASS: usize = 0;

/// What `resnet-lab shatter --json` prints and the page's chart shows.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShatterReport {
    pub arch: String,
    /// Whether every shortcut was removed.
    pub plain: bool,
    pub class: usize,
    pub t: Vec<f64>,
    /// `dz/dt` at each `t`.
    pub grad: Vec<f64>,
    /// Autocorrelation of `grad` at lags 0, 1, …, N−1 (lag 0 is 1).
    pub autocorr: Vec<f64>,
    /// `autocorr[1]`: near 1 for smooth gradients, near 0 for white noise.
    pub lag1: f64,
}

/// `points` values of `t` evenly spaced in [−1, 1].
pub fn line_parameters(points: usize) -> Vec<f32> {
    match points {
        0 => Vec::new(),
        1 => vec![0.0],
        n => (0..n)
            .map(|i| (-1.0 + 2.0 * i as f64 / (n - 1) as f64) as f32)
            .collect(),
    }
}

/// The line's start `x0` and direction `d` for a `[3, side, side]` input: both standard normal
/// noise from `seed` (`x0` first, then `d`, from one generator).
pub fn line_endpoints(side: usize, seed: u64) -> (Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut draw = || -> Vec<f32> {
        (0..3 * side * side)
            .map(|_| rng.sample::<f32, _>(StandardNormal))
            .collect()
    };
    let x0 = draw();
    let d = draw();
    (x0, d)
}

/// Normalised autocorrelation `r(k) = Σ_i (g_i − ḡ)(g_{i+k} − ḡ) / Σ_i (g_i − ḡ)²`, the usual
/// (biased) estimator. A constant sequence has no defined correlation: all zeros.
pub fn autocorrelation(g: &[f64]) -> Vec<f64> {
    let n = g.len();
    if n == 0 {
        return Vec::new();
    }
    let mean = g.iter().sum::<f64>() / n as f64;
    let c: Vec<f64> = g.iter().map(|v| v - mean).collect();
    let energy: f64 = c.iter().map(|v| v * v).sum();
    if energy <= 0.0 || !energy.is_finite() {
        return vec![0.0; n];
    }
    (0..n)
        .map(|k| {
            c[..n - k]
                .iter()
                .zip(&c[k..])
                .map(|(a, b)| a * b)
                .sum::<f64>()
                / energy
        })
        .collect()
}

/// A line through input space: `x(t) = start + t·direction`, both `[3, height, width]`.
#[derive(Debug, Clone, Copy)]
pub struct Line<'a> {
    pub start: &'a [f32],
    pub direction: &'a [f32],
    /// `[height, width]`.
    pub size: [usize; 2],
}

/// `dz_class/dt` at each `t` along `line` through `model` (built on the autodiff `device`; the
/// residual network, or with `plain` every shortcut removed). Points go through in batches of
/// `batch`.
pub async fn line_gradients(
    model: &ResNet,
    line: Line<'_>,
    t: &[f32],
    class: usize,
    plain: bool,
    batch: usize,
    device: &Device,
) -> Result<Vec<f32>> {
    let (x0, d, [height, width]) = (line.start, line.direction, line.size);
    let numel = 3 * height * width;
    if x0.len() != numel || d.len() != numel {
        return Err(Error::Input(format!(
            "the line's start and direction must each hold {numel} values ([3, {height}, {width}])"
        )));
    }
    let classes = model.fc.weight.dims()[1];
    if class >= classes {
        return Err(Error::Input(format!(
            "class {class} does not exist: the model has {classes} classes"
        )));
    }
    let shape = [1, 3, height, width];
    let start = Tensor::<4>::from_data(TensorData::new(x0.to_vec(), shape), device);
    let direction = Tensor::<4>::from_data(TensorData::new(d.to_vec(), shape), device);
    let mut grads_dt = Vec::with_capacity(t.len());
    for chunk in t.chunks(batch.max(1)) {
        let n = chunk.len();
        let steps = Tensor::<1>::from_data(TensorData::new(chunk.to_vec(), [n]), device)
            .reshape([n, 1, 1, 1]);
        let x = (start.clone() + direction.clone() * steps)
            .detach()
            .require_grad();
        let mut h = model.forward_stem(x.clone());
        for block in &model.blocks {
            h = if plain {
                block.forward_plain(h)
            } else {
                block.forward(h)
            };
        }
        // Each point's logit depends on its own input only, so ∂(Σ z)/∂x_i = ∇z(x_i).
        let z = model.forward_head(h).narrow(1, class, 1).sum();
        let grads = z.backward();
        let gx = x
            .grad(&grads)
            .ok_or_else(|| Error::Backend("autodiff returned no input gradient".into()))?;
        let along = (gx * direction.clone().inner())
            .reshape([n, numel])
            .sum_dim(1)
            .reshape([n]);
        grads_dt.extend(read_f32(along).await?);
    }
    Ok(grads_dt)
}

/// The whole study for one network: He-initialised (or loaded) `weights`, `points` points,
/// the line drawn from `seed`.
pub async fn shatter(
    weights: LoadedWeights,
    plain: bool,
    points: usize,
    seed: u64,
    device: &Device,
) -> Result<ShatterReport> {
    if !(2..=MAX_POINTS).contains(&points) {
        return Err(Error::Input(format!(
            "--points must lie in 2..={MAX_POINTS} (got {points})"
        )));
    }
    let config = weights.info.config.clone();
    let side = input_side(&config);
    let ad = device.clone().autodiff();
    // Gradients are wanted for the input only, not for the weights.
    let model = ResNet::from_tensors(&config, weights.tensors, &ad)?.no_grad();
    let (x0, d) = line_endpoints(side, seed);
    let t = line_parameters(points);
    // Bounded memory: ~32 CIFAR points or 4 ImageNet points per pass.
    let batch = if side <= 32 { 32 } else { 4 };
    let grad = line_gradients(
        &model,
        Line {
            start: &x0,
            direction: &d,
            size: [side, side],
        },
        &t,
        DEFAULT_CLASS,
        plain,
        batch,
        &ad,
    )
    .await?;
    let grad: Vec<f64> = grad.into_iter().map(f64::from).collect();
    if grad.iter().any(|g| !g.is_finite()) {
        return Err(Error::Backend(
            "the network produced non-finite gradients".into(),
        ));
    }
    let autocorr = autocorrelation(&grad);
    Ok(ShatterReport {
        arch: config.name(),
        plain,
        class: DEFAULT_CLASS,
        t: t.into_iter().map(f64::from).collect(),
        lag1: autocorr.get(1).copied().unwrap_or(0.0),
        grad,
        autocorr,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn autocorrelation_by_hand() {
        // g = [1, 2, 3, 4]: centred [-1.5, -0.5, 0.5, 1.5], energy 5;
        // lag 1: (0.75 - 0.25 + 0.75) / 5 = 0.25; lag 3: -2.25 / 5 = -0.45.
        let r = autocorrelation(&[1.0, 2.0, 3.0, 4.0]);
        let want = [1.0, 0.25, -0.3, -0.45];
        for (a, b) in r.iter().zip(want) {
            assert!((a - b).abs() < 1e-12, "{r:?}");
        }
        // Alternating signs: lag 1 is strongly negative.
        assert!(autocorrelation(&[1.0, -1.0, 1.0, -1.0])[1] < -0.7);
        assert_eq!(autocorrelation(&[2.0, 2.0]), vec![0.0, 0.0]);
    }

    #[test]
    fn line_spans_minus_one_to_one() {
        let t = line_parameters(5);
        assert_eq!(t, vec![-1.0, -0.5, 0.0, 0.5, 1.0]);
    }
}
