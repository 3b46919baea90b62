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
    pub intact: LesionOutcome,
    pub blocks: Vec<LesionBlock>,
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
                intact: outcome(0.0),
                blocks: vec![block],
            },
            backend: BackendKind::Cpu,
            study_ms: 12.0,
        };
        let json = serde_json::to_value(&report).unwrap();
        // The fields `resnet-lab lesion --json` writes, at the same places.
        assert_eq!(json["blocks"][0]["block"], "layer1.0");
        assert_eq!(json["blocks"][0]["downsample"], true);
        assert_eq!(json["blocks"][0]["top1_unchanged"], 1.0);
        assert_eq!(json["blocks"][0]["top"][0][0]["label"], "goldfish");
        assert_eq!(json["plain"]["intact"]["top1_unchanged"], 0.0);
        assert_eq!(json["intact"]["top"][0][0]["index"], 1);
        assert_eq!(
            serde_json::from_value::<LesionReport>(json).unwrap(),
            report
        );
    }
}
