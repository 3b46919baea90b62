//! Which logit an analysis differentiates: a class of the network's own classifier, or a class
//! of a linear head trained on its pooled features (Teach mode, `resnet-lab finetune`). For a
//! head, `z_c = W_c · avgpool(h) + b_c` replaces the classifier's `fc`; every block before it
//! is the same network, so the gradient panel and Grad-CAM read the same way for both.

use burn::tensor::{Device, Tensor, TensorData};

use crate::error::{Error, Result};
use crate::labels::LabelSet;
use crate::model::resnet::global_average_pool;
use crate::model::{CpuForward, ResNet};
use crate::transfer::{BackboneId, LinearHead};

/// The logit to differentiate.
#[derive(Debug, Clone, Copy)]
pub enum Target<'a> {
    /// A class of the network's classifier (`None`: its top-1).
    Model(Option<usize>),
    /// A class of a head on the frozen backbone's pooled features (`None`: the head's top-1).
    Head {
        head: &'a LinearHead,
        class: Option<usize>,
    },
}

impl Target<'_> {
    pub(super) fn class(&self) -> Option<usize> {
        match *self {
            Target::Model(class) | Target::Head { class, .. } => class,
        }
    }

    pub(super) fn is_head(&self) -> bool {
        matches!(self, Target::Head { .. })
    }
}

/// The last layer of an analysis, on the analysis's (autodiff) device: the network's classifier
/// or a head.
pub(super) struct Readout<'a> {
    labels: &'a LabelSet,
    head: Option<HeadLayer<'a>>,
}

struct HeadLayer<'a> {
    head: &'a LinearHead,
    /// `[features, classes]`: the head's weight transposed, for `pooled · W`.
    weight: Tensor<2>,
    bias: Tensor<2>,
    classes: &'a [String],
}

impl<'a> Readout<'a> {
    /// The readout for `target`; a head is checked against the backbone it was trained on.
    pub(super) fn new(
        target: &Target<'a>,
        labels: &'a LabelSet,
        backbone: Option<&BackboneId>,
        device: &Device,
    ) -> Result<Self> {
        let head = match *target {
            Target::Model(_) => None,
            Target::Head { head, .. } => Some(HeadLayer::new(head, backbone, device)?),
        };
        Ok(Self { labels, head })
    }

    /// Logits `[N, classes]` from the last block's output `[N, C, h, w]`.
    pub(super) fn logits(&self, model: &ResNet, features: Tensor<4>) -> Tensor<2> {
        match &self.head {
            None => model.forward_head(features),
            Some(head) => {
                global_average_pool(features).matmul(head.weight.clone()) + head.bias.clone()
            }
        }
    }

    /// [`Self::logits`] on the host, from one image's pooled features (the channel-last path).
    pub(super) fn host_logits(&self, cpu: &CpuForward, pooled: &[f32]) -> Result<Vec<f32>> {
        match &self.head {
            None => Ok(cpu.head(&[pooled.to_vec()]).concat()),
            Some(layer) => layer.head.logits(pooled),
        }
    }

    /// `∂z_class/∂pooled`: the readout's weights for `class`.
    pub(super) fn host_gradient(&self, cpu: &CpuForward, class: usize) -> Vec<f32> {
        match &self.head {
            None => cpu.classifier_weights(class),
            Some(layer) => {
                let width = layer.head.weight.len() / layer.classes.len().max(1);
                layer.head.weight[class * width..(class + 1) * width].to_vec()
            }
        }
    }

    pub(super) fn label(&self, class: usize) -> String {
        match &self.head {
            None => self.labels.name(class),
            Some(head) => head.classes.get(class).cloned().unwrap_or_default(),
        }
    }
}

impl<'a> HeadLayer<'a> {
    fn new(head: &'a LinearHead, backbone: Option<&BackboneId>, device: &Device) -> Result<Self> {
        let backbone = backbone.ok_or_else(|| {
            Error::Head("this network has no pooled features a head could read".into())
        })?;
        head.check_backbone(backbone)?;
        if head.layer4.is_some() {
            // The analysis runs the network's own layer4; this head reads a fine-tuned one.
            return Err(Error::Head(
                "this head fine-tuned layer4: the gradient analysis explains heads on the \
                 frozen backbone only"
                    .into(),
            ));
        }
        let (classes, width) = (head.classes.len(), backbone.feature_width);
        if classes == 0 || head.weight.len() != classes * width || head.bias.len() != classes {
            return Err(Error::Head(format!(
                "the head's weight holds {} values and its bias {}; {classes} classes of \
                 {width} features need {} and {classes}",
                head.weight.len(),
                head.bias.len(),
                classes * width
            )));
        }
        let weight = Tensor::<2>::from_data(
            TensorData::new(head.weight.clone(), [classes, width]),
            device,
        )
        .transpose();
        let bias = Tensor::<2>::from_data(TensorData::new(head.bias.clone(), [1, classes]), device);
        Ok(Self {
            head,
            weight,
            bias,
            classes: &head.classes,
        })
    }
}
