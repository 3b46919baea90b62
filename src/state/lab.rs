//! The Lab section's state: whether it is open, its tab, the lesion study
//! ([`super::lesion`]), the long runs ([`super::lab_runs`]) and the training's data
//! ([`super::lab_data`]).

use super::lab_data::DataState;
use super::lab_runs::{LabTab, ShatterState, TrainState};
use super::lesion::LesionState;

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabState {
    /// Shown (`?lab=lesion|shatter|train`).
    pub open: bool,
    pub tab: LabTab,
    pub lesion: LesionState,
    pub shatter: ShatterState,
    pub train: TrainState,
    /// The training's CIFAR-10 data.
    pub data: DataState,
}

impl LabState {
    /// The engine restarted (a lost GPU device, a crash, another backend): every run in it
    /// is gone, and none may stay "running".
    pub fn engine_restarted(&mut self) {
        self.lesion.engine_restarted();
        super::lab_runs::engine_restarted(&mut self.shatter, &mut self.train);
    }
}
