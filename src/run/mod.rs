//! The training loop: what `trainc run` does after the front end accepted the program.
//!
//! Values a user may change while a run is going (learning rate and schedule, augmentation
//! probabilities, logging frequency, epochs, early stopping) are read at every step from one
//! [`Live`] behind a lock, so `trainc watch` can swap it between steps.

mod ema;
pub mod metrics;
pub mod rundir;
pub mod tensorboard;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::{Device, Int, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use serde::{Deserialize, Serialize};

use crate::data::{Loader, Source, open_splits};
use crate::exec::{Net, detect, loss, optim};
use crate::ir::{EarlyStopSpec, Metric, Mode, ModelGraph, Task, TrainSpec};
use ema::Ema;
use metrics::Tally;
use rundir::{RunDir, write_atomic};
use tensorboard::EventWriter;

/// When the process started, for "time to first step" (set by `main`; falls back to the first use).
pub static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// The settings a running training may have replaced between steps.
#[derive(Clone, Debug)]
pub struct Live {
    pub schedule: Vec<crate::ir::Schedule>,
    pub base_lr: f64,
    pub epochs: usize,
    pub log_every: usize,
    pub early_stop: Option<EarlyStopSpec>,
    /// Multiplies every augmentation probability.
    pub p_scale: f64,
}

impl Live {
    pub fn from_spec(spec: &TrainSpec) -> Live {
        Live {
            schedule: spec.schedule.clone(),
            base_lr: optim::base_lr(&spec.optimizer, &spec.schedule),
            epochs: spec.epochs,
            log_every: spec.log_every,
            early_stop: spec.early_stop.clone(),
            p_scale: 1.0,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Data(#[from] crate::data::DataError),
    #[error(transparent)]
    Compile(#[from] crate::exec::CompileError),
    #[error("{0}")]
    Io(#[from] std::io::Error),
    #[error("cannot load checkpoint `{path}`: {message}")]
    Checkpoint { path: PathBuf, message: String },
    #[error("the loss became {value} at step {step} (epoch {epoch}, learning rate {lr:e}); training stopped")]
    NonFinite { value: f32, step: usize, epoch: usize, lr: f64 },
    #[error("{0}")]
    Other(String),
}

/// Metrics by name, and the confusion matrix (rows: actual, columns: predicted).
pub type Evaluation = (BTreeMap<String, f64>, Vec<Vec<u64>>);

/// What survives a crash: written atomically with the `last` checkpoint.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct State {
    pub epochs_done: usize,
    pub step: usize,
    /// (score, epoch, file) of the kept best checkpoints.
    pub best: Vec<(f64, usize, String)>,
    pub early_best: Option<f64>,
    pub early_bad: usize,
}

pub struct Trainer {
    pub spec: TrainSpec,
    pub graph: ModelGraph,
    pub device: Device,
    pub live: Arc<RwLock<Live>>,
    pub run: RunDir,
    pub quiet: bool,
    /// Read the loss back to the host every step (CPU backends, where it costs nothing). On a GPU
    /// each read waits for the queue to drain, so losses stay on the device and are read every
    /// `log_every` steps and at the end of an epoch; a NaN is then reported at the read after it.
    pub read_loss_every_step: bool,
}

/// What a batch's forward pass produced, besides its loss.
// One lives per batch, so the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Outputs {
    /// Class logits, one row per sample (or per pixel for segmentation), and the labels.
    Rows { logits: Tensor<2>, labels: Tensor<1, Int> },
    /// CenterNet heads, the image size and the ground-truth boxes.
    Heads { heads: detect::Heads, image: (usize, usize), boxes: Vec<Vec<crate::data::BoxLabel>> },
}

/// Runs the model on a batch and computes the loss the program declares, for any task.
fn forward_loss(spec: &TrainSpec, net: &Net, batch: crate::data::Batch, device: &Device) -> (Tensor<1>, Outputs) {
    let n = batch.y.len();
    let [_, _, image_h, image_w] = batch.shape;
    let x = Tensor::from_data(TensorData::new(batch.x, batch.shape), device);
    let out = net.forward(vec![x]);
    match spec.data.dataset.task {
        Task::Detection => {
            let heads = detect::Heads::from_outputs(out).expect("the checker requires 4-D heat, size and offset");
            let [_, classes, h, w] = heads.heat.dims();
            let targets = detect::Targets::new(&batch.boxes, classes, (image_h, image_w), (h, w));
            let loss = spec
                .loss
                .iter()
                .map(|term| detect::centernet_loss(&term.loss, &heads, &targets, device) * term.weight)
                .reduce(|a, b| a + b)
                .unwrap_or_else(|| Tensor::zeros([1], device));
            (loss, Outputs::Heads { heads, image: (image_h, image_w), boxes: batch.boxes })
        }
        task => {
            let labels = Tensor::<1, Int>::from_data(TensorData::new(batch.y, [n]), device);
            let out = out.into_iter().next().expect("a model has an output").1;
            // Segmentation: `[B, C, H, W]` logits become one row per pixel, like the masks.
            let logits = match (task, out) {
                (Task::Segmentation, crate::exec::Act::D4(t)) => loss::pixels(t),
                (_, other) => other.d2(),
            };
            let loss = loss::classification(&spec.loss, logits.clone(), labels.clone(), device);
            (loss, Outputs::Rows { logits, labels })
        }
    }
}

/// A tensor that could not be read back to the host.
fn read_error(e: impl std::fmt::Debug) -> RunError {
    RunError::Other(format!("{e:?}"))
}

fn better(mode: Mode, a: f64, b: f64) -> bool {
    match mode {
        Mode::Max => a > b,
        Mode::Min => a < b,
    }
}

impl Trainer {
    fn loader(&self, source: Arc<dyn Source>, train: bool) -> Loader {
        let data = &self.spec.data;
        Loader {
            source,
            steps: Arc::new(if train { data.augment.clone() } else { data.eval_augment.clone() }),
            batch: data.batch,
            workers: data.workers,
            seed: self.spec.seed,
            train,
            balanced: data.balanced,
            shuffle: data.shuffle,
            limit_batches: data.limit_batches,
            p_scale: 1.0,
        }
    }

    /// Evaluates a model (already `valid()`, on the plain device) on a split.
    pub fn evaluate(spec: &TrainSpec, net: &Net, loader: &Loader, device: &Device) -> Result<Evaluation, RunError> {
        let classes = spec.data.dataset.classes.len();
        let mut tally = Tally { classes, ..Tally::default() };
        for batch in loader.epoch(0, 0) {
            let (loss, out) = forward_loss(spec, net, batch?, device);
            tally.loss_sum += loss.into_scalar::<f32>() as f64;
            tally.batches += 1;
            match out {
                Outputs::Rows { logits, labels } => {
                    let preds = logits.clone().argmax(1).try_into_vec_as::<i64>().map_err(read_error)?;
                    tally.preds.extend(preds.into_iter().map(|p| p as usize));
                    if spec.metrics.iter().any(|m| matches!(m, Metric::TopK { .. })) {
                        tally.logits.extend(logits.try_into_vec_as::<f32>().map_err(read_error)?);
                    }
                    let labels = labels.try_into_vec_as::<i64>().map_err(read_error)?;
                    tally.labels.extend(labels.into_iter().map(|l| l as usize));
                }
                Outputs::Heads { heads, image, boxes } => {
                    tally.detections.extend(detect::decode(&heads, image));
                    tally.truth.extend(boxes);
                }
            }
        }
        let metrics = tally.compute(&spec.metrics);
        Ok((metrics, tally.confusion()))
    }

    /// Trains from `state` (fresh or resumed) to the end; returns final metrics per split.
    pub fn run(&self, resume: Option<State>) -> Result<BTreeMap<String, BTreeMap<String, f64>>, RunError> {
        let spec = &self.spec;
        let plain = self.device.clone();
        plain.seed(spec.seed);
        let ad = plain.clone().autodiff();
        let splits = open_splits(&spec.data.dataset)?;
        let train_src =
            splits.get("train").cloned().ok_or_else(|| RunError::Other("the dataset has no `train` split".into()))?;
        let train_loader = self.loader(train_src.clone(), true);
        let val_loader = splits.get("val").map(|s| self.loader(s.clone(), false));
        let test_loader = splits.get("test").map(|s| self.loader(s.clone(), false));

        if !self.quiet {
            self.print_start(&splits);
        }
        let mut net = Net::build(&self.graph, &ad)?;
        if spec.data.dataset.task == Task::Detection {
            net.set_output_bias("heat", detect::HEAT_PRIOR_BIAS);
        }
        let mut optimizer = optim::build(&spec.optimizer, spec.clip_grad);
        let mut state = resume.clone().unwrap_or_default();
        if resume.is_some() {
            let last = self.run.checkpoint("last.bpk");
            net = net
                .try_load_file(&last)
                .map_err(|e| RunError::Checkpoint { path: last.clone(), message: e.to_string() })?;
            let opt_path = self.run.checkpoint("optimizer.bpk");
            optimizer = optimizer
                .load(&opt_path)
                .map_err(|e| RunError::Checkpoint { path: opt_path, message: e.to_string() })?;
        }
        let mut ema = spec.ema.map(|d| Ema::new(&net, d));
        if let (Some(ema), true) = (&mut ema, resume.is_some()) {
            let path = self.run.checkpoint("ema.bpk");
            ema.net = ema
                .net
                .clone()
                .try_load_file(&path)
                .map_err(|e| RunError::Checkpoint { path, message: e.to_string() })?;
        }
        if let Some(state) = &resume {
            self.run.truncate_metrics(state.epochs_done)?;
        }
        let mut events = EventWriter::create(&self.run.path)?;
        let per_epoch = train_loader.num_batches(0).div_ceil(spec.accumulate).max(1);
        let mut results = BTreeMap::new();
        let header: Vec<String> = ["epoch", "step", "lr", "train_loss", "samples_per_s"]
            .iter()
            .map(|s| s.to_string())
            .chain(self.val_columns())
            .collect();

        let mut epoch = state.epochs_done;
        let mut first_step: Option<f64> = None;
        let (mut train_seconds, mut train_samples) = (0.0f64, 0usize);
        loop {
            let live = self.live.read().map(|l| l.clone()).unwrap_or_else(|e| e.into_inner().clone());
            if epoch >= live.epochs {
                break;
            }
            let total = per_epoch * live.epochs;
            let mut loader = self.loader(train_src.clone(), true);
            loader.p_scale = live.p_scale;
            let batches = loader.num_batches(epoch as u64);
            let bar = if self.quiet { ProgressBar::hidden() } else { ProgressBar::new(batches as u64) };
            bar.set_style(
                ProgressStyle::with_template("{prefix} [{bar:30}] {pos}/{len} {msg} eta {eta}")
                    .unwrap_or_else(|_| ProgressStyle::default_bar())
                    .progress_chars("=> "),
            );
            bar.set_prefix(format!("epoch {}/{}", epoch + 1, live.epochs));
            let started = Instant::now();
            let (mut seen, mut loss_sum, mut loss_n) = (0usize, 0.0f64, 0usize);
            let mut acc = GradientsAccumulator::<Net>::new();
            let mut pending = 0;
            // Losses not yet read back to the host (see `read_loss_every_step`).
            let (mut unread, mut unread_n, mut value): (Option<Tensor<1>>, usize, f32) = (None, 0, 0.0);
            for (i, batch) in loader.epoch(epoch as u64, 0).into_iter().enumerate() {
                let live = self.live.read().map(|l| l.clone()).unwrap_or_else(|e| e.into_inner().clone());
                let batch = batch?;
                seen += batch.shape[0];
                let (loss, _) = forward_loss(spec, &net, batch, &ad);
                let lr = optim::lr_at(&live.schedule, live.base_lr, state.step, total, per_epoch);
                let detached = loss.clone().detach();
                unread = Some(match unread.take() {
                    Some(sum) => sum + detached,
                    None => detached,
                });
                unread_n += 1;
                if self.read_loss_every_step
                    || (state.step + 1).is_multiple_of(live.log_every.max(1))
                    || i + 1 == batches
                {
                    let sum = unread.take().map_or(0.0, |u| u.into_scalar::<f32>());
                    if !sum.is_finite() {
                        return Err(RunError::NonFinite { value: sum, step: state.step, epoch: epoch + 1, lr });
                    }
                    loss_sum += sum as f64;
                    loss_n += unread_n;
                    value = sum / unread_n as f32;
                    unread_n = 0;
                }
                let grads = GradientsParams::from_grads(loss.backward(), &net);
                pending += 1;
                let grads = if spec.accumulate > 1 {
                    acc.accumulate(&net, grads);
                    if pending < spec.accumulate && i + 1 < batches {
                        bar.inc(1);
                        continue;
                    }
                    acc.grads()
                } else {
                    grads
                };
                pending = 0;
                net = optimizer.step(lr, net, grads);
                if first_step.is_none() {
                    let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
                    first_step = Some(t);
                    if !self.quiet {
                        eprintln!("first training step done {t:.2} s after launch");
                    }
                }
                if let Some(ema) = &mut ema {
                    ema.update(&net);
                }
                state.step += 1;
                if state.step.is_multiple_of(live.log_every.max(1)) {
                    events.scalars(state.step as u64, &[("train/loss", value as f64), ("train/lr", lr)])?;
                }
                let rate = seen as f64 / started.elapsed().as_secs_f64().max(1e-9);
                bar.set_message(format!("loss {:.4} lr {lr:.2e} {rate:.0} samples/s", loss_sum / loss_n.max(1) as f64));
                bar.inc(1);
            }
            bar.finish_and_clear();
            let elapsed = started.elapsed().as_secs_f64();
            train_seconds += elapsed;
            train_samples += seen;
            let train_loss = loss_sum / loss_n.max(1) as f64;
            let lr = optim::lr_at(&live.schedule, live.base_lr, state.step.saturating_sub(1), total, per_epoch);

            // Validate with the EMA weights when enabled.
            let eval_net = match &ema {
                Some(e) => e.net.clone(),
                None => net.valid(),
            };
            let mut epoch_metrics: BTreeMap<String, f64> = BTreeMap::new();
            epoch_metrics.insert("train.loss".into(), train_loss);
            if let Some(v) = &val_loader {
                let (m, confusion) = Trainer::evaluate(spec, &eval_net, v, &plain)?;
                for (k, x) in &m {
                    epoch_metrics.insert(format!("val.{k}"), *x);
                }
                self.write_confusion(&confusion)?;
                results.insert("val".to_string(), m);
            }
            let tb: Vec<(String, f64)> = epoch_metrics.iter().map(|(k, v)| (k.replace('.', "/"), *v)).collect();
            let tb: Vec<(&str, f64)> = tb.iter().map(|(k, v)| (k.as_str(), *v)).collect();
            events.scalars(state.step as u64, &tb)?;
            let row: Vec<String> = [
                format!("{}", epoch + 1),
                state.step.to_string(),
                format!("{lr:e}"),
                format!("{train_loss:.6}"),
                format!("{:.1}", seen as f64 / elapsed),
            ]
            .into_iter()
            .chain(self.val_columns().iter().map(|c| epoch_metrics.get(c).map_or(String::new(), |v| format!("{v:.6}"))))
            .collect();
            self.run.append_metrics(&header, &row)?;
            if !self.quiet {
                let shown: Vec<String> = epoch_metrics.iter().map(|(k, v)| format!("{k} {v:.4}")).collect();
                eprintln!(
                    "epoch {}/{}: {} ({:.1}s, {:.0} samples/s)",
                    epoch + 1,
                    live.epochs,
                    shown.join(", "),
                    elapsed,
                    seen as f64 / elapsed
                );
            }

            // Checkpoints: the best k by the monitored value, and the last (with optimizer state).
            state.epochs_done = epoch + 1;
            let monitor = format!("{}", spec.checkpoint.monitor);
            if let Some(score) = epoch_metrics.get(&monitor).copied() {
                let keep = spec.checkpoint.keep;
                let mode = spec.checkpoint.mode;
                let qualifies = state.best.len() < keep || state.best.iter().any(|(s, ..)| better(mode, score, *s));
                if qualifies {
                    let name = format!("best-epoch{}.bpk", epoch + 1);
                    self.save(&eval_net, &name)?;
                    state.best.push((score, epoch + 1, name));
                    state.best.sort_by(|a, b| {
                        if better(mode, a.0, b.0) { std::cmp::Ordering::Less } else { std::cmp::Ordering::Greater }
                    });
                    while state.best.len() > keep {
                        if let Some((_, _, old)) = state.best.pop() {
                            let _ = std::fs::remove_file(self.run.checkpoint(&old));
                        }
                    }
                }
            }
            self.save(&net.valid(), "last.bpk")?;
            if let Some(e) = &ema {
                self.save(&e.net, "ema.bpk")?;
            }
            let opt_tmp = self.run.checkpoint("optimizer.tmp.bpk");
            optimizer.save(&opt_tmp).map_err(|e| RunError::Other(e.to_string()))?;
            std::fs::rename(&opt_tmp, self.run.checkpoint("optimizer.bpk"))?;

            // Early stopping.
            let mut stop = false;
            if let Some(es) = &live.early_stop
                && let Some(v) = epoch_metrics.get(&es.monitor.to_string()).copied()
            {
                let improved = state.early_best.is_none_or(|b| better(es.mode, v, b) && (v - b).abs() > es.min_delta);
                if improved {
                    state.early_best = Some(v);
                    state.early_bad = 0;
                } else {
                    state.early_bad += 1;
                    stop = state.early_bad >= es.patience;
                }
            }
            write_atomic(
                &self.run.path.join("state.json"),
                serde_json::to_string_pretty(&state).unwrap_or_default().as_bytes(),
            )?;
            epoch += 1;
            if stop {
                if !self.quiet {
                    eprintln!(
                        "early stopping: `{}` has not improved for {} epochs",
                        live.early_stop.as_ref().map(|e| e.monitor.to_string()).unwrap_or_default(),
                        state.early_bad
                    );
                }
                break;
            }
        }
        let final_net = match &ema {
            Some(e) => e.net.clone(),
            None => net.valid(),
        };
        if let Some(t) = &test_loader {
            let (m, _) = Trainer::evaluate(spec, &final_net, t, &plain)?;
            results.insert("test".to_string(), m);
        }
        write_atomic(
            &self.run.path.join("summary.json"),
            serde_json::to_string_pretty(&results).unwrap_or_default().as_bytes(),
        )?;
        // Throughput counts the training loop only (data loading included, validation excluded).
        let timing = serde_json::json!({
            "first_step_s": first_step,
            "train_seconds": train_seconds,
            "train_samples": train_samples,
            "samples_per_s": train_samples as f64 / train_seconds.max(1e-9),
            "total_s": START.get_or_init(Instant::now).elapsed().as_secs_f64(),
        });
        write_atomic(
            &self.run.path.join("timing.json"),
            serde_json::to_string_pretty(&timing).unwrap_or_default().as_bytes(),
        )?;
        Ok(results)
    }

    fn val_columns(&self) -> Vec<String> {
        if !self.spec.data.dataset.splits.contains_key("val") {
            return Vec::new();
        }
        std::iter::once("val.loss".to_string())
            .chain(
                self.spec
                    .metrics
                    .iter()
                    .filter(|m| **m != Metric::ConfusionMatrix)
                    .map(|m| format!("val.{}", m.name())),
            )
            .collect()
    }

    fn save(&self, net: &Net, name: &str) -> Result<(), RunError> {
        let path = self.run.checkpoint(name);
        let tmp = self.run.checkpoint(&format!("{name}.tmp"));
        net.clone().save_file(&tmp).map_err(|e| RunError::Other(format!("saving {}: {e}", path.display())))?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    }

    fn write_confusion(&self, m: &[Vec<u64>]) -> std::io::Result<()> {
        if !self.spec.metrics.contains(&Metric::ConfusionMatrix) {
            return Ok(());
        }
        let classes = &self.spec.data.dataset.classes;
        let mut out = format!("actual\\predicted,{}\n", classes.join(","));
        for (i, row) in m.iter().enumerate() {
            out.push_str(&format!(
                "{},{}\n",
                classes.get(i).map_or("?", String::as_str),
                row.iter().map(u64::to_string).collect::<Vec<_>>().join(",")
            ));
        }
        write_atomic(&self.run.path.join("confusion_matrix.csv"), out.as_bytes())
    }

    fn print_start(&self, splits: &BTreeMap<String, Arc<dyn Source>>) {
        let params = self.graph.param_count();
        eprintln!(
            "model `{}`: {} parameters",
            self.graph.name,
            params.value().map_or(params.to_string(), crate::summary::thousands)
        );
        eprint!("{}", crate::summary::shape_table(&self.graph));
        let classes = &self.spec.data.dataset.classes;
        eprintln!("dataset `{}`: {} classes", self.spec.data.dataset.name, classes.len());
        for (name, src) in splits {
            if self.spec.data.dataset.task != Task::Classification {
                eprintln!("  {name:<5} {:>7} samples", src.len());
                continue;
            }
            let mut counts = vec![0usize; classes.len()];
            for i in 0..src.len() {
                if let Some(c) = counts.get_mut(src.label(i)) {
                    *c += 1;
                }
            }
            let per: Vec<String> = classes.iter().zip(&counts).map(|(c, n)| format!("{c} {n}")).collect();
            eprintln!("  {name:<5} {:>7} samples: {}", src.len(), per.join(", "));
        }
        eprintln!("run directory: {}", self.run.path.display());
    }
}

/// Reads `state.json` of a run directory, to resume it.
pub fn read_state(dir: &Path) -> Result<State, RunError> {
    let text = std::fs::read_to_string(dir.join("state.json"))
        .map_err(|e| RunError::Other(format!("{} has no state.json (no epoch finished yet?): {e}", dir.display())))?;
    serde_json::from_str(&text).map_err(|e| RunError::Other(format!("corrupt state.json: {e}")))
}
