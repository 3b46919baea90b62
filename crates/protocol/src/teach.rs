//! Teach mode's messages: features of class photos, training a linear head on them in the
//! engine (live curve, Stop), and the head's file (export, import).
//!
//! Teach photos have ids of their own (not the classified photos' ids); the engine keeps
//! each one's features for the model they were computed with.

use serde::{Deserialize, Serialize};

/// A class as the page sends it for training: its name and its photos' ids.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TeachClass {
    pub name: String,
    pub photos: Vec<u32>,
}

/// UI → engine, inside [`crate::Request::Teach`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "teach", rename_all = "snake_case")]
pub enum TeachRequest {
    /// Compute (once) the frozen backbone's pooled features of the photo sent beside this.
    Features { photo: u32 },
    /// Features the page kept (IndexedDB) from an earlier computation: used as they are when
    /// `fingerprint` is the loaded model's and their width and values fit, else refused.
    Restore {
        photo: u32,
        fingerprint: String,
        features: Vec<f32>,
    },
    /// Train a head on the classes' photos (their features must have been asked for); with
    /// `layer4`, fine-tune the last stage with it (slower; the head file then holds layer4).
    /// With `augment` = K > 0, each training photo adds K augmented views (flipped random
    /// crops of the 256 resize) as more training rows; the photos' files travel beside the
    /// request as an array in the classes' order (the engine decodes them again for the views).
    Train {
        classes: Vec<TeachClass>,
        epochs: usize,
        #[serde(default)]
        layer4: bool,
        #[serde(default)]
        augment: usize,
    },
    /// Stop training after the current epoch (acts at once, never queued).
    Stop,
    /// Send the head's `.safetensors` bytes.
    Export,
    /// Use the head file sent beside this (refused for another backbone).
    Import { name: String },
}

/// A photo's pooled features and the fingerprint of the weights that computed them.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PhotoFeatures {
    pub fingerprint: String,
    pub values: Vec<f32>,
}

/// Most augmented views per photo the page asks for (each costs a forward pass).
pub const MAX_PAGE_AUGMENT: usize = 8;

/// One epoch of the curve.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct EpochPoint {
    pub epoch: usize,
    pub loss: f64,
    pub train_accuracy: f64,
    pub val_accuracy: Option<f64>,
}

/// Engine → UI, inside [`crate::Response::Teach`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "teach", rename_all = "snake_case")]
pub enum TeachResponse {
    /// A photo's features are ready (`error`: why not). `features`: the values, when they
    /// were computed for this answer (not for a [`TeachRequest::Restore`]), for the page to keep.
    Features {
        photo: u32,
        error: Option<String>,
        ms: f64,
        #[serde(default)]
        features: Option<PhotoFeatures>,
    },
    /// Augmented views being computed before training: `done` of `total` photos.
    Augmenting {
        done: usize,
        total: usize,
    },
    /// One more epoch of the running training.
    Epoch {
        point: EpochPoint,
        epochs: usize,
    },
    /// Training finished (or was stopped); the head is in use from now on.
    Trained {
        classes: Vec<String>,
        /// `leave_one_out`, `split` or `none`.
        validation: String,
        stopped: bool,
        train_ms: f64,
        /// Rows the head trained on: its photos' centre crops and their augmented views.
        #[serde(default)]
        train_rows: usize,
        /// Time spent computing augmented views (0 without augmentation).
        #[serde(default)]
        augment_ms: f64,
    },
    TrainError {
        message: String,
    },
    /// The head file's bytes, to download.
    Exported {
        bytes: Vec<u8>,
        file_name: String,
    },
    /// An imported head is in use.
    Imported {
        classes: Vec<String>,
        name: String,
    },
    /// An export or import failed (another backbone, not a head file, no head yet).
    HeadError {
        message: String,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Request, Response};

    #[test]
    fn teach_messages_nest_in_the_shared_enums() {
        let req = Request::Teach(TeachRequest::Train {
            classes: vec![TeachClass {
                name: "cat".into(),
                photos: vec![1, 2],
            }],
            epochs: 50,
            layer4: true,
            augment: 2,
        });
        let json = serde_json::to_string(&req).unwrap();
        assert!(json.contains("\"type\":\"teach\""), "{json}");
        assert!(json.contains("\"teach\":\"train\""), "{json}");
        assert_eq!(serde_json::from_str::<Request>(&json).unwrap(), req);
        let resp = Response::Teach(TeachResponse::Epoch {
            point: EpochPoint {
                epoch: 3,
                loss: 0.5,
                train_accuracy: 1.0,
                val_accuracy: None,
            },
            epochs: 50,
        });
        let json = serde_json::to_string(&resp).unwrap();
        assert_eq!(serde_json::from_str::<Response>(&json).unwrap(), resp);
    }

    /// A page from before augmentation still reads (no views asked for).
    #[test]
    fn a_train_request_without_augment_asks_for_none() {
        let old = r#"{"type":"teach","teach":"train","classes":[],"epochs":5}"#;
        let Request::Teach(TeachRequest::Train {
            augment, layer4, ..
        }) = serde_json::from_str(old).unwrap()
        else {
            panic!("not a train request");
        };
        assert_eq!((augment, layer4), (0, false));
    }
}
