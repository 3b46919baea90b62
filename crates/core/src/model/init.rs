//! Weights without a download: He initialisation with a seed, for the vanishing-gradient
//! lessons that need no trained network.
//!
//! The numbers are drawn on the CPU from a seeded generator, so the same seed gives the same
//! network on every backend and every machine (a lesson is a link that reproduces the view).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::Result;
use crate::model::config::ResNetConfig;
use crate::model::tensors::{TensorRole, TensorSpec};
use crate::weights::tensor_set::{HostTensor, TensorSet};

/// Freshly initialised tensors for `config`, as torchvision initialises a ResNet:
/// convolutions Kaiming-normal (fan-out, ReLU gain), BatchNorm γ = 1, β = 0 with running
/// statistics (0, 1), and the classifier uniform in ±1/√fan-in.
pub fn he_initialized(config: &ResNetConfig, seed: u64) -> Result<TensorSet> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut set = TensorSet::new();
    let features = config.feature_channels() as f32;
    for TensorSpec {
        name, shape, role, ..
    } in config.tensor_specs()
    {
        let n: usize = shape.iter().product();
        let data: Vec<f32> = match role {
            TensorRole::FcWeight | TensorRole::FcBias => {
                let bound = 1.0 / features.sqrt();
                (0..n).map(|_| rng.random_range(-bound..=bound)).collect()
            }
            TensorRole::BnWeight | TensorRole::BnVar => vec![1.0; n],
            TensorRole::ConvWeight => {
                // Kaiming normal, mode fan_out: std = √(2 / (out · kh · kw)).
                let fan_out = (shape[0] * shape[2] * shape[3]) as f32;
                let std = (2.0 / fan_out).sqrt();
                (0..n)
                    .map(|_| std * rng.sample::<f32, _>(StandardNormal))
                    .collect()
            }
            // BatchNorm β, running mean and conv biases start at zero.
            TensorRole::BnBias | TensorRole::BnMean | TensorRole::ConvBias => vec![0.0; n],
        };
        set.insert(name, HostTensor::new(shape, data)?)?;
    }
    Ok(set)
}
