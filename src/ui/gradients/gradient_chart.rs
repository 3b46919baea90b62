//! The gradient chart: ‖∂z/∂x_b‖ against block depth on a log scale, the residual and the
//! plain network on the same axes, and each block's split into shortcut and branch.

use yew::prelude::*;

use crate::chart_geometry::{LogAxis, columns, decade_label, format_norm, stage_name, stage_spans};
use resnet_lab_protocol::BlockGradient;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 320.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = WIDTH - 12.0;
const TOP: f64 = 26.0;
const BOTTOM: f64 = HEIGHT - 44.0;
const FRAME: Frame = Frame {
    left: LEFT,
    right: RIGHT,
    top: TOP,
    bottom: BOTTOM,
};

/// The plot area of a chart, in SVG units.
#[derive(Clone, Copy)]
pub(super) struct Frame {
    pub left: f64,
    pub right: f64,
    pub top: f64,
    pub bottom: f64,
}

/// A horizontal line at each of `axis`'s decades (about `ticks` of them), labelled on the left.
pub(super) fn decade_grid(axis: &LogAxis, ticks: usize, f: Frame) -> Html {
    axis.ticks(ticks)
        .into_iter()
        .map(|e| {
            let y = axis.y(10f64.powi(e));
            html! {
                <g class="grid">
                    <line x1={f.left.to_string()} x2={f.right.to_string()} y1={y.to_string()} y2={y.to_string()} />
                    <text x={(f.left - 6.0).to_string()} y={(y + 4.0).to_string()} text-anchor="end">{ decade_label(e) }</text>
                </g>
            }
        })
        .collect()
}

/// Alternately shaded bands behind each stage's columns (`xs`, `column` wide), with the
/// stage's name above when `labelled`.
pub(super) fn stage_bands(
    blocks: &[BlockGradient],
    xs: &[f64],
    column: f64,
    f: Frame,
    labelled: bool,
) -> Html {
    stage_spans(blocks)
        .into_iter()
        .map(|(stage, first, last)| {
            let x0 = xs[first] - column / 2.0;
            let x1 = xs[last] + column / 2.0;
            let label = labelled.then(|| html! {
                <text x={((x0 + x1) / 2.0).to_string()} y={(f.top - 8.0).to_string()} text-anchor="middle">{ stage_name(&blocks[first]) }</text>
            });
            html! {
                <g class={classes!("stage-band", (stage % 2 == 0).then_some("even"))}>
                    <rect x={x0.to_string()} y={f.top.to_string()} width={(x1 - x0).to_string()} height={(f.bottom - f.top).to_string()} />
                    { for label }
                </g>
            }
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct GradientChartProps {
    pub blocks: Vec<BlockGradient>,
    pub hovered: Option<usize>,
    pub on_hover: Callback<Option<usize>>,
}

/// One SVG: stage bands, decade grid, shortcut/branch bars, residual and plain curves, and a
/// transparent column per block that reports hovering.
#[function_component(GradientChart)]
pub fn gradient_chart(props: &GradientChartProps) -> Html {
    let blocks = &props.blocks;
    let axis = LogAxis::fit(
        blocks.iter().flat_map(|b| {
            [
                b.grad_norm,
                b.plain_grad_norm,
                b.shortcut_norm,
                b.residual_norm,
            ]
        }),
        BOTTOM,
        TOP,
    );
    let (xs, column) = columns(blocks.len(), LEFT, RIGHT);
    let bar = (column * 0.32).min(14.0);

    let grid = decade_grid(&axis, 9, FRAME);
    // Stages: alternate shaded bands, labelled `layer1`...
    let stages = stage_bands(blocks, &xs, column, FRAME, true);

    let bars = blocks.iter().zip(&xs).map(|(b, &x)| {
        let rect = |class: &'static str, value: f64, dx: f64| {
            let y = axis.y(value);
            html! {
                <rect class={class} x={(x + dx).to_string()} y={y.to_string()}
                      width={bar.to_string()} height={(BOTTOM - y).max(0.0).to_string()} />
            }
        };
        html! {
            <g>
                { rect("bar-shortcut", b.shortcut_norm, -bar - 0.5) }
                { rect("bar-residual", b.residual_norm, 0.5) }
            </g>
        }
    });

    let curve = |pick: fn(&BlockGradient) -> f64| -> String {
        blocks
            .iter()
            .zip(&xs)
            .map(|(b, x)| format!("{x:.1},{:.1}", axis.y(pick(b))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let dots = |class: &'static str, pick: fn(&BlockGradient) -> f64| {
        blocks
            .iter()
            .zip(&xs)
            .map(|(b, x)| {
                html! { <circle class={class} cx={x.to_string()} cy={axis.y(pick(b)).to_string()} r="3" /> }
            })
            .collect::<Html>()
    };

    // Downsampling blocks (stride 2, projection shortcut) get a marker under the axis.
    let ticks = blocks.iter().zip(&xs).enumerate().map(|(i, (b, &x))| {
        let label = if blocks.len() <= 20 || i % 2 == 0 {
            b.block.trim_start_matches("layer").to_string()
        } else {
            String::new()
        };
        html! {
            <g class="x-tick">
                if b.projection {
                    <text class="downsample" x={x.to_string()} y={(BOTTOM + 14.0).to_string()} text-anchor="middle">
                        { if b.stride > 1 { "▼" } else { "◆" } }
                        <title>{ if b.stride > 1 { format!("{}: downsamples (stride {}), projection shortcut", b.block, b.stride) } else { format!("{}: projection shortcut (channels change)", b.block) } }</title>
                    </text>
                }
                <text x={x.to_string()} y={(BOTTOM + 28.0).to_string()} text-anchor="middle">{ label }</text>
            </g>
        }
    });

    let hover_columns = xs.iter().enumerate().map(|(i, &x)| {
        let on_hover = props.on_hover.clone();
        let leave = props.on_hover.clone();
        let focused = props.hovered == Some(i);
        html! {
            <rect class={classes!("hover-column", focused.then_some("focused"))}
                  x={(x - column / 2.0).to_string()} y={TOP.to_string()}
                  width={column.to_string()} height={(BOTTOM - TOP).to_string()}
                  onmouseenter={Callback::from(move |_| on_hover.emit(Some(i)))}
                  onmouseleave={Callback::from(move |_| leave.emit(None))} />
        }
    });

    let tooltip = props.hovered.and_then(|i| Some((blocks.get(i)?, xs[i]))).map(|(b, x)| {
        let (w, h) = (230.0, 120.0);
        let tx = if x + w + 12.0 > RIGHT { x - w - 12.0 } else { x + 12.0 };
        let ty = TOP + 6.0;
        let line = |k: usize, name: &str, value: f64| {
            html! { <text x={(tx + 10.0).to_string()} y={(ty + 34.0 + 14.0 * k as f64).to_string()}>{ format!("{name}  {}", format_norm(value)) }</text> }
        };
        html! {
            <g class="tooltip" pointer-events="none">
                <rect x={tx.to_string()} y={ty.to_string()} width={w.to_string()} height={h.to_string()} rx="8" />
                <text class="tooltip-title" x={(tx + 10.0).to_string()} y={(ty + 18.0).to_string()}>
                    { format!("{} · {}→{} ch · stride {}", b.block, b.in_channels, b.out_channels, b.stride) }
                </text>
                { line(0, "‖∂z/∂x‖ residual", b.grad_norm) }
                { line(1, "  via shortcut ", b.shortcut_norm) }
                { line(2, "  via branch   ", b.residual_norm) }
                { line(3, "‖∂z/∂x‖ plain   ", b.plain_grad_norm) }
                { line(4, "‖x‖ residual    ", b.act_norm) }
                { line(5, "‖x‖ plain       ", b.plain_act_norm) }
            </g>
        }
    });

    html! {
        <figure class="grad-chart">
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img"
                 aria-label="Gradient norm per residual block, log scale: residual network and plain network">
                { stages }
                { grid }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                <line class="axis" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={BOTTOM.to_string()} y2={BOTTOM.to_string()} />
                { for bars }
                <polyline class="curve-plain" points={curve(|b| b.plain_grad_norm)} />
                <polyline class="curve-residual" points={curve(|b| b.grad_norm)} />
                { dots("dot-plain", |b| b.plain_grad_norm) }
                { dots("dot-residual", |b| b.grad_norm) }
                { for ticks }
                <text class="axis-title" x="14" y={((TOP + BOTTOM) / 2.0).to_string()}
                      transform={format!("rotate(-90 14 {})", (TOP + BOTTOM) / 2.0)} text-anchor="middle">{ "‖∂z_c/∂x_b‖₂" }</text>
                { for hover_columns }
                { for tooltip }
            </svg>
            <figcaption class="legend">
                <span><i class="key key-residual"></i>{ "with skip connections" }</span>
                <span><i class="key key-plain"></i>{ "same weights, skips removed" }</span>
                <span><i class="key key-shortcut"></i>{ "part through the shortcut" }</span>
                <span><i class="key key-branch"></i>{ "part through the branch F" }</span>
                <span class="muted">{ "▼ downsampling block (projection shortcut)" }</span>
            </figcaption>
        </figure>
    }
}
