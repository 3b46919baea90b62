//! The Lab's long runs as the page keeps them: the shattered-gradients curves and the live
//! training curves, growing as the engine's steps report; the degradation marker.

use std::rc::Rc;

use resnet_lab_protocol::TrainData;
use resnet_lab_protocol::lab_runs::{
    LabExperiment, LabNetwork, LabResponse, ShatterCurve, TrainPoint,
};

/// The Lab's tabs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LabTab {
    #[default]
    Lesion,
    Shatter,
    Train,
}

impl LabTab {
    pub const ALL: [LabTab; 3] = [LabTab::Lesion, LabTab::Shatter, LabTab::Train];

    /// The `?lab=` value.
    pub fn name(self) -> &'static str {
        match self {
            LabTab::Lesion => "lesion",
            LabTab::Shatter => "shatter",
            LabTab::Train => "train",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

/// Where a run stands, as `data-state` says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RunState {
    #[default]
    Idle,
    Running,
    /// Stopped by the person (a training can be resumed).
    Stopped,
    Done,
    Error,
}

impl RunState {
    pub fn as_str(self) -> &'static str {
        match self {
            RunState::Idle => "idle",
            RunState::Running => "running",
            RunState::Stopped => "stopped",
            RunState::Done => "done",
            RunState::Error => "error",
        }
    }
}

/// The shattered-gradients tab.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ShatterState {
    /// The run whose answers count.
    pub run: Option<u32>,
    pub state: RunState,
    pub networks: Vec<LabNetwork>,
    pub points: usize,
    pub seed: u64,
    /// Finished lines, in the order they came.
    pub curves: Vec<Rc<ShatterCurve>>,
    /// Compute time of all finished lines.
    pub ms: f64,
    pub done: usize,
    pub total: usize,
    pub error: Option<String>,
}

/// One network's training curve.
#[derive(Debug, Clone, PartialEq)]
pub struct TrainCurve {
    pub network: LabNetwork,
    pub points: Vec<TrainPoint>,
    /// Compute time of all its steps.
    pub ms: f64,
}

impl TrainCurve {
    pub fn last_loss(&self) -> Option<f64> {
        self.points.last().map(|p| p.loss)
    }

    pub fn step_ms(&self) -> f64 {
        self.ms / self.points.len().max(1) as f64
    }

    /// Mean loss of the last `window` steps up to step `end` (exclusive).
    fn smoothed(&self, end: usize, window: usize) -> Option<f64> {
        let from = end.checked_sub(window)?;
        let part = self.points.get(from..end)?;
        Some(part.iter().map(|p| p.loss).sum::<f64>() / window as f64)
    }
}

/// The live-training tab.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct TrainState {
    pub run: Option<u32>,
    pub state: RunState,
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub width: usize,
    /// The residual networks started with zero-initialised residual γ.
    pub zero_init_residual: bool,
    /// What the curves are on, and (CIFAR-10) how many training images.
    pub data: TrainData,
    pub images: Option<usize>,
    pub curves: Vec<TrainCurve>,
    pub error: Option<String>,
}

/// Steps averaged before two curves are compared (a batch's loss is noisy).
pub const SMOOTHING: usize = 10;

impl TrainState {
    /// The step from which `above`'s smoothed loss has stayed above `below`'s up to the last
    /// step both have made (He et al.'s degradation: plain-56 above plain-20); `None` while
    /// it has not, or too few steps are in.
    pub fn stays_above(&self, above: &LabNetwork, below: &LabNetwork) -> Option<usize> {
        let find = |n: &LabNetwork| self.curves.iter().find(|c| &c.network == n);
        let (a, b) = (find(above)?, find(below)?);
        let end = a.points.len().min(b.points.len());
        let mut since = None;
        for step in SMOOTHING..=end {
            if a.smoothed(step, SMOOTHING)? > b.smoothed(step, SMOOTHING)? {
                since.get_or_insert(step - 1);
            } else {
                since = None;
            }
        }
        since
    }
}

impl ShatterState {
    pub fn requested(&mut self, id: u32, networks: Vec<LabNetwork>, points: usize, seed: u64) {
        *self = ShatterState {
            run: Some(id),
            state: RunState::Running,
            total: networks.len() * points,
            networks,
            points,
            seed,
            ..ShatterState::default()
        };
    }

    /// Lag-1 autocorrelation per depth: `(depth, plain, residual)`, deepest last.
    pub fn lag1_by_depth(&self) -> Vec<(usize, Option<f64>, Option<f64>)> {
        let mut depths: Vec<usize> = self.curves.iter().map(|c| depth(&c.arch)).collect();
        depths.sort_unstable();
        depths.dedup();
        let lag1 = |d: usize, plain: bool| {
            self.curves
                .iter()
                .find(|c| depth(&c.arch) == d && c.plain == plain)
                .map(|c| c.lag1)
        };
        depths
            .into_iter()
            .map(|d| (d, lag1(d, true), lag1(d, false)))
            .collect()
    }
}

/// A training's settings, as the page sends them.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TrainSetup {
    pub steps: usize,
    pub batch: usize,
    pub lr: f64,
    pub seed: u64,
    pub width: usize,
    pub zero_init_residual: bool,
    pub data: TrainData,
    /// CIFAR-10's training images as the page knew them when it asked.
    pub images: Option<usize>,
}

impl TrainState {
    /// "CIFAR-10 (50,000 training images)" or "the built-in grating task".
    pub fn data_title(&self) -> String {
        match (self.data, self.images) {
            (TrainData::Cifar10, Some(n)) => format!("CIFAR-10 ({n} training images)"),
            (TrainData::Cifar10, None) => "CIFAR-10".to_string(),
            (TrainData::Grating, _) => "the built-in grating task".to_string(),
        }
    }

    pub fn requested(&mut self, id: u32, networks: Vec<LabNetwork>, setup: TrainSetup) {
        let TrainSetup {
            steps,
            batch,
            lr,
            seed,
            width,
            zero_init_residual,
            data,
            images,
        } = setup;
        *self = TrainState {
            run: Some(id),
            state: RunState::Running,
            steps,
            batch,
            lr,
            seed,
            width,
            zero_init_residual,
            data,
            images,
            curves: networks
                .into_iter()
                .map(|network| TrainCurve {
                    network,
                    points: Vec::new(),
                    ms: 0.0,
                })
                .collect(),
            error: None,
        };
    }
}

/// `cifar110` → 110.
pub fn depth(arch: &str) -> usize {
    arch.trim_start_matches("cifar").parse().unwrap_or(0)
}

/// What a Lab action or answer does to the two runs.
#[derive(Debug, Clone, PartialEq)]
pub enum LabRunAction {
    ShatterRequested {
        id: u32,
        networks: Vec<LabNetwork>,
        points: usize,
        seed: u64,
    },
    TrainRequested {
        id: u32,
        networks: Vec<LabNetwork>,
        setup: TrainSetup,
    },
    /// Stop (or, for a training, resume) was sent for this experiment's run.
    Stop(LabExperiment),
    Resume,
}

/// Applies a page action to the runs.
pub fn apply(shatter: &mut ShatterState, train: &mut TrainState, action: LabRunAction) {
    match action {
        LabRunAction::ShatterRequested {
            id,
            networks,
            points,
            seed,
        } => shatter.requested(id, networks, points, seed),
        LabRunAction::TrainRequested {
            id,
            networks,
            setup,
        } => train.requested(id, networks, setup),
        // The engine confirms with `Finished`; until then the run counts as running.
        LabRunAction::Stop(_) => {}
        LabRunAction::Resume => {
            if train.state == RunState::Stopped {
                train.state = RunState::Running;
            }
        }
    }
}

/// Applies an engine answer; answers about other runs than the awaited one are ignored.
pub fn respond(shatter: &mut ShatterState, train: &mut TrainState, response: LabResponse) {
    match response {
        LabResponse::ShatterProgress { id, done, total } if shatter.run == Some(id) => {
            shatter.done = done;
            shatter.total = total;
        }
        LabResponse::ShatterCurve { id, curve, ms } if shatter.run == Some(id) => {
            shatter.curves.push(Rc::new(*curve));
            shatter.ms += ms;
        }
        LabResponse::TrainStep {
            id,
            network,
            point,
            step_ms,
        } if train.run == Some(id) => {
            if let Some(curve) = train.curves.get_mut(network) {
                curve.points.push(point);
                curve.ms += step_ms;
            }
        }
        LabResponse::Finished {
            id,
            experiment,
            stopped,
        } => {
            let state = if stopped {
                RunState::Stopped
            } else {
                RunState::Done
            };
            match experiment {
                LabExperiment::Shatter if shatter.run == Some(id) => shatter.state = state,
                LabExperiment::Train if train.run == Some(id) => train.state = state,
                _ => {}
            }
        }
        LabResponse::Error {
            id,
            experiment,
            message,
        } => match experiment {
            LabExperiment::Shatter if shatter.run == Some(id) => {
                shatter.state = RunState::Error;
                shatter.error = Some(message);
            }
            LabExperiment::Train if train.run == Some(id) => {
                train.state = RunState::Error;
                train.error = Some(message);
            }
            _ => {}
        },
        _ => {}
    }
}

/// The engine restarted (a lost GPU device): running runs are gone with it.
pub fn engine_restarted(shatter: &mut ShatterState, train: &mut TrainState) {
    let message = "the engine restarted (the GPU device was lost): run it again";
    for (state, error) in [
        (&mut shatter.state, &mut shatter.error),
        (&mut train.state, &mut train.error),
    ] {
        if matches!(*state, RunState::Running | RunState::Stopped) {
            *state = RunState::Error;
            *error = Some(message.to_string());
        }
    }
}

#[cfg(test)]
#[path = "lab_runs_tests.rs"]
mod tests;
