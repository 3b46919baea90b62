//! The live training chart: each network's training loss per step (mean of the last few
//! steps, since one batch's loss is noisy), plain networks dashed, and the step from which
//! plain-56 has stayed above plain-20.

use yew::prelude::*;

use crate::state::lab_runs::{SMOOTHING, TrainCurve};

const W: f64 = 760.0;
const H: f64 = 240.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = W - 12.0;
const TOP: f64 = 12.0;
const BOTTOM: f64 = H - 30.0;

/// The mean of the last (up to) `SMOOTHING` losses at every step.
fn smoothed(curve: &TrainCurve) -> Vec<f64> {
    let losses: Vec<f64> = curve.points.iter().map(|p| p.loss).collect();
    (0..losses.len())
        .map(|i| {
            let from = (i + 1).saturating_sub(SMOOTHING);
            let part = &losses[from..=i];
            part.iter().sum::<f64>() / part.len() as f64
        })
        .collect()
}

#[derive(Properties, PartialEq)]
pub struct LossChartProps {
    pub curves: Vec<TrainCurve>,
    /// Steps asked for (the x axis' end).
    pub steps: usize,
    /// The step from which plain-56 has stayed above plain-20.
    pub marker: Option<usize>,
}

#[function_component(LossChart)]
pub fn loss_chart(props: &LossChartProps) -> Html {
    let series: Vec<Vec<f64>> = props.curves.iter().map(smoothed).collect();
    let top = series
        .iter()
        .flatten()
        .copied()
        .filter(|v| v.is_finite())
        .fold(2.5f64, f64::max)
        .ceil();
    let span = props.steps.max(2) as f64 - 1.0;
    let x = |step: usize| LEFT + step as f64 / span * (RIGHT - LEFT);
    let y = |loss: f64| BOTTOM - loss.clamp(0.0, top) / top * (BOTTOM - TOP);
    let grid = (0..=top as usize).map(|v| {
        let yv = y(v as f64);
        html! {
            <g class="grid">
                <line x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={yv.to_string()} y2={yv.to_string()} />
                <text x={(LEFT - 6.0).to_string()} y={(yv + 4.0).to_string()} text-anchor="end">{ v }</text>
            </g>
        }
    });
    let chance = y(10f64.ln());
    let lines = props.curves.iter().zip(&series).enumerate().map(|(i, (c, s))| {
        let points: Vec<String> = s
            .iter()
            .enumerate()
            .map(|(step, v)| format!("{:.1},{:.1}", x(step), y(*v)))
            .collect();
        html! {
            <polyline class={classes!(format!("series-{i}"), c.network.plain.then_some("dashed"))}
                      points={points.join(" ")}>
                <title>{ c.network.title() }</title>
            </polyline>
        }
    });
    let legend = props.curves.iter().enumerate().map(|(i, c)| {
        html! { <span><i class={classes!("key", format!("key-series-{i}"), c.network.plain.then_some("key-dashed"))}></i>{ c.network.title() }</span> }
    });
    html! {
        <figure class="grad-chart train-chart" data-testid="train-chart">
            <svg viewBox={format!("0 0 {W} {H}")} role="img" aria-label="Training loss per step of each network">
                { for grid }
                <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                <line class="axis" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={BOTTOM.to_string()} y2={BOTTOM.to_string()} />
                <line class="chance" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={chance.to_string()} y2={chance.to_string()} />
                <text x={(RIGHT - 4.0).to_string()} y={(chance - 4.0).to_string()} text-anchor="end">{ "chance (ln 10)" }</text>
                if let Some(step) = props.marker {
                    <line class="marker" x1={x(step).to_string()} x2={x(step).to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                    <text x={(x(step) + 4.0).to_string()} y={(TOP + 10.0).to_string()}>{ "plain-56 above plain-20 from here" }</text>
                }
                { for lines }
                <text x={((LEFT + RIGHT) / 2.0).to_string()} y={(H - 4.0).to_string()} text-anchor="middle">
                    { format!("step (of {}); loss: mean of the last {SMOOTHING} steps", props.steps) }
                </text>
            </svg>
            <figcaption class="legend">{ for legend }<span class="muted">{ "dashed: plain (no skips)" }</span></figcaption>
        </figure>
    }
}
