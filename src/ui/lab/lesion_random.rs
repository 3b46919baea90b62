//! The lesion tab's random-deletion curve (Veit et al. 2016, Figure 5a): against k, the
//! share of photos that keep the intact network's top-1 class and the mean probability of
//! that class, each the mean over the draws (drawn as faint dots); k = 0 is the intact
//! network. Its numbers per k and per draw in a table.

use yew::prelude::*;

use resnet_lab_protocol::lab::{LesionIntact, RandomCurve};

const W: f64 = 560.0;
const H: f64 = 240.0;
const LEFT: f64 = 50.0;
const RIGHT: f64 = W - 14.0;
const TOP: f64 = 14.0;
const BOTTOM: f64 = H - 34.0;

fn y(share: f64) -> f64 {
    BOTTOM - share.clamp(0.0, 1.0) * (BOTTOM - TOP)
}

fn polyline(points: &[(f64, f64)]) -> String {
    points
        .iter()
        .map(|(x, y)| format!("{x:.1},{y:.1}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Properties, PartialEq)]
pub struct RandomResultProps {
    pub random: RandomCurve,
    /// The intact network's classes (k = 0: every top-1 kept, its mean probability).
    pub intact: LesionIntact,
}

#[function_component(RandomResult)]
pub fn random_result(props: &RandomResultProps) -> Html {
    let curve = &props.random.curve;
    let max_k = curve.iter().map(|p| p.k).max().unwrap_or(1).max(1);
    let x = |k: usize| LEFT + k as f64 / max_k as f64 * (RIGHT - LEFT);
    let probs: Vec<f64> = props
        .intact
        .top
        .iter()
        .filter_map(|rows| rows.first().map(|r| f64::from(r.prob)))
        .collect();
    let intact_prob = (!probs.is_empty()).then(|| probs.iter().sum::<f64>() / probs.len() as f64);

    let mut kept = vec![(x(0), y(1.0))];
    kept.extend(curve.iter().map(|p| (x(p.k), y(p.top1_unchanged))));
    let mut prob: Vec<(f64, f64)> = intact_prob.map(|p| (x(0), y(p))).into_iter().collect();
    prob.extend(curve.iter().map(|p| (x(p.k), y(p.mean_prob))));
    let grid = [0.0, 0.25, 0.5, 0.75, 1.0].into_iter().map(|share| {
        let yv = y(share);
        html! {
            <g class="grid">
                <line x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={yv.to_string()} y2={yv.to_string()} />
                <text x={(LEFT - 6.0).to_string()} y={(yv + 4.0).to_string()} text-anchor="end">{ format!("{:.0}%", share * 100.0) }</text>
            </g>
        }
    });
    let draws = curve.iter().flat_map(|p| {
        p.draws.iter().map(move |d| {
            html! {
                <circle class="dot-draw" cx={x(p.k).to_string()} cy={y(d.top1_unchanged).to_string()} r="2.5">
                    <title>{ format!("k = {}: {} deleted, {:.0}% keep their top-1", p.k, d.blocks.join(", "), d.top1_unchanged * 100.0) }</title>
                </circle>
            }
        })
    });
    let dots = |points: &[(f64, f64)], class: &'static str| -> Html {
        html! {
            <>{ for points.iter().map(|(cx, cy)| html! { <circle class={class} cx={cx.to_string()} cy={cy.to_string()} r="3.5" /> }) }</>
        }
    };
    let ticks = (0..=max_k).map(|k| {
        html! { <text x={x(k).to_string()} y={(BOTTOM + 16.0).to_string()} text-anchor="middle">{ k }</text> }
    });
    let rows = curve.iter().map(|p| {
        html! {
            <tr data-testid="lesion-random" data-k={p.k.to_string()}
                data-top1-unchanged={p.top1_unchanged.to_string()} data-mean-prob={p.mean_prob.to_string()}
                data-draws={p.draws.len().to_string()}>
                <td class="num">{ p.k }</td>
                <td class="num">{ format!("{:.0}%", p.top1_unchanged * 100.0) }</td>
                <td class="num">{ format!("{:.3}", p.mean_prob) }</td>
                <td>
                    { for p.draws.iter().map(|d| html! {
                        <span class="lesion-draw" data-testid="lesion-random-draw" data-k={p.k.to_string()}
                              data-blocks={d.blocks.join(",")} data-top1-unchanged={d.top1_unchanged.to_string()}
                              title={format!("{:.0}% kept, mean p {:.3}", d.top1_unchanged * 100.0, d.mean_prob)}>
                            { d.blocks.join(" + ") }
                        </span>
                    }) }
                </td>
            </tr>
        }
    });
    html! {
        <div class="lesion-random" data-testid="lesion-random-curve">
            <h4>{ format!("k random blocks deleted (mean of {} draw{} per k, seed {})",
                          props.random.draws, if props.random.draws == 1 { "" } else { "s" }, props.random.seed) }</h4>
            if curve.is_empty() {
                <p class="muted small">{ "The random deletions come after the single blocks." }</p>
            } else {
                <figure class="grad-chart lesion-random-chart">
                    <svg viewBox={format!("0 0 {W} {H}")} role="img"
                         aria-label="Share of photos keeping their top-1 class, and mean probability of that class, against the number of random blocks deleted">
                        { for grid }
                        <line class="axis" x1={LEFT.to_string()} x2={LEFT.to_string()} y1={TOP.to_string()} y2={BOTTOM.to_string()} />
                        <line class="axis" x1={LEFT.to_string()} x2={RIGHT.to_string()} y1={BOTTOM.to_string()} y2={BOTTOM.to_string()} />
                        { for draws }
                        <polyline class="curve-residual" points={polyline(&kept)} />
                        { dots(&kept, "dot-residual") }
                        <polyline class="curve-prob" points={polyline(&prob)} />
                        { dots(&prob, "dot-prob") }
                        { for ticks }
                        <text x={((LEFT + RIGHT) / 2.0).to_string()} y={(H - 4.0).to_string()} text-anchor="middle">
                            { "k: blocks deleted at random from the residual network (0: intact)" }
                        </text>
                    </svg>
                    <figcaption class="legend">
                        <span><i class="key key-residual"></i>{ "photos keeping their top-1 class (mean over the draws)" }</span>
                        <span><i class="key key-prob"></i>{ "mean probability of the intact top-1 class" }</span>
                        <span class="muted">{ "dots: single draws" }</span>
                    </figcaption>
                </figure>
            }
            <details>
                <summary>{ "Numbers per k" }</summary>
                <table class="lesion-table">
                    <thead><tr><th>{ "k" }</th><th>{ "top-1 kept" }</th><th>{ "mean p" }</th><th>{ "blocks deleted in each draw" }</th></tr></thead>
                    <tbody>{ for rows }</tbody>
                </table>
            </details>
        </div>
    }
}
