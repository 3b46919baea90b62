//! The lesion chart: per deleted block, the share of photos that keep their top-1 class, the
//! residual network's bar beside the plain network's, on a linear 0–100 % scale.

use yew::prelude::*;

use crate::chart_geometry::columns;
use resnet_lab_protocol::lab::LesionBlock;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 280.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = WIDTH - 12.0;
const TOP: f64 = 16.0;
const BOTTOM: f64 = HEIGHT - 44.0;

fn y(share: f64) -> f64 {
    BOTTOM - share.clamp(0.0, 1.0) * (BOTTOM - TOP)
}

#[derive(Properties, PartialEq)]
pub struct LesionChartProps {
    pub residual: Vec<LesionBlock>,
    pub plain: Vec<LesionBlock>,
}

#[function_component(LesionChart)]
pub fn lesion_chart(props: &LesionChartProps) -> Html {
    let blocks = &props.residual;
    let (xs, column) = columns(blocks.len(), LEFT, RIGHT);
    let bar = (column * 0.36).min(16.0);

    let grid = [0.0, 0.25, 0.5, 0.75, 1.0].into_iter().map(|share| {
        let y = y(share);
        html! {
            <g class="grid">
                <line x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={y.to_string()} y2={y.to_string()} />
                <text x={(LEFT - 6.0).to_string()} y={(y + 4.0).to_string()} text-anchor="end">{ format!("{:.0}%", share * 100.0) }</text>
            </g>
        }
    });
    let rect = |class: &'static str, b: &LesionBlock, x: f64, what: &str| {
        let top = y(b.outcome.top1_unchanged);
        html! {
            <rect class={class} x={x.to_string()} y={top.to_string()}
                  width={bar.to_string()} height={(BOTTOM - top).max(0.0).to_string()}>
                <title>{ format!("{} deleted from the {what} network: {:.0}% keep their top-1, mean p {:.3}",
                                 b.block, b.outcome.top1_unchanged * 100.0, b.outcome.mean_prob) }</title>
            </rect>
        }
    };
    let bars = blocks.iter().zip(&xs).enumerate().map(|(i, (b, &x))| {
        let plain = props.plain.get(i);
        html! {
            <g>
                { rect("bar-lesion-residual", b, x - bar - 0.5, "residual") }
                { for plain.map(|p| rect("bar-lesion-plain", p, x + 0.5, "plain")) }
            </g>
        }
    });
    let ticks = blocks.iter().zip(&xs).map(|(b, &x)| {
        html! {
            <g class="x-tick">
                if b.downsample {
                    <text class="downsample" x={x.to_string()} y={(BOTTOM + 14.0).to_string()} text-anchor="middle">
                        { if b.stride > 1 { "▼" } else { "◆" } }
                    </text>
                }
                <text x={x.to_string()} y={(BOTTOM + 28.0).to_string()} text-anchor="middle">{ b.block.trim_start_matches("layer").to_string() }</text>
            </g>
        }
    });
    html! {
        <figure class="grad-chart lesion-chart">
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img"
                 aria-label="Share of photos keeping their top-1 class with each block deleted: residual and plain network">
                { for grid }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                <line class="axis" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={BOTTOM.to_string()} y2={BOTTOM.to_string()} />
                { for bars }
                { for ticks }
            </svg>
            <figcaption class="legend">
                <span><i class="key key-residual"></i>{ "block deleted from the residual network" }</span>
                <span><i class="key key-plain"></i>{ "deleted from the same weights without skips" }</span>
                <span class="muted">{ "▼ downsampling block (projection shortcut, which stays)" }</span>
            </figcaption>
        </figure>
    }
}
