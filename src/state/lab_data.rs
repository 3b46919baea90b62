//! The live training's CIFAR-10 data as the page knows it: what the engine holds or keeps
//! (asked once when the training tab opens), a load in progress, the last refusal, and a URL
//! on another site waiting for the person's go-ahead.

use resnet_lab_protocol::{CifarSummary, DataResponse};

use super::PendingWeights;

/// What the engine said it holds.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum CifarStatus {
    /// Not asked yet.
    #[default]
    Unknown,
    /// No CIFAR-10 data here.
    Empty,
    Ready(CifarSummary),
}

#[derive(Debug, Clone, PartialEq, Default)]
pub struct DataState {
    pub status: CifarStatus,
    /// A status question or a load is on its way.
    pub busy: bool,
    /// Why the last load was refused (what was held before stays).
    pub error: Option<String>,
    /// A URL on another origin, shown for confirmation before anything is downloaded.
    pub pending_url: Option<PendingWeights>,
}

/// What the page does to the data state.
#[derive(Debug, Clone, PartialEq)]
pub enum DataAction {
    /// A load, a status question or Forget was sent to the engine.
    Requested,
    /// Ask before downloading from another site (`None`: answered).
    Confirm(Option<PendingWeights>),
    /// Something the page itself refused before asking the engine.
    Refused(String),
}

impl DataState {
    /// The value of `data-state`.
    pub fn as_str(&self) -> &'static str {
        match (&self.status, self.busy) {
            (_, true) => "loading",
            (CifarStatus::Unknown, false) => "unknown",
            (CifarStatus::Empty, false) => "empty",
            (CifarStatus::Ready(_), false) => "ready",
        }
    }

    pub fn summary(&self) -> Option<&CifarSummary> {
        match &self.status {
            CifarStatus::Ready(summary) => Some(summary),
            _ => None,
        }
    }

    pub fn apply(&mut self, action: DataAction) {
        match action {
            DataAction::Requested => {
                self.busy = true;
                self.error = None;
                self.pending_url = None;
            }
            DataAction::Confirm(pending) => self.pending_url = pending,
            DataAction::Refused(message) => self.error = Some(message),
        }
    }

    pub fn respond(&mut self, response: DataResponse) {
        self.busy = false;
        match response {
            DataResponse::Cifar(summary) => {
                self.status = CifarStatus::Ready(summary);
                self.error = None;
            }
            DataResponse::Empty => self.status = CifarStatus::Empty,
            DataResponse::Error { message } => self.error = Some(message),
        }
    }

    /// The engine restarted: it forgot what it held in memory (a kept copy comes back when
    /// asked), and an answer on its way will not come.
    pub fn engine_restarted(&mut self) {
        if self.busy {
            self.busy = false;
            self.status = CifarStatus::Unknown;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(n: usize) -> CifarSummary {
        CifarSummary {
            train_images: n,
            test_images: 0,
            files: vec!["data_batch_1.bin".into()],
            label_counts: vec![n, 0, 0, 0, 0, 0, 0, 0, 0, 0],
            kept: true,
        }
    }

    #[test]
    fn a_refused_load_keeps_what_was_there_and_says_why() {
        let mut data = DataState::default();
        assert_eq!(data.as_str(), "unknown");
        data.apply(DataAction::Requested);
        assert_eq!(data.as_str(), "loading");
        data.respond(DataResponse::Cifar(summary(28)));
        assert_eq!(data.as_str(), "ready");
        data.apply(DataAction::Requested);
        data.respond(DataResponse::Error {
            message: "x.bin: 100 bytes is not a whole number".into(),
        });
        assert_eq!(data.summary().map(|s| s.train_images), Some(28));
        assert!(data.error.as_deref().unwrap().contains("100 bytes"));
        data.apply(DataAction::Requested);
        assert_eq!(data.error, None);
        data.respond(DataResponse::Empty);
        assert_eq!(data.as_str(), "empty");
        assert_eq!(data.summary(), None);
    }

    #[test]
    fn a_foreign_url_waits_and_a_restart_ends_a_load() {
        let mut data = DataState::default();
        let pending = PendingWeights {
            url: "https://elsewhere.example/data_batch_1.bin".into(),
            host: "elsewhere.example".into(),
        };
        data.apply(DataAction::Confirm(Some(pending.clone())));
        assert_eq!(data.pending_url, Some(pending));
        data.apply(DataAction::Requested);
        assert_eq!(data.pending_url, None);
        data.engine_restarted();
        assert_eq!(data.as_str(), "unknown");
    }
}
