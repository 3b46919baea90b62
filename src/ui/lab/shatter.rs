//! The shattered-gradients tab (`?lab=shatter`): Balduzzi et al. (2017) on He-initialised
//! CIFAR networks, plain and residual, of growing depth, computed in the engine worker one
//! chunk of the line at a time.

use serde_json::json;
use yew::prelude::*;

use super::shatter_chart::{Lag1Chart, LineChart};
use super::{download_json, input_value};
use crate::state::Action;
use crate::state::lab_runs::{LabRunAction, RunState, ShatterState, depth};
use crate::ui::address_bar::{current_url_state, update_url};
use crate::ui::components::selected_value;
use crate::ui::engine::use_engine;
use crate::ui::use_app_state;
use resnet_lab_protocol::format_ms;
use resnet_lab_protocol::lab_runs::{LabExperiment, LabRequest};

/// The line lengths offered (up to 256: Balduzzi et al.'s Figure 1 axes run from 0 to about 250 points).
const POINTS: [usize; 3] = [64, 128, 256];

#[derive(Properties, PartialEq)]
pub struct ShatterTabProps {
    pub shatter: ShatterState,
}

#[function_component(ShatterTab)]
pub fn shatter_tab(props: &ShatterTabProps) -> Html {
    let state = use_app_state();
    let engine = use_engine();
    let params = use_memo((), |_| current_url_state().lab_params);
    let points = use_state(|| params.points());
    let seed = use_state(|| params.seed());
    let s = &props.shatter;
    let running = s.state == RunState::Running;

    let on_run = {
        let (engine, dispatcher, params) = (engine.clone(), state.dispatcher(), params.clone());
        let (points, seed) = (*points, *seed);
        Callback::from(move |_: MouseEvent| {
            let networks = params.shatter_networks();
            let sent = networks.clone();
            let id = engine.lab(move |id, backend| LabRequest::Shatter {
                id,
                networks: sent,
                seed,
                points,
                backend,
            });
            dispatcher.dispatch(Action::LabRun(LabRunAction::ShatterRequested {
                id,
                networks,
                points,
                seed,
            }));
        })
    };
    let on_stop = {
        let (engine, dispatcher, run) = (engine.clone(), state.dispatcher(), s.run);
        Callback::from(move |_: MouseEvent| {
            if let Some(run) = run {
                engine.lab(|_, _| LabRequest::Stop { id: run });
                dispatcher.dispatch(Action::LabRun(LabRunAction::Stop(LabExperiment::Shatter)));
            }
        })
    };
    let on_points = {
        let points = points.clone();
        Callback::from(move |e: Event| {
            if let Some(p) = selected_value(&e).and_then(|v| v.parse::<usize>().ok()) {
                points.set(p);
                update_url(|url| url.lab_params.points = Some(p));
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
    let download = {
        let s = s.clone();
        Callback::from(move |_: MouseEvent| {
            let curves: Vec<_> = s.curves.iter().map(|c| c.as_ref()).collect();
            let doc = json!({ "seed": s.seed, "points": s.points, "curves": curves });
            download_json(&doc, &format!("shatter-seed{}.json", s.seed));
        })
    };

    // One row per depth: the plain network's line beside the residual one's.
    let mut depths: Vec<usize> = s.curves.iter().map(|c| depth(&c.arch)).collect();
    depths.sort_unstable();
    depths.dedup();
    let rows = depths.into_iter().map(|d| {
        let of = |plain: bool| {
            s.curves
                .iter()
                .find(|c| depth(&c.arch) == d && c.plain == plain)
                .map(|c| html! { <LineChart curve={c.clone()} /> })
        };
        html! {
            <div class="shatter-row">
                { for of(true) }
                { for of(false) }
            </div>
        }
    });
    let networks = params.shatter_networks();
    html! {
        <div class="lab-tab" data-testid="lab-shatter" data-state={s.state.as_str()}
             aria-busy={running.to_string()}>
            <header class="grad-header">
                <div>
                    <h3>{ "Shattered gradients" }</h3>
                    <p class="muted small">{ format!(
                        "The gradient of one logit along a line through input space, at initialisation: {}.",
                        networks.iter().map(|n| n.title()).collect::<Vec<_>>().join(", ")) }</p>
                </div>
                <div class="grad-controls">
                    <label class="field">
                        <span>{ "Points" }</span>
                        <select data-testid="shatter-points" onchange={on_points} disabled={running}>
                            { for POINTS.iter().map(|&p| html! {
                                <option value={p.to_string()} selected={p == *points}>{ p }</option>
                            }) }
                            if !POINTS.contains(&*points) {
                                <option value={points.to_string()} selected=true>{ *points }</option>
                            }
                        </select>
                    </label>
                    <label class="field">
                        <span>{ "Seed" }</span>
                        <input type="number" min="0" class="seed-input" data-testid="shatter-seed"
                               value={seed.to_string()} onchange={on_seed} disabled={running} />
                    </label>
                    if running {
                        <button class="button secondary" data-testid="shatter-stop" onclick={on_stop}>{ "Stop" }</button>
                    } else {
                        <button class="button" data-testid="shatter-run" onclick={on_run}>{ "Run" }</button>
                    }
                    if !s.curves.is_empty() {
                        <button class="button secondary" data-testid="shatter-download" onclick={download}>{ "Download JSON" }</button>
                    }
                </div>
            </header>
            if running {
                <p class="muted small" role="status" data-testid="shatter-progress">
                    <progress max={s.total.max(1).to_string()} value={s.done.to_string()}></progress>
                    { format!(" {} of {} points ({} networks × {}); photos are still classified between chunks.",
                              s.done, s.total, s.networks.len(), s.points) }
                </p>
            }
            if let Some(error) = &s.error {
                <p class="error" data-testid="shatter-error">{ error.clone() }</p>
            }
            if s.state == RunState::Stopped {
                <p class="muted small">{ "Stopped: the lines finished so far are shown." }</p>
            }
            if !s.curves.is_empty() {
                <p class="small" data-testid="shatter-summary">{ summary(s) }</p>
                <Lag1Chart rows={s.lag1_by_depth()} />
                <div class="shatter-grid">{ for rows }</div>
            }
            <Explanation />
        </div>
    }
}

/// The numbers on screen, in one sentence.
fn summary(s: &ShatterState) -> String {
    let parts: Vec<String> = s
        .lag1_by_depth()
        .into_iter()
        .map(|(d, plain, residual)| {
            let show = |v: Option<f64>| v.map_or("…".to_string(), |v| format!("{v:.2}"));
            format!(
                "depth {d}: plain {}, residual {}",
                show(plain),
                show(residual)
            )
        })
        .collect();
    format!(
        "Lag-1 autocorrelation of dz/dt (seed {}, {} points; {} of compute): {}.",
        s.seed,
        s.points,
        format_ms(s.ms),
        parts.join("; ")
    )
}

#[function_component(Explanation)]
fn explanation() -> Html {
    html! {
        <div class="explanation small">
            <p>
                { "Each network is He-initialised from the seed, and its input moves along a line x(t) = x₀ + t·d (x₀ and d are noise \
                   images from the same seed, t from −1 to 1). The chart shows dz/dt = ∇ₓz · d for the first logit z at every point, \
                   scaled to its largest value, and the number is its autocorrelation at lag 1: near 1 when neighbouring points have \
                   similar gradients, near 0 for white noise. These are the numbers " }<code>{ "resnet-lab shatter --arch cifar110 --plain --seed S --points N" }</code>{ " prints." }
            </p>
            <p>
                { "Balduzzi et al. (2017, ICML, “The shattered gradients problem: if resnets are the answer, then what is the question?”) \
                   show that the correlation between the gradients at different inputs decays exponentially with depth in a plain \
                   rectifier network at He initialisation (2^−L for L layers, their Theorem 1), so that a deep plain network's gradients \
                   resemble white noise, while in a residual network with BatchNorm it decays only sublinearly (about 1/√L, Theorem 3). \
                   The problem is the gradient's direction, not its norm: in Theorem 1 the gradient's variance does not shrink with \
                   depth, yet gradients at nearby points stop resembling each other, which undermines methods, such as momentum, that \
                   assume they do. They note that it shows clearly on inputs along a one-dimensional grid, as on the line here. Expect \
                   the plain networks' lag-1 value to fall towards 0 as depth grows, and the residual ones to stay near 1." }
            </p>
            <p class="muted">
                { "BatchNorm runs with fresh statistics in inference mode (the identity), so each point is its own input; training-mode \
                   BatchNorm would couple the points through their batch statistics. For the plain networks this is the setting of \
                   Theorem 1 (rectifier networks without BatchNorm); Theorem 3's 1/√L assumes BatchNorm in the residual blocks, so for \
                   the residual networks here it is a guide, not a prediction. Each value comes from one line through one network: \
                   another seed gives another estimate." }
            </p>
        </div>
    }
}
