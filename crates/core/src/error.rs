//! One error type for everything a user can hand us: weights, images, tensors.
//!
//! Every message is written for the person who supplied the input, so the CLI and the
//! web page can show it as is.

use std::fmt;

/// What went wrong, in words a user can act on.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The bytes are not any weight format we read.
    #[error("unrecognised weights file: {0}")]
    UnknownFormat(String),

    /// The file claims a format but its contents are broken (truncated, corrupt, inconsistent).
    #[error("corrupt {format} file: {detail}")]
    Corrupt {
        format: &'static str,
        detail: String,
    },

    /// The tensors do not describe a ResNet we can build.
    #[error("these weights do not describe a supported ResNet: {0}")]
    Architecture(String),

    /// Tensors missing, left over or of the wrong shape, all listed at once.
    #[error("{0}")]
    Mismatch(MismatchReport),

    /// Weights that hold NaN or infinity would silently produce garbage.
    #[error("tensor `{name}` holds {count} non-finite values (NaN or infinity)")]
    NonFinite { name: String, count: usize },

    /// An image that cannot be decoded or is unreasonable.
    #[error("{0}")]
    Image(String),

    /// An input tensor (e.g. `.npy`) of the wrong shape or type.
    #[error("{0}")]
    Input(String),

    /// A transfer-learning head that cannot be used: a broken file, or one trained on
    /// another backbone.
    #[error("{0}")]
    Head(String),

    /// A set of photos that cannot train a head (too few classes or photos).
    #[error("{0}")]
    Dataset(String),

    /// CIFAR-10 files that cannot be training data (see `lab::cifar_files`).
    #[error(transparent)]
    Cifar(#[from] crate::lab::cifar_files::CifarError),

    /// The compute backend failed (device lost, out of memory, read-back failure).
    #[error("compute backend error: {0}")]
    Backend(String),
}

/// Convenience alias used throughout the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub(crate) fn corrupt(format: &'static str, detail: impl Into<String>) -> Self {
        Error::Corrupt {
            format,
            detail: detail.into(),
        }
    }
}

/// Every problem found while matching a weights file against the expected architecture.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct MismatchReport {
    /// Tensors the architecture needs that the file lacks.
    pub missing: Vec<String>,
    /// Tensors in the file that the architecture does not use.
    pub unexpected: Vec<String>,
    /// `(name, expected shape, found shape)`.
    pub wrong_shape: Vec<(String, Vec<usize>, Vec<usize>)>,
}

impl MismatchReport {
    /// True when the file matched the architecture exactly.
    pub fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.unexpected.is_empty() && self.wrong_shape.is_empty()
    }
}

impl fmt::Display for MismatchReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Long lists are cut so a badly wrong file still gives a readable message.
        const SHOW: usize = 12;
        fn list(f: &mut fmt::Formatter<'_>, items: &[String]) -> fmt::Result {
            for item in items.iter().take(SHOW) {
                write!(f, "\n    {item}")?;
            }
            if items.len() > SHOW {
                write!(f, "\n    ... and {} more", items.len() - SHOW)?;
            }
            Ok(())
        }
        write!(f, "the weights do not match the architecture:")?;
        if !self.missing.is_empty() {
            write!(f, "\n  missing {} tensor(s):", self.missing.len())?;
            list(f, &self.missing)?;
        }
        if !self.unexpected.is_empty() {
            write!(f, "\n  unexpected {} tensor(s):", self.unexpected.len())?;
            list(f, &self.unexpected)?;
        }
        if !self.wrong_shape.is_empty() {
            write!(
                f,
                "\n  {} tensor(s) of the wrong shape:",
                self.wrong_shape.len()
            )?;
            let lines: Vec<String> = self
                .wrong_shape
                .iter()
                .map(|(name, want, got)| format!("{name}: expected {want:?}, found {got:?}"))
                .collect();
            list(f, &lines)?;
        }
        Ok(())
    }
}
