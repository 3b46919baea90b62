//! A classified photo's probabilities for the taught classes, beside ImageNet's top-5.

use yew::prelude::*;

use resnet_lab_protocol::PredictionRow;

#[derive(Properties, PartialEq)]
pub struct CustomPredictionsProps {
    pub rows: Vec<PredictionRow>,
}

#[function_component(CustomPredictions)]
pub fn custom_predictions(props: &CustomPredictionsProps) -> Html {
    if props.rows.is_empty() {
        return html! {};
    }
    html! {
        <div class="custom-predictions">
            <div class="small muted">{ "Your classes" }</div>
            <ol class="predictions">
                { for props.rows.iter().enumerate().map(|(rank, p)| {
                    let pct = (p.prob as f64 * 100.0).clamp(0.0, 100.0);
                    html! {
                        <li class={classes!("prediction", (rank == 0).then_some("top"))} data-testid="custom-prediction"
                            data-class={p.label.clone()} data-prob={format!("{:.6}", p.prob)}>
                            <div class="prediction-head">
                                <span class="label">{ p.label.clone() }</span>
                                <span class="prob">{ format!("{pct:.1}%") }</span>
                            </div>
                            <div class="bar"><div class="fill" style={format!("width: {pct:.2}%")}></div></div>
                        </li>
                    }
                }) }
            </ol>
        </div>
    }
}
