//! The command line's integration tests, in one test binary (one link of Burn and wgpu).

mod common;

mod cli;
mod fuzz;
mod hostile;
mod lesion;
mod train;
mod transfer;
mod transfer_layer4;
#[cfg(feature = "wgpu")]
mod wgpu;
