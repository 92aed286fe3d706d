//! Segmentation: `[B, C, H, W]` logits become one row per pixel, matching the loader's pixel
//! order of the masks; the losses and metrics are the classification ones over pixels.

use burn::tensor::Tensor;

use super::classification::RowTask;
use super::{PredictInput, class_name, first, read_back};
use crate::exec::{Act, loss};
use crate::run::RunError;

pub const SEGMENTATION: RowTask = RowTask { to_rows: pixel_rows, predict: pixel_shares };

fn pixel_rows(act: Act) -> Result<Tensor<2>, RunError> {
    match act {
        Act::D4(t) => Ok(loss::pixels(t)),
        // The checker requires a 4-D output for segmentation; keep the old behaviour otherwise.
        other => Ok(other.d2()),
    }
}

/// The share of the image's pixels given to each class.
fn pixel_shares(outputs: Vec<(String, Act)>, input: &PredictInput) -> Result<Vec<String>, RunError> {
    let logits = first(outputs, "")?.d4().ok_or_else(|| RunError::Outputs {
        model: String::new(),
        message: "the segmentation output is not 4-D".into(),
    })?;
    let preds = loss::pixels(logits).argmax(1).try_into_vec_as::<i64>().map_err(read_back)?;
    let mut counts = vec![0usize; input.classes.len()];
    for p in &preds {
        if let Some(c) = counts.get_mut(*p as usize) {
            *c += 1;
        }
    }
    Ok(counts
        .iter()
        .enumerate()
        .filter(|(_, n)| **n > 0)
        .map(|(c, n)| {
            let share = *n as f64 / preds.len().max(1) as f64;
            format!("  {:<20} {share:.4} of pixels", class_name(input.classes, c))
        })
        .collect())
}
