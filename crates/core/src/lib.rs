//! # ResNet Lab core
//!
//! The ResNet family (18/34/50/101/152 and CIFAR-style stacks) in Burn, the weight formats
//! people hold (`.pth`, `.safetensors`, Keras via TF.js), torchvision-exact preprocessing,
//! and the gradient-flow analysis behind the residual-gradient panel.
//!
//! Nothing here touches the browser: the same code runs in the `resnet-lab` CLI, in the
//! tests, and compiled to WebAssembly inside the web app. The backend (CPU or GPU) is chosen
//! at run time through Burn's `Device`.
//!
//! ```text
//! weights/     bytes → TensorSet (torchvision names) + ModelInfo
//! model/       ResNetConfig → ResNet (Burn modules)
//! preprocess/  pixels → [3, 224, 224] tensor
//! predict      logits → top-k with labels
//! gradflow     per-block gradient norms, skip vs branch, plain network, saliency
//! lab/         the residual lab: lesion study, shattered gradients, training CIFAR networks
//! transfer/    new classes on a frozen backbone: features, a trained linear head, its file
//! ```

pub mod error;
pub mod gradflow;
pub mod lab;
pub mod labels;
pub mod model;
pub mod predict;
pub mod preprocess;
pub mod transfer;
pub mod weights;

pub use error::{Error, Result};
pub use labels::LabelSet;
pub use model::{ResNet, ResNetConfig};
pub use predict::{Classifier, Prediction};
pub use preprocess::{InputConvention, PixelBuffer};
pub use weights::{LoadedWeights, ModelInfo, load_tfjs, load_weights};
