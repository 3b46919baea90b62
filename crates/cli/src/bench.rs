//! `resnet-lab bench`: batch-1 224×224 inference time, measured the same way as the
//! PyTorch side of `bench/compare.py` (warm-up, then the median of N runs).

use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::gradflow::{analyze, he_initialized_weights};
use resnet_lab_core::predict::Classifier;
use serde_json::json;

use crate::BackendChoice;

#[derive(Args)]
pub struct BenchArgs {
    /// Architectures to time (He-initialised weights: speed does not depend on the values).
    #[arg(long, value_delimiter = ',', default_value = "resnet18,resnet50")]
    arch: Vec<String>,
    /// Timed runs per architecture (after warm-up).
    #[arg(long, default_value_t = 20)]
    runs: usize,
    /// Also time the gradient-flow analysis (two forward + two backward passes).
    #[arg(long)]
    gradflow: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    #[arg(long)]
    json: bool,
}

fn median_ms(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(f64::total_cmp);
    samples.get(samples.len() / 2).copied().unwrap_or(f64::NAN)
}

pub fn run(args: BenchArgs) -> Result<ExitCode, Error> {
    let device = args.backend.device()?;
    let runs = args.runs.max(1);
    let mut rows = Vec::new();
    for arch in &args.arch {
        let weights = he_initialized_weights(arch, 0)?;
        let input: Vec<f32> = (0..3 * 224 * 224)
            .map(|i| ((i % 255) as f32 / 255.0) - 0.5)
            .collect();
        let classifier = Classifier::new(weights.clone(), &device)?;
        let time_forward = || -> Result<f64, Error> {
            let start = Instant::now();
            let batch = classifier.input_batch(std::slice::from_ref(&input), 224, 224)?;
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
        let mut row = json!({ "arch": arch, "forward_ms": forward, "runs": runs });
        if args.gradflow {
            let time_gradflow = || -> Result<f64, Error> {
                let start = Instant::now();
                pollster::block_on(analyze(weights.clone(), &input, [224, 224], None, &device))?;
                Ok(start.elapsed().as_secs_f64() * 1e3)
            };
            time_gradflow()?;
            let samples = (0..runs.min(5))
                .map(|_| time_gradflow())
                .collect::<Result<Vec<_>, _>>()?;
            let g = median_ms(samples);
            row["gradflow_ms"] = json!(g);
            row["gradflow_over_forward"] = json!(g / forward);
        }
        if !args.json {
            println!("{arch}: forward {forward:.1} ms (median of {runs})");
            if let Some(g) = row.get("gradflow_ms") {
                println!("{arch}: gradflow {:.1} ms", g.as_f64().unwrap_or(f64::NAN));
            }
        }
        rows.push(row);
    }
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(
                &json!({ "backend": format!("{:?}", device), "results": rows })
            )
            .unwrap_or_default()
        );
    }
    Ok(ExitCode::SUCCESS)
}
