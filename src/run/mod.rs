//! Training: what `trainc run` does after the front end accepted the program.
//!
//! `fit.rs` is the loop (phases `train_epoch`, `train_step`, `validate`, `test`; `parallel.rs` the
//! step of several devices in one process); everything
//! around it — checkpoints, early stopping, EMA, `metrics.csv`, TensorBoard, the progress bar,
//! the run directory's files — is a hook in `hooks/`. Values a user may change while a run is
//! going are read at every step from [`Live`] behind a lock, so `trainc watch` can swap them.

pub mod allocator;
mod error;
mod fit;
pub mod hooks;
pub mod interrupt;
pub mod live;
pub mod manifest;
pub mod metrics;
pub mod mlflow;
pub mod parallel;
pub mod plateau;
pub mod rundir;
mod state;
mod step;
pub mod tensorboard;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use burn::tensor::Device;

use crate::data::{Loader, Source};
use crate::exec::Net;
use crate::ir::{Metric, ModelGraph, Task, TrainSpec};
use metrics::Tally;
use rundir::RunDir;

pub use error::RunError;
pub use live::{Live, SharedLive};
pub use state::{State, read_state};
pub use step::LossScaler;

/// When the process started, for "time to first step" (set by `main`; falls back to the first use).
pub static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();

/// Metrics by name, and the confusion matrix (rows: actual, columns: predicted).
pub type Evaluation = (BTreeMap<String, f64>, Vec<Vec<u64>>);

/// Final metrics per split (`val`, `test`).
pub type Results = BTreeMap<String, BTreeMap<String, f64>>;

pub struct Trainer {
    pub spec: TrainSpec,
    pub graph: ModelGraph,
    pub device: Device,
    /// The other devices of an in-process data-parallel run (`--device tch:cuda:0,1`); empty on
    /// one device. See [`parallel`].
    pub replicas: parallel::Replicas,
    pub live: SharedLive,
    pub run: RunDir,
    pub quiet: bool,
    /// Read the loss back to the host every step (CPU backends, where it costs nothing). On a GPU
    /// each read waits for the queue to drain, so losses stay on the device and are read every
    /// `log_every` steps and at the end of an epoch; a NaN is then reported at the read after it.
    pub read_loss_every_step: bool,
    /// On resume, a `last.bpk` of another model warm-starts this one instead of failing
    /// (`watch`: the file's model may have changed since the checkpoint).
    pub warm_resume: bool,
    /// The ranks of a data-parallel run (`Group::single()` for one process). Only rank 0
    /// validates and writes the run directory; see `crate::dist`.
    pub group: Arc<crate::dist::Group>,
}

impl Trainer {
    /// The loader of a split: augmented and shuffled for training, plain for evaluation.
    pub fn loader(&self, source: Arc<dyn Source>, train: bool) -> Loader {
        Loader::for_split(&self.spec, source, train)
    }

    /// Evaluates a model (already `valid()`, on the plain device) on a split.
    pub fn evaluate(spec: &TrainSpec, net: &Net, loader: &Loader, device: &Device) -> Result<Evaluation, RunError> {
        let task = crate::task::runner(spec.data.dataset.task);
        let mut tally = Tally { classes: spec.data.dataset.classes.len(), ..Tally::default() };
        for batch in loader.epoch(0, 0) {
            tally.loss_sum += task.evaluate(spec, net, batch?, device, &mut tally)? as f64;
            tally.batches += 1;
        }
        let metrics = tally.compute(&spec.metrics);
        Ok((metrics, tally.confusion()))
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

    /// Height and width of the model's input (0 where the graph leaves it symbolic).
    fn input_size(&self) -> (usize, usize) {
        let dim = |i: usize| self.graph.inputs.first().and_then(|(_, s)| s.0.get(i)?.value()).unwrap_or(0) as usize;
        (dim(2), dim(3))
    }

    /// The class names for `confusion_matrix.csv`, when the program asks for the metric.
    fn confusion_classes(&self) -> Option<Vec<String>> {
        let wanted = self.spec.metrics.contains(&Metric::ConfusionMatrix);
        wanted.then(|| self.spec.data.dataset.classes.clone())
    }

    fn print_start(&self, splits: &BTreeMap<String, Arc<dyn Source>>) {
        let params = self.graph.param_count();
        eprintln!(
            "model `{}`: {} parameters",
            self.graph.name,
            params.value().map_or(params.to_string(), crate::summary::thousands)
        );
        eprint!("{}", crate::summary::shape_table(&self.graph));
        if !self.replicas.is_empty() {
            let n = self.replicas.devices.len() + 1;
            eprintln!(
                "data-parallel: {n} devices in this process, each batch of {} split over them",
                self.spec.data.batch
            );
        }
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
        let lr = crate::exec::optim::base_lr(&self.spec.optimizer, &self.spec.schedule);
        for line in crate::exec::finetune::describe(&self.spec.freeze, &self.spec.groups, lr) {
            eprintln!("{line}");
        }
        eprintln!("run directory: {}", self.run.path.display());
    }
}
