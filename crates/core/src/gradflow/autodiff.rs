//! The analysis on Burn's autodiff, on whichever backend the device names (WebGPU, and every
//! BatchNorm-in-training-mode analysis): zero-valued probe tensors on each block's shortcut and
//! branch inputs, one backward pass per network.

use burn::tensor::activation::relu;
use burn::tensor::{Device, Tensor, TensorData};

use super::target::{Readout, Target};
use super::{GradFlowAnalyzer, block_gradient, pick_class, scale_to_unit};
use crate::error::{Error, Result};
use crate::model::layers::BatchStats;
use crate::predict::read_f32;
use resnet_lab_protocol::report::{BatchNormMode, GradFlowReport, Saliency};

impl GradFlowAnalyzer {
    /// The analysis of the first of `batch` images with Burn's autodiff.
    pub(super) async fn analyze_autodiff(
        &self,
        images: &[f32],
        batch: usize,
        [height, width]: [usize; 2],
        (target, readout): (Target<'_>, Readout<'_>),
        (batch_norm, stats): (BatchNormMode, BatchStats),
    ) -> Result<GradFlowReport> {
        let model = self.autodiff_model()?;
        let (config, ad) = (&self.config, &self.device);
        let image = || {
            Tensor::<4>::from_data(
                TensorData::new(images.to_vec(), [batch, 3, height, width]),
                ad,
            )
        };

        // Residual network: forward with probes.
        let x0 = image().require_grad();
        let mut h = model.forward_stem_stats(x0.clone(), stats);
        let mut probes = Vec::with_capacity(model.blocks.len());
        let mut activations = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            activations.push(l2(first(h.clone())));
            let to_shortcut = h.zeros_like().require_grad();
            let to_branch = h.zeros_like().require_grad();
            let u = block.shortcut_stats(h.clone() + to_shortcut.clone(), stats)
                + block.residual_stats(h + to_branch.clone(), stats);
            h = relu(u);
            probes.push((to_shortcut, to_branch));
        }
        let features_probe = h.zeros_like().require_grad();
        let features = h + features_probe.clone();
        let logits = first(readout.logits(model, features.clone()));
        let logit_values = read_f32(logits.clone().inner()).await?;
        let class = pick_class(&target, &logit_values)?;
        let z = logits.narrow(1, class, 1).sum();
        let grads = z.backward();

        // Norms are computed on the device and read back together (one sync, not one per block).
        let missing = || Error::Backend("autodiff returned no gradient for a probe".into());
        let mut norms = Vec::new();
        for (to_shortcut, to_branch) in &probes {
            let gs = first(to_shortcut.grad(&grads).ok_or_else(missing)?);
            let gf = first(to_branch.grad(&grads).ok_or_else(missing)?);
            norms.push(l2(gs.clone() + gf.clone()));
            norms.push(l2(gs));
            norms.push(l2(gf));
        }
        let input_grad = first(x0.grad(&grads).ok_or_else(missing)?);
        norms.push(l2(input_grad.clone()));
        norms.extend(activations);
        let residual_norms = read_f32(Tensor::cat(norms, 0)).await?;

        // Saliency: Grad-CAM weights each last-stage channel by its mean gradient.
        let feature_grad = first(features_probe.grad(&grads).ok_or_else(missing)?);
        let [_, _, fh, fw] = feature_grad.dims();
        let alpha = feature_grad.mean_dim(3).mean_dim(2);
        let cam = relu((first(features.inner()) * alpha).sum_dim(1)).reshape([fh * fw]);
        let grad_cam = scale_to_unit(read_f32(cam).await?);
        let input_map = input_grad.abs().max_dim(1).reshape([height * width]);
        let input_gradient = scale_to_unit(read_f32(input_map).await?);

        // Plain network: the same weights, every shortcut removed.
        let x0 = image().require_grad();
        let mut h = model.forward_stem_stats(x0.clone(), stats);
        let mut plain_probes = Vec::with_capacity(model.blocks.len());
        let mut activations = Vec::with_capacity(model.blocks.len());
        for block in &model.blocks {
            activations.push(l2(first(h.clone())));
            let probe = h.zeros_like().require_grad();
            h = relu(block.residual_stats(h + probe.clone(), stats));
            plain_probes.push(probe);
        }
        let z = first(readout.logits(model, h)).narrow(1, class, 1).sum();
        let grads = z.backward();
        let mut norms = Vec::new();
        for probe in &plain_probes {
            // A block whose whole input was cut off by ReLUs has no gradient: its norm is zero.
            norms.push(
                probe
                    .grad(&grads)
                    .map_or_else(|| zero(ad), |g| l2(first(g))),
            );
        }
        norms.push(x0.grad(&grads).map_or_else(|| zero(ad), |g| l2(first(g))));
        norms.extend(activations);
        let plain_norms = read_f32(Tensor::cat(norms, 0)).await?;

        let infos = config.blocks();
        let n = infos.len();
        let blocks = infos
            .iter()
            .enumerate()
            .map(|(i, info)| {
                let acts = [residual_norms[3 * n + 1 + i], plain_norms[n + 1 + i]];
                block_gradient(
                    info,
                    &residual_norms[3 * i..3 * i + 3],
                    plain_norms[i],
                    acts,
                )
            })
            .collect();
        Ok(GradFlowReport {
            model: self.name.clone(),
            class,
            label: readout.label(class),
            logit: logit_values[class] as f64,
            input_grad_norm: residual_norms[3 * n] as f64,
            plain_input_grad_norm: plain_norms[n] as f64,
            blocks,
            saliency: Saliency {
                grad_cam,
                grad_cam_size: [fh, fw],
                input_gradient,
                input_size: [height, width],
            },
            batch_norm,
            batch,
            taught: target.is_head(),
        })
    }
}

/// The first image of a batch, `[1, ...]`.
fn first<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    t.narrow(0, 0, 1)
}

/// ‖t‖₂ as a one-element tensor.
fn l2<const D: usize>(t: Tensor<D>) -> Tensor<1> {
    t.inner().powi_scalar(2).sum().sqrt()
}

fn zero(device: &Device) -> Tensor<1> {
    Tensor::zeros([1], &device.clone().without_autodiff())
}
