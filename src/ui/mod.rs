//! The page, in the shape of Yew's own examples: [`App`] owns the state (the plain-Rust
//! reducer of [`crate::state`]) and provides it, and the engine worker
//! ([`engine::EngineProvider`]), as contexts; [`page::Page`] reads them with
//! [`use_app_state`] and [`engine::use_engine`], and its hooks start the model
//! ([`startup`]) and listen for dropped and pasted files ([`document_files`]).

pub mod address_bar;
pub mod client;
pub mod components;
pub mod confirm;
pub mod document_files;
pub mod engine;
pub mod engine_choice;
pub mod gradients;
pub mod lab;
pub mod page;
pub mod photos;
pub mod startup;
pub mod teach;
pub mod webcam;

#[cfg(test)]
mod browser_tests;

use std::rc::Rc;

use yew::prelude::*;

use crate::state::{Action, AppState, GradientState, LabState};
use address_bar::current_url_state;
use engine::EngineProvider;
use page::Page;

/// Mounts the page.
pub fn start() {
    console_error_panic_hook::set_once();
    wasm_bindgen_futures::spawn_local(async {
        // A first visit to a host without COOP/COEP reloads once through the service worker
        // (threads need an isolated page): before mounting, so no click or drop is lost.
        if engine_choice::reload_for_isolation().await {
            return;
        }
        if let Some(boot) = gloo::utils::document().get_element_by_id("boot") {
            boot.remove();
        }
        yew::Renderer::<App>::new().render();
    });
}

/// Yew's side of the reducer: the state itself is plain Rust.
impl Reducible for AppState {
    type Action = Action;

    fn reduce(self: Rc<Self>, action: Action) -> Rc<Self> {
        Rc::new(self.after(action))
    }
}

/// The page state, as a context.
pub type StateHandle = UseReducerHandle<AppState>;

/// The page state, from inside [`App`].
#[hook]
pub fn use_app_state() -> StateHandle {
    use_context::<StateHandle>().expect("use_app_state is called inside <App>")
}

/// The whole page: the state and the engine, provided to everything inside.
#[function_component(App)]
pub fn app() -> Html {
    let params = use_memo((), |_| current_url_state());
    let state = {
        let params = params.clone();
        use_reducer(move || AppState {
            gradients: GradientState {
                network: params.network.clone(),
                class: params.class,
                ..GradientState::default()
            },
            lab: LabState {
                open: params.lab.is_some(),
                tab: params
                    .lab
                    .as_deref()
                    .and_then(crate::state::lab_runs::LabTab::parse)
                    .unwrap_or_default(),
                ..LabState::default()
            },
            crops: params.crops,
            ..AppState::default()
        })
    };
    html! {
        <ContextProvider<StateHandle> context={state.clone()}>
            <EngineProvider on_action={state.dispatcher().to_callback()} backend={params.backend}>
                <Page params={params.clone()} />
            </EngineProvider>
        </ContextProvider<StateHandle>>
    }
}
