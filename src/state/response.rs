//! What the engine's messages do to the page state.

use std::rc::Rc;

use super::{ActiveBackend, AppState, LoadState, PhotoState, Progress};
use resnet_lab_protocol::Response;

/// An engine message's effect on the page state (`now`: when it arrived, in ms).
pub(super) fn apply(s: &mut AppState, response: Response, now: f64) {
    match response {
        // The client restarts the engine on one thread and says why (an info line).
        Response::Started | Response::ThreadsFailed { .. } => {}
        Response::DeviceLost { .. } => {
            s.lab.engine_restarted();
            s.lab.data.engine_restarted();
            s.webcam.reset();
        }
        Response::Backend {
            kind,
            adapter,
            notice,
            threads,
        } => {
            s.backend = Some(ActiveBackend {
                kind,
                adapter,
                notice,
                threads,
            })
        }
        Response::Progress { done, total, phase } => {
            if s.model.state == LoadState::Loading {
                s.model.progress = Some(Progress { done, total, phase });
            }
        }
        Response::ModelReady(summary) => {
            s.teach.model_ready(summary.fingerprint.clone());
            s.model.state = LoadState::Ready;
            s.model.name = summary.name.clone();
            s.model.summary = Some(summary);
            s.model.error = None;
            s.model.progress = None;
            s.model.ready_ms = Some(now - s.model.started_at);
        }
        Response::ModelError { message } => {
            s.teach.model_gone();
            s.model.state = LoadState::Error;
            s.model.progress = None;
            s.model.error = Some(message.clone());
            s.errors
                .push(format!("The model could not be loaded: {message}"));
        }
        Response::Result {
            id,
            top,
            timings,
            backend,
            width,
            height,
            custom,
            crops,
        } => {
            if let Some(p) = s.photos.iter_mut().find(|p| p.id == id) {
                p.crops = Some(crops);
                p.state = PhotoState::Done;
                p.top = top;
                p.timings = Some(timings);
                p.backend = Some(backend);
                p.size = Some((width, height));
                p.custom = custom;
                p.error = None;
            }
        }
        Response::Frame {
            id,
            top,
            custom,
            inference_ms,
        } => s.webcam.answered(id, Ok((top, custom, inference_ms)), now),
        Response::FrameError { id, message } => s.webcam.answered(id, Err(message), now),
        Response::ClassifyError { id, message } => {
            if let Some(p) = s.photos.iter_mut().find(|p| p.id == id) {
                p.state = PhotoState::Error;
                p.error = Some(message);
            }
        }
        Response::CacheCleared { entries } => {
            s.info = Some(match entries {
                0 => "The weights cache was already empty.".into(),
                1 => "Cleared 1 cached weights file: the next load downloads it again.".into(),
                n => {
                    format!("Cleared {n} cached weights files: the next load downloads them again.")
                }
            });
        }
        Response::Gradients { id, report } => {
            if s.gradients.pending == Some(id) {
                s.gradients.pending = None;
                s.gradients.error = None;
                s.gradients.report = Some(Rc::new(*report));
                s.gradients.shown_photo = s.gradients.photo;
            }
        }
        Response::GradientsError { id, message } => {
            if s.gradients.pending == Some(id) {
                s.gradients.pending = None;
                s.gradients.error = Some(message);
            }
        }
        Response::Failure { message } => s.errors.push(message),
        Response::Teach(teach) => s.teach.respond(teach),
        Response::Lab(lab) if super::lesion::LesionState::concerns(&lab) => {
            s.lab.lesion.respond(lab)
        }
        Response::Lab(lab) => super::lab_runs::respond(&mut s.lab.shatter, &mut s.lab.train, lab),
        Response::Data(data) => s.lab.data.respond(data),
    }
}
