//! Teaching a ResNet new classes: the frozen backbone's globally average-pooled features
//! (512 for ResNet-18, 2048 for ResNet-50) feed a linear softmax head trained on a few
//! photos per class.
//!
//! ```text
//! backbone  which weights a head belongs to (architecture, feature width, fingerprint)
//! head      the linear head and its .safetensors file
//! dataset   photos, their augmented views, validation split or leave-one-out
//! train     softmax regression with weight decay (burn::optim Adam), all heads at once
//! stats     one epoch's loss and accuracies
//! ```
//!
//! Augmentation (random crops of the 256 resize, flipped half the time) is in
//! `preprocess::augment`; the views' features are more training rows here.
//! Fine-tuning the last stage (layer4) is not done yet: only the head learns.

pub mod backbone;
pub mod dataset;
pub mod head;
mod stats;
pub mod train;

pub use backbone::BackboneId;
pub use dataset::{TrainingSet, held_out_photos};
pub use head::LinearHead;
pub use train::{
    EpochStats, TrainConfig, TrainedHead, Validation, train_head, train_head_observed,
    train_head_on,
};
