//! What a gradient-flow analysis runs on: the input (a photo's crop or seeded noise) and the
//! He-initialised networks of the lessons that need no download.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::config::{ResNetConfig, Stem};
use crate::model::init::{he_initialized, zero_init_residual};
use crate::preprocess::{InputConvention, normalize_crop, shrink_crop};
use crate::weights::{LoadedWeights, ModelInfo, WeightFormat};
use resnet_lab_protocol::report::HeInitOptions;

/// The input side a network is analysed at: 224 for ImageNet stems, 32 for CIFAR stems.
pub fn input_side(config: &ResNetConfig) -> usize {
    match config.stem {
        Stem::ImageNet => 224,
        Stem::Cifar => 32,
    }
}

/// A `[3, side, side]` image of standard normal noise: the input of a lesson before any
/// photo, reproducible from its seed.
pub fn noise_input(side: usize, seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..3 * side * side)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect()
}

/// The `[3, side, side]` input for a network: the photo's 224×224 crop (shrunk for a CIFAR
/// network) normalised as the network expects, or seeded noise when there is no photo.
pub fn analysis_input(
    crop: Option<&[u8]>,
    config: &ResNetConfig,
    convention: InputConvention,
    seed: u64,
) -> Result<(Vec<f32>, usize)> {
    let side = input_side(config);
    let values = match crop {
        Some(crop) if side == 224 => normalize_crop(crop, convention),
        Some(crop) => normalize_crop(&shrink_crop(crop, side)?, convention),
        None => noise_input(side, seed),
    };
    Ok((values, side))
}

/// A He-initialised network of a named architecture (`resnet18`..`resnet152`,
/// `cifar20`, `cifar56`, `cifar110`, ...), for lessons that need no download.
pub fn he_initialized_weights(arch: &str, seed: u64) -> Result<LoadedWeights> {
    he_initialized_weights_with(arch, seed, &HeInitOptions::default())
}

/// [`he_initialized_weights`], with torchvision's `zero_init_residual` when `options` asks
/// (the BatchNorm mode is the analysis's business, see `GradFlowOptions`).
pub fn he_initialized_weights_with(
    arch: &str,
    seed: u64,
    options: &HeInitOptions,
) -> Result<LoadedWeights> {
    let config = parse_arch(arch)?;
    let mut tensors = he_initialized(&config, seed)?;
    if options.zero_init_residual {
        zero_init_residual(&config, &mut tensors)?;
    }
    Ok(LoadedWeights {
        info: ModelInfo {
            labels: LabelSet::for_classes(config.num_classes),
            input: InputConvention::Torchvision,
            format: WeightFormat::Bundle,
            stored_dtype: "float32".into(),
            source: if options.zero_init_residual {
                format!("He initialisation, seed {seed}, zero-initialised residual γ")
            } else {
                format!("He initialisation, seed {seed}")
            },
            config,
        },
        tensors,
    })
}

/// `resnet50` → the standard ResNet-50; `cifar56` → the 56-layer CIFAR ResNet (10 classes).
pub fn parse_arch(arch: &str) -> Result<ResNetConfig> {
    let unknown = || {
        Error::Input(format!(
            "unknown architecture `{arch}`: use resnet18/34/50/101/152 or cifar<6n+2> (cifar20, cifar56, cifar110)"
        ))
    };
    let arch = arch.to_ascii_lowercase();
    if let Some(depth) = arch.strip_prefix("resnet") {
        ResNetConfig::standard(depth.parse().map_err(|_| unknown())?).ok_or_else(unknown)
    } else if let Some(depth) = arch.strip_prefix("cifar") {
        let depth: usize = depth
            .trim_start_matches('-')
            .parse()
            .map_err(|_| unknown())?;
        if depth > 1000 {
            return Err(unknown());
        }
        ResNetConfig::cifar(depth, 10).ok_or_else(unknown)
    } else {
        Err(unknown())
    }
}

/// `count` images of `[3, height, width]` standard normal noise from `seed`, one after the
/// other: the rest of a training-mode BatchNorm batch.
pub fn noise_batch(count: usize, [height, width]: [usize; 2], seed: u64) -> Vec<f32> {
    let mut rng = StdRng::seed_from_u64(seed);
    (0..count * 3 * height * width)
        .map(|_| rng.sample::<f32, _>(StandardNormal))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_match_the_network() {
        let crop = vec![128u8; 224 * 224 * 3];
        let cifar = ResNetConfig::cifar(20, 10).unwrap();
        let (values, side) =
            analysis_input(Some(&crop), &cifar, InputConvention::Torchvision, 0).unwrap();
        assert_eq!((values.len(), side), (3 * 32 * 32, 32));
        // (128/255 - 0.485) / 0.229 for the red channel.
        assert!((values[0] - (128.0 / 255.0 - 0.485) / 0.229).abs() < 1e-5);
        let imagenet = ResNetConfig::standard(50).unwrap();
        let (values, side) =
            analysis_input(Some(&crop), &imagenet, InputConvention::CaffeBgr, 0).unwrap();
        assert_eq!((values.len(), side), (3 * 224 * 224, 224));
        // Blue first, minus the Caffe mean 103.939.
        assert!((values[0] - (128.0 - 103.939)).abs() < 1e-4);
        let (a, _) = analysis_input(None, &cifar, InputConvention::Torchvision, 7).unwrap();
        let (b, _) = analysis_input(None, &cifar, InputConvention::Torchvision, 7).unwrap();
        let (c, _) = analysis_input(None, &cifar, InputConvention::Torchvision, 8).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
        let mean = a.iter().sum::<f32>() / a.len() as f32;
        let var = a.iter().map(|v| (v - mean).powi(2)).sum::<f32>() / a.len() as f32;
        assert!(mean.abs() < 0.1 && (var - 1.0).abs() < 0.1, "{mean} {var}");
    }
}
