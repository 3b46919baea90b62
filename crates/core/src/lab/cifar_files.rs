//! CIFAR-10's binary files as a person hands them over (`data_batch_1.bin` …
//! `data_batch_5.bin`, `test_batch.bin`), checked before a byte is read and again as they are.
//!
//! Every file is hostile: the sizes alone are checked first ([`plan`]: at most
//! [`MAX_CIFAR_FILES`] files, whole 3073-byte records, at most [`MAX_CIFAR_RECORDS`] images in
//! all), so a reader never allocates more than CIFAR-10 itself needs (184 MB); then every
//! record's label ([`check_records`]). The web engine runs in WebAssembly, where a panic ends
//! the worker: every refusal is a [`CifarError`].

use super::data::{CIFAR_RECORD, Cifar10, MAX_CIFAR_RECORDS};

/// `data_batch_1.bin` … `data_batch_5.bin` and `test_batch.bin`.
pub const MAX_CIFAR_FILES: usize = 6;
/// CIFAR-10's 60,000 records: no set of files may hold more bytes.
pub const MAX_CIFAR_BYTES: u64 = (MAX_CIFAR_RECORDS * CIFAR_RECORD) as u64;
/// CIFAR-10's classes, by label (the page names them too, so they live in the protocol).
pub use resnet_lab_protocol::lab_data::CIFAR10_CLASSES;

/// Why a set of CIFAR-10 files was refused, in words for the person who picked them.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CifarError {
    #[error(
        "no CIFAR-10 files: give data_batch_1.bin … data_batch_5.bin (and optionally test_batch.bin) from CIFAR-10's binary version"
    )]
    NoFiles,
    #[error(
        "{count} files: CIFAR-10's binary version has at most {MAX_CIFAR_FILES} (data_batch_1.bin … data_batch_5.bin and test_batch.bin)"
    )]
    TooManyFiles { count: usize },
    #[error("{name} is given twice")]
    Duplicate { name: String },
    #[error(
        "{name} is not a CIFAR-10 batch file: only .bin files of CIFAR-10's binary version are read"
    )]
    NotBatchFile { name: String },
    #[error("only a test batch: training needs at least one data_batch_*.bin")]
    NoTrainingFile,
    #[error(
        "{name}: {bytes} bytes is not a whole number of {CIFAR_RECORD}-byte CIFAR-10 records (is it the Python or MATLAB version?)"
    )]
    NotWholeRecords { name: String, bytes: u64 },
    #[error(
        "{name}: more than {MAX_CIFAR_RECORDS} images in all ({images} with this file); CIFAR-10 has {MAX_CIFAR_RECORDS}"
    )]
    TooManyImages { name: String, images: u64 },
    #[error(
        "{name}: image {index} has label {label}; CIFAR-10's labels are 0–9 (is this CIFAR-100, or not a CIFAR file?)"
    )]
    BadLabel {
        name: String,
        index: usize,
        label: u8,
    },
}

/// What a file is for, from its name: `test_batch*.bin` is held out, the rest trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BatchRole {
    Train,
    Test,
}

impl BatchRole {
    pub fn of(name: &str) -> Self {
        match file_name(name)
            .to_ascii_lowercase()
            .starts_with("test_batch")
        {
            true => BatchRole::Test,
            false => BatchRole::Train,
        }
    }
}

/// The last segment of a path or URL (`…/data_batch_1.bin?x` → `data_batch_1.bin`).
pub fn file_name(path: &str) -> &str {
    let path = path.split(['?', '#']).next().unwrap_or(path);
    path.rsplit(['/', '\\'])
        .find(|s| !s.is_empty())
        .unwrap_or(path)
}

/// One file the sizes allowed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedFile {
    pub name: String,
    pub bytes: u64,
    pub role: BatchRole,
}

/// The files to read, in the order given, and the bytes each role needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CifarPlan {
    pub files: Vec<PlannedFile>,
    pub train_bytes: usize,
    pub test_bytes: usize,
}

/// Checks `(name, size in bytes)` of each file before any is read.
pub fn plan(files: &[(String, u64)]) -> Result<CifarPlan, CifarError> {
    if files.is_empty() {
        return Err(CifarError::NoFiles);
    }
    if files.len() > MAX_CIFAR_FILES {
        return Err(CifarError::TooManyFiles { count: files.len() });
    }
    let mut planned: Vec<PlannedFile> = Vec::with_capacity(files.len());
    let mut total: u64 = 0;
    for (name, bytes) in files {
        let name = file_name(name).to_string();
        if !name.to_ascii_lowercase().ends_with(".bin") {
            return Err(CifarError::NotBatchFile { name });
        }
        if planned.iter().any(|p| p.name == name) {
            return Err(CifarError::Duplicate { name });
        }
        let bytes = *bytes;
        if bytes == 0 || !bytes.is_multiple_of(CIFAR_RECORD as u64) {
            return Err(CifarError::NotWholeRecords { name, bytes });
        }
        total = total.saturating_add(bytes);
        if total > MAX_CIFAR_BYTES {
            return Err(CifarError::TooManyImages {
                name,
                images: total / CIFAR_RECORD as u64,
            });
        }
        planned.push(PlannedFile {
            role: BatchRole::of(&name),
            name,
            bytes,
        });
    }
    // Each sum is at most MAX_CIFAR_BYTES, which fits a 32-bit usize.
    let sum = |role| -> usize {
        planned
            .iter()
            .filter(|p| p.role == role)
            .map(|p| p.bytes as usize)
            .sum()
    };
    let (train_bytes, test_bytes) = (sum(BatchRole::Train), sum(BatchRole::Test));
    if train_bytes == 0 {
        return Err(CifarError::NoTrainingFile);
    }
    Ok(CifarPlan {
        files: planned,
        train_bytes,
        test_bytes,
    })
}

/// Checks the records of file `name` once read: whole records, labels 0–9. Returns how many.
pub fn check_records(name: &str, bytes: &[u8]) -> Result<usize, CifarError> {
    if bytes.is_empty() || !bytes.len().is_multiple_of(CIFAR_RECORD) {
        return Err(CifarError::NotWholeRecords {
            name: name.to_string(),
            bytes: bytes.len() as u64,
        });
    }
    if bytes.len() > MAX_CIFAR_BYTES as usize {
        return Err(CifarError::TooManyImages {
            name: name.to_string(),
            images: (bytes.len() / CIFAR_RECORD) as u64,
        });
    }
    match bytes
        .chunks_exact(CIFAR_RECORD)
        .enumerate()
        .find(|(_, r)| r[0] >= 10)
    {
        Some((index, record)) => Err(CifarError::BadLabel {
            name: name.to_string(),
            index,
            label: record[0],
        }),
        None => Ok(bytes.len() / CIFAR_RECORD),
    }
}

impl Cifar10 {
    /// A set from records already laid end to end (e.g. kept from an earlier visit), checked.
    pub fn from_records(name: &str, records: Vec<u8>) -> Result<Self, CifarError> {
        check_records(name, &records)?;
        Ok(Self { records })
    }

    /// Parses `data_batch_*.bin` contents, given as `(file name, bytes)`; every file trains
    /// (the CLI's `--data DIR`).
    pub fn from_batches(files: &[(String, Vec<u8>)]) -> Result<Self, CifarError> {
        let sizes: Vec<(String, u64)> = files
            .iter()
            .map(|(name, bytes)| (name.clone(), bytes.len() as u64))
            .collect();
        let plan = plan(&sizes)?;
        let mut records = Vec::with_capacity(plan.train_bytes + plan.test_bytes);
        for (name, bytes) in files {
            check_records(name, bytes)?;
            records.extend_from_slice(bytes);
        }
        Ok(Self { records })
    }

    /// Images per label 0–9.
    pub fn label_counts(&self) -> [usize; 10] {
        let mut counts = [0usize; 10];
        for record in self.records.chunks_exact(CIFAR_RECORD) {
            // Labels were checked on the way in.
            if let Some(count) = counts.get_mut(record[0] as usize) {
                *count += 1;
            }
        }
        counts
    }

    /// The records as CIFAR-10's binary format lays them out (what a cache keeps).
    pub fn records(&self) -> &[u8] {
        &self.records
    }
}

#[cfg(test)]
#[path = "cifar_files_tests.rs"]
mod tests;
