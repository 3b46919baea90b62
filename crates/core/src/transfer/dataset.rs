//! What a head is trained on: one centre-crop feature row per photo, its label, and
//! optionally augmented views of the photos (more rows, each belonging to one photo); how
//! photos are held out for validation; the checks and the standardisation statistics.

use rand::SeedableRng;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::transfer::head::MAX_CLASSES;

/// Each class needs at least this many photos.
pub const MIN_PHOTOS_PER_CLASS: usize = 2;
/// A validation split smaller than this gives way to leave-one-out...
pub const MIN_VALIDATION_PHOTOS: usize = 10;
/// ...unless there are more photos than this (leave-one-out trains one head per photo).
pub const MAX_LEAVE_ONE_OUT: usize = 200;

/// The photos a head is trained on.
///
/// Augmented views only ever train: a held-out photo is judged on its centre crop alone (so
/// the held-out accuracy means the same with and without augmentation), and a view of a
/// held-out photo, should one be given, trains no head that judges that photo.
#[derive(Debug, Clone, Copy)]
pub struct TrainingSet<'a> {
    /// One row per photo: the pooled features of its centre crop.
    pub features: &'a [Vec<f32>],
    /// Each photo's class (an index into the classes).
    pub labels: &'a [usize],
    /// Augmented views: (the photo's index in `features`, the view's pooled features).
    pub augmented: &'a [(usize, Vec<f32>)],
}

impl<'a> TrainingSet<'a> {
    /// Photos without augmented views.
    pub fn photos(features: &'a [Vec<f32>], labels: &'a [usize]) -> Self {
        Self {
            features,
            labels,
            augmented: &[],
        }
    }

    /// Photos then augmented views, one row each.
    pub(super) fn rows(&self) -> impl Iterator<Item = &'a Vec<f32>> + use<'a> {
        let (features, augmented) = (self.features, self.augmented);
        features.iter().chain(augmented.iter().map(|(_, f)| f))
    }

    /// The photo each row belongs to.
    pub(super) fn row_photos(&self) -> Vec<usize> {
        (0..self.features.len())
            .chain(self.augmented.iter().map(|(p, _)| *p))
            .collect()
    }

    pub(super) fn check(&self, classes: &[String], d: usize) -> Result<()> {
        let c = classes.len();
        if !(2..=MAX_CLASSES).contains(&c) {
            return Err(Error::Dataset(format!(
                "{c} class(es): a head needs 2 to {MAX_CLASSES} classes"
            )));
        }
        let (features, labels) = (self.features, self.labels);
        if features.len() != labels.len() || self.rows().any(|f| f.len() != d) {
            return Err(Error::Dataset(format!(
                "every photo and view needs {d} features, and every photo one label"
            )));
        }
        if self.augmented.iter().any(|(p, _)| *p >= features.len()) {
            return Err(Error::Dataset("an augmented view names no photo".into()));
        }
        for (k, name) in classes.iter().enumerate() {
            let count = labels.iter().filter(|&&l| l == k).count();
            if count < MIN_PHOTOS_PER_CLASS {
                return Err(Error::Dataset(format!(
                    "class `{name}` has {count} photo(s); each class needs at least {MIN_PHOTOS_PER_CLASS}"
                )));
            }
        }
        if labels.iter().any(|&l| l >= c) {
            return Err(Error::Dataset("a label names no class".into()));
        }
        Ok(())
    }
}

/// How held-out accuracy is measured.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Validation {
    /// No held-out photos (`--val-split 0`).
    None,
    /// This fraction of each class is held out; the exported head never sees it.
    Split(f64),
    /// Each photo is classified by a head trained on all the others; the exported head is
    /// trained on every photo.
    LeaveOneOut,
}

impl Validation {
    /// A split of `fraction`, or leave-one-out when that would hold out fewer than
    /// [`MIN_VALIDATION_PHOTOS`] of `class_counts`.
    pub fn choose(fraction: f64, class_counts: &[usize]) -> Self {
        let total: usize = class_counts.iter().sum();
        let held_out: usize = class_counts
            .iter()
            .map(|&n| held_out_count(n, fraction))
            .sum();
        if fraction <= 0.0 {
            Validation::None
        } else if held_out < MIN_VALIDATION_PHOTOS && total <= MAX_LEAVE_ONE_OUT {
            Validation::LeaveOneOut
        } else {
            Validation::Split(fraction)
        }
    }

    /// The name used in JSON and in the engine's answers.
    pub fn name(self) -> &'static str {
        match self {
            Validation::None => "none",
            Validation::Split(_) => "split",
            Validation::LeaveOneOut => "leave_one_out",
        }
    }
}

/// Photos of a class of `n` held out by a split: rounded, at least one, and never all.
fn held_out_count(n: usize, fraction: f64) -> usize {
    ((n as f64 * fraction).round() as usize).clamp(1, n.saturating_sub(1))
}

/// The photos a validation split holds out (sorted indices; empty without a split): from
/// each class, `held_out_count` photos chosen by a shuffle seeded with `seed`. Training
/// makes the same choice, so a caller can leave the held-out photos' views out beforehand.
pub fn held_out_photos(
    labels: &[usize],
    classes: usize,
    validation: Validation,
    seed: u64,
) -> Vec<usize> {
    let Validation::Split(fraction) = validation else {
        return Vec::new();
    };
    let mut rng = StdRng::seed_from_u64(seed);
    let mut held_out = Vec::new();
    for k in 0..classes {
        let mut members: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == k).collect();
        members.shuffle(&mut rng);
        held_out.extend_from_slice(&members[..held_out_count(members.len(), fraction)]);
    }
    held_out.sort_unstable();
    held_out
}

/// Per-feature mean and standard deviation over `rows` (indices into `features`); a constant
/// feature gets σ = 1.
pub(super) fn standardisation(
    features: &[&Vec<f32>],
    rows: &[usize],
    d: usize,
) -> (Vec<f32>, Vec<f32>) {
    let k = rows.len() as f64;
    let mut mean = vec![0.0f64; d];
    for &i in rows {
        for (m, v) in mean.iter_mut().zip(features[i]) {
            *m += *v as f64 / k;
        }
    }
    let mut var = vec![0.0f64; d];
    for &i in rows {
        for ((s, v), m) in var.iter_mut().zip(features[i]).zip(&mean) {
            *s += (*v as f64 - m).powi(2) / k;
        }
    }
    let std = var
        .iter()
        .map(|v| {
            if v.sqrt() > 1e-6 {
                v.sqrt() as f32
            } else {
                1.0
            }
        })
        .collect();
    (mean.iter().map(|m| *m as f32).collect(), std)
}
