//! The page: see `resnet_lab_web::ui`.

fn main() {
    resnet_lab_web::ui::start();
}
