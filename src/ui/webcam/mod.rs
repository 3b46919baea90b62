//! The webcam: a live preview classified frame by frame ([`live`]), whose snapshots become
//! photo files, given to the page's classifier (like a picked photo) or, in Teach mode, to a
//! class. [`use_webcam`] owns the camera and is provided as a context, so the class cards can
//! take snapshots too. The camera stops when the tab is hidden or the page goes.

mod camera_api;
mod live;

use std::cell::RefCell;
use std::rc::Rc;

use yew::prelude::*;

use crate::state::webcam::LiveFrames;
use camera_api::{HtmlVideoElement, MediaStream, request_camera, snapshot, stop_tracks};
use live::{LiveClasses, use_live_frames};

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
    /// Refused by the person (`denied`) or absent, with what to tell them.
    Error {
        message: String,
        denied: bool,
    },
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
                Err(no) => this.camera.set(Camera::Error {
                    message: no.message,
                    denied: no.denied,
                }),
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
    // Leaving the page, hiding the tab (or this component going) turns the camera off.
    let on_leave = handle.clone();
    use_effect_with((), move |_| {
        let pagehide = gloo::events::EventListener::new(&gloo::utils::window(), "pagehide", {
            let on_leave = on_leave.clone();
            move |_| on_leave.close()
        });
        let document = gloo::utils::document();
        let hidden = gloo::events::EventListener::new(&document.clone(), "visibilitychange", {
            let on_leave = on_leave.clone();
            move |_| {
                if document.hidden() && on_leave.live.borrow().wanted {
                    on_leave.close();
                }
            }
        });
        move || {
            drop((pagehide, hidden));
            stop_tracks(on_leave.live.borrow_mut().stream.take());
        }
    });
    handle
}

#[derive(Properties, PartialEq)]
pub struct WebcamPanelProps {
    /// Where the page's own snapshots go: the classifier.
    pub on_files: Callback<Vec<web_sys::File>>,
    /// The live classification: its state, where each frame goes (the engine), and whether a
    /// model is ready to take frames.
    pub frames: LiveFrames,
    pub on_frame: Callback<web_sys::File>,
    pub on_closed: Callback<()>,
    pub ready: bool,
}

/// The "Webcam" button, then the live preview with Snapshot and Close, or why there is none.
#[function_component(WebcamPanel)]
pub fn webcam_panel(props: &WebcamPanelProps) -> Html {
    let webcam = use_context::<WebcamHandle>();
    use_live_frames(
        webcam.clone(),
        &props.frames,
        props.ready,
        props.on_frame.clone(),
        props.on_closed.clone(),
    );
    let Some(webcam) = webcam else {
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
        <button class="button secondary" data-testid="webcam-start" onclick={click(WebcamHandle::open)}>{ "Webcam" }</button>
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
        Camera::Error { message, denied } => html! {
            <div class="webcam" data-testid="webcam" data-state={if *denied { "denied" } else { "error" }}>
                <span class="error-text small" role="alert" data-testid="webcam-error">{ message.clone() }</span>
                { open_button }
            </div>
        },
        Camera::Live(_) => html! {
            <div class="webcam" data-testid="webcam" data-state="live"
                 data-fps={props.frames.fps().unwrap_or(0.0).to_string()} data-frames={props.frames.answered.to_string()}>
                <video ref={webcam.video.clone()} autoplay=true muted=true playsinline=true width="320"></video>
                <LiveClasses frames={props.frames.clone()} ready={props.ready} />
                <div class="webcam-buttons">
                    <button class="button" data-testid="webcam-snapshot" onclick={on_snapshot}>{ "Snapshot" }</button>
                    { close_button }
                </div>
                <span class="muted small">{ "Snapshots become photo cards; in Teach mode each class has its own snapshot button." }</span>
                if let Some(message) = &*webcam.snapshot_error {
                    <span class="error-text small" role="alert" data-testid="webcam-error">{ message.clone() }</span>
                }
            </div>
        },
    }
}
