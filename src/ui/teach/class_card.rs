//! One class of Teach mode: its name (renamed in place), its photos' thumbnails, and the ways
//! to add photos to it: pick, drop on it, paste while it has the focus, or a webcam snapshot.

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::Action;
use crate::state::teach::{ClassState, TeachAction, validate_rename};
use crate::ui::StateHandle;
use crate::ui::components::take_files;

#[derive(Properties, PartialEq)]
pub struct ClassCardProps {
    pub class: ClassState,
    /// Every class (a new name is checked against the others).
    pub classes: Vec<ClassState>,
    /// Photos given to this class (picked, dropped or pasted).
    pub on_files: Callback<Vec<web_sys::File>>,
    /// A webcam snapshot for this class (only while the camera is open).
    #[prop_or_default]
    pub on_snapshot: Option<Callback<()>>,
    pub state: StateHandle,
}

fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    list.map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
        .unwrap_or_default()
}

#[function_component(ClassCard)]
pub fn class_card(props: &ClassCardProps) -> Html {
    let c = &props.class;
    let dispatch = props.state.dispatcher();
    let on_pick = {
        let add = props.on_files.clone();
        Callback::from(move |e: Event| add.emit(take_files(&e)))
    };
    // Photos dropped on a class, or pasted while it has the focus, go to it (not to the page's
    // classifier, which takes drops and pastes anywhere else).
    let on_drop = {
        let add = props.on_files.clone();
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            e.stop_propagation();
            let picked = files_of(e.data_transfer().and_then(|dt| dt.files()));
            if !picked.is_empty() {
                add.emit(picked);
            }
        })
    };
    let on_paste = {
        let add = props.on_files.clone();
        Callback::from(move |e: Event| {
            let e: web_sys::ClipboardEvent = e.unchecked_into();
            let picked = files_of(e.clipboard_data().and_then(|dt| dt.files()));
            if !picked.is_empty() {
                e.prevent_default();
                e.stop_propagation();
                add.emit(picked);
            }
        })
    };
    let on_dragover = Callback::from(|e: DragEvent| e.prevent_default());
    let on_rename = {
        let (dispatch, from, classes) = (dispatch.clone(), c.name.clone(), props.classes.clone());
        Callback::from(move |e: Event| {
            let Some(input) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            let to = input.value();
            if validate_rename(&classes, &from, &to).is_err() {
                // Refused (the message says why): the name shown goes back to the class's.
                input.set_value(&from);
            }
            dispatch.dispatch(Action::Teach(TeachAction::RenameClass {
                from: from.clone(),
                to,
            }));
        })
    };
    let on_delete = {
        let (dispatch, class) = (dispatch.clone(), c.name.clone());
        Callback::from(move |_| {
            dispatch.dispatch(Action::Teach(TeachAction::DeleteClass(class.clone())))
        })
    };
    let ready = c.photos.iter().filter(|p| p.ready).count();
    html! {
        <div class="teach-class" data-testid="class" data-class={c.name.clone()} tabindex="0"
             ondrop={on_drop} ondragover={on_dragover} onpaste={on_paste}
             title="Drop photos here, or click and paste (Ctrl+V)">
            <header class="card-title">
                <input type="text" class="class-name" data-testid="class-rename" aria-label="class name"
                       maxlength="60" value={c.name.clone()} onchange={on_rename} />
                <span class="small muted" data-count={c.photos.len().to_string()} data-ready={ready.to_string()}>
                    { format!("{} photo(s)", c.photos.len()) }
                </span>
                <label class="button ghost small">
                    { "Add photos" }
                    <input type="file" multiple=true accept="image/*" class="visually-hidden"
                           data-testid="class-images" onchange={on_pick} />
                </label>
                if let Some(snap) = props.on_snapshot.clone() {
                    <button class="button ghost small" data-testid="class-snapshot" title="Add the webcam's current frame to this class"
                            onclick={snap.reform(|_: MouseEvent| ())}>{ "Snapshot" }</button>
                }
                <button class="button ghost small" data-testid="delete-class" onclick={on_delete}>{ "Delete" }</button>
            </header>
            <div class="teach-thumbs">
                { for c.photos.iter().map(|p| {
                    let (dispatch, id) = (dispatch.clone(), p.id);
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
