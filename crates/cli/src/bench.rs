//! `resnet-lab bench`: batch-1 224×224 inference time, measured the same way as the
//! PyTorch side of `bench/compare.py` (warm-up, then the median of N runs).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::gradflow::{GradFlowAnalyzer, Target, he_initialized_weights};
use resnet_lab_core::predict::Classifier;
use serde_json::json;

use crate::backend::BackendChoice;

#[derive(Args)]
pub struct BenchArgs {
    /// Architectures to time (He-initialised weights: speed does not depend on the values).
    #[arg(long, value_delimiter = ',', default_value = "resnet18,resnet50")]
    arch: Vec<String>,
    /// Images per forward pass (the same 224×224 input repeated).
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Timed runs per architecture (after warm-up).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Also time the gradient-flow analysis (the residual and the plain network, forward and
    /// backward; the autodiff network built beforehand, as the page keeps it).
    #[arg(long)]
    gradflow: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    #[arg(long)]
    json: bool,
    /// Also break one forward pass down by stage (stem, layer1..4, head).
    #[arg(long)]
    profile: bool,
}

/// Past this a batch of 224×224 float32 inputs (600 KB each) is more memory than a benchmark
/// should take.
const MAX_BATCH: usize = 256;

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(args: BenchArgs) -> Result<ExitCode, Error> {
    let (device, backend) = args.backend.open()?;
    let runs = args.runs.max(1);
    let batch = args.batch.clamp(1, MAX_BATCH);
    if !args.json {
        println!("backend: {} on {}", backend.kind, backend.device);
    }
    let mut rows = Vec::new();
    for arch in &args.arch {
        let weights = he_initialized_weights(arch, 0)?;
        let input: Vec<f32> = (0..3 * 224 * 224)
            .map(|i| ((i % 255) as f32 / 255.0) - 0.5)
            .collect();
        let inputs = vec![input.clone(); batch];
        let classifier = Classifier::new(weights.clone(), &device)?;
        let time_forward = || -> Result<f64, Error> {
            let start = Instant::now();
            let batch = classifier.input_batch(&inputs, 224, 224)?;
            pollster::block_on(classifier.logits(batch))?;
            Ok(start.elapsed().as_secs_f64() * 1e3)
        };
        for _ in 0..3 {
            time_forward()?;
        }
        let samples = (0..runs)
            .map(|_| time_forward())
            .collect::<Result<Vec<_>, _>>()?;
        let forward = median_ms(samples);
        let mut row = json!({
            "arch": arch,
            "batch": batch,
            "forward_ms": forward,
            "images_per_s": batch as f64 * 1e3 / forward,
            "runs": runs,
        });
        if args.gradflow {
            // The analysis alone, as the page runs it: the autodiff network is built once and
            // kept (its build is a weight upload, not part of an analysis).
            let analyzer = GradFlowAnalyzer::new(weights.clone(), &device)?;
            let time_gradflow = || -> Result<f64, Error> {
                let start = Instant::now();
                pollster::block_on(analyzer.analyze(&input, [224, 224], None))?;
                Ok(start.elapsed().as_secs_f64() * 1e3)
            };
            time_gradflow()?;
            let samples = (0..runs.min(5))
                .map(|_| time_gradflow())
                .collect::<Result<Vec<_>, _>>()?;
            let g = median_ms(samples);
            row["gradflow_ms"] = json!(g);
            row["gradflow_over_forward"] = json!(g / forward);
            // As the page runs it on the CPU: after the photo's classification, reusing its
            // forward pass (the CPU device only).
            if let Some(network) = classifier.cpu_forward()? {
                let analyzer = GradFlowAnalyzer::from_channel_last(
                    Arc::clone(network),
                    &classifier.info,
                    None,
                    &device,
                );
                let (_, trace) = network.traced(&input, [224, 224])?;
                let time_reused = || -> Result<f64, Error> {
                    let start = Instant::now();
                    let target = Target::Model(None);
                    let run = analyzer.analyze_traced(&input, [224, 224], target, Some(&trace));
                    pollster::block_on(run)?;
                    Ok(start.elapsed().as_secs_f64() * 1e3)
                };
                time_reused()?;
                let samples = (0..runs.min(5))
                    .map(|_| time_reused())
                    .collect::<Result<Vec<_>, _>>()?;
                let r = median_ms(samples);
                row["gradflow_after_classification_ms"] = json!(r);
                row["gradflow_after_classification_over_forward"] = json!(r / forward);
            }
        }
        if args.profile {
            let stages = profile_stages(&classifier, &input, &device, runs)?;
            row["stages_ms"] = json!(stages);
        }
        if !args.json {
            println!("{arch}: forward {forward:.1} ms for {batch} image(s) (median of {runs})");
            if let Some(stages) = row.get("stages_ms").and_then(|s| s.as_object()) {
                for (name, ms) in stages {
                    println!("    {name:<7} {:.1} ms", ms.as_f64().unwrap_or(f64::NAN));
                }
            }
            if let Some(g) = row.get("gradflow_ms") {
                println!("{arch}: gradflow {:.1} ms", g.as_f64().unwrap_or(f64::NAN));
            }
            if let Some(r) = row.get("gradflow_after_classification_ms") {
                let r = r.as_f64().unwrap_or(f64::NAN);
                println!("{arch}: gradflow after its classification {r:.1} ms");
            }
        }
        rows.push(row);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&json!({
                "backend": backend,
                // Burn's fusion and autotune are compile-time (the `gpu-tuned` feature).
                "fusion": cfg!(feature = "gpu-tuned"),
                "autotune": cfg!(feature = "gpu-tuned"),
                "results": rows,
            }))
            .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Median time of each part of the forward pass, with a device sync after each so queued
/// work is charged to the part that queued it.
fn profile_stages(
    classifier: &Classifier,
    input: &[f32],
    device: &burn::tensor::Device,
    runs: usize,
) -> Result<serde_json::Map<String, serde_json::Value>, Error> {
    let model = &classifier.model;
    let sync = || device.sync().map_err(|e| Error::Backend(format!("{e:?}")));
    let mut names: Vec<String> = vec!["stem".into()];
    let mut stage_of_block = Vec::new();
    for info in classifier.info.config.blocks() {
        let name = format!("layer{}", info.stage + 1);
        if names.last() != Some(&name) {
            names.push(name);
        }
        stage_of_block.push(names.len() - 1);
    }
    names.push("head".into());
    let mut samples: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    for _ in 0..runs {
        let batch = classifier.input_batch(&[input.to_vec()], 224, 224)?;
        sync()?;
        let mut start = Instant::now();
        let mut x = model.forward_stem(batch);
        sync()?;
        let mut elapsed = vec![0.0; names.len()];
        elapsed[0] = start.elapsed().as_secs_f64() * 1e3;
        for (block, &stage) in model.blocks.iter().zip(&stage_of_block) {
            start = Instant::now();
            x = block.forward(x);
            sync()?;
            elapsed[stage] += start.elapsed().as_secs_f64() * 1e3;
        }
        start = Instant::now();
        let logits = model.forward_head(x);
        pollster::block_on(resnet_lab_core::predict::read_f32(logits))?;
        elapsed[names.len() - 1] = start.elapsed().as_secs_f64() * 1e3;
        for (s, e) in samples.iter_mut().zip(elapsed) {
            s.push(e);
        }
    }
    Ok(names
        .into_iter()
        .zip(samples)
        .map(|(n, s)| (n, json!(median_ms(s))))
        .collect())
}
