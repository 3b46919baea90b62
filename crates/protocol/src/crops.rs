//! Which views of a photo the network sees: the guide's "输入尺寸处理" (ten-crop testing and
//! the whole image), one setting shared by the CLI (`classify --crops`), the page
//! (`?crops=`) and the engine.

use serde::{Deserialize, Serialize};

/// The views of a photo that are classified; their softmax outputs are averaged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Crops {
    /// torchvision's `Resize(256)`, `CenterCrop(224)`: one view.
    #[default]
    Center,
    /// `Resize(256)`, `TenCrop(224)`: the four corners and the centre, and the same five of
    /// the mirrored image; the mean of the ten softmax outputs.
    Ten,
    /// `Resize(256)` alone: the whole image, one view of its own size (the global average
    /// pool makes any size work).
    Full,
}

impl Crops {
    pub const ALL: [Crops; 3] = [Crops::Center, Crops::Ten, Crops::Full];

    /// The name used on the command line, in URLs and in JSON.
    pub fn name(self) -> &'static str {
        match self {
            Crops::Center => "center",
            Crops::Ten => "ten",
            Crops::Full => "full",
        }
    }

    /// Reads `center`, `ten` or `full` (any case); anything else is `None`.
    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|c| c.name().eq_ignore_ascii_case(text.trim()))
    }

    /// A few words for people: what the network was shown.
    pub fn describe(self) -> &'static str {
        match self {
            Crops::Center => "centre crop",
            Crops::Ten => "mean of 10 crops",
            Crops::Full => "whole image",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_read_back() {
        for crops in Crops::ALL {
            assert_eq!(Crops::parse(crops.name()), Some(crops));
        }
        assert_eq!(Crops::parse(" TEN "), Some(Crops::Ten));
        assert_eq!(Crops::parse("eleven"), None);
        assert_eq!(serde_json::to_string(&Crops::Full).unwrap(), "\"full\"");
    }
}
