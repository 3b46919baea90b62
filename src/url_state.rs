//! What the address bar holds, so that a view is a link.
//!
//! `?backend=cpu|webgpu`, `?model=NAME` (from the manifest), `?weights=URL`,
//! `?crops=center|ten|full` (the views a photo is classified from), and the
//! gradient panel's `grad=photo|init`, `arch=resnet56`, `seed=N`, `class=N` (or `taught=N`, a
//! class of the Teach head in use), and for an
//! initialised network `bn=train` and `zero_init=1` (see `HeInitOptions`). A lesson is a
//! URL: opening it reproduces the model, the network and the class being explained.

use crate::lab_params::LabParams;
use resnet_lab_protocol::{
    BackendPreference, BatchNormMode, ClassRef, Crops, GradientNetwork, HeInitOptions,
};

/// The architectures offered for a He-initialised network (no download needed).
pub const INIT_ARCHITECTURES: [&str; 6] = [
    "resnet18", "resnet34", "resnet50", "cifar20", "cifar56", "cifar110",
];

/// The page's URL parameters.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct UrlState {
    pub backend: BackendPreference,
    pub model: Option<String>,
    pub weights: Option<String>,
    /// The views new photos are classified from.
    pub crops: Crops,
    /// Which network the gradient panel analyses.
    pub network: GradientNetwork,
    /// The class whose logit is differentiated; `None` means the photo's top-1.
    pub class: Option<ClassRef>,
    /// The Lab tab shown (`?lab=lesion`); `None`: the Lab is closed.
    pub lab: Option<String>,
    /// The Lab's run settings (`nets`, `points`, `steps`, ...).
    pub lab_params: LabParams,
}

/// The Lab's tabs, as `?lab=` names them.
pub const LAB_TABS: [&str; 3] = ["lesion", "shatter", "train"];

impl UrlState {
    /// Reads a query string (`?a=b&c=d`, with or without the `?`). Unknown keys are ignored
    /// and bad values fall back to the defaults, so a mistyped link still opens the page.
    pub fn parse(search: &str) -> Self {
        let mut state = UrlState::default();
        let (mut grad, mut arch, mut seed) = (None, None, None);
        let mut options = HeInitOptions::default();
        for (key, value) in form_urlencoded::parse(search.trim_start_matches('?').as_bytes()) {
            let value = value.trim();
            match &*key {
                "backend" => state.backend = BackendPreference::parse(Some(value)),
                "model" if !value.is_empty() => state.model = Some(value.to_string()),
                "weights" if !value.is_empty() => state.weights = Some(value.to_string()),
                "crops" => state.crops = Crops::parse(value).unwrap_or_default(),
                "grad" => grad = Some(value.to_ascii_lowercase()),
                "arch" => arch = Some(value.to_ascii_lowercase()),
                "seed" => seed = value.parse::<u64>().ok(),
                "class" => state.class = value.parse().ok().map(ClassRef::Model),
                "taught" => state.class = value.parse().ok().map(ClassRef::Taught),
                "bn" => options.batch_norm = BatchNormMode::parse(value).unwrap_or_default(),
                "zero_init" => options.zero_init_residual = matches!(value, "1" | "true"),
                "lab" => {
                    let tab = value.to_ascii_lowercase();
                    state.lab = LAB_TABS.contains(&tab.as_str()).then_some(tab);
                }
                key if LabParams::KEYS.contains(&key) => state.lab_params.read(key, value),
                _ => {}
            }
        }
        if grad.as_deref() == Some("init") {
            let arch = arch
                .filter(|a| INIT_ARCHITECTURES.contains(&a.as_str()))
                .unwrap_or_else(|| GradientNetwork::DEFAULT_INIT_ARCH.to_string());
            state.network = GradientNetwork::HeInit {
                arch,
                seed: seed.unwrap_or(0),
                options,
            };
        }
        state
    }

    /// Writes this state back into `search`, keeping any parameter this page does not know
    /// about and dropping the ones that are at their defaults.
    pub fn merge_into(&self, search: &str) -> String {
        const OURS: [&str; 12] = [
            "backend",
            "model",
            "weights",
            "crops",
            "grad",
            "arch",
            "seed",
            "class",
            "taught",
            "bn",
            "zero_init",
            "lab",
        ];
        let mut out = form_urlencoded::Serializer::new(String::new());
        for (key, value) in form_urlencoded::parse(search.trim_start_matches('?').as_bytes()) {
            if !OURS.contains(&&*key) && !LabParams::KEYS.contains(&&*key) {
                out.append_pair(&key, &value);
            }
        }
        match self.backend {
            BackendPreference::Auto => {}
            BackendPreference::Cpu => {
                out.append_pair("backend", "cpu");
            }
            BackendPreference::Webgpu => {
                out.append_pair("backend", "webgpu");
            }
        }
        if let Some(model) = &self.model {
            out.append_pair("model", model);
        }
        if let Some(weights) = &self.weights {
            out.append_pair("weights", weights);
        }
        if self.crops != Crops::Center {
            out.append_pair("crops", self.crops.name());
        }
        if let GradientNetwork::HeInit {
            arch,
            seed,
            options,
        } = &self.network
        {
            out.append_pair("grad", "init");
            out.append_pair("arch", arch);
            out.append_pair("seed", &seed.to_string());
            if options.batch_norm == BatchNormMode::Train {
                out.append_pair("bn", "train");
            }
            if options.zero_init_residual {
                out.append_pair("zero_init", "1");
            }
        }
        match self.class {
            Some(ClassRef::Model(class)) => drop(out.append_pair("class", &class.to_string())),
            Some(ClassRef::Taught(class)) => drop(out.append_pair("taught", &class.to_string())),
            None => {}
        }
        if let Some(tab) = &self.lab {
            out.append_pair("lab", tab);
            for (key, value) in self.lab_params.pairs() {
                out.append_pair(key, &value);
            }
        }
        let query = out.finish();
        if query.is_empty() {
            String::new()
        } else {
            format!("?{query}")
        }
    }
}

/// The last segment of a URL path, for people.
pub fn file_name_of(url: &str) -> String {
    let path = url.split(['?', '#']).next().unwrap_or(url);
    path.rsplit('/')
        .find(|s| !s.is_empty())
        .unwrap_or(path)
        .to_string()
}

/// Whether a dropped file looks like weights rather than a photo.
pub fn is_weights_file(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [".safetensors", ".pth", ".pt", ".bin", ".json"]
        .iter()
        .any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parameters_are_read() {
        let p = UrlState::parse("?backend=cpu&model=resnet50&weights=https%3A%2F%2Fx%2Fy.pth");
        assert_eq!(p.backend, BackendPreference::Cpu);
        assert_eq!(p.model.as_deref(), Some("resnet50"));
        assert_eq!(p.weights.as_deref(), Some("https://x/y.pth"));
        assert_eq!(p.network, GradientNetwork::Loaded);
        assert_eq!(UrlState::parse(""), UrlState::default());
        assert_eq!(UrlState::parse("?model=&backend").model, None);
        assert_eq!(UrlState::parse("?model=a+b").model.as_deref(), Some("a b"));
        assert_eq!(UrlState::parse("?crops=full").crops, Crops::Full);
        assert_eq!(UrlState::parse("?crops=eleven").crops, Crops::Center);
        assert_eq!(
            UrlState::parse("?crops=ten").merge_into("?crops=ten"),
            "?crops=ten"
        );
        assert_eq!(UrlState::default().merge_into("?crops=ten"), "");
    }

    #[test]
    fn gradient_view_is_read_and_bad_values_fall_back() {
        let p = UrlState::parse("grad=init&arch=CIFAR56&seed=7&class=3");
        assert_eq!(
            p.network,
            GradientNetwork::HeInit {
                arch: "cifar56".into(),
                seed: 7,
                options: HeInitOptions::default(),
            }
        );
        assert_eq!(p.class, Some(ClassRef::Model(3)));
        assert_eq!(UrlState::parse("taught=1").class, Some(ClassRef::Taught(1)));
        let p = UrlState::parse("grad=init&arch=resnet9000&seed=-1&class=cat");
        assert_eq!(
            p.network,
            GradientNetwork::HeInit {
                arch: GradientNetwork::DEFAULT_INIT_ARCH.into(),
                seed: 0,
                options: HeInitOptions::default(),
            }
        );
        assert_eq!(p.class, None);
        // `arch` without `grad=init` is ignored.
        assert_eq!(
            UrlState::parse("arch=cifar20").network,
            GradientNetwork::Loaded
        );
    }

    #[test]
    fn the_lab_tab_is_read_and_written() {
        let p = UrlState::parse("?lab=Lesion");
        assert_eq!(p.lab.as_deref(), Some("lesion"));
        assert_eq!(p.merge_into("?lab=x"), "?lab=lesion");
        assert_eq!(UrlState::parse("?lab=nonsense").lab, None);
        assert_eq!(UrlState::default().merge_into("?lab=lesion"), "");
        let p = UrlState::parse("?lab=shatter&nets=plain-110,resnet-110&points=128&seed=4");
        assert_eq!(p.lab.as_deref(), Some("shatter"));
        assert_eq!(p.lab_params.points(), 128);
        assert_eq!(p.lab_params.seed(), 0, "`seed` is the gradient panel's");
        assert_eq!(
            p.merge_into("?lab=x&steps=9&keep=1"),
            "?keep=1&lab=shatter&nets=plain-110%2Cresnet-110&points=128"
        );
    }

    #[test]
    fn state_round_trips_and_keeps_foreign_parameters() {
        let state = UrlState {
            backend: BackendPreference::Webgpu,
            model: Some("resnet50".into()),
            weights: None,
            crops: Crops::Ten,
            network: GradientNetwork::HeInit {
                arch: "cifar110".into(),
                seed: 42,
                options: HeInitOptions {
                    batch_norm: BatchNormMode::Train,
                    zero_init_residual: true,
                },
            },
            class: Some(ClassRef::Model(281)),
            lab: None,
            lab_params: LabParams::default(),
        };
        let query = state.merge_into("?utm=x&class=1&grad=photo&bn=eval");
        assert_eq!(
            query,
            "?utm=x&backend=webgpu&model=resnet50&crops=ten&grad=init&arch=cifar110&seed=42&bn=train&zero_init=1&class=281"
        );
        assert_eq!(UrlState::parse(&query), state);
        assert_eq!(UrlState::default().merge_into("?class=5"), "");
        // A class of the Teach head in use travels as `taught=N` and replaces `class=`.
        let taught = UrlState {
            class: Some(ClassRef::Taught(2)),
            ..UrlState::default()
        };
        assert_eq!(taught.merge_into("?class=5"), "?taught=2");
        assert_eq!(UrlState::parse("?taught=2"), taught);
    }

    #[test]
    fn names_and_kinds_of_files() {
        assert_eq!(file_name_of("https://h/a/b/model.json?x=1"), "model.json");
        assert_eq!(file_name_of("weights/r.safetensors"), "r.safetensors");
        assert!(is_weights_file("ResNet50.PTH"));
        assert!(is_weights_file("model.json"));
        assert!(!is_weights_file("cat.jpg"));
    }
}
