//! The page's building blocks. Each one only renders what it is given and reports what the
//! person did through callbacks; [`super::App`] owns the state and the engine. The photo
//! intake and the result cards are in [`results`].

mod results;

pub use results::{DropZone, PredictionBar, ResultCard, ResultsGallery};

use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

use crate::state::{ActiveBackend, LoadState, Manifest, ModelState, Progress};
use resnet_lab_protocol::{BackendKind, format_bytes, format_count, format_ms};

/// A `<select>`'s value from its change event.
pub(crate) fn selected_value(event: &Event) -> Option<String> {
    event
        .target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlSelectElement>().ok())
        .map(|s| s.value())
}

/// Files chosen in an `<input type=file>`, then the input is reset so the same file can be
/// chosen again.
pub(crate) fn take_files(event: &Event) -> Vec<web_sys::File> {
    let Some(input) = event
        .target()
        .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
    else {
        return Vec::new();
    };
    let files = input
        .files()
        .map(|list| (0..list.length()).filter_map(|i| list.get(i)).collect())
        .unwrap_or_default();
    input.set_value("");
    files
}

#[derive(Properties, PartialEq)]
pub struct BackendStatusProps {
    pub backend: Option<ActiveBackend>,
}

/// Which backend runs the network, on which adapter; links to switch by hand.
#[function_component(BackendStatus)]
pub fn backend_status(props: &BackendStatusProps) -> Html {
    let threads = props.backend.as_ref().map(|b| b.threads.to_string());
    let (kind, label, adapter) = match &props.backend {
        Some(b) => (
            b.kind.as_str(),
            match b.kind {
                BackendKind::Webgpu => "WebGPU",
                BackendKind::Cpu => "CPU",
            },
            b.adapter.clone(),
        ),
        None => ("", "…", "choosing a backend".to_string()),
    };
    let switch = match props.backend.as_ref().map(|b| b.kind) {
        Some(BackendKind::Webgpu) => {
            html! { <a class="switch" href="?backend=cpu">{ "use CPU" }</a> }
        }
        Some(BackendKind::Cpu) => {
            html! { <a class="switch" href="?backend=webgpu">{ "try WebGPU" }</a> }
        }
        None => html! {},
    };
    html! {
        <div class="backend-status" data-testid="backend" data-backend={kind} data-threads={threads} title={adapter.clone()}>
            <span class={classes!("badge", format!("badge-{}", if kind.is_empty() { "unknown" } else { kind }))}>{ label }</span>
            <span class="adapter">{ adapter }</span>
            { switch }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ProgressBarProps {
    pub progress: Option<Progress>,
}

/// Download progress in bytes (indeterminate when the size is unknown).
#[function_component(ProgressBar)]
pub fn progress_bar(props: &ProgressBarProps) -> Html {
    let Some(p) = &props.progress else {
        return html! { <div class="progress indeterminate" role="progressbar"><div class="fill"></div></div> };
    };
    let (fraction, text) = match p.total {
        Some(total) if total > 0 => {
            let f = (p.done as f64 / total as f64).clamp(0.0, 1.0);
            (
                Some(f),
                format!(
                    "{}: {} / {}",
                    p.phase,
                    format_bytes(p.done),
                    format_bytes(total)
                ),
            )
        }
        _ => (None, format!("{}: {}", p.phase, format_bytes(p.done))),
    };
    let style = fraction
        .map(|f| format!("width: {:.1}%", f * 100.0))
        .unwrap_or_default();
    html! {
        <div class="progress-wrap" data-testid="progress">
            <div class={classes!("progress", fraction.is_none().then_some("indeterminate"))}
                 role="progressbar"
                 aria-valuemin="0" aria-valuemax="100"
                 aria-valuenow={fraction.map(|f| format!("{:.0}", f * 100.0))}>
                <div class="fill" style={style}></div>
            </div>
            <div class="progress-text">{ text }</div>
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct ModelStatusProps {
    pub model: ModelState,
}

/// Loading / ready / error, with what was loaded and how long it took.
#[function_component(ModelStatus)]
pub fn model_status(props: &ModelStatusProps) -> Html {
    let m = &props.model;
    let body = match m.state {
        LoadState::Idle => html! { <span class="muted">{ "No model yet." }</span> },
        LoadState::Loading => html! {
            <>
                <div class="status-line"><span class="spinner"></span>{ format!("Loading {}…", m.label) }</div>
                <ProgressBar progress={m.progress.clone()} />
            </>
        },
        LoadState::Ready => {
            let s = m.summary.as_ref();
            let detail = s
                .map(|s| {
                    format!(
                        "{} · {} parameters · {} {} · {} · ready in {} (warm-up {})",
                        s.name,
                        format_count(s.parameters as u64),
                        format_bytes(s.bytes),
                        s.dtype,
                        if s.from_cache {
                            "from cache".to_string()
                        } else {
                            format!("downloaded in {}", format_ms(s.download_ms))
                        },
                        format_ms(
                            m.ready_ms
                                .unwrap_or(s.download_ms + s.build_ms + s.warmup_ms)
                        ),
                        format_ms(s.warmup_ms),
                    )
                })
                .unwrap_or_default();
            html! {
                <>
                    <div class="status-line"><span class="dot ok"></span>{ format!("{} ready", m.label) }</div>
                    <div class="muted small" title={s.map(|s| format!("{} — {}; input: {}", s.format, s.source, s.input)).unwrap_or_default()}>{ detail }</div>
                </>
            }
        }
        LoadState::Error => html! {
            <>
                <div class="status-line"><span class="dot bad"></span>{ "No model loaded" }</div>
                <div class="small error-text">{ m.error.clone().unwrap_or_default() }</div>
            </>
        },
    };
    let parameters = m.summary.as_ref().map(|s| s.parameters.to_string());
    // The engine's own split of the load (fetch or cache read, building, warm-up), for benchmarks.
    let split = m
        .summary
        .as_ref()
        .map(|s| format!("{:.0} {:.0} {:.0}", s.download_ms, s.build_ms, s.warmup_ms));
    html! {
        <section class="model-status" data-testid="model-status" data-state={m.state.as_str()} data-model={m.name.clone()}
            data-parameters={parameters} data-load-split-ms={split}
            data-read-ahead={m.summary.as_ref().map(|s| s.read_ahead.to_string())}>
            { body }
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ModelPickerProps {
    pub manifest: Option<Manifest>,
    pub selected: Option<String>,
    pub on_select: Callback<String>,
    pub on_weights: Callback<Vec<web_sys::File>>,
    pub on_clear_cache: Callback<()>,
}

/// The served models, a weights file of one's own, and the cache.
#[function_component(ModelPicker)]
pub fn model_picker(props: &ModelPickerProps) -> Html {
    let on_change = {
        let cb = props.on_select.clone();
        Callback::from(move |e: Event| {
            if let Some(value) = selected_value(&e) {
                cb.emit(value);
            }
        })
    };
    let on_weights = {
        let cb = props.on_weights.clone();
        Callback::from(move |e: Event| {
            let files = take_files(&e);
            if !files.is_empty() {
                cb.emit(files);
            }
        })
    };
    let on_clear = {
        let cb = props.on_clear_cache.clone();
        Callback::from(move |_| cb.emit(()))
    };
    let options = match &props.manifest {
        Some(m) if !m.models.is_empty() => m
            .models
            .iter()
            .map(|model| {
                let size = model.bytes.map(|b| format!(" · {}", format_bytes(b))).unwrap_or_default();
                html! {
                    <option value={model.name.clone()} selected={props.selected.as_deref() == Some(model.name.as_str())}>
                        { format!("{}{}", model.title(), size) }
                    </option>
                }
            })
            .collect::<Html>(),
        _ => html! { <option value="" disabled=true selected=true>{ "no served models" }</option> },
    };
    html! {
        <section class="model-picker">
            <label class="field">
                <span>{ "Model" }</span>
                <select data-testid="model-select" onchange={on_change} disabled={props.manifest.is_none()}>
                    { options }
                </select>
            </label>
            <label class="button secondary" title=".safetensors, .pth, a ResNet Lab bundle, or a TF.js model.json with its .bin shards">
                { "Load weights file…" }
                <input type="file" class="visually-hidden" data-testid="weights-input" multiple=true
                       accept=".safetensors,.pth,.pt,.bin,.json" onchange={on_weights} />
            </label>
            <button class="button ghost" data-testid="clear-cache" onclick={on_clear} title="Delete downloaded weights kept by this browser">
                { "Clear cache" }
            </button>
        </section>
    }
}

#[derive(Properties, PartialEq)]
pub struct ErrorBannerProps {
    pub errors: Vec<String>,
    pub on_dismiss: Callback<usize>,
}

/// Page-level errors, each dismissable.
#[function_component(ErrorBanner)]
pub fn error_banner(props: &ErrorBannerProps) -> Html {
    html! {
        <div class="errors" aria-live="assertive">
            { for props.errors.iter().enumerate().map(|(i, message)| {
                let cb = props.on_dismiss.clone();
                html! {
                    <div class="error-banner" data-testid="error" role="alert">
                        <span class="icon">{ "⚠" }</span>
                        <span class="message">{ message.clone() }</span>
                        <button class="close" aria-label="Dismiss" onclick={Callback::from(move |_| cb.emit(i))}>{ "×" }</button>
                    </div>
                }
            }) }
        </div>
    }
}

#[derive(Properties, PartialEq)]
pub struct NoticeProps {
    pub text: Option<String>,
    #[prop_or_default]
    pub testid: AttrValue,
    #[prop_or_default]
    pub on_dismiss: Option<Callback<()>>,
}

/// A visible remark (backend fallback, engine restart, cache cleared).
#[function_component(Notice)]
pub fn notice(props: &NoticeProps) -> Html {
    let Some(text) = &props.text else {
        return html! {};
    };
    let close = props.on_dismiss.clone().map(|cb| {
        html! { <button class="close" aria-label="Dismiss" onclick={Callback::from(move |_| cb.emit(()))}>{ "×" }</button> }
    });
    html! {
        <div class="notice" role="status" data-testid={props.testid.clone()}>
            <span class="icon">{ "ℹ" }</span><span class="message">{ text.clone() }</span>{ for close }
        </div>
    }
}
