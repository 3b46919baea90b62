//! The residual lab: experiments that explain skip connections (issue 11).
//!
//! Each experiment reproduces a published one on the loaded network (or a He-initialised
//! one) and returns plain numbers that the CLI prints and the web page charts: [`lesion`]
//! deletes blocks (Veit et al. 2016); [`shatter`] measures shattered gradients at
//! initialisation (Balduzzi et al. 2017); [`train`] trains CIFAR-style networks with
//! BatchNorm in training mode (He et al. 2016, the degradation problem) using [`cifar`]'s
//! trainable network and [`data`]'s batches, on CIFAR-10 files checked by [`cifar_files`].

pub mod cifar;
pub mod cifar_files;
pub mod data;
pub mod lesion;
pub mod shatter;
pub mod train;
