//! Each convolution's backward pass (its input gradient), arranged once per network: a
//! flipped convolution on the forward pass's kernels where the stride is 1, the product with the
//! transposed weight and col2im where it is not.

use crate::model::cpu_forward::{Activations, Conv, CpuForward, parallelism};
use crate::model::cpu_products::matmul_accumulate_transposed;

/// Bytes the columns of one band of a backward convolution may take.
const BAND_BYTES: usize = 4 << 20;

/// Each convolution's backward pass, arranged once per network (`CpuForward::adjoint`).
#[derive(Debug, Clone)]
pub(crate) struct CpuBackward {
    pub(super) stem: Adjoint,
    pub(super) blocks: Vec<BlockAdjoint>,
}

#[derive(Debug, Clone)]
pub(super) struct BlockAdjoint {
    pub(super) branch: Vec<Adjoint>,
    pub(super) shortcut: Option<Adjoint>,
}

/// How a convolution's input gradient is computed.
#[derive(Debug, Clone)]
pub(super) enum Adjoint {
    /// With stride 1 and "same" padding, the input gradient is itself such a convolution, of
    /// the output gradient with the kernel flipped and its channels swapped: it runs on the
    /// forward pass's banded, threaded path.
    Flipped(Conv),
    /// Otherwise (strided kernels): the product with the transposed weight, its columns added
    /// back to their pixels (col2im).
    Scatter,
}

impl Adjoint {
    pub(super) fn of(conv: &Conv) -> Self {
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
        Adjoint::Flipped(
            Conv {
                kernel: k,
                stride: 1,
                pad: conv.pad,
                cin: cout,
                cout: cin,
                weight,
                bias: vec![0.0; cin],
                winograd: None,
            }
            .with_winograd(),
        )
    }

    /// The gradient at `conv`'s `[height, width]` input from the gradient at its output.
    pub(super) fn apply(&self, conv: &Conv, g: &Activations, size: [usize; 2]) -> Activations {
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

impl Conv {
    /// The gradient at this convolution's `[height, width]` input from the gradient at its
    /// output: `g · Wᵀ`, each row's columns added back to the input pixels they came from.
    pub(super) fn input_gradient(
        &self,
        g: &Activations,
        [height, width]: [usize; 2],
    ) -> Activations {
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
