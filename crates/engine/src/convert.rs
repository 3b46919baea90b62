//! From the core library's results to the protocol's messages. Plain Rust: built and
//! tested natively.

use resnet_lab_core::ResNetConfig;
use resnet_lab_core::gradflow::GradFlowReport;
use resnet_lab_core::model::config::BlockKind;
use resnet_lab_protocol::{BackendKind, GradientNetwork, GradientReport};

/// The core's report (the protocol's own type) plus what the page shows beside it.
pub fn gradient_report(
    report: GradFlowReport,
    network: GradientNetwork,
    config: &ResNetConfig,
    analysis_ms: f64,
    backend: BackendKind,
) -> GradientReport {
    GradientReport {
        analysis: report,
        network,
        block_kind: match config.block {
            BlockKind::Basic => "basic",
            BlockKind::Bottleneck => "bottleneck",
        }
        .into(),
        analysis_ms,
        backend,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use resnet_lab_core::gradflow::{BlockGradient, Saliency};

    fn core_report() -> GradFlowReport {
        GradFlowReport {
            model: "resnet18".into(),
            class: 281,
            label: "tabby".into(),
            logit: 12.5,
            input_grad_norm: 0.25,
            plain_input_grad_norm: 1e-9,
            blocks: vec![BlockGradient {
                block: "layer1.0".into(),
                grad_norm: 1.5,
                shortcut_norm: 1.25,
                residual_norm: 0.5,
                plain_grad_norm: 3e-7,
                act_norm: 1.0,
                plain_act_norm: 1.0,
                stage: 1,
                stride: 1,
                in_channels: 64,
                out_channels: 64,
                projection: false,
            }],
            saliency: Saliency {
                grad_cam: vec![0.0, 1.0, 0.5, 0.25],
                grad_cam_size: [2, 2],
                input_gradient: vec![1.0; 9],
                input_size: [3, 3],
            },
            batch_norm: Default::default(),
            batch: 1,
            taught: false,
        }
    }

    #[test]
    fn every_number_reaches_the_page() {
        let config = ResNetConfig::standard(18).unwrap();
        let report = gradient_report(
            core_report(),
            GradientNetwork::Loaded,
            &config,
            42.0,
            BackendKind::Cpu,
        );
        let core = core_report();
        let block = &report.analysis.blocks[0];
        assert_eq!(
            (block.block.as_str(), block.grad_norm, block.shortcut_norm),
            ("layer1.0", 1.5, 1.25)
        );
        assert_eq!((block.residual_norm, block.plain_grad_norm), (0.5, 3e-7));
        assert_eq!(
            (block.stage, block.in_channels, block.projection),
            (1, 64, false)
        );
        let analysis = &report.analysis;
        assert_eq!((analysis.class, analysis.logit), (281, 12.5));
        assert_eq!(analysis.plain_input_grad_norm, 1e-9);
        assert_eq!(analysis.saliency.grad_cam, core.saliency.grad_cam);
        assert_eq!(analysis.saliency.input_size, [3, 3]);
        assert_eq!(report.block_kind, "basic");
        assert_eq!(report.analysis_ms, 42.0);
    }
}
