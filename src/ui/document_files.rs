//! Drop anywhere, paste anywhere: document-wide listeners, as a hook.

use gloo::events::{EventListener, EventListenerOptions};
use wasm_bindgen::JsCast;
use yew::prelude::*;

/// Files dropped on or pasted into the page go to `on_files`; `on_dragging` says whether
/// files are being dragged over it (for the overlay). The listeners live as long as the
/// component.
#[hook]
pub fn use_document_files(on_files: Callback<Vec<web_sys::File>>, on_dragging: Callback<bool>) {
    use_effect_with((), move |_| {
        let document = gloo::utils::document();
        let options = EventListenerOptions::enable_prevent_default();
        let dragging = on_dragging.clone();
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
                dragging.emit(true);
            }
        });
        let dragging = on_dragging.clone();
        let leave = EventListener::new(&document, "dragleave", move |e| {
            let e: &web_sys::DragEvent = e.unchecked_ref();
            if e.related_target().is_none() {
                dragging.emit(false);
            }
        });
        let files_cb = on_files.clone();
        let drop = EventListener::new_with_options(&document, "drop", options, move |e| {
            let e: &web_sys::DragEvent = e.unchecked_ref();
            e.prevent_default();
            on_dragging.emit(false);
            if let Some(list) = e.data_transfer().and_then(|dt| dt.files()) {
                emit_files(&files_cb, &list);
            }
        });
        let paste = EventListener::new(&document, "paste", move |e| {
            let e: &web_sys::ClipboardEvent = e.unchecked_ref();
            if let Some(list) = e.clipboard_data().and_then(|dt| dt.files()) {
                emit_files(&on_files, &list);
            }
        });
        move || drop_all((over, leave, drop, paste))
    });
}

fn emit_files(on_files: &Callback<Vec<web_sys::File>>, list: &web_sys::FileList) {
    let files: Vec<_> = (0..list.length()).filter_map(|i| list.get(i)).collect();
    if !files.is_empty() {
        on_files.emit(files);
    }
}

fn drop_all<T>(_listeners: T) {}
