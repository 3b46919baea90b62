//! The webcam: a live preview whose snapshots become photo files, given to the page's
//! classifier (like a picked photo) or, in Teach mode, to a class. [`use_webcam`] owns the
//! camera and is provided as a context, so the class cards can take snapshots too.

mod camera_api;

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use camera_api::{HtmlVideoElement, MediaStream, request_camera, snapshot, stop_tracks};

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
        let stream = {
            let mut live = self.live.borrow_mut();
            live.wanted = false;
            live.stream.take()
        };
        stop_tracks(stream);
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
    // Leaving the page (or this component going) turns the camera off.
    let on_leave = handle.clone();
    use_effect_with((), move |_| {
        let pagehide = gloo::events::EventListener::new(&gloo::utils::window(), "pagehide", {
            let on_leave = on_leave.clone();
            move |_| on_leave.close()
        });
        move || {
            drop(pagehide);
            stop_tracks(on_leave.live.borrow_mut().stream.take());
        }
    });
    handle
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
