//! The choices for the next training: its epochs, augmented views of each training photo
//! (flipped random crops, the head alone) or fine-tuning layer4 with the head (one excludes
//! the other).

use crate::state::teach::EPOCH_CHOICES;
use crate::ui::components::selected_value;
use resnet_lab_protocol::teach::MAX_PAGE_AUGMENT;
use wasm_bindgen::JsCast;
use web_sys::HtmlInputElement;
use yew::prelude::*;

/// Views per photo offered (0: no augmentation).
const AUGMENT_CHOICES: [usize; 4] = [0, 2, 4, MAX_PAGE_AUGMENT];

#[derive(Properties, PartialEq)]
pub struct TrainOptionsProps {
    pub layer4: bool,
    pub augment: usize,
    pub epochs: usize,
    pub on_layer4: Callback<bool>,
    pub on_augment: Callback<usize>,
    pub on_epochs: Callback<usize>,
}

/// A `<select>`'s change as the number chosen.
fn on_choice(emit: Callback<usize>) -> Callback<Event> {
    Callback::from(move |e: Event| {
        if let Some(n) = selected_value(&e).and_then(|v| v.parse().ok()) {
            emit.emit(n);
        }
    })
}

#[function_component(TrainOptions)]
pub fn train_options(props: &TrainOptionsProps) -> Html {
    let on_layer4 = {
        let on_layer4 = props.on_layer4.clone();
        Callback::from(move |e: Event| {
            let input = e
                .target()
                .and_then(|t| t.dyn_into::<HtmlInputElement>().ok());
            on_layer4.emit(input.is_some_and(|i| i.checked()));
        })
    };
    html! {
        <>
            <label class="small" title="Full-batch steps of the optimiser (Adam, as resnet-lab finetune --epochs)">
                { "Epochs: " }
                <select data-testid="train-epochs" onchange={on_choice(props.on_epochs.clone())}>
                    { for EPOCH_CHOICES.iter().map(|&n| html! {
                        <option value={n.to_string()} selected={n == props.epochs}>{ n }</option>
                    }) }
                </select>
            </label>
            <label class="small" title="torchvision's Resize(256), RandomCrop(224), RandomHorizontalFlip: \
                                        each view costs one forward pass per training photo, once">
                { "Augment: " }
                <select data-testid="train-augment" onchange={on_choice(props.on_augment.clone())} disabled={props.layer4}>
                    { for AUGMENT_CHOICES.iter().map(|&n| html! {
                        <option value={n.to_string()} selected={n == props.augment}>
                            { if n == 0 { "none".to_string() } else { format!("{n} flipped random crops per photo") } }
                        </option>
                    }) }
                </select>
            </label>
            <label class="small" title="layer4 trains with the head (BatchNorm in eval mode, learning rate 1e-4)">
                <input type="checkbox" data-testid="train-layer4" checked={props.layer4}
                       disabled={props.augment > 0} onchange={on_layer4} />
                { " Also fine-tune the last stage (layer4), slower" }
                if props.layer4 { <span class="muted">{ " · the head file then holds layer4 (34 MB for ResNet-18, 60 MB for ResNet-50)" }</span> }
            </label>
        </>
    }
}
