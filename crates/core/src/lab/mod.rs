//! The residual lab: the experiments that explain skip connections (issue 11).
//!
//! [`shatter`] measures shattered gradients at initialisation (Balduzzi et al. 2017);
//! [`train`] trains CIFAR-style networks with BatchNorm in training mode (He et al. 2016,
//! the degradation problem) using [`cifar`]'s trainable network and [`data`]'s batches.

pub mod cifar;
pub mod data;
pub mod shatter;
pub mod train;
