//! The `trainc` binary as a user runs it.
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use std::process::{Command, Output};

fn trainc(args: &[&str]) -> Output {
    Command::new(common::bin()).current_dir(env!("CARGO_MANIFEST_DIR")).args(args).output().expect("trainc runs")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn an_override_is_checked_like_source_and_points_at_itself() {
    let out = trainc(&["check", "examples/fashion_mnist.train", "optimizer.lr=-1", "--skip-data"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("trainc::arg::range"), "{err}");
    assert!(err.contains("<command line>:1:14"), "the report must point into the override: {err}");
    assert!(err.contains("optimizer.lr=-1"), "{err}");
    assert!(err.contains("`lr` of `adamw` must be greater than 0, found -1"), "{err}");
}

#[test]
fn overrides_and_profiles_with_typos_get_suggestions() {
    let out = trainc(&[
        "check",
        "examples/fashion_mnist.train",
        "optimizer.lrr=1",
        "epoch=3",
        "--profile",
        "fsat",
        "--skip-data",
    ]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for expected in ["did you mean `lr`?", "did you mean `epochs`?", "did you mean `fast`?"] {
        assert!(err.contains(expected), "missing {expected:?} in {err}");
    }
}

#[test]
fn a_valid_override_changes_the_summary() {
    let out = trainc(&["check", "examples/fashion_mnist.train", "epochs=7", "data.batch=128", "--skip-data"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("for 7 epoch(s), batch 128"), "{text}");
}

#[test]
fn several_unrelated_mistakes_are_reported_in_one_run() {
    let out = trainc(&["check", "tests/ui/multi_several_mistakes.train", "--skip-data"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    for code in ["trainc::key::unknown", "trainc::arg::unknown", "trainc::shape::broadcast", "trainc::loss::mismatch"] {
        assert!(err.contains(code), "missing {code} in {err}");
    }
}

#[test]
fn json_output_has_positions_codes_and_help() {
    let out = trainc(&["check", "examples/fashion_mnist.train", "optimizer.lr=-1", "--skip-data", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let first = &json[0];
    assert_eq!(first["code"], "trainc::arg::range");
    assert_eq!(first["file"], "<command line>");
    assert_eq!(first["line"], 1);
    assert_eq!(first["column"], 14);
    assert!(first["help"].as_str().is_some_and(|h| h.contains("greater than 0")));
}

#[test]
fn json_names_the_users_file_for_an_error_inside_a_stdlib_block() {
    let out =
        trainc(&["check", "tests/ui/shape_mismatch_inside_stdlib_block.train", "--skip-data", "--format", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("valid JSON");
    let first = &json[0];
    assert_eq!(first["code"], "trainc::shape::mismatch");
    assert_eq!(first["file"], "tests/ui/shape_mismatch_inside_stdlib_block.train");
    assert_eq!((first["line"].as_u64(), first["column"].as_u64()), (Some(7), Some(10)));
    assert_eq!(first["related"][0]["file"], "std/segmentation");
    assert_eq!(first["related"][0]["line"], 15);
}

#[test]
fn memory_estimate_is_in_the_summary_and_a_small_device_is_refused() {
    let out = trainc(&["check", "examples/fashion_mnist.train", "--skip-data"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("memory    ≈ 71.9 MiB per training step at batch 64"), "{text}");
    let out = trainc(&["check", "examples/fashion_mnist.train", "--skip-data", "--memory", "64MiB"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).contains("trainc::train::memory"), "{}", stderr(&out));
}

/// Data parallelism cuts the batch: each device holds the whole model but a slice's activations,
/// so the estimate is per device, and a batch that fits only when split is not refused.
#[test]
fn the_memory_estimate_is_per_device_when_a_batch_is_split() {
    let split = ["check", "examples/fashion_mnist.train", "--skip-data", "--device", "flex,flex"];
    let out = trainc(&split);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("per training step at batch 32 per device (2 devices)"), "{text}");
    let whole: f64 = mib_before("per training step at batch 64", &trainc(&split[..3]));
    let half: f64 = mib_before("per training step at batch 32", &out);
    assert!(half < whole && half > whole / 2.0, "{half} {whole}");
    let budget = format!("{}MiB", (half + whole) / 2.0);
    let fits = trainc(&[&split[..], &["--memory", &budget]].concat());
    assert!(fits.status.success(), "{}", stderr(&fits));
    let whole_batch = trainc(&[&split[..3], &["--memory", &budget]].concat());
    assert!(stderr(&whole_batch).contains("trainc::train::memory"), "{}", stderr(&whole_batch));
}

/// The `≈ N MiB` figure of the summary line that contains `what`.
fn mib_before(what: &str, out: &std::process::Output) -> f64 {
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().find(|l| l.contains(what)).unwrap_or_else(|| panic!("no `{what}` in {text}"));
    let figure = line.split('≈').nth(1).and_then(|r| r.split_whitespace().next());
    figure.and_then(|f| f.parse().ok()).unwrap_or_else(|| panic!("no figure in {line}"))
}

#[test]
fn shapes_table_lists_every_node() {
    let out = trainc(&["check", "examples/fashion_mnist.train", "--skip-data", "--shapes"]);
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("maxpool0  maxpool  [B, 64, 12, 12]"), "{text}");
    assert!(text.contains("1,199,882 parameters"), "{text}");
}

#[test]
fn a_missing_file_is_an_error_not_a_panic() {
    let out = trainc(&["check", "does/not/exist.train"]);
    assert_eq!(out.status.code(), Some(1));
    let err = stderr(&out);
    assert!(err.contains("trainc::resolve::file_not_found") && !err.contains("panicked"), "{err}");
}
