//! Segmentation: `[B, C, H, W]` logits become one row per pixel, matching the loader's pixel
//! order of the masks; the losses and metrics are the classification ones over pixels.

use burn::tensor::Tensor;

use super::classification::RowTask;
use super::{PredictInput, Prediction, first, read_back};
use crate::exec::{Act, loss};
use crate::run::RunError;

pub const SEGMENTATION: RowTask = RowTask { to_rows: pixel_rows, predict: pixel_classes };

fn pixel_rows(act: Act) -> Result<Tensor<2>, RunError> {
    match act {
        Act::D4(t) => Ok(loss::pixels(t)),
        // The checker requires a 4-D output for segmentation; keep the old behaviour otherwise.
        other => Ok(other.d2()),
    }
}

/// The class of every pixel of the original image: the model's argmax at the point the frame
/// puts the pixel's centre (nearest neighbour, scaled when the output is smaller than the input);
/// pixels in letterbox padding or cropped away get class 0.
fn pixel_classes(outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Prediction, RunError> {
    let logits = first(outputs, "")?.d4().ok_or_else(|| RunError::Outputs {
        model: String::new(),
        message: "the segmentation output is not 4-D".into(),
    })?;
    let [_, _, oh, ow] = logits.dims();
    let preds = loss::pixels(logits).argmax(1).try_into_vec_as::<i64>().map_err(read_back)?;
    let f = input.frame;
    let (ih, iw) = (f.size.0 as f32, f.size.1 as f32);
    let (h, w) = f.original;
    let mut classes = vec![0u32; h * w];
    for y in 0..h {
        for x in 0..w {
            let (u, v) = (((x as f32 + 0.5) * f.sx + f.dx), ((y as f32 + 0.5) * f.sy + f.dy));
            if u < 0.0 || v < 0.0 || u >= iw || v >= ih {
                continue;
            }
            let (ox, oy) = ((u * ow as f32 / iw) as usize, (v * oh as f32 / ih) as usize);
            classes[y * w + x] = preds[oy.min(oh - 1) * ow + ox.min(ow - 1)] as u32;
        }
    }
    Ok(Prediction::Mask { h, w, classes })
}
