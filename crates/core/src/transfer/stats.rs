//! One epoch's numbers from the logits of every row under every head: the exported head's
//! loss and accuracy on its training rows (augmented views included), and the held-out
//! accuracy on the photos' centre crops only.

use crate::transfer::dataset::Validation;
use crate::transfer::train::EpochStats;

/// The rows and heads of one training run.
pub(super) struct Layout<'a> {
    /// Photos (their centre crops are rows `0..photos`; augmented views follow).
    pub photos: usize,
    pub heads: usize,
    pub classes: usize,
    /// Each row's label.
    pub labels: &'a [usize],
    /// Each row's weight under each head: > 0 when the head trains on it.
    pub masks: &'a [Vec<f32>],
    pub validation: Validation,
}

impl Layout<'_> {
    fn exported(&self) -> usize {
        self.heads - 1
    }

    /// Rows the exported head trains on.
    pub fn train_rows(&self) -> usize {
        let m = self.exported();
        self.masks.iter().filter(|row| row[m] > 0.0).count()
    }

    /// Loss and accuracies from one forward pass (`logits`: `[rows, heads, classes]`).
    pub fn stats(&self, epoch: usize, logits: &[f32]) -> EpochStats {
        let (heads, c, exported) = (self.heads, self.classes, self.exported());
        let predicted = |i: usize, m: usize| {
            let row = &logits[(i * heads + m) * c..][..c];
            (0..c).fold(0, |best, k| if row[k] > row[best] { k } else { best })
        };
        let accuracy = |pairs: &[(usize, usize)]| {
            let right = pairs
                .iter()
                .filter(|&&(i, m)| predicted(i, m) == self.labels[i])
                .count();
            right as f64 / pairs.len().max(1) as f64
        };
        let train: Vec<(usize, usize)> = (0..self.labels.len())
            .filter(|&i| self.masks[i][exported] > 0.0)
            .map(|i| (i, exported))
            .collect();
        let val: Vec<(usize, usize)> = match self.validation {
            Validation::None => Vec::new(),
            Validation::Split(_) => (0..self.photos)
                .filter(|&i| self.masks[i][exported] == 0.0)
                .map(|i| (i, exported))
                .collect(),
            // Photo i against the head that did not see it.
            Validation::LeaveOneOut => (0..self.photos).map(|i| (i, i)).collect(),
        };
        EpochStats {
            epoch,
            loss: self.loss(logits, &train),
            train_accuracy: accuracy(&train),
            val_accuracy: (!val.is_empty()).then(|| accuracy(&val)),
        }
    }

    /// Mean cross-entropy over `(row, head)` pairs.
    fn loss(&self, logits: &[f32], pairs: &[(usize, usize)]) -> f64 {
        let (heads, c) = (self.heads, self.classes);
        let total: f64 = pairs
            .iter()
            .map(|&(i, m)| {
                let row = &logits[(i * heads + m) * c..][..c];
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max) as f64;
                let sum: f64 = row.iter().map(|&z| (z as f64 - max).exp()).sum();
                max + sum.ln() - row[self.labels[i]] as f64
            })
            .sum();
        total / pairs.len().max(1) as f64
    }
}
