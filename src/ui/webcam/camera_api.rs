//! The browser's camera API, declared here rather than through web-sys: turning on web-sys's
//! features for it would change web-sys for the engine too, and rebuild wgpu and Burn with it.
//! What the page needs of it: open a stream, stop it, and turn a frame into a JPEG file.

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlCanvasElement;

#[wasm_bindgen]
extern "C" {
    type MediaDevices;
    #[wasm_bindgen(method, catch, js_name = getUserMedia)]
    fn get_user_media(
        this: &MediaDevices,
        constraints: &js_sys::Object,
    ) -> Result<js_sys::Promise, JsValue>;

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub type MediaStream;
    #[wasm_bindgen(method, js_name = getTracks)]
    fn get_tracks(this: &MediaStream) -> js_sys::Array;

    type MediaStreamTrack;
    #[wasm_bindgen(method)]
    fn stop(this: &MediaStreamTrack);

    #[wasm_bindgen(extends = web_sys::HtmlElement, extends = web_sys::Element, extends = web_sys::Node,
        extends = web_sys::EventTarget, js_name = HTMLVideoElement)]
    pub type HtmlVideoElement;
    #[wasm_bindgen(method, getter, js_name = videoWidth)]
    fn video_width(this: &HtmlVideoElement) -> u32;
    #[wasm_bindgen(method, getter, js_name = videoHeight)]
    fn video_height(this: &HtmlVideoElement) -> u32;
    #[wasm_bindgen(method, setter, js_name = srcObject)]
    pub fn set_src_object(this: &HtmlVideoElement, stream: Option<&MediaStream>);

    #[wasm_bindgen(js_name = DOMException)]
    type DomException;
    #[wasm_bindgen(method, getter)]
    fn name(this: &DomException) -> String;
    #[wasm_bindgen(method, getter)]
    fn message(this: &DomException) -> String;

    #[wasm_bindgen(js_name = CanvasRenderingContext2D)]
    type Context2d;
    #[wasm_bindgen(method, catch, js_name = drawImage)]
    fn draw_video(
        this: &Context2d,
        video: &HtmlVideoElement,
        x: f64,
        y: f64,
    ) -> Result<(), JsValue>;
}

pub fn stop_tracks(stream: Option<MediaStream>) {
    for track in stream.iter().flat_map(|s| s.get_tracks()) {
        track.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// Why there is no camera: refused by the person (or the browser's policy), or another reason,
/// with a message a person can act on.
pub struct NoCamera {
    pub denied: bool,
    pub message: String,
}

/// `getUserMedia({video: true})`, with a message a person can act on when it fails.
pub async fn request_camera() -> Result<MediaStream, NoCamera> {
    let no_camera = || NoCamera {
        denied: false,
        message: "This browser offers no camera here (it needs a camera, and HTTPS or localhost)."
            .to_string(),
    };
    // Absent outside a secure context (plain http other than localhost).
    let devices = Reflect::get(&gloo::utils::window().navigator(), &"mediaDevices".into())
        .ok()
        .and_then(|d| d.dyn_into::<MediaDevices>().ok())
        .ok_or_else(no_camera)?;
    let constraints = js_sys::Object::new();
    Reflect::set(&constraints, &"video".into(), &JsValue::TRUE).map_err(|_| no_camera())?;
    let promise = devices
        .get_user_media(&constraints)
        .map_err(|e| refusal_message(&e))?;
    let stream = JsFuture::from(promise)
        .await
        .map_err(|e| refusal_message(&e))?;
    stream.dyn_into::<MediaStream>().map_err(|_| no_camera())
}

fn refusal_message(error: &JsValue) -> NoCamera {
    let Some(e) = error.dyn_ref::<DomException>() else {
        return NoCamera {
            denied: false,
            message: "The camera could not be opened.".to_string(),
        };
    };
    let denied = matches!(e.name().as_str(), "NotAllowedError" | "SecurityError");
    let message = match e.name().as_str() {
        _ if denied => "Camera access was refused: allow the camera for this site in the \
            browser's settings, then open it again."
            .to_string(),
        "NotFoundError" | "OverconstrainedError" => "No camera was found.".to_string(),
        "NotReadableError" | "AbortError" => {
            "The camera could not be started: another program may be using it.".to_string()
        }
        name => format!("The camera could not be opened ({name}: {}).", e.message()),
    };
    NoCamera { denied, message }
}

/// Draws the preview's frame on a canvas and encodes it as JPEG.
pub async fn snapshot(
    video: Option<HtmlVideoElement>,
    name: &str,
) -> Result<web_sys::File, String> {
    let video = video.ok_or("The camera is not open.")?;
    let (width, height) = (video.video_width(), video.video_height());
    if width == 0 || height == 0 {
        return Err("The camera has no picture yet: try again in a moment.".to_string());
    }
    let failed = |what: &str| format!("The snapshot failed ({what}).");
    let canvas: HtmlCanvasElement = gloo::utils::document()
        .create_element("canvas")
        .map_err(|_| failed("no canvas"))?
        .unchecked_into();
    canvas.set_width(width);
    canvas.set_height(height);
    let context: Context2d = canvas
        .get_context("2d")
        .ok()
        .flatten()
        .ok_or_else(|| failed("no 2D context"))?
        .unchecked_into();
    context
        .draw_video(&video, 0.0, 0.0)
        .map_err(|_| failed("drawing the frame"))?;
    let blob = JsFuture::from(js_sys::Promise::new(&mut |resolve, _reject| {
        let done = Closure::once_into_js(move |blob: JsValue| {
            let _ = resolve.call1(&JsValue::NULL, &blob);
        });
        let _ = canvas.to_blob_with_type_and_encoder_options(
            done.unchecked_ref(),
            "image/jpeg",
            &JsValue::from_f64(0.92),
        );
    }))
    .await
    .ok()
    .and_then(|b| b.dyn_into::<web_sys::Blob>().ok())
    .ok_or_else(|| failed("encoding JPEG"))?;
    // `new File([blob], name, {type})`, typed like a picked JPEG.
    let options = js_sys::Object::new();
    let _ = Reflect::set(&options, &"type".into(), &"image/jpeg".into());
    let file_class: js_sys::Function = Reflect::get(&gloo::utils::window(), &"File".into())
        .map_err(|_| failed("no File"))?
        .unchecked_into();
    let parts = js_sys::Array::of1(&blob);
    Reflect::construct(
        &file_class,
        &js_sys::Array::of3(&parts, &name.into(), &options),
    )
    .map(JsCast::unchecked_into)
    .map_err(|_| failed("making the file"))
}
