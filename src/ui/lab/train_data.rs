//! The training tab's data: the built-in grating task, or CIFAR-10 in its binary form, picked,
//! dropped or given by URL (another site only after a click that names it, as `?weights=`),
//! checked and kept by the engine (`DataRequest`); "Forget" deletes the kept copy.

use yew::prelude::*;

use crate::state::Action;
use crate::state::lab_data::{CifarStatus, DataAction, DataState};
use crate::ui::components::{selected_value, take_files};
use crate::ui::confirm::foreign_weights;
use crate::ui::engine::{Engine, use_engine};
use crate::ui::use_app_state;
use resnet_lab_protocol::lab_data::CIFAR10_CLASSES;
use resnet_lab_protocol::{CifarSummary, DataRequest, TrainData};

#[derive(Properties, PartialEq)]
pub struct TrainDataProps {
    pub data: DataState,
    pub choice: TrainData,
    pub on_choice: Callback<TrainData>,
    /// While a training runs.
    pub disabled: bool,
}

fn is_batch_file(file: &web_sys::File) -> bool {
    file.name().to_ascii_lowercase().ends_with(".bin")
}

/// Sends the `.bin` files among `files` to the engine (it checks them); says so if none is.
fn load_files(engine: &Engine, dispatch: &Callback<Action>, files: Vec<web_sys::File>) {
    let files: Vec<_> = files.into_iter().filter(is_batch_file).collect();
    if files.is_empty() {
        dispatch.emit(Action::LabData(DataAction::Refused(
            "none of these is a .bin file of CIFAR-10's binary version (data_batch_1.bin … data_batch_5.bin, test_batch.bin)".into(),
        )));
        return;
    }
    let names = files.iter().map(|f| f.name()).collect();
    let array = js_sys::Array::new();
    for file in &files {
        array.push(file.as_ref());
    }
    dispatch.emit(Action::LabData(DataAction::Requested));
    engine.data(DataRequest::LoadFiles { names }, Some(array.into()));
}

/// `url` made absolute against the page (the engine lives elsewhere), if it parses.
fn absolute(url: &str) -> Option<String> {
    let page = web_sys::window()?.location().href().ok()?;
    web_sys::Url::new_with_base(url, &page)
        .ok()
        .map(|u| u.href())
}

fn load_url(engine: &Engine, dispatch: &Callback<Action>, url: &str) {
    match absolute(url) {
        Some(url) => {
            dispatch.emit(Action::LabData(DataAction::Requested));
            engine.data(DataRequest::LoadUrl { url }, None);
        }
        None => dispatch.emit(Action::LabData(DataAction::Refused(format!(
            "`{url}` is not a valid URL"
        )))),
    }
}

fn describe(summary: &CifarSummary) -> String {
    let test = match summary.test_images {
        0 => String::new(),
        n => format!("; {n} test images kept aside (not trained on)"),
    };
    let kept = match summary.kept {
        true => ". Kept in this browser: a reload finds it.",
        false => ". Not kept (this browser's storage refused it): a reload forgets it.",
    };
    format!(
        "CIFAR-10: {} training images from {}{test}{kept}",
        summary.train_images,
        summary.files.join(", ")
    )
}

#[function_component(TrainDataChooser)]
pub fn train_data_chooser(props: &TrainDataProps) -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let dispatch = state.dispatcher().to_callback();
    let url_input = use_node_ref();
    let data = &props.data;
    // Once per page (and after an engine restart): what is kept from an earlier visit.
    {
        let (engine, dispatch) = (engine.clone(), dispatch.clone());
        let ask = data.status == CifarStatus::Unknown && !data.busy;
        use_effect_with(ask, move |&ask| {
            if ask {
                dispatch.emit(Action::LabData(DataAction::Requested));
                engine.data(DataRequest::Status, None);
            }
        });
    }
    let on_choice = props.on_choice.reform(|e: Event| {
        selected_value(&e)
            .as_deref()
            .and_then(TrainData::parse)
            .unwrap_or_default()
    });
    let choice = html! {
        <label class="field"><span>{ "Data" }</span>
            <select data-testid="train-data" onchange={on_choice} disabled={props.disabled}>
                <option value="grating" selected={props.choice == TrainData::Grating}>{ "built-in gratings" }</option>
                <option value="cifar10" selected={props.choice == TrainData::Cifar10}>{ "CIFAR-10" }</option>
            </select>
        </label>
    };
    if props.choice == TrainData::Grating {
        return choice;
    }
    let on_pick = {
        let (engine, dispatch) = (engine.clone(), dispatch.clone());
        Callback::from(move |e: Event| load_files(&engine, &dispatch, take_files(&e)))
    };
    // Dropped here, the files are data (anywhere else the page takes drops as photos).
    let on_drop = {
        let (engine, dispatch) = (engine.clone(), dispatch.clone());
        Callback::from(move |e: DragEvent| {
            e.prevent_default();
            e.stop_propagation();
            let list = e.data_transfer().and_then(|dt| dt.files());
            let files = list
                .map(|l| (0..l.length()).filter_map(|i| l.get(i)).collect())
                .unwrap_or_default();
            load_files(&engine, &dispatch, files);
        })
    };
    let on_dragover = Callback::from(|e: DragEvent| {
        e.prevent_default();
        e.stop_propagation();
    });
    let on_url = {
        let (engine, dispatch, input) = (engine.clone(), dispatch.clone(), url_input.clone());
        Callback::from(move |_: MouseEvent| {
            let Some(input) = input.cast::<web_sys::HtmlInputElement>() else {
                return;
            };
            let url = input.value().trim().to_string();
            if url.is_empty() {
                return;
            }
            match foreign_weights(&url) {
                Some(pending) => dispatch.emit(Action::LabData(DataAction::Confirm(Some(pending)))),
                None => load_url(&engine, &dispatch, &url),
            }
        })
    };
    let on_confirm = {
        let (engine, dispatch, pending) =
            (engine.clone(), dispatch.clone(), data.pending_url.clone());
        Callback::from(move |_: MouseEvent| {
            if let Some(pending) = &pending {
                load_url(&engine, &dispatch, &pending.url);
            }
        })
    };
    let on_cancel = dispatch.reform(|_: MouseEvent| Action::LabData(DataAction::Confirm(None)));
    let on_forget = {
        let (engine, dispatch) = (engine.clone(), dispatch.clone());
        Callback::from(move |_: MouseEvent| {
            dispatch.emit(Action::LabData(DataAction::Requested));
            engine.data(DataRequest::Forget, None);
        })
    };
    let summary = data.summary();
    let status = match (&data.status, data.busy) {
        (_, true) => "Reading the data…".to_string(),
        (CifarStatus::Ready(summary), false) => describe(summary),
        (CifarStatus::Empty, false) => "No CIFAR-10 data here yet. Pick or drop data_batch_1.bin … data_batch_5.bin (and, if you like, \
            test_batch.bin) from CIFAR-10's binary version (“CIFAR-10 binary version (suitable for C programs)”, cifar-10-binary.tar.gz, \
            on Alex Krizhevsky's CIFAR-10 page), or give the URL of one of them.".to_string(),
        (CifarStatus::Unknown, false) => "Looking for CIFAR-10 data kept in this browser…".to_string(),
    };
    let labels = summary
        .map(|s| {
            s.label_counts
                .iter()
                .map(|n| n.to_string())
                .collect::<Vec<_>>()
                .join(",")
        })
        .unwrap_or_default();
    let disabled = props.disabled || data.busy;
    html! {
        <>
            { choice }
            <div class="train-data" data-testid="train-data-box" ondrop={on_drop} ondragover={on_dragover}>
                <p class="small" data-testid="cifar-status" data-state={data.as_str()}
                   data-images={summary.map(|s| s.train_images.to_string()).unwrap_or_default()}
                   data-test-images={summary.map(|s| s.test_images.to_string()).unwrap_or_default()}
                   data-labels={labels}>{ status }</p>
                if let Some(summary) = summary {
                    <ul class="cifar-labels small muted">
                        { for summary.label_counts.iter().zip(CIFAR10_CLASSES).map(|(n, class)| html! {
                            <li data-testid="cifar-label" data-class={class} data-count={n.to_string()}>{ format!("{class} {n}") }</li>
                        }) }
                    </ul>
                }
                <div class="grad-controls">
                    <label class={classes!("button", "secondary", "small", disabled.then_some("disabled"))}>
                        { "Pick files…" }
                        <input type="file" multiple=true accept=".bin" class="visually-hidden"
                               data-testid="cifar-files" onchange={on_pick} {disabled} />
                    </label>
                    <input type="url" class="url-input" data-testid="cifar-url" ref={url_input}
                           placeholder="https://…/data_batch_1.bin" aria-label="URL of a CIFAR-10 batch file" {disabled} />
                    <button class="button secondary small" data-testid="cifar-url-load" onclick={on_url} {disabled}>{ "Load URL" }</button>
                    if summary.is_some() {
                        <button class="button ghost small" data-testid="cifar-forget" onclick={on_forget} {disabled}
                                title="Delete the CIFAR-10 data from the engine and from this browser's storage">{ "Forget" }</button>
                    }
                </div>
                if let Some(pending) = &data.pending_url {
                    <div class="notice confirm" role="alertdialog" data-testid="cifar-confirmation">
                        <span class="icon">{ "⚠" }</span>
                        <span class="message">
                            { "This URL is on another site: " }<strong data-testid="cifar-host">{ pending.host.clone() }</strong>
                            { " (" }<code>{ pending.url.clone() }</code>{ "). Download from it only if you trust that site." }
                        </span>
                        <button class="button" data-testid="confirm-cifar" onclick={on_confirm}>{ format!("Load from {}", pending.host) }</button>
                        <button class="button ghost" data-testid="cancel-cifar" onclick={on_cancel}>{ "Cancel" }</button>
                    </div>
                }
                if let Some(error) = &data.error {
                    <p class="error" data-testid="cifar-error">{ error.clone() }</p>
                }
            </div>
        </>
    }
}
