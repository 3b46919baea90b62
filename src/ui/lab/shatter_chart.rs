//! The shattered-gradients charts: one network's dz/dt along the line, and the lag-1
//! autocorrelation against depth for the plain and the residual networks.

use std::rc::Rc;

use yew::prelude::*;

use resnet_lab_protocol::lab_runs::{LabNetwork, ShatterCurve};

const LINE_W: f64 = 360.0;
const LINE_H: f64 = 110.0;

#[derive(Properties, PartialEq)]
pub struct LineChartProps {
    pub curve: Rc<ShatterCurve>,
}

/// dz/dt against t, scaled to its largest magnitude (the shape is what matters).
#[function_component(LineChart)]
pub fn line_chart(props: &LineChartProps) -> Html {
    let c = &props.curve;
    let scale = c.grad.iter().fold(0.0f64, |m, g| m.max(g.abs())).max(1e-30);
    let points: Vec<String> =
        c.t.iter()
            .zip(&c.grad)
            .map(|(t, g)| {
                let x = (t + 1.0) / 2.0 * LINE_W;
                let y = LINE_H / 2.0 - g / scale * (LINE_H / 2.0 - 4.0);
                format!("{x:.1},{y:.1}")
            })
            .collect();
    let title = LabNetwork::new(&c.arch, c.plain).title();
    let class = if c.plain {
        "curve-plain"
    } else {
        "curve-residual"
    };
    html! {
        <figure class="grad-chart shatter-line" data-testid="shatter-curve" data-arch={c.arch.clone()}
                data-plain={c.plain.to_string()} data-lag1={c.lag1.to_string()}
                data-points={c.grad.len().to_string()}>
            <svg viewBox={format!("0 0 {LINE_W} {LINE_H}")} role="img"
                 aria-label={format!("{title}: dz/dt along the line, lag-1 autocorrelation {:.2}", c.lag1)}>
                <line class="axis" x1="0" x2={LINE_W.to_string()} y1={(LINE_H / 2.0).to_string()} y2={(LINE_H / 2.0).to_string()} />
                <polyline class={classes!(class, "thin")} points={points.join(" ")} />
            </svg>
            <figcaption class="small">
                <strong>{ title }</strong>{ format!(" · lag-1 r = {:.2} · max |dz/dt| {:.2e}", c.lag1, scale) }
            </figcaption>
        </figure>
    }
}

const W: f64 = 420.0;
const H: f64 = 200.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = W - 16.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = H - 30.0;

fn y_of(r: f64) -> f64 {
    // −1 … 1 from bottom to top.
    BOTTOM - (r.clamp(-1.0, 1.0) + 1.0) / 2.0 * (BOTTOM - TOP)
}

/// `(depth, plain lag-1, residual lag-1)`.
type Lag1Row = (usize, Option<f64>, Option<f64>);

#[derive(Properties, PartialEq)]
pub struct Lag1ChartProps {
    /// Shallowest first.
    pub rows: Vec<Lag1Row>,
}

/// Lag-1 autocorrelation against depth (Balduzzi et al.'s summary).
#[function_component(Lag1Chart)]
pub fn lag1_chart(props: &Lag1ChartProps) -> Html {
    let max_depth = props.rows.iter().map(|r| r.0).max().unwrap_or(1).max(1) as f64;
    let x_of = |d: usize| LEFT + d as f64 / max_depth * (RIGHT - LEFT);
    let series = |pick: fn(&Lag1Row) -> Option<f64>, class: &'static str| {
        let pts: Vec<(f64, f64)> = props
            .rows
            .iter()
            .filter_map(|row| pick(row).map(|r| (x_of(row.0), y_of(r))))
            .collect();
        let line: Vec<String> = pts.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
        let dot = if class == "curve-plain" {
            "dot-plain"
        } else {
            "dot-residual"
        };
        html! {
            <g>
                <polyline class={class} points={line.join(" ")} />
                { for pts.iter().map(|(x, y)| html! { <circle class={dot} cx={x.to_string()} cy={y.to_string()} r="3.5" /> }) }
            </g>
        }
    };
    let grid = [-1.0, -0.5, 0.0, 0.5, 1.0].into_iter().map(|r| {
        let y = y_of(r);
        html! {
            <g class="grid">
                <line x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={y.to_string()} y2={y.to_string()} />
                <text x={(LEFT - 6.0).to_string()} y={(y + 4.0).to_string()} text-anchor="end">{ format!("{r}") }</text>
            </g>
        }
    });
    let ticks = props.rows.iter().map(|row| {
        html! {
            <text x={x_of(row.0).to_string()} y={(BOTTOM + 16.0).to_string()} text-anchor="middle">{ row.0 }</text>
        }
    });
    html! {
        <figure class="grad-chart lag1-chart" data-testid="shatter-lag1-chart">
            <svg viewBox={format!("0 0 {W} {H}")} role="img"
                 aria-label="Lag-1 autocorrelation of the gradient along the line, against depth: plain and residual networks">
                { for grid }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                { series(|r| r.2, "curve-residual") }
                { series(|r| r.1, "curve-plain") }
                { for ticks }
                <text x={((LEFT + RIGHT) / 2.0).to_string()} y={(H - 2.0).to_string()} text-anchor="middle">{ "depth (layers)" }</text>
            </svg>
            <figcaption class="legend">
                <span><i class="key key-residual"></i>{ "residual network" }</span>
                <span><i class="key key-plain"></i>{ "plain network (no skips)" }</span>
                <span class="muted">{ "lag-1 autocorrelation of dz/dt: 1 smooth, 0 white noise" }</span>
            </figcaption>
        </figure>
    }
}
