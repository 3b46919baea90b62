use super::*;

fn curve(arch: &str, plain: bool, lag1: f64) -> LabResponse {
    LabResponse::ShatterCurve {
        id: 7,
        curve: Box::new(ShatterCurve {
            arch: arch.into(),
            plain,
            seed: 0,
            class: 0,
            t: vec![-1.0, 1.0],
            grad: vec![1.0, 2.0],
            autocorr: vec![1.0, lag1],
            lag1,
        }),
        ms: 100.0,
    }
}

#[test]
fn shatter_answers_of_the_awaited_run_build_the_depth_summary() {
    let (mut shatter, mut train) = (ShatterState::default(), TrainState::default());
    apply(
        &mut shatter,
        &mut train,
        LabRunAction::ShatterRequested {
            id: 7,
            networks: vec![LabNetwork::new("cifar20", true); 4],
            points: 64,
            seed: 0,
        },
    );
    assert_eq!((shatter.state, shatter.total), (RunState::Running, 256));
    for response in [
        curve("cifar110", true, -0.1),
        curve("cifar20", false, 0.95),
        curve("cifar20", true, 0.88),
        curve("cifar110", false, 0.96),
        // An older run's line: ignored.
        LabResponse::ShatterCurve {
            id: 6,
            curve: Box::new(ShatterCurve {
                arch: "cifar56".into(),
                plain: true,
                seed: 0,
                class: 0,
                t: vec![],
                grad: vec![],
                autocorr: vec![],
                lag1: 0.0,
            }),
            ms: 1.0,
        },
        LabResponse::ShatterProgress {
            id: 7,
            done: 256,
            total: 256,
        },
    ] {
        respond(&mut shatter, &mut train, response);
    }
    assert_eq!(
        shatter.lag1_by_depth(),
        vec![(20, Some(0.88), Some(0.95)), (110, Some(-0.1), Some(0.96))]
    );
    assert_eq!(shatter.ms, 400.0);
    assert_eq!(shatter.done, 256);
    respond(
        &mut shatter,
        &mut train,
        LabResponse::Finished {
            id: 7,
            experiment: LabExperiment::Shatter,
            stopped: false,
        },
    );
    assert_eq!(shatter.state, RunState::Done);
    assert_eq!(train.state, RunState::Idle, "the other run is untouched");
}

fn step(network: usize, step: usize, loss: f64) -> LabResponse {
    LabResponse::TrainStep {
        id: 3,
        network,
        point: TrainPoint {
            step,
            loss,
            accuracy: 0.1,
        },
        step_ms: 50.0,
    }
}

#[test]
fn training_steps_grow_the_curves_and_stop_resume_and_errors_show() {
    let (mut shatter, mut train) = (ShatterState::default(), TrainState::default());
    let nets = vec![
        LabNetwork::new("cifar20", true),
        LabNetwork::new("cifar56", true),
    ];
    apply(
        &mut shatter,
        &mut train,
        LabRunAction::TrainRequested {
            id: 3,
            networks: nets.clone(),
            setup: TrainSetup {
                steps: 100,
                batch: 32,
                lr: 0.1,
                seed: 0,
                width: 4,
                zero_init_residual: false,
                data: TrainData::Cifar10,
                images: Some(28),
            },
        },
    );
    assert_eq!(train.data_title(), "CIFAR-10 (28 training images)");
    assert_eq!(
        TrainState::default().data_title(),
        "the built-in grating task"
    );
    respond(&mut shatter, &mut train, step(0, 0, 2.3));
    respond(&mut shatter, &mut train, step(1, 0, 2.4));
    respond(&mut shatter, &mut train, step(5, 0, 2.4)); // no such network: ignored
    assert_eq!(train.curves[0].last_loss(), Some(2.3));
    assert_eq!(train.curves[1].step_ms(), 50.0);
    let finished = |stopped| LabResponse::Finished {
        id: 3,
        experiment: LabExperiment::Train,
        stopped,
    };
    respond(&mut shatter, &mut train, finished(true));
    assert_eq!(train.state, RunState::Stopped);
    apply(&mut shatter, &mut train, LabRunAction::Resume);
    assert_eq!(train.state, RunState::Running);
    respond(
        &mut shatter,
        &mut train,
        LabResponse::Error {
            id: 3,
            experiment: LabExperiment::Train,
            message: "the loss diverged".into(),
        },
    );
    assert_eq!(train.state, RunState::Error);
    assert_eq!(train.error.as_deref(), Some("the loss diverged"));
    engine_restarted(&mut shatter, &mut train);
    assert_eq!(shatter.state, RunState::Idle);
}

#[test]
fn the_degradation_marker_needs_the_smoothed_loss_to_stay_above() {
    let mut train = TrainState::default();
    let (p20, p56) = (
        LabNetwork::new("cifar20", true),
        LabNetwork::new("cifar56", true),
    );
    train.requested(
        1,
        vec![p20.clone(), p56.clone()],
        TrainSetup {
            steps: 100,
            batch: 32,
            lr: 0.1,
            seed: 0,
            width: 4,
            zero_init_residual: false,
            data: TrainData::Grating,
            images: None,
        },
    );
    let push = |train: &mut TrainState, n: usize, losses: &[f64]| {
        for &loss in losses {
            let step = train.curves[n].points.len();
            train.curves[n].points.push(TrainPoint {
                step,
                loss,
                accuracy: 0.0,
            });
        }
    };
    // 20 steps: plain-56 below plain-20 for the first 10, then above by 1.
    push(&mut train, 0, &[2.3; 20]);
    push(&mut train, 1, &[2.0; 10]);
    assert_eq!(train.stays_above(&p56, &p20), None);
    push(&mut train, 1, &[3.3; 10]);
    // Smoothed over 10 steps: plain-56's mean passes 2.3 once 3 of its last 10 losses are
    // 3.3 (0.7·2.0 + 0.3·3.3 = 2.39), in the window of steps 3..=12.
    assert_eq!(train.stays_above(&p56, &p20), Some(12));
    assert_eq!(train.stays_above(&p20, &p56), None);
    // Falling below again resets it.
    push(&mut train, 0, &[4.0; 10]);
    push(&mut train, 1, &[2.0; 10]);
    assert_eq!(train.stays_above(&p56, &p20), None);
}

#[test]
fn tabs_have_their_url_names() {
    for tab in LabTab::ALL {
        assert_eq!(LabTab::parse(tab.name()), Some(tab));
    }
    assert_eq!(LabTab::parse("nonsense"), None);
    assert_eq!(depth("cifar110"), 110);
}
