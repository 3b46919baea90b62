//! Reproducible inputs for the CPU path's unit tests (Winograd, the backward pass).

use super::cpu_forward::Activations;

/// A reproducible value in [-1, 1).
pub fn value(i: usize) -> f32 {
    let x = (i as u32).wrapping_mul(2_654_435_761) >> 8;
    x as f32 / (1u32 << 23) as f32 - 1.0
}

/// `[n][h][w][c]` activations of such values, a different set for each `seed`.
pub fn activations(n: usize, h: usize, w: usize, c: usize, seed: usize) -> Activations {
    let data = (0..n * h * w * c).map(|i| value(i * 7 + seed)).collect();
    Activations { n, h, w, c, data }
}
