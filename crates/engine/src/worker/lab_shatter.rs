//! The shattered-gradients run in the worker (Balduzzi et al. 2017): each He-initialised
//! network's line, a few points per step, as `resnet-lab shatter` computes it.

use burn::module::Module;
use burn::tensor::Device;
use resnet_lab_core::ResNet;
use resnet_lab_core::gradflow::{he_initialized_weights, input_side};
use resnet_lab_core::lab::shatter::{
    DEFAULT_CLASS, Line, autocorrelation, line_endpoints, line_gradients, line_parameters,
};
use resnet_lab_protocol::Response;
use resnet_lab_protocol::lab_runs::{LabNetwork, LabResponse, ShatterCurve};

use super::engine::Engine;
use super::js::now;
use super::lab_runs::After;
use crate::error::{EngineError, Result};

/// Points of a CIFAR line per step: one step of ResNet-110 is then about a second.
const POINTS_PER_STEP: usize = 16;

/// One network of a shattered-gradients run, built when its turn comes.
struct LineNetwork {
    arch: String,
    model: ResNet,
    start: Vec<f32>,
    direction: Vec<f32>,
    side: usize,
}

pub(super) struct ShatterRun {
    id: u32,
    networks: Vec<LabNetwork>,
    seed: u64,
    t: Vec<f32>,
    device: Device,
    /// Index of the network whose line is being computed, and its `dz/dt` so far.
    current: usize,
    grads: Vec<f32>,
    built: Option<LineNetwork>,
    ms: f64,
}

impl ShatterRun {
    pub(super) fn new(
        id: u32,
        mut networks: Vec<LabNetwork>,
        seed: u64,
        points: usize,
        device: Device,
    ) -> Self {
        // Residual and plain networks of one depth share their weights: neighbours.
        networks.sort_by_key(|n| (depth(&n.arch), n.plain));
        Self {
            id,
            networks,
            seed,
            t: line_parameters(points),
            device,
            current: 0,
            grads: Vec::new(),
            built: None,
            ms: 0.0,
        }
    }
}

impl Engine {
    /// The next chunk of the current network's line; a finished line is reported.
    pub(super) async fn shatter_step(&self, id: u32) -> Result<After> {
        // Out of its cell while it works: nothing else touches it until this step ends.
        let Some(mut run) = self.lab_runs.shatter.borrow_mut().take() else {
            return Ok(After::Finished { stopped: true });
        };
        if run.id != id {
            // A newer run replaced this one.
            *self.lab_runs.shatter.borrow_mut() = Some(run);
            return Ok(After::Finished { stopped: true });
        }
        if self.lab_runs.is_stopped(id) {
            return Ok(After::Finished { stopped: true });
        }
        let after = shatter_chunk(&mut run, self).await?;
        if matches!(after, After::Continue) {
            *self.lab_runs.shatter.borrow_mut() = Some(run);
        }
        Ok(after)
    }
}

/// `cifar56` → 56.
fn depth(arch: &str) -> usize {
    arch.trim_start_matches("cifar").parse().unwrap_or(0)
}

async fn shatter_chunk(run: &mut ShatterRun, engine: &Engine) -> Result<After> {
    let network = run.networks[run.current].clone();
    let t0 = now();
    if run.built.as_ref().map(|b| b.arch.as_str()) != Some(network.arch.as_str()) {
        // He-initialised from the run's seed, the line drawn from it too: `resnet-lab shatter`.
        run.built = None;
        let weights = he_initialized_weights(&network.arch, run.seed)?;
        let config = weights.info.config.clone();
        let side = input_side(&config);
        let ad = run.device.clone().autodiff();
        let model = ResNet::from_tensors(&config, weights.tensors, &ad)?.no_grad();
        let (start, direction) = line_endpoints(side, run.seed);
        run.built = Some(LineNetwork {
            arch: network.arch.clone(),
            model,
            start,
            direction,
            side,
        });
    }
    let Some(built) = run.built.as_ref() else {
        return Err(EngineError::Unavailable("the network was not built".into()));
    };
    let from = run.grads.len();
    let to = (from + POINTS_PER_STEP).min(run.t.len());
    let chunk = line_gradients(
        &built.model,
        Line {
            start: &built.start,
            direction: &built.direction,
            size: [built.side, built.side],
        },
        &run.t[from..to],
        DEFAULT_CLASS,
        network.plain,
        POINTS_PER_STEP,
        &run.device.clone().autodiff(),
    )
    .await?;
    run.grads.extend(chunk);
    run.ms += now() - t0;
    let per_network = run.t.len();
    engine
        .outbox
        .post(&Response::Lab(LabResponse::ShatterProgress {
            id: run.id,
            done: run.current * per_network + run.grads.len(),
            total: run.networks.len() * per_network,
        }));
    if run.grads.len() < per_network {
        return Ok(After::Continue);
    }
    let grad: Vec<f64> = std::mem::take(&mut run.grads)
        .into_iter()
        .map(f64::from)
        .collect();
    if grad.iter().any(|g| !g.is_finite()) {
        return Err(EngineError::Unavailable(format!(
            "{} produced non-finite gradients",
            network.title()
        )));
    }
    let autocorr = autocorrelation(&grad);
    let curve = ShatterCurve {
        arch: network.arch,
        plain: network.plain,
        seed: run.seed,
        class: DEFAULT_CLASS,
        t: run.t.iter().map(|&t| f64::from(t)).collect(),
        lag1: autocorr.get(1).copied().unwrap_or(0.0),
        grad,
        autocorr,
    };
    engine
        .outbox
        .post(&Response::Lab(LabResponse::ShatterCurve {
            id: run.id,
            curve: Box::new(curve),
            ms: std::mem::take(&mut run.ms),
        }));
    run.current += 1;
    Ok(if run.current == run.networks.len() {
        After::Finished { stopped: false }
    } else {
        After::Continue
    })
}
