//! Class names for the model's outputs.

use serde::{Deserialize, Serialize};

/// torchvision's ImageNet-1k class names (`torchvision.models._meta._IMAGENET_CATEGORIES`),
/// one per line, in class-index order.
const IMAGENET_1K: &str = include_str!("labels/imagenet1k.txt");

/// Which names a model's outputs carry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LabelSet {
    /// The 1000 ImageNet-1k classes, in the standard order (torchvision and Keras agree).
    Imagenet1k,
    /// `n` classes without names (a fine-tuned model): shown as "class 0", "class 1", ...
    Numbered(usize),
}

impl LabelSet {
    /// The natural label set for a classifier with `num_classes` outputs.
    pub fn for_classes(num_classes: usize) -> Self {
        if num_classes == 1000 {
            LabelSet::Imagenet1k
        } else {
            LabelSet::Numbered(num_classes)
        }
    }

    /// The name of class `index`.
    pub fn name(&self, index: usize) -> String {
        match self {
            LabelSet::Imagenet1k => IMAGENET_1K
                .lines()
                .nth(index)
                .map_or_else(|| format!("class {index}"), str::to_owned),
            LabelSet::Numbered(_) => format!("class {index}"),
        }
    }

    /// Number of classes.
    pub fn len(&self) -> usize {
        match self {
            LabelSet::Imagenet1k => 1000,
            LabelSet::Numbered(n) => *n,
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn imagenet_names_are_torchvisions() {
        assert_eq!(IMAGENET_1K.lines().count(), 1000);
        let set = LabelSet::Imagenet1k;
        assert_eq!(set.name(0), "tench");
        assert_eq!(set.name(281), "tabby");
        assert_eq!(set.name(999), "toilet tissue");
        assert_eq!(set.name(1000), "class 1000");
    }
}
