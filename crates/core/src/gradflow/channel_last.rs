//! The analysis in inference mode on the CPU: the channel-last forward pass and its input
//! gradients (`model::cpu_backward`) instead of Burn's autodiff. The numbers are the same
//! (tested against PyTorch autograd like the autodiff path); the work is one forward and one
//! backward pass of the input gradients for each network, the plain one reusing the
//! residual one's stem, where Burn flex's autodiff costs about twice as much.

use std::sync::Arc;

use resnet_lab_protocol::report::{BatchNormMode, GradFlowReport, Saliency};

use super::target::{Readout, Target};
use super::{GradFlowAnalyzer, block_gradient, pick_class, scale_to_unit};
use crate::error::Result;
use crate::model::CpuForward;
use crate::model::cpu_backward::{CpuBackward, ForwardTrace, norm};

/// The analysis of one `[3, height, width]` image (channel-major), reusing `traced` (its
/// forward pass on this network, checked by the caller) when given.
pub(super) fn analyze(
    analyzer: &GradFlowAnalyzer,
    (cpu, adjoint): (&Arc<CpuForward>, &CpuBackward),
    image: &[f32],
    [height, width]: [usize; 2],
    (target, readout): (&Target, &Readout),
    traced: Option<&ForwardTrace>,
) -> Result<GradFlowReport> {
    let computed;
    let (stem, residual) = match traced {
        Some(trace) => trace.parts(),
        None => {
            let stem = cpu.trace_stem(image, [height, width]);
            let residual = cpu.trace_blocks(&stem, true);
            computed = (stem, residual);
            (&computed.0, &computed.1)
        }
    };
    let logits = readout.host_logits(cpu, &residual.pooled(stem))?;
    let class = pick_class(target, &logits)?;
    let d_pooled = readout.host_gradient(cpu, class);
    let residual_grads = cpu.backward(adjoint, stem, residual, &d_pooled)?;

    // Grad-CAM: each last-stage channel weighted by its mean gradient, which for a linear
    // readout of the average pool is the readout's weight over the pixel count.
    let (features, [fh, fw]) = residual.features(stem);
    let alpha: Vec<f32> = d_pooled.iter().map(|w| w / (fh * fw) as f32).collect();
    let cam = features
        .chunks_exact(alpha.len().max(1))
        .map(|pixel| {
            pixel
                .iter()
                .zip(&alpha)
                .map(|(h, a)| h * a)
                .sum::<f32>()
                .max(0.0)
        })
        .collect();
    let input_map = residual_grads
        .image
        .chunks_exact(3)
        .map(|rgb| rgb.iter().fold(0.0f32, |m, v| m.max(v.abs())))
        .collect();

    // The plain network: the same stem, every shortcut removed.
    let plain = cpu.trace_blocks(stem, false);
    let plain_grads = cpu.backward(adjoint, stem, &plain, &d_pooled)?;

    let (acts, plain_acts) = (residual.input_norms(), plain.input_norms());
    let blocks = analyzer
        .config
        .blocks()
        .iter()
        .enumerate()
        .map(|(i, info)| {
            let parts = residual_grads.blocks[i];
            block_gradient(
                info,
                &[parts.total, parts.shortcut, parts.branch],
                plain_grads.blocks[i].total,
                [acts[i], plain_acts[i]],
            )
        })
        .collect();
    Ok(GradFlowReport {
        model: analyzer.name.clone(),
        class,
        label: readout.label(class),
        logit: f64::from(logits[class]),
        input_grad_norm: f64::from(norm(&residual_grads.image)),
        plain_input_grad_norm: f64::from(norm(&plain_grads.image)),
        blocks,
        saliency: Saliency {
            grad_cam: scale_to_unit(cam),
            grad_cam_size: [fh, fw],
            input_gradient: scale_to_unit(input_map),
            input_size: [height, width],
        },
        batch_norm: BatchNormMode::Eval,
        batch: 1,
        taught: target.is_head(),
    })
}
