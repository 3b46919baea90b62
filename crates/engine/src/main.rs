//! The engine worker's entry point (built by Trunk, see `index.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    resnet_lab_engine::worker::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!(
        "the engine is a Web Worker: build the web app with `trunk build` (the native CLI is `resnet-lab`)"
    );
}
