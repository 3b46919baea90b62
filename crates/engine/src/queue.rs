//! The engine's request queue. Requests run one at a time so that a model load completes
//! before the photos sent after it are classified; two rules bend the arrival order:
//!
//! - photos, model loads and cache clearing go before a gradient analysis, so a slow
//!   analysis never holds up the next classification;
//! - a newer analysis supersedes a queued one (the page only waits for the last).
//!
//! The lab's lesion study counts as an analysis, and so does each step of it and of a long
//! lab run (shattered gradients, training): the engine queues a run's next step behind whatever is
//! waiting ([`RequestQueue::push_continuation`]), so a photo waits for one step at most.
//!
//! `LoseDevice` (a test hook) never queues: it must act even in the middle of a long analysis.

use std::collections::VecDeque;

use resnet_lab_protocol::Request;
use resnet_lab_protocol::lab_runs::LabExperiment;

/// Requests waiting their turn, each with its payload (a photo `File` in the worker).
#[derive(Debug)]
pub struct RequestQueue<P> {
    waiting: VecDeque<(Request, P)>,
}

impl<P> Default for RequestQueue<P> {
    fn default() -> Self {
        Self {
            waiting: VecDeque::new(),
        }
    }
}

/// Analyses of the same kind supersede each other; other kinds wait side by side.
#[derive(Debug, PartialEq, Eq)]
enum AnalysisKind {
    Gradients,
    Lab(LabExperiment),
}

fn analysis_kind(request: &Request) -> Option<AnalysisKind> {
    match request {
        Request::Gradients { .. } => Some(AnalysisKind::Gradients),
        // A new study replaces the queued next step of the one running.
        Request::Lesion { .. } => Some(AnalysisKind::Lab(LabExperiment::Lesion)),
        Request::Lab(lab) => lab.experiment().map(AnalysisKind::Lab),
        _ => None,
    }
}

fn is_analysis(request: &Request) -> bool {
    analysis_kind(request).is_some()
}

impl<P> RequestQueue<P> {
    /// Whether `request` bypasses the queue.
    pub fn acts_immediately(request: &Request) -> bool {
        *request == Request::LoseDevice
    }

    pub fn push(&mut self, request: Request, payload: P) {
        if let Some(kind) = analysis_kind(&request) {
            // Only one of the same kind: a lesion study does not cancel a gradient analysis.
            self.waiting
                .retain(|(queued, _)| analysis_kind(queued).as_ref() != Some(&kind));
        }
        self.waiting.push_back((request, payload));
    }

    /// Queues the next step of a running analysis, unless a newer request of its kind is
    /// already waiting (that one replaces the run).
    pub fn push_continuation(&mut self, request: Request, payload: P) {
        let kind = analysis_kind(&request);
        if kind.is_none()
            || !self
                .waiting
                .iter()
                .any(|(queued, _)| analysis_kind(queued) == kind)
        {
            self.waiting.push_back((request, payload));
        }
    }

    /// The oldest request, except that anything else goes before an analysis.
    pub fn pop(&mut self) -> Option<(Request, P)> {
        match self.waiting.iter().position(|(r, _)| !is_analysis(r)) {
            Some(i) => self.waiting.remove(i),
            None => self.waiting.pop_front(),
        }
    }

    /// Up to `more` photos to classify together with one just popped: the classifications
    /// [`Self::pop`] would return next, in its order (never past another kind of request, so
    /// batching changes no order).
    pub fn pop_photos(&mut self, more: usize) -> Vec<(Request, P)> {
        let mut photos = Vec::new();
        while photos.len() < more {
            let next = self.waiting.iter().position(|(r, _)| !is_analysis(r));
            match next {
                Some(i) if self.waiting[i].0.is_batchable_photo() => {
                    photos.extend(self.waiting.remove(i));
                }
                _ => break,
            }
        }
        photos
    }

    pub fn len(&self) -> usize {
        self.waiting.len()
    }

    pub fn is_empty(&self) -> bool {
        self.waiting.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resnet_lab_protocol::{BackendPreference, Crops, GradientNetwork, WeightsSource};

    fn photo(id: u32) -> Request {
        photo_from(id, Crops::Center)
    }

    fn photo_from(id: u32, crops: Crops) -> Request {
        Request::Classify {
            id,
            name: format!("{id}.jpg"),
            crops,
        }
    }

    fn analysis(id: u32) -> Request {
        Request::Gradients {
            id,
            photo: Some(1),
            class: None,
            network: GradientNetwork::Loaded,
            backend: BackendPreference::Auto,
        }
    }

    fn load() -> Request {
        Request::Load {
            backend: BackendPreference::Cpu,
            source: WeightsSource {
                label: "m".into(),
                url: "m.safetensors".into(),
                shard_urls: Vec::new(),
                expected_bytes: None,
                cache: true,
            },
        }
    }

    fn drain(queue: &mut RequestQueue<u32>) -> Vec<u32> {
        std::iter::from_fn(|| queue.pop().map(|(_, tag)| tag)).collect()
    }

    #[test]
    fn photos_batch_in_order_up_to_the_next_other_request() {
        let mut queue = RequestQueue::default();
        queue.push(photo(1), 1);
        queue.push(analysis(9), 9);
        queue.push(photo(2), 2);
        queue.push(photo(3), 3);
        queue.push(load(), 4);
        queue.push(photo(5), 5);
        let (first, tag) = queue.pop().unwrap();
        assert_eq!((first, tag), (photo(1), 1));
        // The analysis waits (photos go first); the load stops the batch.
        let batch: Vec<u32> = queue.pop_photos(7).into_iter().map(|(_, t)| t).collect();
        assert_eq!(batch, [2, 3]);
        assert_eq!(queue.pop().map(|(_, t)| t), Some(4));
        assert_eq!(queue.pop_photos(7).len(), 1, "photo 5 alone after the load");
        assert_eq!(drain(&mut queue), [9]);
        // At most `more`.
        for id in 10..20 {
            queue.push(photo(id), id);
        }
        assert_eq!(queue.pop_photos(3).len(), 3);
        assert_eq!(queue.len(), 7);
    }

    #[test]
    fn a_photo_with_ten_crops_is_a_batch_of_its_own() {
        let mut queue = RequestQueue::default();
        queue.push(photo(1), 1);
        queue.push(photo(2), 2);
        queue.push(photo_from(3, Crops::Ten), 3);
        queue.push(photo(4), 4);
        assert_eq!(queue.pop().map(|(_, t)| t), Some(1));
        let batch: Vec<u32> = queue.pop_photos(7).into_iter().map(|(_, t)| t).collect();
        assert_eq!(batch, [2], "the ten-crop photo ends the batch, in order");
        assert_eq!(drain(&mut queue), [3, 4]);
    }

    #[test]
    fn loads_and_photos_keep_their_order() {
        let mut queue = RequestQueue::default();
        queue.push(load(), 0);
        queue.push(photo(1), 1);
        queue.push(Request::ClearCache, 2);
        queue.push(photo(2), 3);
        assert_eq!(queue.len(), 4);
        assert_eq!(drain(&mut queue), [0, 1, 2, 3]);
        assert!(queue.is_empty());
    }

    #[test]
    fn photos_go_before_an_analysis() {
        let mut queue = RequestQueue::default();
        queue.push(analysis(10), 0);
        queue.push(photo(1), 1);
        queue.push(load(), 2);
        assert_eq!(drain(&mut queue), [1, 2, 0]);
    }

    #[test]
    fn a_newer_analysis_supersedes_a_queued_one() {
        let mut queue = RequestQueue::default();
        queue.push(analysis(10), 0);
        queue.push(photo(1), 1);
        queue.push(analysis(11), 2);
        let order: Vec<Request> = std::iter::from_fn(|| queue.pop().map(|(r, _)| r)).collect();
        assert_eq!(order, [photo(1), analysis(11)]);
    }

    #[test]
    fn a_lesion_study_waits_like_an_analysis_and_keeps_the_gradient_one() {
        let lesion = |id| Request::Lesion {
            id,
            photos: Vec::new(),
            random: None,
        };
        let mut queue = RequestQueue::default();
        queue.push(lesion(20), 0);
        queue.push(analysis(10), 1);
        queue.push(photo(1), 2);
        queue.push(lesion(21), 3);
        assert_eq!(drain(&mut queue), [2, 1, 3]);
        // Its steps wait behind photos; a new study drops the old one's next step.
        let next = Request::Lab(resnet_lab_protocol::LabRequest::Next {
            id: 21,
            experiment: LabExperiment::Lesion,
        });
        queue.push_continuation(next.clone(), 4);
        queue.push(photo(2), 5);
        assert_eq!(drain(&mut queue), [5, 4]);
        queue.push_continuation(next, 6);
        queue.push(lesion(22), 7);
        assert_eq!(drain(&mut queue), [7]);
    }

    #[test]
    fn a_lab_run_steps_behind_photos_and_a_new_run_replaces_the_next_step() {
        use resnet_lab_protocol::lab_runs::{LabNetwork, LabRequest};
        let next = |id| {
            Request::Lab(LabRequest::Next {
                id,
                experiment: LabExperiment::Shatter,
            })
        };
        let shatter = |id| {
            Request::Lab(LabRequest::Shatter {
                id,
                networks: vec![LabNetwork::new("cifar20", false)],
                seed: 0,
                points: 64,
                backend: BackendPreference::Auto,
            })
        };
        let train_next = Request::Lab(LabRequest::Next {
            id: 9,
            experiment: LabExperiment::Train,
        });
        let mut queue = RequestQueue::default();
        queue.push_continuation(next(1), 0);
        queue.push(photo(1), 1);
        queue.push_continuation(train_next.clone(), 2);
        // The shatter run's next step waits behind the photo; the training's is kept.
        assert_eq!(drain(&mut queue), [1, 0, 2]);
        // A new run arrived while a step was running: the old run's next step is dropped.
        queue.push(shatter(2), 3);
        queue.push_continuation(next(1), 4);
        queue.push_continuation(train_next, 5);
        assert_eq!(drain(&mut queue), [3, 5]);
        // A new run also replaces a queued step of the old one.
        queue.push_continuation(next(2), 6);
        queue.push(shatter(3), 7);
        assert_eq!(drain(&mut queue), [7]);
    }

    #[test]
    fn losing_the_device_never_waits() {
        assert!(RequestQueue::<()>::acts_immediately(&Request::LoseDevice));
        assert!(!RequestQueue::<()>::acts_immediately(&photo(1)));
        assert!(!RequestQueue::<()>::acts_immediately(&analysis(1)));
    }
}
