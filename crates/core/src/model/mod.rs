//! The ResNet family as Burn modules.
//!
//! [`config`] says what an architecture is (block type, stages, layout); [`tensors`] which
//! tensors its checkpoint holds, by name, shape and role; [`layers`] has the conv+BN and residual block; [`resnet`] puts them
//! together.

pub mod config;
pub mod init;
pub mod layers;
pub mod resnet;
pub mod tensors;

pub use config::{BlockInfo, BlockKind, Layout, ResNetConfig, Stem};
pub use layers::{BatchStats, BlockMode, ConvBn, ResidualBlock};
pub use resnet::ResNet;
