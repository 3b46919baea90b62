//! The engine's one error type. Helpers return it; it becomes text once, where a response
//! is put on the wire to the page (`EngineError::to_string`).

/// Everything the engine can fail at, in words for the person using the page.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// Weights, images or tensors the core library refused (already user-facing text).
    #[error(transparent)]
    Core(#[from] resnet_lab_core::Error),

    /// The core library refused the file downloaded from `url`.
    #[error("{source} ({url})")]
    Weights {
        url: String,
        source: resnet_lab_core::Error,
    },

    /// The thread pool did not start (the page has its own message for that).
    #[error("the engine's threads did not start")]
    ThreadsFailed,

    #[error("`{0}` is not a valid URL")]
    BadUrl(String),

    #[error(
        "could not download {url}: {detail} (network error, the server is down, or CORS forbids it)"
    )]
    Network { url: String, detail: String },

    #[error("could not download {url}: HTTP {status} {text}{}", if *.status == 404 { " (no such file on the server)" } else { "" })]
    Http {
        url: String,
        status: u16,
        text: String,
    },

    #[error("the download of {url} was interrupted: {detail}")]
    Interrupted { url: String, detail: String },

    #[error("the download of {url} is truncated: got {got} of {declared} bytes")]
    Truncated {
        url: String,
        got: u64,
        declared: u64,
    },

    /// A server that sends more than its `Content-Length` is broken or hostile.
    #[error("the download of {url} is longer than its declared Content-Length of {declared} bytes")]
    LongerThanDeclared { url: String, declared: u64 },

    #[error(
        "the download of {url} exceeds the {} limit for {what}{}",
        crate::limits::describe_bytes(*.limit),
        if *.what == "weights" { " (the largest ResNet, a float32 ResNet-152, is about 240 MB)" } else { "" }
    )]
    TooLarge {
        url: String,
        what: &'static str,
        limit: u64,
    },

    #[error(
        "the weights file {url} is truncated or not the one the manifest lists: {got} bytes, expected {expected}"
    )]
    NotAsListed {
        url: String,
        got: u64,
        expected: u64,
    },

    /// A TF.js `model.json` whose shard list points somewhere it must not.
    #[error("refusing the weight shard `{path}` of {model}: {why}")]
    ShardPath {
        model: String,
        path: String,
        why: &'static str,
    },

    #[error(
        "this TF.js model.json needs its weight shard `{0}`: pick model.json together with its .bin files"
    )]
    MissingShard(String),

    #[error("This file is not an image the browser can decode ({kind}): {detail}")]
    NotImage { kind: String, detail: String },

    /// Checked from the file's header, before the browser decodes it at full size.
    #[error(
        "This image is {width}×{height} pixels ({:.0} megapixels): images over {} megapixels are refused, scale it down first",
        *.width as f64 * *.height as f64 / 1e6,
        crate::limits::MAX_IMAGE_PIXELS / 1_000_000
    )]
    ImageTooLarge { width: u32, height: u32 },

    /// CIFAR-10 files refused (by their sizes, before they are read, or by their labels).
    #[error(transparent)]
    Cifar(#[from] resnet_lab_core::lab::cifar_files::CifarError),

    /// A browser API failed (`what` says which step).
    #[error("{what}: {detail}")]
    Browser { what: &'static str, detail: String },

    /// The request cannot be served in the engine's present state (no model, no photo).
    #[error("{0}")]
    Unavailable(String),

    #[error("the warm-up pass failed: {0}")]
    Warmup(resnet_lab_core::Error),

    #[error("the GPU device was lost while loading the model")]
    DeviceLost,

    #[error("the network produced non-finite outputs (NaN or infinity)")]
    NonFiniteOutput,
}

pub type Result<T, E = EngineError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_read_as_before() {
        let e = EngineError::Http {
            url: "w.bin".into(),
            status: 404,
            text: "Not Found".into(),
        };
        assert_eq!(
            e.to_string(),
            "could not download w.bin: HTTP 404 Not Found (no such file on the server)"
        );
        let e = EngineError::TooLarge {
            url: "w.bin".into(),
            what: "weights",
            limit: 1 << 30,
        };
        assert!(e.to_string().contains("1 GiB limit for weights"), "{e}");
        let e = EngineError::ImageTooLarge {
            width: 20_000,
            height: 20_000,
        };
        assert!(e.to_string().contains("400 megapixels"), "{e}");
        assert!(e.to_string().contains("over 100 megapixels"), "{e}");
    }
}
