//! `train { precision = … }`: 16-bit runs train, `check` knows which device runs which precision,
//! and the memory estimate follows the precision.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::Path;

use common::{text, trainc};
use trainc::frontend::{self, Options};
use trainc::host::FsHost;

/// `train_loss` of each epoch, from the run's `metrics.csv` (the rows with `samples_per_s`).
fn epoch_losses(dir: &Path) -> Vec<f64> {
    let runs = dir.join("runs/tiny");
    let run = std::fs::read_dir(&runs).expect("runs/tiny").flatten().next().expect("one run").path();
    let csv = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let rows: Vec<Vec<&str>> = csv.lines().map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rows[0].iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name}"));
    let (loss, rate) = (col("train_loss"), col("samples_per_s"));
    rows[1..].iter().filter(|r| !r[rate].is_empty()).map(|r| r[loss].parse().expect("a number")).collect()
}

fn trains_in(precision: &str) {
    let dir = common::tiny_project(&format!("precision-{precision}"), "12", &format!("precision = {precision}"));
    let out = trainc(&dir, &["run", "t.train", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let loss = epoch_losses(&dir);
    assert_eq!(loss.len(), 2, "{loss:?}");
    assert!(loss[1] < loss[0], "{precision}: the training loss did not fall: {loss:?}");
}

#[test]
fn a_bf16_run_trains() {
    trains_in("bf16");
}

/// With the loss scaler (its first steps at 2^16 may be skipped).
#[test]
fn an_f16_run_trains_on_flex() {
    trains_in("f16");
}

#[test]
fn check_refuses_f16_on_libtorch_cpu_and_the_summary_names_the_precision() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let args = ["check", "examples/fashion_mnist.train", "--skip-data", "precision=f16", "--device", "tch:cpu"];
    let out = trainc(root, &args);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("trainc::train::precision"), "{}", text(&out));
    let out =
        trainc(root, &["check", "examples/fashion_mnist.train", "--skip-data", "precision=f16", "--device", "flex"]);
    assert!(out.status.success(), "{}", text(&out));
    let out = trainc(root, &["check", "examples/fashion_mnist.train", "--skip-data", "precision=bf16"]);
    assert!(text(&out).contains("per training step at batch 64 in bf16"), "{}", text(&out));
}

#[test]
fn the_memory_estimate_keeps_weights_in_f32_and_halves_16_bit_activations() {
    let estimate = |precision: &str| {
        let mut options = Options::default();
        options.check.skip_data = true;
        options.resolve.overrides = vec![format!("precision={precision}")];
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/fashion_mnist.train");
        let outcome = frontend::check_file(&FsHost, &path, &options);
        assert!(!outcome.has_errors(), "{}", outcome.render(false));
        outcome.checked.memory.expect("an estimate")
    };
    let (f32, bf16) = (estimate("f32"), estimate("bf16"));
    assert_eq!((f32.parameters, f32.gradients, f32.optimizer), (bf16.parameters, bf16.gradients, bf16.optimizer));
    // Every node of this CNN follows a conv or linear layer except the input: about half, plus
    // the 16-bit copies of the weights.
    let half = f32.activations / 2;
    assert!(bf16.activations > half && bf16.activations < half + f32.parameters, "{f32:?} vs {bf16:?}");
}
