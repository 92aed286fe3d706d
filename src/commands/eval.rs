//! `trainc eval`: a checkpoint's metrics on one split, computed exactly as validation does, with
//! boxes in the original images' pixels; printed as JSON (`--format json`, the default) or lines.

use std::path::Path;
use std::process::ExitCode;

use trainc::data::{Loader, open_splits};
use trainc::run::{RunError, Trainer};

use super::CommandError;
use super::shared::{checked, device, load};
use crate::{Format, SpecArgs};

pub fn eval(
    spec: &SpecArgs,
    checkpoint: &Path,
    split: &str,
    device_name: &str,
    format: Format,
) -> Result<ExitCode, CommandError> {
    let checked = checked(spec, None)?;
    let train = &checked.train;
    let device = device(device_name)?;
    let net = load(&checked.graph, checkpoint, &device)?;
    let splits = open_splits(&train.data.dataset)?;
    let source = splits.get(split).cloned().ok_or_else(|| RunError::NoSplit {
        dataset: train.data.dataset.name.clone(),
        split: split.into(),
        available: splits.keys().cloned().collect::<Vec<_>>().join(", "),
    })?;
    let loader = Loader::for_split(train, source, false);
    let (metrics, _) = Trainer::evaluate(train, &net, &loader, &device)?;
    match format {
        Format::Json => {
            println!("{}", serde_json::to_string_pretty(&serde_json::json!({ split: metrics })).unwrap_or_default())
        }
        Format::Human => {
            for (name, value) in &metrics {
                println!("{split}.{name:<20} {value:.4}");
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
