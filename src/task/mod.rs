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

use crate::data::{Batch, Frame};
use crate::exec::detect::Detection;
use crate::exec::{Act, Net};
use crate::ir::{Task, TrainSpec};
use crate::run::RunError;
use crate::run::metrics::Tally;

/// What `predict` knows about one image besides the model's outputs.
pub struct PredictInput<'a> {
    pub classes: &'a [String],
    /// Where the image's pixels are in the model's input.
    pub frame: Frame,
}

/// What a model predicts for one image, in the original image's pixels; `trainc predict`
/// renders it as lines or as JSON.
#[derive(Clone, Debug, PartialEq)]
pub enum Prediction {
    /// Every class's probability, in class order.
    Classes(Vec<f32>),
    /// Decoded boxes, best first, in the original image's pixels.
    Boxes(Vec<Detection>),
    /// A class id per pixel of the original image, row-major `h × w`.
    Mask { h: usize, w: usize, classes: Vec<u32> },
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

    /// What the model's outputs for one image predict.
    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Prediction, RunError>;
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
pub fn class_name(classes: &[String], c: usize) -> &str {
    classes.get(c).map_or("?", String::as_str)
}
