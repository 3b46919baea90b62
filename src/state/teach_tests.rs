//! Teach mode's reducer: class names, photos, and the training messages.

use super::NewPhoto;
use super::teach::*;
use resnet_lab_protocol::TeachResponse;
use resnet_lab_protocol::teach::EpochPoint;

fn with_classes(names: &[&str]) -> TeachState {
    let mut s = TeachState::default();
    for n in names {
        s.apply(TeachAction::AddClass((*n).into()));
    }
    s
}

fn add_photos(s: &mut TeachState, class: &str, n: usize) -> Vec<u32> {
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
    // A model change asks for every photo's features again.
    s.apply(TeachAction::Recompute);
    assert!(s.classes[0].photos.iter().all(|p| !p.ready));
}

#[test]
fn the_curve_grows_until_done_and_the_head_is_named() {
    let mut s = with_classes(&["a", "b"]);
    s.apply(TeachAction::TrainRequested);
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
