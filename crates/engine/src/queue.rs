//! The engine's request queue. Requests run one at a time so that a model load completes
//! before the photos sent after it are classified; two rules bend the arrival order:
//!
//! - photos, model loads and cache clearing go before a gradient analysis, so a slow
//!   analysis never holds up the next classification;
//! - a newer analysis supersedes a queued one (the page only waits for the last).
//!
//! The lab's lesion study counts as an analysis.
//!
//! `LoseDevice` (a test hook) never queues: it must act even in the middle of a long analysis.

use std::collections::VecDeque;

use resnet_lab_protocol::Request;

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

fn is_analysis(request: &Request) -> bool {
    matches!(request, Request::Gradients { .. } | Request::Lesion { .. })
}

impl<P> RequestQueue<P> {
    /// Whether `request` bypasses the queue.
    pub fn acts_immediately(request: &Request) -> bool {
        *request == Request::LoseDevice
    }

    pub fn push(&mut self, request: Request, payload: P) {
        if is_analysis(&request) {
            // Only one of the same kind: a lesion study does not cancel a gradient analysis.
            let kind = std::mem::discriminant(&request);
            self.waiting
                .retain(|(queued, _)| std::mem::discriminant(queued) != kind);
        }
        self.waiting.push_back((request, payload));
    }

    /// The oldest request, except that anything else goes before an analysis.
    pub fn pop(&mut self) -> Option<(Request, P)> {
        match self.waiting.iter().position(|(r, _)| !is_analysis(r)) {
            Some(i) => self.waiting.remove(i),
            None => self.waiting.pop_front(),
        }
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
    use resnet_lab_protocol::{BackendPreference, GradientNetwork, WeightsSource};

    fn photo(id: u32) -> Request {
        Request::Classify {
            id,
            name: format!("{id}.jpg"),
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
        };
        let mut queue = RequestQueue::default();
        queue.push(lesion(20), 0);
        queue.push(analysis(10), 1);
        queue.push(photo(1), 2);
        queue.push(lesion(21), 3);
        assert_eq!(drain(&mut queue), [2, 1, 3]);
    }

    #[test]
    fn losing_the_device_never_waits() {
        assert!(RequestQueue::<()>::acts_immediately(&Request::LoseDevice));
        assert!(!RequestQueue::<()>::acts_immediately(&photo(1)));
        assert!(!RequestQueue::<()>::acts_immediately(&analysis(1)));
    }
}
