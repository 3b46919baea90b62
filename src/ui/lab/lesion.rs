//! The Lab's lesion tab (`?lab=lesion`): each block of the loaded network deleted alone, on
//! the page's photos, then k random blocks at once (Veit, Wilber & Belongie 2016). The
//! engine computes one altered network per step; the rows appear as they come, and Stop
//! keeps those already in.

use std::rc::Rc;

use yew::prelude::*;

use super::input_value;
use super::lesion_chart::LesionChart;
use super::lesion_random::RandomResult;
use crate::state::Action;
use crate::state::lab_runs::{LabRunAction, RunState};
use crate::state::lesion::LesionState;
use crate::ui::address_bar::{current_url_state, update_url};
use crate::ui::components::selected_value;
use crate::ui::engine::use_engine;
use crate::ui::use_app_state;
use resnet_lab_protocol::lab::{LesionBlock, MAX_LESION_PHOTOS, RandomSettings};
use resnet_lab_protocol::lab_runs::{LabExperiment, LabRequest};
use resnet_lab_protocol::{LesionReport, format_ms};

/// Largest k offered (0: no random deletions); ResNet-50 has 16 blocks.
const RANDOM_K: [usize; 4] = [0, 4, 8, 16];
const DRAWS: [usize; 4] = [1, 3, 5, 10];

#[derive(Properties, PartialEq)]
pub struct LesionTabProps {
    pub lesion: LesionState,
    /// Classified photos on the page (the study runs on the newest [`MAX_LESION_PHOTOS`]).
    pub photos: usize,
    pub model_ready: bool,
    pub on_run: Callback<Option<RandomSettings>>,
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// A `<select>` of numbers, with `current` added when the URL asked for another.
fn select(
    testid: &'static str,
    options: &[usize],
    current: usize,
    label: fn(usize) -> String,
    onchange: Callback<Event>,
    disabled: bool,
) -> Html {
    html! {
        <select data-testid={testid} {onchange} {disabled}>
            { for options.iter().map(|&v| html! { <option value={v.to_string()} selected={v == current}>{ label(v) }</option> }) }
            if !options.contains(&current) {
                <option value={current.to_string()} selected=true>{ label(current) }</option>
            }
        </select>
    }
}

#[function_component(LesionTab)]
pub fn lesion_tab(props: &LesionTabProps) -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let params = use_memo((), |_| current_url_state().lab_params);
    let random_k = use_state(|| params.random_k());
    let draws = use_state(|| params.draws());
    let seed = use_state(|| params.seed());
    let l = &props.lesion;
    let running = l.state == RunState::Running;
    let hint = if props.photos == 0 {
        Some("Add photos first (drop or paste them above): the lesion study re-classifies them with each block deleted.".to_string())
    } else if !props.model_ready {
        Some("Load a model first.".to_string())
    } else {
        None
    };
    let used = props.photos.min(MAX_LESION_PHOTOS);
    let on_run = {
        let (random_k, draws, seed) = (*random_k, *draws, *seed);
        props.on_run.reform(move |_: MouseEvent| {
            (random_k > 0).then_some(RandomSettings {
                max_k: random_k,
                draws,
                seed,
            })
        })
    };
    let on_stop = {
        let (engine, dispatcher, run) = (engine.clone(), state.dispatcher(), l.run);
        Callback::from(move |_: MouseEvent| {
            if let Some(id) = run {
                engine.lab(|_, _| LabRequest::Stop { id });
                dispatcher.dispatch(Action::LabRun(LabRunAction::Stop(LabExperiment::Lesion)));
            }
        })
    };
    let on_number = |handle: &UseStateHandle<usize>,
                     write: fn(&mut crate::lab_params::LabParams, usize)| {
        let handle = handle.clone();
        Callback::from(move |e: Event| {
            if let Some(v) = selected_value(&e).and_then(|v| v.parse::<usize>().ok()) {
                handle.set(v);
                update_url(|url| write(&mut url.lab_params, v));
            }
        })
    };
    let on_seed = {
        let seed = seed.clone();
        Callback::from(move |e: Event| {
            if let Some(v) = input_value(&e).and_then(|v| v.trim().parse::<u64>().ok()) {
                seed.set(v);
                update_url(|url| url.lab_params.seed = Some(v));
            }
        })
    };
    let k_label = |k: usize| {
        if k == 0 {
            "off".to_string()
        } else {
            format!("1…{k}")
        }
    };
    html! {
        <div class="lab-tab" data-testid="lab-lesion" data-state={l.status()}
                 aria-busy={running.to_string()}>
            <header class="grad-header">
                <div>
                    <h3>{ "Lesion study" }</h3>
                    <p class="muted small">{ "Delete one residual block at a time, then k random blocks at once, and see whether the network still names the photos." }</p>
                </div>
                <div class="grad-controls">
                    <label class="field" title="Also delete k random blocks at once, for k = 1 up to this (Veit et al.'s Figure 5a)"><span>{ "Random k" }</span>
                        { select("lesion-random-k", &RANDOM_K, *random_k, k_label, on_number(&random_k, |p, v| p.random_k = Some(v)), running) }</label>
                    <label class="field" title="Random sets of k blocks per k; each point of the curve is their mean"><span>{ "Draws" }</span>
                        { select("lesion-draws", &DRAWS, *draws, |d| d.to_string(), on_number(&draws, |p, v| p.draws = Some(v)), running || *random_k == 0) }</label>
                    <label class="field"><span>{ "Seed" }</span>
                        <input type="number" min="0" class="seed-input" data-testid="lesion-seed" value={seed.to_string()}
                               onchange={on_seed} disabled={running || *random_k == 0} /></label>
                    if running {
                        <button class="button secondary" data-testid="lesion-stop" onclick={on_stop}>{ "Stop" }</button>
                    } else {
                        <button class="button" data-testid="lesion-run" onclick={on_run} disabled={hint.is_some()}>
                            { format!("Run on {used} photo{}", plural(used)) }
                        </button>
                    }
                    if let Some(report) = l.report.clone() {
                        <button class="button secondary" data-testid="lesion-download"
                                onclick={Callback::from(move |_| download_json(&report))}>{ "Download JSON" }</button>
                    }
                </div>
            </header>
            if let Some(hint) = hint {
                <p class="muted" data-testid="lab-hint">{ hint }</p>
            }
            if running {
                <p class="muted small" role="status" data-testid="lesion-running">
                    <progress max={l.total.max(1).to_string()} value={l.done.to_string()}></progress>
                    { format!(" {} of {} altered networks on {} photo{}: each block deleted with and without skips{}; photos are still classified between networks.",
                              l.done, if l.total == 0 { "…".to_string() } else { l.total.to_string() }, l.photos, plural(l.photos),
                              l.random.map(|r| format!(", then k = 1…{} random blocks × {} draw{}", r.max_k, r.draws, plural(r.draws))).unwrap_or_default()) }
                </p>
            }
            if let Some(error) = &l.error {
                <p class="error" data-testid="lesion-error">{ error.clone() }</p>
            }
            if l.state == RunState::Stopped {
                <p class="muted small" data-testid="lesion-stopped">
                    { l.notice.clone().unwrap_or_else(|| "Stopped: the networks computed so far are shown.".into()) }
                </p>
            }
            if let Some(report) = &l.report {
                <LesionResult report={report.clone()} longest_step_ms={l.longest_step_ms} />
            }
            <Explanation />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct LesionResultProps {
    report: Rc<LesionReport>,
    longest_step_ms: f64,
}

#[function_component(LesionResult)]
fn lesion_result(props: &LesionResultProps) -> Html {
    let r = &props.report;
    let mean = |blocks: &mut dyn Iterator<Item = &LesionBlock>| {
        let picked: Vec<f64> = blocks.map(|b| b.outcome.top1_unchanged).collect();
        let share = picked.iter().sum::<f64>() / picked.len().max(1) as f64;
        if picked.is_empty() {
            "…".to_string()
        } else {
            format!("{:.0}%", share * 100.0)
        }
    };
    let row = |b: &LesionBlock, testid: &'static str, plain: bool| {
        html! {
            <tr data-testid={testid} data-block={b.block.clone()}
                data-top1-unchanged={b.outcome.top1_unchanged.to_string()}
                data-mean-prob={b.outcome.mean_prob.to_string()}
                data-downsample={b.downsample.to_string()}
                data-plain={plain.then_some("true")}>
                <td>{ b.block.clone() }{ if b.downsample { " ▼" } else { "" } }</td>
                <td>{ if plain { "plain" } else { "residual" } }</td>
                <td class="num">{ format!("{:.0}%", b.outcome.top1_unchanged * 100.0) }</td>
                <td class="num">{ format!("{:.3}", b.outcome.mean_prob) }</td>
            </tr>
        }
    };
    html! {
        <>
            <p class="small" data-testid="lesion-summary" data-study-ms={r.study_ms.to_string()}
               data-longest-step-ms={props.longest_step_ms.to_string()}>
                { format!(
                    "{} on {} photo{} ({} backend, {}): deleting one non-downsampling block keeps {} of top-1 predictions on average, a downsampling block {}; without skips, {}.",
                    r.model, r.images.len(), plural(r.images.len()),
                    r.backend.as_str(), format_ms(r.study_ms),
                    mean(&mut r.blocks.iter().filter(|b| !b.downsample)),
                    mean(&mut r.blocks.iter().filter(|b| b.downsample)),
                    mean(&mut r.plain.blocks.iter()),
                ) }
            </p>
            if !r.blocks.is_empty() {
                <LesionChart residual={r.blocks.clone()} plain={r.plain.blocks.clone()} />
            }
            <details>
                <summary>{ "Numbers per block" }</summary>
                <table class="lesion-table">
                    <thead><tr><th>{ "deleted" }</th><th>{ "network" }</th><th>{ "top-1 kept" }</th><th>{ "mean p" }</th></tr></thead>
                    <tbody>
                        { for r.blocks.iter().map(|b| row(b, "lesion-block", false)) }
                        { for r.plain.blocks.iter().map(|b| row(b, "lesion-block-plain", true)) }
                    </tbody>
                </table>
            </details>
            if let Some(random) = &r.random_k {
                <RandomResult random={random.clone()} intact={r.intact.clone()} />
            }
        </>
    }
}

/// What the chart shows and what the paper found, with its limits.
#[function_component(Explanation)]
fn explanation() -> Html {
    html! {
        <div class="explanation small">
            <p>
                { "Deleting a block makes its output ReLU(shortcut(x)): the branch F is gone, a projection shortcut stays. \
                   Veit, Wilber & Belongie (2016, NeurIPS, “Residual networks behave like ensembles of relatively shallow networks”, §4.1) \
                   deleted single blocks of a 110-layer residual network trained on CIFAR-10: removing a downsampling block had a modest \
                   impact on test error, no other removal a noticeable one. The other blocks still receive a signal through their \
                   shortcuts; the paper reads this as the network's many paths not depending strongly on each other, like an ensemble \
                   (abstract). Deleting any layer of VGG, a network without skips trained as such, dropped it to chance. The plain rows \
                   here are not that experiment: they are the same trained weights with every skip cut (on the Keras ResNet-50 they \
                   have collapsed before any block is deleted)." }
            </p>
            <p>
                { "Deleting k blocks at once removes every path through any of them, and the rest still carry the signal: Veit et al.'s \
                   Figure 5a shows the error growing smoothly with k rather than jumping as a chain would. \
                   The curve below is the same experiment: k random blocks of the residual network deleted, the share of photos \
                   that keep the intact network's top-1 class and the mean probability of that class, averaged over a few random \
                   sets per k, as " }<code>{ "resnet-lab lesion --random-k K --draws N --seed S" }</code>{ " draws them." }
            </p>
            <p class="muted">
                { "Top-1 agreement on a few photos is not the paper's test error: on the Keras ResNet-50, deleting layer1.1 or layer4.2 \
                   alone keeps only 2 of 5 sample photos (PyTorch agrees), though the non-downsampling blocks keep 76% on average. \
                   With a handful of photos each bar moves in steps of one photo, and with a few draws per k the curve depends on \
                   which blocks were drawn (change the seed to see another draw)." }
            </p>
        </div>
    }
}

/// The report as `resnet-lab lesion --json` writes it (without logits).
fn download_json(report: &LesionReport) {
    super::download_json(report, &format!("lesion-{}.json", report.model));
}
