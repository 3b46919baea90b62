//! The residual-gradient panel: why skip connections work, on the network the visitor just
//! ran, for their photo and a class they pick.

mod activation_chart;
mod diagram;
mod explanation;
mod gradient_chart;
mod saliency;

use std::rc::Rc;

use wasm_bindgen::JsCast;
use web_sys::{HtmlInputElement, HtmlSelectElement};
use yew::prelude::*;

use crate::chart_geometry::format_norm;
use crate::state::{GradientState, Photo};
use crate::url_state::INIT_ARCHITECTURES;
use activation_chart::ActivationChart;
use diagram::BlockDiagram;
use explanation::Explanation;
use gradient_chart::GradientChart;
use resnet_lab_protocol::{
    BatchNormMode, ClassRef, GradientNetwork, GradientReport, HeInitOptions, PredictionRow,
    format_ms,
};
use saliency::SaliencyView;

#[derive(Properties, PartialEq)]
pub struct GradientPanelProps {
    pub gradients: GradientState,
    /// The photo the shown report explains, if any (its top-5, and its Teach classes, are the
    /// classes offered).
    pub photo: Option<Photo>,
    pub on_network: Callback<GradientNetwork>,
    pub on_class: Callback<Option<ClassRef>>,
}

#[function_component(GradientPanel)]
pub fn gradient_panel(props: &GradientPanelProps) -> Html {
    let hovered = use_state(|| None::<usize>);
    let on_hover = {
        let hovered = hovered.clone();
        Callback::from(move |i| hovered.set(i))
    };
    let g = &props.gradients;
    let report = g.report.clone();
    let blocks = report
        .as_ref()
        .map(|r| r.analysis.blocks.clone())
        .unwrap_or_default();

    let body = match (&report, &g.error) {
        (_, Some(error)) => html! {
            <p class="grad-error" data-testid="gradient-error">{ format!("The analysis failed: {error}") }</p>
        },
        (Some(report), None) => html! {
            <>
                <Headline report={report.clone()} photo={props.photo.clone()} />
                <div class="grad-layout">
                    <div class="grad-main">
                        <GradientChart blocks={blocks.clone()} hovered={*hovered} on_hover={on_hover.clone()} />
                        <ActivationChart blocks={blocks.clone()} hovered={*hovered} />
                        <BlockDiagram blocks={blocks.clone()} block_kind={report.block_kind.clone()}
                                      hovered={*hovered} on_hover={on_hover} />
                    </div>
                    <aside class="grad-side">
                        <SaliencyView saliency={report.analysis.saliency.clone()}
                                      photo_url={props.photo.as_ref().map(|p| p.url.clone())}
                                      noise={g.shown_photo.is_none()}
                                      label={report.analysis.label.clone()} />
                        <Explanation report={report.clone()} />
                    </aside>
                </div>
            </>
        },
        (None, None) => html! {
            <p class="muted" data-testid="gradient-hint">
                { if g.pending.is_some() {
                    "Computing the gradients (one backward pass through the network with its skips, one without)…"
                } else {
                    "Classify a photo to see how the gradient flows back through this network — or pick a He-initialised network above, which needs no download."
                } }
            </p>
        },
    };

    html! {
        <section class="panel gradient-panel" data-testid="gradient-panel" data-state={g.status()}
                 data-class={report.as_ref().map(|r| r.analysis.class.to_string())}
                 data-taught={report.as_ref().map(|r| r.analysis.taught.to_string())}
                 data-logit={report.as_ref().map(|r| r.analysis.logit.to_string())}
                 data-photo={props.photo.as_ref().map(|p| p.name.clone())}
                 data-network={match &g.network { GradientNetwork::Loaded => "loaded".to_string(), GradientNetwork::HeInit { arch, seed, options } => network_tag(arch, *seed, options) }}
                 aria-busy={(g.pending.is_some()).to_string()}>
            <header class="grad-header">
                <div>
                    <h2>{ "Why skip connections work" }</h2>
                    <p class="muted small">{ "∂L/∂x = ∂L/∂H · (1 + ∂F/∂x), measured block by block on a real network." }</p>
                </div>
                <Controls gradients={g.clone()} photo={props.photo.clone()}
                          on_network={props.on_network.clone()} on_class={props.on_class.clone()} />
            </header>
            if g.pending.is_some() && report.is_some() {
                <div class="grad-busy muted small" role="status">{ "Updating…" }</div>
            }
            { body }
        </section>
    }
}

#[derive(Properties, PartialEq)]
struct ControlsProps {
    gradients: GradientState,
    photo: Option<Photo>,
    on_network: Callback<GradientNetwork>,
    on_class: Callback<Option<ClassRef>>,
}

/// Network (trained or He-initialised, depth, seed), class, and the JSON export.
#[function_component(Controls)]
fn controls(props: &ControlsProps) -> Html {
    let g = &props.gradients;
    let (arch, seed, options) = match &g.network {
        GradientNetwork::HeInit {
            arch,
            seed,
            options,
        } => (Some(arch.clone()), *seed, *options),
        GradientNetwork::Loaded => (None, 0, HeInitOptions::default()),
    };
    let on_mode = {
        let on_network = props.on_network.clone();
        let arch = arch.clone();
        Callback::from(move |e: Event| {
            let Some(select) = e.target_dyn_into::<HtmlSelectElement>() else {
                return;
            };
            on_network.emit(match select.value().as_str() {
                "loaded" => GradientNetwork::Loaded,
                value => GradientNetwork::HeInit {
                    arch: if INIT_ARCHITECTURES.contains(&value) {
                        value.to_string()
                    } else {
                        arch.clone()
                            .unwrap_or_else(|| GradientNetwork::DEFAULT_INIT_ARCH.into())
                    },
                    seed,
                    options,
                },
            });
        })
    };
    let on_seed = {
        let on_network = props.on_network.clone();
        let arch = arch.clone();
        Callback::from(move |e: Event| {
            let Some(input) = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok())
            else {
                return;
            };
            if let (Some(arch), Ok(seed)) = (arch.clone(), input.value().trim().parse::<u64>()) {
                on_network.emit(GradientNetwork::HeInit {
                    arch,
                    seed,
                    options,
                });
            }
        })
    };
    let on_bn = {
        let on_network = props.on_network.clone();
        let arch = arch.clone();
        Callback::from(move |e: Event| {
            let (Some(select), Some(arch)) =
                (e.target_dyn_into::<HtmlSelectElement>(), arch.clone())
            else {
                return;
            };
            let batch_norm = BatchNormMode::parse(&select.value()).unwrap_or_default();
            on_network.emit(GradientNetwork::HeInit {
                arch,
                seed,
                options: HeInitOptions {
                    batch_norm,
                    ..options
                },
            });
        })
    };
    let on_zero_init = {
        let on_network = props.on_network.clone();
        let arch = arch.clone();
        Callback::from(move |e: Event| {
            let (Some(input), Some(arch)) = (
                e.target()
                    .and_then(|t| t.dyn_into::<HtmlInputElement>().ok()),
                arch.clone(),
            ) else {
                return;
            };
            on_network.emit(GradientNetwork::HeInit {
                arch,
                seed,
                options: HeInitOptions {
                    zero_init_residual: input.checked(),
                    ..options
                },
            });
        })
    };
    let selected = arch.clone().unwrap_or_else(|| "loaded".into());
    let mode = html! {
        <label class="field compact">
            { "Network" }
            <select data-testid="grad-network" onchange={on_mode}>
                <option value="loaded" selected={selected == "loaded"}>{ "the loaded model (trained)" }</option>
                { for INIT_ARCHITECTURES.iter().map(|a| html! {
                    <option value={*a} selected={selected == *a}>{ format!("{} — He init, untrained", arch_title(a)) }</option>
                }) }
            </select>
        </label>
    };
    let seed_field = arch.is_some().then(|| {
        html! {
            <label class="field compact seed">
                { "Seed" }
                <input type="number" min="0" step="1" value={seed.to_string()} onchange={on_seed} data-testid="grad-seed" />
            </label>
        }
    });
    let init_options = arch.is_some().then(|| {
        let train = options.batch_norm == BatchNormMode::Train;
        html! {
            <>
                <label class="field compact" title="Eval: the stored statistics, at initialisation mean 0 and variance 1, so BatchNorm is the identity. Train: each channel normalised by the statistics of a batch (the input and 7 noise images), as during training.">
                    { "BatchNorm" }
                    <select data-testid="grad-bn" onchange={on_bn}>
                        <option value="eval" selected={!train}>{ "eval (fresh statistics: identity)" }</option>
                        <option value="train" selected={train}>{ "train (batch of 8)" }</option>
                    </select>
                </label>
                <label class="field compact checkbox" title="torchvision's zero_init_residual: the last BatchNorm γ of every residual branch is 0, so every branch starts at 0 and the signal initially passes through the shortcuts; an identity-shortcut block is then the identity (Goyal et al. 2017, §5.1).">
                    <input type="checkbox" checked={options.zero_init_residual} onchange={on_zero_init} data-testid="grad-zero-init" />
                    { "zero-init residual γ" }
                </label>
            </>
        }
    });

    // Classes: the photo's top-5 for the trained model, then its Teach classes (a head's logit).
    let class_picker = match (&g.network, &props.photo) {
        (GradientNetwork::Loaded, Some(photo)) if !photo.top.is_empty() => {
            let current = g
                .report
                .as_ref()
                .map(|r| ClassRef::of(&r.analysis))
                .or(g.class)
                .or(photo.top.first().map(|p| ClassRef::Model(p.index)));
            let chip = |class: ClassRef, p: &PredictionRow, top1: bool| {
                let on_class = props.on_class.clone();
                let chosen = current == Some(class);
                let (index, taught) = match class {
                    ClassRef::Model(i) => (i, false),
                    ClassRef::Taught(i) => (i, true),
                };
                html! {
                    <button class={classes!("chip", chosen.then_some("chosen"), taught.then_some("taught"))}
                            data-testid="grad-class" data-index={index.to_string()} data-taught={taught.to_string()}
                            aria-pressed={chosen.to_string()}
                            onclick={Callback::from(move |_| on_class.emit((!top1).then_some(class)))}>
                        { format!("{} {:.0}%", p.label, p.prob * 100.0) }
                    </button>
                }
            };
            html! {
                <div class="class-chips" role="group" aria-label="Class to explain">
                    { for photo.top.iter().enumerate().map(|(rank, p)| chip(ClassRef::Model(p.index), p, rank == 0)) }
                    { for photo.custom.iter().map(|p| chip(ClassRef::Taught(p.index), p, false)) }
                </div>
            }
        }
        _ => html! {},
    };
    let download = g.report.clone().map(|report| {
        html! {
            <button class="button secondary" data-testid="grad-download"
                    onclick={Callback::from(move |_| download_json(&report))}>{ "Download JSON" }</button>
        }
    });
    html! {
        <div class="grad-controls">
            { mode }
            { for seed_field }
            { for init_options }
            { class_picker }
            { for download }
        </div>
    }
}

/// `cifar56@3`, plus `+bn-train` and `+zero-init` for the non-default choices.
fn network_tag(arch: &str, seed: u64, options: &HeInitOptions) -> String {
    let mut tag = format!("{arch}@{seed}");
    if options.batch_norm == BatchNormMode::Train {
        tag.push_str("+bn-train");
    }
    if options.zero_init_residual {
        tag.push_str("+zero-init");
    }
    tag
}

/// `cifar56` → "CIFAR ResNet-56", `resnet18` → "ResNet-18".
fn arch_title(arch: &str) -> String {
    if let Some(depth) = arch.strip_prefix("resnet") {
        format!("ResNet-{depth}")
    } else if let Some(depth) = arch.strip_prefix("cifar") {
        format!("CIFAR ResNet-{depth}")
    } else {
        arch.to_string()
    }
}

#[derive(Properties, PartialEq)]
struct HeadlineProps {
    report: Rc<GradientReport>,
    photo: Option<Photo>,
}

/// The one-line result: what was explained, the contrast at the first block, the cost.
#[function_component(Headline)]
fn headline(props: &HeadlineProps) -> Html {
    let r = &props.report;
    let a = &r.analysis;
    let network = match &r.network {
        GradientNetwork::Loaded => r.analysis.model.clone(),
        GradientNetwork::HeInit {
            arch,
            seed,
            options,
        } => format!(
            "{} (He init, seed {seed}, BatchNorm {}{})",
            arch_title(arch),
            match options.batch_norm {
                BatchNormMode::Eval => "as identity",
                BatchNormMode::Train => "on a batch of 8",
            },
            if options.zero_init_residual {
                ", zero-init residual γ"
            } else {
                ""
            }
        ),
    };
    let contrast = r.analysis.blocks.first().map(|first| {
        let ratio = first.grad_norm / first.plain_grad_norm;
        let times = if ratio.is_finite() && ratio > 0.0 {
            let decades = ratio.log10();
            if decades >= 3.0 {
                format!("10^{decades:.1} times")
            } else {
                format!("{ratio:.1} times")
            }
        } else {
            "infinitely".into()
        };
        html! {
            <p class="contrast" data-testid="grad-contrast">
                { format!("At {}, the first block, the gradient is {} with skip connections and {} without them: ",
                    first.block, format_norm(first.grad_norm), format_norm(first.plain_grad_norm)) }
                <strong>{ format!("{times} {}.", if ratio >= 1.0 { "larger" } else { "smaller" }) }</strong>
            </p>
        }
    });
    let forward = props
        .photo
        .as_ref()
        .and_then(|p| p.timings)
        .filter(|_| r.network == GradientNetwork::Loaded)
        .map(|t| t.inference_ms + t.readback_ms);
    let cost = match forward {
        Some(f) if f > 0.0 => format!(
            "{} on {} ≈ {:.1} classifications",
            format_ms(r.analysis_ms),
            r.backend.as_str(),
            r.analysis_ms / f
        ),
        _ => format!("{} on {}", format_ms(r.analysis_ms), r.backend.as_str()),
    };
    html! {
        <div class="headline">
            <p class="small">
                <strong>{ network }</strong>
                { format!(" · {} {} “{}” · logit z = {:.3} · {} blocks · {cost}",
                          if a.taught { "your class" } else { "class" }, a.class, a.label, a.logit, a.blocks.len()) }
            </p>
            { for contrast }
        </div>
    }
}

/// Saves the report as `gradients-<model>-class<N>.json` (`-taught<N>` for a Teach class).
fn download_json(report: &GradientReport) {
    let Ok(json) = serde_json::to_string_pretty(report) else {
        return;
    };
    let blob = gloo::file::Blob::new_with_options(json.as_str(), Some("application/json"));
    let url = gloo::file::ObjectUrl::from(blob);
    let document = gloo::utils::document();
    let Ok(anchor) = document.create_element("a") else {
        return;
    };
    let anchor: web_sys::HtmlAnchorElement = anchor.unchecked_into();
    anchor.set_href(&url);
    let kind = if report.analysis.taught {
        "taught"
    } else {
        "class"
    };
    anchor.set_download(&format!(
        "gradients-{}-{kind}{}.json",
        report.analysis.model, report.analysis.class
    ));
    anchor.click();
    // Revoke the URL once the download has surely started.
    gloo::timers::callback::Timeout::new(10_000, move || drop(url)).forget();
}
