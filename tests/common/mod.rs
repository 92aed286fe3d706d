//! What the integration tests share. Each test binary uses some of it.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The `trainc` binary under test: `TRAINC_BIN` when set (a copy that a parallel build in a
/// shared target directory cannot overwrite mid-test), otherwise the one cargo built.
pub fn bin() -> PathBuf {
    std::env::var_os("TRAINC_BIN").map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_trainc")), PathBuf::from)
}

/// Runs `trainc ARGS` in `dir`.
pub fn trainc(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin()).current_dir(dir).args(args).output().expect("trainc runs")
}

pub use trainc::scratch::{Scratch, scratch};

/// stdout then stderr, for assertion messages.
pub fn text(o: &Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// A python that imports `modules` (`"torch, torchvision"`): `TRAINC_TORCH_PYTHON`, by default
/// the venv CI makes. `None`, with a SKIP line, when it is missing outside CI; under CI
/// (`CI` set) a missing reference is a failure, never a skip.
pub fn torch_python(modules: &str) -> Option<String> {
    let default = format!("{}/.cache/trainc-torch-venv/bin/python", std::env::var("HOME").unwrap_or_default());
    let python = std::env::var("TRAINC_TORCH_PYTHON").unwrap_or(default);
    let probe = Command::new(&python).args(["-c", &format!("import {modules}")]).output();
    if probe.is_ok_and(|o| o.status.success()) {
        return Some(python);
    }
    assert!(std::env::var_os("CI").is_none(), "CI must provide {modules} at {python}");
    eprintln!("SKIP: no {modules} at {python}; set TRAINC_TORCH_PYTHON to a python that has them");
    None
}

/// A UI file's options line (`// args: --skip-data --profile P --memory 8GiB key=value`), as `check` takes them.
pub fn ui_options(text: &str) -> trainc::frontend::Options {
    let mut options = trainc::frontend::Options::default();
    if let Some(args) = text.lines().next().and_then(|l| l.strip_prefix("// args:")) {
        let mut words = args.split_whitespace();
        while let Some(word) = words.next() {
            match word {
                "--skip-data" => options.check.skip_data = true,
                "--profile" => options.resolve.profile = words.next().map(String::from),
                "--device" => {
                    options.check.device = words.next().and_then(trainc::ir::DeviceKind::parse);
                }
                "--memory" => {
                    let size = words.next().expect("--memory takes a size");
                    let bytes = trainc::check::memory::parse_bytes(size).expect("a valid size");
                    options.check.memory =
                        Some(trainc::check::memory::MemoryBudget { bytes, source: "`--memory`".into() });
                }
                other => options.resolve.overrides.push(other.to_string()),
            }
        }
    }
    options
}

/// `trainc ARGS` in `dir`, with the data-manifest hash cache inside `dir` (runs write one).
pub fn trainc_cached(dir: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .current_dir(dir)
        .env("TRAINC_CACHE_DIR", dir.join(".cache"))
        .args(args)
        .output()
        .expect("trainc runs")
}

/// A fresh project in the temp dir: generated shapes (`per_class` images of each) and `t.train`,
/// a tiny CNN trained 2 epochs; `extra` is one more `train` line.
pub fn tiny_project(name: &str, per_class: &str, extra: &str) -> Scratch {
    let dir = scratch(name);
    let out = trainc_cached(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", per_class, "--seed", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let spec = format!(
        r#"dataset shapes = image_folder("shapes") {{ train = "train"; val = "val" }}
augment ev {{ resize(16, 16); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {{
  h = x |> conv2d(4, k = 3, padding = 1) |> relu |> maxpool(2)
  return h |> flatten |> linear(classes)
}}
train {{
  model     = tiny
  data      = shapes {{ batch = 8, augment = ev, eval_augment = ev, workers = 1 }}
  loss      = cross_entropy()
  optimizer = adam(lr = 3e-3)
  epochs    = 2
  metrics   = [accuracy, confusion_matrix]
  {extra}
}}
"#
    );
    std::fs::write(dir.join("t.train"), spec).expect("write spec");
    dir
}
