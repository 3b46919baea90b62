//! `resnet-lab`: the ResNet Lab library from the command line.
//!
//! Classifies images, inspects and converts weight files, prints the gradient-flow numbers
//! and the lesion study, and benchmarks inference. Tests and benchmarks reach the model through it.

mod backend;
mod bench;
mod classify;
mod finetune;
mod gradflow;
mod image_folder;
mod inputs;
mod lesion;
mod shatter;
mod train;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use resnet_lab_core::Error;
use resnet_lab_core::weights::bundle::write_bundle;
use resnet_lab_core::weights::safetensors::StoredDtype;
use serde_json::json;

#[derive(Parser)]
#[command(
    name = "resnet-lab",
    version,
    about = "ResNet inference, weight conversion and gradient-flow analysis"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Classify images (or preprocessed .npy tensors) and print the top classes.
    Classify(classify::ClassifyArgs),
    /// Train a head for your own classes on a frozen ResNet (one sub-folder of photos per class).
    Finetune(finetune::FinetuneArgs),
    /// Describe a weights file: format, architecture, layout, parameters, input convention.
    Inspect {
        /// .pth, .safetensors, TF.js model.json or a converted bundle.
        file: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Convert any supported weights into one self-describing file for the web app.
    Convert {
        /// .pth, .safetensors, TF.js model.json or a converted bundle.
        input: PathBuf,
        /// Output file (.safetensors).
        #[arg(long)]
        out: PathBuf,
        /// Store float16 weights (half the download).
        #[arg(long, conflicts_with = "int8")]
        half: bool,
        /// Fold BatchNorm and store int8 weights with per-channel scales (a quarter of the
        /// download; dequantised to float32 at load).
        #[arg(long)]
        int8: bool,
    },
    /// Per-block gradient norms: residual vs plain network, shortcut vs branch.
    Gradflow(gradflow::GradflowArgs),
    /// Time batch-1 224×224 inference.
    Bench(bench::BenchArgs),
    /// Delete residual blocks (one at a time, or k at random) and count kept top-1 classes.
    Lesion(lesion::LesionArgs),
    /// Shattered gradients at initialisation: dz/dt along a line of inputs, its autocorrelation.
    Shatter(shatter::ShatterArgs),
    /// Train a CIFAR ResNet or plain network (SGD, BatchNorm in training mode).
    Train(train::TrainArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Classify(args) => classify::run(args),
        Command::Finetune(args) => finetune::run(args),
        Command::Inspect { file, json } => inspect(&file, json),
        Command::Convert {
            input,
            out,
            half,
            int8,
        } => convert(&input, &out, half, int8),
        Command::Gradflow(args) => gradflow::run(args),
        Command::Bench(args) => bench::run(args),
        Command::Lesion(args) => lesion::run(args),
        Command::Shatter(args) => shatter::run(args),
        Command::Train(args) => train::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(1)
        }
    }
}

pub(crate) fn model_json(info: &resnet_lab_core::ModelInfo) -> serde_json::Value {
    json!({
        "name": info.name(),
        "format": info.format,
        "layout": info.config.layout,
        "block": info.config.block,
        "stage_blocks": info.config.stage_blocks,
        "base_width": info.config.base_width,
        "num_classes": info.config.num_classes,
        "parameters": info.config.num_params(),
        "input": info.input,
        "labels": info.labels,
        "stored_dtype": info.stored_dtype,
        "source": info.source,
    })
}

fn inspect(path: &Path, as_json: bool) -> Result<ExitCode, Error> {
    let weights = inputs::load_weights_file(path)?;
    // Building the network checks every tensor, so `inspect` also validates the file.
    weights
        .tensors
        .check_against(&weights.info.config.tensor_specs())?;
    weights.tensors.check_finite()?;
    let info = &weights.info;
    if as_json {
        let mut doc = model_json(info);
        doc["file"] = json!(path.display().to_string());
        doc["tensors"] = json!(weights.tensors.len());
        doc["parameters_with_bn_statistics"] = json!(info.config.num_params_with_bn_statistics());
        doc["bn_eps"] = json!(info.config.bn_eps);
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let c = &info.config;
        println!("file:          {}", path.display());
        println!("format:        {}", info.format.describe());
        println!("source:        {}", escape_controls(&info.source));
        println!(
            "architecture:  {} ({:?} blocks {:?}, base width {})",
            info.name(),
            c.block,
            c.stage_blocks,
            c.base_width
        );
        println!(
            "layout:        {}",
            match c.layout {
                resnet_lab_core::model::Layout::Torchvision =>
                    "torchvision v1.5 (stride on the 3×3 conv, no conv bias)",
                resnet_lab_core::model::Layout::Keras =>
                    "original / Keras v1 (stride on the first 1×1 conv, conv bias)",
            }
        );
        println!("classes:       {} ({:?})", c.num_classes, info.labels);
        println!(
            "parameters:    {} (with BatchNorm statistics: {})",
            c.num_params(),
            c.num_params_with_bn_statistics()
        );
        println!("BatchNorm eps: {}", c.bn_eps);
        println!("dtype:         {}", escape_controls(&info.stored_dtype));
        println!("input:         {}", info.input.describe());
    }
    Ok(ExitCode::SUCCESS)
}

/// Text from a file, safe for a terminal: control characters (escape sequences, carriage
/// returns) are shown escaped instead of being interpreted.
pub(crate) fn escape_controls(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

fn convert(input: &Path, out: &Path, half: bool, int8: bool) -> Result<ExitCode, Error> {
    let mut weights = inputs::load_weights_file(input)?;
    weights.tensors.check_finite()?;
    if weights.info.source.is_empty() {
        weights.info.source = input.display().to_string();
    } else {
        let name = input
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        weights.info.source = format!("{} ({name})", weights.info.source);
    }
    let dtype = match (half, int8) {
        (_, true) => StoredDtype::Int8,
        (true, false) => StoredDtype::F16,
        (false, false) => StoredDtype::F32,
    };
    let bytes = write_bundle(&weights, dtype)?;
    std::fs::write(out, &bytes)
        .map_err(|e| Error::Input(format!("cannot write {}: {e}", out.display())))?;
    eprintln!(
        "wrote {} ({}, {:.1} MB, {})",
        out.display(),
        weights.info.name(),
        bytes.len() as f64 / 1e6,
        dtype.name()
    );
    Ok(ExitCode::SUCCESS)
}
