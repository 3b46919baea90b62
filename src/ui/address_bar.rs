//! The address bar as state: read once at start, rewritten (without a reload) as the
//! lesson changes, so the view is a shareable link.

use wasm_bindgen::JsValue;

use crate::url_state::UrlState;

/// The address bar's query, read once at start.
pub fn current_url_state() -> UrlState {
    let search = web_sys::window()
        .and_then(|w| w.location().search().ok())
        .unwrap_or_default();
    UrlState::parse(&search)
}

/// Changes the address bar's state without reloading.
pub fn update_url(change: impl FnOnce(&mut UrlState)) {
    let Some(window) = web_sys::window() else {
        return;
    };
    let location = window.location();
    let search = location.search().unwrap_or_default();
    let mut state = UrlState::parse(&search);
    change(&mut state);
    let query = state.merge_into(&search);
    let path = location.pathname().unwrap_or_default();
    let hash = location.hash().unwrap_or_default();
    if let Ok(history) = window.history() {
        let _ = history.replace_state_with_url(
            &JsValue::NULL,
            "",
            Some(&format!("{path}{query}{hash}")),
        );
    }
}
