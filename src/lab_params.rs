//! The Lab's run settings in the address bar, so that an experiment is a link:
//! `?lab=shatter&nets=plain-110,resnet-110&points=64&lab_seed=1`,
//! `?lab=train&nets=plain-20,plain-56&steps=150&batch=16&width=4&lr=0.1&data=cifar10&zero_gamma=0`,
//! `?lab=lesion&random_k=8&draws=3&lab_seed=0` (`random_k=0`: no random deletions).
//!
//! (`lab_seed`, not `seed`: the gradient panel's He-initialised network owns `seed`.)

use resnet_lab_protocol::TrainData;
use resnet_lab_protocol::lab::{MAX_RANDOM_DRAWS, MAX_RANDOM_K, RandomSettings};
use resnet_lab_protocol::lab_runs::{
    LAB_ARCHITECTURES, LabNetwork, MAX_LAB_NETWORKS, MAX_SHATTER_POINTS, MAX_TRAIN_BATCH,
    MAX_TRAIN_STEPS, MAX_TRAIN_WIDTH,
};

/// Points on the line by default: a quarter of the page's largest line (256), so that the six
/// networks take about 25 s on the CPU path (the page offers 64, 128 and 256).
pub const DEFAULT_POINTS: usize = 64;
/// Steps, batch and width by default: He et al. train networks of width 16 with batch 128 for
/// 64k steps. Width 4 and batch 16 are the configuration the degradation test checks (plain-56
/// above plain-20 after 150 steps, as in PyTorch over four seeds; `bench/degradation_pytorch.py`):
/// the four networks then take about a second per step on the CPU instead of several.
pub const DEFAULT_STEPS: usize = 150;
pub const DEFAULT_BATCH: usize = 16;
pub const DEFAULT_WIDTH: usize = 4;
pub const DEFAULT_LR: f64 = 0.1;
/// The residual networks train from zero-initialised residual γ by default (Goyal et al. 2017
/// §5.1): with it ResNet-56 is level with ResNet-20 within the default 150 steps, as the
/// degradation test checks; `zero_gamma=0` gives the paper's initialisation, with which the
/// deeper ResNet catches up only after far longer training.
pub const DEFAULT_ZERO_GAMMA: bool = true;
/// The lesion study's random deletions by default: k = 1…8 as the issue asks, 3 draws each
/// (the CLI's `--draws` defaults to 5; 3 keeps ResNet-50 on a few photos near a minute on
/// the CPU path).
pub const DEFAULT_RANDOM_K: usize = 8;
pub const DEFAULT_DRAWS: usize = 3;

/// What the shattered-gradients tab compares by default: three depths, each with and
/// without shortcuts.
pub fn default_shatter_networks() -> Vec<LabNetwork> {
    LAB_ARCHITECTURES
        .iter()
        .flat_map(|arch| [LabNetwork::new(arch, true), LabNetwork::new(arch, false)])
        .collect()
}

/// He et al.'s Figure 6 (left and middle): plain-20 and plain-56 beside ResNet-20 and ResNet-56.
pub fn default_train_networks() -> Vec<LabNetwork> {
    vec![
        LabNetwork::new("cifar20", true),
        LabNetwork::new("cifar56", true),
        LabNetwork::new("cifar20", false),
        LabNetwork::new("cifar56", false),
    ]
}

/// The settings read from the URL; `None` fields are at their defaults.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LabParams {
    pub networks: Option<Vec<LabNetwork>>,
    pub seed: Option<u64>,
    pub points: Option<usize>,
    pub steps: Option<usize>,
    pub batch: Option<usize>,
    pub lr: Option<f64>,
    pub width: Option<usize>,
    /// The lesion study's largest k of random deletions (0: none), and draws per k.
    pub random_k: Option<usize>,
    pub draws: Option<usize>,
    /// What the training runs on (`data=grating|cifar10`).
    pub data: Option<TrainData>,
    /// Zero-initialised residual γ for the training's residual networks (`zero_gamma=0|1`).
    pub zero_gamma: Option<bool>,
}

impl LabParams {
    pub const KEYS: [&'static str; 11] = [
        "nets",
        "lab_seed",
        "points",
        "steps",
        "batch",
        "width",
        "lr",
        "random_k",
        "draws",
        "data",
        "zero_gamma",
    ];

    /// Reads one `key=value`; a bad value leaves the default.
    pub fn read(&mut self, key: &str, value: &str) {
        match key {
            "nets" => self.networks = parse_networks(value),
            "lab_seed" => self.seed = value.parse().ok(),
            "points" => {
                self.points = value
                    .parse()
                    .ok()
                    .filter(|p| (2..=MAX_SHATTER_POINTS).contains(p))
            }
            "steps" => {
                self.steps = value
                    .parse()
                    .ok()
                    .filter(|s| (1..=MAX_TRAIN_STEPS).contains(s))
            }
            "batch" => {
                self.batch = value
                    .parse()
                    .ok()
                    .filter(|b| (1..=MAX_TRAIN_BATCH).contains(b))
            }
            "width" => {
                self.width = value
                    .parse()
                    .ok()
                    .filter(|w| (1..=MAX_TRAIN_WIDTH).contains(w))
            }
            "lr" => {
                self.lr = value
                    .parse()
                    .ok()
                    .filter(|lr: &f64| lr.is_finite() && *lr > 0.0 && *lr <= 10.0)
            }
            "random_k" => self.random_k = value.parse().ok().filter(|k| *k <= MAX_RANDOM_K),
            "draws" => {
                self.draws = value
                    .parse()
                    .ok()
                    .filter(|d| (1..=MAX_RANDOM_DRAWS).contains(d))
            }
            "data" => self.data = TrainData::parse(value),
            "zero_gamma" => {
                self.zero_gamma = match value {
                    "0" => Some(false),
                    "1" => Some(true),
                    _ => None,
                }
            }
            _ => {}
        }
    }

    /// The `key=value` pairs to write, in [`Self::KEYS`]' order.
    pub fn pairs(&self) -> Vec<(&'static str, String)> {
        let mut out = Vec::new();
        if let Some(networks) = &self.networks {
            out.push(("nets", format_networks(networks)));
        }
        let numbers = [
            ("lab_seed", self.seed.map(|v| v.to_string())),
            ("points", self.points.map(|v| v.to_string())),
            ("steps", self.steps.map(|v| v.to_string())),
            ("batch", self.batch.map(|v| v.to_string())),
            ("width", self.width.map(|v| v.to_string())),
            ("lr", self.lr.map(|v| v.to_string())),
            ("random_k", self.random_k.map(|v| v.to_string())),
            ("draws", self.draws.map(|v| v.to_string())),
            ("data", self.data.map(|d| d.name().to_string())),
            (
                "zero_gamma",
                self.zero_gamma.map(|z| u8::from(z).to_string()),
            ),
        ];
        out.extend(numbers.into_iter().filter_map(|(k, v)| Some((k, v?))));
        out
    }

    pub fn seed(&self) -> u64 {
        self.seed.unwrap_or(0)
    }
    pub fn points(&self) -> usize {
        self.points.unwrap_or(DEFAULT_POINTS)
    }
    pub fn steps(&self) -> usize {
        self.steps.unwrap_or(DEFAULT_STEPS)
    }
    pub fn batch(&self) -> usize {
        self.batch.unwrap_or(DEFAULT_BATCH)
    }
    pub fn width(&self) -> usize {
        self.width.unwrap_or(DEFAULT_WIDTH)
    }
    pub fn lr(&self) -> f64 {
        self.lr.unwrap_or(DEFAULT_LR)
    }
    pub fn random_k(&self) -> usize {
        self.random_k.unwrap_or(DEFAULT_RANDOM_K)
    }
    pub fn draws(&self) -> usize {
        self.draws.unwrap_or(DEFAULT_DRAWS)
    }
    /// The lesion study's random deletions (`None` with `random_k=0`).
    pub fn lesion_random(&self) -> Option<RandomSettings> {
        (self.random_k() > 0).then(|| RandomSettings {
            max_k: self.random_k(),
            draws: self.draws(),
            seed: self.seed(),
        })
    }
    pub fn zero_gamma(&self) -> bool {
        self.zero_gamma.unwrap_or(DEFAULT_ZERO_GAMMA)
    }
    pub fn data(&self) -> TrainData {
        self.data.unwrap_or_default()
    }
    pub fn shatter_networks(&self) -> Vec<LabNetwork> {
        self.networks
            .clone()
            .unwrap_or_else(default_shatter_networks)
    }
    pub fn train_networks(&self) -> Vec<LabNetwork> {
        self.networks.clone().unwrap_or_else(default_train_networks)
    }
}

/// `plain-20,resnet-56` → the networks; anything unknown makes the whole list `None`.
pub fn parse_networks(value: &str) -> Option<Vec<LabNetwork>> {
    let networks: Option<Vec<LabNetwork>> = value
        .split(',')
        .map(|name| {
            let name = name.trim().to_ascii_lowercase();
            let (plain, depth) = match name.split_once('-') {
                Some(("plain", depth)) => (true, depth),
                Some(("resnet", depth)) => (false, depth),
                _ => return None,
            };
            let arch = format!("cifar{depth}");
            LAB_ARCHITECTURES
                .contains(&arch.as_str())
                .then(|| LabNetwork::new(&arch, plain))
        })
        .collect();
    networks.filter(|n| !n.is_empty() && n.len() <= MAX_LAB_NETWORKS)
}

fn format_networks(networks: &[LabNetwork]) -> String {
    networks
        .iter()
        .map(|n| n.title().to_ascii_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn networks_read_and_write_as_the_papers_name_them() {
        let nets = parse_networks("plain-110, ResNet-110").unwrap();
        assert_eq!(
            nets,
            vec![
                LabNetwork::new("cifar110", true),
                LabNetwork::new("cifar110", false)
            ]
        );
        assert_eq!(format_networks(&nets), "plain-110,resnet-110");
        for bad in ["", "plain-21", "vgg-16", "plain", "resnet-50"] {
            assert_eq!(parse_networks(bad), None, "{bad}");
        }
        assert_eq!(parse_networks(&["plain-20"; 9].join(",")), None);
    }

    #[test]
    fn bad_values_fall_back_to_the_defaults() {
        let mut p = LabParams::default();
        for (k, v) in [
            ("points", "1"),
            ("steps", "0"),
            ("batch", "100000"),
            ("width", "65"),
            ("lr", "NaN"),
            ("lab_seed", "-1"),
            ("random_k", "65"),
            ("draws", "0"),
            ("draws", "101"),
            ("data", "imagenet"),
            ("zero_gamma", "yes"),
        ] {
            p.read(k, v);
        }
        assert_eq!(p, LabParams::default());
        assert_eq!(
            (p.points(), p.steps(), p.batch(), p.width()),
            (64, 150, 16, 4)
        );
        assert_eq!(p.shatter_networks().len(), 6);
        assert_eq!(p.train_networks()[1].title(), "plain-56");
        assert_eq!(
            p.lesion_random(),
            Some(RandomSettings {
                max_k: 8,
                draws: 3,
                seed: 0
            })
        );
        p.read("points", "256");
        p.read("lr", "0.05");
        p.read("width", "16");
        p.read("lab_seed", "3");
        p.read("draws", "5");
        p.read("data", "CIFAR10");
        assert_eq!(p.data(), TrainData::Cifar10);
        assert!(p.zero_gamma());
        p.read("zero_gamma", "0");
        assert!(!p.zero_gamma());
        assert_eq!(
            p.pairs(),
            vec![
                ("lab_seed", "3".to_string()),
                ("points", "256".to_string()),
                ("width", "16".to_string()),
                ("lr", "0.05".to_string()),
                ("draws", "5".to_string()),
                ("data", "cifar10".to_string()),
                ("zero_gamma", "0".to_string())
            ]
        );
        assert_eq!(p.lesion_random().map(|r| (r.draws, r.seed)), Some((5, 3)));
        // `random_k=0` turns the random deletions off.
        p.read("random_k", "0");
        assert_eq!(p.lesion_random(), None);
    }
}
