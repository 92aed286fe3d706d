//! torchvision's names for the stdlib backbones (`std/backbones`), so a `state_dict()` saved by
//! PyTorch loads into them and `trainc export` writes one PyTorch loads back.
//!
//! The mapping is derived from the module paths the checker gives a backbone instance, not from
//! a table per model:
//! - a ResNet is a stem, then residual blocks in call order where each `*_down` block (after the
//!   first block) opens the next `layerN`. Inside a block the k-th `conv_bn_relu` is
//!   `conv{k}`/`bn{k}`, the block's own conv and norm come next, and the projection shortcut is
//!   `downsample.0`/`.1`. ResNet-18/34/50/101/152 all follow it.
//! - MobileNetV2 is `features.N`: the stem unit, the first (expansion 1) block written out, one
//!   index per inverted-residual block in call order, then the last 1×1 unit.
//! - EfficientNet is `features.N.i`: each `mbconv_down` opens the next stage, `mbconv`s continue
//!   it; inside a block the units are `block.0…3` (expand, depthwise, squeeze-excite, project).
//! - ConvNeXt is `features.N`: the stem, then stages of blocks (`features.N.i.block.k`) with a
//!   `convnext_down` (`features.N`) between them.
//! - ViT is `conv_proj`, `class_token`, `encoder.pos_embedding`, then
//!   `encoder.layers.encoder_layer_i` in call order and the final `encoder.ln`.

use std::collections::BTreeMap;

/// The architecture families whose stdlib blocks have torchvision names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    ResNet,
    MobileNetV2,
    EfficientNet,
    ConvNext,
    Vit,
}

/// Stdlib blocks whose instances have torchvision names.
const BACKBONES: &[(&str, Family)] = &[
    ("resnet18", Family::ResNet),
    ("resnet34", Family::ResNet),
    ("resnet50", Family::ResNet),
    ("resnet101", Family::ResNet),
    ("resnet152", Family::ResNet),
    ("mobilenet_v2", Family::MobileNetV2),
    ("efficientnet_b0", Family::EfficientNet),
    ("convnext_tiny", Family::ConvNext),
    ("vit_b16", Family::Vit),
];

/// Splits a path component into the block name and its instance number: `basic_down1` →
/// (`basic_down`, 1). Only for names that do not end in a digit (see [`family`]).
pub fn instance(component: &str) -> Option<(&str, usize)> {
    let digits = component.len() - component.chars().rev().take_while(char::is_ascii_digit).count();
    let (name, n) = component.split_at(digits);
    Some((name, n.parse().ok()?))
}

/// The family of a path component that is an instance of a stdlib backbone with torchvision names.
pub fn family(component: &str) -> Option<Family> {
    // `resnet180` is instance 0 of `resnet18`: the names end in digits, so match them as prefixes.
    BACKBONES.iter().find_map(|(b, family)| {
        let n = component.strip_prefix(b)?;
        (!n.is_empty() && n.chars().all(|c| c.is_ascii_digit())).then_some(*family)
    })
}

/// torchvision module names for module paths inside one backbone instance (paths relative to
/// it, in call order: `basic_down0.conv2d1` → `layer2.0.downsample.0`). Paths it does not know
/// are left out.
pub fn backbone(family: Family, paths: &[&str]) -> BTreeMap<String, String> {
    match family {
        Family::ResNet => resnet(paths),
        Family::MobileNetV2 => mobilenet_v2(paths),
        Family::EfficientNet => efficientnet(paths),
        Family::ConvNext => convnext(paths),
        Family::Vit => vit(paths),
    }
}

/// torchvision's names for the paths of a model (or a module) that holds exactly one backbone
/// instance at its top level, and maybe a `classifier` head; otherwise the top-level backbone
/// instances found (none or several).
pub fn with_one_backbone(paths: &[&str]) -> Result<BTreeMap<String, String>, Vec<String>> {
    let mut backbones: Vec<&str> =
        paths.iter().filter_map(|p| p.split('.').next()).filter(|c| family(c).is_some()).collect();
    backbones.dedup();
    let (backbone, family) = match backbones.as_slice() {
        [one] => (*one, family(one).ok_or_else(Vec::new)?),
        found => return Err(found.iter().map(ToString::to_string).collect()),
    };
    let prefix = format!("{backbone}.");
    let inside: Vec<&str> = paths.iter().filter_map(|p| p.strip_prefix(prefix.as_str())).collect();
    let mut out: BTreeMap<String, String> =
        self::backbone(family, &inside).into_iter().map(|(k, v)| (format!("{prefix}{k}"), v)).collect();
    for p in paths {
        if let Some(fc) = head(family, p) {
            out.insert(p.to_string(), fc.to_string());
        }
    }
    Ok(out)
}

fn resnet(paths: &[&str]) -> BTreeMap<String, String> {
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

/// The classification head: `std/heads`'s `classifier`, which torchvision's ResNets call `fc`
/// and MobileNetV2 and EfficientNet `classifier.1` (after their dropout); or, after a ViT or a
/// ConvNeXt, the model's own top-level layers as torchvision's heads have them (ViT: one
/// linear layer, `heads.head`; ConvNeXt: a channel layer norm and a linear layer after the
/// pooling, `classifier.0` and `.2`).
pub fn head(family: Family, path: &str) -> Option<&'static str> {
    match (family, path) {
        (Family::Vit, "linear0") => return Some("heads.head"),
        (Family::ConvNext, "layer_norm0") => return Some("classifier.0"),
        (Family::ConvNext, "linear0") => return Some("classifier.2"),
        _ => {}
    }
    let (block, leaf) = path.split_once('.')?;
    if instance(block)?.0 != "classifier" || leaf != "linear0" {
        return None;
    }
    match family {
        Family::ResNet => Some("fc"),
        Family::MobileNetV2 | Family::EfficientNet => Some("classifier.1"),
        Family::ConvNext | Family::Vit => None,
    }
}

/// ConvNeXt (`std/backbones`'s `convnext_tiny`): torchvision's `features.N…`.
fn convnext(paths: &[&str]) -> BTreeMap<String, String> {
    // Stages sit at odd indices, the downsampling layers between them at even ones.
    let (mut stage, mut index) = (1, 0);
    let mut blocks = BTreeMap::new();
    let mut downs = BTreeMap::new();
    for path in paths {
        let Some((block, _)) = path.split_once('.') else { continue };
        match instance(block) {
            Some(("convnext_block", _)) if !blocks.contains_key(block) => {
                blocks.insert(block.to_string(), (stage, index));
                index += 1;
            }
            Some(("convnext_down", _)) if !downs.contains_key(block) => {
                downs.insert(block.to_string(), stage + 1);
                (stage, index) = (stage + 2, 0);
            }
            _ => {}
        }
    }
    let name = |path: &str| -> Option<String> {
        match path {
            "conv2d0" => return Some("features.0.0".into()),
            "layer_norm0" => return Some("features.0.1".into()),
            _ => {}
        }
        let (head, rest) = path.split_once('.')?;
        if let Some(n) = downs.get(head) {
            let unit = match rest {
                "layer_norm0" => "0",
                "conv2d0" => "1",
                _ => return None,
            };
            return Some(format!("features.{n}.{unit}"));
        }
        let (stage, i) = blocks.get(head)?;
        let unit = match rest {
            "conv2d0" => "block.0",
            "layer_norm0" => "block.2",
            "linear0" => "block.3",
            "linear1" => "block.5",
            "gamma" => "layer_scale",
            _ => return None,
        };
        Some(format!("features.{stage}.{i}.{unit}"))
    };
    paths.iter().filter_map(|p| Some((p.to_string(), name(p)?))).collect()
}

/// ViT (`std/vit`'s `vit_b16`): torchvision's `conv_proj`, `class_token` and `encoder…`.
fn vit(paths: &[&str]) -> BTreeMap<String, String> {
    let layers = numbered(paths, &["encoder_layer"], 0);
    let name = |path: &str| -> Option<String> {
        let (head, rest) = path.split_once('.')?;
        if let Some(i) = layers.get(head) {
            let unit = match rest {
                "layer_norm0" => "ln_1",
                "attention0" => "self_attention",
                "layer_norm1" => "ln_2",
                "linear0" => "mlp.0",
                "linear1" => "mlp.3",
                _ => return None,
            };
            return Some(format!("encoder.layers.encoder_layer_{i}.{unit}"));
        }
        let name = match (instance(head)?.0, rest) {
            ("patch_tokens", "conv2d0") => "conv_proj",
            ("patch_tokens", "cls") => "class_token",
            ("patch_tokens", "pos") => "encoder.pos_embedding",
            ("class_token", "layer_norm0") => "encoder.ln",
            _ => return None,
        };
        Some(name.to_string())
    };
    paths.iter().filter_map(|p| Some((p.to_string(), name(p)?))).collect()
}

/// The instance number of `component` if it is an instance of `block`: `conv_bn_relu61` is
/// instance 1 of `conv_bn_relu6` (for names that end in a digit, where [`instance`] cannot tell).
fn numbered_as(component: &str, block: &str) -> Option<usize> {
    component.strip_prefix(block)?.parse().ok()
}

/// A conv-norm-activation unit's conv and norm: torchvision's `Conv2dNormActivation` `0`/`1`.
fn conv_norm(leaf: &str) -> Option<&'static str> {
    match leaf {
        "conv2d0" => Some("0"),
        "batch_norm0" => Some("1"),
        _ => None,
    }
}

/// Each instance of the `blocks` (by block name) numbered in call order from `start`.
fn numbered(paths: &[&str], blocks: &[&str], start: usize) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    for path in paths {
        let Some((block, _)) = path.split_once('.') else { continue };
        if instance(block).is_some_and(|(name, _)| blocks.contains(&name)) && !out.contains_key(block) {
            let next = start + out.len();
            out.insert(block.to_string(), next);
        }
    }
    out
}

/// MobileNetV2 (`std/backbones`'s `mobilenet_v2`): torchvision's `features.N…`.
fn mobilenet_v2(paths: &[&str]) -> BTreeMap<String, String> {
    let blocks = numbered(paths, &["inverted_residual", "inverted_down"], 2);
    let last = 2 + blocks.len();
    let name = |path: &str| -> Option<String> {
        // The first block (expansion 1) is written out in the backbone: its depthwise unit,
        // then the linear projection.
        match path {
            "conv2d0" => return Some("features.1.conv.1".into()),
            "batch_norm0" => return Some("features.1.conv.2".into()),
            _ => {}
        }
        let (head, rest) = path.split_once('.')?;
        if let Some(n) = blocks.get(head) {
            return Some(format!("features.{n}.conv.{}", inverted_unit(rest, "conv_bn_relu6")?));
        }
        match numbered_as(head, "conv_bn_relu6")? {
            0 => Some(format!("features.0.{}", conv_norm(rest)?)),
            1 => Some(format!("features.1.conv.0.{}", conv_norm(rest)?)),
            _ => Some(format!("features.{last}.{}", conv_norm(rest)?)),
        }
    };
    paths.iter().filter_map(|p| Some((p.to_string(), name(p)?))).collect()
}

/// Inside an inverted-residual block: the k-th `unit` is `k.0`/`k.1`, then the projection
/// conv and norm follow the units.
fn inverted_unit(rest: &str, unit: &str) -> Option<String> {
    if let Some((head, leaf)) = rest.split_once('.')
        && let Some(k) = numbered_as(head, unit)
    {
        return Some(format!("{k}.{}", conv_norm(leaf)?));
    }
    match rest {
        "conv2d0" => Some("2".into()),
        "batch_norm0" => Some("3".into()),
        _ => None,
    }
}

/// EfficientNet (`std/backbones`'s `efficientnet_b0`): torchvision's `features.N.i.block…`.
fn efficientnet(paths: &[&str]) -> BTreeMap<String, String> {
    let blocks = efficientnet_stages(paths);
    let last = blocks.values().map(|(stage, _)| stage + 1).max().unwrap_or(2);
    let name = |path: &str| -> Option<String> {
        // The first stage (one block, expansion 1) is written out in the backbone.
        match path {
            "conv2d0" => return Some("features.1.0.block.2.0".into()),
            "batch_norm0" => return Some("features.1.0.block.2.1".into()),
            _ => {}
        }
        let (head, rest) = path.split_once('.')?;
        if let Some((stage, i)) = blocks.get(head) {
            return Some(format!("features.{stage}.{i}.block.{}", mbconv_unit(rest, 2)?));
        }
        match instance(head)? {
            ("conv_bn_silu", 0) => Some(format!("features.0.{}", conv_norm(rest)?)),
            ("conv_bn_silu", 1) => Some(format!("features.1.0.block.0.{}", conv_norm(rest)?)),
            ("conv_bn_silu", _) => Some(format!("features.{last}.{}", conv_norm(rest)?)),
            ("squeeze_excite", _) => Some(format!("features.1.0.block.1.{}", squeeze_excite(rest)?)),
            _ => None,
        }
    };
    paths.iter().filter_map(|p| Some((p.to_string(), name(p)?))).collect()
}

/// (stage, index) of each MBConv instance: `mbconv_down` opens the next stage from 2.
fn efficientnet_stages(paths: &[&str]) -> BTreeMap<String, (usize, usize)> {
    let (mut stage, mut index) = (1, 0);
    let mut out = BTreeMap::new();
    for path in paths {
        let Some((block, _)) = path.split_once('.') else { continue };
        let Some((name, _)) = instance(block) else { continue };
        if !["mbconv", "mbconv_down"].contains(&name) || out.contains_key(block) {
            continue;
        }
        if name == "mbconv_down" {
            (stage, index) = (stage + 1, 0);
        }
        out.insert(block.to_string(), (stage, index));
        index += 1;
    }
    out
}

/// Inside an MBConv: `conv_bn_silu{k}` is `k`, squeeze-excite sits at `se`, the projection after.
fn mbconv_unit(rest: &str, se: usize) -> Option<String> {
    let (head, leaf) = rest.split_once('.').unwrap_or((rest, ""));
    match instance(head)? {
        ("conv_bn_silu", k) => Some(format!("{k}.{}", conv_norm(leaf)?)),
        ("squeeze_excite", _) => Some(format!("{se}.{}", squeeze_excite(leaf)?)),
        ("conv2d", 0) if leaf.is_empty() => Some(format!("{}.0", se + 1)),
        ("batch_norm", 0) if leaf.is_empty() => Some(format!("{}.1", se + 1)),
        _ => None,
    }
}

/// torchvision's `SqueezeExcitation`: the reducing conv is `fc1`, the expanding one `fc2`.
fn squeeze_excite(leaf: &str) -> Option<&'static str> {
    match leaf {
        "conv2d0" => Some("fc1"),
        "conv2d1" => Some("fc2"),
        _ => None,
    }
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
        let m = backbone(Family::ResNet, &paths);
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
        let m = backbone(Family::ResNet, &paths);
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
    fn mobilenet_v2_units_follow_torchvision() {
        let paths = [
            "conv_bn_relu60.conv2d0",
            "conv_bn_relu61.batch_norm0",
            "conv2d0",
            "batch_norm0",
            "inverted_down0.conv_bn_relu60.conv2d0",
            "inverted_down0.conv_bn_relu61.batch_norm0",
            "inverted_down0.conv2d0",
            "inverted_residual0.batch_norm0",
            "conv_bn_relu62.batch_norm0",
        ];
        let m = backbone(Family::MobileNetV2, &paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("conv_bn_relu60.conv2d0"), Some("features.0.0"));
        assert_eq!(get("conv_bn_relu61.batch_norm0"), Some("features.1.conv.0.1"));
        assert_eq!(get("conv2d0"), Some("features.1.conv.1"));
        assert_eq!(get("batch_norm0"), Some("features.1.conv.2"));
        assert_eq!(get("inverted_down0.conv_bn_relu60.conv2d0"), Some("features.2.conv.0.0"));
        assert_eq!(get("inverted_down0.conv_bn_relu61.batch_norm0"), Some("features.2.conv.1.1"));
        assert_eq!(get("inverted_down0.conv2d0"), Some("features.2.conv.2"));
        assert_eq!(get("inverted_residual0.batch_norm0"), Some("features.3.conv.3"));
        assert_eq!(get("conv_bn_relu62.batch_norm0"), Some("features.4.1"));
    }

    #[test]
    fn efficientnet_stages_open_at_each_down_block() {
        let paths = [
            "conv_bn_silu0.conv2d0",
            "conv_bn_silu1.conv2d0",
            "squeeze_excite0.conv2d1",
            "conv2d0",
            "mbconv_down0.conv_bn_silu0.conv2d0",
            "mbconv_down0.squeeze_excite0.conv2d0",
            "mbconv_down0.conv2d0",
            "mbconv0.conv_bn_silu1.batch_norm0",
            "mbconv0.batch_norm0",
            "mbconv_down1.conv2d0",
            "conv_bn_silu2.conv2d0",
        ];
        let m = backbone(Family::EfficientNet, &paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("conv_bn_silu0.conv2d0"), Some("features.0.0"));
        assert_eq!(get("conv_bn_silu1.conv2d0"), Some("features.1.0.block.0.0"));
        assert_eq!(get("squeeze_excite0.conv2d1"), Some("features.1.0.block.1.fc2"));
        assert_eq!(get("conv2d0"), Some("features.1.0.block.2.0"));
        assert_eq!(get("mbconv_down0.conv_bn_silu0.conv2d0"), Some("features.2.0.block.0.0"));
        assert_eq!(get("mbconv_down0.squeeze_excite0.conv2d0"), Some("features.2.0.block.2.fc1"));
        assert_eq!(get("mbconv_down0.conv2d0"), Some("features.2.0.block.3.0"));
        assert_eq!(get("mbconv0.conv_bn_silu1.batch_norm0"), Some("features.2.1.block.1.1"));
        assert_eq!(get("mbconv0.batch_norm0"), Some("features.2.1.block.3.1"));
        assert_eq!(get("mbconv_down1.conv2d0"), Some("features.3.0.block.3.0"));
        assert_eq!(get("conv_bn_silu2.conv2d0"), Some("features.4.0"));
    }

    #[test]
    fn convnext_stages_sit_between_the_down_layers() {
        let paths = [
            "conv2d0",
            "layer_norm0",
            "convnext_block0.conv2d0",
            "convnext_block0.gamma",
            "convnext_block1.linear1",
            "convnext_down0.layer_norm0",
            "convnext_down0.conv2d0",
            "convnext_block2.layer_norm0",
            "convnext_down1.conv2d0",
            "convnext_block3.linear0",
        ];
        let m = backbone(Family::ConvNext, &paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("conv2d0"), Some("features.0.0"));
        assert_eq!(get("layer_norm0"), Some("features.0.1"));
        assert_eq!(get("convnext_block0.conv2d0"), Some("features.1.0.block.0"));
        assert_eq!(get("convnext_block0.gamma"), Some("features.1.0.layer_scale"));
        assert_eq!(get("convnext_block1.linear1"), Some("features.1.1.block.5"));
        assert_eq!(get("convnext_down0.layer_norm0"), Some("features.2.0"));
        assert_eq!(get("convnext_down0.conv2d0"), Some("features.2.1"));
        assert_eq!(get("convnext_block2.layer_norm0"), Some("features.3.0.block.2"));
        assert_eq!(get("convnext_down1.conv2d0"), Some("features.4.1"));
        assert_eq!(get("convnext_block3.linear0"), Some("features.5.0.block.3"));
    }

    #[test]
    fn vit_layers_are_numbered_in_call_order() {
        let paths = [
            "patch_tokens0.conv2d0",
            "patch_tokens0.cls",
            "patch_tokens0.pos",
            "encoder_layer0.attention0",
            "encoder_layer1.linear1",
            "class_token0.layer_norm0",
        ];
        let m = backbone(Family::Vit, &paths);
        let get = |p: &str| m.get(p).map(String::as_str);
        assert_eq!(get("patch_tokens0.conv2d0"), Some("conv_proj"));
        assert_eq!(get("patch_tokens0.cls"), Some("class_token"));
        assert_eq!(get("patch_tokens0.pos"), Some("encoder.pos_embedding"));
        assert_eq!(get("encoder_layer0.attention0"), Some("encoder.layers.encoder_layer_0.self_attention"));
        assert_eq!(get("encoder_layer1.linear1"), Some("encoder.layers.encoder_layer_1.mlp.3"));
        assert_eq!(get("class_token0.layer_norm0"), Some("encoder.ln"));
        assert_eq!(head(Family::Vit, "linear0"), Some("heads.head"));
        assert_eq!(head(Family::ConvNext, "layer_norm0"), Some("classifier.0"));
    }

    #[test]
    fn instances_and_heads() {
        assert_eq!(instance("basic_down12"), Some(("basic_down", 12)));
        assert_eq!(family("resnet500"), Some(Family::ResNet));
        assert_eq!(family("mobilenet_v20"), Some(Family::MobileNetV2));
        assert_eq!(family("small_cnn0"), None);
        assert_eq!(family("resnet18_cifar0"), None);
        assert_eq!(head(Family::ResNet, "classifier0.linear0"), Some("fc"));
        assert_eq!(head(Family::EfficientNet, "classifier0.linear0"), Some("classifier.1"));
        assert_eq!(head(Family::ResNet, "head0.linear0"), None);
    }
}
