//! The forward pass beside the backward one: ‖x_b‖, the activation at each block's input, for
//! the residual and the plain network on a log scale. Growth here is what makes a large
//! residual/plain gradient ratio at initialisation (the residual stream growing, not the plain
//! network vanishing).

use yew::prelude::*;

use super::gradient_chart::{Frame, decade_grid, stage_bands};
use crate::chart_geometry::{LogAxis, columns, format_norm};
use resnet_lab_protocol::BlockGradient;

const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 170.0;
const LEFT: f64 = 58.0;
const RIGHT: f64 = WIDTH - 12.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = HEIGHT - 22.0;

#[derive(Properties, PartialEq)]
pub struct ActivationChartProps {
    pub blocks: Vec<BlockGradient>,
    pub hovered: Option<usize>,
}

#[function_component(ActivationChart)]
pub fn activation_chart(props: &ActivationChartProps) -> Html {
    let blocks = &props.blocks;
    let axis = LogAxis::fit(
        blocks.iter().flat_map(|b| [b.act_norm, b.plain_act_norm]),
        BOTTOM,
        TOP,
    );
    let (xs, column) = columns(blocks.len(), LEFT, RIGHT);
    let frame = Frame {
        left: LEFT,
        right: RIGHT,
        top: TOP,
        bottom: BOTTOM,
    };
    let grid = decade_grid(&axis, 5, frame);
    let stages = stage_bands(blocks, &xs, column, frame, false);
    let curve = |pick: fn(&BlockGradient) -> f64| -> String {
        blocks
            .iter()
            .zip(&xs)
            .map(|(b, x)| format!("{x:.1},{:.1}", axis.y(pick(b))))
            .collect::<Vec<_>>()
            .join(" ")
    };
    let readout = props
        .hovered
        .and_then(|i| Some((blocks.get(i)?, xs[i])))
        .map(|(b, x)| {
            let anchor = if x > (LEFT + RIGHT) / 2.0 { "end" } else { "start" };
            let dx = if anchor == "end" { -8.0 } else { 8.0 };
            html! {
                <g class="tooltip" pointer-events="none">
                    <line class="hover-line" x1={x.to_string()} x2={x.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                    <text x={(x + dx).to_string()} y={(TOP + 14.0).to_string()} text-anchor={anchor}>
                        { format!("{}: ‖x‖ {} with skips, {} without", b.block, format_norm(b.act_norm), format_norm(b.plain_act_norm)) }
                    </text>
                </g>
            }
        });
    html! {
        <figure class="grad-chart activation-chart" data-testid="activation-chart">
            <svg viewBox={format!("0 0 {WIDTH} {HEIGHT}")} role="img"
                 aria-label="Activation norm at each block's input, log scale: residual network and plain network">
                { stages }
                { grid }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                <line class="axis" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={BOTTOM.to_string()} y2={BOTTOM.to_string()} />
                <polyline class="curve-plain" points={curve(|b| b.plain_act_norm)} />
                <polyline class="curve-residual" points={curve(|b| b.act_norm)} />
                <text class="axis-title" x="14" y={((TOP + BOTTOM) / 2.0).to_string()}
                      transform={format!("rotate(-90 14 {})", (TOP + BOTTOM) / 2.0)} text-anchor="middle">{ "‖x_b‖₂" }</text>
                { for readout }
            </svg>
            <figcaption class="legend muted small">
                { "Forward pass: the size of the activation entering each block (same colours: solid with skips, dashed without)." }
            </figcaption>
        </figure>
    }
}
