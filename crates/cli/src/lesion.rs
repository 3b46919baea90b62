//! `resnet-lab lesion`: delete residual blocks one at a time (and k at random) and report how
//! many photos keep their top-1 class (Veit et al. 2016).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::lab::lesion::{Lesion, LesionReport, LesionStudy, RandomPlan};
use resnet_lab_core::labels::LabelSet;
use resnet_lab_core::model::config::BlockInfo;
use resnet_lab_core::predict::top_predictions;
use serde_json::{Value, json};

use crate::backend::BackendChoice;
use crate::inputs;

/// Random draws per k when --draws is not given.
const DEFAULT_DRAWS: usize = 5;

#[derive(Args)]
pub struct LesionArgs {
    /// Weights: .pth, .safetensors, TF.js model.json or a converted bundle.
    #[arg(long)]
    weights: PathBuf,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
    /// Include every network's logits in the JSON output.
    #[arg(long)]
    logits: bool,
    /// How many classes to list per image and network in the JSON output.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Also delete k random blocks at once, for k = 1..=K (the degradation curve).
    #[arg(long, value_name = "K")]
    random_k: Option<usize>,
    /// Random draws per k (with --random-k; default 5).
    #[arg(long, value_name = "N")]
    draws: Option<usize>,
    /// Seed of the random draws.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Image files or preprocessed float32 .npy tensors [3,H,W] / [1,3,H,W], all of one size.
    inputs: Vec<PathBuf>,
}

pub fn run(args: LesionArgs) -> Result<ExitCode, Error> {
    // Checked here rather than by clap so that every bad invocation exits with status 1.
    if args.inputs.is_empty() {
        return Err(Error::Input(
            "no inputs: name at least one image or .npy file".into(),
        ));
    }
    if args.random_k.is_none() && args.draws.is_some() {
        return Err(Error::Input("--draws needs --random-k".into()));
    }
    let weights = inputs::load_weights_file(&args.weights)?;
    let convention = weights.info.input;
    // Checked before any image is read or any work is done.
    let random = args.random_k.map(|max_k| RandomPlan {
        max_k,
        draws: args.draws.unwrap_or(DEFAULT_DRAWS),
        seed: args.seed,
    });
    if let Some(plan) = &random {
        plan.deletion_sets(weights.info.config.blocks().len())?;
    }

    let mut images = Vec::with_capacity(args.inputs.len());
    let mut size: Option<[usize; 2]> = None;
    for path in &args.inputs {
        let shown = path.display();
        let input = inputs::load_input(path, convention)
            .map_err(|e| Error::Input(format!("{shown}: {e}")))?;
        let this = [input.height, input.width];
        match size {
            Some(first) if first != this => {
                return Err(Error::Input(format!(
                    "{shown} is {}×{}, the first input {}×{}: the study runs all inputs as one batch, so they must have one size",
                    this[0], this[1], first[0], first[1]
                )));
            }
            _ => size = Some(this),
        }
        images.push(input.values);
    }
    let size = size.ok_or_else(|| Error::Input("no inputs".into()))?;

    let (device, backend) = args.backend.open()?;
    let study = LesionStudy::new(weights, &device)?;
    let start = Instant::now();
    let report = pollster::block_on(study.run(&images, size, random))?;
    let study_ms = start.elapsed().as_secs_f64() * 1e3;
    let names: Vec<String> = args
        .inputs
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    if args.json {
        let mut doc = report_json(&report, study.labels(), &args, &names);
        doc["backend"] = json!(backend);
        // The study alone, without loading weights and images (for BENCHMARKS.md).
        doc["study_ms"] = json!(study_ms.round());
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        print_table(&report, study.labels(), &names);
    }
    Ok(ExitCode::SUCCESS)
}

/// The JSON document described in README.md ("resnet-lab lesion").
fn report_json(
    report: &LesionReport,
    labels: &LabelSet,
    args: &LesionArgs,
    names: &[String],
) -> Value {
    let top = |logits: &[Vec<f32>]| -> Value {
        logits
            .iter()
            .map(|l| json!(top_predictions(l, labels, args.top)))
            .collect()
    };
    let with_logits = |mut entry: Value, logits: &[Vec<f32>]| {
        if args.logits {
            entry["logits"] = json!(logits);
        }
        entry
    };
    let lesion = |lesion: &Lesion| {
        json!({
            "top1_unchanged": lesion.top1_unchanged,
            "mean_prob": lesion.mean_prob,
            "top": top(&lesion.logits),
        })
    };
    let blocks = |lesions: &[Lesion]| -> Value {
        report
            .blocks
            .iter()
            .zip(lesions)
            .map(|(info, l)| {
                let mut entry = json!({
                    "block": info.name,
                    "stage": info.stage,
                    "stride": info.stride,
                    "downsample": info.projection,
                });
                if let (Some(entry), Value::Object(numbers)) = (entry.as_object_mut(), lesion(l)) {
                    entry.extend(numbers);
                }
                with_logits(entry, &l.logits)
            })
            .collect()
    };
    let mut doc = json!({
        "model": report.model,
        "images": names,
        "intact": with_logits(json!({ "top": top(&report.intact) }), &report.intact),
        "blocks": blocks(&report.single),
        "plain": {
            "intact": with_logits(lesion(&report.plain_intact), &report.plain_intact.logits),
            "blocks": blocks(&report.plain_single),
        },
    });
    if !report.random.is_empty() {
        let curve: Vec<Value> = report
            .random
            .iter()
            .map(|r| {
                json!({
                    "k": r.k,
                    "top1_unchanged": r.top1_unchanged,
                    "mean_prob": r.mean_prob,
                    "draws": r.draws.iter().map(|d| with_logits(draw_json(d, &report.blocks), &d.logits)).collect::<Vec<_>>(),
                })
            })
            .collect();
        let draws = args.draws.unwrap_or(DEFAULT_DRAWS);
        doc["random_k"] = json!({ "seed": args.seed, "draws": draws, "curve": curve });
    }
    doc
}

fn draw_json(draw: &Lesion, blocks: &[BlockInfo]) -> Value {
    json!({
        "blocks": draw.deleted.iter().map(|&b| &blocks[b].name).collect::<Vec<_>>(),
        "top1_unchanged": draw.top1_unchanged,
        "mean_prob": draw.mean_prob,
    })
}

fn print_table(report: &LesionReport, labels: &LabelSet, names: &[String]) {
    println!(
        "{}, {} input(s). kept: share whose top-1 class is the intact network's; p: mean probability of that class",
        report.model,
        names.len()
    );
    for (name, logits) in names.iter().zip(&report.intact) {
        if let Some(p) = top_predictions(logits, labels, 1).first() {
            let label = crate::escape_controls(&p.label);
            println!("  {name}: {label} ({:.1}%)", p.prob * 100.0);
        }
    }
    println!();
    println!(
        "{:<10} {:<3} {:>14} {:>7}   {:>12} {:>7}",
        "deleted", "", "residual kept", "p", "plain kept", "p"
    );
    let row = |name: &str, mark: &str, res: Option<&Lesion>, plain: &Lesion| {
        let res = res.map_or_else(
            || format!("{:>14} {:>7}", "", ""),
            |r| format!("{:>13.1}% {:>7.4}", r.top1_unchanged * 100.0, r.mean_prob),
        );
        println!(
            "{name:<10} {mark:<3} {res}   {:>11.1}% {:>7.4}",
            plain.top1_unchanged * 100.0,
            plain.mean_prob
        );
    };
    row("(none)", "", None, &report.plain_intact);
    let rows = report
        .blocks
        .iter()
        .zip(report.single.iter().zip(&report.plain_single));
    for (info, (res, plain)) in rows {
        let mark = if info.projection { "ds" } else { "" };
        row(&info.name, mark, Some(res), plain);
    }
    println!("ds: the block has a projection shortcut (torchvision's `downsample`), which stays");
    println!("plain: the same weights with every skip connection removed");
    if let Some(first) = report.random.first() {
        println!();
        println!(
            "k random blocks deleted from the residual network (mean over {} draws)",
            first.draws.len()
        );
        println!("{:>3} {:>8} {:>8}", "k", "kept", "p");
        for r in &report.random {
            println!(
                "{:>3} {:>7.1}% {:>8.4}",
                r.k,
                r.top1_unchanged * 100.0,
                r.mean_prob
            );
        }
    }
}
