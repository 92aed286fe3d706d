//! `labels.json`, written beside every exported model: what a deployment needs besides the
//! weights — the class names, the input shape and batch, the normalisation the eval pipeline
//! applies (the exported model expects normalised input), the task and the output names. It
//! describes the model, not the file, so ONNX and safetensors exports in one folder share it.

use serde::Serialize;

use crate::ir::{Augment, Task, TrainSpec};

/// The batch dimension of an exported model's inputs and outputs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Batch {
    /// Any size (ONNX dimension `batch`).
    Dynamic,
    Fixed(usize),
}

impl Serialize for Batch {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Batch::Dynamic => s.serialize_str("dynamic"),
            Batch::Fixed(n) => s.serialize_u64(*n as u64),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Input {
    pub name: String,
    /// `[C, H, W]`.
    pub shape: Vec<usize>,
    pub batch: Batch,
    pub layout: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Output {
    pub name: String,
    /// Without the batch dimension.
    pub shape: Vec<usize>,
}

/// `(x - mean) / std` per channel, or each image by its own statistics (`normalize(per_image)`).
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Normalize {
    Given { mean: Vec<f64>, std: Vec<f64> },
    PerImage { per_image: bool },
}

/// The contents of `labels.json`.
#[derive(Debug, Serialize)]
pub struct Labels {
    pub model: String,
    pub task: Task,
    /// `ema` when the exported weights are the exponential moving average, else `trained`.
    pub weights: &'static str,
    pub classes: Vec<String>,
    pub inputs: Vec<Input>,
    /// Applied by the eval pipeline after scaling pixels to [0, 1]; `null` when it has none.
    pub normalize: Option<Normalize>,
    pub outputs: Vec<Output>,
}

/// The last `normalize` of the eval pipeline: what the model saw in validation.
pub fn normalization(train: &TrainSpec) -> Option<Normalize> {
    train.data.eval_augment.iter().rev().find_map(|a| match a {
        Augment::Normalize { stats } => Some(match stats.mean_std() {
            Some((mean, std)) => Normalize::Given { mean: mean.to_vec(), std: std.to_vec() },
            None => Normalize::PerImage { per_image: true },
        }),
        _ => None,
    })
}
