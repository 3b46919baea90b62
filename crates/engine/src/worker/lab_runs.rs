//! The Lab's long runs in the worker: shattered gradients (Balduzzi et al. 2017) and the
//! degradation problem trained live (He et al. 2016), on He-initialised CIFAR networks, with
//! the core's `lab::shatter` and `lab::train` as the CLI's `shatter` and `train` use them.
//!
//! A run is cut into steps: a chunk of one network's line, or one SGD step of one network.
//! After each step the worker lets its event loop run (so Stop and new photos arrive) and
//! queues the next step behind whatever waits (`RequestQueue::push_continuation`): a
//! classification waits for one step at most. Each step's numbers go to the page at once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use burn::module::Module;
use burn::tensor::Device;
use resnet_lab_core::ResNet;
use resnet_lab_core::gradflow::{he_initialized_weights, input_side};
use resnet_lab_core::lab::data::{Batches, Dataset, SyntheticGratings};
use resnet_lab_core::lab::shatter::{
    DEFAULT_CLASS, Line, autocorrelation, line_endpoints, line_gradients, line_parameters,
};
use resnet_lab_core::lab::train::{TrainSettings, Trainer};
use resnet_lab_protocol::lab_runs::{
    LabExperiment, LabNetwork, LabRequest, LabResponse, ShatterCurve, TrainPoint,
};
use resnet_lab_protocol::{BackendPreference, Request, Response, TrainData};
use wasm_bindgen_futures::JsFuture;

use super::engine::Engine;
use super::js::{now, scope};
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

struct ShatterRun {
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

struct TrainRun {
    id: u32,
    trainers: Vec<Trainer>,
    steps: usize,
    batch: usize,
    data: Rc<dyn Dataset>,
    batches: Batches,
    /// The batch of the current step, shared by every network (as the CLI's runs with one
    /// seed see the same batches).
    current: Option<(Vec<f32>, Vec<usize>)>,
    step: usize,
    next_network: usize,
}

/// The Lab's part of the engine state.
#[derive(Default)]
pub struct LabRuns {
    stopped: RefCell<HashSet<u32>>,
    shatter: RefCell<Option<ShatterRun>>,
    train: RefCell<Option<TrainRun>>,
}

impl LabRuns {
    /// Called as a lab request arrives, before it is queued; `true` when it was handled here.
    /// Stop acts at once (the run sees it after its current step).
    pub fn on_arrival(&self, request: &LabRequest) -> bool {
        match request {
            LabRequest::Stop { id } => {
                self.stopped.borrow_mut().insert(*id);
                true
            }
            LabRequest::Resume { id } => {
                self.stopped.borrow_mut().remove(id);
                false
            }
            _ => false,
        }
    }

    fn is_stopped(&self, id: u32) -> bool {
        self.stopped.borrow().contains(&id)
    }
}

/// Lets the worker's event loop run (so Stop and photos are seen between steps).
async fn yield_to_event_loop() {
    let promise = js_sys::Promise::new(&mut |resolve, _| {
        let _ = scope().set_timeout_with_callback(&resolve);
    });
    let _ = JsFuture::from(promise).await;
}

/// What a step leaves to do.
enum After {
    /// Queue the next step.
    Continue,
    /// The run ended (`stopped`: by a Stop, not by finishing).
    Finished { stopped: bool },
}

fn run_id(request: &LabRequest) -> u32 {
    match *request {
        LabRequest::Shatter { id, .. }
        | LabRequest::Train { id, .. }
        | LabRequest::Resume { id }
        | LabRequest::Next { id, .. }
        | LabRequest::Stop { id } => id,
    }
}

impl Engine {
    /// Runs one lab request; its answers (one per step) go out from here.
    pub(super) async fn lab(&self, request: LabRequest) {
        let Some(experiment) = request.experiment() else {
            return; // Stop: handled on arrival.
        };
        let id = run_id(&request);
        if let Some(reason) = request.refusal() {
            // Refused before it started: any run in progress goes on.
            self.outbox.post(&Response::Lab(LabResponse::Error {
                id,
                experiment,
                message: reason,
            }));
            return;
        }
        let outcome = self.lab_step(request).await;
        if self.device_lost() {
            return; // Reported by its own message; the page restarts the engine.
        }
        match outcome {
            Ok(After::Finished { stopped }) => {
                self.outbox.post(&Response::Lab(LabResponse::Finished {
                    id,
                    experiment,
                    stopped,
                }))
            }
            Ok(After::Continue) => {
                yield_to_event_loop().await;
                self.queue_next(Request::Lab(LabRequest::Next { id, experiment }));
            }
            Err(e) => {
                // A failed run is forgotten: its state may be half-updated.
                match experiment {
                    LabExperiment::Shatter => drop(self.lab_runs.shatter.borrow_mut().take()),
                    LabExperiment::Train => drop(self.lab_runs.train.borrow_mut().take()),
                }
                self.outbox.post(&Response::Lab(LabResponse::Error {
                    id,
                    experiment,
                    message: e.to_string(),
                }));
            }
        }
    }

    async fn lab_step(&self, request: LabRequest) -> Result<After> {
        match request {
            LabRequest::Shatter {
                id,
                networks,
                seed,
                points,
                backend,
            } => {
                let device = self.lab_device(backend).await;
                // Residual and plain networks of one depth share their weights: neighbours.
                let mut networks = networks;
                networks.sort_by_key(|n| (depth(&n.arch), n.plain));
                *self.lab_runs.shatter.borrow_mut() = Some(ShatterRun {
                    id,
                    networks,
                    seed,
                    t: line_parameters(points),
                    device,
                    current: 0,
                    grads: Vec::new(),
                    built: None,
                    ms: 0.0,
                });
                self.shatter_step(id).await
            }
            LabRequest::Train {
                id,
                networks,
                steps,
                batch,
                lr,
                seed,
                width,
                data,
                backend,
            } => {
                let device = self.lab_device(backend).await;
                self.lab_runs.train.borrow_mut().take();
                let data: Rc<dyn Dataset> = match data {
                    TrainData::Grating => Rc::new(SyntheticGratings::standard()),
                    TrainData::Cifar10 => self.cifar_training_set().await?,
                };
                let settings = TrainSettings {
                    lr,
                    width,
                    ..TrainSettings::default()
                };
                let trainers = networks
                    .iter()
                    .map(|n| {
                        Trainer::he_initialized_with(&n.arch, n.plain, seed, &settings, &device)
                    })
                    .collect::<resnet_lab_core::Result<Vec<_>>>()?;
                let batches = Batches::new(data.len(), seed);
                *self.lab_runs.train.borrow_mut() = Some(TrainRun {
                    id,
                    trainers,
                    steps,
                    batch,
                    data,
                    batches,
                    current: None,
                    step: 0,
                    next_network: 0,
                });
                self.train_step(id).await
            }
            LabRequest::Next {
                id,
                experiment: LabExperiment::Shatter,
            } => self.shatter_step(id).await,
            LabRequest::Next { id, .. } | LabRequest::Resume { id } => self.train_step(id).await,
            LabRequest::Stop { .. } => Ok(After::Finished { stopped: true }),
        }
    }

    /// The device lab networks run on: the loaded model's backend, or the one picked now.
    async fn lab_device(&self, choice: BackendPreference) -> Device {
        self.backend(choice).await.device.clone()
    }

    /// The next chunk of the current network's line; a finished line is reported.
    async fn shatter_step(&self, id: u32) -> Result<After> {
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

    /// One SGD step of the next network.
    async fn train_step(&self, id: u32) -> Result<After> {
        let Some(mut run) = self.lab_runs.train.borrow_mut().take() else {
            return Ok(After::Finished { stopped: true });
        };
        let after = if run.id != id {
            After::Finished { stopped: true }
        } else if self.lab_runs.is_stopped(id) || run.step >= run.steps {
            After::Finished {
                stopped: run.step < run.steps,
            }
        } else {
            train_one(&mut run, self).await?
        };
        // Kept when stopped, so that Resume continues from here.
        *self.lab_runs.train.borrow_mut() = Some(run);
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

async fn train_one(run: &mut TrainRun, engine: &Engine) -> Result<After> {
    let network = run.next_network;
    let (images, labels) = match run.current.take() {
        Some(batch) => batch,
        None => run.batches.next_batch(run.data.as_ref(), run.batch),
    };
    let t0 = now();
    let record = run.trainers[network].step(&images, &labels).await?;
    let step_ms = now() - t0;
    engine.outbox.post(&Response::Lab(LabResponse::TrainStep {
        id: run.id,
        network,
        point: TrainPoint {
            step: record.step,
            loss: record.loss,
            accuracy: record.accuracy,
        },
        step_ms,
    }));
    run.next_network += 1;
    if run.next_network == run.trainers.len() {
        run.next_network = 0;
        run.step += 1;
    } else {
        run.current = Some((images, labels));
    }
    Ok(if run.step >= run.steps {
        After::Finished { stopped: false }
    } else {
        After::Continue
    })
}
