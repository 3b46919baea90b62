//! The Lab's lesion tab (`?lab=lesion`): each block of the loaded network deleted alone, on
//! the page's photos (Veit, Wilber & Belongie 2016).

use std::rc::Rc;

use yew::prelude::*;

use super::lesion_chart::LesionChart;
use crate::state::LabState;
use resnet_lab_protocol::lab::{LesionBlock, MAX_LESION_PHOTOS};
use resnet_lab_protocol::{LesionReport, format_ms};

#[derive(Properties, PartialEq)]
pub struct LesionTabProps {
    pub lab: LabState,
    /// Classified photos on the page (the study runs on the newest [`MAX_LESION_PHOTOS`]).
    pub photos: usize,
    pub model_ready: bool,
    pub on_run: Callback<()>,
}

#[function_component(LesionTab)]
pub fn lesion_tab(props: &LesionTabProps) -> Html {
    let lab = &props.lab;
    let running = lab.pending.is_some();
    let hint = if props.photos == 0 {
        Some("Add photos first (drop or paste them above): the lesion study re-classifies them with each block deleted.".to_string())
    } else if !props.model_ready {
        Some("Load a model first.".to_string())
    } else {
        None
    };
    let used = props.photos.min(MAX_LESION_PHOTOS);
    let on_run = props.on_run.reform(|_: MouseEvent| ());
    let body = match (&lab.report, &lab.error) {
        (_, Some(error)) if !running => {
            html! { <p class="error" data-testid="lesion-error">{ error.clone() }</p> }
        }
        (Some(report), _) => html! { <LesionResult report={report.clone()} /> },
        _ => html! {},
    };
    html! {
        <div class="lab-tab" data-testid="lab-lesion" data-state={lab.status()}
                 aria-busy={running.to_string()}>
            <header class="grad-header">
                <div>
                    <h3>{ "Lesion study" }</h3>
                    <p class="muted small">{ "Delete one residual block at a time and see whether the network still names the photos." }</p>
                </div>
                <div class="grad-controls">
                    <button class="button" data-testid="lesion-run" onclick={on_run}
                            disabled={running || hint.is_some()}>
                        { if running { "Running…".to_string() } else { format!("Run on {used} photo{}", if used == 1 { "" } else { "s" }) } }
                    </button>
                    if let Some(report) = lab.report.clone() {
                        <button class="button secondary" data-testid="lesion-download"
                                onclick={Callback::from(move |_| download_json(&report))}>{ "Download JSON" }</button>
                    }
                </div>
            </header>
            if let Some(hint) = hint {
                <p class="muted" data-testid="lab-hint">{ hint }</p>
            }
            if running {
                <p class="muted" role="status" data-testid="lesion-running">
                    { format!("Running: each of the network's blocks deleted in turn, with and without skips, on {used} photo{}…", if used == 1 { "" } else { "s" }) }
                </p>
            }
            { body }
            <Explanation />
        </div>
    }
}

#[derive(Properties, PartialEq)]
struct LesionResultProps {
    report: Rc<LesionReport>,
}

#[function_component(LesionResult)]
fn lesion_result(props: &LesionResultProps) -> Html {
    let r = &props.report;
    let mean = |blocks: &[LesionBlock], downsample: bool| {
        let picked: Vec<f64> = blocks
            .iter()
            .filter(|b| b.downsample == downsample)
            .map(|b| b.outcome.top1_unchanged)
            .collect();
        picked.iter().sum::<f64>() / picked.len().max(1) as f64
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
            <p class="small" data-testid="lesion-summary">
                { format!(
                    "{} on {} photo{} ({} backend, {}): deleting one non-downsampling block keeps {:.0}% of top-1 predictions on average, a downsampling block {:.0}%; without skips, {:.0}%.",
                    r.model, r.images.len(), if r.images.len() == 1 { "" } else { "s" },
                    r.backend.as_str(), format_ms(r.study_ms),
                    mean(&r.blocks, false) * 100.0, mean(&r.blocks, true) * 100.0,
                    r.plain.blocks.iter().map(|b| b.outcome.top1_unchanged).sum::<f64>() / r.plain.blocks.len().max(1) as f64 * 100.0,
                ) }
            </p>
            <LesionChart residual={r.blocks.clone()} plain={r.plain.blocks.clone()} />
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
            <p class="muted">
                { "Top-1 agreement on a few photos is not the paper's test error: on the Keras ResNet-50, deleting layer1.1 or layer4.2 \
                   alone keeps only 2 of 5 sample photos (PyTorch agrees), though the non-downsampling blocks keep 76% on average. \
                   With a handful of photos each bar moves in steps of one photo." }
            </p>
        </div>
    }
}

/// The report as `resnet-lab lesion --json` writes it (without logits).
fn download_json(report: &LesionReport) {
    super::download_json(report, &format!("lesion-{}.json", report.model));
}
