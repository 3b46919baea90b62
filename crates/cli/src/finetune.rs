//! `resnet-lab finetune`: a head for your own classes on a frozen ResNet. Features are the
//! backbone's pooled activations for each photo's centre crop; the head is a softmax
//! regression trained on them (see `resnet_lab_core::transfer`).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::predict::Classifier;
use resnet_lab_core::preprocess::PixelBuffer;
use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::preprocess::views::{Crops, View, preprocess_views};
use resnet_lab_core::transfer::train::MIN_PHOTOS_PER_CLASS;
use resnet_lab_core::transfer::{BackboneId, TrainConfig, Validation, train_head};
use serde_json::json;

use crate::backend::BackendChoice;
use crate::escape_controls;
use crate::image_folder::ImageFolder;
use crate::inputs;

/// Photos per forward pass while extracting features.
const BATCH: usize = 8;

#[derive(Args)]
pub struct FinetuneArgs {
    /// The frozen backbone: .pth, .safetensors, TF.js model.json or a converted bundle.
    #[arg(long)]
    weights: PathBuf,
    /// One sub-folder per class (its name is the label), photos inside, as torchvision's ImageFolder.
    #[arg(long)]
    data: PathBuf,
    /// Where to write the head (.safetensors).
    #[arg(long)]
    out: PathBuf,
    /// Full-batch training steps.
    #[arg(long, default_value_t = 100)]
    epochs: usize,
    /// Fraction of each class held out for validation; 0: none. When it would hold out fewer
    /// than 10 photos, leave-one-out is used instead.
    #[arg(long, default_value_t = 0.2)]
    val_split: f64,
    /// Seed of the validation split.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

pub fn run(args: FinetuneArgs) -> Result<ExitCode, Error> {
    if !(0.0..1.0).contains(&args.val_split) {
        return Err(Error::Input(format!(
            "--val-split {} is not a fraction in [0, 1)",
            args.val_split
        )));
    }
    if !(1..=100_000).contains(&args.epochs) {
        return Err(Error::Input("--epochs must be 1 to 100000".into()));
    }
    let folder = ImageFolder::scan(&args.data)?;
    let weights = inputs::load_weights_file(&args.weights)?;
    let backbone = BackboneId::of(&weights)?;
    let (device, backend) = args.backend.open()?;
    let convention = weights.info.input;
    let classifier = Classifier::new(weights, &device)?;

    // Features of every readable photo; the others are listed and skipped.
    let started = Instant::now();
    let mut features = Vec::new();
    let mut labels = Vec::new();
    let mut skipped = Vec::new();
    for chunk in folder.photos.chunks(BATCH) {
        let mut views: Vec<View> = Vec::new();
        let mut chunk_labels = Vec::new();
        for (path, label) in chunk {
            match load_center_view(path, convention) {
                Ok(view) => {
                    views.push(view);
                    chunk_labels.push(*label);
                }
                Err(e) => {
                    eprintln!(
                        "warning: skipping {}: {e}",
                        escape_controls(&path.display().to_string())
                    );
                    skipped.push(
                        json!({ "path": path.display().to_string(), "error": e.to_string() }),
                    );
                }
            }
        }
        if views.is_empty() {
            continue;
        }
        features.extend(pollster::block_on(classifier.view_outputs(&views, true))?);
        labels.extend(chunk_labels);
    }
    let features_ms = started.elapsed().as_secs_f64() * 1e3;
    let counts: Vec<usize> = (0..folder.classes.len())
        .map(|k| labels.iter().filter(|&&l| l == k).count())
        .collect();
    let short: Vec<String> = folder
        .classes
        .iter()
        .zip(&counts)
        .filter(|(_, n)| **n < MIN_PHOTOS_PER_CLASS)
        .map(|(c, n)| format!("`{}` ({n})", escape_controls(c)))
        .collect();
    if !short.is_empty() {
        return Err(Error::Dataset(format!(
            "too few readable photos remain in {} (each class needs at least {MIN_PHOTOS_PER_CLASS}{})",
            short.join(", "),
            if skipped.is_empty() {
                String::new()
            } else {
                format!("; {} photo(s) could not be read", skipped.len())
            }
        )));
    }

    let config = TrainConfig {
        epochs: args.epochs,
        validation: Validation::choose(args.val_split, &counts),
        seed: args.seed,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let trained = pollster::block_on(train_head(
        &features,
        &labels,
        folder.classes.clone(),
        backbone.clone(),
        &config,
        &device,
    ))?;
    let train_ms = started.elapsed().as_secs_f64() * 1e3;
    let bytes = trained.head.to_safetensors()?;
    std::fs::write(&args.out, &bytes)
        .map_err(|e| Error::Input(format!("cannot write {}: {e}", args.out.display())))?;

    let validation = match trained.validation {
        Validation::None => "none",
        Validation::Split(_) => "split",
        Validation::LeaveOneOut => "leave_one_out",
    };
    if args.json {
        let doc = json!({
            "classes": folder.classes,
            "photos": counts,
            "skipped": skipped,
            "validation": validation,
            "held_out": trained.held_out.len(),
            "epochs": trained.epochs,
            "features_ms": features_ms,
            "train_ms": train_ms,
            "backbone": backbone,
            "backend": backend,
            "head": args.out.display().to_string(),
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        for (class, n) in folder.classes.iter().zip(&counts) {
            println!("{:>5} photos  {}", n, escape_controls(class));
        }
        println!(
            "features: {:.0} ms ({}), validation: {validation}",
            features_ms,
            backbone.describe()
        );
        println!("{:>6} {:>9} {:>7} {:>7}", "epoch", "loss", "train", "val");
        for e in &trained.epochs {
            let val = e
                .val_accuracy
                .map_or("-".to_owned(), |v| format!("{:.1}%", v * 100.0));
            println!(
                "{:>6} {:>9.4} {:>6.1}% {:>7}",
                e.epoch,
                e.loss,
                e.train_accuracy * 100.0,
                val
            );
        }
        println!("training: {train_ms:.0} ms; wrote {}", args.out.display());
    }
    Ok(ExitCode::SUCCESS)
}

/// A photo's centre crop, preprocessed for the backbone.
fn load_center_view(
    path: &std::path::Path,
    convention: resnet_lab_core::preprocess::InputConvention,
) -> Result<View, Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
    let image = decode_image(&bytes)?;
    let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb)?;
    let mut views = preprocess_views(&pixels, convention, Crops::Center)?;
    views
        .pop()
        .ok_or_else(|| Error::Input("no view of the photo".into()))
}
