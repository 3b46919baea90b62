//! `resnet-lab bench`: batch-1 224×224 inference time, measured the same way as the
//! PyTorch side of `bench/compare.py` (warm-up, then the median of N runs).

use std::process::ExitCode;
use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::gradflow::{GradFlowAnalyzer, Target, he_initialized_weights};
use resnet_lab_core::predict::{Classifier, Precision};
use resnet_lab_core::weights::LoadedWeights;
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
    /// Also time the forward pass in float16 (GPU backends: weights and input cast to float16,
    /// logits read back as float32), with its largest logit difference from float32.
    #[arg(long)]
    f16: bool,
}

/// Past this a batch of 224×224 float32 inputs (600 KB each) is more memory than a benchmark
/// should take.
const MAX_BATCH: usize = 256;

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

/// Median wall time of `run` in milliseconds over `runs` calls, after `warm_ups` untimed ones.
fn time_median(
    warm_ups: usize,
    runs: usize,
    mut run: impl FnMut() -> Result<(), Error>,
) -> Result<f64, Error> {
    for _ in 0..warm_ups {
        run()?;
    }
    let mut samples = Vec::with_capacity(runs);
    for _ in 0..runs {
        let start = Instant::now();
        run()?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
    }
    Ok(median_ms(samples))
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
        let forward = time_median(3, runs, || {
            let batch = classifier.input_batch(&inputs, 224, 224)?;
            pollster::block_on(classifier.logits(batch)).map(drop)
        })?;
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
            let g = time_median(1, runs.min(5), || {
                pollster::block_on(analyzer.analyze(&input, [224, 224], None)).map(drop)
            })?;
            row["gradflow_ms"] = json!(g);
            row["gradflow_over_forward"] = json!(g / forward);
            // As the page runs it on the CPU: after the photo's classification, reusing its
            // forward pass (the CPU device only).
            if let Some(network) = classifier.cpu_forward() {
                let analyzer = GradFlowAnalyzer::from_channel_last(
                    Arc::clone(network),
                    &classifier.info,
                    None,
                    &device,
                );
                let (_, trace) = network.traced(&input, [224, 224])?;
                let r = time_median(1, runs.min(5), || {
                    let target = Target::Model(None);
                    let run = analyzer.analyze_traced(&input, [224, 224], target, Some(&trace));
                    pollster::block_on(run).map(drop)
                })?;
                row["gradflow_after_classification_ms"] = json!(r);
                row["gradflow_after_classification_over_forward"] = json!(r / forward);
            }
        }
        if args.f16 {
            let (ms, diff) = time_f16(&classifier, weights.clone(), &inputs, runs)?;
            row["forward_f16_ms"] = json!(ms);
            row["f16_max_abs_logit_diff"] = json!(diff);
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
            if let Some(h) = row.get("forward_f16_ms") {
                let h = h.as_f64().unwrap_or(f64::NAN);
                let d = row["f16_max_abs_logit_diff"].as_f64().unwrap_or(f64::NAN);
                println!("{arch}: forward in float16 {h:.1} ms (logits within {d:.3} of float32)");
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

/// The forward pass in float16, timed as the float32 one is, and the largest difference of its
/// logits from float32's on the same input.
fn time_f16(
    float32: &Classifier,
    weights: LoadedWeights,
    inputs: &[Vec<f32>],
    runs: usize,
) -> Result<(f64, f64), Error> {
    let half = Classifier::new(weights, &float32.device)?.with_precision(Precision::F16)?;
    let logits = |classifier: &Classifier| -> Result<Vec<Vec<f32>>, Error> {
        let batch = classifier.input_batch(inputs, 224, 224)?;
        pollster::block_on(classifier.logits(batch))
    };
    let ms = time_median(3, runs, || logits(&half).map(drop))?;
    let diff = logits(&half)?
        .iter()
        .flatten()
        .zip(logits(float32)?.iter().flatten())
        .map(|(a, b)| f64::from((a - b).abs()))
        .fold(0.0, f64::max);
    Ok((ms, diff))
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
