//! Pretrained weights: torchvision's ResNets, saved by PyTorch, load into the stdlib backbones
//! through the torchvision names and give PyTorch's logits (eval mode, `--device flex`).
//!
//! Needs python with torch and torchvision (`TRAINC_TORCH_PYTHON`, default
//! `~/.cache/trainc-torch-venv/bin/python`; CI installs them there).
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;
use std::process::Command;

use burn::tensor::{Device, Tensor, TensorData};
use trainc::exec::Net;
use trainc::frontend::{self, Options};
use trainc::host::FsHost;

fn scratch(name: &str) -> common::Scratch {
    common::scratch(&format!("weights-{name}"))
}

/// Saves a seeded torchvision model with random batch-norm statistics (so eval mode matters),
/// its head scaled to logits of about ±10,
/// an input and PyTorch's logits for it as raw little-endian f32.
fn torchvision_reference(python: &str, dir: &Path, arch: &str, save: &str) {
    torchvision_reference_at(python, dir, arch, save, 64);
}

/// [`torchvision_reference`] on `size`×`size` inputs; layer norms, ConvNeXt's layer scales
/// and ViT's class token are randomised too (at their initial ones, zeros and 1e-6 a wrong
/// mapping would hardly change the logits).
fn torchvision_reference_at(python: &str, dir: &Path, arch: &str, save: &str, size: usize) {
    let script = format!(
        r#"
import torch, torchvision
torch.manual_seed(0)
m = torchvision.models.{arch}(weights=None, num_classes=4)
with torch.no_grad():
    for mod in m.modules():
        if isinstance(mod, torch.nn.BatchNorm2d):
            mod.running_mean.uniform_(-0.1, 0.1); mod.running_var.uniform_(0.8, 1.2)
            mod.weight.uniform_(0.8, 1.2); mod.bias.uniform_(-0.1, 0.1)
        if isinstance(mod, torch.nn.LayerNorm):
            mod.weight.uniform_(0.8, 1.2); mod.bias.uniform_(-0.1, 0.1)
    for name, p in m.named_parameters():
        if name.endswith('layer_scale'): p.uniform_(0.1, 0.3)
        if name == 'class_token': p.normal_(0, 0.02)
m.eval()
x = torch.randn(2, 3, {size}, {size})
with torch.no_grad():
    # Random networks give logits far from a trained one's scale (1e-2 or 1e2); scale the head
    # so they span about ±10, like a trained classifier's, and 1e-4 means what it says.
    head = m.fc if hasattr(m, 'fc') else m.heads.head if hasattr(m, 'heads') else m.classifier[-1]
    head.weight.mul_(10 / m(x).abs().max())
    head.bias.zero_()
    y = m(x)
sd = m.state_dict()
{save}
x.numpy().astype('<f4').tofile('x.bin'); y.numpy().astype('<f4').tofile('y.bin')
"#
    );
    let out = Command::new(python).arg("-c").arg(script).current_dir(dir).env("OMP_NUM_THREADS", "1").output();
    let out = out.expect("python runs");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

fn floats(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).expect("raw floats");
    bytes.chunks_exact(4).map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]])).collect()
}

/// The spec's model with its `weights` loaded, run on `x.bin` on flex; its logits.
fn trainc_logits(dir: &Path, backbone: &str, load: &str) -> Vec<f32> {
    trainc_logits_at(dir, backbone, load, 64)
}

/// [`trainc_logits`] on `size`×`size` inputs, with each backbone's torchvision head: ResNets
/// return four stages, ConvNeXt's head norms the pooled features, ViT's is one linear layer.
fn trainc_logits_at(dir: &Path, backbone: &str, load: &str, size: usize) -> Vec<f32> {
    let (module, head) = match backbone {
        b if b.starts_with("resnet") => ("backbones", "classifier(f.c5, classes)"),
        "convnext_tiny" => {
            ("backbones", "f |> adaptive_avgpool(1) |> layer_norm(axis = 1, eps = 1e-6) |> flatten |> linear(classes)")
        }
        "vit_b16" => ("vit", "f |> linear(classes)"),
        _ => ("backbones", "classifier(f, classes)"),
    };
    let text = format!(
        r#"use std/{module}.{{{backbone}}}
use std/heads.{{classifier}}
dataset d = image_folder("data") {{ train = "train" }}
model net(x: Image[B, 3, {size}, {size}]) -> Logits[B, classes] {{
  f = {backbone}(x)
  return {head}
}}
train {{
  model = net; data = d {{ batch = 2 }}; loss = cross_entropy(); optimizer = sgd(lr = 0.1); epochs = 1
  weights = {load}
}}
"#
    );
    let device = Device::flex();
    let net = loaded(dir, &text, &device);
    let x = Tensor::<4>::from_data(TensorData::new(floats(&dir.join("x.bin")), [2, 3, size, size]), &device);
    let (_, out) = net.forward(vec![x]).into_iter().next().expect("one output");
    out.d2().into_data().try_to_vec::<f32>().expect("f32 logits")
}

/// The model of `text` (written to `dir/t.train`, checked with 4 classes and no data),
/// compiled on `device` with its `weights` loaded.
fn loaded(dir: &Path, text: &str, device: &Device) -> Net {
    let path = dir.join("t.train");
    std::fs::write(&path, text).expect("spec");
    let mut options = Options::default();
    options.check.skip_data = true;
    options.check.assume_classes = Some((0..4).map(|i| format!("c{i}")).collect());
    let outcome = frontend::check_file(&FsHost, &path, &options);
    assert!(!outcome.has_errors(), "{}", outcome.render(false));
    let train = outcome.checked.train.expect("a train block");
    let graph = &outcome.checked.models[&train.model];
    let mut net = Net::build(graph, device).expect("compiles");
    for spec in &train.weights {
        trainc::weights::load::load(&mut net, graph, spec).expect("loads");
    }
    net
}

/// A ViT's safetensors export (attention packed as PyTorch's `in_proj_*`, the class token and
/// position embedding as bare parameters) loads back strictly into a fresh model: same logits.
#[test]
fn a_vit_export_loads_back_strictly_into_a_fresh_model() {
    let dir = scratch("vit");
    let spec = |weights: &str| {
        format!(
            r#"use std/vit.{{vit_tiny}}
dataset d = image_folder("data") {{ train = "train" }}
model net(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {{
  return x |> vit_tiny(patch = 8) |> linear(classes)
}}
train {{
  model = net; data = d {{ batch = 2 }}; loss = cross_entropy(); optimizer = sgd(lr = 0.1); epochs = 1
  {weights}
}}
"#
        )
    };
    let device = Device::flex();
    let x = Tensor::<4>::random([2, 3, 16, 16], burn::tensor::Distribution::Default, &device);
    let logits = |net: &Net| {
        let (_, out) = net.forward(vec![x.clone()]).into_iter().next().expect("one output");
        out.d2().into_data().try_to_vec::<f32>().expect("f32 logits")
    };
    let first = loaded(&dir, &spec(""), &device);
    let entries =
        trainc::export::safetensors::entries(&first, &|p| p.to_string(), &|k| k.to_string()).expect("entries");
    assert!(entries.iter().any(|e| e.key.ends_with("in_proj_weight")), "the export packs attention");
    let file = dir.join("vit.safetensors");
    trainc::export::safetensors::write(&entries, Default::default(), &file).expect("written");
    let second = loaded(&dir, &spec(r#"weights = load("vit.safetensors")"#), &device);
    assert_close(&logits(&second), &logits(&first));
    // Not by luck: a model built the same way without the load answers differently.
    let fresh = logits(&loaded(&dir, &spec(""), &device));
    assert!(fresh.iter().zip(logits(&first)).any(|(a, b)| (a - b).abs() > 1e-3), "fresh models differ");
}

fn assert_close(trainc: &[f32], torch: &[f32]) {
    assert_eq!(trainc.len(), torch.len());
    let worst = trainc.iter().zip(torch).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
    assert!(worst <= 1e-4, "largest difference {worst}: trainc {trainc:?} vs PyTorch {torch:?}");
}

#[test]
fn torchvision_resnet18_state_dict_gives_pytorch_logits() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let dir = scratch("r18");
    torchvision_reference(&python, &dir, "resnet18", "torch.save(sd, 'r18.pth')");
    let logits = trainc_logits(&dir, "resnet18", r#"load("r18.pth", names = torchvision)"#);
    assert_close(&logits, &floats(&dir.join("y.bin")));
}

#[test]
fn torchvision_resnet50_checkpoint_dict_gives_pytorch_logits() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let dir = scratch("r50");
    torchvision_reference(&python, &dir, "resnet50", "torch.save({'state_dict': sd, 'epoch': 3}, 'r50.pth')");
    let logits = trainc_logits(&dir, "resnet50", r#"load("r50.pth", names = torchvision)"#);
    assert_close(&logits, &floats(&dir.join("y.bin")));
}

#[test]
fn torchvision_mobilenet_v2_and_efficientnet_b0_give_pytorch_logits() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    for arch in ["mobilenet_v2", "efficientnet_b0"] {
        let dir = scratch(arch);
        torchvision_reference(&python, &dir, arch, "torch.save(sd, 'm.pth')");
        let logits = trainc_logits(&dir, arch, r#"load("m.pth", names = torchvision)"#);
        assert_close(&logits, &floats(&dir.join("y.bin")));
    }
}

#[test]
fn torchvision_convnext_tiny_and_vit_b_16_give_pytorch_logits() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    for (arch, backbone, size) in [("convnext_tiny", "convnext_tiny", 64), ("vit_b_16", "vit_b16", 224)] {
        let dir = scratch(arch);
        torchvision_reference_at(&python, &dir, arch, "torch.save(sd, 'm.pth')", size);
        let logits = trainc_logits_at(&dir, backbone, r#"load("m.pth", names = torchvision)"#, size);
        assert_close(&logits, &floats(&dir.join("y.bin")));
    }
}

#[test]
fn safetensors_with_a_prefix_rule_gives_pytorch_logits() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let dir = scratch("st");
    // Like a Lightning checkpoint: every torchvision key under `model.`.
    let save = "from safetensors.torch import save_file\n\
                save_file({'model.' + k: v.contiguous() for k, v in sd.items()}, 'r18.safetensors')";
    torchvision_reference(&python, &dir, "resnet18", save);
    let logits =
        trainc_logits(&dir, "resnet18", r#"load("r18.safetensors", names = torchvision, rename = ["model -> "])"#);
    assert_close(&logits, &floats(&dir.join("y.bin")));
}

#[test]
fn a_partial_load_keeps_the_head_and_loads_the_backbone() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let dir = scratch("partial");
    torchvision_reference(&python, &dir, "resnet18", "torch.save(sd, 'r18.pth')");
    let load = r#"load("r18.pth", into = "resnet180", names = torchvision, strict = false)"#;
    // Same backbone, fresh head: the logits differ from PyTorch's but the features do not.
    let logits = trainc_logits(&dir, "resnet18", load);
    let torch = floats(&dir.join("y.bin"));
    assert!(logits.iter().zip(&torch).any(|(a, b)| (a - b).abs() > 1e-3), "the head was not loaded");
}
