//! The page: Yew function components over one reducer ([`state::AppState`]), and the
//! [`client::EngineClient`] that talks to the inference worker.

pub mod client;
pub mod components;
pub mod state;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use gloo::storage::{LocalStorage, Storage};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::protocol::{BackendChoice, WeightsSource};
use client::EngineClient;
use components::{
    BackendStatus, DropZone, ErrorBanner, ModelPicker, ModelStatus, Notice, ResultsGallery,
};
use state::{Action, AppState, Manifest, Photo, PhotoState, PhotoUrl};

const MANIFEST_URL: &str = "weights/manifest.json";
const STORAGE_MODEL_KEY: &str = "resnet-lab.model";

/// Mounts the page.
pub fn start() {
    console_error_panic_hook::set_once();
    yew::Renderer::<App>::new().render();
}

/// The page's URL parameters.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UrlParams {
    pub backend: BackendChoice,
    pub model: Option<String>,
    pub weights: Option<String>,
}

impl UrlParams {
    pub fn parse(search: &str) -> Self {
        let mut params = UrlParams::default();
        for pair in search
            .trim_start_matches('?')
            .split('&')
            .filter(|p| !p.is_empty())
        {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            let value = js_decode(value);
            match key {
                "backend" => params.backend = BackendChoice::parse(Some(&value)),
                "model" if !value.is_empty() => params.model = Some(value),
                "weights" if !value.is_empty() => params.weights = Some(value),
                _ => {}
            }
        }
        params
    }

    fn current() -> Self {
        let search = web_sys::window()
            .and_then(|w| w.location().search().ok())
            .unwrap_or_default();
        Self::parse(&search)
    }
}

/// `decodeURIComponent`, plus `+` as a space; the raw text when it is not valid.
fn js_decode(value: &str) -> String {
    let value = value.replace('+', " ");
    #[cfg(target_arch = "wasm32")]
    {
        js_sys::decode_uri_component(&value)
            .ok()
            .and_then(|s| s.as_string())
            .unwrap_or(value)
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        value
    }
}

/// The last segment of a URL path, for people.
pub fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

/// Whether a dropped file looks like weights rather than a photo.
pub fn is_weights_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".safetensors", ".pth", ".pt", ".bin", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
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

fn source_for(manifest: &Manifest, name: &str) -> Option<(WeightsSource, String)> {
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

/// Loads weights a person picked or dropped: one file, or a `model.json` with its shards.
fn load_local_weights(client: &Rc<RefCell<EngineClient>>, files: Vec<web_sys::File>) {
    let urls: Vec<(String, gloo::file::ObjectUrl)> = files
        .iter()
        .map(|f| {
            (
                f.name(),
                gloo::file::ObjectUrl::from(gloo::file::File::from(f.clone())),
            )
        })
        .collect();
    let main = urls
        .iter()
        .find(|(name, _)| name.to_ascii_lowercase().ends_with(".json"))
        .or_else(|| {
            urls.iter()
                .find(|(name, _)| !name.to_ascii_lowercase().ends_with(".bin"))
        })
        .or(urls.first());
    let Some((main_name, main_url)) = main else {
        return;
    };
    let source = WeightsSource {
        label: main_name.clone(),
        url: main_url.to_string(),
        shard_urls: urls
            .iter()
            .filter(|(name, _)| name != main_name)
            .map(|(name, url)| (name.clone(), url.to_string()))
            .collect(),
        expected_bytes: None,
        cache: false,
    };
    client.borrow_mut().load(source, String::new(), None);
    // The blob URLs must outlive the engine's download; they are small to keep.
    std::mem::forget(urls);
}

/// The whole page.
#[function_component(App)]
pub fn app() -> Html {
    let state = use_reducer(AppState::default);
    let params = use_memo((), |_| UrlParams::current());
    let client: Rc<RefCell<Option<Rc<RefCell<EngineClient>>>>> = use_mut_ref(|| None);

    // Start the engine, then pick the model: ?weights=, ?model=, the last one picked, or the
    // manifest's first.
    {
        let dispatcher = state.dispatcher();
        let client = client.clone();
        let params = params.clone();
        use_effect_with((), move |_| {
            let on_action = Callback::from(move |action| dispatcher.dispatch(action));
            let engine = EngineClient::new(on_action.clone(), params.backend);
            *client.borrow_mut() = Some(engine.clone());
            install_test_hooks(&engine);
            wasm_bindgen_futures::spawn_local(async move {
                let manifest = fetch_manifest().await;
                if let Ok(manifest) = &manifest {
                    on_action.emit(Action::Manifest(manifest.clone()));
                }
                if let Some(url) = &params.weights {
                    let source = WeightsSource {
                        label: file_name_of(url),
                        url: url.clone(),
                        shard_urls: Vec::new(),
                        expected_bytes: None,
                        cache: true,
                    };
                    engine.borrow_mut().load(source, String::new(), None);
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
                        engine
                            .borrow_mut()
                            .load(source, model_name.clone(), Some(model_name))
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

    let with_client = {
        let client = client.clone();
        move |f: &dyn Fn(&Rc<RefCell<EngineClient>>)| {
            if let Some(c) = client.borrow().as_ref() {
                f(c);
            }
        }
    };

    // Photos: one card each, sent to the engine in order.
    let on_photos = {
        let dispatcher = state.dispatcher();
        let with_client = with_client.clone();
        Callback::from(move |files: Vec<web_sys::File>| {
            with_client(&|client| {
                for file in &files {
                    let id = client.borrow_mut().next_photo_id();
                    let name = file.name();
                    dispatcher.dispatch(Action::AddPhoto(Photo {
                        id,
                        name: name.clone(),
                        url: PhotoUrl(gloo::file::ObjectUrl::from(gloo::file::File::from(
                            file.clone(),
                        ))),
                        state: PhotoState::Pending,
                        top: Vec::new(),
                        timings: None,
                        backend: None,
                        size: None,
                        error: None,
                    }));
                    client.borrow_mut().classify(id, name, file.clone());
                }
            });
        })
    };
    let on_weights = {
        let with_client = with_client.clone();
        Callback::from(move |files: Vec<web_sys::File>| {
            with_client(&|client| load_local_weights(client, files.clone()))
        })
    };
    // Dropped or pasted files: weights by their extension, everything else as photos.
    let on_any_files = {
        let on_photos = on_photos.clone();
        let on_weights = on_weights.clone();
        Callback::from(move |files: Vec<web_sys::File>| {
            let (weights, photos): (Vec<_>, Vec<_>) =
                files.into_iter().partition(|f| is_weights_file(&f.name()));
            if !weights.is_empty() {
                on_weights.emit(weights);
            }
            if !photos.is_empty() {
                on_photos.emit(photos);
            }
        })
    };
    let on_select = {
        let with_client = with_client.clone();
        let state = state.clone();
        Callback::from(move |name: String| {
            let Some(manifest) = &state.manifest else {
                return;
            };
            if let Some((source, model_name)) = source_for(manifest, &name) {
                let _ = LocalStorage::set(STORAGE_MODEL_KEY, &name);
                set_url_param("model", &name);
                with_client(&|client| {
                    client.borrow_mut().load(
                        source.clone(),
                        model_name.clone(),
                        Some(model_name.clone()),
                    )
                });
            }
        })
    };
    let on_clear_cache = {
        let with_client = with_client.clone();
        Callback::from(move |()| with_client(&|client| client.borrow_mut().clear_cache()))
    };
    let on_dismiss = {
        let dispatcher = state.dispatcher();
        Callback::from(move |i| dispatcher.dispatch(Action::DismissError(i)))
    };
    let on_dismiss_info = {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| dispatcher.dispatch(Action::Info(None)))
    };
    let on_clear_photos = {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| dispatcher.dispatch(Action::ClearPhotos))
    };

    // Drop anywhere, paste anywhere.
    {
        let dispatcher = state.dispatcher();
        let on_any_files = on_any_files.clone();
        use_effect_with((), move |_| {
            let document = gloo::utils::document();
            let options = EventListenerOptions::enable_prevent_default();
            let d = dispatcher.clone();
            let over = EventListener::new_with_options(&document, "dragover", options, move |e| {
                let e: &web_sys::DragEvent = e.unchecked_ref();
                let has_files = e
                    .data_transfer()
                    .map(|dt| {
                        dt.types()
                            .iter()
                            .any(|t| t.as_string().as_deref() == Some("Files"))
                    })
                    .unwrap_or(false);
                if has_files {
                    e.prevent_default();
                    d.dispatch(Action::Dragging(true));
                }
            });
            let d = dispatcher.clone();
            let leave = EventListener::new(&document, "dragleave", move |e| {
                let e: &web_sys::DragEvent = e.unchecked_ref();
                if e.related_target().is_none() {
                    d.dispatch(Action::Dragging(false));
                }
            });
            let d = dispatcher.clone();
            let files_cb = on_any_files.clone();
            let drop = EventListener::new_with_options(&document, "drop", options, move |e| {
                let e: &web_sys::DragEvent = e.unchecked_ref();
                e.prevent_default();
                d.dispatch(Action::Dragging(false));
                if let Some(list) = e.data_transfer().and_then(|dt| dt.files()) {
                    let files: Vec<_> = (0..list.length()).filter_map(|i| list.get(i)).collect();
                    if !files.is_empty() {
                        files_cb.emit(files);
                    }
                }
            });
            let files_cb = on_any_files.clone();
            let paste = EventListener::new(&document, "paste", move |e| {
                let e: &web_sys::ClipboardEvent = e.unchecked_ref();
                if let Some(list) = e.clipboard_data().and_then(|dt| dt.files()) {
                    let files: Vec<_> = (0..list.length()).filter_map(|i| list.get(i)).collect();
                    if !files.is_empty() {
                        files_cb.emit(files);
                    }
                }
            });
            move || drop_all((over, leave, drop, paste))
        });
    }

    // Passing remarks fade after a while.
    {
        let dispatcher = state.dispatcher();
        use_effect_with(state.info.clone(), move |info| {
            let timeout = info.as_ref().map(|_| {
                gloo::timers::callback::Timeout::new(10_000, move || {
                    dispatcher.dispatch(Action::Info(None))
                })
            });
            move || drop(timeout)
        });
    }

    let backend_notice = state.backend.as_ref().and_then(|b| b.notice.clone());
    html! {
        <div class={classes!("app", state.dragging.then_some("is-dragging"))}>
            <header class="topbar">
                <div class="brand">
                    <span class="logo" aria-hidden="true">{ "◧" }</span>
                    <div>
                        <h1>{ "ResNet Lab" }</h1>
                        <p class="tagline">{ "ImageNet classification in your browser — Burn on WebGPU, or the CPU" }</p>
                    </div>
                </div>
                <BackendStatus backend={state.backend.clone()} />
            </header>
            <main>
                <ErrorBanner errors={state.errors.clone()} on_dismiss={on_dismiss} />
                <Notice text={backend_notice} testid="backend-notice" />
                <Notice text={state.info.clone()} testid="info" on_dismiss={Some(on_dismiss_info)} />
                <div class="panel controls">
                    <ModelPicker manifest={state.manifest.clone()} selected={state.selected.clone()}
                                 on_select={on_select} on_weights={on_weights} on_clear_cache={on_clear_cache} />
                    <ModelStatus model={state.model.clone()} />
                </div>
                <DropZone on_files={on_photos} dragging={state.dragging} />
                <ResultsGallery photos={state.photos.clone()} on_clear={on_clear_photos} />
            </main>
            <div class="drop-overlay" aria-hidden="true"><div>{ "Drop to classify" }</div></div>
            <footer class="footer muted small">
                { "ResNet Lab · " }
                <a href="?backend=cpu">{ "?backend=cpu" }</a>{ " · " }
                <a href="?backend=webgpu">{ "?backend=webgpu" }</a>{ " · ?model=NAME · ?weights=URL" }
            </footer>
        </div>
    }
}

fn drop_all<T>(_listeners: T) {}

/// Replaces one query parameter in the address bar without reloading.
fn set_url_param(key: &str, value: &str) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let Ok(url) = web_sys::Url::new(&window.location().href().unwrap_or_default()) else {
        return;
    };
    url.search_params().set(key, value);
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(&JsValue::NULL, "", Some(&url.href()));
    }
}

/// `window.resnetLab.loseDevice()`: destroys the GPU device, to exercise recovery in tests.
fn install_test_hooks(client: &Rc<RefCell<EngineClient>>) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let hooks = js_sys::Object::new();
    let weak = Rc::downgrade(client);
    let lose = Closure::<dyn Fn()>::new(move || {
        if let Some(client) = weak.upgrade() {
            client.borrow_mut().lose_device();
        }
    });
    let _ = js_sys::Reflect::set(&hooks, &"loseDevice".into(), lose.as_ref());
    lose.forget();
    let _ = js_sys::Reflect::set(&window, &"resnetLab".into(), &hooks);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_parameters_are_read() {
        let p = UrlParams::parse("?backend=cpu&model=resnet50&weights=https://x/y.pth");
        assert_eq!(p.backend, BackendChoice::Cpu);
        assert_eq!(p.model.as_deref(), Some("resnet50"));
        assert_eq!(p.weights.as_deref(), Some("https://x/y.pth"));
        assert_eq!(UrlParams::parse(""), UrlParams::default());
        assert_eq!(UrlParams::parse("?model=&backend").model, None);
    }

    #[test]
    fn names_and_kinds_of_files() {
        assert_eq!(file_name_of("https://h/a/b/model.json?x=1"), "model.json");
        assert_eq!(file_name_of("weights/r.safetensors"), "r.safetensors");
        assert!(is_weights_file("ResNet50.PTH"));
        assert!(is_weights_file("model.json"));
        assert!(!is_weights_file("cat.jpg"));
    }
}
