//! What the page leaves for its next start so that the engine reads the weights while the page
//! itself starts (see index.html and `Request::ReadAhead`).

use serde::{Deserialize, Serialize};

use crate::Request;

/// The Cache Storage bucket the engine keeps downloaded weights in.
pub const WEIGHTS_CACHE: &str = "resnet-lab-weights-v1";

/// What the page leaves in `localStorage` for its next start, read by index.html while the
/// page's own WebAssembly starts (when the address bar asks for no other model): it reads
/// `url` from the `cache` bucket and sends the engine `request` as written, with those bytes.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReadAheadHint {
    /// The model the page loaded, by its manifest name.
    pub model: String,
    pub url: String,
    pub cache: String,
    /// `Request::ReadAhead` for `url`, serialised.
    pub request: String,
}

impl ReadAheadHint {
    /// The `localStorage` key (index.html reads it).
    pub const KEY: &str = "resnet-lab.read-ahead";

    pub fn new(model: &str, url: &str) -> Self {
        let request = Request::ReadAhead { url: url.into() };
        Self {
            model: model.into(),
            url: url.into(),
            cache: WEIGHTS_CACHE.into(),
            request: serde_json::to_string(&request).unwrap_or_default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hint index.html posts as written is the engine's `ReadAhead` request.
    #[test]
    fn read_ahead_hint_holds_the_request() {
        let hint = ReadAheadHint::new("resnet50", "weights/r50.safetensors");
        assert_eq!(
            hint.request,
            r#"{"type":"read_ahead","url":"weights/r50.safetensors"}"#
        );
        let read: Request = serde_json::from_str(&hint.request).unwrap();
        assert_eq!(
            read,
            Request::ReadAhead {
                url: "weights/r50.safetensors".into()
            }
        );
    }
}
