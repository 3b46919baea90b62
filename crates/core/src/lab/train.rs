//! Training CIFAR networks for the degradation experiment (He et al. 2016, Figures 1 and 6):
//! cross-entropy, SGD with momentum 0.9 and weight decay 1e-4, BatchNorm in training mode.
//!
//! The optimiser is written out here (a dozen lines) instead of taken from Burn's `optim`
//! feature: it is exactly PyTorch's `torch.optim.SGD` update, and turning on that feature
//! would rebuild all of Burn. Timing is left to the caller (`std::time` does not exist in the
//! browser's WebAssembly).

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, Param, ParamId};
use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Gradients, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::gradflow::parse_arch;
use crate::lab::cifar::TrainableCifarNet;
use crate::labels::LabelSet;
use crate::model::config::ResNetConfig;
use crate::model::init::{he_initialized, zero_init_residual};
use crate::predict::read_f32;
use crate::preprocess::InputConvention;
use crate::weights::tensor_set::TensorSet;
use crate::weights::{LoadedWeights, ModelInfo, WeightFormat};

/// He et al.'s CIFAR settings.
pub const DEFAULT_LR: f64 = 0.1;
pub const MOMENTUM: f64 = 0.9;
pub const WEIGHT_DECAY: f64 = 1e-4;
/// Larger batches are refused (memory grows with the batch; the paper uses 128).
pub const MAX_BATCH: usize = 1024;
/// The paper's first-stage width (16, 32, 64 channels); narrower networks train faster.
pub const DEFAULT_WIDTH: usize = 16;
/// Wider first stages are refused (memory and time grow with its square).
pub const MAX_WIDTH: usize = 256;
/// During warm-up the learning rate is this fraction of `lr` (He et al. 2016 §4.2 train
/// ResNet-110 at 0.01 before 0.1).
pub const WARMUP_LR_FACTOR: f64 = 0.1;

/// The knobs beyond the paper's defaults, for callers that want them; `Default` is the paper.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TrainSettings {
    pub lr: f64,
    /// First-stage width: the stages have `width`, 2·`width` and 4·`width` channels.
    pub width: usize,
    /// Steps trained at `lr` · [`WARMUP_LR_FACTOR`] before `lr` (a fixed count, where the
    /// paper waits until the training error is below 80 %, so that every network of a
    /// comparison follows the same schedule).
    pub warmup_steps: usize,
    /// torchvision's `zero_init_residual` (Goyal et al. 2017, §5.1): every residual branch's
    /// last BatchNorm γ starts at 0, so each block starts as the identity and a deep ResNet
    /// starts as shallow as a short one. Residual networks only: a plain block with γ = 0
    /// would pass nothing, so plain networks ignore it.
    pub zero_init_residual: bool,
}

impl Default for TrainSettings {
    fn default() -> Self {
        Self {
            lr: DEFAULT_LR,
            width: DEFAULT_WIDTH,
            warmup_steps: 0,
            zero_init_residual: false,
        }
    }
}

/// One step's numbers, on the batch it trained on (before the update).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub step: usize,
    pub loss: f64,
    pub accuracy: f64,
}

/// `torch.optim.SGD(momentum=μ, weight_decay=λ)`: `g ← ∇ + λp`; `v ← g` on the first step,
/// then `v ← μv + g`; `p ← p − lr·v`. Parameters without a gradient are left alone.
#[derive(Debug)]
pub struct Sgd {
    pub lr: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    velocity: HashMap<ParamId, Tensor<1>>,
}

impl Sgd {
    pub fn new(lr: f64, momentum: f64, weight_decay: f64) -> Self {
        Self {
            lr,
            momentum,
            weight_decay,
            velocity: HashMap::new(),
        }
    }

    /// Updates every parameter of `module` that has a gradient in `grads`.
    pub fn step<M: Module>(&mut self, module: M, grads: &mut Gradients) -> M {
        module.map(&mut SgdMapper { sgd: self, grads })
    }
}

struct SgdMapper<'a> {
    sgd: &'a mut Sgd,
    grads: &'a mut Gradients,
}

impl ModuleMapper for SgdMapper<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let (id, tensor, mapper) = param.consume();
        let grad = match tensor.is_require_grad() {
            true => tensor.grad_remove(self.grads),
            false => None,
        };
        let Some(grad) = grad else {
            return Param::from_mapped_value(id, tensor, mapper);
        };
        let value = tensor.inner();
        let dims = value.dims();
        let numel = dims.iter().product::<usize>();
        let g = grad + value.clone().mul_scalar(self.sgd.weight_decay);
        let v = match self.sgd.velocity.remove(&id) {
            Some(v) => v.reshape(dims).mul_scalar(self.sgd.momentum) + g,
            None => g,
        };
        let updated = value - v.clone().mul_scalar(self.sgd.lr);
        self.sgd.velocity.insert(id, v.reshape([numel]));
        Param::from_mapped_value(id, Tensor::from_inner(updated).require_grad(), mapper)
    }
}

/// A network being trained, with its optimiser state.
#[derive(Debug)]
pub struct Trainer {
    model: TrainableCifarNet,
    config: ResNetConfig,
    sgd: Sgd,
    /// The learning rate after warm-up.
    lr: f64,
    warmup_steps: usize,
    device: Device,
    steps_done: usize,
}

impl Trainer {
    /// `tensors` in torchvision naming (e.g. from [`he_initialized`]); `device` is made an
    /// autodiff device here.
    pub fn new(
        config: ResNetConfig,
        tensors: TensorSet,
        plain: bool,
        lr: f64,
        device: &Device,
    ) -> Result<Self> {
        if !(lr.is_finite() && lr > 0.0) {
            return Err(Error::Input(format!(
                "the learning rate must be positive (got {lr})"
            )));
        }
        let device = device.clone().autodiff();
        let model = TrainableCifarNet::from_tensors(&config, tensors, plain, &device)?;
        Ok(Self {
            model,
            config,
            sgd: Sgd::new(lr, MOMENTUM, WEIGHT_DECAY),
            lr,
            warmup_steps: 0,
            device,
            steps_done: 0,
        })
    }

    /// A He-initialised `cifar20`/`cifar56`/`cifar110` (torchvision's initialisation, as the
    /// gradient panel's), seeded.
    pub fn he_initialized(
        arch: &str,
        plain: bool,
        lr: f64,
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        let settings = TrainSettings {
            lr,
            ..TrainSettings::default()
        };
        Self::he_initialized_with(arch, plain, seed, &settings, device)
    }

    /// [`Self::he_initialized`] with every knob of [`TrainSettings`].
    pub fn he_initialized_with(
        arch: &str,
        plain: bool,
        seed: u64,
        settings: &TrainSettings,
        device: &Device,
    ) -> Result<Self> {
        if !(1..=MAX_WIDTH).contains(&settings.width) {
            return Err(Error::Input(format!(
                "the width must lie in 1..={MAX_WIDTH} (got {})",
                settings.width
            )));
        }
        let config = parse_arch(arch)?.with_base_width(settings.width);
        let mut tensors = he_initialized(&config, seed)?;
        if settings.zero_init_residual && !plain {
            zero_init_residual(&config, &mut tensors)?;
        }
        Ok(Self::new(config, tensors, plain, settings.lr, device)?
            .with_warmup(settings.warmup_steps))
    }

    /// Trains the first `steps` steps at `lr` · [`WARMUP_LR_FACTOR`].
    pub fn with_warmup(mut self, steps: usize) -> Self {
        self.warmup_steps = steps;
        self
    }

    /// The learning rate the next step uses.
    pub fn current_lr(&self) -> f64 {
        match self.steps_done < self.warmup_steps {
            true => self.lr * WARMUP_LR_FACTOR,
            false => self.lr,
        }
    }

    pub fn config(&self) -> &ResNetConfig {
        &self.config
    }

    /// One SGD step on `images` (`[n, 3, 32, 32]` row-major) with `labels`.
    pub async fn step(&mut self, images: &[f32], labels: &[usize]) -> Result<StepRecord> {
        let n = labels.len();
        let classes = self.config.num_classes;
        if n == 0 || n > MAX_BATCH || images.len() != n * 3 * 32 * 32 {
            return Err(Error::Input(format!(
                "a batch needs 1..={MAX_BATCH} labels and [n, 3, 32, 32] images (got {n} labels, {} values)",
                images.len()
            )));
        }
        if let Some(bad) = labels.iter().find(|&&l| l >= classes) {
            return Err(Error::Input(format!(
                "label {bad} does not exist: {classes} classes"
            )));
        }
        let x = Tensor::<4>::from_data(
            TensorData::new(images.to_vec(), [n, 3, 32, 32]),
            &self.device,
        );
        let mut one_hot = vec![0.0f32; n * classes];
        for (i, &l) in labels.iter().enumerate() {
            one_hot[i * classes + l] = 1.0;
        }
        let target = Tensor::<2>::from_data(TensorData::new(one_hot, [n, classes]), &self.device);
        let logits = self.model.forward(x, true);
        // Mean cross-entropy: −(1/n) Σ_i log softmax(z_i)[y_i].
        let loss = (log_softmax(logits.clone(), 1) * target)
            .sum()
            .mul_scalar(-1.0 / n as f64);
        let mut grads = loss.backward();
        self.sgd.lr = self.current_lr();
        let loss_value = read_f32(loss.inner()).await?[0] as f64;
        if !loss_value.is_finite() {
            return Err(Error::Backend(format!(
                "the loss diverged at step {} (try a lower learning rate)",
                self.steps_done
            )));
        }
        let logits = read_f32(logits.inner()).await?;
        let correct = labels
            .iter()
            .enumerate()
            .filter(|&(i, &l)| argmax(&logits[i * classes..(i + 1) * classes]) == l)
            .count();
        self.model = self.sgd.step(self.model.clone(), &mut grads);
        let record = StepRecord {
            step: self.steps_done,
            loss: loss_value,
            accuracy: correct as f64 / n as f64,
        };
        self.steps_done += 1;
        Ok(record)
    }

    /// Every tensor in torchvision naming, running statistics included.
    pub async fn tensors(&self) -> Result<TensorSet> {
        self.model.to_tensors(&self.config).await
    }

    /// The trained residual network as loadable weights (for the converted format). A plain
    /// network is refused: the inference model always has its shortcuts.
    pub async fn weights(&self, source: String) -> Result<LoadedWeights> {
        if self.model.plain {
            return Err(Error::Input(
                "a plain network cannot be saved: the converted format and `classify` describe residual networks".into(),
            ));
        }
        Ok(LoadedWeights {
            info: ModelInfo {
                labels: LabelSet::for_classes(self.config.num_classes),
                input: InputConvention::Torchvision,
                format: WeightFormat::Bundle,
                stored_dtype: "float32".into(),
                source,
                config: self.config.clone(),
            },
            tensors: self.tensors().await?,
        })
    }
}

fn argmax(v: &[f32]) -> usize {
    v.iter()
        .enumerate()
        .fold((0, f32::NEG_INFINITY), |best, (i, &x)| {
            if x > best.1 { (i, x) } else { best }
        })
        .0
}
