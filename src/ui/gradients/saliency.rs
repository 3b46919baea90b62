//! Saliency on the photo: Grad-CAM from the last stage overlaid on the network's 224×224
//! crop (with an opacity slider), and the input-gradient map beside it.

use wasm_bindgen::{Clamped, JsCast};
use web_sys::{HtmlCanvasElement, HtmlInputElement, ImageData};
use yew::prelude::*;

use crate::chart_geometry::heat_rgba;
use resnet_lab_protocol::Saliency;

#[derive(Properties, PartialEq)]
pub struct SaliencyViewProps {
    pub saliency: Saliency,
    /// `blob:` URL of the photo (`None` when it was noise, or the photo has been removed).
    pub photo_url: Option<String>,
    /// The input was seeded noise (an initialised network before any photo).
    pub noise: bool,
    pub label: String,
}

/// Draws a `[height, width]` map into a canvas of that size; CSS scales it up smoothly.
fn draw(canvas: &NodeRef, map: &[f32], [height, width]: [usize; 2], overlay: bool) {
    let Some(canvas) = canvas.cast::<HtmlCanvasElement>() else {
        return;
    };
    if map.len() != height * width || map.is_empty() {
        return;
    }
    canvas.set_width(width as u32);
    canvas.set_height(height as u32);
    let Some(context) = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let pixels = heat_rgba(map, overlay);
    if let Ok(image) =
        ImageData::new_with_u8_clamped_array_and_sh(Clamped(&pixels), width as u32, height as u32)
    {
        let _ = context.put_image_data(&image, 0.0, 0.0);
    }
}

#[function_component(SaliencyView)]
pub fn saliency_view(props: &SaliencyViewProps) -> Html {
    let cam = use_node_ref();
    let input_gradient = use_node_ref();
    let opacity = use_state(|| 0.6f64);
    {
        let (cam, input_gradient) = (cam.clone(), input_gradient.clone());
        use_effect_with(props.saliency.clone(), move |s| {
            draw(&cam, &s.grad_cam, s.grad_cam_size, true);
            draw(&input_gradient, &s.input_gradient, s.input_size, false);
        });
    }
    let on_opacity = {
        let opacity = opacity.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e.target_dyn_into::<HtmlInputElement>() {
                opacity.set(input.value_as_number().clamp(0.0, 1.0));
            }
        })
    };
    let crop = match &props.photo_url {
        // The network sees the centre 224/256 of the short side: `object-fit: cover` shows
        // the short side whole, and the scale crops it to the same square.
        Some(url) => {
            html! { <img class="crop-photo" src={url.clone()} alt="the photo as the network sees it" /> }
        }
        None if props.noise => html! { <div class="crop-noise">{ "noise input" }</div> },
        None => html! { <div class="crop-noise">{ "(photo removed)" }</div> },
    };
    let [h, w] = props.saliency.grad_cam_size;
    html! {
        <div class="saliency" data-testid="saliency">
            <figure>
                <div class="crop">
                    { crop }
                    <canvas ref={cam} class="overlay" style={format!("opacity: {:.2}", *opacity)} data-testid="grad-cam"></canvas>
                </div>
                <figcaption>
                    { format!("Grad-CAM for “{}” ({h}×{w} map from the last stage)", props.label) }
                    <label class="opacity">
                        { "overlay" }
                        <input type="range" min="0" max="1" step="0.05" value={opacity.to_string()}
                               oninput={on_opacity} aria-label="Grad-CAM overlay opacity" />
                    </label>
                </figcaption>
            </figure>
            <figure>
                <div class="crop"><canvas ref={input_gradient} class="full" data-testid="input-gradient"></canvas></div>
                <figcaption>{ "|∂z/∂pixel|: which pixels would change the logit most" }</figcaption>
            </figure>
        </div>
    }
}
