//! What the training commands share: checking like `trainc check` before anything runs, the
//! device from `--device`, and loading a checkpoint into the checked model.

use std::path::Path;

use burn::module::Module;
use burn::tensor::Device;

use trainc::exec::Net;
use trainc::frontend::{self, Outcome};
use trainc::host::FsHost;
use trainc::ir::{ModelGraph, TrainSpec};
use trainc::run::rundir::RunDir;
use trainc::run::{RunError, State, read_state};

use super::CommandError;
use crate::SpecArgs;

/// The checked program, its `train` block and the trained model's graph.
pub struct Checked {
    pub outcome: Outcome,
    pub train: TrainSpec,
    pub graph: ModelGraph,
}

/// Checks like `trainc check`, with the class names of a run when given; a program with errors
/// never reaches the executor.
pub fn checked(spec: &SpecArgs, classes: Option<Vec<String>>) -> Result<Checked, CommandError> {
    use std::io::IsTerminal;
    let mut options = spec.options();
    options.check.assume_classes = classes;
    let outcome = frontend::check_file(&FsHost, &spec.file, &options);
    if !outcome.diags.is_empty() {
        eprint!("{}", outcome.render(std::io::stderr().is_terminal()));
    }
    if outcome.has_errors() {
        let errors = outcome.diags.iter().filter(|d| d.is_error()).count();
        return Err(CommandError::Rejected { file: spec.file.clone(), errors });
    }
    let train = outcome.checked.train.clone().ok_or_else(|| CommandError::NoTrain { file: spec.file.clone() })?;
    // The checker infers the trained model whenever the train block checks.
    let graph = outcome.checked.models.get(&train.model).cloned().ok_or_else(|| RunError::Outputs {
        model: train.model.clone(),
        message: "the model was not inferred".into(),
    })?;
    Ok(Checked { outcome, train, graph })
}

/// The one device of `eval`, `predict` and `export`.
pub fn device(name: &str) -> Result<Device, CommandError> {
    match name.contains(',') || name.ends_with(":all") {
        true => Err(CommandError::OneDevice { name: name.into() }),
        false => one_device(name),
    }
}

/// The devices `run` and `watch` train on: one name, or a data-parallel list (`run::parallel`).
/// After the first name a bare index continues its prefix (`tch:cuda:0,1,2,3`); `tch:cuda:all`
/// is every CUDA device; a repeated name (`flex,flex`) puts replicas on one device, which trains
/// as a multi-device run would, for tests and for reproducing one on a CPU.
pub fn devices(name: &str) -> Result<Vec<Device>, CommandError> {
    match name {
        "tch:cuda:all" => all_cuda(name),
        _ => device_names(name).iter().map(|n| one_device(n)).collect(),
    }
}

/// The names in a `--device` list, each bare index completed with the first name's prefix.
fn device_names(list: &str) -> Vec<String> {
    let first = list.split(',').next().unwrap_or_default();
    let prefix = first.rsplit_once(':').map_or("", |(prefix, _)| prefix);
    let complete = |item: &str| match item.parse::<usize>() {
        Ok(_) if !prefix.is_empty() => format!("{prefix}:{item}"),
        _ => item.to_string(),
    };
    list.split(',').map(complete).collect()
}

/// The CUDA index of the first of the `--device` list `name` when every device in it is a CUDA
/// device (what NCCL joins on, `dist::Group::join`); `None` otherwise.
pub fn first_cuda(name: &str) -> Option<usize> {
    let names = device_names(name);
    match names.iter().all(|n| n.starts_with("tch:cuda")) {
        false => None,
        true => match names[0].as_str() {
            "tch:cuda:all" => Some(0),
            first => cuda_index(first)?.ok(),
        },
    }
}

/// The CUDA index `tch:cuda` or `tch:cuda:N` names (`tch:cuda` is this rank's GPU); `None` for
/// any other name, `Err` for an index that is not a number.
fn cuda_index(name: &str) -> Option<Result<usize, std::num::ParseIntError>> {
    match name {
        "tch:cuda" => Some(Ok(local_rank())),
        other => other.strip_prefix("tch:cuda:").map(str::parse),
    }
}

/// This process's rank on its machine (0 without a launcher): `tch:cuda` is its GPU, as torchrun
/// programs call `torch.cuda.set_device(LOCAL_RANK)`.
fn local_rank() -> usize {
    trainc::dist::World::from_env().map_or(0, |w| w.local_rank)
}

#[allow(deprecated)]
fn one_device(name: &str) -> Result<Device, CommandError> {
    match name {
        "flex" | "cpu" => Ok(Device::flex()),
        #[cfg(feature = "tch")]
        "tch" | "tch:cpu" => Ok(Device::libtorch()),
        #[cfg(feature = "tch")]
        other if cuda_index(other).is_some() => match cuda_index(other) {
            Some(Ok(n)) => Ok(Device::libtorch_cuda(n)),
            _ => Err(CommandError::DeviceIndex { name: other.into() }),
        },
        other if other.starts_with("tch") => Err(CommandError::NeedsTch { name: other.into() }),
        other => Err(CommandError::UnknownDevice { name: other.into() }),
    }
}

/// `tch:cuda:all`: every CUDA device libtorch sees.
fn all_cuda(name: &str) -> Result<Vec<Device>, CommandError> {
    #[cfg(feature = "tch")]
    {
        let count = tch::Cuda::device_count().max(0) as usize;
        if count == 0 {
            return Err(CommandError::NoCuda { name: name.into() });
        }
        (0..count).map(|i| one_device(&format!("tch:cuda:{i}"))).collect()
    }
    #[cfg(not(feature = "tch"))]
    Err(CommandError::NeedsTch { name: name.into() })
}

/// The model of `graph` with the weights of `checkpoint`.
pub fn load(graph: &ModelGraph, checkpoint: &Path, device: &Device) -> Result<Net, CommandError> {
    let net = Net::build(graph, device).map_err(RunError::from)?;
    let loaded = net.try_load_file(checkpoint);
    Ok(loaded.map_err(|e| RunError::Checkpoint { path: checkpoint.to_path_buf(), message: e.to_string() })?)
}

/// `sources.train`: the profile and overrides, then every source file of the program.
pub fn sources_text<'a>(spec: &SpecArgs, files: impl IntoIterator<Item = (String, &'a str)>) -> String {
    let mut out = format!("// profile: {:?}; overrides: {:?}\n", spec.profile, spec.overrides);
    for (name, text) in files {
        out.push_str(&format!("\n// ── {name} ──\n{text}\n"));
    }
    out
}

/// The run directory: reopened with its state for `--resume`, otherwise created with the resolved
/// spec and the sources.
pub fn run_dir(
    train: &TrainSpec,
    sources: &str,
    resume: Option<&Path>,
    runs_dir: &Path,
    device: &str,
) -> Result<(RunDir, Option<State>), CommandError> {
    if let Some(dir) = resume {
        return Ok((RunDir::open(dir), Some(read_state(dir)?)));
    }
    let json = serde_json::to_string_pretty(train).unwrap_or_default();
    let run = RunDir::create(runs_dir, &train.name, &json, sources, train.seed, device)
        .map_err(|source| CommandError::RunDir { root: runs_dir.to_path_buf(), source })?;
    trainc::run::manifest::write(&run.path, &train.data.dataset)
        .map_err(|source| CommandError::Manifest { dir: run.path.clone(), source })?;
    Ok((run, None))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_device_list_completes_bare_indices_with_the_first_prefix() {
        assert_eq!(device_names("tch:cuda:0,1,3"), ["tch:cuda:0", "tch:cuda:1", "tch:cuda:3"]);
        assert_eq!(device_names("flex,flex"), ["flex", "flex"]);
        assert_eq!(device_names("tch:cuda:0,tch:cuda:2"), ["tch:cuda:0", "tch:cuda:2"]);
        assert_eq!(device_names("flex,1"), ["flex", "1"], "flex has no indices: `1` is refused by name");
        assert!(matches!(devices("flex,1"), Err(CommandError::UnknownDevice { name }) if name == "1"));
        assert_eq!(devices("flex,flex").map(|d| d.len()).ok(), Some(2));
        assert!(matches!(device("flex,flex"), Err(CommandError::OneDevice { .. })));
    }
}
