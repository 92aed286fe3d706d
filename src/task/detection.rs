//! CenterNet detection: dense heat/size/offset heads, the targets built from the batch's boxes,
//! decoded boxes for mAP, and `predict` printing boxes in the original image's pixels.

use burn::tensor::{Device, Tensor};

use super::{PredictInput, TaskRunner, class_name, forward};
use crate::data::Batch;
use crate::exec::{Act, Net, detect};
use crate::ir::TrainSpec;
use crate::run::RunError;
use crate::run::metrics::Tally;

/// `predict` shows detections at least this confident (Ultralytics' default `conf`).
const PREDICT_MIN_SCORE: f32 = 0.25;

pub struct Detection;

fn heads(model: &str, outputs: Vec<(String, Act)>) -> Result<detect::Heads, RunError> {
    detect::Heads::from_outputs(outputs).map_err(|message| RunError::Outputs { model: model.into(), message })
}

/// The heads of a batch and their loss.
fn forward_loss(
    spec: &TrainSpec,
    net: &Net,
    batch: &mut Batch,
    device: &Device,
) -> Result<(Tensor<1>, detect::Heads), RunError> {
    let [_, _, image_h, image_w] = batch.shape;
    let heads = heads(&spec.model, forward(net, batch, device))?;
    let [_, classes, h, w] = heads.heat.dims();
    let targets = detect::Targets::new(&batch.boxes, classes, (image_h, image_w), (h, w));
    let loss = spec
        .loss
        .iter()
        .map(|term| detect::centernet_loss(&term.loss, &heads, &targets, device) * term.weight)
        .reduce(|a, b| a + b)
        .unwrap_or_else(|| Tensor::zeros([1], device));
    Ok((loss, heads))
}

impl TaskRunner for Detection {
    fn prepare(&self, net: &mut Net) {
        net.set_output_bias("heat", detect::HEAT_PRIOR_BIAS);
    }

    fn train_loss(
        &self,
        spec: &TrainSpec,
        net: &Net,
        mut batch: Batch,
        device: &Device,
    ) -> Result<Tensor<1>, RunError> {
        Ok(forward_loss(spec, net, &mut batch, device)?.0)
    }

    fn evaluate(
        &self,
        spec: &TrainSpec,
        net: &Net,
        mut batch: Batch,
        device: &Device,
        tally: &mut Tally,
    ) -> Result<f32, RunError> {
        let (loss, heads) = forward_loss(spec, net, &mut batch, device)?;
        let [_, _, image_h, image_w] = batch.shape;
        tally.detections.extend(detect::decode(&heads, (image_h, image_w)));
        tally.truth.extend(batch.boxes);
        Ok(loss.into_scalar::<f32>())
    }

    /// Boxes come back in the pixels of the image as given.
    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Vec<String>, RunError> {
        let heads = heads("", outputs)?;
        let (h, w) = input.input;
        let (sx, sy) = (input.original.0 as f32 / w as f32, input.original.1 as f32 / h as f32);
        let found = detect::decode(&heads, (h, w)).into_iter().next().unwrap_or_default();
        Ok(found
            .into_iter()
            .filter(|d| d.score >= PREDICT_MIN_SCORE)
            .take(input.top)
            .map(|d| {
                format!(
                    "  {:<20} {:.4}  box {:.1} {:.1} {:.1} {:.1}",
                    class_name(input.classes, d.class),
                    d.score,
                    d.x0 * sx,
                    d.y0 * sy,
                    d.x1 * sx,
                    d.y1 * sy
                )
            })
            .collect())
    }
}
