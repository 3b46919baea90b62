//! Browser-only code paths, run in headless Chromium by `wasm-bindgen-test`
//! (`scripts/test.sh`): the address bar, and the gradient panel's DOM contract.

use std::rc::Rc;

use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::state::GradientState;
use crate::ui::address_bar::{current_url_state, update_url};
use crate::ui::gradients::{self, GradientPanel};
use crate::url_state::UrlState;
use resnet_lab_protocol::{
    BackendKind, BlockGradient, ClassRef, GradFlowReport, GradientNetwork, GradientReport, Saliency,
};
use wasm_bindgen_test::*;

wasm_bindgen_test_configure!(run_in_browser);

#[wasm_bindgen_test]
fn the_address_bar_keeps_the_lesson() {
    let window = web_sys::window().unwrap();
    let location = window.location();
    let (path, hash) = (location.pathname().unwrap(), location.hash().unwrap());
    update_url(|url| {
        url.network = GradientNetwork::HeInit {
            arch: "cifar110".into(),
            seed: 9,
            options: Default::default(),
        };
        url.class = Some(ClassRef::Model(4));
    });
    let state = current_url_state();
    assert_eq!(
        state.network,
        GradientNetwork::HeInit {
            arch: "cifar110".into(),
            seed: 9,
            options: Default::default(),
        }
    );
    assert_eq!(state.class, Some(ClassRef::Model(4)));
    assert_eq!(
        location.search().unwrap(),
        "?grad=init&arch=cifar110&seed=9&class=4"
    );
    // The page did not navigate: same path, same fragment.
    assert_eq!(location.pathname().unwrap(), path);
    assert_eq!(location.hash().unwrap(), hash);
    update_url(|url| *url = UrlState::default());
    assert_eq!(window.location().search().unwrap(), "");
}

fn block(name: &str, stage: usize, grad: f64, plain: f64) -> BlockGradient {
    BlockGradient {
        block: name.into(),
        grad_norm: grad,
        shortcut_norm: grad * 0.75,
        residual_norm: grad * 0.5,
        plain_grad_norm: plain,
        act_norm: 1.0,
        plain_act_norm: 1.0,
        stage,
        stride: if name.ends_with(".0") && stage > 1 {
            2
        } else {
            1
        },
        in_channels: 64,
        out_channels: 64,
        projection: name.ends_with(".0") && stage > 1,
    }
}

#[wasm_bindgen_test]
async fn the_panel_renders_one_element_per_block_with_its_numbers() {
    let analysis = GradFlowReport {
        model: "resnet18".into(),
        class: 7,
        label: "cock".into(),
        logit: 3.5,
        input_grad_norm: 0.1,
        plain_input_grad_norm: 1e-12,
        blocks: vec![
            block("layer1.0", 1, 2.5, 1.25e-9),
            block("layer1.1", 1, 2.0, 3e-8),
            block("layer2.0", 2, 1.5, 4e-6),
        ],
        saliency: Saliency {
            grad_cam: vec![0.0, 0.5, 1.0, 0.25],
            grad_cam_size: [2, 2],
            input_gradient: vec![1.0; 16],
            input_size: [4, 4],
        },
        batch_norm: Default::default(),
        batch: 1,
        taught: false,
    };
    let report = GradientReport {
        analysis,
        network: GradientNetwork::Loaded,
        block_kind: "basic".into(),
        analysis_ms: 12.0,
        backend: BackendKind::Cpu,
    };
    let gradients = GradientState {
        report: Some(Rc::new(report)),
        ..GradientState::default()
    };
    let document = gloo::utils::document();
    let root = document.create_element("div").unwrap();
    document.body().unwrap().append_child(&root).unwrap();
    let props = gradients::GradientPanelProps {
        gradients,
        photo: None,
        on_network: Callback::noop(),
        on_class: Callback::noop(),
    };
    let app = yew::Renderer::<GradientPanel>::with_root_and_props(root.clone(), props).render();
    // Let Yew render and run its effects (the canvases are drawn in an effect).
    gloo::timers::future::TimeoutFuture::new(50).await;

    let panel = root
        .query_selector("[data-testid=gradient-panel]")
        .unwrap()
        .expect("the panel");
    assert_eq!(panel.get_attribute("data-state").as_deref(), Some("done"));
    assert_eq!(panel.get_attribute("data-class").as_deref(), Some("7"));
    let blocks = root.query_selector_all("[data-testid=grad-block]").unwrap();
    assert_eq!(blocks.length(), 3);
    let first: web_sys::Element = blocks.get(0).unwrap().unchecked_into();
    assert_eq!(
        first.get_attribute("data-block").as_deref(),
        Some("layer1.0")
    );
    let number = |name: &str| -> f64 { first.get_attribute(name).unwrap().parse().unwrap() };
    assert_eq!(number("data-grad-norm"), 2.5);
    assert_eq!(number("data-shortcut-norm"), 1.875);
    assert_eq!(number("data-residual-norm"), 1.25);
    assert_eq!(number("data-plain-grad-norm"), 1.25e-9);
    // Two curves with a dot per block, and the downsampling marker on layer2.0.
    assert_eq!(root.query_selector_all("circle").unwrap().length(), 6);
    assert_eq!(root.query_selector_all(".downsample").unwrap().length(), 1);
    // The headline states the contrast at the first block: 2.5 / 1.25e-9 = 10^9.3.
    let contrast = root
        .query_selector("[data-testid=grad-contrast]")
        .unwrap()
        .unwrap()
        .text_content()
        .unwrap();
    assert!(contrast.contains("10^9.3 times larger"), "{contrast}");
    // Grad-CAM: the 2×2 map drawn through the colour scale, brightest where the map is 1.
    let canvas: web_sys::HtmlCanvasElement = root
        .query_selector("[data-testid=grad-cam]")
        .unwrap()
        .unwrap()
        .unchecked_into();
    assert_eq!((canvas.width(), canvas.height()), (2, 2));
    let context: web_sys::CanvasRenderingContext2d =
        canvas.get_context("2d").unwrap().unwrap().unchecked_into();
    let pixels = context.get_image_data(0.0, 0.0, 2.0, 2.0).unwrap().data().0;
    assert_eq!(&pixels[8..12], &[252, 255, 164, 255]);
    assert_eq!(pixels[3], 0, "zero saliency is transparent");
    app.destroy();
    root.remove();
}
