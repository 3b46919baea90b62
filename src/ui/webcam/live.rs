//! The webcam classified live: the preview's frames go to the engine one at a time (the next
//! is grabbed only when the last is answered, so a slow backend drops frames instead of
//! queueing them), and the last answer's top-5 (and Teach classes) are shown with the frame
//! rate.

use gloo::timers::callback::Timeout;
use yew::prelude::*;

use super::WebcamHandle;
use super::camera_api::{HtmlVideoElement, snapshot};
use crate::state::webcam::LiveFrames;
use crate::ui::components::PredictionBar;

/// How long to wait before grabbing again when the preview has no picture yet.
const RETRY_MS: u32 = 200;

/// Sends the preview's frames to `on_frame` while the camera is live and a model is `ready`,
/// one at a time; `on_closed` when the camera goes (its frame in flight no longer matters).
#[hook]
pub fn use_live_frames(
    webcam: Option<WebcamHandle>,
    frames: &LiveFrames,
    ready: bool,
    on_frame: Callback<web_sys::File>,
    on_closed: Callback<()>,
) {
    let retry = use_state(|| 0u32);
    let grabbing = use_mut_ref(|| false);
    let live = webcam.as_ref().is_some_and(WebcamHandle::is_live);
    use_effect_with(live, move |live| {
        if !*live {
            on_closed.emit(());
        }
    });
    let idle = frames.in_flight.is_none();
    use_effect_with(
        (live, ready, idle, frames.answered, *retry),
        move |&(live, ready, idle, _, tries)| {
            if !(live && ready && idle) || *grabbing.borrow() {
                return;
            }
            let Some(webcam) = webcam else { return };
            *grabbing.borrow_mut() = true;
            let video = webcam.video.cast::<HtmlVideoElement>();
            wasm_bindgen_futures::spawn_local(async move {
                let frame = snapshot(video, "webcam-frame.jpg").await;
                *grabbing.borrow_mut() = false;
                match frame {
                    Ok(file) => on_frame.emit(file),
                    // No picture yet (the stream is starting): try again shortly.
                    Err(_) => drop(Timeout::new(RETRY_MS, move || retry.set(tries + 1)).forget()),
                }
            });
        },
    );
}

#[derive(Properties, PartialEq)]
pub struct LiveClassesProps {
    pub frames: LiveFrames,
    pub ready: bool,
}

/// The last frame's classes and the measured rate.
#[function_component(LiveClasses)]
pub fn live_classes(props: &LiveClassesProps) -> Html {
    let f = &props.frames;
    let status = match (props.ready, f.fps()) {
        (false, _) => "Live classes once the model is ready.".to_string(),
        (true, None) if f.top.is_empty() => "Classifying the first frame…".to_string(),
        (true, None) => "Measuring the frame rate…".to_string(),
        (true, Some(fps)) => format!(
            "{fps:.1} frames/s · {:.0} ms per frame in the engine · frames are dropped, not queued",
            f.inference_ms
        ),
    };
    html! {
        <div class="webcam-live" aria-live="polite">
            <p class="muted small" data-testid="webcam-rate">{ status }</p>
            if let Some(error) = &f.error {
                <p class="error-text small" data-testid="webcam-frame-error">{ error.clone() }</p>
            }
            <ol class="predictions">
                { for f.top.iter().enumerate().map(|(rank, row)| html! {
                    <PredictionBar rank={rank} row={row.clone()} testid={Some(AttrValue::from("webcam-prediction"))} />
                }) }
            </ol>
            if !f.custom.is_empty() {
                <ol class="predictions custom">
                    { for f.custom.iter().enumerate().map(|(rank, row)| html! {
                        <PredictionBar rank={rank} row={row.clone()} taught=true testid={Some(AttrValue::from("webcam-custom-prediction"))} />
                    }) }
                </ol>
            }
        </div>
    }
}
