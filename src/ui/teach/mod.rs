//! Teach mode: a person makes classes (2 to 20), gives each a few photos, and trains a linear
//! head on the frozen ResNet's features in the engine worker; every photo classified after
//! that shows the new classes beside ImageNet's top-5. Export and import the head file (the
//! same `.safetensors` as the CLI's `finetune`).

pub mod curve;
pub mod custom;

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::Rc;

use gloo::file::ObjectUrl;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::teach::{ClassState, EPOCHS, TeachAction, TrainState};
use crate::state::{Action, NewPhoto};
use crate::ui::components::take_files;
use crate::ui::engine::{Engine, use_engine};
use crate::ui::use_app_state;
use curve::TrainingCurve;
use resnet_lab_protocol::TeachRequest;

/// Each teach photo's `File` (sent again when the model changes) and thumbnail URL.
#[derive(Default)]
struct TeachFiles {
    by_id: HashMap<u32, (web_sys::File, ObjectUrl)>,
    next_id: Cell<u32>,
}

impl TeachFiles {
    fn add(&mut self, file: web_sys::File) -> (u32, String) {
        let id = self.next_id.get() + 1;
        self.next_id.set(id);
        let url = ObjectUrl::from(gloo::file::File::from(file.clone()));
        let text = url.to_string();
        self.by_id.insert(id, (file, url));
        (id, text)
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

fn send_features(engine: &Engine, id: u32, file: web_sys::File) {
    engine.teach(TeachRequest::Features { photo: id }, Some(file));
}

#[function_component(TeachPanel)]
pub fn teach_panel() -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let files = use_mut_ref(TeachFiles::default);
    let name = use_state(String::new);
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
    // Another model: features are those of other weights, so every photo is sent again.
    {
        let (files, engine, dispatch) = (files.clone(), engine.clone(), state.dispatcher());
        let ready = state
            .model
            .summary
            .as_ref()
            .map(|s| (s.label.clone(), s.name.clone()));
        use_effect_with(ready, move |ready| {
            if ready.is_some() && !files.borrow().by_id.is_empty() {
                dispatch.dispatch(Action::Teach(TeachAction::Recompute));
                let mut all: Vec<_> = files
                    .borrow()
                    .by_id
                    .iter()
                    .map(|(id, (f, _))| (*id, f.clone()))
                    .collect();
                all.sort_by_key(|(id, _)| *id);
                for (id, file) in all {
                    send_features(&engine, id, file);
                }
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
        Callback::from(move |_| {
            dispatch.dispatch(Action::Teach(TeachAction::TrainRequested));
            engine.teach(
                TeachRequest::Train {
                    classes: classes.clone(),
                    epochs: EPOCHS,
                },
                None,
            );
        })
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
                engine.teach(TeachRequest::Import { name: file.name() }, Some(file));
            }
        })
    };
    let blocker = teach.blocker();
    let mean_ms = (!teach.feature_ms.is_empty())
        .then(|| teach.feature_ms.iter().sum::<f64>() / teach.feature_ms.len() as f64);

    html! {
        <section class="panel teach" data-testid="teach">
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
            <div class="teach-classes">
                { for teach.classes.iter().map(|c| class_card(c, &files, &engine, &state)) }
            </div>
            <div class="teach-actions">
                <button class="button" data-testid="train" disabled={blocker.is_some()} onclick={on_train}>{ "Train" }</button>
                if teach.running() {
                    <button class="button ghost" data-testid="stop-training" onclick={on_stop}>{ "Stop" }</button>
                }
                <button class="button ghost" data-testid="export-head" disabled={teach.head.is_none()} onclick={on_export}>{ "Export head" }</button>
                <label class="button ghost">
                    { "Import head…" }
                    <input type="file" class="visually-hidden" data-testid="import-head" accept=".safetensors" onchange={on_import} />
                </label>
                <span class="small muted">{ blocker.unwrap_or_default() }</span>
                if let Some(ms) = mean_ms {
                    <span class="small muted" data-testid="feature-ms">{ format!(" features: {ms:.0} ms per photo") }</span>
                }
            </div>
            { training_view(teach.training.as_ref()) }
        </section>
    }
}

fn training_view(training: Option<&crate::state::teach::Training>) -> Html {
    let Some(t) = training else { return html! {} };
    let last = t.last();
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let train = fmt(last.map(|p| p.train_accuracy));
    let val = fmt(last.and_then(|p| p.val_accuracy));
    let pct = |v: Option<f64>| {
        v.map(|v| format!("{:.0}%", v * 100.0))
            .unwrap_or("–".into())
    };
    let held = match t.validation.as_deref() {
        Some("leave_one_out") => "held out (leave-one-out)",
        Some("split") => "held out (20% split)",
        _ => "held out",
    };
    let progress = t.points.len() as f64 / t.epochs.max(1) as f64 * 100.0;
    html! {
        <div class="teach-training" data-testid="training" data-state={t.state.as_str()}
             data-train-accuracy={train} data-val-accuracy={val} data-epochs={t.points.len().to_string()}>
            <div class="bar"><div class="fill" style={format!("width: {progress:.1}%")}></div></div>
            <div class="small">
                { format!("epoch {}/{} · loss {} · training accuracy {} · {held} {}",
                    t.points.len(), t.epochs,
                    last.map(|p| format!("{:.4}", p.loss)).unwrap_or_default(),
                    pct(last.map(|p| p.train_accuracy)), pct(last.and_then(|p| p.val_accuracy))) }
                { t.train_ms.map(|ms| format!(" · {ms:.0} ms")).unwrap_or_default() }
                { if t.stopped { " · stopped" } else { "" } }
            </div>
            if t.state == TrainState::Error {
                <div class="card-error" role="alert">{ t.error.clone().unwrap_or_default() }</div>
            }
            <TrainingCurve training={t.clone()} />
        </div>
    }
}

fn class_card(
    c: &ClassState,
    files: &Rc<RefCell<TeachFiles>>,
    engine: &Engine,
    state: &crate::ui::StateHandle,
) -> Html {
    let add_files = {
        let (files, engine, dispatch, class) = (
            files.clone(),
            engine.clone(),
            state.dispatcher(),
            c.name.clone(),
        );
        Callback::from(move |picked: Vec<web_sys::File>| {
            let mut photos = Vec::new();
            for file in picked {
                let (id, url) = files.borrow_mut().add(file.clone());
                photos.push((
                    id,
                    NewPhoto {
                        name: file.name(),
                        url,
                    },
                    file,
                ));
            }
            let new = photos.iter().map(|(id, p, _)| (*id, p.clone())).collect();
            dispatch.dispatch(Action::Teach(TeachAction::AddPhotos {
                class: class.clone(),
                photos: new,
            }));
            for (id, _, file) in photos {
                send_features(&engine, id, file);
            }
        })
    };
    let on_files = {
        let add = add_files.clone();
        Callback::from(move |e: Event| add.emit(take_files(&e)))
    };
    // Photos dropped on a class go to it (not to the page's classifier, which takes drops
    // anywhere else).
    let on_drop = Callback::from(move |e: DragEvent| {
        e.prevent_default();
        e.stop_propagation();
        let list = e.data_transfer().and_then(|dt| dt.files());
        let picked: Vec<web_sys::File> = list
            .map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
            .unwrap_or_default();
        if !picked.is_empty() {
            add_files.emit(picked);
        }
    });
    let on_dragover = Callback::from(|e: DragEvent| e.prevent_default());
    let on_delete = {
        let (dispatch, class) = (state.dispatcher(), c.name.clone());
        Callback::from(move |_| {
            dispatch.dispatch(Action::Teach(TeachAction::DeleteClass(class.clone())))
        })
    };
    let ready = c.photos.iter().filter(|p| p.ready).count();
    html! {
        <div class="teach-class" data-testid="class" data-class={c.name.clone()} key={c.name.clone()}
             ondrop={on_drop} ondragover={on_dragover}>
            <header class="card-title">
                <strong>{ c.name.clone() }</strong>
                <span class="small muted" data-count={c.photos.len().to_string()} data-ready={ready.to_string()}>
                    { format!("{} photo(s)", c.photos.len()) }
                </span>
                <label class="button ghost small">
                    { "Add photos" }
                    <input type="file" multiple=true accept="image/*" class="visually-hidden"
                           data-testid="class-images" onchange={on_files} />
                </label>
                <button class="button ghost small" data-testid="delete-class" onclick={on_delete}>{ "Delete" }</button>
            </header>
            <div class="teach-thumbs">
                { for c.photos.iter().map(|p| {
                    let (dispatch, id) = (state.dispatcher(), p.id);
                    let remove = Callback::from(move |_| dispatch.dispatch(Action::Teach(TeachAction::RemovePhoto(id))));
                    html! {
                        <figure class={classes!("teach-thumb", (!p.ready).then_some("pending"), p.error.is_some().then_some("error"))}
                                key={p.id} title={p.error.clone().unwrap_or_else(|| p.name.clone())}>
                            <img src={p.url.clone()} alt={p.name.clone()} width="56" height="56" />
                            <button class="remove" aria-label="remove this photo" data-testid="remove-photo" onclick={remove}>{ "×" }</button>
                        </figure>
                    }
                }) }
            </div>
        </div>
    }
}
