//! Teach mode's head kept in Cache Storage: the last head of each backbone comes back after a
//! reload (a head with a fine-tuned layer4 is large: 34 MB for ResNet-18, 60 MB for ResNet-50).

use resnet_lab_core::transfer::{BackboneId, LinearHead};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use super::engine::Engine;
use super::js::{browser, scope};
use crate::error::{EngineError, Result};

/// Largest head file accepted (1000 classes × 2048 float32 features is 8.2 MB; with a
/// fine-tuned ResNet-50 layer4, 69 MB).
const MAX_HEAD_BYTES: f64 = 128.0 * 1024.0 * 1024.0;

/// Cache Storage bucket keeping the last head of each backbone across reloads (apart from
/// the weights' bucket, so "Clear cache" leaves it).
const HEAD_CACHE: &str = "resnet-lab-teach-v1";

/// The cache key of the head kept for weights with `fingerprint`.
fn head_key(fingerprint: &str) -> String {
    format!("./resnet-lab-teach/head-{fingerprint}.safetensors")
}

async fn head_cache() -> Option<web_sys::Cache> {
    let storage = scope().caches().ok()?;
    JsFuture::from(storage.open(HEAD_CACHE))
        .await
        .ok()
        .map(JsCast::unchecked_into)
}

/// Keeps the head in use for its backbone, so a reload finds it (best effort).
pub(super) async fn save_head(head: &LinearHead) {
    let (Some(cache), Ok(bytes)) = (head_cache().await, head.to_safetensors()) else {
        return;
    };
    let body = js_sys::Uint8Array::from(bytes.as_slice());
    if let Ok(response) = web_sys::Response::new_with_opt_buffer_source(Some(&body))
        && let Err(e) =
            JsFuture::from(cache.put_with_str(&head_key(&head.backbone.fingerprint), &response))
                .await
    {
        web_sys::console::warn_2(&"could not keep the head (storage full?)".into(), &e);
    }
}

/// The head kept for `backbone`, if any (a damaged entry is ignored).
pub(super) async fn saved_head(backbone: &BackboneId) -> Option<LinearHead> {
    let cache = head_cache().await?;
    let hit = JsFuture::from(cache.match_with_str(&head_key(&backbone.fingerprint)))
        .await
        .ok()?
        .dyn_into::<web_sys::Response>()
        .ok()?;
    let buffer = JsFuture::from(hit.array_buffer().ok()?).await.ok()?;
    let head = LinearHead::from_safetensors(&js_sys::Uint8Array::new(&buffer).to_vec()).ok()?;
    head.check_backbone(backbone).ok()?;
    Some(head)
}

impl Engine {
    /// Uses the head file sent beside the request (refused for other weights).
    pub(super) async fn import_head(&self, payload: Option<JsValue>) -> Result<Vec<String>> {
        let blob: web_sys::Blob = payload
            .and_then(|p| p.dyn_into().ok())
            .ok_or_else(|| EngineError::Unavailable("no file was received".into()))?;
        if blob.size() > MAX_HEAD_BYTES {
            return Err(EngineError::Unavailable(format!(
                "{} bytes is too large for a head file",
                blob.size()
            )));
        }
        let buffer = JsFuture::from(blob.array_buffer())
            .await
            .map_err(browser("reading the head file"))?;
        let bytes = js_sys::Uint8Array::new(&buffer).to_vec();
        let head = LinearHead::from_safetensors(&bytes)?;
        head.check_backbone(&self.backbone_id()?)?;
        let classes = head.classes.clone();
        // Checks a fine-tuned layer4 against the network before the head is kept.
        self.use_head(head.clone())?;
        save_head(&head).await;
        Ok(classes)
    }
}
