//! Weights without a download: He initialisation with a seed, for the gradient-flow lessons
//! that need no trained network (how activations and gradients grow or shrink with depth at
//! initialisation; He et al. 2015, "Delving deep into rectifiers", for the variance argument).
//!
//! The numbers are drawn on the CPU from a seeded generator, so the same seed gives the same
//! network on every backend and every machine (a lesson is a link that reproduces the view).

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::Result;
use crate::model::config::ResNetConfig;
use crate::model::tensors::{ConvRole, TensorRole, TensorSpec};
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

/// torchvision's `zero_init_residual=True`: the last BatchNorm γ of every residual branch
/// (`bn2` of a basic block, `bn3` of a bottleneck) becomes 0, so every branch starts at 0 and
/// a block computes `ReLU(S(x))`: the identity where the shortcut is (Goyal et al. 2017,
/// "Accurate, large minibatch SGD", §5.1).
pub fn zero_init_residual(config: &ResNetConfig, tensors: &mut TensorSet) -> Result<()> {
    for info in config.blocks() {
        let pairs = info.conv_bns(config.layout);
        let Some(last) = pairs
            .iter()
            .rev()
            .find(|pair| matches!(pair.role, ConvRole::Branch(_)))
        else {
            continue;
        };
        let name = last.tensor_name(TensorRole::BnWeight);
        let gamma = tensors.take(&name)?;
        let zeros = HostTensor::new(gamma.shape.clone(), vec![0.0; gamma.numel()])?;
        tensors.insert(name, zeros)?;
    }
    Ok(())
}

/// Whether every BatchNorm is at fresh parameters: γ ∈ {0, 1}, β = 0, running statistics
/// (0, 1), and no convolution bias. Only then is BatchNorm in training mode computed from the
/// folded network (see `model::BatchStats`).
pub fn has_fresh_batchnorm(config: &ResNetConfig, tensors: &TensorSet) -> bool {
    config.tensor_specs().iter().all(|spec| {
        let Some(t) = tensors.get(&spec.name) else {
            return false;
        };
        let all = |f: fn(f32) -> bool| t.data.iter().all(|&v| f(v));
        match spec.role {
            TensorRole::BnWeight => all(|v| v == 0.0 || v == 1.0),
            TensorRole::BnBias | TensorRole::BnMean | TensorRole::ConvBias => all(|v| v == 0.0),
            TensorRole::BnVar => all(|v| v == 1.0),
            TensorRole::ConvWeight | TensorRole::FcWeight | TensorRole::FcBias => true,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zero_init_residual_zeroes_the_last_branch_gamma_only() {
        let config = ResNetConfig::cifar(20, 10).unwrap();
        let mut set = he_initialized(&config, 1).unwrap();
        assert!(has_fresh_batchnorm(&config, &set));
        zero_init_residual(&config, &mut set).unwrap();
        assert!(has_fresh_batchnorm(&config, &set));
        let gamma = |name: &str| set.get(name).unwrap().data.clone();
        assert!(gamma("layer1.0.bn2.weight").iter().all(|&v| v == 0.0));
        assert!(gamma("layer3.2.bn2.weight").iter().all(|&v| v == 0.0));
        assert!(gamma("layer1.0.bn1.weight").iter().all(|&v| v == 1.0));
        assert!(
            gamma("layer2.0.downsample.1.weight")
                .iter()
                .all(|&v| v == 1.0)
        );
        let bottleneck = ResNetConfig::standard(50).unwrap();
        let mut set = he_initialized(&bottleneck, 1).unwrap();
        zero_init_residual(&bottleneck, &mut set).unwrap();
        assert!(
            set.get("layer4.2.bn3.weight")
                .unwrap()
                .data
                .iter()
                .all(|&v| v == 0.0)
        );
        assert!(
            set.get("layer4.2.bn2.weight")
                .unwrap()
                .data
                .iter()
                .all(|&v| v == 1.0)
        );
    }
}
