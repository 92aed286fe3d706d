//! The parameter count of every stdlib backbone equals torchvision's. The numbers were taken from
//! torchvision 0.24's own models (`sum(p.numel() for p in model.parameters())`), each with the
//! head written next to it here; the checker counts them without building a tensor.

use trainc::frontend::{self, Options};
use trainc::host::MemHost;

const MODELS: &str = r#"
use std/backbones.{mobilenet_v2, efficientnet_b0, convnext_tiny, resnet18_cifar}
use std/heads.{classifier}
use std/vit.{vit_b16, vit_tiny}
use std/segmentation.{deeplabv3_head}
model m_mobilenet_v2(x: Image[B, 3, 224, 224]) {
  return mobilenet_v2(x) |> adaptive_avgpool |> flatten |> dropout(0.2) |> linear(1000)
}
model m_efficientnet_b0(x: Image[B, 3, 224, 224]) {
  return efficientnet_b0(x) |> adaptive_avgpool |> flatten |> dropout(0.2) |> linear(1000)
}
model m_convnext_tiny(x: Image[B, 3, 224, 224]) {
  return convnext_tiny(x) |> adaptive_avgpool |> layer_norm(axis = 1, eps = 1e-6) |> flatten |> linear(1000)
}
model m_vit_b16(x: Image[B, 3, 224, 224]) {
  return vit_b16(x) |> linear(1000)
}
model m_vit_tiny(x: Image[B, 3, 32, 32]) {
  return vit_tiny(x) |> linear(10)
}
model m_resnet18_cifar(x: Image[B, 3, 32, 32]) {
  f = resnet18_cifar(x)
  return classifier(f.c5, 10)
}
model m_deeplabv3_head(x: Image[B, 2048, 28, 28]) {
  return deeplabv3_head(x, 21)
}
"#;

/// `(model, torchvision's count, how torchvision builds it)`.
const TORCHVISION: &[(&str, i64, &str)] = &[
    ("m_mobilenet_v2", 3_504_872, "mobilenet_v2()"),
    ("m_efficientnet_b0", 5_288_548, "efficientnet_b0()"),
    ("m_convnext_tiny", 28_589_128, "convnext_tiny()"),
    ("m_vit_b16", 86_567_656, "vit_b_16()"),
    (
        "m_vit_tiny",
        5_362_762,
        "VisionTransformer(image_size=32, patch_size=4, num_layers=12, num_heads=3, hidden_dim=192, mlp_dim=768, num_classes=10)",
    ),
    (
        "m_resnet18_cifar",
        11_173_962,
        "resnet18(num_classes=10) with conv1 = Conv2d(3, 64, 3, 1, 1, bias=False), maxpool = Identity()",
    ),
    ("m_deeplabv3_head", 16_130_837, "segmentation.deeplabv3.DeepLabHead(2048, 21)"),
];

#[test]
fn stdlib_backbones_count_parameters_like_torchvision() {
    let outcome = frontend::check_text(&MemHost::new(), "backbones.train", MODELS, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    for (model, expected, torchvision) in TORCHVISION {
        let graph = outcome.checked.models.get(*model).unwrap_or_else(|| panic!("no model `{model}`"));
        let count = graph.param_count();
        assert_eq!(
            count.value(),
            Some(*expected),
            "`{model}` has {count} parameters; torchvision's {torchvision} has {expected}"
        );
    }
    assert_eq!(outcome.checked.models.len(), TORCHVISION.len());
}
