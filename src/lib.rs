//! ResNet Lab in the browser: the page.
//!
//! Trunk builds two WebAssembly programs (see `index.html`):
//!
//! - the page, this crate ([`ui`]): Yew components, photo intake, results and the
//!   residual-gradient panel; it never runs the network itself and does not link Burn;
//! - the engine (`crates/engine`): a dedicated Web Worker that downloads and caches
//!   weights, picks the backend (Burn on WebGPU, or Burn flex on the CPU), classifies
//!   photos and computes the gradient analysis.
//!
//! They talk through the messages of `resnet-lab-protocol`. The parts of the page that
//! are plain logic (the page state and its reducer, URL state, chart geometry) build and
//! test natively.

pub mod chart_geometry;
pub mod lab_params;
pub mod state;
pub mod url_state;

#[cfg(target_arch = "wasm32")]
pub mod ui;
