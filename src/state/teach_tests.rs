//! Teach mode's reducer: class names, photos, and the training messages.

use super::NewPhoto;
use super::teach::*;
use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::{EpochPoint, PhotoFeatures};

pub(super) const FP: &str = "00112233aabbccdd";

pub(super) fn with_classes(names: &[&str]) -> TeachState {
    let mut s = TeachState::default();
    s.model_ready(Some(FP.into()));
    for n in names {
        s.apply(TeachAction::AddClass((*n).into()));
    }
    s
}

pub(super) fn add_photos(s: &mut TeachState, class: &str, n: usize) -> Vec<u32> {
    let ids: Vec<u32> = (s.next_photo_id..).take(n).collect();
    let photos = (0..n)
        .zip(ids.clone())
        .map(|(i, id)| {
            let new = NewPhoto {
                name: format!("{class}{i}.jpg"),
                url: format!("blob:{class}{i}"),
            };
            (id, new)
        })
        .collect();
    s.apply(TeachAction::AddPhotos {
        class: class.into(),
        photos,
    });
    ids
}

fn ready(s: &mut TeachState, ids: &[u32]) {
    for &photo in ids {
        s.respond(TeachResponse::Features {
            photo,
            error: None,
            ms: 500.0,
            features: Some(PhotoFeatures {
                fingerprint: FP.into(),
                values: vec![photo as f32; 4],
            }),
        });
    }
}

#[test]
fn class_names_are_trimmed_unique_and_bounded() {
    let mut s = with_classes(&["  cat ", "dog"]);
    assert_eq!(s.classes[0].name, "cat");
    s.apply(TeachAction::AddClass("cat".into()));
    assert_eq!(s.classes.len(), 2);
    assert!(s.message.as_deref().unwrap().contains("already"));
    s.apply(TeachAction::AddClass("   ".into()));
    assert_eq!(s.classes.len(), 2);
    s.apply(TeachAction::AddClass("x".repeat(MAX_NAME_CHARS + 1)));
    assert_eq!(s.classes.len(), 2);
    for i in 0..30 {
        s.apply(TeachAction::AddClass(format!("c{i}")));
    }
    assert_eq!(s.classes.len(), MAX_CLASSES);
    s.apply(TeachAction::DeleteClass("dog".into()));
    assert_eq!(s.classes.len(), MAX_CLASSES - 1);
    assert!(s.classes.iter().all(|c| c.name != "dog"));
}

#[test]
fn training_waits_for_two_classes_of_two_ready_photos() {
    let mut s = with_classes(&["cat"]);
    assert!(s.blocker().unwrap().contains("2 classes"));
    s.apply(TeachAction::AddClass("dog".into()));
    let cats = add_photos(&mut s, "cat", 2);
    let dogs = add_photos(&mut s, "dog", 1);
    assert!(s.blocker().unwrap().contains("`dog` needs"));
    let more = add_photos(&mut s, "dog", 1);
    // Ids never repeat across classes.
    assert_eq!(
        [cats.clone(), dogs.clone(), more.clone()].concat(),
        [1, 2, 3, 4]
    );
    assert!(s.blocker().unwrap().contains("features"));
    ready(&mut s, &[1, 2, 3, 4]);
    assert_eq!(s.blocker(), None);
    let req = s.request_classes();
    assert_eq!(req[1].photos, [3, 4]);
    s.apply(TeachAction::RemovePhoto(3));
    assert!(s.blocker().is_some());
    // A model load (or an engine restart) blocks training until the photos are back.
    s.model_gone();
    assert!(s.classes[0].photos.iter().all(|p| !p.ready));
    assert!(s.blocker().unwrap().contains("model"));
}

#[test]
fn the_curve_grows_until_done_and_the_head_is_named() {
    let mut s = with_classes(&["a", "b"]);
    s.apply(TeachAction::TrainRequested {
        epochs: 3,
        augment: 0,
    });
    assert!(s.running());
    for epoch in 1..=3 {
        s.respond(TeachResponse::Epoch {
            point: EpochPoint {
                epoch,
                loss: 1.0 / epoch as f64,
                train_accuracy: 1.0,
                val_accuracy: Some(0.5),
            },
            epochs: 3,
        });
    }
    s.respond(TeachResponse::Trained {
        classes: vec!["a".into(), "b".into()],
        validation: "leave_one_out".into(),
        stopped: false,
        train_ms: 10.0,
        train_rows: 4,
        augment_ms: 0.0,
    });
    let t = s.training.as_ref().unwrap();
    assert_eq!(t.state, TrainState::Done);
    assert_eq!(t.points.len(), 3);
    assert_eq!(t.last().unwrap().val_accuracy, Some(0.5));
    assert_eq!(s.head.as_deref().unwrap(), ["a", "b"]);
    // A late epoch message after the end changes nothing.
    s.respond(TeachResponse::Epoch {
        point: EpochPoint {
            epoch: 4,
            loss: 0.1,
            train_accuracy: 0.0,
            val_accuracy: None,
        },
        epochs: 3,
    });
    assert_eq!(s.training.as_ref().unwrap().points.len(), 3);
    // A refused import keeps the head in use.
    s.respond(TeachResponse::HeadError {
        message: "other backbone".into(),
    });
    assert_eq!(s.message.as_deref(), Some("other backbone"));
    assert_eq!(s.head.as_deref().unwrap(), ["a", "b"]);
}

#[test]
fn rename_follows_the_add_rules_and_keeps_the_photos() {
    let mut s = with_classes(&["cat", "dog"]);
    add_photos(&mut s, "cat", 2);
    s.apply(TeachAction::RenameClass {
        from: "cat".into(),
        to: "  kitten ".into(),
    });
    assert_eq!(s.classes[0].name, "kitten");
    assert_eq!(s.classes[0].photos.len(), 2);
    assert_eq!(s.request_classes()[0].name, "kitten");
    for bad in ["dog", " ", &"x".repeat(MAX_NAME_CHARS + 1)] {
        s.apply(TeachAction::RenameClass {
            from: "kitten".into(),
            to: bad.into(),
        });
        assert_eq!(s.classes[0].name, "kitten", "{bad:?} was refused");
        assert!(s.message.is_some());
    }
    // Its own name (even with spaces around it) is no clash; a full list does not block it.
    s.apply(TeachAction::RenameClass {
        from: "kitten".into(),
        to: " kitten".into(),
    });
    assert_eq!(s.message, None);
    for i in 0..MAX_CLASSES {
        s.apply(TeachAction::AddClass(format!("c{i}")));
    }
    s.apply(TeachAction::RenameClass {
        from: "dog".into(),
        to: "puppy".into(),
    });
    assert_eq!(s.classes[1].name, "puppy");
}

#[test]
fn a_class_takes_at_most_its_share_of_photos() {
    let mut s = with_classes(&["cat"]);
    add_photos(&mut s, "cat", MAX_PHOTOS_PER_CLASS - 1);
    add_photos(&mut s, "cat", 3);
    assert_eq!(s.classes[0].photos.len(), MAX_PHOTOS_PER_CLASS);
    assert!(s.message.as_deref().unwrap().contains("2 of them"));
}

/// After a model is ready each photo is sent once: kept features for these weights as they
/// are, the photo itself otherwise; an engine restart sends them all again, from the features.
#[test]
fn photos_are_sent_once_per_model_and_kept_features_spare_recomputation() {
    let mut s = with_classes(&["cat", "dog"]);
    let cats = add_photos(&mut s, "cat", 2);
    assert_eq!(
        s.to_send(),
        [
            FeatureSend::Compute { photo: cats[0] },
            FeatureSend::Compute { photo: cats[1] }
        ]
    );
    s.apply(TeachAction::Sent(cats.clone()));
    assert_eq!(s.to_send(), []);
    ready(&mut s, &cats);
    assert_eq!(s.feature_ms.len(), 2);
    // Restart: nothing goes out while the model loads, then the kept features do.
    s.model_gone();
    assert_eq!(s.to_send(), []);
    s.model_ready(Some(FP.into()));
    let again = s.to_send();
    assert_eq!(again.len(), 2);
    assert!(
        matches!(&again[0], FeatureSend::Restore { photo, fingerprint, features }
        if *photo == cats[0] && fingerprint == FP && features.as_slice() == [cats[0] as f32; 4])
    );
    s.apply(TeachAction::Sent(cats.clone()));
    // The engine took the first and refused the second (damaged): that one is computed anew.
    for (photo, error) in [
        (cats[0], None),
        (cats[1], Some("kept features are damaged")),
    ] {
        s.respond(TeachResponse::Features {
            photo,
            error: error.map(Into::into),
            ms: 0.0,
            features: None,
        });
    }
    assert!(s.classes[0].photos[0].ready);
    assert!(!s.classes[0].photos[1].ready);
    assert_eq!(s.classes[0].photos[1].error, None);
    assert_eq!(s.to_send(), [FeatureSend::Compute { photo: cats[1] }]);
    // Other weights: computed; the first model's features stay for a switch back.
    s.model_ready(Some("ffffffffffffffff".into()));
    assert!(
        s.to_send()
            .iter()
            .all(|f| matches!(f, FeatureSend::Compute { .. }))
    );
    assert!(s.classes[0].photos[0].features.contains_key(FP));
    // No recount of the restored photos' time: only computed features count.
    assert_eq!(s.feature_ms.len(), 2);
}

#[test]
fn features_are_kept_for_a_bounded_number_of_models() {
    let mut s = with_classes(&["cat"]);
    let id = add_photos(&mut s, "cat", 1)[0];
    for i in 0..6 {
        let fingerprint = format!("{i:016x}");
        s.model_ready(Some(fingerprint.clone()));
        s.respond(TeachResponse::Features {
            photo: id,
            error: None,
            ms: 1.0,
            features: Some(PhotoFeatures {
                fingerprint,
                values: vec![1.0; 4],
            }),
        });
    }
    let kept = &s.classes[0].photos[0].features;
    assert_eq!(kept.len(), 3);
    assert!(
        kept.contains_key(&format!("{:016x}", 5)),
        "the current model's stay"
    );
}
