//! The reducer, natively: what each action and engine message does to the page.

use super::*;
use resnet_lab_protocol::{BlockGradient, GradFlowReport, Saliency};

fn add(state: &AppState, names: &[&str]) -> AppState {
    let photos = names
        .iter()
        .map(|name| NewPhoto {
            name: name.to_string(),
            url: format!("blob:{name}"),
        })
        .collect();
    state.after(Action::AddPhotos(photos))
}

fn classified(id: u32) -> Action {
    classified_from(id, Crops::Center)
}

fn classified_from(id: u32, crops: Crops) -> Action {
    Action::Engine(
        Response::Result {
            id,
            top: vec![PredictionRow {
                index: 281,
                label: "tabby".into(),
                prob: 0.5,
            }],
            timings: Timings::default(),
            backend: BackendKind::Cpu,
            width: 640,
            height: 480,
            custom: Vec::new(),
            crops,
        },
        0.0,
    )
}

fn report(class: usize) -> Box<GradientReport> {
    Box::new(GradientReport {
        analysis: GradFlowReport {
            model: "resnet18".into(),
            class,
            label: String::new(),
            logit: 1.0,
            input_grad_norm: 1.0,
            plain_input_grad_norm: 1.0,
            blocks: Vec::<BlockGradient>::new(),
            saliency: Saliency {
                grad_cam: vec![],
                grad_cam_size: [0, 0],
                input_gradient: vec![],
                input_size: [0, 0],
            },
            batch_norm: Default::default(),
            batch: 1,
            taught: false,
        },
        network: GradientNetwork::Loaded,
        block_kind: "basic".into(),
        analysis_ms: 1.0,
        backend: BackendKind::Cpu,
    })
}

#[test]
fn photos_get_ids_from_the_state_newest_first_never_reused() {
    let state = AppState::default();
    assert_eq!(state.photo_ids(2), 1..3);
    let state = add(&state, &["a.jpg", "b.jpg"]);
    // The last of a batch is shown first; ids follow the order they were added in.
    let cards: Vec<(u32, &str)> = state
        .photos
        .iter()
        .map(|p| (p.id, p.name.as_str()))
        .collect();
    assert_eq!(cards, vec![(2, "b.jpg"), (1, "a.jpg")]);
    assert_eq!(state.photos[0].url, "blob:b.jpg");
    assert_eq!(state.photos[0].state, PhotoState::Pending);
    // Clearing keeps the photos still waiting, and finished ones' ids are not handed out again.
    let state = state.after(classified(1)).after(Action::ClearPhotos);
    assert_eq!(
        state.photos.iter().map(|p| p.id).collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(state.photo_ids(1), 3..4);
    let state = add(&state, &["c.png"]);
    assert_eq!(state.photos[0].id, 3);
}

#[test]
fn a_result_fills_its_card_and_the_newest_done_photo_is_explained() {
    let state = add(&AppState::default(), &["a.jpg", "b.jpg", "c.jpg"]);
    assert_eq!(state.latest_done(), None);
    let state = state.after(classified(1)).after(classified(2));
    let b = state.photos.iter().find(|p| p.id == 2).unwrap();
    assert_eq!(b.state, PhotoState::Done);
    assert_eq!((b.size, b.top[0].index), (Some((640, 480)), 281));
    assert_eq!(state.latest_done(), Some(2));
    let state = state.after(Action::Engine(
        Response::ClassifyError {
            id: 3,
            message: "not an image".into(),
        },
        0.0,
    ));
    assert_eq!(state.photos[0].state, PhotoState::Error);
    assert_eq!(state.photos[0].error.as_deref(), Some("not an image"));
    // An answer about a photo that is gone changes nothing.
    assert_eq!(state.after(classified(99)), state);
}

#[test]
fn only_the_awaited_gradient_answer_is_shown() {
    let state = AppState::default().after(Action::GradientsRequested {
        id: 7,
        photo: Some(1),
        class: Some(ClassRef::Model(5)),
        network: GradientNetwork::Loaded,
    });
    assert_eq!(state.gradients.status(), "computing");
    // An older request's answer arrives late: ignored.
    let stale = state.after(Action::Engine(
        Response::Gradients {
            id: 6,
            report: report(9),
        },
        0.0,
    ));
    assert_eq!(stale, state);
    let done = state.after(Action::Engine(
        Response::Gradients {
            id: 7,
            report: report(5),
        },
        0.0,
    ));
    assert_eq!(done.gradients.status(), "done");
    assert_eq!(done.gradients.shown_photo, Some(1));
    assert_eq!(done.gradients.report.as_ref().unwrap().analysis.class, 5);
    let failed = state.after(Action::Engine(
        Response::GradientsError {
            id: 7,
            message: "out of memory".into(),
        },
        0.0,
    ));
    assert_eq!(failed.gradients.status(), "error");
}

#[test]
fn a_model_load_reports_its_time_and_its_failure() {
    let loading = AppState::default().after(Action::Loading {
        label: "ResNet-50".into(),
        name: "resnet50".into(),
        selected: Some("resnet50".into()),
        at: 1000.0,
    });
    assert_eq!(loading.model.state, LoadState::Loading);
    assert_eq!(loading.selected.as_deref(), Some("resnet50"));
    let progress = loading.after(Action::Engine(
        Response::Progress {
            done: 10,
            total: Some(100),
            phase: "download".into(),
        },
        1100.0,
    ));
    assert_eq!(progress.model.progress.as_ref().unwrap().done, 10);
    let failed = progress.after(Action::Engine(
        Response::ModelError {
            message: "HTTP 404".into(),
        },
        1500.0,
    ));
    assert_eq!(failed.model.state, LoadState::Error);
    assert_eq!(failed.model.progress, None);
    assert_eq!(
        failed.errors,
        vec!["The model could not be loaded: HTTP 404".to_string()]
    );
    assert_eq!(failed.after(Action::DismissError(0)).errors.len(), 0);
}

#[test]
fn clearing_the_cache_says_how_many_files_went() {
    let said = |entries| {
        AppState::default()
            .after(Action::Engine(Response::CacheCleared { entries }, 0.0))
            .info
            .unwrap()
    };
    assert_eq!(said(0), "The weights cache was already empty.");
    assert!(said(1).starts_with("Cleared 1 cached weights file:"));
    assert!(said(3).starts_with("Cleared 3 cached weights files:"));
}

#[test]
fn the_crops_setting_applies_to_new_photos_and_each_card_keeps_its_own() {
    let state = add(&AppState::default(), &["a.jpg", "b.jpg"]);
    assert_eq!(state.crops, Crops::Center);
    let state = state
        .after(classified_from(1, Crops::Center))
        .after(Action::Crops(Crops::Ten))
        .after(classified_from(2, Crops::Ten));
    assert_eq!(state.crops, Crops::Ten);
    let crops = |id: u32| state.photos.iter().find(|p| p.id == id).unwrap().crops;
    assert_eq!(
        (crops(1), crops(2)),
        (Some(Crops::Center), Some(Crops::Ten))
    );
}
