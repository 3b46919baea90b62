//! The page: see `resnet_lab_web::ui`.

#[cfg(target_arch = "wasm32")]
fn main() {
    resnet_lab_web::ui::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("the page runs in a browser: `trunk serve` (see README.md)");
}
