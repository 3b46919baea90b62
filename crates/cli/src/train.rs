//! `resnet-lab train`: trains a CIFAR ResNet or its plain counterpart (He et al. 2016, the
//! degradation problem) on CIFAR-10 or the built-in grating task, printing loss and accuracy
//! per step. The training itself is `resnet_lab_core::lab::train`.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, ValueEnum};
use resnet_lab_core::Error;
use resnet_lab_core::lab::data::{
    Batches, CIFAR_RECORD, Cifar10, Dataset, MAX_CIFAR_RECORDS, SyntheticGratings,
};
use resnet_lab_core::lab::train::{
    DEFAULT_LR, DEFAULT_WIDTH, MAX_BATCH, StepRecord, TrainSettings, Trainer,
};
use resnet_lab_core::weights::bundle::write_bundle;
use resnet_lab_core::weights::safetensors::StoredDtype;
use serde_json::json;

use crate::backend::BackendChoice;

/// The CIFAR networks of He et al.'s Figure 6.
#[derive(Clone, Copy, ValueEnum)]
pub enum TrainArch {
    Cifar20,
    Cifar56,
    Cifar110,
}

impl TrainArch {
    fn name(self) -> &'static str {
        match self {
            TrainArch::Cifar20 => "cifar20",
            TrainArch::Cifar56 => "cifar56",
            TrainArch::Cifar110 => "cifar110",
        }
    }
}

#[derive(Args)]
pub struct TrainArgs {
    #[arg(long, value_enum)]
    arch: TrainArch,
    /// Train the plain network (every shortcut removed).
    #[arg(long)]
    plain: bool,
    /// Folder with CIFAR-10's data_batch_1.bin … data_batch_5.bin.
    #[arg(long, conflicts_with = "synthetic")]
    data: Option<PathBuf>,
    /// The built-in 10-class grating task (the default without --data).
    #[arg(long)]
    synthetic: bool,
    #[arg(long)]
    steps: usize,
    #[arg(long, default_value_t = 128)]
    batch: usize,
    #[arg(long, default_value_t = DEFAULT_LR)]
    lr: f64,
    /// First-stage width (the paper's 16: stages of 16, 32, 64 channels); narrower is faster.
    #[arg(long, default_value_t = DEFAULT_WIDTH)]
    width: usize,
    /// Train the first N steps at lr/10 (He et al. 2016 §4.2 warm ResNet-110 up at 0.01).
    #[arg(long, default_value_t = 0)]
    warmup: usize,
    /// Start every residual branch's last BatchNorm γ at 0 (torchvision's zero_init_residual,
    /// Goyal et al. 2017 §5.1); plain networks ignore it.
    #[arg(long)]
    zero_init_residual: bool,
    /// Also report the mean loss and accuracy of the last K steps (less noisy than one batch).
    #[arg(long, default_value_t = 10)]
    last: usize,
    /// Seed of the He initialisation and of the data order.
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[arg(long)]
    json: bool,
    /// Save the trained (residual) network in the converted format, for `classify`.
    #[arg(long)]
    out: Option<PathBuf>,
    #[arg(long, value_enum, default_value_t = BackendChoice::Cpu)]
    backend: BackendChoice,
}

pub fn run(args: TrainArgs) -> Result<ExitCode, Error> {
    if !(1..=MAX_BATCH).contains(&args.batch) {
        return Err(Error::Input(format!("--batch must lie in 1..={MAX_BATCH}")));
    }
    if args.out.is_some() && args.plain {
        return Err(Error::Input(
            "--out saves residual networks only (`classify` has no plain networks)".into(),
        ));
    }
    let (device, backend) = args.backend.open()?;
    let (data, data_name): (Box<dyn Dataset>, String) = match &args.data {
        Some(dir) => (Box::new(load_cifar10(dir)?), dir.display().to_string()),
        None => (
            Box::new(SyntheticGratings::standard()),
            "synthetic".to_string(),
        ),
    };
    let arch = args.arch.name();
    let settings = TrainSettings {
        lr: args.lr,
        width: args.width,
        warmup_steps: args.warmup,
        zero_init_residual: args.zero_init_residual,
    };
    let mut trainer =
        Trainer::he_initialized_with(arch, args.plain, args.seed, &settings, &device)?;
    let mut batches = Batches::new(data.len(), args.seed);
    let mut steps: Vec<StepRecord> = Vec::with_capacity(args.steps);
    let mut compute = 0.0f64;
    for _ in 0..args.steps {
        let (images, labels) = batches.next_batch(data.as_ref(), args.batch);
        let started = Instant::now();
        let record = pollster::block_on(trainer.step(&images, &labels))?;
        compute += started.elapsed().as_secs_f64();
        if !args.json {
            println!(
                "step {:>5}  loss {:.4}  accuracy {:.3}",
                record.step, record.loss, record.accuracy
            );
        }
        steps.push(record);
    }
    let step_ms = 1000.0 * compute / args.steps.max(1) as f64;
    let tail = &steps[steps.len().saturating_sub(args.last.max(1))..];
    let mean = |f: fn(&StepRecord) -> f64| match tail.len() {
        0 => None,
        n => Some(tail.iter().map(f).sum::<f64>() / n as f64),
    };
    let (last_loss, last_accuracy) = (mean(|r| r.loss), mean(|r| r.accuracy));
    if let Some(out) = &args.out {
        save(&trainer, out, arch, args.steps, &data_name)?;
    }
    if args.json {
        let doc = json!({
            "arch": arch,
            "plain": args.plain,
            "steps": steps,
            "step_ms": step_ms,
            "batch": args.batch,
            "lr": args.lr,
            "width": args.width,
            "warmup": args.warmup,
            "zero_init_residual": args.zero_init_residual && !args.plain,
            "last": tail.len(),
            "last_loss": last_loss,
            "last_accuracy": last_accuracy,
            "seed": args.seed,
            "data": data_name,
            "backend": backend,
        });
        println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        if let (Some(loss), Some(accuracy)) = (last_loss, last_accuracy) {
            println!(
                "last {} steps: mean loss {loss:.4}  mean accuracy {accuracy:.3}",
                tail.len()
            );
        }
        println!("{step_ms:.1} ms per step (batch {})", args.batch);
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads the `data_batch_*.bin` files in `dir`, refusing files larger than CIFAR-10 can be
/// before reading them.
fn load_cifar10(dir: &Path) -> Result<Cifar10, Error> {
    let mut files = Vec::new();
    let limit = (MAX_CIFAR_RECORDS * CIFAR_RECORD) as u64;
    for i in 1..=5 {
        let path = dir.join(format!("data_batch_{i}.bin"));
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        if !meta.is_file() || meta.len() > limit {
            return Err(Error::Input(format!(
                "{}: not a CIFAR-10 batch file ({} bytes)",
                path.display(),
                meta.len()
            )));
        }
        let bytes = std::fs::read(&path)
            .map_err(|e| Error::Input(format!("cannot read {}: {e}", path.display())))?;
        files.push((path.display().to_string(), bytes));
    }
    if files.is_empty() {
        return Err(Error::Input(format!(
            "{}: no data_batch_1.bin … data_batch_5.bin (CIFAR-10's binary version)",
            dir.display()
        )));
    }
    Ok(Cifar10::from_batches(&files)?)
}

fn save(trainer: &Trainer, out: &Path, arch: &str, steps: usize, data: &str) -> Result<(), Error> {
    let source = format!("resnet-lab train --arch {arch}, {steps} steps on {data}");
    let weights = pollster::block_on(trainer.weights(source))?;
    let bytes = write_bundle(&weights, StoredDtype::F32)?;
    std::fs::write(out, &bytes)
        .map_err(|e| Error::Input(format!("cannot write {}: {e}", out.display())))?;
    eprintln!(
        "wrote {} ({:.1} MB)",
        out.display(),
        bytes.len() as f64 / 1e6
    );
    Ok(())
}
