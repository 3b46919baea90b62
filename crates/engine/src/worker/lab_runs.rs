//! The Lab's long runs in the worker: shattered gradients (Balduzzi et al. 2017) and the
//! degradation problem trained live (He et al. 2016), on He-initialised CIFAR networks, with
//! the core's `lab::shatter` and `lab::train` as the CLI's `shatter` and `train` use them;
//! the lesion study ([`super::lab`]) steps the same way.
//!
//! A run is cut into steps: a chunk of one network's line, or one SGD step of one network.
//! After each step the worker lets its event loop run (so Stop and new photos arrive) and
//! queues the next step behind whatever waits (`RequestQueue::push_continuation`): a
//! classification waits for one step at most. Each step's numbers go to the page at once.

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use burn::tensor::Device;
use resnet_lab_core::lab::data::{Batches, Dataset, SyntheticGratings};
use resnet_lab_core::lab::train::{TrainSettings, Trainer};
use resnet_lab_protocol::lab_runs::{LabExperiment, LabRequest, LabResponse, TrainPoint};
use resnet_lab_protocol::{BackendPreference, Request, Response, TrainData};
use wasm_bindgen_futures::JsFuture;

use super::engine::Engine;
use super::js::{now, scope};
use super::lab_shatter::ShatterRun;
use crate::error::Result;

/// A live-training run: every network takes one SGD step on the same batch before the next.
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
    pub(super) shatter: RefCell<Option<ShatterRun>>,
    train: RefCell<Option<TrainRun>>,
    pub(super) lesion: RefCell<Option<super::lab::LesionRun>>,
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

    pub(super) fn is_stopped(&self, id: u32) -> bool {
        self.stopped.borrow().contains(&id)
    }

    /// Drops a failed run: its state may be half-updated.
    fn forget(&self, experiment: LabExperiment) {
        match experiment {
            LabExperiment::Shatter => drop(self.shatter.borrow_mut().take()),
            LabExperiment::Train => drop(self.train.borrow_mut().take()),
            LabExperiment::Lesion => drop(self.lesion.borrow_mut().take()),
        }
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
pub(super) enum After {
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
        self.after_step(id, experiment, outcome).await;
    }

    /// Reports how a step of run `id` ended, or queues the next step.
    pub(super) async fn after_step(
        &self,
        id: u32,
        experiment: LabExperiment,
        outcome: Result<After>,
    ) {
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
                self.lab_runs.forget(experiment);
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
                *self.lab_runs.shatter.borrow_mut() =
                    Some(ShatterRun::new(id, networks, seed, points, device));
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
                zero_init_residual,
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
                    zero_init_residual,
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
            LabRequest::Next {
                id,
                experiment: LabExperiment::Lesion,
            } => self.lesion_step(id).await,
            LabRequest::Next { id, .. } | LabRequest::Resume { id } => self.train_step(id).await,
            LabRequest::Stop { .. } => Ok(After::Finished { stopped: true }),
        }
    }

    /// The device lab networks run on: the loaded model's backend, or the one picked now.
    pub(super) async fn lab_device(&self, choice: BackendPreference) -> Device {
        self.backend(choice).await.device.clone()
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
