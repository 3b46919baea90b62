//! Messages about the live training's data: CIFAR-10 in its binary form, handed to the
//! engine as files or a URL, checked there and kept in this browser's Cache Storage; or the
//! built-in grating task, which needs nothing.

use serde::{Deserialize, Serialize};

/// CIFAR-10's classes, by label (`batches.meta.txt` of the binary version).
pub const CIFAR10_CLASSES: [&str; 10] = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
];

/// What a training runs on (`?data=grating|cifar10`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum TrainData {
    /// The built-in procedurally generated 10-class task.
    #[default]
    Grating,
    /// The CIFAR-10 files loaded into the engine (or kept from an earlier visit).
    Cifar10,
}

impl TrainData {
    pub const ALL: [TrainData; 2] = [TrainData::Grating, TrainData::Cifar10];

    /// The `?data=` value.
    pub fn name(self) -> &'static str {
        match self {
            TrainData::Grating => "grating",
            TrainData::Cifar10 => "cifar10",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        let value = value.trim().to_ascii_lowercase();
        Self::ALL.into_iter().find(|d| d.name() == value)
    }
}

/// UI → engine, inside [`crate::Request::Data`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "data", rename_all = "snake_case")]
pub enum DataRequest {
    /// CIFAR-10 files the person picked or dropped; their `File`s travel beside, as an array
    /// in this order. They replace whatever data the engine held.
    LoadFiles { names: Vec<String> },
    /// One CIFAR-10 file at a URL (the page has asked before going to another site).
    LoadUrl { url: String },
    /// What is kept from an earlier visit, if anything.
    Status,
    /// Forget the data, here and in this browser's storage.
    Forget,
}

/// The CIFAR-10 data the engine holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CifarSummary {
    /// Images of the training files (`data_batch_*.bin`).
    pub train_images: usize,
    /// Images of `test_batch.bin`, kept aside (not trained on).
    pub test_images: usize,
    /// The files, as given.
    pub files: Vec<String>,
    /// Training images per label 0–9.
    pub label_counts: Vec<usize>,
    /// Whether it is kept in this browser's storage (a reload finds it).
    pub kept: bool,
}

/// Engine → UI, inside [`crate::Response::Data`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "data", rename_all = "snake_case")]
pub enum DataResponse {
    /// CIFAR-10 data is ready to train on.
    Cifar(CifarSummary),
    /// No CIFAR-10 data here (none was kept, or it was forgotten).
    Empty,
    /// A load failed; what the engine held before is gone (it was replaced).
    Error { message: String },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    #[test]
    fn data_messages_nest_in_the_shared_enums() {
        let req = Request::Data(DataRequest::LoadFiles {
            names: vec!["data_batch_1.bin".into()],
        });
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"type\":\"data\""), "{json}");
        assert!(json.contains("\"data\":\"load_files\""), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let resp = Response::Data(DataResponse::Cifar(CifarSummary {
            train_images: 28,
            test_images: 10,
            files: vec!["data_batch_1.bin".into(), "test_batch.bin".into()],
            label_counts: vec![1, 2, 3, 4, 5, 6, 7, 0, 0, 0],
            kept: true,
        }));
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
    }

    #[test]
    fn the_url_names_the_data() {
        assert_eq!(TrainData::parse("CIFAR10"), Some(TrainData::Cifar10));
        assert_eq!(TrainData::parse("grating"), Some(TrainData::Grating));
        assert_eq!(TrainData::parse("mnist"), None);
        assert_eq!(TrainData::default().name(), "grating");
    }
}
