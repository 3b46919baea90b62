//! The lesion study one altered network at a time. [`LesionStudy::run`] (the CLI) and the
//! page's engine worker (one network per turn of its queue, so that photos and Stop are seen
//! between networks) walk the same [`plan`] with the same [`LesionStudy::lesion`], so the
//! CLI's tests against PyTorch cover the page's numbers too.
//!
//! A batch keeps every block's input in one unaltered network, residual or plain (the one
//! the last task used): a network with blocks deleted computes exactly what the unaltered one
//! does up to its first deleted block, so only the rest is recomputed. Moving to the other
//! network recomputes the cache (one forward pass), so that one cache at a time is held.

use burn::tensor::Tensor;

use super::{Lesion, LesionStudy, MAX_BATCH, compare};
use crate::error::{Error, Result};
use crate::model::BlockMode;

/// One altered network of a study.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LesionTask {
    /// Block `block` deleted alone, from the residual network or from the plain one.
    Single { plain: bool, block: usize },
    /// The plain network (every skip removed) with nothing deleted.
    PlainIntact,
    /// Draw `draw` (from 0) of `k` random blocks, `deleted` (sorted), deleted from the
    /// residual network.
    Random {
        k: usize,
        draw: usize,
        deleted: Vec<usize>,
    },
}

impl LesionTask {
    /// Whether the task alters the plain network.
    pub fn plain(&self) -> bool {
        matches!(
            self,
            LesionTask::Single { plain: true, .. } | LesionTask::PlainIntact
        )
    }

    /// The deleted blocks, in forward order.
    pub fn deleted(&self) -> Vec<usize> {
        match self {
            LesionTask::Single { block, .. } => vec![*block],
            LesionTask::PlainIntact => Vec::new(),
            LesionTask::Random { deleted, .. } => deleted.clone(),
        }
    }
}

/// Every task of a study on a network of `blocks` blocks, in the order they are computed:
/// each block deleted from the residual network, the plain network intact and with each
/// block deleted, then the random deletions (`random_sets[k - 1]` holds the draws of `k`
/// blocks, as [`super::RandomPlan::deletion_sets`] makes them).
pub fn plan(blocks: usize, random_sets: &[Vec<Vec<usize>>]) -> Vec<LesionTask> {
    let single = |plain| (0..blocks).map(move |block| LesionTask::Single { plain, block });
    let random = random_sets.iter().enumerate().flat_map(|(i, draws)| {
        draws
            .iter()
            .enumerate()
            .map(move |(draw, deleted)| LesionTask::Random {
                k: i + 1,
                draw,
                deleted: deleted.clone(),
            })
    });
    single(false)
        .chain([LesionTask::PlainIntact])
        .chain(single(true))
        .chain(random)
        .collect()
}

/// One batch of images (at most [`MAX_BATCH`]) going through a study.
#[derive(Debug)]
pub struct LesionBatch {
    stem: Tensor<4>,
    /// Logits per image of the network as trained: every task is compared with them.
    intact: Vec<Vec<f32>>,
    /// Every block's input in the unaltered plain (`true`) or residual network.
    cache: Option<(bool, Vec<Tensor<4>>)>,
}

impl LesionBatch {
    /// Logits per image of the intact residual network.
    pub fn intact(&self) -> &[Vec<f32>] {
        &self.intact
    }

    pub fn into_intact(self) -> Vec<Vec<f32>> {
        self.intact
    }
}

fn mode(plain: bool) -> BlockMode {
    if plain {
        BlockMode::Plain
    } else {
        BlockMode::Residual
    }
}

impl LesionStudy {
    /// Uploads `images` (`[3, height, width]` each, one batch of 1 to [`MAX_BATCH`]) and
    /// classifies them with the intact residual network.
    pub async fn start_batch(&self, images: &[Vec<f32>], size: [usize; 2]) -> Result<LesionBatch> {
        if images.is_empty() || images.len() > MAX_BATCH {
            return Err(Error::Input(format!(
                "a lesion batch holds 1 to {MAX_BATCH} images, not {}",
                images.len()
            )));
        }
        let stem = self.model.forward_stem(self.upload(images, size)?);
        let mut batch = LesionBatch {
            stem,
            intact: Vec::new(),
            cache: None,
        };
        let logits = self
            .task_logits(&mut batch, false, &[], "the intact network")
            .await?;
        batch.intact = logits;
        Ok(batch)
    }

    /// `task`'s network on the batch, compared with the intact residual network.
    pub async fn lesion(&self, batch: &mut LesionBatch, task: &LesionTask) -> Result<Lesion> {
        let deleted = task.deleted();
        let what = match task {
            LesionTask::PlainIntact => "the plain network",
            _ => "a lesioned network",
        };
        let logits = self
            .task_logits(batch, task.plain(), &deleted, what)
            .await?;
        Ok(compare(&batch.intact, deleted, logits))
    }

    /// Logits per image of the residual or plain network with `deleted` removed.
    async fn task_logits(
        &self,
        batch: &mut LesionBatch,
        plain: bool,
        deleted: &[usize],
        what: &str,
    ) -> Result<Vec<Vec<f32>>> {
        let n = self.model.blocks.len();
        if n == 0 {
            return Err(Error::Input("the network has no residual blocks".into()));
        }
        if let Some(&b) = deleted.iter().find(|&&b| b >= n) {
            return Err(Error::Input(format!(
                "block {b} does not exist: the network has {n} blocks"
            )));
        }
        if batch.cache.as_ref().map(|(p, _)| *p) != Some(plain) {
            // Free the other network's activations before computing these.
            batch.cache = None;
            batch.cache = Some((plain, self.block_inputs(&batch.stem, plain)));
        }
        let Some((_, cache)) = &batch.cache else {
            return Err(Error::Input("the block inputs were not computed".into()));
        };
        let mut modes = vec![mode(plain); n];
        for &b in deleted {
            modes[b] = BlockMode::Lesioned;
        }
        // Nothing deleted: the unaltered network's last block, on its cached input.
        let first = deleted.iter().copied().min().unwrap_or(n - 1);
        let h = self
            .model
            .forward_blocks_from(cache[first].clone(), first, &modes);
        self.read_logits(h, what).await
    }

    /// Each block's input in the unaltered residual or plain network.
    fn block_inputs(&self, stem: &Tensor<4>, plain: bool) -> Vec<Tensor<4>> {
        let blocks = &self.model.blocks;
        let mut inputs = Vec::with_capacity(blocks.len());
        let mut h = stem.clone();
        for (i, block) in blocks.iter().enumerate() {
            inputs.push(h.clone());
            if i + 1 < blocks.len() {
                h = block.forward_as(h, mode(plain));
            }
        }
        inputs
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_lists_singles_then_the_plain_network_then_the_draws_by_k() {
        let sets = vec![vec![vec![2], vec![0]], vec![vec![0, 1]]];
        let tasks = plan(3, &sets);
        let single = |plain, block| LesionTask::Single { plain, block };
        assert_eq!(
            tasks,
            vec![
                single(false, 0),
                single(false, 1),
                single(false, 2),
                LesionTask::PlainIntact,
                single(true, 0),
                single(true, 1),
                single(true, 2),
                LesionTask::Random {
                    k: 1,
                    draw: 0,
                    deleted: vec![2]
                },
                LesionTask::Random {
                    k: 1,
                    draw: 1,
                    deleted: vec![0]
                },
                LesionTask::Random {
                    k: 2,
                    draw: 0,
                    deleted: vec![0, 1]
                },
            ]
        );
        assert!(tasks[3].plain() && tasks[4].plain() && !tasks[7].plain());
        assert_eq!(tasks[3].deleted(), Vec::<usize>::new());
        assert_eq!(tasks[9].deleted(), vec![0, 1]);
    }
}
