//! `?weights=URL` on another site: the link alone must not make the page download from
//! there (a stranger's link could point at a huge or hostile file). The page names the host
//! and loads only after a click.

use yew::prelude::*;

pub use crate::state::PendingWeights;

/// `Some` when `url`, resolved against the page, is on another origin than the page.
pub fn foreign_weights(url: &str) -> Option<PendingWeights> {
    let location = web_sys::window()?.location();
    let page = location.href().ok()?;
    let origin = location.origin().ok()?;
    // A URL the browser cannot parse stays on the usual path: the engine reports it.
    let resolved = web_sys::Url::new_with_base(url, &page).ok()?;
    if resolved.origin() == origin {
        return None;
    }
    let host = match resolved.host() {
        host if host.is_empty() => resolved.protocol(),
        host => host,
    };
    Some(PendingWeights {
        url: url.to_string(),
        host,
    })
}

#[derive(Properties, PartialEq)]
pub struct WeightsConfirmProps {
    pub pending: Option<PendingWeights>,
    pub on_confirm: Callback<()>,
    pub on_cancel: Callback<()>,
}

/// The question, with the host in plain sight.
#[function_component(WeightsConfirm)]
pub fn weights_confirm(props: &WeightsConfirmProps) -> Html {
    let Some(pending) = &props.pending else {
        return html! {};
    };
    let confirm = props.on_confirm.reform(|_: MouseEvent| ());
    let cancel = props.on_cancel.reform(|_: MouseEvent| ());
    html! {
        <div class="notice confirm" role="alertdialog" data-testid="weights-confirmation">
            <span class="icon">{ "⚠" }</span>
            <span class="message">
                { "This link asks to download weights from another site: " }
                <strong data-testid="weights-host">{ pending.host.clone() }</strong>
                { " (" }<code>{ pending.url.clone() }</code>{ "). Load them only if you trust that site." }
            </span>
            <button class="button" data-testid="confirm-weights" onclick={confirm}>
                { format!("Load from {}", pending.host) }
            </button>
            <button class="button ghost" data-testid="cancel-weights" onclick={cancel}>{ "Cancel" }</button>
        </div>
    }
}
