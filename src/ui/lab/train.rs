//! The live-training tab (`?lab=train`): He et al.'s degradation problem (2016, Figures 1
//! and 6) on He-initialised CIFAR networks, trained side by side in the engine worker one SGD
//! step at a time, with Stop and Resume, on the built-in grating task or CIFAR-10
//! ([`super::train_data`]).

use serde_json::json;
use yew::prelude::*;

use super::train_chart::LossChart;
use super::train_data::TrainDataChooser;
use super::{download_json, input_value};
use crate::state::Action;
use crate::state::lab_data::DataState;
use crate::state::lab_runs::{LabRunAction, RunState, SMOOTHING, TrainSetup, TrainState};
use crate::ui::address_bar::{current_url_state, update_url};
use crate::ui::components::selected_value;
use crate::ui::engine::use_engine;
use crate::ui::use_app_state;
use resnet_lab_protocol::lab_runs::{LabExperiment, LabNetwork, LabRequest};
use resnet_lab_protocol::{TrainData, format_ms};

const STEPS: [usize; 4] = [50, 150, 500, 2000];
const BATCHES: [usize; 4] = [8, 16, 32, 128];
/// 16: He et al.'s networks; narrower ones train several times faster.
const WIDTHS: [usize; 3] = [4, 8, 16];

#[derive(Properties, PartialEq)]
pub struct TrainTabProps {
    pub train: TrainState,
    pub data: DataState,
}

fn select(
    testid: &'static str,
    options: &[usize],
    current: usize,
    onchange: Callback<Event>,
    disabled: bool,
) -> Html {
    html! {
        <select data-testid={testid} {onchange} {disabled}>
            { for options.iter().map(|&v| html! { <option value={v.to_string()} selected={v == current}>{ v }</option> }) }
            if !options.contains(&current) {
                <option value={current.to_string()} selected=true>{ current }</option>
            }
        </select>
    }
}

/// A setting kept in component state and in the URL.
fn on_number<T: std::str::FromStr + Copy + 'static>(
    handle: &UseStateHandle<T>,
    read: fn(&Event) -> Option<String>,
    write: fn(&mut crate::lab_params::LabParams, T),
) -> Callback<Event> {
    let handle = handle.clone();
    Callback::from(move |e: Event| {
        if let Some(v) = read(&e).and_then(|v| v.trim().parse::<T>().ok()) {
            handle.set(v);
            update_url(|url| write(&mut url.lab_params, v));
        }
    })
}

#[function_component(TrainTab)]
pub fn train_tab(props: &TrainTabProps) -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let params = use_memo((), |_| current_url_state().lab_params);
    let steps = use_state(|| params.steps());
    let batch = use_state(|| params.batch());
    let width = use_state(|| params.width());
    let seed = use_state(|| params.seed());
    let data = use_state(|| params.data());
    let zero_gamma = use_state(|| params.zero_gamma());
    let lr = params.lr();
    let t = &props.train;
    let running = t.state == RunState::Running;

    let cifar = props.data.summary().map(|s| s.train_images);
    let on_run = {
        let (engine, dispatcher, params) = (engine.clone(), state.dispatcher(), params.clone());
        let (steps, batch, seed, width, data) = (*steps, *batch, *seed, *width, *data);
        let zero_init_residual = *zero_gamma;
        Callback::from(move |_: MouseEvent| {
            let networks = params.train_networks();
            let sent = networks.clone();
            let id = engine.lab(move |id, backend| LabRequest::Train {
                id,
                networks: sent,
                steps,
                batch,
                lr,
                seed,
                width,
                zero_init_residual,
                data,
                backend,
            });
            let setup = TrainSetup {
                steps,
                batch,
                lr,
                seed,
                width,
                zero_init_residual,
                data,
                images: cifar.filter(|_| data == TrainData::Cifar10),
            };
            dispatcher.dispatch(Action::LabRun(LabRunAction::TrainRequested {
                id,
                networks,
                setup,
            }));
        })
    };
    let control = |resume: bool| {
        let (engine, dispatcher, run) = (engine.clone(), state.dispatcher(), t.run);
        Callback::from(move |_: MouseEvent| {
            let Some(id) = run else { return };
            if resume {
                engine.lab(|_, _| LabRequest::Resume { id });
                dispatcher.dispatch(Action::LabRun(LabRunAction::Resume));
            } else {
                engine.lab(|_, _| LabRequest::Stop { id });
                dispatcher.dispatch(Action::LabRun(LabRunAction::Stop(LabExperiment::Train)));
            }
        })
    };
    let download = {
        let t = t.clone();
        Callback::from(move |_: MouseEvent| {
            // One document per network, as `resnet-lab train --json` prints it.
            let docs: Vec<_> = t
                .curves
                .iter()
                .map(|c| {
                    json!({
                        "arch": c.network.arch, "plain": c.network.plain, "steps": c.points,
                        "step_ms": c.step_ms(), "batch": t.batch, "lr": t.lr, "seed": t.seed, "width": t.width,
                        "zero_init_residual": t.zero_init_residual && !c.network.plain,
                        "data": t.data.name(), "images": t.images,
                    })
                })
                .collect();
            download_json(&docs, &format!("train-seed{}.json", t.seed));
        })
    };

    let degradation = t.stays_above(
        &LabNetwork::new("cifar56", true),
        &LabNetwork::new("cifar20", true),
    );
    let made = t.curves.iter().map(|c| c.points.len()).min().unwrap_or(0);
    let started = t.curves.iter().any(|c| !c.points.is_empty());
    let step_ms: f64 = t.curves.iter().map(|c| c.step_ms()).sum();
    let rows = t.curves.iter().enumerate().map(|(i, c)| {
        let last = c.points.last();
        html! {
            <tr data-testid="train-curve" data-arch={c.network.arch.clone()} data-plain={c.network.plain.to_string()}
                data-steps={c.points.len().to_string()}
                data-first-loss={c.points.first().map(|p| p.loss.to_string()).unwrap_or_default()}
                data-last-loss={last.map(|p| p.loss.to_string()).unwrap_or_default()}
                data-step-ms={c.step_ms().to_string()}>
                <td><i class={classes!("key", format!("key-series-{i}"), c.network.plain.then_some("key-dashed"))}></i>{ c.network.title() }</td>
                <td class="num">{ c.points.len() }</td>
                <td class="num">{ last.map(|p| format!("{:.3}", p.loss)).unwrap_or_default() }</td>
                <td class="num">{ last.map(|p| format!("{:.0}%", p.accuracy * 100.0)).unwrap_or_default() }</td>
                <td class="num">{ if c.points.is_empty() { String::new() } else { format_ms(c.step_ms()) } }</td>
            </tr>
        }
    });
    let disabled = running;
    // CIFAR-10 chosen but not here: the chooser says what to load.
    let no_data = *data == TrainData::Cifar10 && cifar.is_none();
    let on_data = {
        let data = data.clone();
        Callback::from(move |choice: TrainData| {
            data.set(choice);
            update_url(|url| url.lab_params.data = Some(choice));
        })
    };
    let on_zero_gamma = {
        let zero_gamma = zero_gamma.clone();
        Callback::from(move |e: Event| {
            let on = e
                .target_dyn_into::<web_sys::HtmlInputElement>()
                .is_some_and(|i| i.checked());
            zero_gamma.set(on);
            update_url(|url| url.lab_params.zero_gamma = Some(on));
        })
    };
    let data_title = match (*data, cifar) {
        (TrainData::Cifar10, Some(n)) => format!("CIFAR-10 ({n} training images)"),
        (TrainData::Cifar10, None) => "CIFAR-10 (not loaded yet)".to_string(),
        (TrainData::Grating, _) => "the built-in grating task".to_string(),
    };
    html! {
        <div class="lab-tab" data-testid="lab-train" data-state={t.state.as_str()} aria-busy={running.to_string()}>
            <header class="grad-header">
                <div>
                    <h3>{ "The degradation problem, trained live" }</h3>
                    <p class="muted small">{ format!(
                        "{} trained side by side from He initialisation{} on {data_title}: SGD, momentum 0.9, weight decay 1e-4, learning rate {lr}, BatchNorm in training mode.",
                        params.train_networks().iter().map(|n| n.title()).collect::<Vec<_>>().join(", "),
                        if *zero_gamma { " (the residual ones with zero-initialised residual γ)" } else { "" }) }</p>
                </div>
                <div class="grad-controls">
                    <label class="field"><span>{ "Steps" }</span>
                        { select("train-steps", &STEPS, *steps, on_number(&steps, selected_value, |p, v| p.steps = Some(v)), disabled) }</label>
                    <label class="field"><span>{ "Batch" }</span>
                        { select("train-batch", &BATCHES, *batch, on_number(&batch, selected_value, |p, v| p.batch = Some(v)), disabled) }</label>
                    <label class="field" title="Channels of the first stage (16, 32, 64 in He et al.; 4 trains several times faster and shows the same degradation)"><span>{ "Width" }</span>
                        { select("train-width", &WIDTHS, *width, on_number(&width, selected_value, |p, v| p.width = Some(v)), disabled) }</label>
                    <label class="field" title="Goyal et al. 2017 §5.1 (torchvision's zero_init_residual): each residual branch's last BatchNorm γ starts at 0, so every block starts as the identity. Plain networks keep γ = 1.">
                        <span>{ "Zero-γ" }</span>
                        <input type="checkbox" data-testid="train-zero-gamma" checked={*zero_gamma} {disabled}
                               onchange={on_zero_gamma} /></label>
                    <label class="field"><span>{ "Seed" }</span>
                        <input type="number" min="0" class="seed-input" data-testid="train-seed" value={seed.to_string()}
                               onchange={on_number(&seed, input_value, |p, v| p.seed = Some(v))} {disabled} /></label>
                    if running {
                        <button class="button secondary" data-testid="train-stop" onclick={control(false)}>{ "Stop" }</button>
                    } else {
                        <button class="button" data-testid="train-run" onclick={on_run} disabled={no_data}
                                title={no_data.then_some("Load CIFAR-10 first (below), or choose the built-in gratings")}>
                            { if t.run.is_some() { "Train again" } else { "Train" } }</button>
                        if t.state == RunState::Stopped {
                            <button class="button secondary" data-testid="train-resume" onclick={control(true)}>{ "Resume" }</button>
                        }
                    }
                    if started {
                        <button class="button secondary" data-testid="train-download" onclick={download}>{ "Download JSON" }</button>
                    }
                </div>
            </header>
            <div class="grad-controls">
                <TrainDataChooser data={props.data.clone()} choice={*data} on_choice={on_data} {disabled} />
            </div>
            if t.run.is_some() {
                <p class="small" data-testid="train-data-used" data-data={t.data.name()}
                   data-images={t.images.map(|n| n.to_string()).unwrap_or_default()}>
                    { format!("These curves are on {}.", t.data_title()) }
                </p>
                <p class="muted small" role="status" data-testid="train-progress">
                    <progress max={t.steps.max(1).to_string()} value={made.to_string()}></progress>
                    { format!(" step {made} of {} (batch {}); {} per step of all {} networks; photos are still classified between steps.",
                              t.steps, t.batch, format_ms(step_ms), t.curves.len()) }
                </p>
            }
            if let Some(error) = &t.error {
                <p class="error" data-testid="train-error">{ error.clone() }</p>
            }
            if started {
                <LossChart curves={t.curves.clone()} steps={t.steps} marker={degradation} />
                <table class="lesion-table">
                    <thead><tr><th>{ "network" }</th><th>{ "steps" }</th><th>{ "last loss" }</th><th>{ "batch accuracy" }</th><th>{ "per step" }</th></tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
                if let Some(step) = degradation {
                    <p class="small" data-testid="degradation-marker" data-step={step.to_string()}>
                        { format!("From step {step} on, plain-56's training loss (mean of the last {SMOOTHING} steps) has stayed above plain-20's: \
                                   the deeper plain network trains worse, the degradation of He et al.'s Figure 1.") }
                    </p>
                }
            } else {
                <table class="lesion-table" hidden=true>
                    <tbody>{ for rows }</tbody>
                </table>
            }
            <Explanation />
        </div>
    }
}

#[function_component(Explanation)]
fn explanation() -> Html {
    html! {
        <div class="explanation small">
            <p>
                { "He et al. (2016, CVPR, “Deep residual learning for image recognition”, §1 and §4.2, Figures 1 and 6) found that a \
                   deeper plain network has a higher training error than a shallower one: plain-56 above plain-20 on CIFAR-10 (and \
                   plain-34 above plain-18 on ImageNet, §4.1). It is not overfitting, since the training error itself is higher (§1), \
                   and they argue it is not vanishing gradients either: their plain networks use BatchNorm, which ensures non-zero \
                   forward variances, and they verified that the backward gradients have healthy norms (§4.1, on ImageNet). They call \
                   it an optimisation difficulty. With shortcuts the difficulty is overcome and the deeper networks gain accuracy \
                   (§4.2, Figure 6 middle)." }
            </p>
            <p class="muted">
                { "Data: CIFAR-10 in its binary form, if you load it (the curves say which data they are on); otherwise a built-in \
                   task that needs no download: 10 classes of oriented gratings (class k at k·18° ± 3°) with random \
                   frequency, phase, colour and position under a Gaussian window, a distractor grating and pixel noise, generated \
                   from each example's index. Every network sees the same batches, as " }<code>{ "resnet-lab train --arch cifar56 --plain --steps N --batch B --width W --seed S" }</code>
                { " computes them. Our residual networks use 1×1 projection shortcuts where the shape changes (option B, §3.3); \
                   the paper's CIFAR networks used identity shortcuts with zero-padding (option A, §4.2). The loss and accuracy are \
                   those of the batch each step trained on, so the curves are noisy: the chart shows their mean over the last 10 \
                   steps. The paper trains 64,000 steps at batch 128, the learning rate 0.1 divided by 10 at 32k and 48k (§4.2); a \
                   few hundred steps show the start of Figure 1: plain-56 stays near chance (ln 10 ≈ 2.30) while plain-20 learns, and \
                   ResNet-56 trains well below plain-56. Whether ResNet-56 is also at or below ResNet-20 (Figure 6, middle) depends \
                   on the start: with the paper's initialisation (untick Zero-γ) it is not, within such a budget: in PyTorch, with \
                   these settings, ResNet-56 was still above ResNet-20 after 300 steps in every seed tried, with or without the \
                   warm-up the paper uses for ResNet-110 (§4.2: learning rate 0.01 until the training error is below 80%); the \
                   deeper residual network catches up later. With Zero-γ (Goyal et al. 2017, “Accurate, large minibatch SGD”, §5.1; \
                   torchvision's zero_init_residual) each residual branch's last BatchNorm γ starts at 0, so every block starts as \
                   the identity and ResNet-56 starts as shallow as ResNet-20: then the two are level after 150 steps (PyTorch over \
                   8 seeds and the project's test). A plain block cannot start that way (with γ = 0 it would pass nothing): the \
                   shortcut is what makes the identity start possible, which is the paper's point. Width 4 and batch 16 (the settings the project's test \
                   checks against PyTorch) keep a step of all four networks to about a second on the CPU; width 16 is the paper's." }
            </p>
        </div>
    }
}
