//! What the browser keeps of Teach mode across reloads (IndexedDB, read and written by
//! `ui/teach/storage.rs`): the classes' names and order with their photos' ids and names as one
//! JSON record, each photo's file (the original bytes, so its features can be computed again
//! exactly), and its features per model fingerprint. Everything read back is treated as
//! hostile here: a damaged or older record, a photo without its file, features of a wrong
//! shape are left out with a message, never a panic.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};

use super::teach::{ClassState, MAX_PHOTOS_PER_CLASS, TeachPhoto, TeachState, validate_class_name};

/// Version of the kept record; another version is ignored (with a message), not guessed at.
pub const KEPT_VERSION: u32 = 1;
/// Longest kept record read (20 classes × 50 photos with long names fit in far less).
pub const MAX_KEPT_RECORD_CHARS: usize = 1 << 20;
/// Widest features taken back (ResNet-50's are 2048 wide; the engine checks the exact width).
pub const MAX_FEATURE_WIDTH: usize = 8192;
/// Longest photo name kept (file names are not bounded by the browser).
const MAX_PHOTO_NAME_CHARS: usize = 255;

#[derive(Serialize, Deserialize)]
struct KeptRecord {
    version: u32,
    classes: Vec<KeptClass>,
}

#[derive(Serialize, Deserialize)]
struct KeptClass {
    name: String,
    photos: Vec<KeptPhoto>,
}

#[derive(Serialize, Deserialize)]
struct KeptPhoto {
    id: u32,
    name: String,
}

/// One photo's kept features for one model.
#[derive(Debug, Clone, PartialEq)]
pub struct KeptFeatures {
    pub photo: u32,
    pub fingerprint: String,
    pub values: Vec<f32>,
}

/// The storage key of a photo's features for a model.
pub fn feature_key(fingerprint: &str, photo: u32) -> String {
    format!("{fingerprint}/{photo}")
}

/// The fingerprint and photo id of a storage key (`None`: not one of ours).
pub fn parse_feature_key(key: &str) -> Option<(String, u32)> {
    let (fingerprint, photo) = key.rsplit_once('/')?;
    let ok = !fingerprint.is_empty() && fingerprint.len() <= 64;
    Some((fingerprint.to_owned(), photo.parse().ok()?)).filter(|_| ok)
}

impl TeachState {
    /// The record to keep: the classes in order, their photos' ids and names.
    pub fn kept_record(&self) -> String {
        let record = KeptRecord {
            version: KEPT_VERSION,
            classes: self
                .classes
                .iter()
                .map(|c| KeptClass {
                    name: c.name.clone(),
                    photos: c
                        .photos
                        .iter()
                        .map(|p| KeptPhoto {
                            id: p.id,
                            name: p.name.clone(),
                        })
                        .collect(),
                })
                .collect(),
        };
        serde_json::to_string(&record).unwrap_or_default()
    }

    /// Every (photo id, features key) pair the page holds now, for the storage to keep.
    pub fn kept_feature_keys(&self) -> Vec<(u32, String)> {
        self.classes
            .iter()
            .flat_map(|c| &c.photos)
            .flat_map(|p| p.features.keys().map(|f| (p.id, feature_key(f, p.id))))
            .collect()
    }

    /// Takes back what the browser kept: `photos` are the ids whose files were found (with a
    /// thumbnail URL each). Classes made before the read finished win over the kept ones.
    pub(super) fn restore(
        &mut self,
        record: Option<String>,
        photos: Vec<(u32, String)>,
        features: Vec<KeptFeatures>,
        problem: Option<String>,
    ) {
        self.restored = true;
        if let Some(problem) = problem {
            self.kept_message = Some(format!(
                "The classes kept in this browser could not be read ({problem})."
            ));
            return;
        }
        let Some(record) = record.filter(|_| self.classes.is_empty()) else {
            return;
        };
        let ignored = |why: &str| {
            Some(format!(
                "The classes kept in this browser {why}; they are ignored."
            ))
        };
        if record.len() > MAX_KEPT_RECORD_CHARS {
            self.kept_message = ignored("are too large");
            return;
        }
        let record: KeptRecord = match serde_json::from_str(&record) {
            Ok(r) => r,
            Err(e) => {
                self.kept_message = ignored(&format!("are damaged ({e})"));
                return;
            }
        };
        if record.version != KEPT_VERSION {
            self.kept_message = ignored(&format!(
                "were kept by another version (record version {})",
                record.version
            ));
            return;
        }
        let mut left_out = 0;
        let mut seen = HashSet::new();
        for kept in record.classes {
            let Ok(name) = validate_class_name(&self.classes, &kept.name) else {
                left_out += 1 + kept.photos.len();
                continue;
            };
            let mut class = ClassState {
                name,
                photos: Vec::new(),
            };
            for p in kept.photos {
                let url = photos.iter().find(|(id, _)| *id == p.id).map(|(_, u)| u);
                match url {
                    Some(url) if class.photos.len() < MAX_PHOTOS_PER_CLASS && seen.insert(p.id) => {
                        let name = p.name.chars().take(MAX_PHOTO_NAME_CHARS).collect();
                        class.photos.push(TeachPhoto::new(p.id, name, url.clone()));
                    }
                    _ => left_out += 1,
                }
            }
            self.classes.push(class);
        }
        for f in features {
            let fits = (1..=MAX_FEATURE_WIDTH).contains(&f.values.len())
                && f.values.iter().all(|v| v.is_finite());
            if let Some(p) = self.photos_mut().find(|p| p.id == f.photo)
                && fits
            {
                p.keep_features(f.fingerprint, f.values, None);
            }
        }
        if let Some(last) = seen.iter().max() {
            self.next_photo_id = self.next_photo_id.max(last + 1);
        }
        let names: Vec<&str> = self.classes.iter().map(|c| c.name.as_str()).collect();
        let count: usize = self.classes.iter().map(|c| c.photos.len()).sum();
        let mut message = format!(
            "Restored {} classes kept in this browser: {} ({count} photos).",
            names.len(),
            names.join(", ")
        );
        if left_out > 0 {
            message += &format!(" {left_out} damaged or missing entries were left out.");
        }
        self.kept_message = Some(message);
    }
}
