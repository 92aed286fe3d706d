//! Classification: one row of class logits per sample, cross-entropy-like losses, accuracy-like
//! metrics, and `predict` ranking the classes. Segmentation reuses the rows (one per pixel).

use burn::tensor::activation::softmax;
use burn::tensor::{Device, Tensor};

use super::{PredictInput, Prediction, TaskRunner, first, forward, read_back};
use crate::data::Batch;
use crate::exec::{Act, Net, loss};
use crate::ir::TrainSpec;
use crate::run::RunError;
use crate::run::metrics::Tally;

/// The logits of a batch as rows, with one label per row.
struct Rows {
    pub logits: Tensor<2>,
    /// One label per row; a label outside the class list (255) is ignored by loss and metrics.
    pub labels: Vec<i64>,
}

/// Runs a batch and turns the output into rows with `to_rows` (identity for classification,
/// one row per pixel for segmentation).
fn rows(
    spec: &TrainSpec,
    net: &Net,
    mut batch: Batch,
    device: &Device,
    to_rows: impl FnOnce(Act) -> Result<Tensor<2>, RunError>,
) -> Result<Rows, RunError> {
    let labels = std::mem::take(&mut batch.y);
    let out = first(forward(net, &mut batch, device), &spec.model)?;
    Ok(Rows { logits: to_rows(out)?, labels })
}

fn rows_loss(spec: &TrainSpec, rows: &Rows, device: &Device) -> Tensor<1> {
    loss::counted(&spec.loss, rows.logits.clone(), &rows.labels, device)
}

/// Adds the rows' predictions (and logits, when top-k needs the ranking) to the tally.
fn tally_rows(spec: &TrainSpec, rows: Rows, tally: &mut Tally) -> Result<(), RunError> {
    let preds = rows.logits.clone().argmax(1).try_into_vec_as::<i64>().map_err(read_back)?;
    tally.preds.extend(preds.into_iter().map(|p| p as usize));
    if spec.metrics.iter().any(|m| matches!(m, crate::ir::Metric::TopK { .. })) {
        tally.logits.extend(rows.logits.try_into_vec_as::<f32>().map_err(read_back)?);
    }
    tally.labels.extend(rows.labels.into_iter().map(|l| l as usize));
    Ok(())
}

fn sample_rows(act: Act) -> Result<Tensor<2>, RunError> {
    Ok(act.d2())
}

/// Classification and segmentation: class logits as rows (one per sample, or one per pixel),
/// the same losses and metrics over them, and their own `predict` output.
pub struct RowTask {
    pub to_rows: fn(Act) -> Result<Tensor<2>, RunError>,
    pub predict: Predict,
}

/// What the model's outputs predict for one image.
pub type Predict = fn(Vec<(String, Act)>, &PredictInput) -> Result<Prediction, RunError>;

pub const CLASSIFICATION: RowTask = RowTask { to_rows: sample_rows, predict: class_scores };

impl TaskRunner for RowTask {
    fn train_loss(
        &self,
        spec: &TrainSpec,
        net: &Net,
        mut batch: Batch,
        device: &Device,
    ) -> Result<Tensor<1>, RunError> {
        let mixed = batch.mixed.take();
        let rows = rows(spec, net, batch, device, self.to_rows)?;
        let [n, classes] = rows.logits.dims();
        match mixed {
            // A mixed batch (classification only, as the checker makes sure): soft targets.
            Some(mixed) if n == rows.labels.len() => {
                let t = crate::data::mix::soft_targets(&rows.labels, classes, &mixed);
                let t = Tensor::<2>::from_data(burn::tensor::TensorData::new(t, [n, classes]), device);
                Ok(loss::soft(&spec.loss, rows.logits, t, device))
            }
            _ => Ok(rows_loss(spec, &rows, device)),
        }
    }

    fn evaluate(
        &self,
        spec: &TrainSpec,
        net: &Net,
        batch: Batch,
        device: &Device,
        tally: &mut Tally,
    ) -> Result<f32, RunError> {
        let rows = rows(spec, net, batch, device, self.to_rows)?;
        let loss = rows_loss(spec, &rows, device).into_scalar::<f32>();
        tally_rows(spec, rows, tally)?;
        Ok(loss)
    }

    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Prediction, RunError> {
        (self.predict)(outputs, input)
    }
}

/// Every class's probability (softmax of the logits).
fn class_scores(outputs: Vec<(String, Act)>, _input: &PredictInput) -> Result<Prediction, RunError> {
    let logits = first(outputs, "")?.d2();
    Ok(Prediction::Classes(softmax(logits, 1).try_into_vec_as::<f32>().map_err(read_back)?))
}
