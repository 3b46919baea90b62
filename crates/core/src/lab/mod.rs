//! The residual lab: experiments that explain skip connections.
//!
//! Each experiment reproduces a published one on the loaded network (or a He-initialised
//! one) and returns plain numbers that the CLI prints and the web page charts.

pub mod lesion;
