//! The lesion tab's state: the study growing as the engine's steps arrive (each block
//! deleted, then the random deletions), until it is done, stopped or fails.

use std::rc::Rc;

use super::lab_runs::RunState;
use resnet_lab_protocol::LesionReport;
use resnet_lab_protocol::lab::RandomSettings;
use resnet_lab_protocol::lab_runs::{LabExperiment, LabResponse};

#[derive(Debug, Clone, PartialEq, Default)]
pub struct LesionState {
    /// The study whose answers count.
    pub run: Option<u32>,
    pub state: RunState,
    /// What has been computed so far (`None` before the first answer).
    pub report: Option<Rc<LesionReport>>,
    /// Altered networks computed, and in all.
    pub done: usize,
    pub total: usize,
    /// The photos and random-deletion settings the study was asked with.
    pub photos: usize,
    pub random: Option<RandomSettings>,
    pub error: Option<String>,
    /// Why the study ended without a Stop or an error (the engine restarted).
    pub notice: Option<String>,
    /// The longest step's compute time: about the most a photo waited for the study.
    pub longest_step_ms: f64,
}

impl LesionState {
    /// The value of the tab's `data-state`.
    pub fn status(&self) -> &'static str {
        self.state.as_str()
    }

    /// A new study was sent: the previous one's rows go.
    pub fn requested(&mut self, id: u32, photos: usize, random: Option<RandomSettings>) {
        *self = LesionState {
            run: Some(id),
            state: RunState::Running,
            photos,
            random,
            ..LesionState::default()
        };
    }

    /// Whether an engine answer is about a lesion study (rather than a long run).
    pub fn concerns(response: &LabResponse) -> bool {
        matches!(
            response,
            LabResponse::LesionStarted { .. }
                | LabResponse::LesionStep { .. }
                | LabResponse::Finished {
                    experiment: LabExperiment::Lesion,
                    ..
                }
                | LabResponse::Error {
                    experiment: LabExperiment::Lesion,
                    ..
                }
        )
    }

    /// Applies an engine answer; answers about other studies, or arriving after this one
    /// ended, are ignored.
    pub fn respond(&mut self, response: LabResponse) {
        let running = self.state == RunState::Running;
        match response {
            LabResponse::LesionStarted { id, report, steps } if self.run == Some(id) && running => {
                self.report = Some(Rc::new(*report));
                self.total = steps;
                self.done = 0;
            }
            LabResponse::LesionStep { id, step, ms } if self.run == Some(id) && running => {
                if let Some(report) = &mut self.report {
                    let report = Rc::make_mut(report);
                    report.add(*step);
                    report.study_ms += ms;
                    self.done += 1;
                    self.longest_step_ms = self.longest_step_ms.max(ms);
                }
            }
            LabResponse::Finished { id, stopped, .. } if self.run == Some(id) && running => {
                self.state = if stopped {
                    RunState::Stopped
                } else {
                    RunState::Done
                };
            }
            LabResponse::Error { id, message, .. } if self.run == Some(id) && running => {
                self.state = RunState::Error;
                self.error = Some(message);
            }
            _ => {}
        }
    }

    /// The engine restarted: a running study is gone with it. Its rows stay; it reads as
    /// stopped, with the reason.
    pub fn engine_restarted(&mut self) {
        if self.state == RunState::Running {
            self.state = RunState::Stopped;
            self.notice = Some(
                "The engine restarted, so the study stopped: the rows computed before are kept; run it again for the rest."
                    .into(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resnet_lab_protocol::BackendKind;
    use resnet_lab_protocol::lab::{
        LesionBlock, LesionDraw, LesionIntact, LesionOutcome, LesionStep, PlainLesions, RandomCurve,
    };

    fn started(id: u32, steps: usize) -> LabResponse {
        LabResponse::LesionStarted {
            id,
            report: Box::new(LesionReport {
                model: "resnet50".into(),
                images: vec!["a.jpg".into()],
                intact: LesionIntact { top: Vec::new() },
                blocks: Vec::new(),
                plain: PlainLesions {
                    intact: None,
                    blocks: Vec::new(),
                },
                backend: BackendKind::Cpu,
                study_ms: 10.0,
                random_k: Some(RandomCurve {
                    seed: 0,
                    draws: 1,
                    curve: Vec::new(),
                }),
            }),
            steps,
        }
    }

    fn block(id: u32, name: &str) -> LabResponse {
        LabResponse::LesionStep {
            id,
            step: Box::new(LesionStep::Block {
                plain: false,
                block: LesionBlock {
                    block: name.into(),
                    stage: 1,
                    stride: 1,
                    downsample: false,
                    outcome: LesionOutcome {
                        top1_unchanged: 1.0,
                        mean_prob: 0.5,
                        top: Vec::new(),
                    },
                },
            }),
            ms: 5.0,
        }
    }

    fn finished(id: u32, stopped: bool) -> LabResponse {
        LabResponse::Finished {
            id,
            experiment: LabExperiment::Lesion,
            stopped,
        }
    }

    #[test]
    fn rows_grow_with_the_steps_of_the_awaited_study_until_it_stops() {
        let mut lesion = LesionState::default();
        assert_eq!(lesion.status(), "idle");
        lesion.requested(4, 2, None);
        assert_eq!(lesion.status(), "running");
        for response in [
            started(3, 40), // an older study: ignored
            started(4, 40),
            block(4, "layer1.0"),
            block(3, "layer9.9"),
            block(4, "layer1.1"),
        ] {
            assert!(LesionState::concerns(&response));
            lesion.respond(response);
        }
        let report = lesion.report.clone().unwrap();
        let names: Vec<&str> = report.blocks.iter().map(|b| b.block.as_str()).collect();
        assert_eq!(names, ["layer1.0", "layer1.1"]);
        assert_eq!((lesion.done, lesion.total), (2, 40));
        assert_eq!((report.study_ms, lesion.longest_step_ms), (20.0, 5.0));
        lesion.respond(finished(4, true));
        assert_eq!(lesion.status(), "stopped");
        // A step that was under way when Stop arrived adds nothing after the stop.
        lesion.respond(block(4, "layer1.2"));
        lesion.respond(finished(4, false));
        assert_eq!(lesion.report.as_ref().unwrap().blocks.len(), 2);
        assert_eq!(lesion.status(), "stopped");
    }

    #[test]
    fn an_engine_restart_stops_a_running_study_and_keeps_its_rows() {
        let mut lesion = LesionState::default();
        lesion.engine_restarted();
        assert_eq!((lesion.status(), lesion.notice.is_none()), ("idle", true));
        lesion.requested(1, 1, None);
        lesion.respond(started(1, 40));
        lesion.respond(block(1, "layer1.0"));
        lesion.engine_restarted();
        assert_eq!(lesion.status(), "stopped");
        assert!(lesion.notice.as_deref().unwrap().contains("restarted"));
        assert_eq!(lesion.report.as_ref().unwrap().blocks.len(), 1);
        // A finished study stays finished.
        lesion.requested(2, 1, None);
        lesion.respond(started(2, 0));
        lesion.respond(finished(2, false));
        lesion.engine_restarted();
        assert_eq!((lesion.status(), lesion.notice.is_none()), ("done", true));
    }

    #[test]
    fn an_error_keeps_the_rows_and_says_why() {
        let mut lesion = LesionState::default();
        lesion.requested(1, 1, None);
        lesion.respond(started(1, 3));
        lesion.respond(LabResponse::LesionStep {
            id: 1,
            step: Box::new(LesionStep::Random {
                k: 1,
                draw: LesionDraw {
                    blocks: vec!["layer2.0".into()],
                    top1_unchanged: 0.0,
                    mean_prob: 0.25,
                },
            }),
            ms: 1.0,
        });
        let error = LabResponse::Error {
            id: 1,
            experiment: LabExperiment::Lesion,
            message: "another model was loaded".into(),
        };
        assert!(LesionState::concerns(&error));
        assert!(!LesionState::concerns(&LabResponse::Finished {
            id: 1,
            experiment: LabExperiment::Train,
            stopped: true
        }));
        lesion.respond(error);
        assert_eq!(lesion.status(), "error");
        let curve = &lesion
            .report
            .as_ref()
            .unwrap()
            .random_k
            .as_ref()
            .unwrap()
            .curve;
        assert_eq!((curve[0].k, curve[0].mean_prob), (1, 0.25));
    }
}
