//! `resnet-lab gradflow`: per-block gradient norms of one logit (the network's class or a
//! trained head's), residual vs plain network, shortcut vs branch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use resnet_lab_core::gradflow::{
    self, BatchNormMode, GradFlowAnalyzer, GradFlowOptions, GradFlowReport, HeInitOptions, Target,
};
use resnet_lab_core::{Error, LoadedWeights};
use serde_json::json;

use crate::backend::BackendChoice;
use crate::classify::read_head;
use crate::inputs;

#[derive(Args)]
pub struct GradflowArgs {
    /// Weights file; omit to use a He-initialised network (see --arch and --seed).
    #[arg(long)]
    weights: Option<PathBuf>,
    /// Architecture of the He-initialised network: resnet18/34/50/101/152 or cifar20/56/110/...
    #[arg(long, default_value = "resnet50")]
    arch: String,
    /// Seed of the He initialisation.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Class whose logit is differentiated (default: the top-1 class); with --head, a class
    /// of the head.
    #[arg(long)]
    class: Option<usize>,
    /// A head trained with `resnet-lab finetune` on these weights: its logit is differentiated
    /// instead of the ImageNet classifier's (heads on the frozen backbone only).
    #[arg(long, requires = "weights")]
    head: Option<PathBuf>,
    /// BatchNorm: `eval` (stored statistics; at He initialisation the identity) or `train`
    /// (statistics of a batch: the input and --batch − 1 noise images from --seed; freshly
    /// initialised networks only).
    #[arg(long, default_value = "eval", value_parser = ["eval", "train"])]
    bn: String,
    /// Images in the training-mode batch.
    #[arg(long, default_value_t = gradflow::DEFAULT_BATCH)]
    batch: usize,
    /// torchvision's zero_init_residual: every residual branch's last BatchNorm γ is 0.
    #[arg(long, conflicts_with = "weights")]
    zero_init_residual: bool,
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Image or preprocessed .npy; omit it to analyse seeded noise (as the web panel does for
    /// an initialised network before any photo).
    input: Option<PathBuf>,
}

pub fn run(args: GradflowArgs) -> Result<ExitCode, Error> {
    let (device, backend) = args.backend.open()?;
    // The small head file first: a bad one fails before the weights are read.
    let head = args.head.as_deref().map(read_head).transpose()?;
    let weights: LoadedWeights = match &args.weights {
        Some(path) => inputs::load_weights_file(path)?,
        None => gradflow::he_initialized_weights_with(
            &args.arch,
            args.seed,
            &HeInitOptions {
                zero_init_residual: args.zero_init_residual,
                ..HeInitOptions::default()
            },
        )?,
    };
    let info = weights.info.clone();
    let input = inputs::analysis_input(args.input.as_deref(), &info, args.seed)?;
    let options = GradFlowOptions {
        batch_norm: BatchNormMode::parse(&args.bn).unwrap_or_default(),
        batch: args.batch,
        // Not the input's own seed: the batch's other images differ from the analysed noise.
        noise_seed: args.seed.wrapping_add(1),
    };
    let target = match &head {
        Some(head) => Target::Head {
            head,
            class: args.class,
        },
        None => Target::Model(args.class),
    };
    let analyzer = GradFlowAnalyzer::new(weights, &device)?;
    let report: GradFlowReport = pollster::block_on(analyzer.analyze_target(
        &input.values,
        [input.height, input.width],
        target,
        &options,
    ))?;
    if args.json {
        let mut doc = serde_json::to_value(&report).unwrap_or_default();
        doc["backend"] = json!(backend);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        println!(
            "class {} ({}), logit {:.4}",
            report.class, report.label, report.logit
        );
        println!(
            "BatchNorm in {} mode (batch {})",
            report.batch_norm.name(),
            report.batch
        );
        println!(
            "{:<10} {:>11} {:>11} {:>11} {:>11} {:>11} {:>11}",
            "block", "‖∂z/∂x‖", "shortcut", "residual", "plain", "‖x‖", "plain ‖x‖"
        );
        for b in &report.blocks {
            println!(
                "{:<10} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e} {:>11.4e}",
                b.block,
                b.grad_norm,
                b.shortcut_norm,
                b.residual_norm,
                b.plain_grad_norm,
                b.act_norm,
                b.plain_act_norm
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}
