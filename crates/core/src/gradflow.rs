//! Why skip connections work, measured on a real network.
//!
//! For an input image and a class `c` with logit `z_c`, every residual block `b` computes
//! `u_b = F_b(x_b) + S_b(x_b)` and then `ReLU(u_b)`. By the chain rule
//!
//! `∂z/∂x_b = S_bᵀ g_u + J_F_bᵀ g_u`,   with `g_u = ∂z/∂u_b`,
//!
//! which for an identity shortcut is the guide's `∂L/∂x = ∂L/∂H · (1 + ∂F/∂x)`: the first
//! term passes the gradient through untouched. This module measures both terms per block,
//! the same network with every shortcut removed (the "plain" network), and saliency maps,
//! with Burn's autodiff on whichever backend the device names.
//!
//! How the two terms are separated in a single backward pass: each block gets two zero-valued
//! probe tensors, one added to the shortcut's input and one to the branch's input. Adding zero
//! changes nothing in the forward pass, and the gradient with respect to each probe is exactly
//! the part of `∂z/∂x_b` that flows through that path.

use burn::module::Module;
use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::ResNet;
use crate::model::config::{BlockInfo, ResNetConfig, Stem};
use crate::model::init::he_initialized;
use crate::predict::{read_f32, top_k};
use crate::preprocess::{InputConvention, normalize_crop, shrink_crop};
use crate::weights::{LoadedWeights, ModelInfo, WeightFormat};

// The report is plain data shared with the page (which does not link Burn): defined once in
// the protocol crate.
pub use resnet_lab_protocol::report::{BlockGradient, GradFlowReport, Saliency};

/// A network prepared for gradient analysis: built once on an autodiff version of a device,
/// then asked about any number of images and classes.
#[derive(Debug)]
pub struct GradFlowAnalyzer {
    model: ResNet,
    config: ResNetConfig,
    labels: LabelSet,
    name: String,
    device: Device,
}

impl GradFlowAnalyzer {
    /// Uploads the weights to an autodiff version of `device`.
    pub fn new(weights: LoadedWeights, device: &Device) -> Result<Self> {
        let config = weights.info.config.clone();
        let ad = device.clone().autodiff();
        // Gradients are wanted for activations only, not for the millions of weights.
        let model = ResNet::from_tensors(&config, weights.tensors, &ad)?.no_grad();
        Ok(Self {
            model,
            labels: weights.info.labels.clone(),
            name: weights.info.name(),
            config,
            device: ad,
        })
    }

    /// The architecture being analysed.
    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// One forward and backward pass for the residual network and one for the plain network.
    ///
    /// `input` is one preprocessed image, `[3, height, width]`; `class` defaults to the top-1.
    pub async fn analyze(
        &self,
        input: &[f32],
        [height, width]: [usize; 2],
        class: Option<usize>,
    ) -> Result<GradFlowReport> {
        if input.len() != 3 * height * width {
            return Err(Error::Input(format!(
                "the input holds {} values; a [3, {height}, {width}] image has {}",
                input.len(),
                3 * height * width
            )));
        }
        if height < 32 || width < 32 {
            return Err(Error::Input(format!(
                "a {height}×{width} input is too small (at least 32×32)"
            )));
        }
        let (model, config, ad) = (&self.model, &self.config, &self.device);
        let image =
            || Tensor::<4>::from_data(TensorData::new(input.to_vec(), [1, 3, height, width]), ad);

        // Residual network: forward with probes.
        let x0 = image().require_grad();
        let mut h = model.forward_stem(x0.clone());
        let mut probes = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            let to_shortcut = h.zeros_like().require_grad();
            let to_branch = h.zeros_like().require_grad();
            let u = block.shortcut(h.clone() + to_shortcut.clone())
                + block.residual(h + to_branch.clone());
            h = relu(u);
            probes.push((to_shortcut, to_branch));
        }
        let features_probe = h.zeros_like().require_grad();
        let features = h + features_probe.clone();
        let logits = model.forward_head(features.clone());
        let logit_values = read_f32(logits.clone().inner()).await?;
        if logit_values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Backend(
                "the network produced non-finite logits".into(),
            ));
        }
        let class = match class {
            Some(c) if c < logit_values.len() => c,
            Some(c) => {
                return Err(Error::Input(format!(
                    "class {c} does not exist: the model has {} classes",
                    logit_values.len()
                )));
            }
            None => top_k(&logit_values, 1)
                .first()
                .map(|(i, _)| *i)
                .unwrap_or(0),
        };
        let z = logits.narrow(1, class, 1).sum();
        let grads = z.backward();

        // Norms are computed on the device and read back together (one sync, not one per block).
        let missing = || Error::Backend("autodiff returned no gradient for a probe".into());
        let mut norms = Vec::new();
        for (to_shortcut, to_branch) in &probes {
            let gs = to_shortcut.grad(&grads).ok_or_else(missing)?;
            let gf = to_branch.grad(&grads).ok_or_else(missing)?;
            norms.push(l2(gs.clone() + gf.clone()));
            norms.push(l2(gs));
            norms.push(l2(gf));
        }
        let input_grad = x0.grad(&grads).ok_or_else(missing)?;
        norms.push(l2(input_grad.clone()));
        let residual_norms = read_f32(Tensor::cat(norms, 0)).await?;

        // Saliency: Grad-CAM weights each last-stage channel by its mean gradient.
        let feature_grad = features_probe.grad(&grads).ok_or_else(missing)?;
        let [_, _, fh, fw] = feature_grad.dims();
        let alpha = feature_grad.mean_dim(3).mean_dim(2);
        let cam = relu((features.inner() * alpha).sum_dim(1)).reshape([fh * fw]);
        let grad_cam = scale_to_unit(read_f32(cam).await?);
        let input_map = input_grad.abs().max_dim(1).reshape([height * width]);
        let input_gradient = scale_to_unit(read_f32(input_map).await?);

        // Plain network: the same weights, every shortcut removed.
        let x0 = image().require_grad();
        let mut h = model.forward_stem(x0.clone());
        let mut plain_probes = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            let probe = h.zeros_like().require_grad();
            h = block.forward_plain(h + probe.clone());
            plain_probes.push(probe);
        }
        let z = model.forward_head(h).narrow(1, class, 1).sum();
        let grads = z.backward();
        let mut norms = Vec::new();
        for probe in &plain_probes {
            // A block whose whole input was cut off by ReLUs has no gradient: its norm is zero.
            norms.push(probe.grad(&grads).map_or_else(|| zero(ad), l2));
        }
        norms.push(x0.grad(&grads).map_or_else(|| zero(ad), l2));
        let plain_norms = read_f32(Tensor::cat(norms, 0)).await?;

        let infos = config.blocks();
        let blocks = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                block_gradient(info, &residual_norms[3 * i..3 * i + 3], plain_norms[i])
            })
            .collect();
        Ok(GradFlowReport {
            model: self.name.clone(),
            class,
            label: self.labels.name(class),
            logit: logit_values[class] as f64,
            input_grad_norm: residual_norms[3 * infos.len()] as f64,
            plain_input_grad_norm: plain_norms[infos.len()] as f64,
            blocks,
            saliency: Saliency {
                grad_cam,
                grad_cam_size: [fh, fw],
                input_gradient,
                input_size: [height, width],
            },
        })
    }
}

/// Convenience: builds a [`GradFlowAnalyzer`] on `device` and analyses one image.
pub async fn analyze(
    weights: LoadedWeights,
    input: &[f32],
    size: [usize; 2],
    class: Option<usize>,
    device: &Device,
) -> Result<GradFlowReport> {
    GradFlowAnalyzer::new(weights, device)?
        .analyze(input, size, class)
        .await
}

fn block_gradient(info: &BlockInfo, norms: &[f32], plain: f32) -> BlockGradient {
    BlockGradient {
        block: info.name.clone(),
        grad_norm: norms[0] as f64,
        shortcut_norm: norms[1] as f64,
        residual_norm: norms[2] as f64,
        plain_grad_norm: plain as f64,
        stage: info.stage,
        stride: info.stride,
        in_channels: info.in_channels,
        out_channels: info.out_channels,
        projection: info.projection,
    }
}

/// ‖t‖₂ as a one-element tensor.
fn l2<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    t.inner().powi_scalar(2).sum().sqrt()
}

fn zero(device: &Device) -> Tensor<1> {
    Tensor::zeros([1], &device.clone().without_autodiff())
}

fn scale_to_unit(mut v: Vec<f32>) -> Vec<f32> {
    let max = v.iter().copied().fold(0.0f32, f32::max);
    if max > 0.0 {
        v.iter_mut().for_each(|x| *x /= max);
    }
    v
}

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
    let config = parse_arch(arch)?;
    let tensors = he_initialized(&config, seed)?;
    Ok(LoadedWeights {
        info: ModelInfo {
            labels: LabelSet::for_classes(config.num_classes),
            input: InputConvention::Torchvision,
            format: WeightFormat::Bundle,
            stored_dtype: "float32".into(),
            source: format!("He initialisation, seed {seed}"),
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ResNetConfig;

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
