//! `resnet-lab shatter`: shattered gradients at He initialisation (Balduzzi et al. 2017).
//! The numbers come from `resnet_lab_core::lab::shatter`; this module parses and prints.

use std::process::ExitCode;

use clap::{Args, ValueEnum};
use resnet_lab_core::Error;
use resnet_lab_core::gradflow::he_initialized_weights;
use resnet_lab_core::lab::shatter::{DEFAULT_POINTS, shatter};
use serde_json::json;

use crate::backend::BackendChoice;

/// The networks the study offers.
#[derive(Clone, Copy, ValueEnum)]
pub enum ShatterArch {
    Cifar20,
    Cifar56,
    Cifar110,
    Resnet18,
    Resnet50,
}

impl ShatterArch {
    fn name(self) -> &'static str {
        match self {
            ShatterArch::Cifar20 => "cifar20",
            ShatterArch::Cifar56 => "cifar56",
            ShatterArch::Cifar110 => "cifar110",
            ShatterArch::Resnet18 => "resnet18",
            ShatterArch::Resnet50 => "resnet50",
        }
    }
}

#[derive(Args)]
pub struct ShatterArgs {
    /// He-initialised network.
    #[arg(long, value_enum)]
    arch: ShatterArch,
    /// Remove every shortcut (the plain network with the same weights).
    #[arg(long)]
    plain: bool,
    /// Seed of the He initialisation and of the line (start and direction).
    #[arg(long, default_value_t = 0)]
    seed: u64,
    /// Points on the line x(t) = x0 + t·d, t evenly spaced in [-1, 1].
    #[arg(long, default_value_t = DEFAULT_POINTS)]
    points: usize,
    #[arg(long)]
    json: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

pub fn run(args: ShatterArgs) -> Result<ExitCode, Error> {
    let (device, backend) = args.backend.open()?;
    let arch = args.arch.name();
    let weights = he_initialized_weights(arch, args.seed)?;
    let mut report = pollster::block_on(shatter(
        weights,
        args.plain,
        args.points,
        args.seed,
        &device,
    ))?;
    report.arch = arch.to_string();
    if args.json {
        let mut doc = serde_json::to_value(&report).unwrap_or_default();
        doc["seed"] = json!(args.seed);
        doc["backend"] = json!(backend);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let kind = if args.plain { "plain" } else { "residual" };
        println!(
            "{arch} ({kind}), seed {}, {} points, logit {}",
            args.seed, args.points, report.class
        );
        println!("lag-1 autocorrelation of dz/dt: {:.4}", report.lag1);
        let shown = report.autocorr.iter().take(8).map(|r| format!("{r:.3}"));
        println!(
            "autocorrelation, lags 0..8: {}",
            shown.collect::<Vec<_>>().join(" ")
        );
    }
    Ok(ExitCode::SUCCESS)
}
