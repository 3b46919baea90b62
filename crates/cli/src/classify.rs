//! `resnet-lab classify`: the top classes of each input, from the centre crop, ten crops or
//! the whole image, with the ImageNet classifier or a trained head (`--head`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, ValueEnum};
use resnet_lab_core::Error;
use resnet_lab_core::predict::{Classifier, Precision, Prediction, mean_softmax, rank};
use resnet_lab_core::preprocess::InputConvention;
use resnet_lab_core::preprocess::PixelBuffer;
use resnet_lab_core::preprocess::decode::decode_image;
use resnet_lab_core::preprocess::views::{Crops, View, preprocess_views};
use resnet_lab_core::transfer::layer4::replace_stage;
use resnet_lab_core::transfer::{BackboneId, LinearHead};
use serde_json::json;

use crate::backend::BackendChoice;
use crate::{escape_controls, inputs, model_json};

#[derive(Args)]
pub struct ClassifyArgs {
    /// Weights: .pth, .safetensors, TF.js model.json or a converted bundle.
    #[arg(long)]
    weights: PathBuf,
    /// A head trained with `resnet-lab finetune`: its classes replace ImageNet's.
    #[arg(long)]
    head: Option<PathBuf>,
    /// Which views of each image: the centre crop; torchvision's ten crops (corners, centre
    /// and their mirror images), softmax averaged; or the whole image, short side 256.
    #[arg(long, value_enum, default_value_t = CropsArg::Center)]
    crops: CropsArg,
    /// How many classes to list per input.
    #[arg(long, default_value_t = 5)]
    top: usize,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
    /// Include all logits in the JSON output (ten crops: one row per crop, `crop_logits`).
    #[arg(long)]
    logits: bool,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
    /// Compute in float16 (`--backend wgpu` only; half the memory traffic, logits within ~1e-2).
    #[arg(long)]
    f16: bool,
    /// Image files (JPEG, PNG, WebP, GIF, BMP) or preprocessed float32 .npy tensors [3,H,W] / [1,3,H,W].
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum CropsArg {
    Center,
    Ten,
    Full,
}

impl From<CropsArg> for Crops {
    fn from(c: CropsArg) -> Self {
        match c {
            CropsArg::Center => Crops::Center,
            CropsArg::Ten => Crops::Ten,
            CropsArg::Full => Crops::Full,
        }
    }
}

/// One input's answer: probabilities, the views they came from, and the raw rows.
struct Outcome {
    probs: Vec<f32>,
    crops: &'static str,
    rows: Vec<Vec<f32>>,
}

pub fn run(args: ClassifyArgs) -> Result<ExitCode, Error> {
    let mut weights = inputs::load_weights_file(&args.weights)?;
    let head = match &args.head {
        Some(path) => {
            let head = read_head(path)?;
            head.check_backbone(&BackboneId::of(&weights)?)?;
            // A head fine-tuned with its layer4 reads the features of that layer4.
            if let Some(stage) = &head.layer4 {
                replace_stage(&mut weights.tensors, stage, &weights.info.config)
                    .map_err(|e| Error::Head(format!("{}: {e}", path.display())))?;
            }
            Some(head)
        }
        None => None,
    };
    let (device, backend) = args.backend.open()?;
    let info = weights.info.clone();
    let precision = if args.f16 {
        Precision::F16
    } else {
        Precision::F32
    };
    let classifier = Classifier::new(weights, &device)?.with_precision(precision)?;
    let crops = Crops::from(args.crops);
    let label = |i: usize| match &head {
        Some(h) => h.classes.get(i).cloned().unwrap_or_default(),
        None => info.labels.name(i),
    };

    let mut results = Vec::new();
    let mut failed = false;
    for path in &args.inputs {
        let shown = path.display().to_string();
        match classify_one(&classifier, head.as_ref(), path, info.input, crops) {
            Ok(outcome) => {
                let top: Vec<Prediction> = rank(&outcome.probs, args.top, label);
                if !args.json {
                    println!("{shown}");
                    for p in &top {
                        let name = escape_controls(&p.label);
                        println!("  {:>6.2}%  {:>4}  {name}", p.prob * 100.0, p.index);
                    }
                }
                let mut entry = json!({ "image": shown, "crops": outcome.crops, "top": top });
                if args.logits {
                    let key = if outcome.rows.len() == 1 {
                        "logits"
                    } else {
                        "crop_logits"
                    };
                    entry[key] = if outcome.rows.len() == 1 {
                        json!(outcome.rows[0])
                    } else {
                        json!(outcome.rows)
                    };
                }
                results.push(entry);
            }
            Err(e) => {
                failed = true;
                if !args.json {
                    eprintln!("{shown}: error: {e}");
                }
                results.push(json!({ "image": shown, "error": e.to_string() }));
            }
        }
    }
    if args.json {
        let mut doc = json!({
            "model": model_json(&info),
            "backend": backend,
            "precision": if args.f16 { "f16" } else { "f32" },
            "crops": crops.name(),
            "results": results,
        });
        if let Some(h) = &head {
            doc["head"] = json!({ "classes": h.classes, "backbone": h.backbone });
        }
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    }
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Reads and checks a head file.
pub fn read_head(path: &Path) -> Result<LinearHead, Error> {
    // The largest real head (1000 classes × 2048 features, float32) is 8.2 MB; with a
    // fine-tuned layer4 of ResNet-50/101/152 (15 M float32 values) 69 MB.
    const MAX_HEAD_BYTES: u64 = 128 << 20;
    let cannot = |e: std::io::Error| Error::Input(format!("cannot read {}: {e}", path.display()));
    let size = std::fs::metadata(path).map_err(cannot)?.len();
    if size > MAX_HEAD_BYTES {
        return Err(Error::Head(format!(
            "{}: {size} bytes is too large for a head file (at most {MAX_HEAD_BYTES})",
            path.display()
        )));
    }
    let bytes = std::fs::read(path).map_err(cannot)?;
    LinearHead::from_safetensors(&bytes)
        .map_err(|e| Error::Head(format!("{}: {e}", path.display())))
}

fn classify_one(
    classifier: &Classifier,
    head: Option<&LinearHead>,
    path: &Path,
    convention: InputConvention,
    crops: Crops,
) -> Result<Outcome, Error> {
    let (views, used) = load_views(path, convention, crops)?;
    let outputs = pollster::block_on(classifier.view_outputs(&views, head.is_some()))?;
    let rows = match head {
        Some(h) => outputs
            .iter()
            .map(|f| h.logits(f))
            .collect::<Result<Vec<_>, _>>()?,
        None => outputs,
    };
    Ok(Outcome {
        probs: mean_softmax(&rows),
        crops: used,
        rows,
    })
}

/// The views of an image, or a `.npy` tensor as its only view (fed as is: no crops).
fn load_views(
    path: &Path,
    convention: InputConvention,
    crops: Crops,
) -> Result<(Vec<View>, &'static str), Error> {
    let bytes = std::fs::read(path)
        .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
    if bytes.starts_with(b"\x93NUMPY") {
        if crops != Crops::Center {
            return Err(Error::Input(format!(
                "a .npy tensor is fed to the network as is; --crops {} applies to images",
                crops.name()
            )));
        }
        let input = inputs::load_npy(&bytes)?;
        let view = View {
            values: input.values,
            height: input.height,
            width: input.width,
        };
        return Ok((vec![view], "none"));
    }
    let image = decode_image(&bytes)?;
    let pixels = PixelBuffer::new(image.width, image.height, 3, &image.rgb)?;
    Ok((preprocess_views(&pixels, convention, crops)?, crops.name()))
}
