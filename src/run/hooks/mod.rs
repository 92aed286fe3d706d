//! Hooks: everything that happens around the training loop and is not training itself —
//! checkpoints, early stopping, EMA, `metrics.csv`, TensorBoard, MLflow, plots, the progress bar
//! and the run directory's files. Each hook owns its state and its entry in `state.json`, and makes its
//! decisions in plain functions that the unit tests feed with numbers (no model needed), like
//! burn-train's `CheckpointingStrategy` and Lightning's callbacks.
//!
//! The loop (`run::fit`) calls, in order: `on_train_start`, then per epoch `on_epoch_start`,
//! `on_step_end` after every optimizer step, `on_epoch_end` after validation (any hook may
//! return [`Control::Stop`]), and `on_train_end` after the test split. Hooks run in the order
//! of [`Hooks`]; `state.json` is written after all of them finished an epoch. When `watch`
//! swapped the model at an epoch boundary, `on_rebuild` tells them before that epoch starts.

mod checkpoint;
mod csv;
mod early_stop;
pub mod ema;
pub mod mlflow;
pub mod plots;
pub mod progress;
mod run_files;
mod tensorboard;

use std::collections::BTreeMap;

use burn::optim::ModuleOptimizer;

use super::live::Live;
use super::{RunError, State};
use crate::exec::Net;
use crate::exec::transplant::Transplant;
use crate::ir::ModelGraph;

pub use checkpoint::{BestK, Checkpoints, load_last, load_last_warm, save_last, save_net};
pub use csv::Csv;
pub use early_stop::{EarlyStop, Patience};
pub use ema::EmaHook;
pub use mlflow::Mlflow;
pub use plots::Plots;
pub use progress::Progress;
pub use run_files::RunFiles;
pub use tensorboard::TensorBoard;

/// Whether training goes on after an epoch.
#[derive(Debug, Clone, PartialEq)]
pub enum Control {
    Continue,
    /// Stop after this epoch; the reason is printed.
    Stop(String),
}

/// After an optimizer step.
pub struct StepEnd<'a> {
    /// Optimizer steps done so far, this one included.
    pub step: usize,
    /// The current epoch, counted from 0.
    pub epoch: usize,
    /// Batches this step consumed (more than one with gradient accumulation).
    pub batches: usize,
    pub lr: f64,
    /// The last loss read back from the device (see `Trainer::read_loss_every_step`).
    pub loss: f32,
    /// The mean of the losses read so far this epoch.
    pub mean_loss: f64,
    pub samples_per_s: f64,
    pub net: &'a Net,
    pub live: &'a Live,
}

/// After an epoch's training and validation.
pub struct EpochEnd<'a> {
    /// Epochs done, this one included (1-based number of this epoch).
    pub epoch: usize,
    pub step: usize,
    pub lr: f64,
    pub seconds: f64,
    pub samples: usize,
    /// `train.loss` and, with a `val` split, `val.loss` and `val.<metric>`.
    pub metrics: &'a BTreeMap<String, f64>,
    /// The validation confusion matrix (rows: actual, columns: predicted).
    pub confusion: Option<&'a [Vec<u64>]>,
    /// The weights being trained.
    pub net: &'a Net,
    /// The weights that were evaluated: the EMA's when enabled.
    pub eval_net: &'a Net,
    pub optimizer: &'a ModuleOptimizer,
    pub live: &'a Live,
}

/// After the model was rebuilt from an edited graph, before the next epoch.
pub struct Rebuilt<'a> {
    /// Epochs done.
    pub epoch: usize,
    pub step: usize,
    pub graph: &'a ModelGraph,
    /// The new weights.
    pub net: &'a Net,
    /// Which weights were copied, initialised, dropped.
    pub report: &'a Transplant,
    /// Where the weights before the rebuild were saved.
    pub saved: &'a std::path::Path,
}

/// At the end of training.
pub struct TrainEnd<'a> {
    pub results: &'a BTreeMap<String, BTreeMap<String, f64>>,
}

pub trait Hook {
    /// Its key in `state.json`.
    fn name(&self) -> &'static str;

    /// Before the first epoch (also when resuming).
    fn on_train_start(&mut self, _state: &State) -> Result<(), RunError> {
        Ok(())
    }

    fn on_epoch_start(&mut self, _epoch: usize, _batches: usize, _live: &Live) {}

    fn on_step_end(&mut self, _step: &StepEnd) -> Result<(), RunError> {
        Ok(())
    }

    fn on_epoch_end(&mut self, _end: &EpochEnd) -> Result<Control, RunError> {
        Ok(Control::Continue)
    }

    fn on_train_end(&mut self, _end: &TrainEnd) -> Result<(), RunError> {
        Ok(())
    }

    /// After the model was rebuilt (`watch`, at an epoch boundary).
    fn on_rebuild(&mut self, _rebuilt: &Rebuilt) -> Result<(), RunError> {
        Ok(())
    }

    /// Weights to evaluate instead of the trained ones (the EMA's).
    fn eval_weights(&self) -> Option<&Net> {
        None
    }

    /// What it must remember across a crash.
    fn state(&self) -> Option<serde_json::Value> {
        None
    }

    /// Restores what [`Hook::state`] saved, when resuming.
    fn restore(&mut self, _state: &serde_json::Value) -> Result<(), RunError> {
        Ok(())
    }
}

/// A hook's state as JSON, for [`Hook::state`].
pub fn save_state(state: &impl serde::Serialize) -> Option<serde_json::Value> {
    serde_json::to_value(state).ok()
}

/// A hook's state back from JSON, for [`Hook::restore`]; unreadable state starts afresh, like a
/// run directory written before the hook existed.
pub fn load_state<T: serde::de::DeserializeOwned + Default>(state: &serde_json::Value) -> T {
    serde_json::from_value(state.clone()).unwrap_or_default()
}

/// The hooks of a run, called in order.
#[derive(Default)]
pub struct Hooks(pub Vec<Box<dyn Hook>>);

impl Hooks {
    pub fn push(&mut self, hook: impl Hook + 'static) {
        self.0.push(Box::new(hook));
    }

    pub fn train_start(&mut self, state: &State) -> Result<(), RunError> {
        for hook in &mut self.0 {
            if let Some(saved) = state.hooks.get(hook.name()) {
                hook.restore(saved)?;
            }
            hook.on_train_start(state)?;
        }
        Ok(())
    }

    pub fn epoch_start(&mut self, epoch: usize, batches: usize, live: &Live) {
        self.0.iter_mut().for_each(|h| h.on_epoch_start(epoch, batches, live));
    }

    pub fn step_end(&mut self, step: &StepEnd) -> Result<(), RunError> {
        self.0.iter_mut().try_for_each(|h| h.on_step_end(step))
    }

    /// Every hook sees the epoch's end, even after one asked to stop; the first reason wins.
    pub fn epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let mut control = Control::Continue;
        for hook in &mut self.0 {
            if let (Control::Stop(reason), Control::Continue) = (hook.on_epoch_end(end)?, &control) {
                control = Control::Stop(reason);
            }
        }
        Ok(control)
    }

    pub fn train_end(&mut self, end: &TrainEnd) -> Result<(), RunError> {
        self.0.iter_mut().try_for_each(|h| h.on_train_end(end))
    }

    pub fn rebuilt(&mut self, rebuilt: &Rebuilt) -> Result<(), RunError> {
        self.0.iter_mut().try_for_each(|h| h.on_rebuild(rebuilt))
    }

    pub fn eval_weights(&self) -> Option<&Net> {
        self.0.iter().find_map(|h| h.eval_weights())
    }

    /// Every hook's state, by name, for `state.json`.
    pub fn states(&self) -> BTreeMap<String, serde_json::Value> {
        self.0.iter().filter_map(|h| Some((h.name().to_string(), h.state()?))).collect()
    }
}
