//! The training curve: loss (scaled to its first value) and training / held-out accuracy
//! per epoch, as an SVG drawn from the page state.

use yew::prelude::*;

use crate::state::teach::{TrainState, Training};

const W: f64 = 320.0;
const H: f64 = 120.0;

fn polyline(points: &[(usize, f64)], epochs: usize) -> String {
    let span = epochs.max(1) as f64;
    points
        .iter()
        .map(|&(e, v)| {
            format!(
                "{:.1},{:.1}",
                e as f64 / span * W,
                H - v.clamp(0.0, 1.0) * H
            )
        })
        .collect::<Vec<_>>()
        .join(" ")
}

#[derive(Properties, PartialEq)]
pub struct CurveProps {
    pub training: Training,
}

#[function_component(TrainingCurve)]
pub fn training_curve(props: &CurveProps) -> Html {
    let t = &props.training;
    let first_loss = t.points.first().map(|p| p.loss).unwrap_or(1.0).max(1e-9);
    let loss: Vec<(usize, f64)> = t
        .points
        .iter()
        .map(|p| (p.epoch, p.loss / first_loss))
        .collect();
    let train: Vec<(usize, f64)> = t
        .points
        .iter()
        .map(|p| (p.epoch, p.train_accuracy))
        .collect();
    let val: Vec<(usize, f64)> = t
        .points
        .iter()
        .filter_map(|p| p.val_accuracy.map(|v| (p.epoch, v)))
        .collect();
    html! {
        <figure class="teach-curve">
            <svg viewBox={format!("-4 -4 {} {}", W + 8.0, H + 8.0)} width="100%" height="140" role="img"
                 aria-label="loss and accuracy per epoch" data-testid="training-curve">
                <rect x="0" y="0" width={W.to_string()} height={H.to_string()} fill="none" stroke="currentColor" stroke-opacity="0.2" />
                <polyline points={polyline(&loss, t.epochs)} fill="none" stroke="#d9534f" stroke-width="2" />
                <polyline points={polyline(&train, t.epochs)} fill="none" stroke="#2b7bb9" stroke-width="2" />
                <polyline points={polyline(&val, t.epochs)} fill="none" stroke="#3c9d5d" stroke-width="2" stroke-dasharray="4 3" />
            </svg>
            <figcaption class="small muted">
                <span style="color:#d9534f">{ "— loss (÷ first epoch's)" }</span>{ " · " }
                <span style="color:#2b7bb9">{ "— training accuracy" }</span>{ " · " }
                <span style="color:#3c9d5d">{ "- - held-out accuracy" }</span>
            </figcaption>
        </figure>
    }
}

/// The training status line, progress bar and curve (`[data-testid=training]`).
pub fn training_view(training: Option<&Training>) -> Html {
    let Some(t) = training else { return html! {} };
    let last = t.last();
    let fmt = |v: Option<f64>| v.map(|v| format!("{v:.4}")).unwrap_or_default();
    let train = fmt(last.map(|p| p.train_accuracy));
    let val = fmt(last.and_then(|p| p.val_accuracy));
    let pct = |v: Option<f64>| {
        v.map(|v| format!("{:.0}%", v * 100.0))
            .unwrap_or("–".into())
    };
    let held = match t.validation.as_deref() {
        Some("leave_one_out") => "held out (leave-one-out)",
        Some("split") => "held out (20% split)",
        _ => "held out",
    };
    let progress = match t.augmenting {
        Some((done, total)) => done as f64 / total.max(1) as f64 * 100.0,
        None => t.points.len() as f64 / t.epochs.max(1) as f64 * 100.0,
    };
    let opt = |v: Option<String>| v.unwrap_or_default();
    html! {
        <div class="teach-training" data-testid="training" data-state={t.state.as_str()}
             data-train-accuracy={train} data-val-accuracy={val} data-epochs={t.points.len().to_string()}
             data-augment={t.augment.to_string()} data-train-rows={opt(t.train_rows.map(|r| r.to_string()))}>
            <div class="bar"><div class="fill" style={format!("width: {progress:.1}%")}></div></div>
            if let Some((done, total)) = t.augmenting {
                <div class="small" data-testid="augmenting">
                    { format!("Augmented views: photo {done} of {total} ({} flipped random crops each)…", t.augment) }
                </div>
            }
            <div class="small">
                { format!("epoch {}/{} · loss {} · training accuracy {} · {held} {}",
                    t.points.len(), t.epochs,
                    last.map(|p| format!("{:.4}", p.loss)).unwrap_or_default(),
                    pct(last.map(|p| p.train_accuracy)), pct(last.and_then(|p| p.val_accuracy))) }
                { t.train_ms.map(|ms| format!(" · {ms:.0} ms")).unwrap_or_default() }
                { match (t.train_rows, t.augment_ms) {
                    (Some(rows), Some(ms)) if t.augment > 0 =>
                        format!(" · {rows} rows (photos and their views; views {:.1} s)", ms / 1e3),
                    _ => String::new(),
                } }
                { if t.stopped { " · stopped" } else { "" } }
            </div>
            if t.state == TrainState::Error {
                <div class="card-error" role="alert">{ t.error.clone().unwrap_or_default() }</div>
            }
            <TrainingCurve training={t.clone()} />
        </div>
    }
}
