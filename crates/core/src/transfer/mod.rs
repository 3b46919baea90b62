//! Teaching a ResNet new classes: the frozen backbone's globally average-pooled features
//! (512 for ResNet-18, 2048 for ResNet-50) feed a linear softmax head trained on a few
//! photos per class.
//!
//! ```text
//! backbone  which weights a head belongs to (architecture, feature width, fingerprint)
//! head      the linear head and its .safetensors file
//! train     softmax regression with weight decay (burn::optim Adam), split or leave-one-out
//! ```
//!
//! Fine-tuning the last stage (layer4) is not done yet: only the head learns.

pub mod backbone;
pub mod head;
pub mod train;

pub use backbone::BackboneId;
pub use head::LinearHead;
pub use train::{
    EpochStats, TrainConfig, TrainedHead, Validation, train_head, train_head_observed,
};
