//! Teaching a ResNet new classes: the frozen backbone's globally average-pooled features
//! (512 for ResNet-18, 2048 for ResNet-50) feed a linear softmax head trained on a few
//! photos per class; optionally the last stage (layer4) is fine-tuned with it.
//!
//! ```text
//! backbone      which weights a head belongs to (architecture, feature width, fingerprint)
//! head          the linear head and its .safetensors file (with layer4 when fine-tuned)
//! train         softmax regression with weight decay (burn::optim Adam), split or leave-one-out
//! layer4        the last stage as a trainable module (BatchNorm in eval mode), its tensors
//! train_layer4  the head and layer4 trained together on cached layer3 outputs
//! ```

pub mod backbone;
pub mod head;
pub mod layer4;
pub mod train;
pub mod train_layer4;

pub use backbone::BackboneId;
pub use head::LinearHead;
pub use train::{
    EpochStats, TrainConfig, TrainedHead, Validation, train_head, train_head_observed,
};
pub use train_layer4::{Layer4Job, StageInputs, train_with_layer4, train_with_layer4_observed};
