//! Parameter counts equal torchvision's `sum(p.numel() for p in model.parameters())` and
//! Keras' `count_params()` for its ResNet50 (which includes BatchNorm moving statistics).

use resnet_lab_core::ResNetConfig;
use resnet_lab_core::model::Layout;

#[test]
fn torchvision_parameter_counts() {
    let expected = [
        (18, 11_689_512),
        (34, 21_797_672),
        (50, 25_557_032),
        (101, 44_549_160),
        (152, 60_192_808),
    ];
    for (depth, count) in expected {
        let config = ResNetConfig::standard(depth).unwrap();
        assert_eq!(config.num_params(), count, "resnet{depth}");
        assert_eq!(config.depth(), depth);
    }
}

#[test]
fn keras_resnet50_parameter_count() {
    let config = ResNetConfig::standard(50)
        .unwrap()
        .with_layout(Layout::Keras);
    assert_eq!(config.num_params_with_bn_statistics(), 25_636_712);
}

#[test]
fn cifar_depths_follow_6n_plus_2() {
    for depth in [20, 56, 110] {
        let config = ResNetConfig::cifar(depth, 10).unwrap();
        assert_eq!(config.depth(), depth);
        assert_eq!(config.blocks().len(), (depth - 2) / 2);
    }
    assert!(ResNetConfig::cifar(21, 10).is_none());
}
