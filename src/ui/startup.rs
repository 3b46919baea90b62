//! Start-up, as a hook: fetch the manifest, then load the model the address bar, the last
//! visit or the manifest's first entry asks for.

use std::rc::Rc;

use gloo::storage::{LocalStorage, Storage};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::state::{Action, Manifest};
use crate::ui::confirm::foreign_weights;
use crate::ui::engine::use_engine;
use crate::url_state::{UrlState, file_name_of};
use resnet_lab_protocol::{ReadAheadHint, WeightsSource};

const MANIFEST_URL: &str = "weights/manifest.json";
/// The model last picked, remembered for the next visit.
pub const STORAGE_MODEL_KEY: &str = "resnet-lab.model";

/// Picks the model once, when the page starts: `?weights=` (another site's waits for a
/// click), `?model=`, the one picked last time, or the manifest's first.
#[hook]
pub fn use_initial_model(params: Rc<UrlState>, on_action: Callback<Action>) {
    let engine = use_engine();
    use_effect_with((), move |_| {
        wasm_bindgen_futures::spawn_local(async move {
            let manifest = fetch_manifest().await;
            if let Ok(manifest) = &manifest {
                on_action.emit(Action::Manifest(manifest.clone()));
            }
            if let Some(url) = &params.weights {
                // Another site's weights wait for a click (see confirm.rs).
                match foreign_weights(url) {
                    Some(pending) => on_action.emit(Action::ConfirmWeights(Some(pending))),
                    None => engine.load(url_source(url), String::new(), None),
                }
                return;
            }
            let manifest = match manifest {
                Ok(m) if !m.models.is_empty() => m,
                Ok(_) => {
                    on_action.emit(Action::ModelUnavailable(format!(
                        "{MANIFEST_URL} lists no models. Run scripts/setup.sh, open the page with ?weights=URL, or load a weights file."
                    )));
                    return;
                }
                Err(e) => {
                    on_action.emit(Action::ModelUnavailable(format!(
                        "No served weights ({e}). Run scripts/setup.sh, open the page with ?weights=URL, or load a weights file."
                    )));
                    return;
                }
            };
            let remembered: Option<String> = LocalStorage::get(STORAGE_MODEL_KEY).ok();
            let wanted = params
                .model
                .clone()
                .or(remembered.filter(|name| source_for(&manifest, name).is_some()));
            let name = wanted.unwrap_or_else(|| manifest.models[0].name.clone());
            match source_for(&manifest, &name) {
                Some((source, model_name)) => {
                    leave_read_ahead_hint(&model_name, &source);
                    engine.load(source, model_name.clone(), Some(model_name))
                }
                None => {
                    let names: Vec<&str> =
                        manifest.models.iter().map(|m| m.name.as_str()).collect();
                    on_action.emit(Action::ModelUnavailable(format!(
                        "?model={name}: no such model is served (available: {})",
                        names.join(", ")
                    )));
                }
            }
        });
        || ()
    });
}

/// Tells the next start which served model to read from the cache while the page starts
/// (index.html sends the hint's request to the engine it starts early).
pub fn leave_read_ahead_hint(model: &str, source: &WeightsSource) {
    let _ = LocalStorage::set(ReadAheadHint::KEY, ReadAheadHint::new(model, &source.url));
}

async fn fetch_manifest() -> Result<Manifest, String> {
    let window = web_sys::window().ok_or("no window")?;
    let init = web_sys::RequestInit::new();
    init.set_cache(web_sys::RequestCache::NoCache);
    let response = JsFuture::from(window.fetch_with_str_and_init(MANIFEST_URL, &init))
        .await
        .map_err(|e| format!("could not fetch {MANIFEST_URL}: {e:?}"))?;
    let response: web_sys::Response = response.unchecked_into();
    if !response.ok() {
        return Err(format!("{MANIFEST_URL}: HTTP {}", response.status()));
    }
    let text = JsFuture::from(response.text().map_err(|e| format!("{e:?}"))?)
        .await
        .map_err(|e| format!("{e:?}"))?
        .as_string()
        .unwrap_or_default();
    serde_json::from_str(&text).map_err(|e| format!("{MANIFEST_URL} is not a valid manifest: {e}"))
}

/// `?weights=URL` as a source (kept in Cache Storage like the served models).
pub fn url_source(url: &str) -> WeightsSource {
    WeightsSource {
        label: file_name_of(url),
        url: url.to_string(),
        shard_urls: Vec::new(),
        expected_bytes: None,
        cache: true,
    }
}

/// A served model by name, with the name it is known by.
pub fn source_for(manifest: &Manifest, name: &str) -> Option<(WeightsSource, String)> {
    let model = manifest.models.iter().find(|m| m.name == name)?;
    Some((
        WeightsSource {
            label: model.title(),
            url: format!("weights/{}", model.file),
            shard_urls: Vec::new(),
            expected_bytes: model.bytes,
            cache: true,
        },
        model.name.clone(),
    ))
}
