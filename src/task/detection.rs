//! CenterNet detection: dense heat/size/offset heads, the targets built from the batch's boxes,
//! decoded boxes for mAP, and `predict` printing boxes in the original image's pixels.

use burn::tensor::{Device, Tensor};

use super::{PredictInput, Prediction, TaskRunner, forward};
use crate::data::{Batch, BoxLabel, Frame};
use crate::exec::{Act, Net, detect};
use crate::ir::TrainSpec;
use crate::run::RunError;
use crate::run::metrics::Tally;

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
        let found = detect::decode(&heads, (image_h, image_w));
        // In the original images' pixels, as `predict` gives them; IoU is unchanged by the
        // axis-aligned maps of evaluation pipelines, so the metrics are too.
        for (i, (ds, truth)) in found.into_iter().zip(batch.boxes).enumerate() {
            let frame = batch.frames.get(i).copied().unwrap_or_else(|| Frame::identity((image_h, image_w)));
            tally.detections.push(ds.into_iter().map(|d| detection_to_original(&frame, d)).collect());
            tally.truth.push(truth.into_iter().map(|b: BoxLabel| frame.label_to_original(b)).collect());
        }
        Ok(loss.into_scalar::<f32>())
    }

    /// Every decoded box, in the pixels of the image as given.
    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Prediction, RunError> {
        let heads = heads("", outputs)?;
        let found = detect::decode(&heads, input.frame.size).into_iter().next().unwrap_or_default();
        Ok(Prediction::Boxes(found.into_iter().map(|d| detection_to_original(&input.frame, d)).collect()))
    }
}

/// A detection in the model input's pixels moved to the original image's.
fn detection_to_original(frame: &Frame, d: detect::Detection) -> detect::Detection {
    let [x0, y0, x1, y1] = frame.box_to_original([d.x0, d.y0, d.x1, d.y1]);
    detect::Detection { x0, y0, x1, y1, ..d }
}
