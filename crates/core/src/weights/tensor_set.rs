//! A format-neutral bag of named `f32` tensors, and the strict bookkeeping that turns it
//! into a model: every tensor used exactly once, every shape checked, all problems reported
//! together.

use std::collections::BTreeMap;

use crate::error::{Error, MismatchReport, Result};
use crate::model::config::TensorSpec;

/// One tensor as read from a file: row-major `f32` values and a shape.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

impl HostTensor {
    /// Wraps `data`, checking that it has as many values as `shape` says.
    pub fn new(shape: Vec<usize>, data: Vec<f32>) -> Result<Self> {
        let expected = checked_numel(&shape)?;
        if expected != data.len() {
            return Err(Error::Input(format!(
                "a tensor of shape {shape:?} needs {expected} values, got {}",
                data.len()
            )));
        }
        Ok(Self { shape, data })
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }
}

/// Product of a shape's extents, refusing shapes whose size overflows (a hostile header).
pub(crate) fn checked_numel(shape: &[usize]) -> Result<usize> {
    shape
        .iter()
        .try_fold(1usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| Error::Input(format!("tensor shape {shape:?} is impossibly large")))
}

/// Named tensors in a canonical (torchvision) naming, ready to be checked against an
/// architecture.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct TensorSet {
    tensors: BTreeMap<String, HostTensor>,
}

impl TensorSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a tensor; a second tensor of the same name is an error in every format we read.
    pub fn insert(&mut self, name: impl Into<String>, tensor: HostTensor) -> Result<()> {
        let name = name.into();
        if self.tensors.contains_key(&name) {
            return Err(Error::Architecture(format!(
                "tensor `{name}` appears twice"
            )));
        }
        self.tensors.insert(name, tensor);
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<&HostTensor> {
        self.tensors.get(name)
    }

    pub fn contains(&self, name: &str) -> bool {
        self.tensors.contains_key(name)
    }

    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.tensors.keys().map(String::as_str)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &HostTensor)> {
        self.tensors.iter().map(|(k, v)| (k.as_str(), v))
    }

    pub fn len(&self) -> usize {
        self.tensors.len()
    }

    pub fn is_empty(&self) -> bool {
        self.tensors.is_empty()
    }

    /// Drops tensors that carry no weights (PyTorch's `num_batches_tracked` counters).
    pub fn remove_bookkeeping(&mut self) {
        self.tensors
            .retain(|name, _| !name.ends_with("num_batches_tracked"));
    }

    /// Refuses NaN or infinite weights, naming the first offending tensor, and negative
    /// BatchNorm variances (their square root is NaN: every output would be garbage).
    pub fn check_finite(&self) -> Result<()> {
        for (name, t) in &self.tensors {
            if name.ends_with("running_var") && t.data.iter().any(|&v| v < 0.0) {
                return Err(Error::Architecture(format!(
                    "BatchNorm variance `{name}` holds negative values"
                )));
            }
            let count = t.data.iter().filter(|v| !v.is_finite()).count();
            if count > 0 {
                return Err(Error::NonFinite {
                    name: name.clone(),
                    count,
                });
            }
        }
        Ok(())
    }

    /// Checks the set against an architecture's expected tensors: nothing missing, nothing
    /// left over, every shape right. All problems come back in one report.
    pub fn check_against(&self, specs: &[TensorSpec]) -> Result<()> {
        let mut report = MismatchReport::default();
        for spec in specs {
            match self.tensors.get(&spec.name) {
                None => report.missing.push(spec.name.clone()),
                Some(t) if t.shape != spec.shape => report.wrong_shape.push((
                    spec.name.clone(),
                    spec.shape.clone(),
                    t.shape.clone(),
                )),
                Some(_) => {}
            }
        }
        let expected: std::collections::HashSet<&str> =
            specs.iter().map(|s| s.name.as_str()).collect();
        report.unexpected = self
            .tensors
            .keys()
            .filter(|k| !expected.contains(k.as_str()))
            .cloned()
            .collect();
        if report.is_empty() {
            Ok(())
        } else {
            Err(Error::Mismatch(report))
        }
    }

    /// Takes a tensor out by name. Callers run [`check_against`](Self::check_against) first,
    /// so a miss here is a bug in the spec, reported rather than panicking.
    pub fn take(&mut self, name: &str) -> Result<HostTensor> {
        self.tensors
            .remove(name)
            .ok_or_else(|| Error::Architecture(format!("tensor `{name}` is missing")))
    }
}
