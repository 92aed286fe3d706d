//! Detection: CenterNet's dense heat/size/offset heads or FCOS's pyramid levels, the targets
//! built from the batch's boxes, decoded boxes for mAP, and `predict` printing boxes in the
//! original image's pixels.

use burn::tensor::{Device, Tensor};

use super::{PredictInput, Prediction, TaskRunner, forward};
use crate::data::{Batch, BoxLabel, Frame};
use crate::exec::{Act, Net, detect, fcos};
use crate::ir::{Loss, TrainSpec};
use crate::run::RunError;
use crate::run::metrics::Tally;

pub struct Detection;

/// A detection model's outputs for one batch, by the head they come from.
// One value per batch, moved once: boxing the larger variant would buy nothing.
#[allow(clippy::large_enum_variant)]
enum Heads {
    CenterNet(detect::Heads),
    Fcos(fcos::Pyramid),
}

impl Heads {
    /// The outputs as FCOS levels when `fcos_range` is given (the loss is `fcos_loss`), else
    /// as CenterNet's heads.
    fn new(
        model: &str,
        outputs: Vec<(String, Act)>,
        image: (usize, usize),
        fcos_range: Option<f32>,
    ) -> Result<Heads, RunError> {
        let heads = match fcos_range {
            Some(range) => fcos::Pyramid::from_outputs(outputs, image, range).map(Heads::Fcos),
            None => detect::Heads::from_outputs(outputs).map(Heads::CenterNet),
        };
        heads.map_err(|message| RunError::Outputs { model: model.into(), message })
    }

    /// Boxes per image, in the model input's pixels.
    fn decode(&self, image: (usize, usize)) -> Vec<Vec<detect::Detection>> {
        match self {
            Heads::CenterNet(h) => detect::decode(h, image),
            Heads::Fcos(p) => fcos::decode(p),
        }
    }
}

/// The level range of `fcos_loss`, when the program trains with it.
fn fcos_range(spec: &TrainSpec) -> Option<f32> {
    spec.loss.iter().find_map(|t| match t.loss {
        Loss::Fcos { range, .. } => Some(range as f32),
        _ => None,
    })
}

/// The heads of a batch and their loss.
fn forward_loss(
    spec: &TrainSpec,
    net: &Net,
    batch: &mut Batch,
    device: &Device,
) -> Result<(Tensor<1>, Heads), RunError> {
    let [_, _, image_h, image_w] = batch.shape;
    let heads = Heads::new(&spec.model, forward(net, batch, device), (image_h, image_w), fcos_range(spec))?;
    let terms: Vec<Tensor<1>> = match &heads {
        Heads::CenterNet(h) => {
            let [_, classes, rows, cols] = h.heat.dims();
            let targets = detect::Targets::new(&batch.boxes, classes, (image_h, image_w), (rows, cols));
            spec.loss.iter().map(|term| detect::centernet_loss(&term.loss, h, &targets, device) * term.weight).collect()
        }
        Heads::Fcos(p) => {
            let targets = fcos::Targets::new(&batch.boxes, p.classes, &p.levels);
            spec.loss.iter().map(|term| fcos::fcos_loss(&term.loss, p, &targets, device) * term.weight).collect()
        }
    };
    let loss = terms.into_iter().reduce(|a, b| a + b).unwrap_or_else(|| Tensor::zeros([1], device));
    Ok((loss, heads))
}

impl TaskRunner for Detection {
    /// CenterNet's heat head starts at its prior; FCOS's class prior is a `param` of its head.
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
        let found = heads.decode((image_h, image_w));
        // In the original images' pixels, as `predict` gives them; IoU is unchanged by the
        // axis-aligned maps of evaluation pipelines, so the metrics are too.
        for (i, (ds, truth)) in found.into_iter().zip(batch.boxes).enumerate() {
            let frame = batch.frames.get(i).copied().unwrap_or_else(|| Frame::identity((image_h, image_w)));
            tally.detections.push(ds.into_iter().map(|d| detection_to_original(&frame, d)).collect());
            tally.truth.push(truth.into_iter().map(|b: BoxLabel| frame.label_to_original(b)).collect());
        }
        Ok(loss.into_scalar::<f32>())
    }

    /// Every decoded box, in the pixels of the image as given. A model without a `heat` output
    /// is an FCOS model (decoding does not need the level ranges).
    fn predict(&self, outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Prediction, RunError> {
        let fcos = (!outputs.iter().any(|(name, _)| name == "heat")).then_some(8.0);
        let heads = Heads::new("", outputs, input.frame.size, fcos)?;
        let found = heads.decode(input.frame.size).into_iter().next().unwrap_or_default();
        Ok(Prediction::Boxes(found.into_iter().map(|d| detection_to_original(&input.frame, d)).collect()))
    }
}

/// A detection in the model input's pixels moved to the original image's.
fn detection_to_original(frame: &Frame, d: detect::Detection) -> detect::Detection {
    let [x0, y0, x1, y1] = frame.box_to_original([d.x0, d.y0, d.x1, d.y1]);
    detect::Detection { x0, y0, x1, y1, ..d }
}
