//! Teach mode's classes kept in this browser across reloads, in IndexedDB (`resnet-lab-teach`):
//! - `classes`: one JSON record (the classes' names and order, their photos' ids and names),
//! - `photos`: each photo's original file by id (so its features can be computed again, exactly,
//!   for other weights),
//! - `features`: each photo's pooled features per model, keyed `fingerprint/id`, as a
//!   `Float32Array`.
//!
//! Reading is bounded and everything read is checked by the reducer (`state/teach_kept.rs`).
//! Storage is best effort: when it fails (private mode, quota) the page works on without it.

use std::collections::HashSet;

use rexie::{ObjectStore, Rexie, TransactionMode};
use wasm_bindgen::{JsCast, JsValue};

use crate::state::teach::{KeptFeatures, MAX_FEATURE_WIDTH, parse_feature_key};

const DATABASE: &str = "resnet-lab-teach";
const CLASSES: &str = "classes";
const PHOTOS: &str = "photos";
const FEATURES: &str = "features";
const RECORD_KEY: &str = "classes";
/// Entries read back at most per store (20 classes × 50 photos, three models' features each).
const MAX_READ: u32 = 3000;
/// Largest photo kept (a photo this large is used, but must be added again after a reload).
pub const MAX_KEPT_PHOTO_BYTES: f64 = 16.0 * 1024.0 * 1024.0;

/// What the browser kept, as read (still to be checked).
#[derive(Default)]
pub struct Kept {
    pub record: Option<String>,
    pub photos: Vec<(u32, web_sys::Blob)>,
    pub features: Vec<KeptFeatures>,
}

/// What one save writes and what it keeps.
pub struct Save {
    pub record: String,
    pub photos: Vec<(u32, web_sys::Blob)>,
    pub features: Vec<(String, Vec<f32>)>,
    pub keep_photos: HashSet<u32>,
    pub keep_features: HashSet<String>,
}

fn text(e: rexie::Error) -> String {
    e.to_string()
}

async fn open() -> Result<Rexie, String> {
    Rexie::builder(DATABASE)
        .version(1)
        .add_object_store(ObjectStore::new(CLASSES))
        .add_object_store(ObjectStore::new(PHOTOS))
        .add_object_store(ObjectStore::new(FEATURES))
        .build()
        .await
        .map_err(text)
}

/// Reads everything kept (bounded); entries of the wrong type are skipped.
pub async fn load() -> Result<Kept, String> {
    let db = open().await?;
    let tx = db
        .transaction(&[CLASSES, PHOTOS, FEATURES], TransactionMode::ReadOnly)
        .map_err(text)?;
    let record = tx
        .store(CLASSES)
        .map_err(text)?
        .get(RECORD_KEY.into())
        .await
        .map_err(text)?
        .and_then(|v| v.as_string());
    let photos = tx
        .store(PHOTOS)
        .map_err(text)?
        .scan(None, Some(MAX_READ), None, None)
        .await
        .map_err(text)?
        .into_iter()
        .filter_map(|(key, value)| {
            let id = key
                .as_f64()
                .filter(|k| k.fract() == 0.0 && (0.0..=u32::MAX as f64).contains(k))?;
            Some((id as u32, value.dyn_into::<web_sys::Blob>().ok()?))
        })
        .collect();
    let features = tx
        .store(FEATURES)
        .map_err(text)?
        .scan(None, Some(MAX_READ), None, None)
        .await
        .map_err(text)?
        .into_iter()
        .filter_map(|(key, value)| {
            let (fingerprint, photo) = parse_feature_key(&key.as_string()?)?;
            let array = value.dyn_into::<js_sys::Float32Array>().ok()?;
            // Checked before copying: a huge array is not read.
            (array.length() as usize <= MAX_FEATURE_WIDTH).then_some(())?;
            Some(KeptFeatures {
                photo,
                fingerprint,
                values: array.to_vec(),
            })
        })
        .collect();
    tx.done().await.map_err(text)?;
    db.close();
    Ok(Kept {
        record,
        photos,
        features,
    })
}

/// Writes the record, new photos and features, and deletes what is no longer kept, in one
/// transaction.
pub async fn save(save: Save) -> Result<(), String> {
    let db = open().await?;
    let tx = db
        .transaction(&[CLASSES, PHOTOS, FEATURES], TransactionMode::ReadWrite)
        .map_err(text)?;
    let classes = tx.store(CLASSES).map_err(text)?;
    classes
        .put(&save.record.into(), Some(&RECORD_KEY.into()))
        .await
        .map_err(text)?;
    let photos = tx.store(PHOTOS).map_err(text)?;
    for (id, blob) in &save.photos {
        photos
            .put(blob.as_ref(), Some(&JsValue::from(*id)))
            .await
            .map_err(text)?;
    }
    for key in photos.get_all_keys(None, None).await.map_err(text)? {
        let kept = key
            .as_f64()
            .is_some_and(|k| save.keep_photos.contains(&(k as u32)) && k.fract() == 0.0);
        if !kept {
            photos.delete(key).await.map_err(text)?;
        }
    }
    let features = tx.store(FEATURES).map_err(text)?;
    for (key, values) in &save.features {
        let array = js_sys::Float32Array::from(values.as_slice());
        features
            .put(array.as_ref(), Some(&JsValue::from_str(key)))
            .await
            .map_err(text)?;
    }
    for key in features.get_all_keys(None, None).await.map_err(text)? {
        let kept = key
            .as_string()
            .is_some_and(|k| save.keep_features.contains(&k));
        if !kept {
            features.delete(key).await.map_err(text)?;
        }
    }
    tx.done().await.map_err(text)?;
    db.close();
    Ok(())
}
