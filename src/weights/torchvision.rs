//! torchvision's names for the stdlib backbones (`std/backbones`), so a `state_dict()` saved by
//! PyTorch loads into them and `trainc export` writes one PyTorch loads back.
//!
//! The mapping is derived from the module paths the checker gives a backbone instance, not from
//! a table per model: a ResNet is a stem, then residual blocks in call order where each
//! `*_down` block (after the first block) opens the next `layerN`. Inside a block the k-th
//! `conv_bn_relu` is `conv{k}`/`bn{k}`, the block's own conv and norm come next, and the
//! projection shortcut is `downsample.0`/`.1`. ResNet-18/34/50/101/152 all follow it.

use std::collections::BTreeMap;

/// Stdlib blocks whose instances have torchvision names.
const BACKBONES: &[&str] = &["resnet18", "resnet34", "resnet50", "resnet101", "resnet152"];

/// Splits a path component into the block name and its instance number: `basic_down1` →
/// (`basic_down`, 1). Only for names that do not end in a digit (see [`is_backbone`]).
pub fn instance(component: &str) -> Option<(&str, usize)> {
    let digits = component.len() - component.chars().rev().take_while(char::is_ascii_digit).count();
    let (name, n) = component.split_at(digits);
    Some((name, n.parse().ok()?))
}

/// Whether a path component is an instance of a stdlib backbone with torchvision names.
pub fn is_backbone(component: &str) -> bool {
    // `resnet180` is instance 0 of `resnet18`: the names end in digits, so match them as prefixes.
    BACKBONES
        .iter()
        .any(|b| component.strip_prefix(b).is_some_and(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_digit())))
}

/// torchvision module names for module paths inside one backbone instance (paths relative to
/// it: `basic_down0.conv2d1` → `layer2.0.downsample.0`). Paths it does not know are left out.
pub fn backbone(paths: &[&str]) -> BTreeMap<String, String> {
    let stages = stages(paths);
    let mut out = BTreeMap::new();
    for path in paths {
        let mapped = match path.split_once('.') {
            Some(("stem0", rest)) => stem(rest).map(String::from),
            Some((block, rest)) => stages.get(block).and_then(|layer| {
                let convs = conv_units(paths, block);
                inner_block(rest, convs).map(|m| format!("{layer}.{m}"))
            }),
            None => None,
        };
        if let Some(m) = mapped {
            out.insert(path.to_string(), m);
        }
    }
    out
}

/// `layerN.i` for each residual block instance, in call order.
fn stages(paths: &[&str]) -> BTreeMap<String, String> {
    let (mut stage, mut index) = (1, 0);
    let mut out = BTreeMap::new();
    for path in paths {
        let Some((block, _)) = path.split_once('.') else { continue };
        let Some((name, _)) = instance(block) else { continue };
        let residual = ["basic_block", "basic_down", "bottleneck", "bottleneck_down"].contains(&name);
        if !residual || out.contains_key(block) {
            continue;
        }
        if name.ends_with("_down") && index > 0 {
            stage += 1;
            index = 0;
        }
        out.insert(block.to_string(), format!("layer{stage}.{index}"));
        index += 1;
    }
    out
}

/// How many `conv_bn_relu` units a block instance has.
fn conv_units(paths: &[&str], block: &str) -> usize {
    let prefix = format!("{block}.conv_bn_relu");
    let mut seen: Vec<&str> =
        paths.iter().filter(|p| p.starts_with(&prefix)).filter_map(|p| p.split('.').nth(1)).collect();
    seen.dedup();
    seen.len()
}

/// The stem's one `conv_bn_relu` unit: torchvision's `conv1` / `bn1`.
fn stem(rest: &str) -> Option<&'static str> {
    match rest {
        "conv_bn_relu0.conv2d0" => Some("conv1"),
        "conv_bn_relu0.batch_norm0" => Some("bn1"),
        _ => None,
    }
}

/// Module names inside a residual block with `convs` `conv_bn_relu` units.
fn inner_block(rest: &str, convs: usize) -> Option<String> {
    if let Some((unit, leaf)) = rest.split_once('.')
        && let Some(("conv_bn_relu", k)) = instance(unit)
    {
        return match leaf {
            "conv2d0" => Some(format!("conv{}", k + 1)),
            "batch_norm0" => Some(format!("bn{}", k + 1)),
            _ => None,
        };
    }
    match rest {
        "conv2d0" => Some(format!("conv{}", convs + 1)),
        "batch_norm0" => Some(format!("bn{}", convs + 1)),
        "conv2d1" => Some("downsample.0".into()),
        "batch_norm1" => Some("downsample.1".into()),
        _ => None,
    }
}

/// The classification head (`std/heads`'s `classifier`): torchvision ResNets call it `fc`.
pub fn head(path: &str) -> Option<&'static str> {
    let (block, leaf) = path.split_once('.')?;
    (instance(block)?.0 == "classifier" && leaf == "linear0").then_some("fc")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resnet18_blocks_follow_torchvision() {
        let paths = [
            "stem0.conv_bn_relu0.conv2d0",
            "stem0.conv_bn_relu0.batch_norm0",
            "basic_block0.conv_bn_relu0.conv2d0",
            "basic_block0.conv2d0",
            "basic_block0.batch_norm0",
            "basic_block1.conv_bn_relu0.conv2d0",
            "basic_block1.conv2d0",
            "basic_down0.conv_bn_relu0.batch_norm0",
            "basic_down0.conv2d1",
            "basic_down0.batch_norm1",
            "basic_block2.conv_bn_relu0.conv2d0",
            "basic_block2.conv2d0",
            "basic_down1.conv_bn_relu0.conv2d0",
            "basic_down1.conv2d0",
        ];
        let m = backbone(&paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("stem0.conv_bn_relu0.conv2d0"), Some("conv1"));
        assert_eq!(get("stem0.conv_bn_relu0.batch_norm0"), Some("bn1"));
        assert_eq!(get("basic_block0.conv_bn_relu0.conv2d0"), Some("layer1.0.conv1"));
        assert_eq!(get("basic_block0.conv2d0"), Some("layer1.0.conv2"));
        assert_eq!(get("basic_block0.batch_norm0"), Some("layer1.0.bn2"));
        assert_eq!(get("basic_block1.conv2d0"), Some("layer1.1.conv2"));
        assert_eq!(get("basic_down0.conv_bn_relu0.batch_norm0"), Some("layer2.0.bn1"));
        assert_eq!(get("basic_down0.conv2d1"), Some("layer2.0.downsample.0"));
        assert_eq!(get("basic_down0.batch_norm1"), Some("layer2.0.downsample.1"));
        assert_eq!(get("basic_block2.conv2d0"), Some("layer2.1.conv2"));
        assert_eq!(get("basic_down1.conv2d0"), Some("layer3.0.conv2"));
    }

    #[test]
    fn resnet50_bottlenecks_start_with_a_stride_one_projection() {
        let paths = [
            "bottleneck_down0.conv_bn_relu0.conv2d0",
            "bottleneck_down0.conv_bn_relu1.conv2d0",
            "bottleneck_down0.conv2d0",
            "bottleneck_down0.batch_norm0",
            "bottleneck_down0.conv2d1",
            "bottleneck0.conv_bn_relu0.conv2d0",
            "bottleneck0.conv_bn_relu1.conv2d0",
            "bottleneck0.conv2d0",
            "bottleneck1.conv_bn_relu0.conv2d0",
            "bottleneck1.conv_bn_relu1.conv2d0",
            "bottleneck1.conv2d0",
            "bottleneck_down1.conv_bn_relu1.batch_norm0",
        ];
        let m = backbone(&paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("bottleneck_down0.conv_bn_relu0.conv2d0"), Some("layer1.0.conv1"));
        assert_eq!(get("bottleneck_down0.conv_bn_relu1.conv2d0"), Some("layer1.0.conv2"));
        assert_eq!(get("bottleneck_down0.conv2d0"), Some("layer1.0.conv3"));
        assert_eq!(get("bottleneck_down0.batch_norm0"), Some("layer1.0.bn3"));
        assert_eq!(get("bottleneck_down0.conv2d1"), Some("layer1.0.downsample.0"));
        assert_eq!(get("bottleneck0.conv2d0"), Some("layer1.1.conv3"));
        assert_eq!(get("bottleneck1.conv2d0"), Some("layer1.2.conv3"));
        assert_eq!(get("bottleneck_down1.conv_bn_relu1.batch_norm0"), Some("layer2.0.bn2"));
    }

    #[test]
    fn instances_and_heads() {
        assert_eq!(instance("basic_down12"), Some(("basic_down", 12)));
        assert!(is_backbone("resnet500") && !is_backbone("small_cnn0"));
        assert_eq!(head("classifier0.linear0"), Some("fc"));
        assert_eq!(head("head0.linear0"), None);
    }
}
