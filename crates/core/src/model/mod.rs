//! The ResNet family as Burn modules.
//!
//! [`config`] says what an architecture is (block type, stages, layout); [`tensors`] which
//! tensors its checkpoint holds, by name, shape and role; [`layers`] has the conv+BN and residual block; [`resnet`] puts them
//! together; [`cpu_forward`] is the same forward pass, channel-last, for the CPU (its weights
//! arranged by `cpu_weights`, its matrix products in `cpu_products`), and `cpu_backward` its
//! input gradients (the gradient panel on the CPU); `winograd` its 3×3 stride-1 convolutions
//! with fewer multiplies.

pub mod config;
pub(crate) mod cpu_backward;
pub mod cpu_forward;
mod cpu_products;
#[cfg(test)]
mod cpu_test_data;
mod cpu_weights;
pub mod init;
pub mod layers;
pub mod resnet;
pub mod tensors;
mod winograd;

pub use config::{BlockInfo, BlockKind, Layout, ResNetConfig, Stem};
pub use cpu_backward::ForwardTrace;
pub use cpu_forward::CpuForward;
pub use layers::{BatchStats, BlockMode, ConvBn, ResidualBlock};
pub use resnet::ResNet;
