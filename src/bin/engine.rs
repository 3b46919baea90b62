//! The inference engine, run by the page as a dedicated Web Worker: see
//! `resnet_lab_web::engine`.

fn main() {
    resnet_lab_web::engine::start();
}
