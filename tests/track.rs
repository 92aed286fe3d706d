//! Tracking a run: the plots drawn during training, `data_manifest.json`, `trainc runs` and
//! `trainc diff`, through the binary on generated data.
#![cfg(feature = "train")]
#![allow(clippy::disallowed_methods)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::text;

/// A project with generated shapes and a tiny CNN; its own hash cache.
fn project(name: &str) -> common::Scratch {
    common::tiny_project(&format!("track-{name}"), "12", "seed      = 1")
}

/// `trainc ARGS` in `dir`, with the hash cache inside `dir`.
fn run(dir: &Path, args: &[&str]) -> Output {
    common::trainc_cached(dir, args)
}

/// The run directories under `runs/tiny`, oldest first.
fn runs(dir: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> =
        std::fs::read_dir(dir.join("runs/tiny")).expect("runs").flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs
}

#[test]
fn plots_are_drawn_after_every_epoch_unless_turned_off() {
    let dir = project("plots");
    let out = run(&dir, &["run", "t.train", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let run_dir = runs(&dir).pop().expect("a run");
    for name in ["results.png", "confusion_matrix.png", "val_predictions.png"] {
        let img = image::open(run_dir.join("plots").join(name)).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(img.width() > 200 && img.height() > 100, "{name} is {}×{}", img.width(), img.height());
    }
    // Curves survive in `state.json` for a resumed run.
    let state = std::fs::read_to_string(run_dir.join("state.json")).expect("state");
    assert!(state.contains("\"plots\"") && state.contains("val.accuracy"), "{state}");
    let out = run(&dir, &["run", "t.train", "--quiet", "plots=false", "epochs=1"]);
    assert!(out.status.success(), "{}", text(&out));
    assert!(!runs(&dir).pop().expect("a run").join("plots").exists());
}

#[test]
fn diff_names_the_changed_learning_rate_and_data_file() {
    let dir = project("diff");
    let out = run(&dir, &["run", "t.train", "--quiet", "epochs=1"]);
    assert!(out.status.success(), "{}", text(&out));
    // One training image replaced by another of its class.
    let class = std::fs::read_dir(dir.join("shapes/train")).expect("classes").flatten().next().expect("a class").path();
    let mut images: Vec<PathBuf> = std::fs::read_dir(&class).expect("images").flatten().map(|e| e.path()).collect();
    images.sort();
    std::fs::copy(&images[1], &images[0]).expect("replace an image");
    let out = run(&dir, &["run", "t.train", "--quiet", "epochs=1", "optimizer.lr=1e-3"]);
    assert!(out.status.success(), "{}", text(&out));
    let [a, b] = <[PathBuf; 2]>::try_from(runs(&dir)).expect("two runs");

    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(b.join("data_manifest.json")).expect("manifest")).expect("json");
    let files = manifest["files"].as_array().expect("files");
    assert_eq!(files.len(), 45, "3 classes × (12 train + 3 val) images: {manifest}");
    // Only the replaced file was hashed again.
    assert_eq!(manifest["cached"], 44);

    let out = run(&dir, &["diff", a.to_str().expect("utf-8"), b.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    let shown = text(&out);
    let changed = images[0].strip_prefix(&dir).expect("inside").display().to_string();
    assert!(shown.contains("optimizer.lr: 0.003 → 0.001"), "{shown}");
    assert!(shown.contains("data: 1 file(s) differ") && shown.contains(&format!("changed: {changed}")), "{shown}");
    assert!(shown.contains("versions: same") && shown.contains("val.accuracy"), "{shown}");

    let out = run(&dir, &["runs"]);
    let listed = text(&out);
    assert!(out.status.success(), "{listed}");
    let names = [a, b].map(|r| r.strip_prefix(dir.join("runs")).expect("inside").display().to_string());
    assert!(names.iter().all(|n| listed.contains(n.as_str())), "{listed}");
    assert!(listed.lines().next().is_some_and(|h| h.contains("val.accuracy")), "{listed}");
    assert_eq!(listed.matches(" done ").count(), 2, "{listed}");
}

#[test]
fn diff_refuses_a_folder_that_is_not_a_run() {
    let dir = std::env::temp_dir();
    let out = run(&dir, &["diff", ".", "."]);
    assert!(!out.status.success());
    assert!(text(&out).contains("trainc::cli::not_a_run"), "{}", text(&out));
}
