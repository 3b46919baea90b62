//! The gradient-flow report as plain data: computed by the core library (`resnet-lab
//! gradflow`, the engine), shown by the page. Defined once, here, so that the page can read it
//! without linking Burn.

use serde::{Deserialize, Serialize};

/// The gradient numbers of one residual block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BlockGradient {
    /// torchvision's name: `layer1.0`, ...
    pub block: String,
    /// ‖∂z_c/∂x_b‖₂ over the block's whole input tensor.
    pub grad_norm: f64,
    /// ‖S_bᵀ g_u‖₂: the part that flows through the shortcut.
    pub shortcut_norm: f64,
    /// ‖J_F_bᵀ g_u‖₂: the part that flows through the residual branch.
    pub residual_norm: f64,
    /// ‖∂z_c/∂x_b‖₂ in the same network with every shortcut removed.
    pub plain_grad_norm: f64,
    /// 0-based stage (`layer1` is stage 0).
    pub stage: usize,
    pub stride: usize,
    pub in_channels: usize,
    pub out_channels: usize,
    /// Whether the shortcut is a 1×1 projection (the block changes shape).
    pub projection: bool,
}

/// Saliency maps for the analysed class, each `[height, width]` row-major and scaled to [0, 1].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Saliency {
    /// Grad-CAM over the last stage's output.
    pub grad_cam: Vec<f32>,
    pub grad_cam_size: [usize; 2],
    /// max over channels of |∂z_c/∂input|.
    pub input_gradient: Vec<f32>,
    pub input_size: [usize; 2],
}

/// Everything `resnet-lab gradflow` prints and the gradient panel shows for one input, network
/// and class.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GradFlowReport {
    pub model: String,
    pub class: usize,
    pub label: String,
    /// z_c, the logit (before softmax).
    pub logit: f64,
    /// ‖∂z_c/∂input‖₂ for the residual and the plain network.
    pub input_grad_norm: f64,
    pub plain_input_grad_norm: f64,
    pub blocks: Vec<BlockGradient>,
    pub saliency: Saliency,
}
