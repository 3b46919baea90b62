//! Teach mode: a person makes classes (2 to 20), gives each a few photos, and trains a linear
//! head on the frozen ResNet's features in the engine worker; every photo classified after
//! that shows the new classes beside ImageNet's top-5. Export and import the head file (the
//! same `.safetensors` as the CLI's `finetune`).

pub mod class_card;
pub mod curve;
pub mod custom;
mod storage;
mod train_options;

use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::rc::Rc;

use gloo::file::ObjectUrl;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::teach::{EPOCHS, FeatureSend, TeachAction, TeachState, feature_key};
use crate::state::{Action, NewPhoto};
use crate::ui::components::take_files;
use crate::ui::engine::use_engine;
use crate::ui::webcam::WebcamHandle;
use crate::ui::{StateHandle, use_app_state};
use class_card::ClassCard;
use resnet_lab_protocol::TeachRequest;
use train_options::TrainOptions;

/// Each teach photo's file (sent again for other weights, kept in IndexedDB) and thumbnail
/// URL, and what the browser's storage holds already.
#[derive(Default)]
struct TeachFiles {
    by_id: HashMap<u32, (web_sys::Blob, ObjectUrl)>,
    next_id: Cell<u32>,
    saved_photos: HashSet<u32>,
    saved_features: HashSet<String>,
}

impl TeachFiles {
    fn add(&mut self, file: web_sys::Blob) -> (u32, String) {
        let id = self.next_id.get() + 1;
        (id, self.add_with_id(id, file))
    }

    fn add_with_id(&mut self, id: u32, file: web_sys::Blob) -> String {
        self.next_id.set(self.next_id.get().max(id));
        let url = ObjectUrl::from(gloo::file::Blob::from(file.clone()));
        let text = url.to_string();
        self.by_id.insert(id, (file, url));
        text
    }

    /// What a save writes (what the storage has not got yet) and what it keeps.
    fn save_of(&mut self, teach: &TeachState) -> storage::Save {
        let keep_photos: HashSet<u32> = self.by_id.keys().copied().collect();
        let photos: Vec<(u32, web_sys::Blob)> = self
            .by_id
            .iter()
            .filter(|(id, (blob, _))| {
                !self.saved_photos.contains(id) && blob.size() <= storage::MAX_KEPT_PHOTO_BYTES
            })
            .map(|(id, (blob, _))| (*id, blob.clone()))
            .collect();
        self.saved_photos.extend(photos.iter().map(|(id, _)| *id));
        let mut features = Vec::new();
        let mut keep_features = HashSet::new();
        for p in teach.classes.iter().flat_map(|c| &c.photos) {
            for (fingerprint, values) in &p.features {
                let key = feature_key(fingerprint, p.id);
                if self.saved_features.insert(key.clone()) {
                    features.push((key.clone(), values.as_ref().clone()));
                }
                keep_features.insert(key);
            }
        }
        storage::Save {
            record: teach.kept_record(),
            photos,
            features,
            keep_photos,
            keep_features,
        }
    }
}

/// Saves bytes the engine sent (an exported head) as a download.
pub fn save_file(bytes: &[u8], name: &str) {
    let blob = gloo::file::Blob::new_with_options(bytes, Some("application/octet-stream"));
    let url = ObjectUrl::from(blob);
    let Ok(anchor) = gloo::utils::document().create_element("a") else {
        return;
    };
    let anchor: web_sys::HtmlAnchorElement = anchor.unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // Revoke the URL once the download has surely started.
    gloo::timers::callback::Timeout::new(10_000, move || drop(url)).forget();
}

#[function_component(TeachPanel)]
pub fn teach_panel() -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let files = use_mut_ref(TeachFiles::default);
    let webcam = use_context::<WebcamHandle>();
    let name = use_state(String::new);
    // "Also fine-tune layer4" and augmented views per photo, for the next training.
    let layer4 = use_state(|| false);
    let augment = use_state(|| 0usize);
    let epochs = use_state(|| EPOCHS);
    let teach = &state.teach;

    // Forget the files of photos and classes that were removed.
    {
        let files = files.clone();
        let ids: Vec<u32> = teach
            .classes
            .iter()
            .flat_map(|c| c.photos.iter().map(|p| p.id))
            .collect();
        use_effect_with(ids, move |ids| {
            files.borrow_mut().by_id.retain(|id, _| ids.contains(id))
        });
    }
    // Once: the classes this browser kept come back.
    {
        let (files, dispatch) = (files.clone(), state.dispatcher());
        use_effect_with((), move |_| {
            wasm_bindgen_futures::spawn_local(async move {
                let action = match storage::load().await {
                    Ok(kept) => {
                        let mut f = files.borrow_mut();
                        let photos = kept
                            .photos
                            .into_iter()
                            .map(|(id, blob)| (id, f.add_with_id(id, blob)))
                            .collect();
                        let ids: Vec<u32> = f.by_id.keys().copied().collect();
                        f.saved_photos.extend(ids);
                        let keys = kept.features.iter();
                        f.saved_features
                            .extend(keys.map(|k| feature_key(&k.fingerprint, k.photo)));
                        TeachAction::Restore {
                            record: kept.record,
                            photos,
                            features: kept.features,
                            problem: None,
                        }
                    }
                    Err(problem) => TeachAction::Restore {
                        record: None,
                        photos: Vec::new(),
                        features: Vec::new(),
                        problem: Some(problem),
                    },
                };
                dispatch.dispatch(Action::Teach(action));
            });
        });
    }
    // Keep the classes, photos and features in this browser (once the kept ones were read).
    {
        let (files, dispatch) = (files.clone(), state.dispatcher());
        let kept = teach
            .restored
            .then(|| (teach.kept_record(), teach.kept_feature_keys()));
        let teach = teach.clone();
        use_effect_with(kept, move |kept| {
            if kept.is_some() {
                let save = files.borrow_mut().save_of(&teach);
                wasm_bindgen_futures::spawn_local(async move {
                    if let Err(e) = storage::save(save).await {
                        let message = format!("The classes could not be kept in this browser: {e}");
                        dispatch.dispatch(Action::Teach(TeachAction::Message(message)));
                    }
                });
            }
        });
    }
    // A model is ready (first load, other weights, engine restart): each photo goes to the
    // engine once, as its kept features for these weights or as the file to compute them.
    {
        let (files, engine, dispatch) = (files.clone(), engine.clone(), state.dispatcher());
        use_effect_with(teach.to_send(), move |plan| {
            let mut sent = Vec::new();
            for item in plan {
                match item {
                    FeatureSend::Restore {
                        photo,
                        fingerprint,
                        features,
                    } => {
                        let request = TeachRequest::Restore {
                            photo: *photo,
                            fingerprint: fingerprint.clone(),
                            features: features.as_ref().clone(),
                        };
                        engine.teach(request, None);
                        sent.push(*photo);
                    }
                    FeatureSend::Compute { photo } => {
                        if let Some((blob, _)) = files.borrow().by_id.get(photo) {
                            engine.teach(
                                TeachRequest::Features { photo: *photo },
                                Some(blob.clone().into()),
                            );
                            sent.push(*photo);
                        }
                    }
                }
            }
            if !sent.is_empty() {
                dispatch.dispatch(Action::Teach(TeachAction::Sent(sent)));
            }
        });
    }

    let on_name = {
        let name = name.clone();
        Callback::from(move |e: InputEvent| {
            if let Some(input) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            {
                name.set(input.value());
            }
        })
    };
    let add_class = {
        let (name, dispatch) = (name.clone(), state.dispatcher());
        Callback::from(move |e: SubmitEvent| {
            e.prevent_default();
            dispatch.dispatch(Action::Teach(TeachAction::AddClass((*name).clone())));
            name.set(String::new());
        })
    };
    let on_train = {
        let (engine, dispatch, classes) =
            (engine.clone(), state.dispatcher(), teach.request_classes());
        let (layer4, augment, epochs, files) = (*layer4, *augment, *epochs, files.clone());
        Callback::from(move |_| {
            // Augmented views are cut from the photos again: their files go along, in order.
            let photo_files = (augment > 0).then(|| {
                let files = files.borrow();
                let ids = classes.iter().flat_map(|c| &c.photos);
                let blobs = ids.filter_map(|id| files.by_id.get(id).map(|(blob, _)| blob.clone()));
                js_sys::Array::from_iter(blobs).into()
            });
            dispatch.dispatch(Action::Teach(TeachAction::TrainRequested {
                epochs,
                augment,
            }));
            engine.teach(
                TeachRequest::Train {
                    classes: classes.clone(),
                    epochs,
                    layer4,
                    augment,
                },
                photo_files,
            );
        })
    };
    let on_layer4 = {
        let layer4 = layer4.clone();
        Callback::from(move |on: bool| layer4.set(on))
    };
    let on_augment = {
        let augment = augment.clone();
        Callback::from(move |n: usize| augment.set(n))
    };
    let on_epochs = {
        let epochs = epochs.clone();
        Callback::from(move |n: usize| epochs.set(n))
    };
    let on_stop = {
        let engine = engine.clone();
        Callback::from(move |_| engine.teach(TeachRequest::Stop, None))
    };
    let on_export = {
        let engine = engine.clone();
        Callback::from(move |_| engine.teach(TeachRequest::Export, None))
    };
    let on_import = {
        let engine = engine.clone();
        Callback::from(move |e: Event| {
            if let Some(file) = take_files(&e).into_iter().next() {
                engine.teach(
                    TeachRequest::Import { name: file.name() },
                    Some(file.into()),
                );
            }
        })
    };
    let on_forget = {
        let dispatch = state.dispatcher();
        Callback::from(move |_| dispatch.dispatch(Action::Teach(TeachAction::Forget)))
    };
    let blocker = teach.blocker();
    let mean_ms = (!teach.feature_ms.is_empty())
        .then(|| teach.feature_ms.iter().sum::<f64>() / teach.feature_ms.len() as f64);

    html! {
        <section class="panel teach" data-testid="teach"
                 data-features-computed={teach.feature_ms.len().to_string()}>
            <h2>{ "Teach your own classes" }</h2>
            <p class="small muted">
                { "Make 2 to 20 classes and give each a few photos: the frozen ResNet's pooled features \
                   (computed once per photo, in the engine) train a linear softmax head in the worker. \
                   Photos classified afterwards show your classes beside ImageNet's top-5." }
            </p>
            <form class="teach-add" onsubmit={add_class}>
                <input type="text" data-testid="class-name-input" placeholder="class name" maxlength="60"
                       value={(*name).clone()} oninput={on_name} />
                <button class="button" type="submit" data-testid="add-class">{ "Add class" }</button>
            </form>
            if let Some(m) = &teach.message {
                <div class="small" role="status" data-testid="teach-message">{ m.clone() }</div>
            }
            if let Some(m) = &teach.kept_message {
                <div class="small muted" role="status" data-testid="teach-kept">{ m.clone() }</div>
            }
            <div class="teach-classes">
                { for teach.classes.iter().map(|c| {
                    let on_files = add_files(&files, &state, c.name.clone());
                    // While the camera is open, each class can take its own snapshots.
                    let on_snapshot = webcam.clone().filter(WebcamHandle::is_live).map(|webcam| {
                        let on_files = on_files.clone();
                        Callback::from(move |()| webcam.snapshot_to(on_files.clone()))
                    });
                    html! {
                        <ClassCard key={c.name.clone()} class={c.clone()} classes={teach.classes.clone()}
                                   on_files={on_files} {on_snapshot} state={state.clone()} />
                    }
                }) }
            </div>
            <div class="teach-actions">
                <button class="button" data-testid="train" disabled={blocker.is_some()} onclick={on_train}>{ "Train" }</button>
                <TrainOptions layer4={*layer4} augment={*augment} epochs={*epochs} {on_layer4} {on_augment} {on_epochs} />
                if teach.running() {
                    <button class="button ghost" data-testid="stop-training" onclick={on_stop}>{ "Stop" }</button>
                }
                <button class="button ghost" data-testid="export-head" disabled={teach.head.is_none()} onclick={on_export}>{ "Export head" }</button>
                <label class="button ghost">
                    { "Import head…" }
                    <input type="file" class="visually-hidden" data-testid="import-head" accept=".safetensors" onchange={on_import} />
                </label>
                <span class="small muted">{ blocker.unwrap_or_default() }</span>
                if !teach.classes.is_empty() {
                    <button class="button ghost" data-testid="forget-classes" onclick={on_forget}
                            title="Delete the classes, their photos and features from this page and this browser">{ "Forget classes" }</button>
                }
                if let Some(ms) = mean_ms {
                    <span class="small muted" data-testid="feature-ms">{ format!(" features: {ms:.0} ms per photo") }</span>
                }
            </div>
            { curve::training_view(teach.training.as_ref()) }
        </section>
    }
}

/// Photos given to class `class`: kept as files and shown at once; the effect above sends
/// them to the engine (once a model is ready) and to the browser's storage.
fn add_files(
    files: &Rc<RefCell<TeachFiles>>,
    state: &StateHandle,
    class: String,
) -> Callback<Vec<web_sys::File>> {
    let (files, dispatch) = (files.clone(), state.dispatcher());
    Callback::from(move |picked: Vec<web_sys::File>| {
        let mut photos = Vec::new();
        for file in picked {
            if file.size() > storage::MAX_KEPT_PHOTO_BYTES {
                let message = format!(
                    "{} is over {} MB: it is used, but not kept across reloads.",
                    file.name(),
                    storage::MAX_KEPT_PHOTO_BYTES / 1024.0 / 1024.0
                );
                dispatch.dispatch(Action::Teach(TeachAction::Message(message)));
            }
            let name = file.name();
            let (id, url) = files.borrow_mut().add(file.into());
            photos.push((id, NewPhoto { name, url }));
        }
        dispatch.dispatch(Action::Teach(TeachAction::AddPhotos {
            class: class.clone(),
            photos,
        }));
    })
}
