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
    /// ‖x_b‖₂: the forward activation at the block's input (the analysed image's), residual
    /// network and plain network. Beside the gradients it tells growth from vanishing.
    #[serde(default)]
    pub act_norm: f64,
    #[serde(default)]
    pub plain_act_norm: f64,
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
    /// How BatchNorm computed, and over how many images (1 in eval mode; in training mode the
    /// analysed image is the first of the batch, every number is that image's).
    #[serde(default)]
    pub batch_norm: BatchNormMode,
    #[serde(default = "one")]
    pub batch: usize,
    /// Whether `class` is a class of a head trained on the pooled features (Teach mode,
    /// `finetune`) rather than of the network's own classifier.
    #[serde(default)]
    pub taught: bool,
}

fn one() -> usize {
    1
}

/// How BatchNorm computes during an analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BatchNormMode {
    /// Inference mode: the stored running statistics (PyTorch `model.eval()`). In a freshly
    /// initialised network (statistics 0 and 1, γ = 1, β = 0) this is the identity.
    #[default]
    Eval,
    /// Training mode: each channel normalised by the batch's own mean and (biased) variance,
    /// as PyTorch `model.train()` computes it (Ioffe & Szegedy 2015).
    Train,
}

impl BatchNormMode {
    pub fn name(self) -> &'static str {
        match self {
            Self::Eval => "eval",
            Self::Train => "train",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "eval" => Some(Self::Eval),
            "train" => Some(Self::Train),
            _ => None,
        }
    }
}

/// The choices of the He-initialised networks beside architecture and seed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub struct HeInitOptions {
    #[serde(default)]
    pub batch_norm: BatchNormMode,
    /// torchvision's `zero_init_residual`: the last BatchNorm γ of every residual branch is 0,
    /// so each branch starts at 0 and an identity-shortcut block is the identity (Goyal et al.
    /// 2017, "Accurate, large minibatch SGD", §5.1).
    #[serde(default)]
    pub zero_init_residual: bool,
}
