//! Input gradients on the channel-last CPU path (`cpu_forward.rs`), for the gradient panel.
//!
//! A forward pass records what its backward pass needs ([`Trace`]: each ReLU's output, the
//! max pool's input); the backward pass then sends the gradient back through the blocks, each
//! convolution by its adjoint (`adjoint.rs`: the same work as its forward pass), each ReLU and
//! the max pool where their forward pass let the value through. The plain network (every
//! shortcut removed) shares the residual network's stem; a classification's forward pass can be
//! kept for the gradient panel of the same photo ([`ForwardTrace`]).

use std::sync::{Arc, Weak};

use crate::error::{Error, Result};

use super::cpu_forward::{
    Activations, Block, CpuForward, global_average_pool, max_pool_3x3_s2, to_channel_last,
};

mod adjoint;
#[cfg(test)]
mod tests;

use adjoint::BlockAdjoint;
pub(crate) use adjoint::CpuBackward;

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
