//! Teach mode's classes kept in the browser: the record's round trip, and hostile reads.

use super::teach::*;
use super::teach_tests::{FP, add_photos, with_classes};

fn kept_state() -> (String, Vec<(u32, String)>) {
    let mut s = with_classes(&["bird", "car"]);
    add_photos(&mut s, "bird", 2);
    add_photos(&mut s, "car", 2);
    let files = (1..=4).map(|id| (id, format!("blob:new{id}"))).collect();
    (s.kept_record(), files)
}

fn restored(
    record: Option<String>,
    photos: Vec<(u32, String)>,
    features: Vec<KeptFeatures>,
) -> TeachState {
    let mut s = TeachState::default();
    s.apply(TeachAction::Restore {
        record,
        photos,
        features,
        problem: None,
    });
    s
}

#[test]
fn kept_classes_come_back_in_order_with_their_photos_and_features() {
    let (record, files) = kept_state();
    let features = vec![
        KeptFeatures {
            photo: 3,
            fingerprint: FP.into(),
            values: vec![0.5; 4],
        },
        // Hostile: non-finite values, an unknown photo, an empty row.
        KeptFeatures {
            photo: 1,
            fingerprint: FP.into(),
            values: vec![f32::NAN; 4],
        },
        KeptFeatures {
            photo: 99,
            fingerprint: FP.into(),
            values: vec![0.5; 4],
        },
        KeptFeatures {
            photo: 2,
            fingerprint: FP.into(),
            values: vec![],
        },
    ];
    let mut s = restored(Some(record.clone()), files, features);
    assert!(s.restored);
    assert_eq!(
        s.classes
            .iter()
            .map(|c| c.name.as_str())
            .collect::<Vec<_>>(),
        ["bird", "car"]
    );
    assert_eq!(s.request_classes()[1].photos, [3, 4]);
    assert_eq!(s.classes[1].photos[0].url, "blob:new3");
    assert_eq!(s.classes[1].photos[0].name, "car0.jpg");
    assert_eq!(s.next_photo_id, 5);
    assert_eq!(s.kept_feature_keys(), [(3, feature_key(FP, 3))]);
    assert!(
        s.kept_message
            .as_deref()
            .unwrap()
            .contains("bird, car (4 photos)")
    );
    // The restored record is the record (nothing lost in the round trip).
    assert_eq!(s.kept_record(), record);
    s.model_ready(Some(FP.into()));
    assert_eq!(
        s.to_send()
            .iter()
            .filter(|f| matches!(f, FeatureSend::Restore { .. }))
            .count(),
        1
    );
}

#[test]
fn damaged_kept_records_are_ignored_with_a_message() {
    let (record, files) = kept_state();
    // A photo whose file is missing, a duplicated id, a bad class name (and its 2 photos):
    // left out, counted.
    let tampered = record
        .replace("\"id\":2", "\"id\":1")
        .replace("\"name\":\"car\"", "\"name\":\"   \"");
    let s = restored(Some(tampered), files[..3].to_vec(), vec![]);
    assert_eq!(s.classes.len(), 1);
    assert_eq!(s.classes[0].photos.len(), 1);
    assert!(
        s.kept_message
            .as_deref()
            .unwrap()
            .contains("4 damaged or missing"),
        "{:?}",
        s.kept_message
    );
    for bad in [
        "{",
        "[]",
        "{\"version\":1,\"classes\":7}",
        "{\"version\":99,\"classes\":[]}",
        &"x".repeat(MAX_KEPT_RECORD_CHARS + 1),
    ] {
        let s = restored(Some(bad.to_string()), files.clone(), vec![]);
        assert!(s.classes.is_empty(), "{bad:.40}");
        assert!(
            s.kept_message.as_deref().unwrap().contains("ignored"),
            "{bad:.40}"
        );
        assert!(s.restored, "saving resumes (over the damaged record)");
    }
    // More classes than allowed: the first MAX_CLASSES are taken.
    let many: Vec<String> = (0..30)
        .map(|i| format!("{{\"name\":\"c{i}\",\"photos\":[]}}"))
        .collect();
    let s = restored(
        Some(format!(
            "{{\"version\":1,\"classes\":[{}]}}",
            many.join(",")
        )),
        vec![],
        vec![],
    );
    assert_eq!(s.classes.len(), MAX_CLASSES);
    assert_eq!(parse_feature_key("00aa/12"), Some(("00aa".into(), 12)));
    assert_eq!(parse_feature_key("/12"), None);
    assert_eq!(parse_feature_key("00aa/x"), None);
}

#[test]
fn classes_made_before_the_read_finished_win_and_forget_clears() {
    let (record, files) = kept_state();
    let mut s = with_classes(&["mine"]);
    s.apply(TeachAction::Restore {
        record: Some(record),
        photos: files,
        features: vec![],
        problem: None,
    });
    assert_eq!(s.classes.len(), 1);
    assert!(s.restored);
    s.apply(TeachAction::Forget);
    assert!(s.classes.is_empty());
    assert_eq!(s.kept_record(), "{\"version\":1,\"classes\":[]}");
}
