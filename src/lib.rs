//! ResNet Lab in the browser.
//!
//! Two WebAssembly programs are built from this crate by Trunk:
//!
//! - the page (`src/main.rs` → [`ui`]): Yew components, photo intake, results; it never
//!   runs the network itself;
//! - the engine (`src/bin/engine.rs` → [`engine`]): a dedicated Web Worker that downloads
//!   and caches weights, picks the backend (Burn on WebGPU, or Burn flex on the CPU), and
//!   classifies photos.
//!
//! They talk through the messages of [`protocol`].

pub mod engine;
pub mod protocol;
pub mod ui;
