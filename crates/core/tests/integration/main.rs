//! The core library's integration tests, in one test binary: one link of Burn instead of one
//! per file, which matters on a 2-core CI machine.

mod common;

mod crops;
mod errors;
mod gradflow;
mod gradflow_modes;
mod int8;
mod keras;
mod lab_degradation;
mod lab_shatter;
mod lab_train;
mod params;
mod parity;
mod preprocess;
mod transfer;
mod transfer_layer4;
