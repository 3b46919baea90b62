//! The webcam: a live preview whose snapshots become photo files, given to the page's
//! classifier (like a picked photo) or, in Teach mode, to a class. [`use_webcam`] owns the
//! camera and is provided as a context, so the class cards can take snapshots too.

use std::cell::RefCell;
use std::rc::Rc;

use js_sys::Reflect;
use wasm_bindgen::prelude::*;
use wasm_bindgen::{JsCast, JsValue, closure::Closure};
use wasm_bindgen_futures::JsFuture;
use web_sys::HtmlCanvasElement;
use yew::prelude::*;

// The camera's browser API, declared here: turning on web-sys's features for it would change
// web-sys for the engine too, and rebuild wgpu and Burn with it.
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
    type HtmlVideoElement;
    #[wasm_bindgen(method, getter, js_name = videoWidth)]
    fn video_width(this: &HtmlVideoElement) -> u32;
    #[wasm_bindgen(method, getter, js_name = videoHeight)]
    fn video_height(this: &HtmlVideoElement) -> u32;
    #[wasm_bindgen(method, setter, js_name = srcObject)]
    fn set_src_object(this: &HtmlVideoElement, stream: Option<&MediaStream>);

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

#[derive(Default)]
struct LiveCamera {
    /// The stream now open (stopped on Close and when the page goes).
    stream: Option<MediaStream>,
    /// Whether the camera is still wanted when its stream arrives (Close may come first).
    wanted: bool,
    snapshots_taken: u32,
}

/// Where the camera stands.
#[derive(Clone, PartialEq)]
pub enum Camera {
    Closed,
    Opening,
    Live(MediaStream),
    /// Refused or absent, with what to tell the person.
    Error(String),
}

/// The camera, its preview element and its last snapshot error: shared by the page's
/// webcam panel and the class cards.
#[derive(Clone)]
pub struct WebcamHandle {
    camera: UseStateHandle<Camera>,
    snapshot_error: UseStateHandle<Option<String>>,
    /// What callbacks must see now, not as it was when they were made.
    live: Rc<RefCell<LiveCamera>>,
    pub video: NodeRef,
}

impl PartialEq for WebcamHandle {
    fn eq(&self, other: &Self) -> bool {
        self.camera == other.camera
            && self.snapshot_error == other.snapshot_error
            && Rc::ptr_eq(&self.live, &other.live)
            && self.video == other.video
    }
}

impl WebcamHandle {
    pub fn is_live(&self) -> bool {
        matches!(*self.camera, Camera::Live(_))
    }

    /// Asks for the camera; the answer (a stream or why not) comes later.
    pub fn open(&self) {
        self.camera.set(Camera::Opening);
        self.snapshot_error.set(None);
        self.live.borrow_mut().wanted = true;
        let this = self.clone();
        wasm_bindgen_futures::spawn_local(async move {
            let answer = request_camera().await;
            if !this.live.borrow().wanted {
                return stop_tracks(answer.ok());
            }
            match answer {
                Ok(stream) => {
                    this.live.borrow_mut().stream = Some(stream.clone());
                    this.camera.set(Camera::Live(stream));
                }
                Err(message) => this.camera.set(Camera::Error(message)),
            }
        });
    }

    /// Stops the camera (its light goes off) and hides the preview.
    pub fn close(&self) {
        let mut live = self.live.borrow_mut();
        live.wanted = false;
        stop_tracks(live.stream.take());
        if let Some(video) = self.video.cast::<HtmlVideoElement>() {
            video.set_src_object(None);
        }
        self.snapshot_error.set(None);
        self.camera.set(Camera::Closed);
    }

    /// The preview's current frame, as a JPEG file given to `to`.
    pub fn snapshot_to(&self, to: Callback<Vec<web_sys::File>>) {
        let number = {
            let mut live = self.live.borrow_mut();
            live.snapshots_taken += 1;
            live.snapshots_taken
        };
        let (video, error) = (
            self.video.cast::<HtmlVideoElement>(),
            self.snapshot_error.clone(),
        );
        wasm_bindgen_futures::spawn_local(async move {
            match snapshot(video, &format!("webcam-{number}.jpg")).await {
                Ok(file) => {
                    error.set(None);
                    to.emit(vec![file]);
                }
                Err(message) => error.set(Some(message)),
            }
        });
    }
}

/// The page's camera; it is stopped when the page goes away.
#[hook]
pub fn use_webcam() -> WebcamHandle {
    let handle = WebcamHandle {
        camera: use_state(|| Camera::Closed),
        snapshot_error: use_state(|| None),
        live: use_mut_ref(LiveCamera::default),
        video: use_node_ref(),
    };
    let live = handle.live.clone();
    use_effect_with((), move |_| {
        move || stop_tracks(live.borrow_mut().stream.take())
    });
    handle
}

fn stop_tracks(stream: Option<MediaStream>) {
    for track in stream.iter().flat_map(|s| s.get_tracks()) {
        track.unchecked_into::<MediaStreamTrack>().stop();
    }
}

/// `getUserMedia({video: true})`, with a message a person can act on when it fails.
async fn request_camera() -> Result<MediaStream, String> {
    let no_camera = || {
        "This browser offers no camera here (it needs a camera, and HTTPS or localhost)."
            .to_string()
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

fn refusal_message(error: &JsValue) -> String {
    let Some(e) = error.dyn_ref::<DomException>() else {
        return "The camera could not be opened.".to_string();
    };
    match e.name().as_str() {
        "NotAllowedError" | "SecurityError" => "Camera access was refused: allow the camera for \
            this site in the browser's settings, then open it again."
            .to_string(),
        "NotFoundError" | "OverconstrainedError" => "No camera was found.".to_string(),
        "NotReadableError" | "AbortError" => {
            "The camera could not be started: another program may be using it.".to_string()
        }
        name => format!("The camera could not be opened ({name}: {}).", e.message()),
    }
}

/// Draws the preview's frame on a canvas and encodes it as JPEG.
async fn snapshot(video: Option<HtmlVideoElement>, name: &str) -> Result<web_sys::File, String> {
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

#[derive(Properties, PartialEq)]
pub struct WebcamPanelProps {
    /// Where the page's own snapshots go: the classifier.
    pub on_files: Callback<Vec<web_sys::File>>,
}

/// The "Webcam" button, then the live preview with Snapshot and Close, or why there is none.
#[function_component(WebcamPanel)]
pub fn webcam_panel(props: &WebcamPanelProps) -> Html {
    let Some(webcam) = use_context::<WebcamHandle>() else {
        return html! {};
    };
    // The stream goes into the preview once the preview exists.
    {
        let (video, camera) = (webcam.video.clone(), (*webcam.camera).clone());
        use_effect_with(camera, move |camera| {
            if let (Camera::Live(stream), Some(video)) = (camera, video.cast::<HtmlVideoElement>())
            {
                video.set_src_object(Some(stream));
            }
        });
    }
    let click = |act: fn(&WebcamHandle)| {
        let webcam = webcam.clone();
        Callback::from(move |_: MouseEvent| act(&webcam))
    };
    let on_snapshot = {
        let (webcam, to) = (webcam.clone(), props.on_files.clone());
        Callback::from(move |_: MouseEvent| webcam.snapshot_to(to.clone()))
    };
    let open_button = html! {
        <button class="button secondary" data-testid="webcam-open" onclick={click(WebcamHandle::open)}>{ "Webcam" }</button>
    };
    let close_button = html! {
        <button class="button ghost" data-testid="webcam-close" onclick={click(WebcamHandle::close)}>{ "Close" }</button>
    };
    match &*webcam.camera {
        Camera::Closed => open_button,
        Camera::Opening => html! {
            <div class="webcam" data-testid="webcam" data-state="opening">
                <span class="muted small">{ "Asking for the camera…" }</span>{ close_button }
            </div>
        },
        Camera::Error(message) => html! {
            <div class="webcam" data-testid="webcam" data-state="error">
                <span class="error-text small" role="alert" data-testid="webcam-error">{ message.clone() }</span>
                { open_button }
            </div>
        },
        Camera::Live(_) => html! {
            <div class="webcam" data-testid="webcam" data-state="live">
                <video ref={webcam.video.clone()} autoplay=true muted=true playsinline=true width="320"></video>
                <div class="webcam-buttons">
                    <button class="button" data-testid="webcam-snapshot" onclick={on_snapshot}>{ "Snapshot" }</button>
                    { close_button }
                </div>
                <span class="muted small">{ "Snapshots are classified here; in Teach mode each class has its own snapshot button." }</span>
                if let Some(message) = &*webcam.snapshot_error {
                    <span class="error-text small" role="alert" data-testid="webcam-error">{ message.clone() }</span>
                }
            </div>
        },
    }
}
