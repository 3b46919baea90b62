//! ResNet Lab's inference engine, run by the page as a dedicated Web Worker.
//!
//! Everything heavy happens here, off the page's thread: downloading and caching weights,
//! building the network on the chosen Burn device (WebGPU, or flex on the CPU), decoding
//! and preprocessing photos, inference and the gradient analysis. The page talks to it
//! with the messages of `resnet-lab-protocol`.
//!
//! The worker itself ([`worker`]) only exists in WebAssembly; the conversions between the
//! core library's results and the protocol's messages build and test natively too.

pub mod convert;
#[cfg(target_arch = "wasm32")]
pub mod worker;
