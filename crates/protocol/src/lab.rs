//! Messages of the page's Lab section: the lesion study (Veit, Wilber & Belongie 2016).
//!
//! The report reads, as JSON, like `resnet-lab lesion --json` (without logits), so the
//! page's "Download JSON" gives the CLI's document.

use serde::{Deserialize, Serialize};

use crate::{BackendKind, PredictionRow};

/// Most photos one lesion study runs on (the core's batch: a bound on the memory held).
pub const MAX_LESION_PHOTOS: usize = 8;

/// A photo of the page named in a lab request: its id (the engine keeps the last crops by
/// id) and file name. Its `File` travels beside the request, in the same order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabPhoto {
    pub id: u32,
    pub name: String,
}

/// How one altered network classifies the photos, compared with the intact residual one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionOutcome {
    /// Share of the photos whose top-1 class is the intact network's.
    pub top1_unchanged: f64,
    /// Mean probability of the intact network's top-1 class.
    pub mean_prob: f64,
    /// Top classes per photo.
    pub top: Vec<Vec<PredictionRow>>,
}

/// One block deleted alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionBlock {
    /// torchvision's name: `layer1.0`, ...
    pub block: String,
    pub stage: usize,
    pub stride: usize,
    /// Whether the block has a projection shortcut (which stays when it is deleted).
    pub downsample: bool,
    #[serde(flatten)]
    pub outcome: LesionOutcome,
}

/// The intact residual network's top classes per photo.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionIntact {
    pub top: Vec<Vec<PredictionRow>>,
}

/// The same weights with every skip removed: intact, and with each block deleted alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlainLesions {
    /// `None` until that step of a study has run (the CLI's document always has it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intact: Option<LesionOutcome>,
    pub blocks: Vec<LesionBlock>,
}

/// Most random draws per k (the core's `lesion::MAX_DRAWS`).
pub const MAX_RANDOM_DRAWS: usize = 100;
/// The largest k asked for; the engine stops at the network's number of blocks.
pub const MAX_RANDOM_K: usize = 64;

/// The random-deletion curve of a study, as `resnet-lab lesion --random-k K --draws N
/// --seed S` draws it (Veit et al. 2016, Figure 5): k = 1…K blocks deleted at random from
/// the residual network, `draws` sets per k.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RandomSettings {
    pub max_k: usize,
    pub draws: usize,
    pub seed: u64,
}

impl RandomSettings {
    /// Why these settings cannot run, in words (`None`: they can).
    pub fn refusal(&self) -> Option<String> {
        if !(1..=MAX_RANDOM_K).contains(&self.max_k) {
            return Some(format!(
                "k must lie in 1 to {MAX_RANDOM_K} blocks (got {})",
                self.max_k
            ));
        }
        if !(1..=MAX_RANDOM_DRAWS).contains(&self.draws) {
            return Some(format!(
                "the draws per k must lie in 1 to {MAX_RANDOM_DRAWS} (got {})",
                self.draws
            ));
        }
        None
    }
}

/// One set of random blocks deleted together.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionDraw {
    /// The deleted blocks' names, in forward order.
    pub blocks: Vec<String>,
    pub top1_unchanged: f64,
    pub mean_prob: f64,
}

/// The draws of one k and their means.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomPoint {
    pub k: usize,
    /// Means over `draws`.
    pub top1_unchanged: f64,
    pub mean_prob: f64,
    pub draws: Vec<LesionDraw>,
}

/// The curve as `resnet-lab lesion --json` writes it under `random_k`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RandomCurve {
    pub seed: u64,
    /// Draws per k asked for.
    pub draws: usize,
    /// Ascending k.
    pub curve: Vec<RandomPoint>,
}

/// What one step of a study computed: one altered network.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LesionStep {
    /// One block deleted alone from the residual or the plain network.
    Block { plain: bool, block: LesionBlock },
    /// The plain network with nothing deleted.
    PlainIntact { outcome: LesionOutcome },
    /// One draw of `k` random blocks deleted from the residual network.
    Random { k: usize, draw: LesionDraw },
}

/// The lesion study of the loaded network on the page's photos.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LesionReport {
    pub model: String,
    /// File names of the photos, in the order of every `top` list.
    pub images: Vec<String>,
    pub intact: LesionIntact,
    /// Each block of the residual network deleted alone, in forward order.
    pub blocks: Vec<LesionBlock>,
    pub plain: PlainLesions,
    pub backend: BackendKind,
    /// The study alone, without decoding the photos.
    pub study_ms: f64,
    /// With random deletions asked for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub random_k: Option<RandomCurve>,
}

impl LesionReport {
    /// Adds one step's network (the page builds the report as the steps arrive); a draw
    /// updates its k's means.
    pub fn add(&mut self, step: LesionStep) {
        match step {
            LesionStep::Block {
                plain: false,
                block,
            } => self.blocks.push(block),
            LesionStep::Block { plain: true, block } => self.plain.blocks.push(block),
            LesionStep::PlainIntact { outcome } => self.plain.intact = Some(outcome),
            LesionStep::Random { k, draw } => {
                let Some(random) = &mut self.random_k else {
                    return;
                };
                let at = match random.curve.iter().position(|p| p.k == k) {
                    Some(at) => at,
                    None => {
                        random.curve.push(RandomPoint {
                            k,
                            top1_unchanged: 0.0,
                            mean_prob: 0.0,
                            draws: Vec::new(),
                        });
                        random.curve.sort_by_key(|p| p.k);
                        random.curve.iter().position(|p| p.k == k).unwrap_or(0)
                    }
                };
                let point = &mut random.curve[at];
                point.draws.push(draw);
                let count = point.draws.len() as f64;
                point.top1_unchanged =
                    point.draws.iter().map(|d| d.top1_unchanged).sum::<f64>() / count;
                point.mean_prob = point.draws.iter().map(|d| d.mean_prob).sum::<f64>() / count;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(top1: f64) -> LesionOutcome {
        LesionOutcome {
            top1_unchanged: top1,
            mean_prob: 0.5,
            top: vec![vec![PredictionRow {
                index: 1,
                label: "goldfish".into(),
                prob: 0.5,
            }]],
        }
    }

    #[test]
    fn a_lesion_report_reads_like_the_cli_json() {
        let block = LesionBlock {
            block: "layer1.0".into(),
            stage: 1,
            stride: 1,
            downsample: true,
            outcome: outcome(1.0),
        };
        let report = LesionReport {
            model: "resnet50".into(),
            images: vec!["fish.jpg".into()],
            intact: LesionIntact {
                top: outcome(1.0).top,
            },
            blocks: vec![block.clone()],
            plain: PlainLesions {
                intact: Some(outcome(0.0)),
                blocks: vec![block],
            },
            backend: BackendKind::Cpu,
            study_ms: 12.0,
            random_k: None,
        };
        let json = serde_json::to_value(&report).unwrap();
        // The fields `resnet-lab lesion --json` writes, at the same places.
        assert_eq!(json["blocks"][0]["block"], "layer1.0");
        assert_eq!(json["blocks"][0]["downsample"], true);
        assert_eq!(json["blocks"][0]["top1_unchanged"], 1.0);
        assert_eq!(json["blocks"][0]["top"][0][0]["label"], "goldfish");
        assert_eq!(json["plain"]["intact"]["top1_unchanged"], 0.0);
        assert_eq!(json["intact"]["top"][0][0]["index"], 1);
        assert!(
            json.get("random_k").is_none(),
            "absent when not asked for, as in the CLI"
        );
        assert_eq!(
            serde_json::from_value::<LesionReport>(json).unwrap(),
            report
        );
    }

    fn draw(blocks: &[&str], top1: f64, p: f64) -> LesionStep {
        LesionStep::Random {
            k: blocks.len(),
            draw: LesionDraw {
                blocks: blocks.iter().map(|b| b.to_string()).collect(),
                top1_unchanged: top1,
                mean_prob: p,
            },
        }
    }

    #[test]
    fn steps_build_the_report_and_each_k_is_the_mean_of_its_draws() {
        let mut report = LesionReport {
            model: "resnet18".into(),
            images: vec!["a.jpg".into(), "b.jpg".into()],
            intact: LesionIntact { top: Vec::new() },
            blocks: Vec::new(),
            plain: PlainLesions {
                intact: None,
                blocks: Vec::new(),
            },
            backend: BackendKind::Cpu,
            study_ms: 0.0,
            random_k: Some(RandomCurve {
                seed: 7,
                draws: 2,
                curve: Vec::new(),
            }),
        };
        let json = serde_json::to_value(&report).unwrap();
        assert!(json["plain"].get("intact").is_none());
        let block = |name: &str| LesionBlock {
            block: name.into(),
            stage: 1,
            stride: 1,
            downsample: false,
            outcome: outcome(0.5),
        };
        report.add(LesionStep::Block {
            plain: false,
            block: block("layer1.0"),
        });
        report.add(LesionStep::PlainIntact {
            outcome: outcome(0.0),
        });
        report.add(LesionStep::Block {
            plain: true,
            block: block("layer1.0"),
        });
        report.add(draw(&["layer1.1"], 1.0, 0.75));
        report.add(draw(&["layer2.0"], 0.5, 0.25));
        report.add(draw(&["layer1.0", "layer2.0"], 0.0, 0.125));
        assert_eq!(report.blocks.len(), 1);
        assert_eq!(report.plain.blocks.len(), 1);
        assert_eq!(report.plain.intact.as_ref().unwrap().top1_unchanged, 0.0);
        let json = serde_json::to_value(&report).unwrap();
        // `resnet-lab lesion --random-k 2 --draws 2 --seed 7 --json`'s shape: (1 + 0.5) / 2 and
        // (0.75 + 0.25) / 2 for k = 1; k = 2 has one draw so far.
        let random = &json["random_k"];
        assert_eq!(random["seed"], 7);
        assert_eq!(random["draws"], 2);
        assert_eq!(random["curve"][0]["k"], 1);
        assert_eq!(random["curve"][0]["top1_unchanged"], 0.75);
        assert_eq!(random["curve"][0]["mean_prob"], 0.5);
        assert_eq!(random["curve"][0]["draws"][1]["blocks"][0], "layer2.0");
        assert_eq!(random["curve"][1]["k"], 2);
        assert_eq!(random["curve"][1]["top1_unchanged"], 0.0);
        assert_eq!(random["curve"][1]["draws"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn hostile_random_settings_are_refused() {
        let ok = RandomSettings {
            max_k: 8,
            draws: 3,
            seed: 0,
        };
        assert_eq!(ok.refusal(), None);
        for bad in [
            RandomSettings { max_k: 0, ..ok },
            RandomSettings {
                max_k: 1 << 40,
                ..ok
            },
            RandomSettings { draws: 0, ..ok },
            RandomSettings { draws: 101, ..ok },
        ] {
            assert!(bad.refusal().is_some(), "{bad:?}");
        }
    }
}
