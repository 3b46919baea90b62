//! A classified photo's probabilities for the taught classes, beside ImageNet's top-5.

use yew::prelude::*;

use crate::ui::components::PredictionBar;
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
                { for props.rows.iter().enumerate().map(|(rank, row)| html! {
                    <PredictionBar {rank} row={row.clone()} taught=true />
                }) }
            </ol>
        </div>
    }
}
