//! Tasks: what classification, segmentation and detection each do with a batch — the loss the
//! program declares, what an evaluation keeps of it, and what `predict` prints.
//!
//! The trainer, `eval` and `predict` never match on [`Task`]: they ask [`runner`] for the task's
//! [`TaskRunner`]. Adding a task is a variant of `ir::Task`, a file here and an arm in `runner`;
//! the compiler points at the arm.

mod classification;
mod detection;
mod segmentation;

use burn::tensor::{Device, Tensor, TensorData};

use crate::data::Batch;
use crate::exec::{Act, Net};
use crate::ir::{Task, TrainSpec};
use crate::run::RunError;
use crate::run::metrics::Tally;

/// What `predict` knows about one image besides the model's outputs.
pub struct PredictInput<'a> {
    pub classes: &'a [String],
    /// Width and height of the image as given.
    pub original: (u32, u32),
    /// Height and width the model saw.
    pub input: (usize, usize),
    /// At most this many lines.
    pub top: usize,
}

pub trait TaskRunner: Sync {
    /// Prepares a freshly built network before training (detection starts its heat head at the prior).
    fn prepare(&self, _net: &mut Net) {}

    /// The loss of a batch, for a training step.
    fn train_loss(&self, spec: &TrainSpec, net: &Net, batch: Batch, device: &Device) -> Result<Tensor<1>, RunError>;

    /// Runs a batch for evaluation: adds what the metrics need to `tally`, returns the loss.
    fn evaluate(
        &self,
        spec: &TrainSpec,
        net: &Net,
        batch: Batch,
        device: &Device,
        tally: &mut Tally,
    ) -> Result<f32, RunError>;

    /// The lines `predict` prints for one image.
    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Vec<String>, RunError>;
}

/// The runner of a task.
pub fn runner(task: Task) -> &'static dyn TaskRunner {
    match task {
        Task::Classification => &classification::CLASSIFICATION,
        Task::Segmentation => &segmentation::SEGMENTATION,
        Task::Detection => &detection::Detection,
    }
}

/// Runs the model on a batch's images.
fn forward(net: &Net, batch: &mut Batch, device: &Device) -> Vec<(String, Act)> {
    let x = Tensor::from_data(TensorData::new(std::mem::take(&mut batch.x), batch.shape), device);
    net.forward(vec![x])
}

/// The first (for these tasks, the only) output of a model.
fn first(outputs: Vec<(String, Act)>, model: &str) -> Result<Act, RunError> {
    outputs
        .into_iter()
        .next()
        .map(|(_, act)| act)
        .ok_or_else(|| RunError::Outputs { model: model.into(), message: "the model has no output".into() })
}

/// A tensor that could not be read back to the host.
fn read_back(e: impl std::fmt::Debug) -> RunError {
    RunError::ReadBack { step: 0, message: format!("{e:?}") }
}

/// A class index as its name.
fn class_name(classes: &[String], c: usize) -> &str {
    classes.get(c).map_or("?", String::as_str)
}
