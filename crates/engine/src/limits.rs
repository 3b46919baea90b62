//! Caps on what a server or a file can make the engine hold. Plain Rust: the download code
//! in the worker feeds these its byte counts, so the rules are tested natively.

use std::cell::Cell;

use crate::error::{EngineError, Result};

/// All the files of one model together. A float32 ResNet-152 is about 240 MB; four times
/// that leaves room for other layouts while keeping a hostile server from filling memory.
pub const MAX_WEIGHT_BYTES: u64 = 1 << 30;
/// Photos larger than this are refused before the browser decodes them: the same cap as the
/// command line's.
pub use resnet_lab_core::preprocess::MAX_IMAGE_PIXELS;
/// A declared `Content-Length` is only a hint: never reserve more than this up front.
const MAX_RESERVE: u64 = 64 << 20;

/// "1 GiB", "64 MiB" or "123 bytes".
pub fn describe_bytes(bytes: u64) -> String {
    match bytes {
        b if b >= 1 << 30 && b % (1 << 30) == 0 => format!("{} GiB", b >> 30),
        b if b >= 1 << 20 && b % (1 << 20) == 0 => format!("{} MiB", b >> 20),
        b => format!("{b} bytes"),
    }
}

/// Bytes allowed across the files of one download (shards arrive in parallel, on one thread).
#[derive(Debug)]
pub struct ByteBudget {
    what: &'static str,
    limit: u64,
    used: Cell<u64>,
}

impl ByteBudget {
    pub fn new(what: &'static str, limit: u64) -> Self {
        Self {
            what,
            limit,
            used: Cell::new(0),
        }
    }

    /// The budget for weights files.
    pub fn weights() -> Self {
        Self::new("weights", MAX_WEIGHT_BYTES)
    }

    fn too_large(&self, url: &str) -> EngineError {
        EngineError::TooLarge {
            url: url.to_string(),
            what: self.what,
            limit: self.limit,
        }
    }

    /// Starts one file: refuses a declared length that cannot fit, before any byte arrives.
    /// `exact`: the declared length is that of the body as read (not of a compressed body).
    pub fn start<'a>(
        &'a self,
        url: &str,
        declared: Option<u64>,
        exact: bool,
    ) -> Result<FileGuard<'a>> {
        let remaining = self.limit - self.used.get();
        if declared.is_some_and(|d| d > remaining) {
            return Err(self.too_large(url));
        }
        Ok(FileGuard {
            budget: self,
            url: url.to_string(),
            declared,
            exact,
            got: 0,
        })
    }
}

/// The byte count of one file as it streams in.
#[derive(Debug)]
pub struct FileGuard<'a> {
    budget: &'a ByteBudget,
    url: String,
    declared: Option<u64>,
    exact: bool,
    got: u64,
}

impl FileGuard<'_> {
    /// What to reserve up front: the declared length, within the budget and a fixed ceiling.
    pub fn initial_capacity(&self) -> usize {
        let remaining = self.budget.limit - self.budget.used.get();
        self.declared.unwrap_or(0).min(remaining).min(MAX_RESERVE) as usize
    }

    /// Counts a chunk before it is copied: refused past the declared length or the budget.
    pub fn accept(&mut self, chunk: u64) -> Result<()> {
        let got = self.got.saturating_add(chunk);
        if let Some(declared) = self.declared
            && self.exact
            && got > declared
        {
            return Err(EngineError::LongerThanDeclared {
                url: self.url.clone(),
                declared,
            });
        }
        let used = self.budget.used.get().saturating_add(chunk);
        if used > self.budget.limit {
            return Err(self.budget.too_large(&self.url));
        }
        self.budget.used.set(used);
        self.got = got;
        Ok(())
    }

    /// The end of the stream: a body shorter than declared is truncated.
    pub fn finish(&self) -> Result<u64> {
        match self.declared {
            Some(declared) if self.got < declared => Err(EngineError::Truncated {
                url: self.url.clone(),
                got: self.got,
                declared,
            }),
            _ => Ok(self.got),
        }
    }
}

/// Refuses an image whose header announces more than [`MAX_IMAGE_PIXELS`].
pub fn check_image_size(width: u32, height: u32) -> Result<()> {
    if width as u64 * height as u64 > MAX_IMAGE_PIXELS {
        return Err(EngineError::ImageTooLarge { width, height });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_huge_declared_length_is_refused_and_never_reserved() {
        let budget = ByteBudget::weights();
        let err = budget.start("w", Some(u64::MAX), true).unwrap_err();
        assert!(matches!(err, EngineError::TooLarge { .. }), "{err}");
        let guard = budget.start("w", Some(900 << 20), true).unwrap();
        assert_eq!(guard.initial_capacity(), 64 << 20);
        assert_eq!(budget.start("w", None, true).unwrap().initial_capacity(), 0);
    }

    #[test]
    fn the_budget_spans_files_and_stops_a_stream_without_length() {
        let budget = ByteBudget::new("weights", 100);
        let mut a = budget.start("a", None, true).unwrap();
        a.accept(60).unwrap();
        let mut b = budget.start("b", None, true).unwrap();
        b.accept(40).unwrap();
        assert!(matches!(b.accept(1), Err(EngineError::TooLarge { .. })));
        assert_eq!(a.finish().unwrap(), 60);
        // Nothing is left for a third file that declares its length.
        assert!(budget.start("c", Some(1), true).is_err());
    }

    #[test]
    fn a_body_must_match_its_declared_length() {
        let budget = ByteBudget::weights();
        let mut long = budget.start("w", Some(10), true).unwrap();
        long.accept(8).unwrap();
        let err = long.accept(3).unwrap_err();
        assert!(
            matches!(err, EngineError::LongerThanDeclared { declared: 10, .. }),
            "{err}"
        );
        // A compressed body is longer than its declared length: only the cap applies.
        let mut gzip = budget.start("w", Some(10), false).unwrap();
        gzip.accept(30).unwrap();
        let mut short = budget.start("w", Some(10), true).unwrap();
        short.accept(9).unwrap();
        assert!(matches!(
            short.finish(),
            Err(EngineError::Truncated {
                got: 9,
                declared: 10,
                ..
            })
        ));
    }

    #[test]
    fn images_over_100_megapixels_are_refused() {
        assert!(check_image_size(10_000, 10_000).is_ok());
        assert!(check_image_size(10_001, 10_000).is_err());
        assert!(check_image_size(u32::MAX, u32::MAX).is_err());
        assert_eq!(describe_bytes(1 << 30), "1 GiB");
        assert_eq!(describe_bytes(123), "123 bytes");
    }
}
