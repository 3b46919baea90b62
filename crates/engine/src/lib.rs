//! ResNet Lab's inference engine, run by the page as a dedicated Web Worker.
//!
//! Everything heavy happens here, off the page's thread: downloading and caching weights,
//! building the network on the chosen Burn device (WebGPU, or flex on the CPU), decoding
//! and preprocessing photos, inference and the gradient analysis. The page talks to it
//! with the messages of `resnet-lab-protocol`.
//!
//! The worker itself ([`worker`]) only exists in WebAssembly. The rules it follows are plain
//! Rust that builds and is tested natively: the request queue ([`queue`]), download and image
//! size caps ([`limits`]; headers: `resnet_lab_protocol::image_header`), where a model.json's shards may be fetched from
//! ([`urls`]), the error type ([`error`]) and the conversions to messages ([`convert`]).

pub mod convert;
pub mod error;
pub mod limits;
pub mod queue;
pub mod urls;
#[cfg(target_arch = "wasm32")]
pub mod worker;

pub use error::{EngineError, Result};
