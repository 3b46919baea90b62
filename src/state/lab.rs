//! The Lab section's state: whether it is open, its tab, the lesion study's last answer and
//! the long runs ([`super::lab_runs`]) and the training's data ([`super::lab_data`]).

use std::rc::Rc;

use super::lab_data::DataState;
use super::lab_runs::{LabTab, ShatterState, TrainState};
use resnet_lab_protocol::LesionReport;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabState {
    /// Shown (`?lab=lesion|shatter|train`).
    pub open: bool,
    pub tab: LabTab,
    pub shatter: ShatterState,
    pub train: TrainState,
    /// The training's CIFAR-10 data.
    pub data: DataState,
    /// Id of the lesion study whose answer is awaited; older answers are ignored.
    pub pending: Option<u32>,
    pub report: Option<Rc<LesionReport>>,
    pub error: Option<String>,
}

impl LabState {
    /// The value of the section's `data-status`.
    pub fn status(&self) -> &'static str {
        match (&self.pending, &self.report, &self.error) {
            (Some(_), _, _) => "running",
            (None, _, Some(_)) => "error",
            (None, Some(_), None) => "done",
            _ => "idle",
        }
    }

    pub fn requested(&mut self, id: u32) {
        self.pending = Some(id);
        self.error = None;
    }

    pub fn answered(&mut self, id: u32, answer: Result<LesionReport, String>) {
        if self.pending != Some(id) {
            return;
        }
        self.pending = None;
        match answer {
            Ok(report) => {
                self.report = Some(Rc::new(report));
                self.error = None;
            }
            Err(message) => self.error = Some(message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_awaited_answer_counts() {
        let mut lab = LabState::default();
        assert_eq!(lab.status(), "idle");
        lab.requested(2);
        assert_eq!(lab.status(), "running");
        lab.answered(1, Err("old".into()));
        assert_eq!(lab.status(), "running");
        lab.answered(2, Err("no model".into()));
        assert_eq!(lab.status(), "error");
        assert_eq!(lab.error.as_deref(), Some("no model"));
    }
}
