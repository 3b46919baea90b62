//! Input gradients on the channel-last CPU path (`cpu_forward.rs`), for the gradient panel.
//!
//! The weights are fixed, so a convolution's backward pass is one product of the output
//! gradient with its transposed weight, plus, for a k×k or strided kernel, the columns added
//! back to the pixels they were copied from (col2im): the same work as its forward pass. ReLUs
//! and the max pool pass the gradient where their forward pass let the value through. A
//! forward pass records what its backward pass needs ([`Trace`]); the plain network (every
//! shortcut removed) shares the residual network's stem.

use std::sync::{Arc, Weak};

use crate::error::{Error, Result};

use super::cpu_forward::{
    Activations, Block, Conv, CpuForward, global_average_pool, matmul_accumulate_transposed,
    max_pool_3x3_s2, parallelism, to_channel_last,
};

/// Bytes the columns of one band of a backward convolution may take.
const BAND_BYTES: usize = 4 << 20;

/// The stem's forward pass on one image.
pub(crate) struct StemTrace {
    height: usize,
    width: usize,
    /// After the convolution and its ReLU, before the max pool.
    activated: Activations,
    /// After the max pool (ImageNet stems only): the first block's input.
    pooled: Option<Activations>,
}

impl StemTrace {
    fn output(&self) -> &Activations {
        self.pooled.as_ref().unwrap_or(&self.activated)
    }
}

/// The blocks' forward pass from the stem, with or without their shortcuts.
pub(crate) struct Trace {
    shortcuts: bool,
    blocks: Vec<BlockTrace>,
}

struct BlockTrace {
    /// ‖x_b‖ of the block's input.
    input_norm: f32,
    /// The branch's convolutions' outputs after their ReLU, all but the last.
    inner: Vec<Activations>,
    /// The block's output after its ReLU.
    output: Activations,
}

/// A block's gradient, split by path (‖∂z/∂x_b‖ of both together, of the shortcut's part and of
/// the branch's part; a plain network's is all branch).
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct PathNorms {
    pub total: f32,
    pub shortcut: f32,
    pub branch: f32,
}

/// What a backward pass found: per block the norms, then at the image.
pub(crate) struct Gradients {
    pub blocks: Vec<PathNorms>,
    /// ∂z/∂image, `[height·width][3]` (channel-last).
    pub image: Vec<f32>,
}

/// One image's forward pass on the channel-last path, kept by a classification so that the
/// gradient panel of the same photo need not repeat it ([`CpuForward::traced`]).
pub struct ForwardTrace {
    /// The network it ran on (not kept alive by the trace).
    network: Weak<CpuForward>,
    image: Vec<f32>,
    size: [usize; 2],
    stem: StemTrace,
    blocks: Trace,
}

impl ForwardTrace {
    /// Whether this is `network`'s forward pass of `image`, exactly.
    pub(crate) fn is_of(&self, network: &Arc<CpuForward>, image: &[f32], size: [usize; 2]) -> bool {
        std::ptr::eq(self.network.as_ptr(), Arc::as_ptr(network))
            && self.size == size
            && self.image == image
    }

    pub(crate) fn parts(&self) -> (&StemTrace, &Trace) {
        (&self.stem, &self.blocks)
    }
}

impl std::fmt::Debug for ForwardTrace {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "ForwardTrace({}×{})", self.size[0], self.size[1])
    }
}

/// Each convolution's backward pass, arranged once per network (`CpuForward::adjoint`).
#[derive(Debug, Clone)]
pub(crate) struct CpuBackward {
    stem: Adjoint,
    blocks: Vec<BlockAdjoint>,
}

#[derive(Debug, Clone)]
struct BlockAdjoint {
    branch: Vec<Adjoint>,
    shortcut: Option<Adjoint>,
}

/// How a convolution's input gradient is computed.
#[derive(Debug, Clone)]
enum Adjoint {
    /// With stride 1 and "same" padding, the input gradient is itself such a convolution, of
    /// the output gradient with the kernel flipped and its channels swapped: it runs on the
    /// forward pass's banded, threaded path.
    Flipped(Conv),
    /// Otherwise (strided kernels): the product with the transposed weight, its columns added
    /// back to their pixels (col2im).
    Scatter,
}

impl Adjoint {
    fn of(conv: &Conv) -> Self {
        let (k, cin, cout) = (conv.kernel, conv.cin, conv.cout);
        if conv.stride != 1 || k % 2 == 0 || conv.pad != k / 2 {
            return Adjoint::Scatter;
        }
        // [(ky·k + kx)·cin + ci][co] → [((k−1−ky)·k + (k−1−kx))·cout + co][ci]
        let mut weight = vec![0.0; conv.weight.len()];
        for tap in 0..k * k {
            let flipped = k * k - 1 - tap;
            for ci in 0..cin {
                let row = &conv.weight[(tap * cin + ci) * cout..(tap * cin + ci + 1) * cout];
                for (co, &v) in row.iter().enumerate() {
                    weight[(flipped * cout + co) * cin + ci] = v;
                }
            }
        }
        Adjoint::Flipped(Conv {
            kernel: k,
            stride: 1,
            pad: conv.pad,
            cin: cout,
            cout: cin,
            weight,
            bias: vec![0.0; cin],
        })
    }

    /// The gradient at `conv`'s `[height, width]` input from the gradient at its output.
    fn apply(&self, conv: &Conv, g: &Activations, size: [usize; 2]) -> Activations {
        match self {
            Adjoint::Flipped(flipped) => flipped.apply(g, false, None),
            Adjoint::Scatter => conv.input_gradient(g, size),
        }
    }
}

impl CpuForward {
    /// Arranges every convolution's backward pass (a second copy of the stride-1 kernels).
    pub(crate) fn adjoint(&self) -> CpuBackward {
        CpuBackward {
            stem: Adjoint::of(&self.stem),
            blocks: self
                .blocks
                .iter()
                .map(|b| BlockAdjoint {
                    branch: b.branch.iter().map(Adjoint::of).collect(),
                    shortcut: b.shortcut.as_ref().map(Adjoint::of),
                })
                .collect(),
        }
    }
}

impl CpuForward {
    /// One `[3, height, width]` image's pooled features (channel-major in), computed as
    /// [`Self::pooled_features`] does, with the forward pass kept for its gradients.
    pub fn traced(
        self: &Arc<Self>,
        image: &[f32],
        size: [usize; 2],
    ) -> Result<(Vec<f32>, ForwardTrace)> {
        if image.len() != 3 * size[0] * size[1] {
            return Err(Error::Input(format!(
                "{} values do not make a [3, {}, {}] image",
                image.len(),
                size[0],
                size[1]
            )));
        }
        let stem = self.trace_stem(image, size);
        let blocks = self.trace_blocks(&stem, true);
        let pooled = blocks.pooled(&stem);
        let trace = ForwardTrace {
            network: Arc::downgrade(self),
            image: image.to_vec(),
            size,
            stem,
            blocks,
        };
        Ok((pooled, trace))
    }
}

impl CpuForward {
    /// The stem on one `[3, height, width]` image (channel-major).
    pub(crate) fn trace_stem(&self, image: &[f32], [height, width]: [usize; 2]) -> StemTrace {
        let input = to_channel_last(image, 1, height, width);
        let activated = self.stem.apply(&input, true, None);
        let pooled = self.stem_pool.then(|| max_pool_3x3_s2(&activated));
        StemTrace {
            height,
            width,
            activated,
            pooled,
        }
    }

    /// Every block after `stem`, keeping each ReLU's output.
    pub(crate) fn trace_blocks(&self, stem: &StemTrace, shortcuts: bool) -> Trace {
        let mut blocks: Vec<BlockTrace> = Vec::with_capacity(self.blocks.len());
        for block in &self.blocks {
            let input = blocks.last().map_or(stem.output(), |b| &b.output);
            let traced = block.trace(input, shortcuts);
            blocks.push(traced);
        }
        Trace { shortcuts, blocks }
    }

    /// The gradient of `z = d_pooled · avgpool(h)` (`h` the last block's output) back through
    /// the blocks and the stem.
    pub(crate) fn backward(
        &self,
        adjoint: &CpuBackward,
        stem: &StemTrace,
        trace: &Trace,
        d_pooled: &[f32],
    ) -> Result<Gradients> {
        let last = trace.output(stem);
        if d_pooled.len() != last.c {
            return Err(Error::Input(format!(
                "a gradient of {} values for {} features",
                d_pooled.len(),
                last.c
            )));
        }
        let pixels = (last.h * last.w) as f32;
        let mut g = Activations {
            n: 1,
            h: last.h,
            w: last.w,
            c: last.c,
            data: (0..last.h * last.w)
                .flat_map(|_| d_pooled.iter().map(|v| v / pixels))
                .collect(),
        };
        let mut blocks = Vec::with_capacity(self.blocks.len());
        let layers = self.blocks.iter().zip(&adjoint.blocks).zip(&trace.blocks);
        for (i, ((block, block_adjoint), traced)) in layers.enumerate().rev() {
            let input = match i {
                0 => stem.output(),
                _ => &trace.blocks[i - 1].output,
            };
            let (g_input, norms) = block.backward(block_adjoint, traced, input, g, trace.shortcuts);
            blocks.push(norms);
            g = g_input;
        }
        blocks.reverse();
        if let Some(pooled) = &stem.pooled {
            g = max_pool_backward(&stem.activated, pooled, &g);
        }
        mask(&mut g, &stem.activated);
        let size = [stem.height, stem.width];
        let image = adjoint.stem.apply(&self.stem, &g, size).data;
        Ok(Gradients { blocks, image })
    }

    /// `∂z_class/∂pooled`: the classifier's weights for `class`.
    pub(crate) fn classifier_weights(&self, class: usize) -> Vec<f32> {
        let classes = self.classes();
        self.fc_weight
            .iter()
            .skip(class)
            .step_by(classes.max(1))
            .copied()
            .collect()
    }
}

impl Trace {
    /// The last block's output (the stem's, were there no blocks).
    fn output<'a>(&'a self, stem: &'a StemTrace) -> &'a Activations {
        self.blocks.last().map_or(stem.output(), |b| &b.output)
    }

    /// The last block's output as `[pixels][channels]` with its height and width.
    pub(crate) fn features<'a>(&'a self, stem: &'a StemTrace) -> (&'a [f32], [usize; 2]) {
        let last = self.output(stem);
        (&last.data, [last.h, last.w])
    }

    /// The last block's output, averaged over its pixels.
    pub(crate) fn pooled(&self, stem: &StemTrace) -> Vec<f32> {
        global_average_pool(self.output(stem)).concat()
    }

    /// ‖x_b‖ of each block's input.
    pub(crate) fn input_norms(&self) -> Vec<f32> {
        self.blocks.iter().map(|b| b.input_norm).collect()
    }
}

impl Block {
    /// `ReLU(F(x) + S(x))` (or `ReLU(F(x))` without shortcuts), keeping every ReLU's output.
    fn trace(&self, x: &Activations, shortcuts: bool) -> BlockTrace {
        let shortcut = match (&self.shortcut, shortcuts) {
            (Some(conv), true) => Some(conv.apply(x, false, None)),
            _ => None,
        };
        let last = self.branch.len() - 1;
        let mut inner: Vec<Activations> = Vec::with_capacity(last);
        for conv in &self.branch[..last] {
            let out = conv.apply(inner.last().unwrap_or(x), true, None);
            inner.push(out);
        }
        let residual = shortcuts.then(|| shortcut.as_ref().unwrap_or(x));
        let output = self.branch[last].apply(inner.last().unwrap_or(x), true, residual);
        BlockTrace {
            input_norm: norm(&x.data),
            inner,
            output,
        }
    }

    /// From the gradient at the block's output to the gradient at its input `x`.
    fn backward(
        &self,
        adjoint: &BlockAdjoint,
        traced: &BlockTrace,
        x: &Activations,
        mut g: Activations,
        shortcuts: bool,
    ) -> (Activations, PathNorms) {
        mask(&mut g, &traced.output);
        // The branch first, reading `g`; the shortcut's part is then `g` itself (identity) or
        // its projection's input gradient.
        let mut branch: Option<Activations> = None;
        for (i, (conv, back)) in self.branch.iter().zip(&adjoint.branch).enumerate().rev() {
            let below = if i == 0 { x } else { &traced.inner[i - 1] };
            let mut grad = back.apply(conv, branch.as_ref().unwrap_or(&g), [below.h, below.w]);
            if i > 0 {
                mask(&mut grad, below);
            }
            branch = Some(grad);
        }
        let branch = branch.unwrap_or_else(|| g.clone());
        if !shortcuts {
            let n = norm(&branch.data);
            let norms = PathNorms {
                total: n,
                shortcut: 0.0,
                branch: n,
            };
            return (branch, norms);
        }
        let mut total = match (&self.shortcut, &adjoint.shortcut) {
            (Some(conv), Some(back)) => back.apply(conv, &g, [x.h, x.w]),
            _ => g,
        };
        let (shortcut, branch_norm) = (norm(&total.data), norm(&branch.data));
        total
            .data
            .iter_mut()
            .zip(&branch.data)
            .for_each(|(t, b)| *t += b);
        let norms = PathNorms {
            total: norm(&total.data),
            shortcut,
            branch: branch_norm,
        };
        (total, norms)
    }
}

impl Conv {
    /// The gradient at this convolution's `[height, width]` input from the gradient at its
    /// output: `g · Wᵀ`, each row's columns added back to the input pixels they came from.
    fn input_gradient(&self, g: &Activations, [height, width]: [usize; 2]) -> Activations {
        let pixels = g.n * g.h * g.w;
        let mut data = vec![0.0; g.n * height * width * self.cin];
        let weight = &self.weight;
        if self.kernel == 1 && self.stride == 1 {
            let threads = parallelism(pixels * self.cout * self.cin);
            matmul_accumulate_transposed(
                &mut data,
                &g.data,
                weight,
                [pixels, self.cout, self.cin],
                threads,
            );
        } else {
            let depth = self.kernel * self.kernel * self.cin;
            let band = (BAND_BYTES / 4 / depth).max(1);
            let mut columns = Vec::new();
            for first in (0..pixels).step_by(band) {
                let count = band.min(pixels - first);
                columns.clear();
                columns.resize(count * depth, 0.0);
                let rows = &g.data[first * self.cout..(first + count) * self.cout];
                let threads = parallelism(count * self.cout * depth);
                matmul_accumulate_transposed(
                    &mut columns,
                    rows,
                    weight,
                    [count, self.cout, depth],
                    threads,
                );
                self.col2im(&columns, first, [g.h, g.w], [height, width], &mut data);
            }
        }
        Activations {
            n: g.n,
            h: height,
            w: width,
            c: self.cin,
            data,
        }
    }

    /// Adds each output pixel's row of `k·k·cin` values to the input pixels its receptive field
    /// covers (the reverse of `im2col`); what falls on the padding is dropped.
    fn col2im(
        &self,
        columns: &[f32],
        first: usize,
        [out_h, out_w]: [usize; 2],
        [height, width]: [usize; 2],
        into: &mut [f32],
    ) {
        let (k, cin) = (self.kernel, self.cin);
        for (p, field) in columns.chunks_exact(k * k * cin).enumerate() {
            let pixel = first + p;
            let image = pixel / (out_h * out_w);
            let (oy, ox) = ((pixel / out_w) % out_h, pixel % out_w);
            let plane = &mut into[image * height * width * cin..(image + 1) * height * width * cin];
            for ky in 0..k {
                let iy = (oy * self.stride + ky).wrapping_sub(self.pad);
                if iy >= height {
                    continue;
                }
                for kx in 0..k {
                    let ix = (ox * self.stride + kx).wrapping_sub(self.pad);
                    if ix >= width {
                        continue;
                    }
                    let at = (iy * width + ix) * cin;
                    let tap = &field[(ky * k + kx) * cin..(ky * k + kx + 1) * cin];
                    for (v, t) in plane[at..at + cin].iter_mut().zip(tap) {
                        *v += t;
                    }
                }
            }
        }
    }
}

/// The 3×3 stride-2 max pool's backward pass: each output's gradient goes to the first input
/// of its window holding the maximum (PyTorch's choice on ties).
fn max_pool_backward(x: &Activations, pooled: &Activations, g: &Activations) -> Activations {
    let c = x.c;
    let mut data = vec![0.0; x.data.len()];
    for image in 0..x.n {
        let plane = image * x.h * x.w * c;
        for o in 0..pooled.h * pooled.w {
            let (oy, ox) = (o / pooled.w, o % pooled.w);
            let at = (image * pooled.h * pooled.w + o) * c;
            for ch in 0..c {
                let max = pooled.data[at + ch];
                let winner = (2 * oy).saturating_sub(1)..(2 * oy + 2).min(x.h);
                let found = winner.flat_map(|iy| {
                    ((2 * ox).saturating_sub(1)..(2 * ox + 2).min(x.w))
                        .map(move |ix| plane + (iy * x.w + ix) * c + ch)
                });
                if let Some(i) = found.into_iter().find(|&i| x.data[i] == max) {
                    data[i] += g.data[at + ch];
                }
            }
        }
    }
    Activations {
        n: x.n,
        h: x.h,
        w: x.w,
        c,
        data,
    }
}

/// Zeroes the gradient wherever the ReLU that produced `output` was closed.
fn mask(g: &mut Activations, output: &Activations) {
    for (v, &out) in g.data.iter_mut().zip(&output.data) {
        if out <= 0.0 {
            *v = 0.0;
        }
    }
}

/// ‖v‖₂, summed in double precision.
pub(crate) fn norm(v: &[f32]) -> f32 {
    v.iter()
        .map(|&x| f64::from(x) * f64::from(x))
        .sum::<f64>()
        .sqrt() as f32
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reproducible value in [-1, 1).
    fn value(i: usize) -> f32 {
        let x = (i as u32).wrapping_mul(2_654_435_761) >> 8;
        x as f32 / (1u32 << 23) as f32 - 1.0
    }

    fn activations(n: usize, h: usize, w: usize, c: usize, seed: usize) -> Activations {
        let data = (0..n * h * w * c).map(|i| value(i * 7 + seed)).collect();
        Activations { n, h, w, c, data }
    }

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter()
            .zip(b)
            .map(|(x, y)| f64::from(*x) * f64::from(*y))
            .sum()
    }

    /// The input gradient is the convolution's adjoint: ⟨conv(x), g⟩ = ⟨x, convᵀ(g)⟩ for every
    /// x and g (no bias, no ReLU), for each kernel, stride and odd or even input size a ResNet
    /// has, and over band boundaries.
    #[test]
    fn input_gradient_is_the_adjoint_of_the_convolution() {
        for (kernel, stride, cin, cout, side) in [
            (1, 1, 5, 3, 6),
            (1, 2, 4, 6, 7),
            (3, 1, 3, 4, 5),
            (3, 2, 2, 5, 8),
            (3, 2, 3, 2, 9),
            (7, 2, 3, 4, 11),
            (3, 1, 600, 2, 40),
        ] {
            let conv = Conv {
                kernel,
                stride,
                pad: kernel / 2,
                cin,
                cout,
                weight: (0..kernel * kernel * cin * cout)
                    .map(|i| value(i + 3))
                    .collect(),
                bias: vec![0.0; cout],
            };
            let x = activations(2, side, side + 1, cin, 1);
            let y = conv.apply(&x, false, None);
            let g = activations(y.n, y.h, y.w, cout, 5);
            // Both ways: the flipped convolution (stride 1 only) and col2im (any stride).
            let mut ways = vec![conv.input_gradient(&g, [x.h, x.w])];
            if let flipped @ Adjoint::Flipped(_) = Adjoint::of(&conv) {
                ways.push(flipped.apply(&conv, &g, [x.h, x.w]));
            }
            assert_eq!(ways.len(), if stride == 1 { 2 } else { 1 });
            for back in ways {
                assert_eq!([back.n, back.h, back.w, back.c], [x.n, x.h, x.w, x.c]);
                let (lhs, rhs) = (dot(&y.data, &g.data), dot(&x.data, &back.data));
                assert!(
                    (lhs - rhs).abs() <= 1e-4 * lhs.abs().max(1.0),
                    "k{kernel} s{stride} {cin}→{cout} on {side}: {lhs} vs {rhs}"
                );
            }
        }
    }

    /// The max pool sends each output's gradient to its window's first maximum: by hand on a
    /// 4×4 single-channel plane with a tie.
    #[test]
    fn max_pool_gradient_goes_to_the_first_maximum() {
        #[rustfmt::skip]
        let plane = vec![
            1.0, 5.0, 2.0, 0.0,
            3.0, 5.0, 9.0, 1.0,
            0.0, 4.0, 2.0, 8.0,
            7.0, 1.0, 3.0, 6.0,
        ];
        let x = Activations {
            n: 1,
            h: 4,
            w: 4,
            c: 1,
            data: plane,
        };
        let pooled = max_pool_3x3_s2(&x);
        // Windows (rows, cols): [0,1]×[0,1] max 5 first at (0,1); [0,1]×[1,3] max 9 at (1,2);
        // [1,3]×[0,1] max 7 at (3,0); [1,3]×[1,3] max 9 at (1,2).
        assert_eq!(pooled.data, vec![5.0, 9.0, 7.0, 9.0]);
        let g = Activations {
            n: 1,
            h: 2,
            w: 2,
            c: 1,
            data: vec![1.0, 10.0, 100.0, 1000.0],
        };
        let back = max_pool_backward(&x, &pooled, &g);
        let mut want = vec![0.0; 16];
        want[1] = 1.0;
        want[6] = 1010.0;
        want[12] = 100.0;
        assert_eq!(back.data, want);
    }
}
