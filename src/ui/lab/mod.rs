//! The Lab section: experiments that explain skip connections, each a tab whose name is in
//! the URL (`?lab=lesion|shatter|train`): the lesion study on the loaded network (Veit,
//! Wilber & Belongie 2016), shattered gradients at initialisation (Balduzzi et al. 2017) and
//! the degradation problem trained live (He et al. 2016). Everything runs in the engine
//! worker; the tabs only ask and draw.

mod lesion;
mod lesion_chart;
mod lesion_random;
mod shatter;
mod shatter_chart;
mod train;
mod train_chart;
mod train_data;

use serde::Serialize;
use wasm_bindgen::JsCast;
use yew::prelude::*;

use crate::state::lab_runs::LabTab;
use crate::state::{Action, LabState};
use crate::ui::address_bar::update_url;
use crate::ui::use_app_state;
use lesion::LesionTab;
use shatter::ShatterTab;
use train::TrainTab;

#[derive(Properties, PartialEq)]
pub struct LabSectionProps {
    pub lab: LabState,
    /// Classified photos on the page (the lesion study runs on the newest few).
    pub photos: usize,
    pub model_ready: bool,
    /// Runs the lesion study, with these random deletions.
    pub on_run: Callback<Option<resnet_lab_protocol::lab::RandomSettings>>,
    pub on_close: Callback<()>,
}

fn tab_title(tab: LabTab) -> &'static str {
    match tab {
        LabTab::Lesion => "Lesion study",
        LabTab::Shatter => "Shattered gradients",
        LabTab::Train => "Degradation, trained live",
    }
}

#[function_component(LabSection)]
pub fn lab_section(props: &LabSectionProps) -> Html {
    let state = use_app_state();
    let current = props.lab.tab;
    let on_close = props.on_close.reform(|_: MouseEvent| ());
    let tabs = LabTab::ALL.into_iter().map(|tab| {
        let dispatcher = state.dispatcher();
        let onclick = Callback::from(move |_: MouseEvent| {
            update_url(|url| url.lab = Some(tab.name().to_string()));
            dispatcher.dispatch(Action::LabTab(tab));
        });
        let selected = tab == current;
        html! {
            <button role="tab" class={classes!("lab-tab-button", selected.then_some("selected"))}
                    aria-selected={selected.to_string()} data-testid={format!("lab-tab-{}", tab.name())}
                    {onclick}>{ tab_title(tab) }</button>
        }
    });
    html! {
        <section class="panel lab-panel" data-testid="lab" data-tab={current.name()}>
            <header class="grad-header">
                <div>
                    <h2>{ "Lab" }</h2>
                    <p class="muted small">{ "Experiments from the papers that explain skip connections, run here." }</p>
                </div>
                <div class="grad-controls">
                    <nav class="lab-tabs" role="tablist">{ for tabs }</nav>
                    <button class="button ghost" data-testid="lab-close" onclick={on_close}>{ "Close" }</button>
                </div>
            </header>
            {
                match current {
                    LabTab::Lesion => html! {
                        <LesionTab lesion={props.lab.lesion.clone()} photos={props.photos}
                                   model_ready={props.model_ready} on_run={props.on_run.clone()} />
                    },
                    LabTab::Shatter => html! { <ShatterTab shatter={props.lab.shatter.clone()} /> },
                    LabTab::Train => html! { <TrainTab train={props.lab.train.clone()} data={props.lab.data.clone()} /> },
                }
            }
        </section>
    }
}

/// Saves `value` as a pretty-printed JSON download named `name`.
pub fn download_json<T: Serialize + ?Sized>(value: &T, name: &str) {
    let Ok(json) = serde_json::to_string_pretty(value) else {
        return;
    };
    let blob = gloo::file::Blob::new_with_options(json.as_str(), Some("application/json"));
    let url = gloo::file::ObjectUrl::from(blob);
    let Ok(anchor) = gloo::utils::document().create_element("a") else {
        return;
    };
    let anchor: web_sys::HtmlAnchorElement = anchor.unchecked_into();
    anchor.set_href(&url);
    anchor.set_download(name);
    anchor.click();
    // Revoke the URL once the download has surely started.
    gloo::timers::callback::Timeout::new(10_000, move || drop(url)).forget();
}

/// A number input's value from its change event.
fn input_value(e: &Event) -> Option<String> {
    e.target()
        .and_then(|t| t.dyn_into::<web_sys::HtmlInputElement>().ok())
        .map(|s| s.value())
}
