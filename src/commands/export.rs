//! `trainc export`: a checkpoint as ONNX or as safetensors in PyTorch's layout, with
//! `labels.json` beside it (and, with `--sample`, `sample.safetensors`: an input and trainc's
//! outputs for it, to check another runtime against). When the run used EMA, the EMA weights
//! are exported: best checkpoints hold them already, and `last.bpk` is replaced by the
//! `ema.bpk` saved beside it.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trainc::export::Exporter;
use trainc::ir::{ExportFormat, Names};
use trainc::run::RunError;

use super::CommandError;
use super::predict::recorded_classes;
use super::shared::{checked, device, load};
use crate::SpecArgs;

/// What `trainc export` was asked for.
pub struct ExportArgs<'a> {
    pub checkpoint: &'a Path,
    pub format: ExportFormat,
    pub output: &'a Path,
    pub dynamic_batch: bool,
    pub sample: bool,
    pub device: &'a str,
    /// safetensors: torchvision's names for a stdlib backbone, or module paths.
    pub names: Names,
    /// `--rename "FROM -> TO"` rules for safetensors keys.
    pub rename: &'a [String],
}

/// `"classifier0.linear0 -> fc"` as `(from, to)`.
fn rename_rule(rule: &str) -> Result<(String, String), CommandError> {
    match rule.split_once("->").map(|(a, b)| (a.trim(), b.trim())) {
        Some((from, to)) if !from.is_empty() && !to.is_empty() => Ok((from.into(), to.into())),
        _ => Err(CommandError::Rename { rule: rule.into() }),
    }
}

/// The weights file to export and whether they are the EMA's.
fn weights_file(checkpoint: &Path, ema_on: bool) -> (PathBuf, bool) {
    let name = checkpoint.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !ema_on {
        return (checkpoint.to_path_buf(), false);
    }
    let ema = checkpoint.with_file_name("ema.bpk");
    match name.as_str() {
        "last.bpk" if ema.exists() => (ema, true),
        "ema.bpk" => (checkpoint.to_path_buf(), true),
        n if n.starts_with("best-") => (checkpoint.to_path_buf(), true),
        _ => (checkpoint.to_path_buf(), false),
    }
}

pub fn export(spec: &SpecArgs, args: &ExportArgs) -> Result<ExitCode, CommandError> {
    let rename = args.rename.iter().map(|r| rename_rule(r)).collect::<Result<Vec<_>, _>>()?;
    let recorded = recorded_classes(args.checkpoint);
    let spec = SpecArgs { skip_data: spec.skip_data || recorded.is_some(), ..spec.clone() };
    let checked = checked(&spec, recorded)?;
    let device = device(args.device)?;
    let (file, ema) = weights_file(args.checkpoint, checked.train.ema.is_some());
    let net = load(&checked.graph, &file, &device)?;
    if let Some(dir) = args.output.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(RunError::write(dir))?;
    }
    let exporter = Exporter {
        net: &net,
        graph: &checked.graph,
        train: &checked.train,
        device: &device,
        ema,
        dynamic_batch: args.dynamic_batch,
        names: args.names,
        rename: &rename,
    };
    let labels = exporter.write(args.format, args.output)?;
    let weights = if ema { "EMA weights" } else { "weights" };
    println!("{} ({weights} of {})", args.output.display(), file.display());
    println!("{}", labels.display());
    if args.sample {
        let dir = args.output.parent().unwrap_or(Path::new("."));
        println!("{}", exporter.write_sample(dir)?.display());
    }
    Ok(ExitCode::SUCCESS)
}
