//! Strong training recipes end to end through the `trainc` binary: RandAugment, TrivialAugment,
//! resized crops, `one_of`, mixup and cutmix, RMSprop, Lion and LAMB, and the exponential,
//! polynomial and plateau schedules, on generated shapes.
#![cfg(feature = "train")]
// Tests read and write their own files; the front-end rule of clippy.toml is not theirs.
#![allow(clippy::disallowed_methods)]

mod common;

use common::{text, trainc};

use std::path::{Path, PathBuf};

/// A project of generated shapes training `tiny` with the given pipeline and `train` settings.
fn project(name: &str, augment: &str, settings: &str) -> common::Scratch {
    let dir = common::scratch(&format!("recipes-{name}"));
    let out = trainc(&dir, &["gen-data", "shapes-folder", "shapes", "--per-class", "24", "--seed", "1"]);
    assert!(out.status.success(), "{}", text(&out));
    let spec = format!(
        r#"
dataset shapes = image_folder("shapes") {{ train = "train"; val = "val" }}
augment tf {{ {augment}; normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
augment ev {{ resize(16, 16); normalize(mean = [0.5, 0.5, 0.5], std = [0.25, 0.25, 0.25]) }}
model tiny(x: Image[B, 3, 16, 16]) -> Logits[B, classes] {{
  h = x |> conv2d(8, k = 3, padding = 1) |> batch_norm |> relu |> maxpool(2)
  return h |> flatten |> linear(classes)
}}
train {{
  model = tiny
  data = shapes {{ batch = 16, augment = tf, eval_augment = ev, workers = 2 }}
  loss = cross_entropy(label_smoothing = 0.1)
  epochs = 4
  seed = 3
  {settings}
}}
"#
    );
    std::fs::write(dir.join("t.train"), spec).expect("write spec");
    dir
}

fn run(dir: &Path) -> PathBuf {
    let out = trainc(dir, &["run", "t.train", "--quiet"]);
    assert!(out.status.success(), "{}", text(&out));
    let model = std::fs::read_dir(dir.join("runs")).expect("runs").flatten().next().expect("model dir").path();
    std::fs::read_dir(model).expect("run dir").flatten().next().expect("a run").path()
}

/// The `lr` and `train_loss` of each epoch row of `metrics.csv`.
fn epochs(run: &Path) -> Vec<(f64, f64)> {
    let text = std::fs::read_to_string(run.join("metrics.csv")).expect("metrics.csv");
    let rows: Vec<Vec<&str>> = text.lines().map(|l| l.split(',').collect()).collect();
    let col = |name: &str| rows[0].iter().position(|h| *h == name).expect("column");
    let (lr, loss, rate) = (col("lr"), col("train_loss"), col("samples_per_s"));
    rows[1..]
        .iter()
        .filter(|r| !r[rate].is_empty())
        .map(|r| (r[lr].parse().expect("lr"), r[loss].parse().expect("loss")))
        .collect()
}

/// RandAugment, a resized crop and `one_of` per image, mixup or cutmix per batch, RMSprop under
/// a plateau schedule: it trains, and the plateau's state is in `state.json`.
#[test]
fn rand_augment_mixup_cutmix_rmsprop_and_plateau_train() {
    let dir = project(
        "rand",
        "random_resized_crop(16, scale = [0.5, 1.0]); rand_augment(n = 2, magnitude = 9); one_of([hflip(p = 1.0), gaussian_blur(p = 1.0), grayscale(p = 1.0)])",
        "optimizer = rmsprop(lr = 3e-3, alpha = 0.9, momentum = 0.9, eps = 1e-3)
  schedule = plateau(val.loss, factor = 0.5, patience = 0)
  mix = [mixup(alpha = 0.2), cutmix(alpha = 1.0)]",
    );
    let run = run(&dir);
    let rows = epochs(&run);
    assert_eq!(rows.len(), 4);
    assert!(rows.iter().all(|(lr, loss)| *lr <= 3e-3 + 1e-12 && loss.is_finite()), "{rows:?}");
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("state.json")).expect("state")).expect("json");
    let factor = state["plateau"]["factor"].as_f64().expect("a plateau factor");
    assert_eq!(state["plateau"]["monitor"], "val.loss");
    // Each epoch's rate is the base times the factor reached before it.
    assert!((rows[0].0 - 3e-3).abs() < 1e-12 && factor <= 1.0, "{rows:?}, factor {factor}");
}

/// TrivialAugment with Lion under an exponential decay, and LAMB under a polynomial one: the
/// rates follow their schedules and the loss falls.
#[test]
fn trivial_augment_lion_exponential_and_lamb_polynomial_train() {
    let dir = project(
        "trivial",
        "resize(16, 16); trivial_augment(); random_affine(degrees = 10, translate = 0.1, scale = [0.9, 1.1], p = 0.5)",
        "optimizer = lion(lr = 3e-4, weight_decay = 0.1)\n  schedule = exponential(gamma = 0.5)",
    );
    let rows = epochs(&run(&dir));
    let rates: Vec<f64> = rows.iter().map(|r| r.0).collect();
    for (i, lr) in rates.iter().enumerate() {
        assert!((lr - 3e-4 * 0.5f64.powi(i as i32)).abs() < 1e-10, "{rates:?}");
    }
    let dir = project(
        "lamb",
        "resize(16, 16); hflip(p = 0.5)",
        "optimizer = lamb(lr = 1e-2)\n  schedule = polynomial(power = 2.0)",
    );
    let rows = epochs(&run(&dir));
    assert!(rows.windows(2).all(|w| w[1].0 < w[0].0), "{rows:?}");
    assert!(rows[3].1 < rows[0].1, "LAMB: the loss did not fall: {rows:?}");
}
