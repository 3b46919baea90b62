//! The forward pass on the CPU without Burn's convolution: activations stay channel-last
//! (NHWC) from the stem to the pool, a 1×1 convolution is one matrix product over the pixels,
//! and a k×k convolution copies its receptive fields (im2col, contiguous runs of channels)
//! before one. The products run on the `gemm` crate's kernels (AVX2/AVX-512 natively,
//! WebAssembly SIMD in the browser, rayon threads where there are threads), the same crate
//! Burn flex uses inside; what this path saves is Burn flex's per-convolution layout changes
//! (NCHW → NHWC and back, element by element) and its scattered writes (BENCHMARKS.md).
//!
//! It computes the same function as [`ResNet::forward`] (BatchNorm folded, the same weights,
//! float32), to rounding; classification and the frozen features use it on the CPU device,
//! natively and in the browser's engines; everything that needs gradients keeps Burn.

use std::sync::OnceLock;

use crate::error::{Error, Result};
use crate::model::cpu_products::matmul_accumulate;
use crate::model::winograd::{self, Winograd};

/// Bytes one band's im2col buffer may take: a larger convolution is done in more bands (a
/// full-image 2048-pixel input would otherwise ask for gigabytes in the stem). Small enough
/// to stay in the last-level cache until the product reads it, large enough that the product
/// does not repack the weights for a few pixels at a time.
const BAND_BYTES: usize = 4 << 20;

/// The fewest output pixels worth a band of their own.
const MIN_BAND_PIXELS: usize = 64;

/// A convolution with BatchNorm folded in, its weight laid out for a product with im2col rows:
/// `[(ky·k + kx)·cin + ci][cout]`.
#[derive(Debug, Clone)]
pub(super) struct Conv {
    pub(super) kernel: usize,
    pub(super) stride: usize,
    pub(super) pad: usize,
    pub(super) cin: usize,
    pub(super) cout: usize,
    pub(super) weight: Vec<f32>,
    pub(super) bias: Vec<f32>,
    /// For 3×3 stride-1 convolutions, the kernel transformed for Winograd's F(2×2, 3×3),
    /// made on first use: a layer never large enough for it (ResNet-50's 7×7 last stage at
    /// 224×224) never holds the 16/9 larger copy.
    pub(super) winograd: Option<OnceLock<Winograd>>,
}

#[derive(Debug, Clone)]
pub(super) struct Block {
    pub(super) branch: Vec<Conv>,
    pub(super) shortcut: Option<Conv>,
}

/// Activations of a batch, channel-last: `[n][h][w][c]`.
#[derive(Clone)]
pub(super) struct Activations {
    pub(super) n: usize,
    pub(super) h: usize,
    pub(super) w: usize,
    pub(super) c: usize,
    pub(super) data: Vec<f32>,
}

/// A loaded ResNet's weights, arranged for the channel-last CPU forward pass.
#[derive(Debug, Clone)]
pub struct CpuForward {
    pub(super) stem: Conv,
    pub(super) stem_pool: bool,
    pub(super) blocks: Vec<Block>,
    /// `[features][classes]`.
    pub(super) fc_weight: Vec<f32>,
    pub(super) fc_bias: Vec<f32>,
}

impl CpuForward {
    pub(super) fn classes(&self) -> usize {
        self.fc_bias.len()
    }

    /// `[n, 3, h, w]` images (channel-major, as uploaded for Burn) → the globally average
    /// pooled features, `n` rows.
    ///
    /// With several images and several threads, each image runs start to finish on one
    /// thread, side by side: the threads then share no layer (one layer's bands across threads
    /// gained little on two cores, BENCHMARKS.md, "Photos dropped together").
    pub fn pooled_features(&self, images: &[f32], [n, h, w]: [usize; 3]) -> Result<Vec<Vec<f32>>> {
        if images.len() != n * 3 * h * w || n == 0 {
            return Err(Error::Input(format!(
                "{} values do not make {n} images of [3, {h}, {w}]",
                images.len()
            )));
        }
        #[cfg(feature = "rayon")]
        if n > 1 && threads() > 1 {
            use rayon::prelude::*;
            let rows: Vec<Vec<Vec<f32>>> = images
                .par_chunks(3 * h * w)
                .map(|image| one_thread(|| self.pooled_batch(image, 1, h, w)))
                .collect();
            return Ok(rows.into_iter().flatten().collect());
        }
        Ok(self.pooled_batch(images, n, h, w))
    }

    /// [`Self::pooled_features`] of a checked batch, layer by layer over all its images.
    fn pooled_batch(&self, images: &[f32], n: usize, h: usize, w: usize) -> Vec<Vec<f32>> {
        let mut x = self
            .stem
            .apply(&to_channel_last(images, n, h, w), true, None);
        if self.stem_pool {
            x = max_pool_3x3_s2(&x);
        }
        for block in &self.blocks {
            x = block.apply(x);
        }
        global_average_pool(&x)
    }

    /// `[n, 3, h, w]` images → `n` rows of logits.
    pub fn logits(&self, images: &[f32], shape: [usize; 3]) -> Result<Vec<Vec<f32>>> {
        Ok(self.head(&self.pooled_features(images, shape)?))
    }

    /// The classifier on rows of pooled features: `n` rows of logits.
    pub fn head(&self, features: &[Vec<f32>]) -> Vec<Vec<f32>> {
        let (rows, k) = (features.len(), self.classes());
        let width = self.fc_weight.len() / k.max(1);
        let flat: Vec<f32> = features.iter().flatten().copied().collect();
        assert_eq!(
            flat.len(),
            rows * width,
            "features of the network's own width"
        );
        let mut out: Vec<f32> = (0..rows)
            .flat_map(|_| self.fc_bias.iter().copied())
            .collect();
        let threads = parallelism(rows * width * k);
        matmul_accumulate(&mut out, &flat, &self.fc_weight, rows, width, k, threads);
        out.chunks(k.max(1)).map(<[f32]>::to_vec).collect()
    }
}

impl Conv {
    /// The same convolution, with its kernel also transformed for Winograd's F(2×2, 3×3) when
    /// it is 3×3 with stride 1 and padding 1.
    pub(super) fn with_winograd(mut self) -> Self {
        if self.kernel == 3 && self.stride == 1 && self.pad == 1 {
            self.winograd = Some(OnceLock::new());
        }
        self
    }

    /// The Winograd form of the kernel, where there is one (transformed on the first call).
    pub(super) fn winograd(&self) -> Option<&Winograd> {
        let cell = self.winograd.as_ref()?;
        Some(cell.get_or_init(|| Winograd::from_kernel(&self.weight, self.cin, self.cout)))
    }

    /// `relu?(conv(x) + bias + residual)`.
    ///
    /// The output pixels are cut into bands, each done start to finish by one thread: the
    /// bias and shortcut written, the receptive fields copied (im2col), the product added,
    /// the ReLU applied, while the band is still in cache. One band only (a small layer) lets
    /// the product itself use the threads instead.
    pub(super) fn apply(
        &self,
        x: &Activations,
        relu: bool,
        residual: Option<&Activations>,
    ) -> Activations {
        if self.winograd.is_some()
            && x.n * x.h.div_ceil(2) * x.w.div_ceil(2) >= winograd::MIN_TILES_PER_THREAD * threads()
            && let Some(winograd) = self.winograd()
        {
            return winograd.apply(&self.bias, x, relu, residual);
        }
        let out_h = (x.h + 2 * self.pad - self.kernel) / self.stride + 1;
        let out_w = (x.w + 2 * self.pad - self.kernel) / self.stride + 1;
        let pixels = x.n * out_h * out_w;
        let band = band_pixels(pixels, self.kernel * self.kernel * self.cin);
        let shared = pixels.div_ceil(band) == 1;
        let mut out = vec![0.0; pixels * self.cout];
        let job = Band {
            x,
            residual,
            relu,
            geometry: Geometry { out_h, out_w },
            shared,
        };
        for_each_chunk(&mut out, band * self.cout, |i, chunk| {
            self.apply_band(&job, i * band, chunk)
        });
        Activations {
            n: x.n,
            h: out_h,
            w: out_w,
            c: self.cout,
            data: out,
        }
    }

    /// One band of output pixels, `first..first + out.len() / cout` (counted over the batch).
    fn apply_band(&self, job: &Band, first: usize, out: &mut [f32]) {
        let Band {
            x,
            residual,
            relu,
            geometry,
            shared,
        } = *job;
        let count = out.len() / self.cout;
        let depth = self.kernel * self.kernel * self.cin;
        // The output starts as bias (+ the shortcut) and the product is added to it.
        for (p, pixel) in out.chunks_exact_mut(self.cout).enumerate() {
            pixel.copy_from_slice(&self.bias);
            if let Some(r) = residual {
                let at = (first + p) * self.cout;
                for (v, s) in pixel.iter_mut().zip(&r.data[at..at + self.cout]) {
                    *v += s;
                }
            }
        }
        let columns;
        let a = if self.kernel == 1 && self.stride == 1 {
            &x.data[first * self.cin..(first + count) * self.cin]
        } else {
            columns = self.im2col(x, first, count, geometry);
            &columns[..]
        };
        let threads = if shared {
            parallelism(count * depth * self.cout)
        } else {
            gemm::Parallelism::None
        };
        matmul_accumulate(out, a, &self.weight, count, depth, self.cout, threads);
        if relu {
            out.iter_mut().for_each(|v| *v = v.max(0.0));
        }
    }

    /// The receptive fields of output pixels `first..first + count` (counted over the batch),
    /// one row of `k·k·cin` values per pixel; zeros where the kernel overhangs.
    fn im2col(&self, x: &Activations, first: usize, count: usize, g: Geometry) -> Vec<f32> {
        let (k, cin) = (self.kernel, self.cin);
        let depth = k * k * cin;
        let mut columns = vec![0.0; count * depth];
        for (p, field) in columns.chunks_exact_mut(depth).enumerate() {
            let pixel = first + p;
            let image = pixel / (g.out_h * g.out_w);
            let (oy, ox) = ((pixel / g.out_w) % g.out_h, pixel % g.out_w);
            let plane = &x.data[image * x.h * x.w * cin..(image + 1) * x.h * x.w * cin];
            for ky in 0..k {
                let iy = (oy * self.stride + ky).wrapping_sub(self.pad);
                if iy >= x.h {
                    continue; // above or below the image: stays zero
                }
                for kx in 0..k {
                    let ix = (ox * self.stride + kx).wrapping_sub(self.pad);
                    if ix >= x.w {
                        continue;
                    }
                    let at = (iy * x.w + ix) * cin;
                    field[(ky * k + kx) * cin..(ky * k + kx + 1) * cin]
                        .copy_from_slice(&plane[at..at + cin]);
                }
            }
        }
        columns
    }
}

/// What every band of one convolution shares.
#[derive(Clone, Copy)]
struct Band<'a> {
    x: &'a Activations,
    residual: Option<&'a Activations>,
    relu: bool,
    geometry: Geometry,
    /// The only band: the product may use the threads itself.
    shared: bool,
}

/// A convolution's output size.
#[derive(Clone, Copy)]
struct Geometry {
    out_h: usize,
    out_w: usize,
}

/// Output pixels per band: enough bands for every thread, none under [`MIN_BAND_PIXELS`]
/// (a thinner product loses more to packing than threads win), and an im2col buffer of at
/// most [`BAND_BYTES`].
fn band_pixels(pixels: usize, depth: usize) -> usize {
    let by_memory = (BAND_BYTES / 4 / depth.max(1)).max(1);
    let by_threads = pixels.div_ceil(threads());
    let band = if by_threads < MIN_BAND_PIXELS {
        pixels
    } else {
        by_threads
    };
    band.min(by_memory).max(1)
}

#[cfg(feature = "rayon")]
thread_local! {
    /// Set while this thread runs one image of a batch alone (see `pooled_features`).
    static ONE_THREAD: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Runs `work` with this thread's convolutions and products on this thread only.
#[cfg(feature = "rayon")]
fn one_thread<T>(work: impl FnOnce() -> T) -> T {
    let before = ONE_THREAD.replace(true);
    let out = work();
    ONE_THREAD.set(before);
    out
}

/// Runs `run(i, chunk)` on each `len`-long chunk of `items` (`i`: its index), on every thread
/// where there are threads (one inside `one_thread`): a layer's bands.
pub(super) fn for_each_chunk<T: Send>(
    items: &mut [T],
    len: usize,
    run: impl Fn(usize, &mut [T]) + Send + Sync,
) {
    #[cfg(feature = "rayon")]
    if threads() > 1 {
        use rayon::prelude::*;
        items
            .par_chunks_mut(len)
            .enumerate()
            .for_each(|(i, chunk)| run(i, chunk));
        return;
    }
    items
        .chunks_mut(len)
        .enumerate()
        .for_each(|(i, chunk)| run(i, chunk));
}

pub(super) fn threads() -> usize {
    #[cfg(feature = "rayon")]
    {
        match ONE_THREAD.get() {
            true => 1,
            false => rayon::current_num_threads(),
        }
    }
    #[cfg(not(feature = "rayon"))]
    1
}

impl Block {
    /// `ReLU(F(x) + S(x))`, the addition and the last ReLU fused into the last convolution.
    fn apply(&self, x: Activations) -> Activations {
        let shortcut = self.shortcut.as_ref().map(|s| s.apply(&x, false, None));
        let last = self.branch.len() - 1;
        let mut h: Option<Activations> = None;
        for (i, conv) in self.branch.iter().enumerate() {
            let input = h.as_ref().unwrap_or(&x);
            let residual = (i == last).then(|| shortcut.as_ref().unwrap_or(&x));
            h = Some(conv.apply(input, true, residual));
        }
        h.unwrap_or(x)
    }
}

/// Threads for products big enough to share (the pool is rayon's: every core natively, the
/// page's worker pool in the threaded WebAssembly engine, none in the single-threaded one).
pub(super) fn parallelism(work: usize) -> gemm::Parallelism {
    #[cfg(feature = "rayon")]
    {
        if work >= 1 << 20 && threads() > 1 {
            return gemm::Parallelism::Rayon(0);
        }
    }
    let _ = work;
    gemm::Parallelism::None
}

/// `[n, c, h, w]` → `[n, h, w, c]`.
pub(super) fn to_channel_last(images: &[f32], n: usize, h: usize, w: usize) -> Activations {
    let c = images.len() / (n * h * w);
    let mut data = vec![0.0; images.len()];
    for (i, image) in images.chunks_exact(c * h * w).enumerate() {
        let out = &mut data[i * h * w * c..(i + 1) * h * w * c];
        for (ch, plane) in image.chunks_exact(h * w).enumerate() {
            for (p, &v) in plane.iter().enumerate() {
                out[p * c + ch] = v;
            }
        }
    }
    Activations { n, h, w, c, data }
}

/// 3×3 max pool, stride 2, padding 1 (padding never wins: it is −∞, as in PyTorch).
pub(super) fn max_pool_3x3_s2(x: &Activations) -> Activations {
    let (out_h, out_w) = (x.h.div_ceil(2), x.w.div_ceil(2));
    let c = x.c;
    let mut data = vec![f32::NEG_INFINITY; x.n * out_h * out_w * c];
    for (image, out) in data.chunks_exact_mut(out_h * out_w * c).enumerate() {
        let plane = &x.data[image * x.h * x.w * c..(image + 1) * x.h * x.w * c];
        for (o, pixel) in out.chunks_exact_mut(c).enumerate() {
            let (oy, ox) = (o / out_w, o % out_w);
            for iy in (2 * oy).saturating_sub(1)..(2 * oy + 2).min(x.h) {
                for ix in (2 * ox).saturating_sub(1)..(2 * ox + 2).min(x.w) {
                    let at = (iy * x.w + ix) * c;
                    for (m, &v) in pixel.iter_mut().zip(&plane[at..at + c]) {
                        *m = m.max(v);
                    }
                }
            }
        }
    }
    Activations {
        n: x.n,
        h: out_h,
        w: out_w,
        c,
        data,
    }
}

/// The mean over each image's pixels: `n` rows of `c`.
pub(super) fn global_average_pool(x: &Activations) -> Vec<Vec<f32>> {
    let pixels = x.h * x.w;
    x.data
        .chunks_exact(pixels * x.c)
        .map(|image| {
            let mut sum = vec![0.0f64; x.c];
            for pixel in image.chunks_exact(x.c) {
                for (s, &v) in sum.iter_mut().zip(pixel) {
                    *s += v as f64;
                }
            }
            sum.iter().map(|s| (s / pixels as f64) as f32).collect()
        })
        .collect()
}
