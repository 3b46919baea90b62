//! The panel's explanation: what the curves are, what vanishing, exploding and shattered
//! gradients are, with the numbers on screen, and what the papers say (each claim cites its
//! paper; a section only where we checked it).

use std::rc::Rc;

use yew::prelude::*;

use crate::chart_geometry::{format_norm, per_block_factor};
use resnet_lab_protocol::{BatchNormMode, BlockGradient, GradientNetwork, GradientReport};

#[derive(Properties, PartialEq)]
pub struct ExplanationProps {
    pub report: Rc<GradientReport>,
}

/// "×1.42 per block", or "—" when a norm is zero.
fn factor_text(factor: Option<f64>) -> String {
    factor.map_or_else(|| "—".into(), |f| format!("×{f:.2} per block"))
}

/// What a per-block factor means for a signal: geometric growth or decay, or neither.
fn verdict(factor: Option<f64>, growing: &'static str, shrinking: &'static str) -> &'static str {
    match factor {
        Some(f) if f > 1.1 => growing,
        Some(f) if f < 1.0 / 1.1 => shrinking,
        Some(_) => "keeps roughly its size",
        None => "reaches zero (every unit cut off)",
    }
}

#[function_component(Explanation)]
pub fn explanation(props: &ExplanationProps) -> Html {
    let a = &props.report.analysis;
    let blocks = &a.blocks;
    let pick = |f: fn(&BlockGradient) -> f64| blocks.iter().map(f).collect::<Vec<_>>();
    // Forward: from the first block to the last. Backward: from the last block to the first,
    // the direction the gradient travels.
    let act = per_block_factor(&pick(|b| b.act_norm));
    let plain_act = per_block_factor(&pick(|b| b.plain_act_norm));
    let reversed = |v: Vec<f64>| v.into_iter().rev().collect::<Vec<_>>();
    let grad = per_block_factor(&reversed(pick(|b| b.grad_norm)));
    let plain_grad = per_block_factor(&reversed(pick(|b| b.plain_grad_norm)));
    let (first, last) = (blocks.first(), blocks.last());
    let he_init = match &props.report.network {
        GradientNetwork::HeInit { options, .. } => Some(*options),
        GradientNetwork::Loaded => None,
    };

    let numbers = html! {
        <p data-testid="grad-factors">
            <strong>{ "On screen: " }</strong>
            { format!("going back from the last block to the first, the gradient changes {} with skips ({}) and {} without ({}); going forward, the activation changes {} with skips ({}) and {} without ({}).",
                factor_text(grad), verdict(grad, "it grows: exploding", "it shrinks: vanishing"),
                factor_text(plain_grad), verdict(plain_grad, "it grows: exploding", "it shrinks: vanishing"),
                factor_text(act), verdict(act, "it grows", "it shrinks"),
                factor_text(plain_act), verdict(plain_act, "it grows", "it shrinks")) }
            { match (first, last) {
                (Some(f), Some(l)) => format!(" ‖x‖ at {}: {} → at {}: {} with skips.", f.block, format_norm(f.act_norm), l.block, format_norm(l.act_norm)),
                _ => String::new(),
            } }
        </p>
    };

    let init_text = he_init.map(|options| {
        let mode = match (options.batch_norm, options.zero_init_residual) {
            (_, true) => html! {
                <p>{ "Zero-initialised residual γ (torchvision's " }<code>{ "zero_init_residual" }</code>
                   { "; Goyal et al. 2017, §5.1: γ = 0 in each residual block's last BatchNorm, so that the forward and backward signal initially propagates through the identity shortcuts, which they found eases optimisation at the start of training): the last BatchNorm of every branch multiplies by 0, so each identity block computes ReLU(0 + x) = x (x ≥ 0, being a ReLU's output). The residual network's activation and gradient stay the same from block to block within a stage (only the projection blocks change them); the same weights without skips output 0 after the first block, so the dashed curves fall to the floor — that network has nothing but its branches." }</p>
            },
            (BatchNormMode::Eval, false) => html! {
                <p>{ "BatchNorm in eval mode with fresh statistics (mean 0, variance 1, γ = 1, β = 0) is the identity. He initialisation is chosen so that a plain ReLU network's signal neither grows nor shrinks exponentially with depth (He et al. 2015, “Delving deep into rectifiers”, §2.2), so the dashed curves stay roughly level; but each residual block adds to its input a branch of comparable size, so the residual stream's variance roughly doubles per block — norms grow about ×1.4 per block (here " }
                   { factor_text(act) }{ "). A large residual/plain ratio at the first block in this mode is the residual network growing (exploding), not the plain one vanishing." }</p>
            },
            (BatchNormMode::Train, false) => html! {
                <p>{ "BatchNorm in training mode normalises every channel by the statistics of the batch, over its images and all positions (Ioffe & Szegedy 2015, §3.2; here the input and 7 noise images), as during training. Each branch then adds about unit variance to a stream that already carries the previous blocks' sum, so the residual network grows only slowly with depth and the plain one keeps its size: neither explodes nor vanishes (De & Smith 2020, abstract: at initialisation BatchNorm downscales each residual branch relative to the skip connection by a factor of the order of the square root of the depth)." }</p>
            },
        };
        html! {
            <>
                { mode }
                <p class="muted small">{ "Switch BatchNorm between eval and train, and zero-init γ on or off, to see each case; the numbers are PyTorch's (tested against its autograd on the same weights)." }</p>
            </>
        }
    });

    html! {
        <div class="explanation" data-testid="grad-explanation">
            <h3>{ "What you are looking at" }</h3>
            <p>{ "A residual block computes H(x) = F(x) + x, then a ReLU (He et al. 2016, §3.2, Eq. 1): the branch F (two or three convolutions) plus the block's own input, carried by the shortcut (the identity, or a 1×1 convolution where the shape changes, Eq. 2). Back-propagation through the sum gives " }
               <code>{ "∂L/∂x = ∂L/∂H · (1 + ∂F/∂x)" }</code>
               { ": the 1 is the identity shortcut, which hands the gradient back unchanged whatever F does (the argument of He et al.'s “Identity mappings in deep residual networks”, ECCV 2016, §2, Eq. 5; where the shortcut is a projection, its Jacobian takes the place of the 1)." }</p>
            <p><strong>{ "Solid curve: " }</strong>{ "‖∂z/∂x‖, the size of the gradient of the chosen class's score z (the logit, before softmax) at each block's input. " }
               <strong>{ "Dashed curve: " }</strong>{ "the same weights with every shortcut removed, H(x) = F(x): the gradient must pass through every branch in turn, each multiplying it by its Jacobian. " }
               <strong>{ "Lower chart: " }</strong>{ "‖x‖, the activation entering each block, for both — the forward signal beside the backward one." }</p>
            <p><strong>{ "Vanishing, exploding, shattered. " }</strong>{ "A gradient vanishes when its norm shrinks geometrically on the way back, and explodes when it grows geometrically; the norm alone tells these apart. A gradient shatters when its norm is fine but its direction becomes like white noise: nearby inputs get nearly uncorrelated gradients. Balduzzi et al. (2017, abstract and Theorem 1) show that in plain rectifier networks the correlation between gradients at different inputs decays exponentially with depth while their variance does not shrink, so that deep plain networks' gradients resemble white noise, and that skip connections make gradients far more resistant to shattering; they present it as a problem left after careful initialisation and BatchNorm have largely overcome vanishing and exploding gradients. A norm chart cannot show it (see the shattered-gradients experiment, " }<code>{ "resnet-lab shatter" }</code>{ ")." }</p>
            { numbers }
            { for init_text }
            <p>{ "Why a deeper plain network trains worse than a shallower one is not, by the ResNet paper's own account, a vanishing gradient: He et al. (2016, §4.1) trained their plain networks with BatchNorm, which ensures that the forward signals have non-zero variance, verified that the backward gradients have healthy norms, and still saw the 34-layer plain net keep a higher training error than the 18-layer one throughout training on ImageNet. They argue that this optimisation difficulty is unlikely to be caused by vanishing gradients; §4.2 shows the same degradation with plain networks of 20 to 56 layers on CIFAR-10, which the residual ones overcome, gaining accuracy with depth." }</p>
            <p>{ "Veit et al. (2016, abstract) add that a residual network can be seen as a collection of many paths of different lengths, which behave like an ensemble, and that most of the gradient of a 110-layer one comes from paths only 10 to 34 layers deep — the bars split each block's gradient into the shortcut's part and the branch's part." }</p>
            <p class="muted small">{ "With a trained model, the dashed network is the trained residual network with its skips cut, not a plain network trained as such (He et al.'s were): it shows which path the gradient takes in this network." }</p>
        </div>
    }
}
