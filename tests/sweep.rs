//! `trainc sweep` through the binary, on generated data: a 2×2 grid with `--jobs 2`, a 6-trial
//! TPE sweep with pruning, a trial killed with SIGKILL then `--resume`, and a value that does
//! not check (the sweep refuses to start and points at the value).
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{bin, text, trainc};

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// A temporary project with generated shapes and a tiny CNN; `sweep` is appended to the file.
fn project(name: &str, sweep: &str) -> common::Scratch {
    let dir = common::scratch(&format!("sweep-{name}"));
    let out = trainc(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "8", "--seed", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let spec = format!(
        r#"dataset shapes = image_folder("shapes") {{ train = "train"; val = "val" }}
augment ev {{ resize(16, 16); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {{
  h = x |> conv2d(8, k = 3, padding = 1) |> relu |> maxpool(2)
  return h |> flatten |> linear(classes)
}}
train {{
  model     = tiny
  data      = shapes {{ batch = 8, augment = ev, eval_augment = ev }}
  loss      = cross_entropy()
  optimizer = adam(lr = 3e-3)
  epochs    = 4
  metrics   = [accuracy]
  seed      = 3
}}
{sweep}"#
    );
    std::fs::write(dir.join("t.train"), spec).expect("write spec");
    dir
}

/// The one sweep directory under `sweeps/tiny/`.
fn sweep_dir(project: &Path) -> PathBuf {
    let root = project.join("sweeps").join("tiny");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root).expect("sweeps/tiny").flatten().map(|e| e.path()).collect();
    dirs.sort();
    dirs.pop().expect("a sweep directory")
}

/// `sweep.csv` as rows of cells (no cell of these tests holds a comma), header first.
fn csv(dir: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(dir.join("sweep.csv"))
        .expect("sweep.csv")
        .lines()
        .map(|l| l.split(',').map(String::from).collect())
        .collect()
}

fn column<'a>(rows: &'a [Vec<String>], name: &str) -> Vec<&'a str> {
    let i = rows[0].iter().position(|h| h == name).unwrap_or_else(|| panic!("no column {name}: {:?}", rows[0]));
    rows[1..].iter().map(|r| r[i].as_str()).collect()
}

#[test]
fn a_two_by_two_grid_with_two_jobs() {
    let dir = project("grid", "");
    let out = trainc(&dir, &["sweep", "t.train", "optimizer.lr=1e-3,3e-3", "data.batch=8,16", "--jobs", "2"]);
    assert!(out.status.success(), "{}", text(&out));
    let log = text(&out);
    assert!(log.contains("4 trial(s), 2 at a time"), "{log}");
    let sweep = sweep_dir(&dir);
    let rows = csv(&sweep);
    assert_eq!(rows.len(), 5, "a row per trial: {rows:?}");
    assert!(column(&rows, "status").iter().all(|s| *s == "completed"), "{rows:?}");
    let mut points: Vec<(&str, &str)> =
        column(&rows, "optimizer.lr").into_iter().zip(column(&rows, "data.batch")).collect();
    points.sort();
    assert_eq!(points, [("1e-3", "16"), ("1e-3", "8"), ("3e-3", "16"), ("3e-3", "8")]);
    for (objective, loss) in column(&rows, "objective").iter().zip(column(&rows, "val.loss")) {
        assert_eq!(*objective, loss, "the default objective is val.loss");
    }
    // The summary is sorted by the objective (a loss: smallest first) and ends with the best run.
    let stdout = String::from_utf8_lossy(&out.stdout);
    let losses: Vec<f64> = stdout
        .lines()
        .skip(1)
        .take(4)
        .map(|l| l.split_whitespace().nth(5).expect("objective cell").parse().expect("a number"))
        .collect();
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "{stdout}");
    let best = std::fs::read_to_string(sweep.join("best.txt")).expect("best.txt");
    assert!(
        best.starts_with("trainc run ") && best.contains("optimizer.lr=") && best.contains("data.batch="),
        "{best}"
    );
    for plot in ["objective.svg", "objective-optimizer_lr.svg", "objective-data_batch.svg", "parallel.svg"] {
        let svg = std::fs::read_to_string(sweep.join("plots").join(plot)).expect(plot);
        assert!(svg.starts_with("<svg"), "{plot}");
    }
    let run_dir = sweep.join(column(&rows, "run_dir")[0]);
    assert!(run_dir.join("summary.json").exists());
}

#[test]
fn a_six_trial_tpe_sweep_with_pruning_from_the_file() {
    let block = "sweep(trials = 6, sampler = tpe, objective = val.loss, prune = median, jobs = 2) {\n  optimizer.lr = log(1e-5, 3e-1)\n}\n";
    let dir = project("tpe", block);
    let fmt = trainc(&dir, &["fmt", "--check", "t.train"]);
    assert!(fmt.status.success(), "the sweep block is canonical: {}", text(&fmt));
    let out = trainc(&dir, &["sweep", "t.train", "epochs=12"]);
    assert!(out.status.success(), "{}", text(&out));
    let sweep = sweep_dir(&dir);
    let rows = csv(&sweep);
    assert_eq!(rows.len(), 7, "{rows:?}");
    let statuses = column(&rows, "status");
    assert!(statuses.iter().all(|s| *s == "completed" || *s == "pruned"), "{rows:?}");
    let lrs: Vec<f64> = column(&rows, "optimizer.lr").iter().map(|v| v.parse().expect("a number")).collect();
    assert!(lrs.iter().all(|lr| (1e-5..=3e-1).contains(lr)), "{lrs:?}");
    let pruned: Vec<usize> = (0..6).filter(|i| statuses[*i] == "pruned").collect();
    assert!(!pruned.is_empty(), "the median pruner stopped no trial: {}", text(&out));
    for i in pruned {
        let at: usize = column(&rows, "pruned_at")[i].parse().expect("an epoch");
        let run = sweep.join(column(&rows, "run_dir")[i]);
        let epochs = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
        let header: Vec<&str> = epochs.lines().next().unwrap_or_default().split(',').collect();
        let rate = header.iter().position(|h| *h == "samples_per_s").expect("column");
        let done = epochs.lines().skip(1).filter(|l| l.split(',').nth(rate).is_some_and(|c| !c.is_empty())).count();
        assert!(at < 12 && done < 12, "trial {i} pruned at {at} still ran {done} epochs");
        assert!(run.join("summary.json").exists(), "a pruned trial ends gracefully");
    }
}

#[test]
fn a_trial_killed_with_sigkill_is_failed_and_resume_finishes_the_sweep() {
    let dir = project("kill", "");
    let mut sweep = Command::new(bin())
        .current_dir(&dir)
        .args(["sweep", "t.train", "optimizer.lr=1e-3,3e-3", "epochs=240"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("sweep starts");
    // Kill trial 0 once it has saved an epoch's state.
    let start = Instant::now();
    let trial = loop {
        assert!(start.elapsed() < Duration::from_secs(60), "trial 0 never saved a state");
        if let Some(dir) =
            std::fs::read_dir(dir.join("sweeps/tiny")).ok().and_then(|mut d| d.next()).and_then(|e| e.ok())
        {
            let folder = dir.path().join("trials/000");
            let pid = std::fs::read_to_string(folder.join("pid")).unwrap_or_default();
            let state = walk(&folder).into_iter().any(|p| p.ends_with("state.json"));
            if state && !pid.trim().is_empty() {
                break (pid.trim().to_string(), dir.path());
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let killed = Command::new("kill").args(["-KILL", &trial.0]).status().expect("kill runs");
    assert!(killed.success());
    let status = sweep.wait().expect("sweep ends");
    assert!(!status.success(), "a failed trial fails the sweep");
    let rows = csv(&trial.1);
    assert_eq!(column(&rows, "status"), ["failed", "completed"], "{rows:?}");
    assert!(column(&rows, "message")[0].contains("SIGKILL"), "{rows:?}");

    let out = trainc(&dir, &["sweep", "--resume", trial.1.to_str().expect("utf-8")]);
    assert!(out.status.success(), "{}", text(&out));
    let rows = csv(&trial.1);
    assert_eq!(column(&rows, "status"), ["completed", "completed"], "{rows:?}");
    // The killed trial continued from its state instead of starting over.
    let log = std::fs::read_to_string(trial.1.join("trials/000/log.txt")).expect("log");
    let runs: Vec<PathBuf> =
        walk(&trial.1.join("trials/000")).into_iter().filter(|p| p.ends_with("run.json")).collect();
    assert_eq!(runs.len(), 1, "one run directory, resumed: {runs:?}\n{log}");
}

fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

/// The diagnostic with the temporary folder's path taken out.
fn stderr(out: &std::process::Output, dir: &Path) -> String {
    String::from_utf8_lossy(&out.stderr).replace(&dir.display().to_string(), "<dir>")
}

#[test]
fn an_invalid_value_refuses_the_sweep_and_points_at_the_value() {
    let dir = project("invalid", "sweep(sampler = grid) {\n  data.batch = [8, 0]\n}\n");
    let out = trainc(&dir, &["sweep", "t.train", "optimizer.lr=1e-3,-1,3e-3"]);
    assert!(!out.status.success());
    assert!(!dir.join("sweeps").exists(), "no trial ran, no sweep directory: {}", text(&out));
    insta::assert_snapshot!("sweep_invalid_values", stderr(&out, &dir));
}

#[test]
fn a_range_on_the_grid_and_a_bad_bound_are_refused() {
    let dir = project("range", "");
    let out = trainc(&dir, &["sweep", "t.train", "optimizer.lr=log(1e-4,1e-1)", "--sampler", "grid"]);
    assert!(!out.status.success());
    let err = stderr(&out, &dir);
    assert!(err.contains("trainc::sweep::grid_range"), "{err}");
    let out = trainc(&dir, &["sweep", "t.train", "optimizer.lr=log(0,1e-1)"]);
    let err = stderr(&out, &dir);
    assert!(err.contains("trainc::sweep::domain") && err.contains("above 0"), "{err}");
    assert!(!dir.join("sweeps").exists());
}
