//! The webcam's live classification: at most one frame in flight (the page grabs the next
//! frame only once the last one is answered, so frames are dropped, never queued), the last
//! answer's classes, and the frame rate measured over the last answers.

use std::collections::VecDeque;

use resnet_lab_protocol::PredictionRow;

/// Answers the frame rate is measured over.
const RATE_WINDOW: usize = 8;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LiveFrames {
    /// The frame the engine is classifying; `None`: the next one may go.
    pub in_flight: Option<u32>,
    /// The last answered frame's ImageNet top-5, and its Teach classes with a head.
    pub top: Vec<PredictionRow>,
    pub custom: Vec<PredictionRow>,
    /// Why the last frame failed, if it did (the next one is still tried).
    pub error: Option<String>,
    /// Frames answered since the camera opened.
    pub answered: u32,
    /// The engine's inference time of the last frame, in ms.
    pub inference_ms: f64,
    /// Arrival times (ms) of the last answers.
    arrivals: VecDeque<f64>,
}

impl LiveFrames {
    pub fn sent(&mut self, id: u32) {
        self.in_flight = Some(id);
    }

    /// An answer for frame `id`: `Ok((top, custom, inference_ms))` or the error. Answers for
    /// a frame no longer awaited (the camera was closed meanwhile) are dropped.
    pub fn answered(
        &mut self,
        id: u32,
        answer: Result<(Vec<PredictionRow>, Vec<PredictionRow>, f64), String>,
        now: f64,
    ) {
        if self.in_flight != Some(id) {
            return;
        }
        self.in_flight = None;
        self.answered += 1;
        match answer {
            Ok((top, custom, inference_ms)) => {
                self.top = top;
                self.custom = custom;
                self.inference_ms = inference_ms;
                self.error = None;
            }
            Err(message) => self.error = Some(message),
        }
        if self.arrivals.len() == RATE_WINDOW {
            self.arrivals.pop_front();
        }
        self.arrivals.push_back(now);
    }

    /// Frames per second over the last answers (at least two are needed).
    pub fn fps(&self) -> Option<f64> {
        let (first, last) = (self.arrivals.front()?, self.arrivals.back()?);
        let span = (last - first) / 1e3;
        (self.arrivals.len() >= 2 && span > 0.0).then(|| (self.arrivals.len() - 1) as f64 / span)
    }

    /// The camera was closed, or the engine restarted (its frame will never be answered).
    pub fn reset(&mut self) {
        *self = Self::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(index: usize) -> PredictionRow {
        PredictionRow {
            index,
            label: format!("class {index}"),
            prob: 0.5,
        }
    }

    #[test]
    fn one_frame_in_flight_and_the_rate_over_the_last_answers() {
        let mut f = LiveFrames::default();
        assert_eq!(f.fps(), None);
        f.sent(1);
        f.answered(1, Ok((vec![row(3)], vec![], 400.0)), 1000.0);
        assert_eq!((f.in_flight, f.answered, f.fps()), (None, 1, None));
        // Answers at 1.0, 1.5, 2.0 and 2.5 s: 3 intervals in 1.5 s.
        for (id, t) in [(2, 1500.0), (3, 2000.0), (4, 2500.0)] {
            f.sent(id);
            f.answered(id, Ok((vec![row(id as usize)], vec![], 400.0)), t);
        }
        assert_eq!(f.fps(), Some(2.0));
        assert_eq!(f.top, vec![row(4)]);
        // Only the last 8 answers count: 8 more at 250 ms intervals give 4 frames/s.
        for id in 5..13 {
            f.sent(id);
            f.answered(
                id,
                Ok((vec![], vec![], 0.0)),
                2500.0 + 250.0 * (id - 4) as f64,
            );
        }
        assert_eq!(f.fps(), Some(4.0));
    }

    #[test]
    fn a_stale_answer_is_dropped_and_an_error_keeps_the_last_classes() {
        let mut f = LiveFrames::default();
        f.sent(7);
        f.answered(6, Ok((vec![row(1)], vec![], 1.0)), 10.0);
        assert_eq!((f.in_flight, f.answered), (Some(7), 0));
        f.answered(7, Ok((vec![row(2)], vec![], 1.0)), 20.0);
        f.sent(8);
        f.answered(8, Err("no model".into()), 30.0);
        assert_eq!(f.top, vec![row(2)]);
        assert_eq!(f.error.as_deref(), Some("no model"));
        assert_eq!(f.in_flight, None);
        f.sent(9);
        f.reset();
        assert_eq!(f, LiveFrames::default());
    }
}
