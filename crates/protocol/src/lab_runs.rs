//! Messages of the Lab's long runs on He-initialised CIFAR networks: shattered gradients
//! (Balduzzi et al. 2017) and the degradation problem trained live (He et al. 2016).
//!
//! The engine cuts each run into short steps (a few points of a line, one SGD step of one
//! network) and queues the next step behind whatever else is waiting, so a classification
//! never waits for more than one step. Each step reports at once: the page draws curves as
//! they grow. A curve reads, as JSON, like the CLI's `resnet-lab shatter --json` /
//! `resnet-lab train --json` document for that network.

use serde::{Deserialize, Serialize};

use crate::BackendPreference;
use crate::lab_data::TrainData;

/// Most networks in one run.
pub const MAX_LAB_NETWORKS: usize = 8;
/// Most points on a shattered-gradients line (the core's `MAX_POINTS`).
pub const MAX_SHATTER_POINTS: usize = 4096;
/// Most steps of one training run.
pub const MAX_TRAIN_STEPS: usize = 100_000;
/// The largest batch: He et al.'s 128. A ResNet-110 step keeps roughly 10 MB of activations
/// per example, and WebAssembly has 4 GB at most (the core allows 1024 natively).
pub const MAX_TRAIN_BATCH: usize = 128;
/// He et al.'s CIFAR networks have 16, 32 and 64 channels in their three stages.
pub const PAPER_WIDTH: usize = 16;
/// The widest first stage a Lab training accepts (the core allows 256 natively).
pub const MAX_TRAIN_WIDTH: usize = 64;

fn paper_width() -> usize {
    PAPER_WIDTH
}

/// One network of a run: a He-initialised `cifar20`/`cifar56`/`cifar110`, with or without
/// its shortcuts.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct LabNetwork {
    pub arch: String,
    pub plain: bool,
}

impl LabNetwork {
    pub fn new(arch: &str, plain: bool) -> Self {
        Self {
            arch: arch.to_string(),
            plain,
        }
    }

    /// "plain-56", "ResNet-110": the names of He et al.'s figures.
    pub fn title(&self) -> String {
        let depth = self.arch.trim_start_matches("cifar");
        match self.plain {
            true => format!("plain-{depth}"),
            false => format!("ResNet-{depth}"),
        }
    }
}

/// Which long run a message is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabExperiment {
    Shatter,
    Train,
    /// The lesion study (started by `Request::Lesion`, stepped and stopped like the others).
    Lesion,
}

/// UI → engine, inside [`crate::Request::Lab`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "lab", rename_all = "snake_case")]
pub enum LabRequest {
    /// `dz₀/dt` along a line `x(t) = x0 + t·d` through each network at initialisation, as
    /// `resnet-lab shatter --arch A [--plain] --seed S --points N` computes it.
    Shatter {
        id: u32,
        networks: Vec<LabNetwork>,
        seed: u64,
        points: usize,
        /// Used when no model was loaded yet (the engine picks its backend once).
        #[serde(default)]
        backend: BackendPreference,
    },
    /// Train each network on the built-in grating task or the CIFAR-10 data the engine holds,
    /// as `resnet-lab train --arch A [--plain] [--data DIR] --steps N --batch B --lr LR
    /// --seed S` does; every network sees the same batches.
    Train {
        id: u32,
        networks: Vec<LabNetwork>,
        steps: usize,
        batch: usize,
        lr: f64,
        seed: u64,
        /// First-stage width ([`PAPER_WIDTH`] in the paper; narrower trains faster).
        #[serde(default = "paper_width")]
        width: usize,
        /// Residual networks start with every branch's last BatchNorm γ at 0 (torchvision's
        /// `zero_init_residual`); plain ones ignore it.
        #[serde(default)]
        zero_init_residual: bool,
        #[serde(default)]
        data: TrainData,
        #[serde(default)]
        backend: BackendPreference,
    },
    /// Stop run `id` after its current step (acts on arrival, never queued). A stopped
    /// training can be resumed.
    Stop { id: u32 },
    /// Continue a stopped training.
    Resume { id: u32 },
    /// The engine's own message: the next step of run `id`, queued behind the others.
    Next { id: u32, experiment: LabExperiment },
}

impl LabRequest {
    /// The run this request belongs to.
    pub fn experiment(&self) -> Option<LabExperiment> {
        match self {
            LabRequest::Shatter { .. } => Some(LabExperiment::Shatter),
            LabRequest::Train { .. } | LabRequest::Resume { .. } => Some(LabExperiment::Train),
            LabRequest::Next { experiment, .. } => Some(*experiment),
            LabRequest::Stop { .. } => None,
        }
    }
}

/// The CIFAR networks a run may use (the 6n+2 family of He et al. §4.2).
pub const LAB_ARCHITECTURES: [&str; 3] = ["cifar20", "cifar56", "cifar110"];

impl LabRequest {
    /// Why a new run cannot start, in words (`None`: it can).
    pub fn refusal(&self) -> Option<String> {
        let networks = match self {
            LabRequest::Shatter { networks, .. } | LabRequest::Train { networks, .. } => networks,
            _ => return None,
        };
        if networks.is_empty() || networks.len() > MAX_LAB_NETWORKS {
            return Some(format!(
                "a run needs 1 to {MAX_LAB_NETWORKS} networks (got {})",
                networks.len()
            ));
        }
        if let Some(n) = networks
            .iter()
            .find(|n| !LAB_ARCHITECTURES.contains(&n.arch.as_str()))
        {
            return Some(format!(
                "`{}` is not one of the Lab's networks ({})",
                n.arch,
                LAB_ARCHITECTURES.join(", ")
            ));
        }
        match *self {
            LabRequest::Shatter { points, .. } if !(2..=MAX_SHATTER_POINTS).contains(&points) => {
                Some(format!(
                    "a line needs 2 to {MAX_SHATTER_POINTS} points (got {points})"
                ))
            }
            LabRequest::Train { steps, .. } if !(1..=MAX_TRAIN_STEPS).contains(&steps) => Some(
                format!("a training needs 1 to {MAX_TRAIN_STEPS} steps (got {steps})"),
            ),
            LabRequest::Train { batch, .. } if !(1..=MAX_TRAIN_BATCH).contains(&batch) => Some(
                format!("a batch holds 1 to {MAX_TRAIN_BATCH} examples (got {batch})"),
            ),
            LabRequest::Train { width, .. } if !(1..=MAX_TRAIN_WIDTH).contains(&width) => Some(
                format!("the width must lie in 1 to {MAX_TRAIN_WIDTH} channels (got {width})"),
            ),
            LabRequest::Train { lr, .. } if !(lr.is_finite() && lr > 0.0 && lr <= 10.0) => {
                Some(format!("the learning rate must lie in (0, 10] (got {lr})"))
            }
            _ => None,
        }
    }
}

/// One network's shattered-gradients curve (`resnet-lab shatter --json`'s document).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ShatterCurve {
    pub arch: String,
    pub plain: bool,
    pub seed: u64,
    /// The logit differentiated.
    pub class: usize,
    pub t: Vec<f64>,
    /// `dz/dt` at each `t`.
    pub grad: Vec<f64>,
    /// Autocorrelation of `grad` at lags 0, 1, …
    pub autocorr: Vec<f64>,
    pub lag1: f64,
}

/// One training step of one network, on the batch it trained on (before the update).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TrainPoint {
    pub step: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// Engine → UI, inside [`crate::Response::Lab`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "lab", rename_all = "snake_case")]
pub enum LabResponse {
    /// `done` of `total` line points computed, over all the run's networks.
    ShatterProgress { id: u32, done: usize, total: usize },
    /// One network's line is complete (`ms`: its compute time).
    ShatterCurve {
        id: u32,
        curve: Box<ShatterCurve>,
        ms: f64,
    },
    /// Network `network` (an index into the request's list) made one step.
    TrainStep {
        id: u32,
        network: usize,
        point: TrainPoint,
        /// The step's compute time (data generation excluded, as the CLI's `step_ms`).
        step_ms: f64,
    },
    /// A lesion study started: the intact network's classes; its `steps` altered networks
    /// follow, one [`LabResponse::LesionStep`] each.
    LesionStarted {
        id: u32,
        report: Box<crate::LesionReport>,
        steps: usize,
    },
    /// One altered network of a lesion study (`ms`: its compute time).
    LesionStep {
        id: u32,
        step: Box<crate::lab::LesionStep>,
        ms: f64,
    },
    /// The run ended: complete, or stopped (a stopped training can be resumed).
    Finished {
        id: u32,
        experiment: LabExperiment,
        stopped: bool,
    },
    Error {
        id: u32,
        experiment: LabExperiment,
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    #[test]
    fn lab_messages_nest_in_the_shared_enums() {
        let req = Request::Lab(LabRequest::Train {
            id: 3,
            networks: vec![LabNetwork::new("cifar20", true)],
            steps: 10,
            batch: 32,
            lr: 0.1,
            seed: 0,
            width: 4,
            zero_init_residual: false,
            data: TrainData::Cifar10,
            backend: BackendPreference::Cpu,
        });
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"type\":\"lab\""), "{json}");
        assert!(json.contains("\"lab\":\"train\""), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let resp = Response::Lab(LabResponse::Finished {
            id: 3,
            experiment: LabExperiment::Train,
            stopped: true,
        });
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
    }

    #[test]
    fn a_shatter_curve_reads_like_the_cli_json() {
        let curve = ShatterCurve {
            arch: "cifar110".into(),
            plain: true,
            seed: 1,
            class: 0,
            t: vec![-1.0, 1.0],
            grad: vec![0.5, -0.5],
            autocorr: vec![1.0, -0.5],
            lag1: -0.5,
        };
        let json = serde_json::to_value(&curve).unwrap();
        // The fields `resnet-lab shatter --json` writes.
        for key in [
            "arch", "plain", "seed", "class", "t", "grad", "autocorr", "lag1",
        ] {
            assert!(json.get(key).is_some(), "{key} missing: {json}");
        }
        assert_eq!(
            serde_json::to_value(TrainPoint {
                step: 2,
                loss: 2.3,
                accuracy: 0.25
            })
            .unwrap(),
            serde_json::json!({"step": 2, "loss": 2.3, "accuracy": 0.25})
        );
    }

    #[test]
    fn hostile_runs_are_refused_with_a_reason() {
        let shatter = |networks: Vec<LabNetwork>, points| LabRequest::Shatter {
            id: 1,
            networks,
            seed: 0,
            points,
            backend: BackendPreference::Auto,
        };
        let train_width = |steps, batch, lr, width| LabRequest::Train {
            id: 1,
            networks: vec![LabNetwork::new("cifar56", true)],
            steps,
            batch,
            lr,
            seed: 0,
            width,
            zero_init_residual: false,
            data: TrainData::Grating,
            backend: BackendPreference::Auto,
        };
        let train = |steps, batch, lr| train_width(steps, batch, lr, PAPER_WIDTH);
        let ok = vec![LabNetwork::new("cifar110", true)];
        assert_eq!(shatter(ok.clone(), 64).refusal(), None);
        assert!(shatter(ok.clone(), 1).refusal().unwrap().contains("points"));
        assert!(shatter(ok, 1 << 40).refusal().is_some());
        assert!(shatter(vec![], 64).refusal().is_some());
        assert!(
            shatter(vec![LabNetwork::new("resnet152", false); 2], 64)
                .refusal()
                .unwrap()
                .contains("resnet152")
        );
        assert!(
            shatter(vec![LabNetwork::new("cifar20", false); 9], 64)
                .refusal()
                .is_some()
        );
        assert_eq!(train(10, 32, 0.1).refusal(), None);
        assert!(train(0, 32, 0.1).refusal().is_some());
        assert!(train(10, 0, 0.1).refusal().is_some());
        assert!(train(10, 129, 0.1).refusal().is_some());
        assert!(
            train_width(10, 32, 0.1, 0)
                .refusal()
                .unwrap()
                .contains("width")
        );
        assert!(train_width(10, 32, 0.1, 65).refusal().is_some());
        for lr in [0.0, -1.0, f64::NAN, f64::INFINITY, 1e9] {
            assert!(train(10, 32, lr).refusal().is_some(), "{lr}");
        }
        assert_eq!(LabRequest::Stop { id: 1 }.refusal(), None);
    }

    #[test]
    fn networks_are_named_as_in_the_paper() {
        assert_eq!(LabNetwork::new("cifar56", true).title(), "plain-56");
        assert_eq!(LabNetwork::new("cifar110", false).title(), "ResNet-110");
        assert_eq!(
            LabRequest::Next {
                id: 1,
                experiment: LabExperiment::Shatter
            }
            .experiment(),
            Some(LabExperiment::Shatter)
        );
        assert_eq!(LabRequest::Stop { id: 1 }.experiment(), None);
    }
}
