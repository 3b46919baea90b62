//! Which frozen network a head belongs to: a head's weights only mean something on the
//! features of the exact backbone it was trained on.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::weights::LoadedWeights;

/// The identity of a backbone, stored in every head file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BackboneId {
    /// `resnet18`, `resnet50`, ... (as `inspect` names it).
    pub architecture: String,
    /// Width of the pooled features the head reads (the ImageNet classifier's input width).
    pub feature_width: usize,
    /// 16 hex digits: FNV-1a (64-bit) of the stem convolution's weights rounded to float16,
    /// so the float32 original and its float16 conversion (`convert --half`) agree, while
    /// other weights of the same architecture (another training run, another seed) differ.
    pub fingerprint: String,
}

impl BackboneId {
    /// The identity of a set of weights (before they are uploaded to a device).
    pub fn of(weights: &LoadedWeights) -> Result<Self> {
        let conv1 = weights
            .tensors
            .get("conv1.weight")
            .ok_or_else(|| Error::Architecture("the weights have no `conv1.weight`".into()))?;
        let feature_width = weights
            .tensors
            .get("fc.weight")
            .and_then(|fc| fc.shape.get(1).copied())
            .ok_or_else(|| Error::Architecture("the weights have no `fc.weight`".into()))?;
        let mut hash = Fnv1a::new();
        hash.write(&(feature_width as u64).to_le_bytes());
        for &d in &conv1.shape {
            hash.write(&(d as u64).to_le_bytes());
        }
        for &v in &conv1.data {
            hash.write(&half::f16::from_f32(v).to_bits().to_le_bytes());
        }
        Ok(Self {
            architecture: weights.info.name(),
            feature_width,
            fingerprint: format!("{:016x}", hash.0),
        })
    }

    /// One line for people: `resnet50 (2048 features, weights 1a2b…)`.
    pub fn describe(&self) -> String {
        format!(
            "{} ({} features, weights {})",
            self.architecture, self.feature_width, self.fingerprint
        )
    }
}

/// FNV-1a, 64-bit: tiny, deterministic everywhere (native and WebAssembly), and enough to tell
/// weight sets apart (it is a label, not a defence against forgery).
struct Fnv1a(u64);

impl Fnv1a {
    fn new() -> Self {
        Self(0xcbf2_9ce4_8422_2325)
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes {
            self.0 ^= b as u64;
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Fnv1a;

    #[test]
    fn fnv1a_matches_the_published_test_vectors() {
        // From the FNV reference (Fowler, Noll, Vo): "" and "a".
        let mut h = Fnv1a::new();
        assert_eq!(h.0, 0xcbf29ce484222325);
        h.write(b"a");
        assert_eq!(h.0, 0xaf63dc4c8601ec8c);
    }
}
