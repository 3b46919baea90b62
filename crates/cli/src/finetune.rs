//! `resnet-lab finetune`: a head for your own classes on a frozen ResNet. Features are the
//! backbone's pooled activations for each photo's centre crop; the head is a softmax
//! regression trained on them (see `resnet_lab_core::transfer`). With `--layer4` the last
//! stage is fine-tuned together with the head, on each photo's layer3 output computed once.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::Args;
use resnet_lab_core::Error;
use resnet_lab_core::predict::Classifier;
use resnet_lab_core::preprocess::PixelBuffer;
use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::preprocess::views::{Crops, View, preprocess_views};
use resnet_lab_core::transfer::layer4::{copy_stage, stage_inputs};
use resnet_lab_core::transfer::train::MIN_PHOTOS_PER_CLASS;
use resnet_lab_core::transfer::{
    BackboneId, Layer4Job, StageInputs, TrainConfig, Validation, train_head, train_with_layer4,
};
use serde_json::json;

use crate::backend::BackendChoice;
use crate::escape_controls;
use crate::image_folder::ImageFolder;
use crate::inputs;

/// Photos per forward pass while extracting features.
const BATCH: usize = 8;
/// Most layer3 output values kept for `--layer4` (1 GiB of float32: about 1,300 photos for
/// ResNet-50, whose layer3 output is 1024×14×14, or 5,300 for ResNet-18's 256×14×14).
const MAX_CACHED_VALUES: usize = 256 << 20;

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
    /// Also fine-tune the last stage (layer4), BatchNorm in eval mode, at a learning rate of
    /// 1e-4 (the head's is 0.01); slower. The head file then holds layer4 too (34 MB for
    /// ResNet-18, 60 MB for ResNet-50). Validation is a split (never leave-one-out).
    #[arg(long)]
    layer4: bool,
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
    let architecture = weights.info.config.clone();
    let stage = match args.layer4 {
        true => Some(copy_stage(&weights.tensors, &architecture)?),
        false => None,
    };
    let classifier = Classifier::new(weights, &device)?;

    // Features of every readable photo; the others are listed and skipped.
    let started = Instant::now();
    let mut features = Vec::new();
    let mut layer3 = StageInputs {
        rows: Vec::new(),
        shape: [0; 3],
    };
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
        if stage.is_some() {
            let values: Vec<Vec<f32>> = views.iter().map(|v| v.values.clone()).collect();
            let batch = classifier.input_batch(&values, views[0].height, views[0].width)?;
            let (rows, shape) = pollster::block_on(stage_inputs(&classifier, batch))?;
            layer3.shape = shape;
            layer3.rows.extend(rows);
            let plane: usize = shape.iter().product();
            if layer3.rows.len() * plane > MAX_CACHED_VALUES {
                return Err(Error::Dataset(format!(
                    "--layer4 keeps every photo's layer3 output ({plane} values each here); at \
                     most {} photos fit in {} MiB: use fewer photos, or train without --layer4",
                    MAX_CACHED_VALUES / plane.max(1),
                    (MAX_CACHED_VALUES * 4) >> 20
                )));
            }
        } else {
            features.extend(pollster::block_on(classifier.view_outputs(&views, true))?);
        }
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

    let validation = match (Validation::choose(args.val_split, &counts), &stage) {
        // One layer4 per photo would be needed: a split it is (at least one photo per class).
        (Validation::LeaveOneOut, Some(_)) => Validation::Split(args.val_split),
        (v, _) => v,
    };
    let config = TrainConfig {
        epochs: args.epochs,
        validation,
        seed: args.seed,
        ..TrainConfig::default()
    };
    let started = Instant::now();
    let trained = match &stage {
        Some(stage) => pollster::block_on(train_with_layer4(
            Layer4Job {
                inputs: &layer3,
                labels: &labels,
                classes: folder.classes.clone(),
                backbone: backbone.clone(),
                stage,
                architecture: &architecture,
            },
            &config,
            &device,
        ))?,
        None => pollster::block_on(train_head(
            &features,
            &labels,
            folder.classes.clone(),
            backbone.clone(),
            &config,
            &device,
        ))?,
    };
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
        let what = match stage {
            Some(_) => "layer3 outputs",
            None => "features",
        };
        println!(
            "{what}: {:.0} ms ({}), validation: {validation}",
            features_ms,
            backbone.describe()
        );
        if stage.is_some() {
            println!(
                "fine-tuning layer4 (Adam lr {}, BatchNorm in eval mode) with the head (lr {})",
                config.layer4_learning_rate, config.learning_rate
            );
        }
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
