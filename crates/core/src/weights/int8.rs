//! INT8 bundles: per-output-channel symmetric int8 weights after BatchNorm folding.
//!
//! Layout (bundle version 2, description `stored_dtype: "int8"`), one entry per convolution
//! (torchvision names) and for the classifier:
//!
//! | tensor | dtype | shape |
//! |---|---|---|
//! | `{layer}.weight` | I8 (or F16/F32 for a layer kept in float) | as in the model |
//! | `{layer}.weight_scale` | F32, only beside an I8 weight | `[out]` |
//! | `{layer}.bias` | F32: the folded bias `β + (b − μ)·γ/√(σ²+ε)` | `[out]` |
//!
//! Weight `w ≈ q · scale[out]` with `q ∈ [−127, 127]` and `scale = max|w| / 127` per output
//! channel (rows for the classifier). BatchNorm is folded before quantising, so the scales
//! absorb γ/√(σ²+ε) and no BatchNorm tensors are stored. The stem convolution stays float32:
//! it sees raw pixels and holds only 9,408 weights. Compute stays float: the reader
//! dequantises at load into the usual torchvision-named tensors.

use std::collections::{BTreeMap, HashMap};

use safetensors::Dtype;

use crate::error::{Error, MismatchReport, Result};
use crate::model::config::ResNetConfig;
use crate::model::layers::fold_batchnorm;
use crate::model::tensors::ConvRole;
use crate::weights::safetensors::{Encoded, open_safetensors};
use crate::weights::tensor_set::{HostTensor, TensorSet};

const FORMAT: &str = "int8 ResNet Lab bundle";
/// Largest quantised magnitude: symmetric, so −128 is never written.
const Q_MAX: f32 = 127.0;
/// BatchNorm that is exactly the identity when [`fold_batchnorm`] folds it in f64:
/// γ/√(σ² + ε) = 2³⁰/√(2⁶⁰ + ε) = 1, because 2⁶⁰ + ε rounds to 2⁶⁰ for any ε ≤ 128
/// (the f64 spacing there is 256). The dequantised weights then reach the model unchanged.
const IDENTITY_GAMMA: f32 = (1u64 << 30) as f32;
const IDENTITY_VAR: f32 = (1u64 << 60) as f32;
/// Bound on the description's BatchNorm epsilon for the identity above (real ones are ≤ 1e-3).
const MAX_BN_EPS: f64 = 1.0;

/// A weighted layer as the int8 layout stores it.
struct Layer {
    /// `conv1`, `layer1.0.conv2`, `layer2.0.downsample.0`, `fc`.
    name: String,
    /// The BatchNorm folded into it (`None` for the classifier).
    batchnorm: Option<String>,
    shape: Vec<usize>,
    /// Written as float32 instead of int8: the stem (see the module comment).
    kept_in_float: bool,
}

impl Layer {
    fn out_channels(&self) -> usize {
        self.shape[0]
    }
}

/// Every convolution (with its BatchNorm) and the classifier, in the model's order.
fn layers(config: &ResNetConfig) -> Vec<Layer> {
    let conv_bns = std::iter::once(config.stem_conv_bn()).chain(
        config
            .blocks()
            .into_iter()
            .flat_map(|b| b.conv_bns(config.layout)),
    );
    conv_bns
        .map(|pair| Layer {
            kept_in_float: pair.role == ConvRole::Stem,
            name: pair.conv,
            batchnorm: Some(pair.bn),
            shape: pair.shape.to_vec(),
        })
        .chain(std::iter::once(Layer {
            name: "fc".into(),
            batchnorm: None,
            shape: vec![config.num_classes, config.feature_channels()],
            kept_in_float: false,
        }))
        .collect()
}

fn check_eps(config: &ResNetConfig) -> Result<()> {
    if config.bn_eps > MAX_BN_EPS {
        return Err(Error::Architecture(format!(
            "BatchNorm epsilon {} is above {MAX_BN_EPS}, which the int8 layout does not support",
            config.bn_eps
        )));
    }
    Ok(())
}

/// Folds BatchNorm into every convolution and quantises the weights, ready for
/// [`serialize`](crate::weights::safetensors::serialize). `tensors` must match `config`.
pub(crate) fn quantise(tensors: &TensorSet, config: &ResNetConfig) -> Result<Vec<Encoded>> {
    check_eps(config)?;
    let get = |name: &str| {
        tensors
            .get(name)
            .cloned()
            .ok_or_else(|| Error::Architecture(format!("tensor `{name}` is missing")))
    };
    let mut out = Vec::new();
    for layer in layers(config) {
        let name = &layer.name;
        let weight = get(&format!("{name}.weight"))?;
        let (weight, bias) = match &layer.batchnorm {
            Some(bn) => {
                let conv_bias = tensors.get(&format!("{name}.bias")).cloned();
                fold_batchnorm(
                    weight,
                    conv_bias,
                    &get(&format!("{bn}.weight"))?,
                    &get(&format!("{bn}.bias"))?,
                    &get(&format!("{bn}.running_mean"))?,
                    &get(&format!("{bn}.running_var"))?,
                    config.bn_eps,
                )
            }
            None => (weight, get(&format!("{name}.bias"))?.data),
        };
        if layer.kept_in_float {
            out.push(Encoded::f32(
                format!("{name}.weight"),
                &weight.shape,
                &weight.data,
            ));
        } else {
            let (q, scales) = quantise_rows(&weight);
            let bytes = q.iter().map(|&v| v as u8).collect();
            out.push(Encoded::new(
                format!("{name}.weight"),
                weight.shape.clone(),
                Dtype::I8,
                bytes,
            ));
            out.push(Encoded::f32(
                format!("{name}.weight_scale"),
                &[scales.len()],
                &scales,
            ));
        }
        out.push(Encoded::f32(format!("{name}.bias"), &[bias.len()], &bias));
    }
    Ok(out)
}

/// Symmetric int8 per output channel (dimension 0): `scale = max|w| / 127`. An all-zero
/// channel gets scale 1 (its values are 0 either way; a scale must be positive).
fn quantise_rows(weight: &HostTensor) -> (Vec<i8>, Vec<f32>) {
    let rows = weight.shape[0];
    let per_row = weight.numel() / rows.max(1);
    let mut q = Vec::with_capacity(weight.numel());
    let mut scales = Vec::with_capacity(rows);
    for row in weight.data.chunks(per_row.max(1)) {
        let max = row.iter().fold(0.0f32, |m, v| m.max(v.abs()));
        let scale = if max > 0.0 { max / Q_MAX } else { 1.0 };
        q.extend(
            row.iter()
                .map(|v| (v / scale).round().clamp(-Q_MAX, Q_MAX) as i8),
        );
        scales.push(scale);
    }
    (q, scales)
}

/// Reads an int8 bundle's tensors and dequantises them into the torchvision-named set
/// `config` expects, with each BatchNorm an exact identity and the folded bias as its β.
pub(crate) fn dequantise(bytes: &[u8], config: &ResNetConfig) -> Result<TensorSet> {
    check_eps(config)?;
    let file = open_safetensors(bytes)?;
    let present: BTreeMap<String, (Dtype, Vec<usize>)> = file
        .iter()
        .map(|(name, view)| (name.to_owned(), (view.dtype(), view.shape().to_vec())))
        .collect();
    let layers = layers(config);

    // Names and shapes first, all problems in one report. Every weight but a float one has a
    // scale beside it (a weight of another dtype is refused below, naming its dtype).
    let mut expected: HashMap<String, Vec<usize>> = HashMap::new();
    for layer in &layers {
        let out = vec![layer.out_channels()];
        let weight = format!("{}.weight", layer.name);
        let float = present
            .get(&weight)
            .is_some_and(|(d, _)| matches!(d, Dtype::F16 | Dtype::F32));
        if !float {
            expected.insert(format!("{}.weight_scale", layer.name), out.clone());
        }
        expected.insert(weight, layer.shape.clone());
        expected.insert(format!("{}.bias", layer.name), out);
    }
    let mut report = MismatchReport::default();
    for layer in &layers {
        for suffix in ["weight", "weight_scale", "bias"] {
            let name = format!("{}.{suffix}", layer.name);
            let Some(want) = expected.get(&name) else {
                continue;
            };
            match present.get(&name) {
                None => report.missing.push(name),
                Some((_, got)) if got != want => {
                    report.wrong_shape.push((name, want.clone(), got.clone()))
                }
                Some(_) => {}
            }
        }
    }
    report.unexpected = present
        .keys()
        .filter(|k| !expected.contains_key(*k))
        .cloned()
        .collect();
    if !report.is_empty() {
        return Err(Error::Mismatch(report));
    }

    let read = |name: &str, allowed: &[Dtype]| -> Result<(Dtype, Vec<f32>)> {
        let view = file
            .tensor(name)
            .map_err(|e| Error::corrupt(FORMAT, e.to_string()))?;
        if !allowed.contains(&view.dtype()) {
            return Err(Error::corrupt(
                FORMAT,
                format!(
                    "tensor `{name}` has dtype {:?}; the int8 layout stores it as {}",
                    view.dtype(),
                    allowed
                        .iter()
                        .map(|d| format!("{d:?}"))
                        .collect::<Vec<_>>()
                        .join(" or ")
                ),
            ));
        }
        Ok((view.dtype(), decode(view.dtype(), view.data())))
    };

    let mut set = TensorSet::new();
    for layer in &layers {
        let name = &layer.name;
        let out = layer.out_channels();
        let (dtype, mut weight) = read(
            &format!("{name}.weight"),
            &[Dtype::I8, Dtype::F16, Dtype::F32],
        )?;
        if dtype == Dtype::I8 {
            let scale_name = format!("{name}.weight_scale");
            let (_, scales) = read(&scale_name, &[Dtype::F32])?;
            let bad = scales
                .iter()
                .filter(|s| !(s.is_finite() && **s > 0.0))
                .count();
            if bad > 0 {
                return Err(Error::corrupt(
                    FORMAT,
                    format!(
                        "{bad} of the values in scale `{scale_name}` are zero, negative, NaN or infinite (scales must be positive and finite)"
                    ),
                ));
            }
            let per_row = weight.len() / out.max(1);
            for (row, scale) in weight.chunks_mut(per_row.max(1)).zip(&scales) {
                row.iter_mut().for_each(|v| *v *= scale);
            }
        }
        let (_, bias) = read(&format!("{name}.bias"), &[Dtype::F32])?;
        let non_finite = bias.iter().filter(|v| !v.is_finite()).count();
        if non_finite > 0 {
            return Err(Error::NonFinite {
                name: format!("{name}.bias"),
                count: non_finite,
            });
        }
        set.insert(
            format!("{name}.weight"),
            HostTensor::new(layer.shape.clone(), weight)?,
        )?;
        let vector = |value: f32| HostTensor::new(vec![out], vec![value; out]);
        match &layer.batchnorm {
            None => set.insert(format!("{name}.bias"), HostTensor::new(vec![out], bias)?)?,
            Some(bn) => {
                if config.layout.conv_bias() {
                    set.insert(format!("{name}.bias"), vector(0.0)?)?;
                }
                set.insert(format!("{bn}.weight"), vector(IDENTITY_GAMMA)?)?;
                set.insert(format!("{bn}.bias"), HostTensor::new(vec![out], bias)?)?;
                set.insert(format!("{bn}.running_mean"), vector(0.0)?)?;
                set.insert(format!("{bn}.running_var"), vector(IDENTITY_VAR)?)?;
            }
        }
    }
    // A huge scale times 127 can still overflow.
    set.check_finite()?;
    Ok(set)
}

/// Little-endian values of one of the dtypes [`dequantise`] admits, as `f32`.
fn decode(dtype: Dtype, data: &[u8]) -> Vec<f32> {
    match dtype {
        Dtype::I8 => data.iter().map(|&b| b as i8 as f32).collect(),
        Dtype::F16 => super::f16_le_to_f32(data),
        _ => data
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_checkpoint_weight_is_a_layer() {
        let config = ResNetConfig::standard(50).unwrap();
        let weights: Vec<String> = config
            .tensor_specs()
            .into_iter()
            .filter(|s| s.name.ends_with(".weight") && s.shape.len() > 1)
            .map(|s| s.name)
            .collect();
        let ours: Vec<String> = layers(&config)
            .iter()
            .map(|l| format!("{}.weight", l.name))
            .collect();
        assert_eq!(ours, weights);
        assert_eq!(
            layers(&config)[1].batchnorm.as_deref(),
            Some("layer1.0.bn1")
        );
    }

    #[test]
    fn the_identity_batchnorm_folds_to_exactly_nothing() {
        let w = HostTensor::new(vec![2, 1, 1, 1], vec![0.1234567, -3.0e-7]).unwrap();
        let v = |x: f32| HostTensor::new(vec![2], vec![x; 2]).unwrap();
        for eps in [1e-5, 1.001e-5, 1e-3, MAX_BN_EPS] {
            let beta = HostTensor::new(vec![2], vec![0.7654321, -1.0e-9]).unwrap();
            let (folded, bias) = fold_batchnorm(
                w.clone(),
                Some(v(0.0)),
                &v(IDENTITY_GAMMA),
                &beta,
                &v(0.0),
                &v(IDENTITY_VAR),
                eps,
            );
            assert_eq!(folded.data, w.data, "eps {eps}");
            assert_eq!(bias, beta.data, "eps {eps}");
        }
    }

    #[test]
    fn rows_quantise_symmetrically_to_127_steps() {
        let w = HostTensor::new(vec![3, 2], vec![1.27, -0.5, 0.0, 0.0, -2.54, 0.004]).unwrap();
        let (q, scales) = quantise_rows(&w);
        assert_eq!(q, vec![127, -50, 0, 0, -127, 0]);
        assert_eq!(scales[1], 1.0, "an all-zero row");
        assert!((scales[0] - 0.01).abs() < 1e-9 && (scales[2] - 0.02).abs() < 1e-9);
    }
}
