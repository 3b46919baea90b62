//! Arranging a loaded network's weights for the channel-last CPU forward pass
//! ([`CpuForward`]): taken as they are folded and uploaded, or read off Burn's device, then
//! laid out for im2col products.

use burn::tensor::{Device, Tensor};

use crate::error::{Error, Result};
use crate::model::config::ResNetConfig;
use crate::model::cpu_forward::{Block, Conv, CpuForward, for_each_chunk};
use crate::model::layers::{ConvBn, FoldedConv};
use crate::model::tensors::ConvRole;
use crate::model::{ResNet, ResidualBlock};
use crate::weights::tensor_set::TensorSet;

impl CpuForward {
    /// Builds `config`'s network on `device` and, from the same folded weights before they are
    /// uploaded, the channel-last pass: nothing is read back from the device (for ResNet-50
    /// that read was ~110 ms natively, as long as the arrangement itself).
    pub fn with_model(
        config: &ResNetConfig,
        tensors: TensorSet,
        device: &Device,
    ) -> Result<(ResNet, Self)> {
        let mut stem = None;
        let mut blocks: Vec<Block> = Vec::new();
        let model =
            ResNet::from_tensors_observed(config, tensors, device, &mut |block, role, f| {
                let conv = Conv::from_folded(&f);
                let Some(b) = block else {
                    stem = Some(conv);
                    return;
                };
                if blocks.len() <= b {
                    blocks.resize_with(b + 1, || Block {
                        branch: Vec::new(),
                        shortcut: None,
                    });
                }
                match role {
                    ConvRole::Projection => blocks[b].shortcut = Some(conv),
                    _ => blocks[b].branch.push(conv),
                }
            })?;
        let stem = stem.ok_or_else(|| Error::Backend("the network has no stem".into()))?;
        let (fc_weight, fc_bias) = host_classifier(&model)?;
        let cpu = Self {
            stem,
            stem_pool: model.stem_pool,
            blocks,
            fc_weight,
            fc_bias,
        };
        Ok((model, cpu))
    }

    /// Copies `model`'s (folded) weights out of its device into the channel-last layout: read
    /// on this thread (Burn), arranged block by block on the threads where there are threads.
    pub fn from_model(model: &ResNet) -> Result<Self> {
        let read_block = |b: &ResidualBlock| -> Result<HostBlock> {
            let branch = b.branch.iter().map(HostConv::read).collect::<Result<_>>()?;
            Ok((branch, b.shortcut.as_ref().map(HostConv::read).transpose()?))
        };
        let read = model
            .blocks
            .iter()
            .map(read_block)
            .collect::<Result<Vec<_>>>()?;
        let arrange = |(branch, shortcut): HostBlock| Block {
            branch: branch.iter().map(HostConv::arrange).collect(),
            shortcut: shortcut.as_ref().map(HostConv::arrange),
        };
        #[cfg(feature = "rayon")]
        let blocks = {
            use rayon::prelude::*;
            read.into_par_iter().map(arrange).collect()
        };
        #[cfg(not(feature = "rayon"))]
        let blocks = read.into_iter().map(arrange).collect();
        let (fc_weight, fc_bias) = host_classifier(model)?;
        Ok(Self {
            stem: HostConv::read(&model.stem)?.arrange(),
            stem_pool: model.stem_pool,
            blocks,
            fc_weight,
            fc_bias,
        })
    }
}

/// The classifier's `[features][classes]` weight (Burn's Linear already stores `[in, out]`)
/// and its bias.
fn host_classifier(model: &ResNet) -> Result<(Vec<f32>, Vec<f32>)> {
    let fc_bias = match &model.fc.bias {
        Some(bias) => host(bias.val())?,
        None => vec![0.0; model.fc.weight.dims()[1]],
    };
    Ok((host(model.fc.weight.val())?, fc_bias))
}

/// A block's convolutions as read off the device: its branch and its shortcut.
type HostBlock = (Vec<HostConv>, Option<HostConv>);

/// A folded convolution's weights on the host, still in Burn's `[cout][cin][k][k]` layout.
struct HostConv {
    /// `[cout, cin, k, k]`.
    dims: [usize; 4],
    stride: usize,
    weight: Vec<f32>,
    bias: Vec<f32>,
}

impl HostConv {
    fn read(layer: &ConvBn) -> Result<Self> {
        let dims @ [cout, _, kh, kw] = layer.conv.weight.dims();
        if kh != kw {
            return Err(Error::Backend(format!("a {kh}×{kw} kernel is not square")));
        }
        Ok(Self {
            dims,
            stride: layer.conv.stride[0],
            weight: host(layer.conv.weight.val())?,
            bias: match &layer.conv.bias {
                Some(b) => host(b.val())?,
                None => vec![0.0; cout],
            },
        })
    }
}

impl HostConv {
    fn arrange(&self) -> Conv {
        Conv::from_folded(&FoldedConv {
            dims: self.dims,
            stride: self.stride,
            weight: &self.weight,
            bias: &self.bias,
        })
    }
}

impl Conv {
    fn from_folded(layer: &FoldedConv<'_>) -> Self {
        let [cout, cin, k, _] = layer.dims;
        Self {
            kernel: k,
            stride: layer.stride,
            pad: k / 2,
            cin,
            cout,
            weight: im2col_layout(layer.weight, cout, cin, k * k),
            bias: layer.bias.to_vec(),
            winograd: None,
        }
        .with_winograd()
    }
}

/// `[cout][cin][ky][kx]` → `[(ky·k + kx)·cin + ci][cout]`, in square tiles: element by element
/// every write lands `cout` floats (often a page or more) from the last, and the transposition
/// then costs more than reading the weights (ResNet-50: ~180 ms natively against ~25 ms).
fn im2col_layout(nchw: &[f32], cout: usize, cin: usize, taps: usize) -> Vec<f32> {
    const TILE: usize = 32;
    let columns = cin * taps;
    let mut weight = vec![0.0; nchw.len()];
    // Output row `t·cin + i` holds input column `i·taps + t`; TILE rows at a time per thread.
    for_each_chunk(&mut weight, TILE * cout, |chunk_index, rows| {
        let first = chunk_index * TILE;
        for o0 in (0..cout).step_by(TILE) {
            let outputs = o0..(o0 + TILE).min(cout);
            for (r, row) in rows.chunks_exact_mut(cout).enumerate() {
                let (t, i) = ((first + r) / cin, (first + r) % cin);
                let j = i * taps + t;
                for o in outputs.clone() {
                    row[o] = nchw[o * columns + j];
                }
            }
        }
    });
    weight
}

/// A tensor's values on the host (the CPU device reads synchronously).
fn host<const D: usize>(tensor: Tensor<D>) -> Result<Vec<f32>> {
    tensor
        .into_data()
        .convert::<f32>()
        .try_into_vec::<f32>()
        .map_err(|e| Error::Backend(format!("reading weights back failed: {e:?}")))
}

#[cfg(test)]
mod tests {
    use super::im2col_layout;

    /// The tiled arrangement puts every weight where the definition says, including the
    /// partial tiles at the edges (sizes that are not multiples of the tile).
    #[test]
    fn weights_are_arranged_tap_major_then_input_channel() {
        let (cout, cin, k) = (37, 5, 3);
        let nchw: Vec<f32> = (0..cout * cin * k * k).map(|v| v as f32).collect();
        let weight = im2col_layout(&nchw, cout, cin, k * k);
        for o in 0..cout {
            for i in 0..cin {
                for (ky, kx) in (0..k).flat_map(|y| (0..k).map(move |x| (y, x))) {
                    let source = ((o * cin + i) * k + ky) * k + kx;
                    let row = (ky * k + kx) * cin + i;
                    assert_eq!(
                        weight[row * cout + o],
                        source as f32,
                        "o {o} i {i} ({ky}, {kx})"
                    );
                }
            }
        }
    }
}
