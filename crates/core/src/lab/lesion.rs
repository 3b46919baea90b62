//! Lesion study (Veit, Wilber & Belongie 2016, "Residual networks behave like ensembles of
//! relatively shallow networks", §4): delete residual blocks and see whether the network
//! still classifies.
//!
//! Deleting block `b` makes its output `ReLU(S_b(x_b))`: the branch `F_b` is gone and the
//! shortcut stays (a projection shortcut too, or the shapes would no longer fit). The other
//! blocks of a residual network still receive a signal through their shortcuts, so most
//! single deletions barely matter. The same weights with every skip removed (the plain
//! network, each block `ReLU(F_b(x_b))`) force the signal through every block; there a
//! deleted block becomes the same `ReLU(S_b(x_b))`.
//!
//! Cost: a lesioned network computes exactly what the intact one does up to its first deleted
//! block, so every block's input is kept from one intact pass and each lesioned network is
//! recomputed from its first deleted block on (half a forward pass per block on average).
//! [`steps`] runs the study one altered network at a time (the page's engine reports each).

use burn::tensor::{Device, Tensor};
use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::index::sample;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::config::BlockInfo;
use crate::model::{BlockMode, ResNet, ResNetConfig};
use crate::predict::{Classifier, read_f32, softmax, top_k, upload_images};
use crate::weights::LoadedWeights;

pub mod steps;
pub use steps::{LesionBatch, LesionTask, plan};

/// Images run through the network together: bounds the memory held by the cached block
/// inputs (ResNet-50, 8 images at 224×224: about 0.4 GB) whatever the number of photos.
pub const MAX_BATCH: usize = 8;

/// Random draws per `k` at most, so that a typo cannot ask for hours of work.
pub const MAX_DRAWS: usize = 100;

/// One altered network and how it classifies compared with the intact residual network.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Lesion {
    /// Indices of the deleted blocks, in forward order.
    pub deleted: Vec<usize>,
    /// Share of the images whose top-1 class is the intact network's.
    pub top1_unchanged: f64,
    /// Mean over the images of the probability of the intact network's top-1 class.
    pub mean_prob: f64,
    /// Logits per image.
    pub logits: Vec<Vec<f32>>,
}

/// `k` random blocks deleted from the residual network, over several draws.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RandomDeletion {
    pub k: usize,
    /// Means over the draws.
    pub top1_unchanged: f64,
    pub mean_prob: f64,
    pub draws: Vec<Lesion>,
}

/// Everything `resnet-lab lesion` prints. Every [`Lesion`] is compared with `intact`, the
/// network as trained: the question is always "does it still name the photo as before?".
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LesionReport {
    pub model: String,
    pub blocks: Vec<BlockInfo>,
    /// Logits per image of the network as trained.
    pub intact: Vec<Vec<f32>>,
    /// Each block deleted alone, in forward order.
    pub single: Vec<Lesion>,
    /// The same weights with every skip connection removed (nothing deleted).
    pub plain_intact: Lesion,
    /// The plain network with each block deleted alone.
    pub plain_single: Vec<Lesion>,
    /// For k = 1, 2, ...: random deletions from the residual network.
    pub random: Vec<RandomDeletion>,
}

/// Which random deletions to run: `k = 1..=max_k`, `draws` each, from `seed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RandomPlan {
    pub max_k: usize,
    pub draws: usize,
    pub seed: u64,
}

impl RandomPlan {
    /// The block sets to delete, `draws` per k (each set sorted), after checking the plan
    /// against a network of `blocks` blocks.
    pub fn deletion_sets(&self, blocks: usize) -> Result<Vec<Vec<Vec<usize>>>> {
        if self.max_k == 0 || self.max_k > blocks {
            return Err(Error::Input(format!(
                "--random-k must be between 1 and the number of blocks ({blocks}), not {}",
                self.max_k
            )));
        }
        if self.draws == 0 || self.draws > MAX_DRAWS {
            return Err(Error::Input(format!(
                "--draws must be between 1 and {MAX_DRAWS}, not {}",
                self.draws
            )));
        }
        let mut rng = StdRng::seed_from_u64(self.seed);
        Ok((1..=self.max_k)
            .map(|k| {
                (0..self.draws)
                    .map(|_| {
                        let mut set = sample(&mut rng, blocks, k).into_vec();
                        set.sort_unstable();
                        set
                    })
                    .collect()
            })
            .collect())
    }
}

/// A network on a device, ready for lesion experiments.
#[derive(Debug)]
pub struct LesionStudy {
    model: ResNet,
    config: ResNetConfig,
    labels: LabelSet,
    name: String,
    device: Device,
}

impl LesionStudy {
    pub fn new(weights: LoadedWeights, device: &Device) -> Result<Self> {
        let config = weights.info.config.clone();
        Ok(Self {
            model: ResNet::from_tensors(&config, weights.tensors, device)?,
            labels: weights.info.labels.clone(),
            name: weights.info.name(),
            config,
            device: device.clone(),
        })
    }

    /// The network a [`Classifier`] already holds: no second copy of the weights (Burn's
    /// tensors are shared on clone), as in the page's engine.
    pub fn from_classifier(classifier: &Classifier) -> Self {
        Self {
            model: classifier.model.clone(),
            config: classifier.info.config.clone(),
            labels: classifier.info.labels.clone(),
            name: classifier.info.name(),
            device: classifier.device.clone(),
        }
    }

    pub fn labels(&self) -> &LabelSet {
        &self.labels
    }

    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// Logits per image of the network with every block computed as `modes` says; `images`
    /// are `[3, height, width]` each. Mostly for checking single configurations.
    pub async fn logits(
        &self,
        images: &[Vec<f32>],
        size: [usize; 2],
        modes: &[BlockMode],
    ) -> Result<Vec<Vec<f32>>> {
        if modes.len() != self.model.blocks.len() {
            return Err(Error::Input(format!(
                "{} block modes for a network of {} blocks",
                modes.len(),
                self.model.blocks.len()
            )));
        }
        let mut out = Vec::new();
        for chunk in images.chunks(MAX_BATCH) {
            let x = self.model.forward_stem(self.upload(chunk, size)?);
            let h = self.model.forward_blocks_from(x, 0, modes);
            out.extend(self.read_logits(h, "the altered network").await?);
        }
        Ok(out)
    }

    /// The whole study: each block deleted alone from the residual and from the plain
    /// network, and `random` deletions from the residual network, batch by batch in
    /// [`plan`]'s order (as the page's engine computes it, one task per step).
    pub async fn run(
        &self,
        images: &[Vec<f32>],
        size: [usize; 2],
        random: Option<RandomPlan>,
    ) -> Result<LesionReport> {
        let n = self.model.blocks.len();
        let random_sets = match random {
            Some(random) => random.deletion_sets(n)?,
            None => Vec::new(),
        };
        let tasks = plan(n, &random_sets);
        // Logits per task, gathered over the image batches.
        let mut intact = Vec::new();
        let mut altered = vec![Vec::new(); tasks.len()];
        for chunk in images.chunks(MAX_BATCH) {
            let mut batch = self.start_batch(chunk, size).await?;
            for (task, logits) in tasks.iter().zip(&mut altered) {
                logits.extend(self.lesion(&mut batch, task).await?.logits);
            }
            intact.extend(batch.into_intact());
        }

        let mut lesions = tasks
            .iter()
            .zip(altered)
            .map(|(task, logits)| compare(&intact, task.deleted(), logits));
        let single: Vec<Lesion> = lesions.by_ref().take(n).collect();
        let plain_intact = lesions
            .next()
            .ok_or_else(|| Error::Input("the plain network was not run".into()))?;
        let plain_single: Vec<Lesion> = lesions.by_ref().take(n).collect();
        let random = random_sets
            .iter()
            .enumerate()
            .map(|(i, sets)| {
                let draws: Vec<Lesion> = lesions.by_ref().take(sets.len()).collect();
                let count = draws.len().max(1) as f64;
                RandomDeletion {
                    k: i + 1,
                    top1_unchanged: draws.iter().map(|d| d.top1_unchanged).sum::<f64>() / count,
                    mean_prob: draws.iter().map(|d| d.mean_prob).sum::<f64>() / count,
                    draws,
                }
            })
            .collect();
        Ok(LesionReport {
            model: self.name.clone(),
            blocks: self.config.blocks(),
            intact,
            single,
            plain_intact,
            plain_single,
            random,
        })
    }

    fn upload(&self, images: &[Vec<f32>], [height, width]: [usize; 2]) -> Result<Tensor<4>> {
        if height < 32 || width < 32 {
            return Err(Error::Input(format!(
                "a {height}×{width} input is too small for a ResNet (at least 32×32)"
            )));
        }
        upload_images(images, [height, width], &self.device)
    }

    /// The head on the last block's output, read back as one row of logits per image.
    async fn read_logits(&self, features: Tensor<4>, what: &str) -> Result<Vec<Vec<f32>>> {
        let logits = self.model.forward_head(features);
        let [rows, classes] = logits.dims();
        let values = read_f32(logits).await?;
        if values.iter().any(|v| !v.is_finite()) {
            return Err(Error::Input(format!(
                "{what}'s output holds NaN or infinity: the weights or the input make it overflow"
            )));
        }
        Ok(values
            .chunks(classes)
            .take(rows)
            .map(<[f32]>::to_vec)
            .collect())
    }
}

/// How `logits` (per image) classify compared with the `reference` network's top-1 classes.
pub fn compare(reference: &[Vec<f32>], deleted: Vec<usize>, logits: Vec<Vec<f32>>) -> Lesion {
    let count = reference.len().max(1) as f64;
    let mean_prob = reference
        .iter()
        .zip(&logits)
        .map(|(r, l)| softmax(l)[top1(r)] as f64)
        .sum::<f64>()
        / count;
    Lesion {
        top1_unchanged: top1_agreement(reference, &logits),
        mean_prob,
        deleted,
        logits,
    }
}

/// Share of the rows whose arg-max is the same in `a` and `b`.
fn top1_agreement(a: &[Vec<f32>], b: &[Vec<f32>]) -> f64 {
    let same = a.iter().zip(b).filter(|(x, y)| top1(x) == top1(y)).count();
    same as f64 / a.len().max(1) as f64
}

fn top1(logits: &[f32]) -> usize {
    top_k(logits, 1).first().map_or(0, |(i, _)| *i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comparison_counts_top1_and_reference_probability() {
        // Image 0 keeps class 1; image 1 moves from class 0 to class 1.
        let reference = vec![vec![0.0, 2.0], vec![3.0, 0.0]];
        let altered = vec![vec![0.0, 1.0], vec![0.0, 2.0]];
        let lesion = compare(&reference, vec![4], altered);
        assert_eq!(lesion.top1_unchanged, 0.5);
        // softmax([0, 1])[1] = e/(1+e); softmax([0, 2])[0] = 1/(1+e²).
        let e = std::f64::consts::E;
        let want = (e / (1.0 + e) + 1.0 / (1.0 + e * e)) / 2.0;
        assert!((lesion.mean_prob - want).abs() < 1e-7);
    }

    #[test]
    fn random_sets_are_seeded_distinct_and_checked() {
        let plan = RandomPlan {
            max_k: 4,
            draws: 3,
            seed: 7,
        };
        let sets = plan.deletion_sets(16).unwrap();
        assert_eq!(sets.len(), 4);
        for (k, draws) in sets.iter().enumerate() {
            assert_eq!(draws.len(), 3);
            for set in draws {
                assert_eq!(set.len(), k + 1);
                assert!(set.windows(2).all(|w| w[0] < w[1]) && set[k] < 16);
            }
        }
        assert_eq!(sets, plan.deletion_sets(16).unwrap());
        assert_ne!(
            sets,
            RandomPlan { seed: 8, ..plan }.deletion_sets(16).unwrap()
        );
        assert!(RandomPlan { max_k: 0, ..plan }.deletion_sets(16).is_err());
        assert!(RandomPlan { max_k: 17, ..plan }.deletion_sets(16).is_err());
        assert!(RandomPlan { draws: 0, ..plan }.deletion_sets(16).is_err());
    }
}
