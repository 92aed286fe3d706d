//! Every example's model and every stdlib block runs on a dummy batch, and every runtime shape
//! equals the shape the checker inferred.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::Command;

use burn::tensor::{Device, Distribution, Tensor};
use trainc::exec::Net;
use trainc::frontend::{self, Options, Outcome};
use trainc::host::FsHost;
use trainc::ir::ModelGraph;

const BATCH: usize = 2;

fn assert_shapes_agree(graph: &ModelGraph) {
    let device = Device::flex();
    let net = Net::build(graph, &device).unwrap_or_else(|e| panic!("model `{}` does not compile: {e}", graph.name));
    let inputs = graph
        .inputs
        .iter()
        .map(|(_, s)| {
            let dims: Vec<usize> = s.0.iter().map(|d| d.value().map_or(BATCH, |n| n as usize)).collect();
            Tensor::<4>::random([dims[0], dims[1], dims[2], dims[3]], Distribution::Default, &device)
        })
        .collect();
    let runtime = net.shapes(inputs);
    let bindings = std::collections::HashMap::from([("B".to_string(), trainc::check::dim::Dim::known(BATCH as i64))]);
    let mut compared = 0;
    for node in graph.graph.node_weights() {
        let expected: Vec<usize> = node
            .shape
            .subst(&bindings)
            .0
            .iter()
            .map(|d| d.value().expect("concrete after binding B") as usize)
            .collect();
        let (_, found) =
            runtime.iter().find(|(p, _)| *p == node.path).unwrap_or_else(|| panic!("node {} did not run", node.path));
        assert_eq!(&expected, found, "model `{}`, node `{}`", graph.name, node.path);
        compared += 1;
    }
    assert_eq!(compared, runtime.len());
}

fn check(path: &Path) -> Outcome {
    let outcome = frontend::check_file(&FsHost, path, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    outcome
}

#[test]
fn every_example_model_runs_with_the_inferred_shapes() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = common::scratch("shapes");
    std::fs::create_dir_all(dir.join("data")).expect("temp dir");
    // The examples' data, generated where each example looks for it.
    for (kind, out) in
        [("shapes-folder", "data/shapes_folder"), ("shapes-coco", "data/shapes"), ("shapes-masks", "data/shapes_masks")]
    {
        let status = Command::new(common::bin())
            .current_dir(&dir)
            .args(["gen-data", kind, out, "--per-class", "4"])
            .status()
            .expect("gen-data");
        assert!(status.success());
    }
    for example in ["resnet_folder", "detector", "fcos", "segmentation", "vit_tiny", "convnext_folder"] {
        let file = dir.join(format!("{example}.train"));
        std::fs::copy(root.join(format!("examples/{example}.train")), &file).expect("copy example");
        let outcome = check(&file);
        let train = outcome.checked.train.as_ref().expect("train block");
        assert_shapes_agree(&outcome.checked.models[&train.model]);
    }
    // Fashion-MNIST's class list is in the file, so its model is concrete without the data.
    let mut options = Options::default();
    options.check.skip_data = true;
    let outcome = frontend::check_file(&FsHost, &root.join("examples/fashion_mnist.train"), &options);
    assert_shapes_agree(&outcome.checked.models["cnn"]);
}

#[test]
fn every_stdlib_block_runs_with_the_inferred_shapes() {
    let models = r#"
use std/backbones.{conv_bn_relu, small_cnn, stem, basic_block, basic_down, resnet18, bottleneck, bottleneck_down, resnet50}
use std/necks.{fpn}
use std/heads.{classifier, centernet, fcos_level, fcos}
use std/segmentation.{double_conv, unet}
model m_conv_bn_relu(x: Image[B, 3, 32, 32]) { return conv_bn_relu(x, 16, k = 5, stride = 2) }
model m_small_cnn(x: Image[B, 1, 28, 28]) { return small_cnn(x, width = 8) }
model m_stem(x: Image[B, 3, 64, 64]) { return stem(x, width = 16) }
model m_basic(x: Image[B, 3, 32, 32]) { h = conv_bn_relu(x, 16)
  return basic_block(h, 16) |> basic_down(32) }
model m_resnet18(x: Image[B, 3, 64, 64]) { f = resnet18(x)
  return classifier(f.c5, 5) }
model m_bottleneck(x: Image[B, 3, 32, 32]) { h = bottleneck_down(x, 8, stride = 1)
  return bottleneck(h, 8) }
model m_resnet50(x: Image[B, 3, 64, 64]) { f = resnet50(x)
  return classifier(f.c5, 3) }
model m_fpn(x: Image[B, 3, 64, 64]) { c3, c4, c5 = resnet18(x)
  p = fpn(c3, c4, c5, width = 32)
  return centernet(p.p3, 4, width = 16) }
model m_fcos(x: Image[B, 3, 64, 64]) { c3, c4, c5 = resnet18(x)
  p = fpn(c3, c4, c5, width = 32)
  return fcos(p.p3, p.p4, p.p5, 3, width = 16) }
model m_fcos_level(x: Image[B, 3, 24, 20]) { return x |> conv2d(8, k = 3, stride = 2) |> fcos_level(2, width = 8) }
model m_unet(x: Image[B, 3, 32, 32]) { h = double_conv(x, 8)
  return unet(h, 3, width = 8) }
"#;
    let outcome = frontend::check_text(&FsHost, "blocks.train", models, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    assert_eq!(outcome.checked.models.len(), 11);
    for graph in outcome.checked.models.values() {
        assert_shapes_agree(graph);
    }
}

/// The modern backbones and heads (#13), on small inputs: ViT-B/16 is left to the parameter count
/// test (`tests/backbones.rs`), its blocks run here through ViT-Tiny.
#[test]
fn every_modern_stdlib_block_runs_with_the_inferred_shapes() {
    let models = r#"
use std/backbones.{cifar_stem, resnet18_cifar, inverted_residual, inverted_down, mobilenet_v2, squeeze_excite, mbconv, mbconv_down, efficientnet_b0, convnext_block, convnext_down, convnext_tiny}
use std/heads.{classifier}
use std/vit.{patch_tokens, encoder_layer, class_token, vit_tiny}
use std/segmentation.{aspp, deeplabv3_head}
model m_resnet18_cifar(x: Image[B, 3, 16, 16]) { f = resnet18_cifar(x)
  return classifier(f.c5, 10) }
model m_mobile_blocks(x: Image[B, 3, 16, 16]) { h = x |> cifar_stem(width = 8) |> inverted_down(16) |> inverted_residual
  return h |> squeeze_excite(4) |> mbconv_down(24, k = 5) |> mbconv(k = 5, p = 0.2) }
model m_mobilenet_v2(x: Image[B, 3, 32, 32]) { return mobilenet_v2(x) }
model m_efficientnet_b0(x: Image[B, 3, 32, 32]) { return efficientnet_b0(x) }
model m_convnext_tiny(x: Image[B, 3, 32, 32]) { return convnext_tiny(x) }
model m_convnext_blocks(x: Image[B, 3, 16, 16]) { return x |> conv2d(8, k = 2, stride = 2) |> convnext_block(p = 0.1) |> convnext_down(16) }
model m_vit_tiny(x: Image[B, 3, 16, 16]) { return vit_tiny(x) }
model m_vit_blocks(x: Image[B, 3, 16, 16]) { t = patch_tokens(x, 8, 16) |> encoder_layer(2, 32, p = 0.1)
  return class_token(t) }
model m_deeplab(x: Image[B, 3, 16, 16]) { h = x |> conv2d(16, k = 3, padding = 1) |> aspp(width = 8)
  return deeplabv3_head(h, 3) }
"#;
    let outcome = frontend::check_text(&FsHost, "modern.train", models, &Options::default());
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    assert_eq!(outcome.checked.models.len(), 9);
    for graph in outcome.checked.models.values() {
        assert_shapes_agree(graph);
    }
}
