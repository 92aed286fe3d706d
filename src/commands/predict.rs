//! `trainc predict`: run a checkpoint on images and print what the task predicts (classes,
//! boxes, or pixel shares). A checkpoint inside a run directory knows its class names
//! (`spec.json`), so the dataset is not needed then.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use burn::tensor::{Tensor, TensorData};
use rand::SeedableRng;

use trainc::data::augment;
use trainc::task::{self, PredictInput};

use super::CommandError;
use super::shared::{checked, device, load};
use crate::SpecArgs;

/// The class names recorded in the run directory that holds `checkpoint`, if any.
pub(super) fn recorded_classes(checkpoint: &Path) -> Option<Vec<String>> {
    let run = checkpoint.parent()?.parent()?;
    let spec: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(run.join("spec.json")).ok()?).ok()?;
    serde_json::from_value(spec["data"]["dataset"]["classes"].clone()).ok()
}

pub fn predict(
    file: &Path,
    checkpoint: &Path,
    images: &[PathBuf],
    top: usize,
    device_name: &str,
) -> Result<ExitCode, CommandError> {
    let recorded = recorded_classes(checkpoint);
    let spec =
        SpecArgs { file: file.to_path_buf(), overrides: Vec::new(), profile: None, skip_data: recorded.is_some() };
    let checked = checked(&spec, recorded)?;
    let (train, graph) = (&checked.train, &checked.graph);
    let device = device(device_name)?;
    let net = load(graph, checkpoint, &device)?;
    let runner = task::runner(train.data.dataset.task);
    let dim = |i: usize| graph.inputs.first().and_then(|(_, s)| s.0[i].value()).unwrap_or(0) as usize;
    let (h, w) = (dim(2), dim(3));
    for path in images {
        let image =
            image::open(path).map_err(|e| CommandError::Image { path: path.clone(), message: e.to_string() })?;
        let original = (image.width(), image.height());
        let img = augment::Image::from_dynamic(&image, train.data.dataset.channels);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let img = augment::apply(&train.data.eval_augment, img, &mut rng, false).resize(h, w);
        let x = Tensor::<4>::from_data(TensorData::new(img.data, [1, img.c, img.h, img.w]), &device);
        let input = PredictInput { classes: &train.data.dataset.classes, original, input: (h, w), top };
        println!("{}", path.display());
        for line in runner.predict(net.forward(vec![x]), &input)? {
            println!("{line}");
        }
    }
    Ok(ExitCode::SUCCESS)
}
