//! Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
//! Neural Networks", 2016) for the channel-last CPU path's 3×3 stride-1 convolutions, which
//! are about half of ResNet-50's multiply-adds and nearly all of ResNet-18's.
//!
//! Each 2×2 block of output pixels ("tile") is computed from its 4×4 input patch `d` as
//! `Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A`: the kernel `g` is transformed once at load, the patches per
//! call, and the elementwise product summed over input channels becomes 16 matrix products,
//! one per position of the 4×4 transformed tile, of `[tiles × cin]` by `[cin × cout]`. That is
//! 16 multiplies per input channel and output channel for 4 output pixels where im2col does
//! 36: 2.25× fewer, for a few additions per pixel and channel in the transforms.

use super::cpu_forward::{Activations, for_each_chunk, parallelism, threads};
use super::cpu_products::matmul_accumulate_rows;

/// Bytes one band's transformed patches and products may take (they are 4× and 4× the band's
/// input and output): small enough to stay in the last-level cache between the transforms and
/// the products.
const BAND_BYTES: usize = 4 << 20;

/// The fewest tiles worth a band of their own: each band streams all 16 transformed kernels
/// through its products, so a thin band is bound by memory, not arithmetic.
const MIN_BAND_TILES: usize = 64;

/// Below this many tiles per thread im2col's one product over fewer, smaller weights (with
/// all the threads in it) is the quicker way: measured on 2 cores, F(2×2, 3×3) was 1.3–1.6×
/// quicker for ResNet's 56×56 and 28×28 layers, and on one thread for the 14×14 one too (49
/// tiles), but level with im2col there on two threads and slower at 7×7 (16 tiles).
pub(super) const MIN_TILES_PER_THREAD: usize = 36;

/// A 3×3 kernel transformed for F(2×2, 3×3): `[16][cin][cout]`, position `4·i + j` of the
/// transformed 4×4 tile first.
#[derive(Debug, Clone)]
pub(super) struct Winograd {
    cin: usize,
    cout: usize,
    weight: Vec<f32>,
}

/// `out = a + sign · b`, elementwise.
fn combine(out: &mut [f32], a: &[f32], b: &[f32], sign: f32) {
    for ((o, &x), &y) in out.iter_mut().zip(a).zip(b) {
        *o = x + sign * y;
    }
}

/// `Bᵀ d B` of a 4×4 patch of channel vectors (`d[4·i + j]` the `len` channels at row `i`,
/// column `j`), written to `out` likewise. `Bᵀ` = [[1, 0, −1, 0], [0, 1, 1, 0], [0, −1, 1, 0],
/// [0, 1, 0, −1]].
fn transform_patch(d: &[f32], out: &mut [f32], rows: &mut [f32], len: usize) {
    let at = |k: usize| k * len..(k + 1) * len;
    // Rows: t = Bᵀ d.
    for j in 0..4 {
        let (d0, d1, d2, d3) = (&d[at(j)], &d[at(4 + j)], &d[at(8 + j)], &d[at(12 + j)]);
        let (t01, t23) = rows.split_at_mut(8 * len);
        let (t0, t1) = t01.split_at_mut(4 * len);
        let (t2, t3) = t23.split_at_mut(4 * len);
        combine(&mut t0[at(j)], d0, d2, -1.0);
        combine(&mut t1[at(j)], d1, d2, 1.0);
        combine(&mut t2[at(j)], d2, d1, -1.0);
        combine(&mut t3[at(j)], d1, d3, -1.0);
    }
    // Columns: (Bᵀ d) B.
    for i in 0..4 {
        let t = |j: usize| &rows[at(4 * i + j)];
        let (u01, u23) = out[4 * i * len..(4 * i + 4) * len].split_at_mut(2 * len);
        let (u0, u1) = u01.split_at_mut(len);
        let (u2, u3) = u23.split_at_mut(len);
        combine(u0, t(0), t(2), -1.0);
        combine(u1, t(1), t(2), 1.0);
        combine(u2, t(2), t(1), -1.0);
        combine(u3, t(1), t(3), -1.0);
    }
}

impl Winograd {
    /// Transforms a 3×3 kernel laid out for im2col, `[(ky·3 + kx)·cin + ci][cout]`:
    /// `G g Gᵀ` with `G` = [[1, 0, 0], [½, ½, ½], [½, −½, ½], [0, 0, 1]].
    pub(super) fn from_kernel(weight: &[f32], cin: usize, cout: usize) -> Self {
        debug_assert_eq!(weight.len(), 9 * cin * cout);
        let mut out = vec![0.0; 16 * cin * cout];
        let tap = |ky: usize, kx: usize, ci: usize| {
            let at = ((ky * 3 + kx) * cin + ci) * cout;
            &weight[at..at + cout]
        };
        let mut g_rows = vec![0.0; 12 * cout]; // G g: 4 rows × 3 columns of cout values
        for ci in 0..cin {
            for kx in 0..3 {
                let (g0, g1, g2) = (tap(0, kx, ci), tap(1, kx, ci), tap(2, kx, ci));
                for co in 0..cout {
                    let (a, b, c) = (g0[co], g1[co], g2[co]);
                    g_rows[kx * cout + co] = a;
                    g_rows[(3 + kx) * cout + co] = 0.5 * (a + b + c);
                    g_rows[(6 + kx) * cout + co] = 0.5 * (a - b + c);
                    g_rows[(9 + kx) * cout + co] = c;
                }
            }
            for i in 0..4 {
                let t = |kx: usize| &g_rows[(3 * i + kx) * cout..(3 * i + kx + 1) * cout];
                let (t0, t1, t2) = (t(0), t(1), t(2));
                for co in 0..cout {
                    let (a, b, c) = (t0[co], t1[co], t2[co]);
                    let values = [a, 0.5 * (a + b + c), 0.5 * (a - b + c), c];
                    for (j, v) in values.into_iter().enumerate() {
                        out[((4 * i + j) * cin + ci) * cout + co] = v;
                    }
                }
            }
        }
        Self {
            cin,
            cout,
            weight: out,
        }
    }

    /// `relu?(conv(x) + bias + residual)` for a 3×3 convolution with stride 1 and padding 1.
    ///
    /// Work is cut into bands of whole rows of tiles (two output rows each, contiguous in the
    /// output), each done start to finish by one thread; one band only lets the products use
    /// the threads instead.
    pub(super) fn apply(
        &self,
        bias: &[f32],
        x: &Activations,
        relu: bool,
        residual: Option<&Activations>,
    ) -> Activations {
        let (cin, cout) = (self.cin, self.cout);
        let (h, w) = (x.h, x.w);
        let tiles_w = w.div_ceil(2);
        let mut out = vec![0.0; x.n * h * w * cout];
        // One entry per row of tiles: its image, its first output row, its output.
        let mut rows: Vec<(usize, usize, &mut [f32])> = Vec::new();
        for (image, plane) in out.chunks_mut(h * w * cout).enumerate() {
            for (ty, chunk) in plane.chunks_mut(2 * w * cout).enumerate() {
                rows.push((image, 2 * ty, chunk));
            }
        }
        let per_row = 16 * tiles_w * (cin + cout) * 4;
        let by_memory = (BAND_BYTES / per_row.max(1)).max(1);
        let by_threads = rows
            .len()
            .div_ceil(threads())
            .max(MIN_BAND_TILES.div_ceil(tiles_w));
        let band = by_memory.min(by_threads).max(1);
        let shared = rows.len().div_ceil(band) == 1;
        let job = Job {
            x,
            bias,
            residual,
            relu,
            shared,
        };
        for_each_chunk(&mut rows, band, |_, group| self.apply_band(&job, group));
        Activations {
            n: x.n,
            h,
            w,
            c: cout,
            data: out,
        }
    }

    /// One band of tile rows: transform their patches, the 16 products, transform back.
    fn apply_band(&self, job: &Job, group: &mut [(usize, usize, &mut [f32])]) {
        let (cin, cout) = (self.cin, self.cout);
        let x = job.x;
        let tiles_w = x.w.div_ceil(2);
        let tiles = group.len() * tiles_w;

        // Bᵀ d B of every tile: `[tiles][16][cin]`.
        let mut patches = vec![0.0; tiles * 16 * cin];
        let mut patch = vec![0.0; 16 * cin];
        let mut rows = vec![0.0; 16 * cin];
        for (r, &(image, oy, _)) in group.iter().enumerate() {
            let plane = &x.data[image * x.h * x.w * cin..(image + 1) * x.h * x.w * cin];
            for tx in 0..tiles_w {
                for i in 0..4 {
                    let iy = (oy + i).wrapping_sub(1);
                    for j in 0..4 {
                        let ix = (2 * tx + j).wrapping_sub(1);
                        let dst = &mut patch[(4 * i + j) * cin..(4 * i + j + 1) * cin];
                        if iy < x.h && ix < x.w {
                            let at = (iy * x.w + ix) * cin;
                            dst.copy_from_slice(&plane[at..at + cin]);
                        } else {
                            dst.fill(0.0); // padding, or past an odd edge
                        }
                    }
                }
                let tile = r * tiles_w + tx;
                let out = &mut patches[tile * 16 * cin..(tile + 1) * 16 * cin];
                transform_patch(&patch, out, &mut rows, cin);
            }
        }

        // The 16 products, `[tiles][16][cout]`; the only band (a small layer) lets them use
        // the threads.
        let mut products = vec![0.0; tiles * 16 * cout];
        let threads = if job.shared {
            parallelism(tiles * cin * cout)
        } else {
            gemm::Parallelism::None
        };
        for position in 0..16 {
            let b = &self.weight[position * cin * cout..(position + 1) * cin * cout];
            let (a, out) = (&patches[position * cin..], &mut products[position * cout..]);
            matmul_accumulate_rows(
                (out, 16 * cout),
                (a, 16 * cin),
                b,
                [tiles, cin, cout],
                threads,
            );
        }

        // Aᵀ m A, `Aᵀ` = [[1, 1, 1, 0], [0, 1, −1, −1]], then bias, shortcut and ReLU.
        let mut s = vec![0.0; 8 * cout];
        for (r, (image, oy, chunk)) in group.iter_mut().enumerate() {
            for tx in 0..tiles_w {
                let tile = r * tiles_w + tx;
                let m = &products[tile * 16 * cout..(tile + 1) * 16 * cout];
                let at = |k: usize| k * cout..(k + 1) * cout;
                // s = Aᵀ m: two rows of four channel vectors.
                for j in 0..4 {
                    let (m0, m1, m2, m3) =
                        (&m[at(j)], &m[at(4 + j)], &m[at(8 + j)], &m[at(12 + j)]);
                    let (s0, s1) = s.split_at_mut(4 * cout);
                    for ((((v, &a), &b), &c), (w, &d)) in s0[at(j)]
                        .iter_mut()
                        .zip(m0)
                        .zip(m1)
                        .zip(m2)
                        .zip(s1[at(j)].iter_mut().zip(m3))
                    {
                        *v = a + b + c;
                        *w = b - c - d;
                    }
                }
                for dy in 0..2 {
                    let y = *oy + dy;
                    if y >= x.h {
                        break;
                    }
                    for dx in 0..2 {
                        let px = 2 * tx + dx;
                        if px >= x.w {
                            break;
                        }
                        let pixel = &mut chunk[(dy * x.w + px) * cout..(dy * x.w + px + 1) * cout];
                        let (s0, s1, s2, s3) = (
                            &s[at(4 * dy)],
                            &s[at(4 * dy + 1)],
                            &s[at(4 * dy + 2)],
                            &s[at(4 * dy + 3)],
                        );
                        for co in 0..cout {
                            pixel[co] = job.bias[co]
                                + if dx == 0 {
                                    s0[co] + s1[co] + s2[co]
                                } else {
                                    s1[co] - s2[co] - s3[co]
                                };
                        }
                        if let Some(residual) = job.residual {
                            let at = ((*image * x.h + y) * x.w + px) * cout;
                            for (v, r) in pixel.iter_mut().zip(&residual.data[at..at + cout]) {
                                *v += r;
                            }
                        }
                        if job.relu {
                            pixel.iter_mut().for_each(|v| *v = v.max(0.0));
                        }
                    }
                }
            }
        }
    }
}

/// What every band of one convolution shares.
struct Job<'a> {
    x: &'a Activations,
    bias: &'a [f32],
    residual: Option<&'a Activations>,
    relu: bool,
    /// The only band: the products may use the threads themselves.
    shared: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::cpu_forward::Conv;
    use crate::model::cpu_test_data::{activations, value};

    fn conv(cin: usize, cout: usize) -> Conv {
        Conv {
            kernel: 3,
            stride: 1,
            pad: 1,
            cin,
            cout,
            weight: (0..9 * cin * cout).map(|i| value(i + 3)).collect(),
            bias: (0..cout).map(|i| value(i + 11)).collect(),
            winograd: None,
        }
    }

    /// The convolution summed term by term, as its definition says (f64, zero padding).
    fn direct(
        conv: &Conv,
        x: &Activations,
        relu: bool,
        residual: Option<&Activations>,
    ) -> Vec<f64> {
        let (cin, cout) = (conv.cin, conv.cout);
        let mut out = Vec::with_capacity(x.n * x.h * x.w * cout);
        for image in 0..x.n {
            for oy in 0..x.h {
                for ox in 0..x.w {
                    for co in 0..cout {
                        let mut sum = f64::from(conv.bias[co]);
                        for ky in 0..3 {
                            for kx in 0..3 {
                                let (iy, ix) =
                                    ((oy + ky).wrapping_sub(1), (ox + kx).wrapping_sub(1));
                                if iy >= x.h || ix >= x.w {
                                    continue;
                                }
                                for ci in 0..cin {
                                    let v = x.data[((image * x.h + iy) * x.w + ix) * cin + ci];
                                    let w = conv.weight[((ky * 3 + kx) * cin + ci) * cout + co];
                                    sum += f64::from(v) * f64::from(w);
                                }
                            }
                        }
                        if let Some(r) = residual {
                            sum += f64::from(r.data[((image * x.h + oy) * x.w + ox) * cout + co]);
                        }
                        out.push(if relu { sum.max(0.0) } else { sum });
                    }
                }
            }
        }
        out
    }

    /// F(2×2, 3×3) against the direct sum: odd and even sizes (a last tile past the edge),
    /// two images, with and without shortcut and ReLU, one band and several.
    #[test]
    fn winograd_equals_the_direct_convolution() {
        for (n, h, w, cin, cout, relu, shortcut) in [
            (1, 4, 4, 3, 2, false, false),
            (2, 5, 7, 4, 3, true, true),
            (1, 9, 6, 8, 5, true, false),
            (2, 40, 33, 6, 4, false, true),
        ] {
            let conv = conv(cin, cout).with_winograd();
            let x = activations(n, h, w, cin, 1);
            let residual = shortcut.then(|| activations(n, h, w, cout, 9));
            let got = conv
                .winograd()
                .expect("a 3×3 stride-1 kernel is transformed")
                .apply(&conv.bias, &x, relu, residual.as_ref());
            assert_eq!([got.n, got.h, got.w, got.c], [n, h, w, cout]);
            let want = direct(&conv, &x, relu, residual.as_ref());
            for (i, (&g, &d)) in got.data.iter().zip(&want).enumerate() {
                assert!(
                    (f64::from(g) - d).abs() <= 1e-4 * (1.0 + d.abs()),
                    "{n}×{h}×{w}, {cin}→{cout}, value {i}: {g} against {d}"
                );
            }
        }
    }

    /// Only 3×3 stride-1 kernels with padding 1 are transformed.
    #[test]
    fn other_kernels_stay_on_im2col() {
        let strided = Conv {
            stride: 2,
            ..conv(2, 2)
        };
        assert!(strided.with_winograd().winograd.is_none());
        let one = Conv {
            kernel: 1,
            pad: 0,
            weight: vec![0.5; 4],
            ..conv(2, 2)
        };
        assert!(one.with_winograd().winograd.is_none());
    }
}
