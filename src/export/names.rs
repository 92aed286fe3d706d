//! The module names of a safetensors export. With [`Names::Torchvision`] (the default) a model
//! built on one stdlib backbone at its top level (`resnet180`) gets torchvision's names for it
//! (`conv1`, `layer1.0.bn2`, …, from [`crate::weights::torchvision`]) and a `classifier` head's
//! linear layer is `fc` (`classifier.1` after MobileNetV2 or EfficientNet), so
//! `resnet18(num_classes=N).load_state_dict(…, strict=True)` loads the export of
//! `resnet18(x) → classifier`. These are the names `load(…, names = torchvision)`
//! reads, so an export also loads back into the same model. Every other layer, and every layer
//! of a model with no or several top-level backbones, keeps its module path.

use std::collections::BTreeMap;

use crate::ir::Names;
use crate::weights::torchvision;

/// The exported module name of each layer path that is not its own path.
pub fn module_names(paths: &[&str], names: Names) -> BTreeMap<String, String> {
    if names == Names::Trainc {
        return BTreeMap::new();
    }
    torchvision::with_one_backbone(paths).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_top_level_backbone_and_a_classifier_get_torchvision_names() {
        let paths = [
            "resnet180.stem0.conv_bn_relu0.conv2d0",
            "resnet180.basic_down0.conv2d1",
            "classifier0.linear0",
            "extra0.conv2d0",
        ];
        let m = module_names(&paths, Names::Torchvision);
        assert_eq!(m.get("resnet180.stem0.conv_bn_relu0.conv2d0").map(String::as_str), Some("conv1"));
        assert_eq!(m.get("resnet180.basic_down0.conv2d1").map(String::as_str), Some("layer1.0.downsample.0"));
        assert_eq!(m.get("classifier0.linear0").map(String::as_str), Some("fc"));
        assert_eq!(m.get("extra0.conv2d0"), None);
        assert!(module_names(&paths, Names::Trainc).is_empty());
    }

    #[test]
    fn without_a_single_backbone_the_paths_stay() {
        assert!(module_names(&["conv2d0", "classifier0.linear0"], Names::Torchvision).is_empty());
        let two = ["resnet180.stem0.conv_bn_relu0.conv2d0", "resnet181.stem0.conv_bn_relu0.conv2d0"];
        assert!(module_names(&two, Names::Torchvision).is_empty());
    }
}
