//! The page: Yew function components over one reducer ([`state::AppState`]), and the
//! [`client::EngineClient`] that talks to the inference worker.

pub mod client;
pub mod components;
pub mod confirm;
pub mod gradients;
pub mod state;

use std::cell::RefCell;
use std::rc::Rc;

use gloo::events::{EventListener, EventListenerOptions};
use gloo::storage::{LocalStorage, Storage};
use wasm_bindgen::JsCast;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use yew::prelude::*;

use crate::url_state::{UrlState, file_name_of, is_weights_file};
use client::EngineClient;
use components::{
    BackendStatus, DropZone, ErrorBanner, ModelPicker, ModelStatus, Notice, ResultsGallery,
};
use confirm::{WeightsConfirm, foreign_weights};
use gradients::GradientPanel;
use resnet_lab_protocol::GradientNetwork;
use resnet_lab_protocol::WeightsSource;
use state::{Action, AppState, GradientState, LoadState, Manifest, Photo, PhotoState, PhotoUrl};

const MANIFEST_URL: &str = "weights/manifest.json";
const STORAGE_MODEL_KEY: &str = "resnet-lab.model";

/// Mounts the page.
pub fn start() {
    console_error_panic_hook::set_once();
    yew::Renderer::<App>::new().render();
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
fn url_source(url: &str) -> WeightsSource {
    WeightsSource {
        label: file_name_of(url),
        url: url.to_string(),
        shard_urls: Vec::new(),
        expected_bytes: None,
        cache: true,
    }
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
    let params = use_memo((), |_| current_url_state());
    let state = {
        let params = params.clone();
        use_reducer(move || AppState {
            gradients: GradientState {
                network: params.network.clone(),
                class: params.class,
                ..GradientState::default()
            },
            ..AppState::default()
        })
    };
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
                    // Another site's weights wait for a click (see confirm.rs).
                    match foreign_weights(url) {
                        Some(pending) => on_action.emit(Action::ConfirmWeights(Some(pending))),
                        None => engine
                            .borrow_mut()
                            .load(url_source(url), String::new(), None),
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
                        file: file.clone(),
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
                update_url(|url| url.model = Some(name.clone()));
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
    let on_confirm_weights = {
        let with_client = with_client.clone();
        let state = state.clone();
        Callback::from(move |()| {
            let Some(pending) = state.pending_weights.clone() else {
                return;
            };
            state.dispatch(Action::ConfirmWeights(None));
            with_client(&|client| {
                client
                    .borrow_mut()
                    .load(url_source(&pending.url), String::new(), None)
            });
        })
    };
    let on_cancel_weights = {
        let dispatcher = state.dispatcher();
        Callback::from(move |()| dispatcher.dispatch(Action::ConfirmWeights(None)))
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

    // The gradient panel: which photo, network and class it explains (kept in the URL).
    let explain = {
        let with_client = with_client.clone();
        let state = state.clone();
        move |photo: Option<u32>, class: Option<usize>, network: GradientNetwork| {
            update_url(|url| {
                url.network = network.clone();
                url.class = class;
            });
            let photo = photo.and_then(|id| {
                state
                    .photos
                    .iter()
                    .find(|p| p.id == id)
                    .map(|p| (id, p.file.clone()))
            });
            with_client(&|client| {
                client
                    .borrow_mut()
                    .gradients(photo.clone(), class, network.clone())
            });
        }
    };
    let on_grad_network = {
        let explain = explain.clone();
        let state = state.clone();
        Callback::from(move |network: GradientNetwork| {
            let g = &state.gradients;
            // Classes of the trained model mean nothing to an initialised one.
            let class = if network == g.network { g.class } else { None };
            explain(g.shown_photo.or(latest_done(&state.photos)), class, network)
        })
    };
    let on_grad_class = {
        let explain = explain.clone();
        let state = state.clone();
        Callback::from(move |class: Option<usize>| {
            let g = &state.gradients;
            explain(g.shown_photo, class, g.network.clone())
        })
    };
    let on_explain = {
        let explain = explain.clone();
        let state = state.clone();
        Callback::from(move |photo: u32| {
            let network = state.gradients.network.clone();
            explain(Some(photo), None, network);
            if let Some(panel) = gloo::utils::document()
                .query_selector("[data-testid=gradient-panel]")
                .ok()
                .flatten()
            {
                panel.scroll_into_view();
            }
        })
    };
    // Explain the first classified photo by itself; an initialised network (from the URL)
    // needs no photo at all.
    {
        let explain = explain.clone();
        let g = state.gradients.clone();
        let first_done = latest_done(&state.photos);
        let model_ready = state.model.state == LoadState::Ready;
        use_effect_with(
            (first_done, model_ready),
            move |(first_done, model_ready)| {
                let pending = g.pending.is_some();
                let untouched = !pending && g.report.is_none() && g.error.is_none();
                let trigger = match g.network {
                    GradientNetwork::Loaded => untouched && *model_ready && first_done.is_some(),
                    // No photo needed; once a photo is there it replaces the noise.
                    GradientNetwork::HeInit { .. } => {
                        untouched || (!pending && g.photo.is_none() && first_done.is_some())
                    }
                };
                if trigger {
                    explain(*first_done, g.class, g.network.clone());
                }
            },
        );
    }

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
                <WeightsConfirm pending={state.pending_weights.clone()}
                                on_confirm={on_confirm_weights} on_cancel={on_cancel_weights} />
                <Notice text={backend_notice} testid="backend-notice" />
                <Notice text={state.info.clone()} testid="info" on_dismiss={Some(on_dismiss_info)} />
                <div class="panel controls">
                    <ModelPicker manifest={state.manifest.clone()} selected={state.selected.clone()}
                                 on_select={on_select} on_weights={on_weights} on_clear_cache={on_clear_cache} />
                    <ModelStatus model={state.model.clone()} />
                </div>
                <DropZone on_files={on_photos} dragging={state.dragging} />
                <ResultsGallery photos={state.photos.clone()} on_clear={on_clear_photos}
                                explained={state.gradients.shown_photo} on_explain={on_explain} />
                <GradientPanel gradients={state.gradients.clone()}
                               photo={state.gradients.shown_photo.and_then(|id| state.photos.iter().find(|p| p.id == id).cloned())}
                               on_network={on_grad_network} on_class={on_grad_class} />
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

/// The address bar's query, read once at start.
fn current_url_state() -> UrlState {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    UrlState::parse(&search)
}

/// The newest photo that has its classification.
fn latest_done(photos: &[Photo]) -> Option<u32> {
    photos
        .iter()
        .find(|p| p.state == PhotoState::Done)
        .map(|p| p.id)
}

/// Changes the address bar's state without reloading (so the view is a shareable link).
fn update_url(change: impl FnOnce(&mut UrlState)) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let search = location.search().unwrap_or_default();
    let mut state = UrlState::parse(&search);
    change(&mut state);
    let query = state.merge_into(&search);
    let path = location.pathname().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &JsValue::NULL,
            "",
            Some(&format!("{path}{query}{hash}")),
        );
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

/// Browser-only code paths, run in headless Chromium by `wasm-bindgen-test`
/// (`scripts/test.sh`): the address bar, and the gradient panel's DOM contract.
#[cfg(test)]
mod browser_tests {
    use super::*;
    use resnet_lab_protocol::{BackendKind, BlockGradient, GradientReport, Saliency};
    use wasm_bindgen_test::*;

    wasm_bindgen_test_configure!(run_in_browser);

    #[wasm_bindgen_test]
    fn the_address_bar_keeps_the_lesson() {
        let window = web_sys::window().unwrap();
        let location = window.location();
        let (path, hash) = (location.pathname().unwrap(), location.hash().unwrap());
        update_url(|url| {
            url.network = GradientNetwork::HeInit {
                arch: "cifar110".into(),
                seed: 9,
            };
            url.class = Some(4);
        });
        let state = current_url_state();
        assert_eq!(
            state.network,
            GradientNetwork::HeInit {
                arch: "cifar110".into(),
                seed: 9
            }
        );
        assert_eq!(state.class, Some(4));
        assert_eq!(
            location.search().unwrap(),
            "?grad=init&arch=cifar110&seed=9&class=4"
        );
        // The page did not navigate: same path, same fragment.
        assert_eq!(location.pathname().unwrap(), path);
        assert_eq!(location.hash().unwrap(), hash);
        update_url(|url| *url = UrlState::default());
        assert_eq!(window.location().search().unwrap(), "");
    }

    fn block(name: &str, stage: usize, grad: f64, plain: f64) -> BlockGradient {
        BlockGradient {
            block: name.into(),
            grad_norm: grad,
            shortcut_norm: grad * 0.75,
            residual_norm: grad * 0.5,
            plain_grad_norm: plain,
            stage,
            stride: if name.ends_with(".0") && stage > 1 {
                2
            } else {
                1
            },
            in_channels: 64,
            out_channels: 64,
            projection: name.ends_with(".0") && stage > 1,
        }
    }

    #[wasm_bindgen_test]
    async fn the_panel_renders_one_element_per_block_with_its_numbers() {
        let report = GradientReport {
            model: "resnet18".into(),
            class: 7,
            label: "cock".into(),
            logit: 3.5,
            input_grad_norm: 0.1,
            plain_input_grad_norm: 1e-12,
            blocks: vec![
                block("layer1.0", 1, 2.5, 1.25e-9),
                block("layer1.1", 1, 2.0, 3e-8),
                block("layer2.0", 2, 1.5, 4e-6),
            ],
            saliency: Saliency {
                grad_cam: vec![0.0, 0.5, 1.0, 0.25],
                grad_cam_size: [2, 2],
                input_gradient: vec![1.0; 16],
                input_size: [4, 4],
            },
            network: GradientNetwork::Loaded,
            block_kind: "basic".into(),
            analysis_ms: 12.0,
            backend: BackendKind::Cpu,
        };
        let gradients = GradientState {
            report: Some(Rc::new(report)),
            ..GradientState::default()
        };
        let document = gloo::utils::document();
        let root = document.create_element("div").unwrap();
        document.body().unwrap().append_child(&root).unwrap();
        let props = gradients::GradientPanelProps {
            gradients,
            photo: None,
            on_network: Callback::noop(),
            on_class: Callback::noop(),
        };
        let app = yew::Renderer::<GradientPanel>::with_root_and_props(root.clone(), props).render();
        // Let Yew render and run its effects (the canvases are drawn in an effect).
        gloo::timers::future::TimeoutFuture::new(50).await;

        let panel = root
            .query_selector("[data-testid=gradient-panel]")
            .unwrap()
            .expect("the panel");
        assert_eq!(panel.get_attribute("data-state").as_deref(), Some("done"));
        assert_eq!(panel.get_attribute("data-class").as_deref(), Some("7"));
        let blocks = root.query_selector_all("[data-testid=grad-block]").unwrap();
        assert_eq!(blocks.length(), 3);
        let first: web_sys::Element = blocks.get(0).unwrap().unchecked_into();
        assert_eq!(
            first.get_attribute("data-block").as_deref(),
            Some("layer1.0")
        );
        let number = |name: &str| -> f64 { first.get_attribute(name).unwrap().parse().unwrap() };
        assert_eq!(number("data-grad-norm"), 2.5);
        assert_eq!(number("data-shortcut-norm"), 1.875);
        assert_eq!(number("data-residual-norm"), 1.25);
        assert_eq!(number("data-plain-grad-norm"), 1.25e-9);
        // Two curves with a dot per block, and the downsampling marker on layer2.0.
        assert_eq!(root.query_selector_all("circle").unwrap().length(), 6);
        assert_eq!(root.query_selector_all(".downsample").unwrap().length(), 1);
        // The headline states the contrast at the first block: 2.5 / 1.25e-9 = 10^9.3.
        let contrast = root
            .query_selector("[data-testid=grad-contrast]")
            .unwrap()
            .unwrap()
            .text_content()
            .unwrap();
        assert!(contrast.contains("10^9.3 times larger"), "{contrast}");
        // Grad-CAM: the 2×2 map drawn through the colour scale, brightest where the map is 1.
        let canvas: web_sys::HtmlCanvasElement = root
            .query_selector("[data-testid=grad-cam]")
            .unwrap()
            .unwrap()
            .unchecked_into();
        assert_eq!((canvas.width(), canvas.height()), (2, 2));
        let context: web_sys::CanvasRenderingContext2d =
            canvas.get_context("2d").unwrap().unwrap().unchecked_into();
        let pixels = context.get_image_data(0.0, 0.0, 2.0, 2.0).unwrap().data().0;
        assert_eq!(&pixels[8..12], &[252, 255, 164, 255]);
        assert_eq!(pixels[3], 0, "zero saliency is transparent");
        app.destroy();
        root.remove();
    }
}
