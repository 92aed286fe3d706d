//! `trainc export` and `train { export = … }`: every example model and a model with every layer
//! kind export to ONNX, and onnxruntime's outputs equal trainc's (from `--sample`) within 1e-4.
//! Needs Python with `onnxruntime`, `onnx`, `numpy` and `safetensors` (`TRAINC_TORCH_PYTHON`,
//! default `~/.cache/trainc-torch-venv/bin/python`); without it the tests print `SKIP` and
//! pass, except under `CI`, where they fail.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{text, trainc};

fn ok(dir: &Path, args: &[&str]) -> String {
    let out = trainc(dir, args);
    assert!(out.status.success(), "trainc {}: {}", args.join(" "), text(&out));
    text(&out)
}

/// Checks the model with `onnx.checker`, runs it with onnxruntime on the sample's inputs and
/// compares every output with trainc's; prints the largest difference.
const COMPARE: &str = r#"
import sys, numpy as np, onnx, onnxruntime as ort
from safetensors.numpy import load_file
model, sample = sys.argv[1], sys.argv[2]
onnx.checker.check_model(onnx.load(model), full_check=True)
s = load_file(sample)
sess = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
feeds = {k[len("input."):]: v for k, v in s.items() if k.startswith("input.")}
names = [o.name for o in sess.get_outputs()]
assert sorted("output." + n for n in names) == sorted(k for k in s if k.startswith("output.")), (names, list(s))
worst = 0.0
for name, got in zip(names, sess.run(names, feeds)):
    want = s["output." + name]
    assert got.shape == want.shape, (name, got.shape, want.shape)
    worst = max(worst, float(np.abs(got - want).max()))
print(worst)
assert worst <= 1e-4, f"onnxruntime differs from trainc by {worst}"
"#;

fn compare(python: &str, model: &Path, sample: &Path) {
    let out = Command::new(python)
        .env("OMP_NUM_THREADS", "1")
        .args(["-c", COMPARE, model.to_str().expect("utf-8"), sample.to_str().expect("utf-8")])
        .output()
        .expect("python runs");
    assert!(out.status.success(), "{}: {}", model.display(), text(&out));
}

fn temp(name: &str) -> common::Scratch {
    common::scratch(&format!("test-export-{name}"))
}

/// The only run directory of `model` under `dir/runs`.
fn run_dir(dir: &Path, model: &str) -> PathBuf {
    let runs = dir.join("runs").join(model);
    std::fs::read_dir(&runs).expect("runs").flatten().next().expect("a run").path()
}

/// One step of training, then `trainc export` of its last checkpoint with a sample, compared
/// with onnxruntime.
fn train_export_compare(python: &str, dir: &Path, file: &str, model: &str) {
    ok(dir, &["run", file, "epochs=1", "limit_batches=1", "--quiet"]);
    let checkpoint = run_dir(dir, model).join("checkpoints/last.bpk");
    let out = dir.join(format!("export-{model}/model.onnx"));
    let args = ["--format", "onnx", "--dynamic-batch", "--sample"];
    let (c, o) = (checkpoint.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    ok(dir, &[&["export", file, "--checkpoint", c, "--output", o][..], &args[..]].concat());
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.with_file_name("labels.json")).expect("labels.json"))
            .expect("json");
    assert_eq!(labels["model"], model, "{labels}");
    assert_eq!(labels["inputs"][0]["batch"], "dynamic", "{labels}");
    compare(python, &out, &out.with_file_name("sample.safetensors"));
}

/// The `model = NAME` of a file's `train` block.
fn trained_model(path: &Path) -> String {
    let text = std::fs::read_to_string(path).expect("read example");
    let line = text.lines().map(str::trim).find(|l| l.starts_with("model") && l.contains('=')).expect("model = …");
    line.split('=').nth(1).expect("a name").trim().to_string()
}

#[test]
fn every_example_exports_to_onnx_and_matches_onnxruntime() {
    let Some(python) = common::torch_python("onnxruntime, onnx, numpy, safetensors") else { return };
    let dir = temp("examples");
    ok(&dir, &["gen-data", "shapes-folder", "data/shapes_folder", "--per-class", "8"]);
    ok(&dir, &["gen-data", "shapes-coco", "data/shapes", "--per-class", "4"]);
    ok(&dir, &["gen-data", "shapes-masks", "data/shapes_masks", "--per-class", "4"]);
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&examples)
        .expect("examples")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "train"))
        .collect();
    files.sort();
    assert!(files.len() >= 4, "{files:?}");
    for path in files {
        let name = path.file_name().expect("name").to_string_lossy().into_owned();
        if name == "fashion_mnist.train" && !Path::new("/usr/share/datasets/fashion-mnist").exists() {
            assert!(std::env::var_os("CI").is_none(), "CI must install dataset-fashion-mnist");
            eprintln!("SKIP {name}: /usr/share/datasets/fashion-mnist is not installed");
            continue;
        }
        std::fs::copy(&path, dir.join(&name)).expect("copy example");
        train_export_compare(&python, &dir, &name, &trained_model(&path));
    }
}

/// Uses every layer builtin (checked against `trainc builtins`), with groups, dilation, no
/// bias, output padding, uneven adaptive bins, both upsampling modes, broadcasting arithmetic and
/// token tensors with `param`s.
const EVERY_LAYER: &str = r#"
dataset shapes = image_folder("shapes") { train = "train"; val = "val" }
augment tf { resize(24, 24); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }
model every(x: Image[B, 3, 24, 24]) -> Logits[B, classes] {
  a = x |> conv2d(8, k = 3, padding = 1) |> batch_norm |> relu
  b = a |> conv2d(8, k = 3, padding = 2, dilation = 2, groups = 2, bias = false) |> group_norm(groups = 4) |> gelu
  c = add(a, b) |> silu |> maxpool(2)
  d = c |> avgpool(3, stride = 1, padding = 1) |> leaky_relu(slope = 0.1)
  e = d |> conv_transpose2d(8, k = 3, stride = 2, padding = 1, output_padding = 1, groups = 2) |> tanh
  u = upsample(c, scale = 2)
  v = upsample(c, scale = 2, mode = bilinear)
  f = concat([e, u, v], dim = 1) |> sigmoid |> identity
  g = f |> adaptive_avgpool(size = 5) |> layer_norm
  p = f |> adaptive_avgpool(size = 1) |> flatten
  q = f |> adaptive_avgpool(size = 2) |> flatten |> softmax
  h = g |> flatten |> dropout(0.1) |> linear(32) |> relu
  s = c |> relu6 |> hardswish |> hardsigmoid |> mish |> prelu(per_channel = true) |> dropout2d(0.1)
  s = mul(s, mean(s, [2, 3], keepdim = true)) - scale(s, 0.5) + 2 * s / 4
  s = s |> layer_norm(axis = 1) |> drop_path(p = 0.1) |> gelu(approximate = tanh) |> prelu
  t = s |> flatten(start = 2) |> transpose(1, 2)
  param cls: [1, 1, 8] = normal(std = 0.02)
  param pos: [1, 145, 8] = trunc_normal(std = 0.02)
  t = concat([cls, t], dim = 1) + pos
  t = t + attention(layer_norm(t), heads = 2)
  m = matmul(softmax(matmul(t, transpose(t)) / 8, dim = -1), t)
  k = select(m, dim = 1, index = 0)
  r = sum(m, 1) |> sub(max(m, 1))
  w = m |> reshape([B, 5, 29, 8]) |> permute([0, 3, 1, 2]) |> flatten
  return concat([h, p, q, k, r, w], dim = 1) |> linear(classes)
}
train {
  model = every
  data = shapes { batch = 8, augment = tf, eval_augment = tf }
  loss = cross_entropy()
  optimizer = adam(lr = 1e-2)
  epochs = 1
}
"#;

#[test]
fn a_model_with_every_layer_kind_exports_and_matches_onnxruntime() {
    let dir = temp("every");
    let builtins = ok(&dir, &["builtins"]);
    let layers = builtins.split("layers:").nth(1).and_then(|s| s.split("losses:").next()).expect("a layers section");
    for name in layers.lines().filter_map(|l| l.trim().split('(').next()).filter(|n| !n.is_empty()) {
        assert!(EVERY_LAYER.contains(&format!("{name}(")) || EVERY_LAYER.contains(&format!("|> {name}")), "{name}");
    }
    let Some(python) = common::torch_python("onnxruntime, onnx, numpy, safetensors") else { return };
    ok(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "8"]);
    std::fs::write(dir.join("every.train"), EVERY_LAYER).expect("write spec");
    train_export_compare(&python, &dir, "every.train", "every");
    // A fixed batch of 1 too.
    let last = run_dir(&dir, "every").join("checkpoints/last.bpk");
    let out = dir.join("fixed/model.onnx");
    let (c, o) = (last.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    ok(&dir, &["export", "every.train", "--checkpoint", c, "--format", "onnx", "--output", o, "--sample"]);
    compare(&python, &out, &out.with_file_name("sample.safetensors"));
}

/// `export = [onnx, safetensors]` with EMA: the run writes both and `labels.json` into
/// `<run>/export/`, from the EMA weights (the ONNX file reproduces `trainc export`'s sample of
/// `ema.bpk`), with the dataset's classes and the eval pipeline's normalisation.
#[test]
fn train_export_writes_the_ema_model_into_the_run_directory() {
    let dir = temp("run");
    ok(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "8"]);
    let spec = EVERY_LAYER.replace("epochs = 1", "epochs = 1\n  ema { decay = 0.5 }\n  export = [onnx, safetensors]");
    std::fs::write(dir.join("every.train"), spec).expect("write spec");
    let printed = ok(&dir, &["run", "every.train", "limit_batches=2"]);
    assert!(printed.contains("model.onnx"), "{printed}");
    let run = run_dir(&dir, "every");
    let export = run.join("export");
    for file in ["model.onnx", "model.safetensors", "labels.json"] {
        assert!(export.join(file).exists(), "{file} in {}", export.display());
    }
    let labels: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(export.join("labels.json")).expect("read")).expect("json");
    assert_eq!(labels["weights"], "ema");
    assert_eq!(labels["task"], "classification");
    assert_eq!(labels["classes"], serde_json::json!(["disc", "square", "triangle"]));
    assert_eq!(labels["inputs"][0]["shape"], serde_json::json!([3, 24, 24]));
    assert_eq!(labels["normalize"]["std"], serde_json::json!([0.25, 0.25, 0.25]));
    assert_eq!(labels["outputs"][0]["shape"], serde_json::json!([3]));
    let Some(python) = common::torch_python("onnxruntime, onnx, numpy, safetensors") else { return };
    // `last.bpk` of an EMA run exports `ema.bpk` beside it.
    let last = run.join("checkpoints/last.bpk");
    let sample_dir = dir.join("sample");
    let out = sample_dir.join("model.onnx");
    let args = ["export", "every.train", "--checkpoint", last.to_str().expect("utf-8"), "--format", "onnx"];
    let printed =
        ok(&dir, &[&args[..], &["--output", out.to_str().expect("utf-8"), "--dynamic-batch", "--sample"]].concat());
    assert!(printed.contains("EMA weights of") && printed.contains("ema.bpk"), "{printed}");
    compare(&python, &export.join("model.onnx"), &sample_dir.join("sample.safetensors"));
}

#[test]
fn export_of_a_missing_checkpoint_names_it() {
    let dir = temp("missing");
    ok(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "2"]);
    std::fs::write(dir.join("every.train"), EVERY_LAYER).expect("write spec");
    let out =
        trainc(&dir, &["export", "every.train", "--checkpoint", "nope.bpk", "--format", "onnx", "--output", "m.onnx"]);
    assert!(!out.status.success());
    let t = text(&out);
    assert!(t.contains("trainc::run::checkpoint") && t.contains("nope.bpk"), "{t}");
    assert!(!dir.join("m.onnx").exists());
}

/// The same network written in PyTorch with trainc's module paths as attribute names.
const TINY_TORCH: &str = r#"
import sys, torch, torch.nn as nn, torch.nn.functional as F
from safetensors.torch import load_file
class Tiny(nn.Module):
    def __init__(self, classes):
        super().__init__()
        self.conv2d0 = nn.Conv2d(3, 8, 3, padding=1)
        self.batch_norm0 = nn.BatchNorm2d(8)
        self.conv_transpose2d0 = nn.ConvTranspose2d(8, 4, 2, stride=2, groups=2, bias=False)
        self.group_norm0 = nn.GroupNorm(2, 4)
        self.layer_norm0 = nn.LayerNorm(16)
        self.linear0 = nn.Linear(4 * 16 * 16, classes)
    def forward(self, x):
        h = F.max_pool2d(F.relu(self.batch_norm0(self.conv2d0(x))), 2)
        h = self.layer_norm0(self.group_norm0(self.conv_transpose2d0(h)))
        return self.linear0(torch.flatten(h, 1))
weights, sample = load_file(sys.argv[1]), load_file(sys.argv[2])
m = Tiny(3)
m.load_state_dict(weights, strict=True)
m.eval()
with torch.no_grad():
    got = m(sample["input.x"])
d = (got - sample["output.out"]).abs().max().item()
print(d)
assert d <= 1e-4, d
"#;

const TINY: &str = r#"
dataset shapes = image_folder("shapes") { train = "train"; val = "val" }
augment tf { resize(16, 16); normalize(imagenet) }
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {
  h = x |> conv2d(8, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)
  h = h |> conv_transpose2d(4, k = 2, stride = 2, groups = 2, bias = false) |> group_norm(groups = 2) |> layer_norm
  return h |> flatten |> linear(classes)
}
train {
  model = tiny
  data = shapes { batch = 8, augment = tf, eval_augment = tf }
  loss = cross_entropy()
  optimizer = adam(lr = 1e-2)
  epochs = 1
}
"#;

/// The safetensors export is PyTorch's layout: a PyTorch module with the same module paths
/// loads it strictly (transposed linear, batch norm statistics and `num_batches_tracked`) and
/// computes trainc's outputs.
#[test]
fn safetensors_export_loads_strictly_into_pytorch() {
    let Some(python) = common::torch_python("torch, safetensors") else { return };
    let dir = temp("safetensors");
    ok(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "8"]);
    std::fs::write(dir.join("tiny.train"), TINY).expect("write spec");
    ok(&dir, &["run", "tiny.train", "limit_batches=2", "--quiet"]);
    let last = run_dir(&dir, "tiny").join("checkpoints/last.bpk");
    let out = dir.join("st/model.safetensors");
    let (c, o) = (last.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    ok(&dir, &["export", "tiny.train", "--checkpoint", c, "--format", "safetensors", "--output", o, "--sample"]);
    let sample = out.with_file_name("sample.safetensors");
    let run = Command::new(&python)
        .env("OMP_NUM_THREADS", "1")
        .args(["-c", TINY_TORCH, o, sample.to_str().expect("utf-8")])
        .output()
        .expect("python runs");
    assert!(run.status.success(), "{}", text(&run));
}

/// torchvision's `resnet18(num_classes=3)` loads the export with `strict=True` and, in eval
/// mode, gives trainc's logits for the sample input.
const RESNET18_TORCH: &str = r#"
import sys, torch, torchvision
from safetensors.torch import load_file
weights, sample = load_file(sys.argv[1]), load_file(sys.argv[2])
m = torchvision.models.resnet18(weights=None, num_classes=3)
m.load_state_dict(weights, strict=True)
m.eval()
with torch.no_grad():
    got = m(sample["input.x"])
d = (got - sample["output.out"]).abs().max().item()
print(d)
assert d <= 1e-4, d
"#;

/// The ResNet-18 example's safetensors export has torchvision's names (`fc` for its
/// classifier): its EMA weights give torchvision's `resnet18` trainc's logits, and
/// `load(…, names = torchvision)` takes it back strictly.
#[test]
fn resnet18_example_safetensors_loads_into_torchvision() {
    let Some(python) = common::torch_python("torch, torchvision, safetensors") else { return };
    let dir = temp("torchvision");
    ok(&dir, &["gen-data", "shapes-folder", "data/shapes_folder", "--per-class", "8"]);
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/resnet_folder.train");
    std::fs::copy(example, dir.join("resnet_folder.train")).expect("copy example");
    // Two steps, so the batch norm statistics and the EMA are not their initial values.
    ok(&dir, &["run", "resnet_folder.train", "epochs=1", "limit_batches=2", "--quiet"]);
    let last = run_dir(&dir, "resnet").join("checkpoints/last.bpk");
    let out = dir.join("st/resnet18.safetensors");
    let (c, o) = (last.to_str().expect("utf-8"), out.to_str().expect("utf-8"));
    let printed = ok(
        &dir,
        &["export", "resnet_folder.train", "--checkpoint", c, "--format", "safetensors", "--output", o, "--sample"],
    );
    assert!(printed.contains("EMA weights"), "{printed}");
    let sample = out.with_file_name("sample.safetensors");
    let run = Command::new(&python)
        .env("OMP_NUM_THREADS", "1")
        .args(["-c", RESNET18_TORCH, o, sample.to_str().expect("utf-8")])
        .output()
        .expect("python runs");
    assert!(run.status.success(), "{}", text(&run));
    let spec = std::fs::read_to_string(dir.join("resnet_folder.train")).expect("read");
    let load = "clip_grad = 5.0\n  weights = load(\"st/resnet18.safetensors\", names = torchvision)";
    std::fs::write(dir.join("back.train"), spec.replace("clip_grad = 5.0", load)).expect("write");
    ok(&dir, &["check", "back.train"]);
}
