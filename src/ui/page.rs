//! Everything on the page, inside the state and engine contexts that `App` provides: the
//! callbacks that turn clicks, drops and pastes into actions and engine requests.

use std::rc::Rc;

use gloo::storage::{LocalStorage, Storage};
use yew::prelude::*;

use crate::state::{Action, GradientState, LoadState, NewPhoto, PhotoState};
use crate::ui::address_bar::update_url;
use crate::ui::components::{
    BackendStatus, DropZone, ErrorBanner, ModelPicker, ModelStatus, Notice, ResultsGallery,
};
use crate::ui::confirm::WeightsConfirm;
use crate::ui::document_files::use_document_files;
use crate::ui::engine::{Engine, use_engine};
use crate::ui::gradients::GradientPanel;
use crate::ui::lab::LabSection;
use crate::ui::photos::use_photo_files;
use crate::ui::startup::{
    STORAGE_MODEL_KEY, leave_read_ahead_hint, source_for, url_source, use_initial_model,
};
use crate::ui::use_app_state;
use crate::ui::webcam::{WebcamHandle, WebcamPanel, use_webcam};
use crate::url_state::{UrlState, is_weights_file};
use resnet_lab_protocol::image_header::{SIGNATURE_BYTES, surely_not_an_image};
use resnet_lab_protocol::lab::MAX_LESION_PHOTOS;
use resnet_lab_protocol::{ClassRef, GradientNetwork, WeightsSource};

#[derive(Properties, PartialEq)]
pub struct PageProps {
    /// The address bar as it was when the page opened.
    pub params: Rc<UrlState>,
}

#[function_component(Page)]
pub fn page(props: &PageProps) -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let photo_files = use_photo_files(&state.photos);
    let webcam = use_webcam();
    use_initial_model(props.params.clone(), state.dispatcher().to_callback());

    // Photos: one card each, with ids from the page state, sent to the engine in order.
    let on_photos = {
        let (state, engine, photo_files) = (state.clone(), engine.clone(), photo_files.clone());
        Callback::from(move |files: Vec<web_sys::File>| {
            let ids = state.photo_ids(files.len());
            let new = files
                .iter()
                .zip(ids.clone())
                .map(|(file, id)| NewPhoto {
                    name: file.name(),
                    url: photo_files.borrow_mut().add(id, file.clone()),
                })
                .collect();
            state.dispatch(Action::AddPhotos(new));
            // The setting as it is now (the handle reads the latest state, also from the
            // document's drop listener registered at the first render).
            let crops = state.crops;
            let (engine, on_action) = (engine.clone(), state.dispatcher().to_callback());
            wasm_bindgen_futures::spawn_local(async move {
                // One at a time, so the engine still gets the photos in their cards' order.
                for (file, id) in files.into_iter().zip(ids) {
                    match refusal_before_engine(&file).await {
                        Some(message) => on_action.emit(Action::PhotoFailed { id, message }),
                        None => engine.classify(id, file.name(), file, crops),
                    }
                }
            });
        })
    };
    let on_weights = {
        let engine = engine.clone();
        Callback::from(move |files: Vec<web_sys::File>| load_local_weights(&engine, files))
    };
    // Dropped or pasted files: weights by their extension, everything else as photos.
    let on_any_files = {
        let (on_photos, on_weights) = (on_photos.clone(), on_weights.clone());
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
    let on_dragging = {
        let dispatcher = state.dispatcher();
        Callback::from(move |on| dispatcher.dispatch(Action::Dragging(on)))
    };
    use_document_files(on_any_files, on_dragging);

    let on_select = {
        let (state, engine) = (state.clone(), engine.clone());
        Callback::from(move |name: String| {
            let Some(manifest) = &state.manifest else {
                return;
            };
            if let Some((source, model_name)) = source_for(manifest, &name) {
                let _ = LocalStorage::set(STORAGE_MODEL_KEY, &name);
                leave_read_ahead_hint(&model_name, &source);
                update_url(|url| url.model = Some(name.clone()));
                engine.load(source, model_name.clone(), Some(model_name));
            }
        })
    };
    let on_confirm_weights = {
        let (state, engine) = (state.clone(), engine.clone());
        Callback::from(move |()| {
            let Some(pending) = state.pending_weights.clone() else {
                return;
            };
            state.dispatch(Action::ConfirmWeights(None));
            engine.load(url_source(&pending.url), String::new(), None);
        })
    };
    let on_cancel_weights = dispatch_on(&state, || Action::ConfirmWeights(None));
    let on_clear_cache = {
        let engine = engine.clone();
        Callback::from(move |()| engine.clear_cache())
    };
    let on_dismiss = {
        let dispatcher = state.dispatcher();
        Callback::from(move |i| dispatcher.dispatch(Action::DismissError(i)))
    };
    let on_dismiss_info = dispatch_on(&state, || Action::Info(None));
    // The webcam's live frames go to the engine; closing the camera forgets the one in flight.
    let on_frame = {
        let engine = engine.clone();
        Callback::from(move |file: web_sys::File| engine.frame(&file))
    };
    let on_webcam_closed = dispatch_on(&state, || Action::WebcamClosed);
    let on_clear_photos = dispatch_on(&state, || Action::ClearPhotos);
    // The views new photos are classified from (kept in the URL).
    let on_crops = {
        let dispatcher = state.dispatcher();
        Callback::from(move |crops| {
            update_url(|url| url.crops = crops);
            dispatcher.dispatch(Action::Crops(crops));
        })
    };

    // The gradient panel: which photo, network and class it explains (kept in the URL).
    let explain = {
        let (engine, photo_files) = (engine.clone(), photo_files.clone());
        Callback::from(
            move |(photo, class, network): (Option<u32>, Option<ClassRef>, GradientNetwork)| {
                update_url(|url| {
                    url.network = network.clone();
                    url.class = class;
                });
                let photo =
                    photo.and_then(|id| photo_files.borrow().file(id).map(|file| (id, file)));
                engine.gradients(photo, class, network);
            },
        )
    };
    let on_grad_network = {
        let (explain, state) = (explain.clone(), state.clone());
        Callback::from(move |network: GradientNetwork| {
            let g = &state.gradients;
            // Classes of the trained model mean nothing to an initialised one.
            let class = if network == g.network { g.class } else { None };
            explain.emit((g.shown_photo.or(state.latest_done()), class, network))
        })
    };
    let on_grad_class = {
        let (explain, state) = (explain.clone(), state.clone());
        Callback::from(move |class: Option<ClassRef>| {
            let g = &state.gradients;
            explain.emit((g.shown_photo, class, g.network.clone()))
        })
    };
    let on_explain = {
        let (explain, state) = (explain.clone(), state.clone());
        Callback::from(move |photo: u32| {
            let network = state.gradients.network.clone();
            explain.emit((Some(photo), None, network));
            if let Some(panel) = gloo::utils::document()
                .query_selector("[data-testid=gradient-panel]")
                .ok()
                .flatten()
            {
                panel.scroll_into_view();
            }
        })
    };
    use_auto_explain(
        state.gradients.clone(),
        state.latest_done(),
        state.model.state == LoadState::Ready,
        explain,
    );
    use_fading_info(state.info.clone(), state.dispatcher().to_callback());

    // The Lab (`?lab=lesion|shatter|train`): opened from the header or below the gradient
    // panel, on the tab last shown.
    let on_lab = {
        let (dispatcher, tab) = (state.dispatcher(), state.lab.tab);
        Callback::from(move |open: bool| {
            update_url(|url| url.lab = open.then(|| tab.name().to_string()));
            dispatcher.dispatch(Action::LabOpen(open));
            if open {
                scroll_to("[data-testid=lab]");
            }
        })
    };
    let classified: Vec<(u32, String)> = state
        .photos
        .iter()
        .filter(|p| p.state == PhotoState::Done)
        .take(MAX_LESION_PHOTOS)
        .map(|p| (p.id, p.name.clone()))
        .collect();
    let on_lesion = {
        let (engine, photo_files, classified) =
            (engine.clone(), photo_files.clone(), classified.clone());
        Callback::from(move |random| {
            let files = photo_files.borrow();
            let photos = classified
                .iter()
                .filter_map(|(id, name)| Some((*id, name.clone(), files.file(*id)?)))
                .collect();
            engine.lesion(photos, random);
        })
    };
    let open_lab = on_lab.reform(|_: MouseEvent| true);

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
                <button class="button ghost" data-testid="lab-open" onclick={open_lab.clone()}
                        title="Experiments that explain skip connections: lesion study, shattered gradients, degradation trained live">{ "Lab" }</button>
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
                <ContextProvider<WebcamHandle> context={webcam}>
                    <crate::ui::teach::TeachPanel />
                    <DropZone on_files={on_photos.clone()} dragging={state.dragging}
                              crops={state.crops} on_crops={on_crops}>
                        <WebcamPanel on_files={on_photos} frames={state.webcam.clone()} on_frame={on_frame}
                                     on_closed={on_webcam_closed} ready={state.model.state == LoadState::Ready} />
                    </DropZone>
                </ContextProvider<WebcamHandle>>
                <ResultsGallery photos={state.photos.clone()} on_clear={on_clear_photos}
                                explained={state.gradients.shown_photo} on_explain={on_explain} />
                <GradientPanel gradients={state.gradients.clone()}
                               photo={state.gradients.shown_photo.and_then(|id| state.photos.iter().find(|p| p.id == id).cloned())}
                               on_network={on_grad_network} on_class={on_grad_class} />
                if state.lab.open {
                    <LabSection lab={state.lab.clone()} photos={classified.len()}
                                model_ready={state.model.state == LoadState::Ready}
                                on_run={on_lesion} on_close={on_lab.reform(|()| false)} />
                } else {
                    <p class="muted small lab-link">
                        { "Why do skips matter this much? " }
                        <button class="link-button lab-link-button" data-testid="lab-open-from-gradients" onclick={open_lab}>
                            { "Lab: delete blocks one at a time, shattered gradients, train plain and residual networks live →" }
                        </button>
                    </p>
                }
            </main>
            <div class="drop-overlay" aria-hidden="true"><div>{ "Drop to classify" }</div></div>
            <footer class="footer muted small">
                { "ResNet Lab · " }
                <a href="?backend=cpu">{ "?backend=cpu" }</a>{ " · " }
                <a href="?backend=webgpu">{ "?backend=webgpu" }</a>{ " · ?model=NAME · ?weights=URL · ?crops=ten|full" }
            </footer>
        </div>
    }
}

/// Scrolls the first element matching `selector` into view, once it is drawn.
fn scroll_to(selector: &'static str) {
    gloo::timers::callback::Timeout::new(0, move || {
        if let Some(element) = gloo::utils::document()
            .query_selector(selector)
            .ok()
            .flatten()
        {
            element.scroll_into_view();
        }
    })
    .forget();
}

/// A callback that dispatches the same action each time.
fn dispatch_on(
    state: &UseReducerHandle<crate::state::AppState>,
    action: fn() -> Action,
) -> Callback<()> {
    let dispatcher = state.dispatcher();
    Callback::from(move |()| dispatcher.dispatch(action()))
}

/// Explains the first classified photo by itself; an initialised network (from the URL)
/// needs no photo at all.
#[hook]
fn use_auto_explain(
    g: GradientState,
    first_done: Option<u32>,
    model_ready: bool,
    explain: Callback<(Option<u32>, Option<ClassRef>, GradientNetwork)>,
) {
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
                explain.emit((*first_done, g.class, g.network.clone()));
            }
        },
    );
}

/// Passing remarks fade after a while.
#[hook]
fn use_fading_info(info: Option<String>, on_action: Callback<Action>) {
    use_effect_with(info, move |info| {
        let timeout = info.as_ref().map(|_| {
            gloo::timers::callback::Timeout::new(10_000, move || on_action.emit(Action::Info(None)))
        });
        move || drop(timeout)
    });
}

/// Loads weights a person picked or dropped: one file, or a `model.json` with its shards.
fn load_local_weights(engine: &Engine, files: Vec<web_sys::File>) {
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
    engine.load(source, String::new(), None);
    // The blob URLs must outlive the engine's download; they are small to keep.
    std::mem::forget(urls);
}

/// A file that is surely no image gets its error at once, rather than after whatever the
/// engine is busy with (a gradient analysis can take many classifications' time).
async fn refusal_before_engine(file: &web_sys::File) -> Option<String> {
    let head = file
        .slice_with_i32_and_i32(0, SIGNATURE_BYTES as i32)
        .ok()?;
    let bytes = wasm_bindgen_futures::JsFuture::from(head.array_buffer())
        .await
        .ok()?;
    let bytes = js_sys::Uint8Array::new(&bytes).to_vec();
    surely_not_an_image(&bytes, &file.type_()).then(|| {
        let kind = match file.type_() {
            t if t.is_empty() => "unknown type".to_string(),
            t => t,
        };
        format!(
            "This file is not an image ({kind}): it starts like no PNG, JPEG, GIF, WebP, BMP or AVIF file"
        )
    })
}
