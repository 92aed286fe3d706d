//! `trainc watch` end to end: the real binary on generated data, edited through real file-system
//! events (a rename over the file like Vim, a write in place like VS Code). Each test polls the
//! run directory (`edits.jsonl`, `metrics.csv`) instead of sleeping fixed times.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use common::trainc;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const MODEL: &str = "h = x |> conv2d(8, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)\n  return h |> flatten |> linear(classes)";

/// A stronger CNN (two conv blocks and global average pooling, 32×32 input) that reaches
/// validation accuracy near 1 on the generated shapes within a few epochs.
const STRONG_MODEL: &str = "h = x |> conv2d(16, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)
  h = h |> conv2d(32, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)
  return h |> adaptive_avgpool |> flatten |> linear(classes)";

/// A project with generated shapes (`per_class` images per class and split) and a tiny CNN.
fn project(name: &str, per_class: usize, train: &str) -> common::Scratch {
    project_with(name, per_class, &spec(train))
}

/// A project with generated shapes (`per_class` images per class and split) and the given spec.
fn project_with(name: &str, per_class: usize, spec: &str) -> common::Scratch {
    let dir = common::scratch(&format!("watch-{name}"));
    let per = per_class.to_string();
    let out = trainc(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", &per, "--seed", "1"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("t.train"), spec).expect("write spec");
    dir
}

fn spec(train: &str) -> String {
    spec_for(16, MODEL, 8, train)
}

/// The spec with `size`×`size` input, the model body `model` and the batch size `batch`.
fn spec_for(size: usize, model: &str, batch: usize, train: &str) -> String {
    format!(
        r#"dataset shapes = image_folder("shapes") {{ train = "train"; val = "val" }}
augment tf {{ resize({size}, {size}); hflip(p = 0.5); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
augment ev {{ resize({size}, {size}); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
model tiny(x: Image[B, 3, {size}, {size}]) -> Logits[B, classes] {{
  {model}
}}
train {{
  model = tiny
  data = shapes {{ batch = {batch}, augment = tf, eval_augment = ev, workers = 1 }}
  loss = cross_entropy()
  optimizer = adam(lr = 3e-3)
  metrics = [accuracy]
  seed = 3
  log_every = 1
  {train}
}}
"#
    )
}

/// A running `trainc watch`, its stderr going to `err.txt`.
struct Watch {
    child: Child,
    dir: PathBuf,
}

impl Watch {
    fn start(dir: &Path, args: &[&str]) -> Watch {
        let err = std::fs::File::create(dir.join("err.txt")).expect("err.txt");
        let child = Command::new(common::bin())
            .current_dir(dir)
            .arg("watch")
            .arg("t.train")
            .args(args)
            .stdout(Stdio::null())
            .stderr(err)
            .spawn()
            .expect("trainc watch starts");
        Watch { child, dir: dir.to_path_buf() }
    }

    fn stderr(&self) -> String {
        std::fs::read_to_string(self.dir.join("err.txt")).unwrap_or_default()
    }

    /// Waits for `what` to hold, failing with the output after `secs`.
    fn wait(&mut self, secs: u64, label: &str, mut what: impl FnMut() -> bool) {
        let end = Instant::now() + Duration::from_secs(secs);
        while !what() {
            if let Ok(Some(status)) = self.child.try_wait() {
                if what() {
                    return;
                }
                panic!("trainc exited ({status}) while waiting for {label}:\n{}", self.stderr());
            }
            assert!(Instant::now() < end, "timed out waiting for {label}:\n{}", self.stderr());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn finish(mut self, secs: u64) -> std::process::ExitStatus {
        let end = Instant::now() + Duration::from_secs(secs);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            if Instant::now() > end {
                let _ = self.child.kill();
                panic!("trainc did not finish:\n{}", self.stderr());
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn interrupt(&self) {
        let ok = Command::new("kill").args(["-INT", &self.child.id().to_string()]).status().expect("kill");
        assert!(ok.success());
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The run directory, once it exists.
fn run_dir(dir: &Path) -> Option<PathBuf> {
    let model = std::fs::read_dir(dir.join("runs")).ok()?.flatten().next()?.path();
    std::fs::read_dir(model).ok()?.flatten().map(|e| e.path()).max()
}

/// The logged steps of `metrics.csv` as `(step, epoch, lr)`.
fn steps(run: &Path) -> Vec<(usize, usize, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
    // Step rows are those without a `samples_per_s` (epoch, step, lr, train_loss, "", …).
    text.lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split(',').collect();
            if !f.get(4)?.is_empty() {
                return None;
            }
            Some((f.get(1)?.parse().ok()?, f.first()?.parse().ok()?, f.get(2)?.parse().ok()?))
        })
        .collect()
}

fn edits(run: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(run.join("edits.jsonl")).unwrap_or_default();
    text.lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

fn with_status(run: &Path, status: &str) -> Vec<Value> {
    edits(run).into_iter().filter(|e| e["status"] == status).collect()
}

fn metrics_rows(run: &Path) -> Vec<Vec<String>> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).unwrap_or_default();
    text.lines().map(|l| l.split(',').map(String::from).collect()).collect()
}

/// The column `name` of the epoch rows of `metrics.csv` (those with a `samples_per_s`; the
/// others are logged steps).
fn metric(run: &Path, name: &str) -> Vec<f64> {
    let rows = metrics_rows(run);
    let Some(i) = rows.first().and_then(|h| h.iter().position(|c| c == name)) else { return Vec::new() };
    rows[1..]
        .iter()
        .filter(|r| r.get(4).is_some_and(|c| !c.is_empty()))
        .filter_map(|r| r.get(i)?.parse().ok())
        .collect()
}

/// Writes the new text in place (truncate and write, like VS Code).
fn edit_in_place(dir: &Path, from: &str, to: &str) {
    let path = dir.join("t.train");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "`{from}` not in the file");
    std::fs::write(&path, text.replacen(from, to, 1)).expect("write");
}

/// Writes a temporary file and renames it over the original (like Vim, Helix, JetBrains).
fn edit_by_rename(dir: &Path, from: &str, to: &str) {
    let path = dir.join("t.train");
    let text = std::fs::read_to_string(&path).expect("read");
    assert!(text.contains(from), "`{from}` not in the file");
    let tmp = dir.join(".t.train.swp");
    std::fs::write(&tmp, text.replacen(from, to, 1)).expect("write");
    std::fs::rename(&tmp, &path).expect("rename");
}

/// The step of the `n`-th entry with `status`, once it is there.
fn wait_status(w: &mut Watch, run: &Path, status: &str, n: usize) -> Value {
    w.wait(60, status, || with_status(run, status).len() >= n);
    with_status(run, status)[n - 1].clone()
}

fn lr_after(run: &Path, step: usize) -> Vec<f64> {
    steps(run).into_iter().filter(|(s, _, _)| *s > step).map(|(_, _, lr)| lr).collect()
}

#[test]
fn lr_edits_by_rename_and_in_place_show_in_steps_and_edits_then_ctrl_c_stops_cleanly() {
    let dir = project("lr", 30, "epochs = 10000");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "adam(lr = 3e-3)", "adam(lr = 1e-3)");
    let applied = wait_status(&mut w, &run, "applied", 1);
    let at = applied["step"].as_u64().expect("step") as usize;
    assert_eq!(applied["changes"][0]["path"], "optimizer.lr", "{applied}");
    assert_eq!(applied["changes"][0]["when"], "live");
    w.wait(60, "steps after the edit", || lr_after(&run, at).len() > 2);
    assert!(steps(&run).iter().filter(|(s, _, _)| *s <= at).all(|(_, _, lr)| (*lr - 3e-3).abs() < 1e-12));
    assert!(lr_after(&run, at).iter().all(|lr| (lr - 1e-3).abs() < 1e-12), "{:?}", lr_after(&run, at));
    edit_in_place(&dir, "adam(lr = 1e-3)", "adam(lr = 5e-4)");
    let applied = wait_status(&mut w, &run, "applied", 2);
    let at = applied["step"].as_u64().expect("step") as usize;
    w.wait(60, "steps after the second edit", || lr_after(&run, at).len() > 2);
    assert!(lr_after(&run, at).iter().all(|lr| (lr - 5e-4).abs() < 1e-12));
    assert!(run.join("specs/2.json").exists() && run.join("specs/2.sources.json").exists());
    assert!(w.stderr().contains("optimizer.lr 0.001 → 0.0005 (live)"), "{}", w.stderr());

    w.interrupt();
    let status = w.finish(60);
    assert!(status.success(), "exit {status}");
    assert!(run.join("summary.json").exists());
    let last = run.join("checkpoints/last.bpk");
    let eval = trainc(&dir, &["eval", "t.train", "--checkpoint", last.to_str().expect("utf-8"), "--split", "val"]);
    assert!(eval.status.success(), "{}", String::from_utf8_lossy(&eval.stderr));
}

#[test]
fn a_syntax_error_then_a_shape_error_are_reported_while_training_goes_on_and_the_fix_applies() {
    let dir = project("errors", 30, "epochs = 10000");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    edit_in_place(&dir, "epochs = 10000", "epochs = 10000 +");
    let first = wait_status(&mut w, &run, "rejected", 1);
    edit_in_place(&dir, "epochs = 10000 +", "epochs = 10000");
    edit_in_place(&dir, "linear(classes)", "linear(7)");
    let second = wait_status(&mut w, &run, "rejected", 2);
    assert!(second["step"].as_u64() >= first["step"].as_u64());
    let before = steps(&run).len();
    w.wait(60, "training after the errors", || steps(&run).len() > before + 3);
    let err = w.stderr();
    assert!(err.contains("trainc::syntax"), "{err}");
    assert_eq!(err.matches("the run continues on the last good spec").count(), 2, "{err}");
    edit_by_rename(&dir, "linear(7)", "linear(classes)");
    edit_in_place(&dir, "adam(lr = 3e-3)", "adam(lr = 2e-3)");
    let fixed = wait_status(&mut w, &run, "applied", 1);
    assert_eq!(fixed["changes"][0]["path"], "optimizer.lr", "{fixed}");
}

#[test]
fn epochs_extended_during_the_first_epoch_gives_more_epochs_and_the_schedule_follows() {
    let dir = project("epochs", 400, "epochs = 2\n  schedule = cosine()");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first step", || run_dir(&dir).is_some_and(|r| !steps(&r).is_empty()));
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "epochs = 2", "epochs = 4");
    let applied = wait_status(&mut w, &run, "applied", 1);
    assert_eq!(applied["epoch"], 1, "the edit should land in epoch 1: {applied}");
    let status = w.finish(300);
    assert!(status.success());
    assert_eq!(metric(&run, "train_loss").len(), 4);
    let s = steps(&run);
    let per_epoch = s.iter().filter(|(_, e, _)| *e == 1).count();
    // Cosine over 4 epochs: half way (end of epoch 2) the rate is about half; it ends near 0.
    let mid = s[2 * per_epoch - 1].2;
    assert!((mid - 1.5e-3).abs() < 2e-4, "lr at the end of epoch 2: {mid}");
    assert!(s.last().expect("steps").2 < 1e-4, "{:?}", s.last());
}

#[test]
fn an_augmentation_and_batch_change_applies_at_the_next_epoch_boundary() {
    let dir = project("augment", 100, "epochs = 10000");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    let text = std::fs::read_to_string(dir.join("t.train")).expect("read");
    let text =
        text.replacen("hflip(p = 0.5)", "hflip(p = 0.9); vflip(p = 0.5)", 1).replacen("batch = 8", "batch = 16", 1);
    std::fs::write(dir.join("t.train"), text).expect("write");
    let applied = wait_status(&mut w, &run, "applied", 1);
    let effect = wait_status(&mut w, &run, "in_effect", 1);
    let paths = effect["paths"].to_string();
    assert!(paths.contains("data.augment") && paths.contains("data.batch"), "{effect}");
    let (at, epoch) = (applied["step"].as_u64().expect("step") as usize, effect["epoch"].as_u64().expect("epoch"));
    w.wait(60, "an epoch with the new batch size", || steps(&run).iter().any(|(_, e, _)| *e as u64 == epoch + 1));
    let s = steps(&run);
    let count = |e: u64| s.iter().filter(|(_, x, _)| *x as u64 == e).count();
    // 300 samples: 38 steps of 8 per epoch, then 19 of 16, switching exactly at the boundary.
    assert_eq!(count(epoch - 1), 38, "the epoch of the edit keeps its batch size");
    assert_eq!(count(epoch), 19, "the next one has the new one");
    assert!(s.iter().any(|(st, e, _)| *st == at && *e as u64 == epoch - 1), "applied in the epoch before");
    assert_eq!(
        effect["step"].as_u64(),
        s.iter().filter(|(_, e, _)| (*e as u64) < epoch).map(|(st, _, _)| *st as u64).max()
    );
}

#[test]
fn unfreezing_by_an_edit_applies_at_the_next_epoch_boundary() {
    let dir = project("freeze", 100, "epochs = 10000\n  freeze = [\"conv2d0\"]");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    edit_in_place(&dir, "freeze = [\"conv2d0\"]", "freeze = []");
    let applied = wait_status(&mut w, &run, "applied", 1);
    assert_eq!(applied["changes"][0]["path"], "freeze", "{applied}");
    assert_eq!(applied["changes"][0]["when"], "next_epoch", "{applied}");
    let effect = wait_status(&mut w, &run, "in_effect", 1);
    let epoch = effect["epoch"].as_u64().expect("epoch");
    let line = format!("unfroze conv2d0 at epoch {epoch}");
    w.wait(60, &line, || printed(&dir).contains(&line));
    w.interrupt();
    assert!(w.finish(60).success());
}

/// What `trainc watch` printed so far.
fn printed(dir: &Path) -> String {
    std::fs::read_to_string(dir.join("err.txt")).unwrap_or_default()
}

#[test]
fn a_layer_added_before_the_head_rebuilds_at_the_epoch_boundary_and_keeps_the_trained_weights() {
    let dir = project_with("graph", 100, &spec_for(32, STRONG_MODEL, 16, "epochs = 10000"));
    let mut w = Watch::start(&dir, &[]);
    // Two epochs in a row at 95% or more: the features are trained, not a lucky epoch.
    w.wait(120, "a trained model", || {
        run_dir(&dir).is_some_and(|r| {
            let acc = metric(&r, "val.accuracy");
            acc.len() >= 2 && acc[acc.len() - 2..].iter().all(|a| *a >= 0.95)
        })
    });
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "linear(classes)", "linear(32) |> relu |> linear(classes)");
    let rebuilt = wait_status(&mut w, &run, "rebuilt", 1);
    // conv2d0 and conv2d1 (weight, bias each) and batch_norm0 and batch_norm1 (gamma, beta,
    // running mean and variance each) are kept; linear0 changed shape and linear1 is new.
    assert_eq!(rebuilt["copied"].as_array().map(Vec::len), Some(12), "{rebuilt}");
    assert_eq!(rebuilt["fresh"].as_array().map(Vec::len), Some(4), "{rebuilt}");
    assert_eq!(rebuilt["dropped"].as_array().map(Vec::len), Some(2), "{rebuilt}");
    // Checkpoint keys follow the module path.
    let copied = rebuilt["copied"].to_string();
    for layer in ["conv2d0", "conv2d1", "batch_norm0", "batch_norm1"] {
        assert!(copied.contains(&format!("layers.{layer}.")), "{layer} not copied: {rebuilt}");
    }
    assert!(copied.contains("layers.conv2d0.Conv.weight"), "{rebuilt}");
    assert!(!copied.contains("linear"), "the head changed, it cannot be copied: {rebuilt}");
    let epochs_before = rebuilt["epoch"].as_u64().expect("epoch") as usize;
    w.wait(60, "two epochs after the rebuild", || metric(&run, "val.accuracy").len() > epochs_before + 1);
    // Chance is 1/3; on the copied features the fresh head is far above it within an epoch.
    let acc = metric(&run, "val.accuracy");
    let after = acc[epochs_before].max(acc[epochs_before + 1]);
    assert!(after > 0.75, "validation accuracy after the rebuild: {after} ({acc:?})");
    assert!(w.stderr().contains("12 weight tensor(s) copied, 4 newly initialised, 2 dropped"), "{}", w.stderr());
}

#[test]
fn a_dataset_path_edit_needs_a_restart_and_the_run_goes_on_unchanged() {
    let dir = project("dataset", 30, "epochs = 10000");
    let out = trainc(&dir, &["gen-data", "shapes-folder", "shapes2", "--per-class", "30", "--seed", "2"]);
    assert!(out.status.success());
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "image_folder(\"shapes\")", "image_folder(\"shapes2\")");
    let entry = wait_status(&mut w, &run, "needs_restart", 1);
    assert!(entry["changes"].to_string().contains("data.dataset"), "{entry}");
    let before = steps(&run).len();
    w.wait(60, "training after the edit", || steps(&run).len() > before + 5);
    assert!(w.stderr().contains("--resume"), "{}", w.stderr());
    assert!(with_status(&run, "applied").is_empty());
    assert!(!run.join("specs/1.json").exists());
}

#[test]
fn kill_9_then_resume_continues_with_the_last_applied_spec() {
    let dir = project("resume", 30, "epochs = 10000");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "a finished epoch", || run_dir(&dir).is_some_and(|r| r.join("state.json").exists()));
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "adam(lr = 3e-3)", "adam(lr = 1e-3)");
    wait_status(&mut w, &run, "applied", 1);
    edit_in_place(&dir, "adam(lr = 1e-3)", "adam(lr = 1e-3");
    wait_status(&mut w, &run, "rejected", 1);
    w.child.kill().expect("kill -9");
    let _ = w.child.wait();
    drop(w);

    let state: Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).expect("state")).expect("json");
    let resumed_at = state["step"].as_u64().expect("step") as usize;
    let mut w = Watch::start(&dir, &["--resume", run.to_str().expect("utf-8")]);
    // Rows logged after the saved state by the killed process are dropped when the resumed one
    // starts; wait for its first step before reading them.
    let log = dir.join("err.txt");
    w.wait(60, "the resumed run", || std::fs::read_to_string(&log).unwrap_or_default().contains("first training step"));
    w.wait(60, "steps after the resume", || lr_after(&run, resumed_at).len() > 3);
    assert!(lr_after(&run, resumed_at).iter().all(|lr| (lr - 1e-3).abs() < 1e-12), "{:?}", lr_after(&run, resumed_at));
    assert!(w.stderr().contains("resuming with the last applied version (specs/1.json)"), "{}", w.stderr());
    // Fixing the file (and lowering `epochs`) ends the resumed run cleanly.
    edit_in_place(&dir, "adam(lr = 1e-3\n", "adam(lr = 1e-3)\n");
    edit_in_place(&dir, "epochs = 10000", "epochs = 1");
    assert!(w.finish(120).success());
    assert_eq!(with_status(&run, "resumed").len(), 1, "{:?}", edits(&run));
}

#[test]
fn an_optimizer_kind_change_starts_a_fresh_optimizer_and_training_goes_on() {
    let dir = project("optimizer", 30, "epochs = 10000");
    let mut w = Watch::start(&dir, &[]);
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    let run = run_dir(&dir).expect("run dir");
    edit_by_rename(&dir, "adam(lr = 3e-3)", "sgd(lr = 1e-2, momentum = 0.9)");
    let applied = wait_status(&mut w, &run, "applied", 1);
    assert_eq!(applied["changes"][0]["when"], "new_optimizer", "{applied}");
    let at = applied["step"].as_u64().expect("step") as usize;
    w.wait(60, "steps with the new optimizer", || lr_after(&run, at).len() > 5);
    assert!(lr_after(&run, at).iter().all(|lr| (lr - 1e-2).abs() < 1e-12));
    assert!(w.stderr().contains("new optimizer with fresh state"), "{}", w.stderr());
}

#[test]
fn ctrl_c_stops_trainc_run_cleanly_too() {
    let dir = project("run-sigint", 30, "epochs = 10000");
    let err = std::fs::File::create(dir.join("err.txt")).expect("err.txt");
    let child = Command::new(common::bin())
        .current_dir(&dir)
        .args(["run", "t.train"])
        .stdout(Stdio::null())
        .stderr(err)
        .spawn()
        .expect("trainc run starts");
    let mut w = Watch { child, dir: dir.to_path_buf() };
    w.wait(60, "the first steps", || run_dir(&dir).is_some_and(|r| steps(&r).len() > 3));
    w.interrupt();
    let status = w.finish(60);
    assert!(status.success(), "exit {status}");
    let run = run_dir(&dir).expect("run dir");
    assert!(run.join("summary.json").exists() && run.join("checkpoints/last.bpk").exists());
}
