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
