//! One training run of Teach mode as the page shows it: the augmented views being computed,
//! the curve epoch by epoch, and how it ended.

use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::EpochPoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrainState {
    Running,
    Done,
    Error,
}

impl TrainState {
    pub fn as_str(self) -> &'static str {
        match self {
            TrainState::Running => "running",
            TrainState::Done => "done",
            TrainState::Error => "error",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Training {
    pub state: TrainState,
    pub epochs: usize,
    pub points: Vec<EpochPoint>,
    /// Augmented views asked for per training photo (0: none).
    pub augment: usize,
    /// While the views are computed: photos done, of how many.
    pub augmenting: Option<(usize, usize)>,
    /// `leave_one_out`, `split` or `none`, once done.
    pub validation: Option<String>,
    pub stopped: bool,
    pub train_ms: Option<f64>,
    /// Once done: rows the head trained on (photos and views) and the views' time.
    pub train_rows: Option<usize>,
    pub augment_ms: Option<f64>,
    pub error: Option<String>,
}

impl Training {
    /// A run of `epochs` just asked for.
    pub fn started(epochs: usize, augment: usize) -> Self {
        Self {
            state: TrainState::Running,
            epochs,
            points: Vec::new(),
            augment,
            augmenting: None,
            validation: None,
            stopped: false,
            train_ms: None,
            train_rows: None,
            augment_ms: None,
            error: None,
        }
    }

    /// The last epoch's accuracies (what `data-train-accuracy` / `data-val-accuracy` show).
    pub fn last(&self) -> Option<&EpochPoint> {
        self.points.last()
    }

    /// An engine answer about this run (others are ignored).
    pub fn respond(&mut self, response: TeachResponse) {
        let running = self.state == TrainState::Running;
        match response {
            TeachResponse::Augmenting { done, total } if running => {
                self.augmenting = Some((done, total));
            }
            TeachResponse::Epoch { point, epochs } if running => {
                self.augmenting = None;
                self.epochs = epochs;
                self.points.push(point);
            }
            TeachResponse::Trained {
                validation,
                stopped,
                train_ms,
                train_rows,
                augment_ms,
                ..
            } => {
                self.state = TrainState::Done;
                self.augmenting = None;
                self.validation = Some(validation);
                self.stopped = stopped;
                self.train_ms = Some(train_ms);
                self.train_rows = Some(train_rows);
                self.augment_ms = Some(augment_ms);
            }
            TeachResponse::TrainError { message } => {
                self.state = TrainState::Error;
                self.augmenting = None;
                self.error = Some(message);
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(epoch: usize) -> EpochPoint {
        EpochPoint {
            epoch,
            loss: 1.0 / epoch as f64,
            train_accuracy: 0.5,
            val_accuracy: Some(0.5),
        }
    }

    #[test]
    fn views_progress_gives_way_to_the_curve_and_the_rows_are_kept() {
        let mut t = Training::started(100, 2);
        t.respond(TeachResponse::Augmenting { done: 3, total: 9 });
        assert_eq!(t.augmenting, Some((3, 9)));
        t.respond(TeachResponse::Epoch {
            point: point(1),
            epochs: 100,
        });
        assert_eq!((t.augmenting, t.points.len()), (None, 1));
        t.respond(TeachResponse::Trained {
            classes: vec!["a".into(), "b".into()],
            validation: "leave_one_out".into(),
            stopped: false,
            train_ms: 5.0,
            train_rows: 27,
            augment_ms: 900.0,
        });
        assert_eq!(t.state, TrainState::Done);
        assert_eq!((t.train_rows, t.augment_ms), (Some(27), Some(900.0)));
        // A late progress message of a finished run changes nothing.
        t.respond(TeachResponse::Augmenting { done: 9, total: 9 });
        assert_eq!(t.augmenting, None);
    }

    #[test]
    fn an_error_while_computing_views_ends_the_run() {
        let mut t = Training::started(100, 4);
        t.respond(TeachResponse::Augmenting { done: 0, total: 4 });
        t.respond(TeachResponse::TrainError {
            message: "stopped while computing the augmented views".into(),
        });
        assert_eq!(t.state, TrainState::Error);
        assert_eq!(t.augmenting, None);
    }
}
