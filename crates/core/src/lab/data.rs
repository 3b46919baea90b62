//! Training data for the degradation experiment: CIFAR-10 in its binary form, or a built-in
//! procedurally generated 10-class 32×32 task when no CIFAR-10 is at hand.
//!
//! Both yield normalised `[3, 32, 32]` images; [`Batches`] walks a dataset in an order
//! shuffled per epoch from a seed, so networks trained with the same seed see the same data in
//! the same order.

use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use rand_distr::StandardNormal;

/// One CIFAR-10 record: a label byte, then 1024 red, 1024 green and 1024 blue bytes.
pub const CIFAR_RECORD: usize = 1 + 3 * 32 * 32;
/// The five training files hold 10,000 records each; more than this is not CIFAR-10.
pub const MAX_CIFAR_RECORDS: usize = 60_000;
/// CIFAR-10's per-channel training-set mean and standard deviation (of pixel/255).
const CIFAR_MEAN: [f32; 3] = [0.4914, 0.4822, 0.4465];
const CIFAR_STD: [f32; 3] = [0.2470, 0.2435, 0.2616];
const PIXELS: usize = 32 * 32;

/// A labelled set of 32×32 images.
pub trait Dataset {
    fn len(&self) -> usize;
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// Appends example `index`'s normalised `[3, 32, 32]` pixels to `out`; returns its label.
    fn example(&self, index: usize, out: &mut Vec<f32>) -> usize;
}

/// CIFAR-10 training records, kept as bytes (150 MB as f32 would be 600 MB).
#[derive(Debug, Default)]
pub struct Cifar10 {
    /// Whole records with labels 0–9 (checked in [`super::cifar_files`], which builds it).
    pub(super) records: Vec<u8>,
}

impl Dataset for Cifar10 {
    fn len(&self) -> usize {
        self.records.len() / CIFAR_RECORD
    }

    fn example(&self, index: usize, out: &mut Vec<f32>) -> usize {
        let record = &self.records[index * CIFAR_RECORD..(index + 1) * CIFAR_RECORD];
        for (c, plane) in record[1..].chunks_exact(PIXELS).enumerate() {
            out.extend(
                plane
                    .iter()
                    .map(|&p| (p as f32 / 255.0 - CIFAR_MEAN[c]) / CIFAR_STD[c]),
            );
        }
        record[0] as usize
    }
}

/// The built-in task: 10 classes of oriented gratings, generated from the example's index.
///
/// Class k's image holds a sinusoidal grating at orientation k·18° (±3° jitter), with a random
/// spatial frequency (0.08–0.2 cycles per pixel), phase, colour mix and position, seen through
/// a Gaussian window (σ 5–10 px). A second grating at a random orientation (amplitude 0.7,
/// its own window) is laid over it as a distractor, plus pixel noise (σ 0.3). Telling the
/// orientation of a localised grating from a nearby distractor at any position needs more than
/// a few layers, which is what makes depth matter. The same index always gives the same image.
#[derive(Debug, Clone)]
pub struct SyntheticGratings {
    pub len: usize,
    pub seed: u64,
}

impl SyntheticGratings {
    /// A 50,000-example set (CIFAR-10's training size) from a fixed seed.
    pub fn standard() -> Self {
        Self {
            len: 50_000,
            seed: 2016,
        }
    }
}

impl Dataset for SyntheticGratings {
    fn len(&self) -> usize {
        self.len
    }

    fn example(&self, index: usize, out: &mut Vec<f32>) -> usize {
        let mut rng =
            StdRng::seed_from_u64(self.seed ^ (index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let label = rng.random_range(0..10usize);
        let jitter = rng.random_range(-3.0f32..3.0);
        let class_angle = (label as f32 * 18.0 + jitter).to_radians();
        let distractor_angle = rng.random_range(0.0f32..180.0).to_radians();
        let gratings = [
            Grating::random(&mut rng, class_angle, 1.0),
            Grating::random(&mut rng, distractor_angle, 0.7),
        ];
        let start = out.len();
        out.resize(start + 3 * PIXELS, 0.0);
        for y in 0..32 {
            for x in 0..32 {
                for g in &gratings {
                    let v = g.value(x as f32, y as f32);
                    for c in 0..3 {
                        out[start + c * PIXELS + y * 32 + x] += g.colour[c] * v;
                    }
                }
            }
        }
        for v in &mut out[start..] {
            *v += 0.3 * rng.sample::<f32, _>(StandardNormal);
        }
        label
    }
}

/// A windowed sinusoidal grating.
struct Grating {
    angle: f32,
    frequency: f32,
    phase: f32,
    centre: [f32; 2],
    sigma: f32,
    amplitude: f32,
    colour: [f32; 3],
}

impl Grating {
    fn random(rng: &mut StdRng, angle: f32, amplitude: f32) -> Self {
        // A colour mix with unit mean square, so colour says nothing about the class.
        let mut colour = [0.0f32; 3].map(|_| rng.random_range(-1.0f32..1.0));
        let norm = (colour.iter().map(|c| c * c).sum::<f32>() / 3.0)
            .sqrt()
            .max(1e-3);
        colour.iter_mut().for_each(|c| *c /= norm);
        Self {
            angle,
            frequency: rng.random_range(0.08f32..0.2),
            phase: rng.random_range(0.0f32..std::f32::consts::TAU),
            centre: [
                rng.random_range(6.0f32..26.0),
                rng.random_range(6.0f32..26.0),
            ],
            sigma: rng.random_range(5.0f32..10.0),
            amplitude,
            colour,
        }
    }

    fn value(&self, x: f32, y: f32) -> f32 {
        let (dx, dy) = (x - self.centre[0], y - self.centre[1]);
        let along = dx * self.angle.cos() + dy * self.angle.sin();
        let window = (-(dx * dx + dy * dy) / (2.0 * self.sigma * self.sigma)).exp();
        let wave = (std::f32::consts::TAU * self.frequency * along + self.phase).sin();
        self.amplitude * window * wave
    }
}

/// Mini-batches over a dataset, reshuffled every epoch from `seed`.
#[derive(Debug)]
pub struct Batches {
    order: Vec<usize>,
    next: usize,
    rng: StdRng,
}

impl Batches {
    pub fn new(len: usize, seed: u64) -> Self {
        let mut batches = Self {
            order: (0..len).collect(),
            next: 0,
            rng: StdRng::seed_from_u64(seed),
        };
        batches.order.shuffle(&mut batches.rng);
        batches
    }

    /// The next `size` examples as (`[size, 3, 32, 32]` pixels, labels).
    pub fn next_batch(&mut self, data: &dyn Dataset, size: usize) -> (Vec<f32>, Vec<usize>) {
        let mut images = Vec::with_capacity(size * 3 * PIXELS);
        let mut labels = Vec::with_capacity(size);
        for _ in 0..size {
            if self.next == self.order.len() {
                self.order.shuffle(&mut self.rng);
                self.next = 0;
            }
            labels.push(data.example(self.order[self.next], &mut images));
            self.next += 1;
        }
        (images, labels)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cifar_records_are_checked() {
        let mut record = vec![0u8; CIFAR_RECORD];
        record[0] = 7;
        record[1] = 255; // first red pixel
        let set = Cifar10::from_batches(&[("a.bin".into(), record.clone())]).unwrap();
        let mut out = Vec::new();
        assert_eq!(set.example(0, &mut out), 7);
        assert!((out[0] - (1.0 - 0.4914) / 0.2470).abs() < 1e-5);
        assert_eq!(out.len(), 3072);
        let short = Cifar10::from_batches(&[("b.bin".into(), record[..100].to_vec())]);
        assert!(short.unwrap_err().to_string().contains("3073"));
        record[0] = 10;
        assert!(Cifar10::from_batches(&[("c.bin".into(), record)]).is_err());
        assert!(Cifar10::from_batches(&[]).is_err());
    }

    #[test]
    fn synthetic_examples_are_reproducible_and_cover_the_classes() {
        let data = SyntheticGratings::standard();
        let (mut a, mut b) = (Vec::new(), Vec::new());
        assert_eq!(data.example(5, &mut a), data.example(5, &mut b));
        assert_eq!(a, b);
        let mut seen = [0usize; 10];
        let mut sink = Vec::new();
        for i in 0..500 {
            seen[data.example(i, &mut sink)] += 1;
        }
        assert!(seen.iter().all(|&n| n > 20), "{seen:?}");
        assert!(sink.iter().all(|v| v.is_finite()));
    }
}
