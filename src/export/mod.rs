//! Export: a trained [`Net`] as ONNX ([`onnx`], our own writer from the compiled plan) or as
//! safetensors in PyTorch's layout ([`safetensors`]), each with a `labels.json` beside it
//! ([`labels`]). `trainc export` and `train { export = … }` (at the end of a run) both go
//! through [`Exporter`].
//!
//! With `--sample`, `trainc export` also writes `sample.safetensors`: a fixed pseudo-random
//! input (`input.<name>`) and trainc's own outputs for it (`output.<name>`), so a deployment can
//! check that its runtime reproduces trainc's numbers (the tests compare onnxruntime with it).

pub mod labels;
pub mod names;
pub mod onnx;
pub mod proto;
pub mod safetensors;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use burn::tensor::{Device, Tensor, TensorData};
use miette::Diagnostic;
use rand::{Rng, SeedableRng};

use crate::exec::{Act, Net};
use crate::ir::{ExportFormat, ModelGraph, Names, TrainSpec};
use labels::{Batch, Labels};

/// Why a model could not be exported.
#[derive(Debug, thiserror::Error, Diagnostic)]
pub enum ExportError {
    #[error("layer `{path}` cannot be exported to {format}: {why}")]
    #[diagnostic(
        code(trainc::export::unsupported),
        help("export to the other format, or replace the layer; please report it: every layer should export")
    )]
    Unsupported { path: String, format: &'static str, why: String },

    #[error("input `{input}` of model `{model}` has dimension `{dim}`, which is not known")]
    #[diagnostic(code(trainc::export::symbolic), help("bind the model to data with a fixed image size"))]
    Symbolic { model: String, input: String, dim: String },

    #[error("cannot read the tensor `{path}`: {message}")]
    #[diagnostic(code(trainc::export::tensor))]
    Tensor { path: String, message: String },

    #[error("cannot write {path}: {source}")]
    #[diagnostic(code(trainc::export::write), help("check that the output folder exists and is writable"))]
    Write { path: PathBuf, source: std::io::Error },

    #[error("cannot write the safetensors file {path}: {message}")]
    #[diagnostic(code(trainc::export::safetensors))]
    Safetensors { path: PathBuf, message: String },
}

/// A model to export, with what `labels.json` says about it.
pub struct Exporter<'a> {
    pub net: &'a Net,
    pub graph: &'a ModelGraph,
    pub train: &'a TrainSpec,
    pub device: &'a Device,
    /// The weights are the EMA's.
    pub ema: bool,
    /// ONNX: the batch dimension is the symbol `batch` instead of 1.
    pub dynamic_batch: bool,
    /// safetensors: torchvision's names for a stdlib backbone ([`names`]) or module paths.
    pub names: Names,
    /// safetensors: `(from, to)` prefix rules applied to the keys after `names`, first match
    /// wins (`classifier0.linear0 -> head`).
    pub rename: &'a [(String, String)],
}

/// `key` with the first rule whose `from` is `key` or a dotted prefix of it applied.
pub fn renamed(key: &str, rules: &[(String, String)]) -> String {
    for (from, to) in rules {
        if let Some(rest) = key.strip_prefix(from.as_str())
            && (rest.is_empty() || rest.starts_with('.'))
        {
            return format!("{to}{rest}");
        }
    }
    key.to_string()
}

/// The values of a tensor as `f32`.
fn f32s(path: &str, data: &TensorData) -> Result<Vec<f32>, ExportError> {
    data.try_to_vec_as::<f32>().map_err(|e| ExportError::Tensor { path: path.into(), message: format!("{e:?}") })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    std::fs::write(path, bytes).map_err(|source| ExportError::Write { path: path.to_path_buf(), source })
}

/// The tensor of an activation with its shape.
fn flat(act: Act) -> (Vec<usize>, TensorData) {
    match act {
        Act::D2(t) => (t.dims().to_vec(), t.into_data()),
        Act::D3(t) => (t.dims().to_vec(), t.into_data()),
        Act::D4(t) => (t.dims().to_vec(), t.into_data()),
    }
}

impl Exporter<'_> {
    /// Writes the model in `format` to `output` and `labels.json` beside it; returns the path
    /// of `labels.json`.
    pub fn write(&self, format: ExportFormat, output: &Path) -> Result<PathBuf, ExportError> {
        match format {
            ExportFormat::Onnx => {
                write_file(output, &onnx::write(self.net, self.graph, self.device, self.dynamic_batch)?)?
            }
            ExportFormat::Safetensors => {
                let paths: Vec<&str> = self.net.layers.names().iter().map(String::as_str).collect();
                let modules = names::module_names(&paths, self.names);
                let module = |path: &str| modules.get(path).cloned().unwrap_or_else(|| path.to_string());
                let entries = safetensors::entries(self.net, &module, &|key| renamed(key, self.rename))?;
                let meta = HashMap::from([
                    ("format".to_string(), "pt".to_string()),
                    ("model".to_string(), self.graph.name.clone()),
                ]);
                safetensors::write(&entries, meta, output)?;
            }
        }
        let labels = self.labels()?;
        let path = output.with_file_name("labels.json");
        let json = serde_json::to_string_pretty(&labels).unwrap_or_default();
        write_file(&path, json.as_bytes())?;
        Ok(path)
    }

    fn batch(&self) -> Batch {
        if self.dynamic_batch { Batch::Dynamic } else { Batch::Fixed(1) }
    }

    fn labels(&self) -> Result<Labels, ExportError> {
        let shapes = onnx::input_shapes(self.graph)?;
        let inputs = self
            .graph
            .inputs
            .iter()
            .zip(&shapes)
            .map(|((name, _), s)| labels::Input {
                name: name.clone(),
                shape: s[1..].to_vec(),
                batch: self.batch(),
                layout: "NCHW",
            })
            .collect();
        let outputs = self
            .outputs(1)?
            .into_iter()
            .map(|(name, _, shape)| labels::Output { name, shape: shape[1..].to_vec() })
            .collect();
        Ok(Labels {
            model: self.graph.name.clone(),
            task: self.train.data.dataset.task,
            weights: if self.ema { "ema" } else { "trained" },
            classes: self.train.data.dataset.classes.clone(),
            inputs,
            normalize: labels::normalization(self.train),
            outputs,
        })
    }

    /// A fixed pseudo-random input of `batch` samples per model input (uniform in [-2, 2),
    /// seed 0) and trainc's outputs for it: `(name, data, shape)` each.
    #[allow(clippy::type_complexity)]
    fn sample(
        &self,
        batch: usize,
    ) -> Result<(Vec<(String, Vec<f32>, Vec<usize>)>, Vec<(String, TensorData, Vec<usize>)>), ExportError> {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(0);
        let mut inputs = Vec::new();
        for ((name, _), s) in self.graph.inputs.iter().zip(onnx::input_shapes(self.graph)?) {
            let shape = vec![batch, s[1], s[2], s[3]];
            let data: Vec<f32> = (0..shape.iter().product()).map(|_| rng.random_range(-2.0..2.0)).collect();
            inputs.push((name.clone(), data, shape));
        }
        let tensors = inputs
            .iter()
            .map(|(_, d, s)| Tensor::<4>::from_data(TensorData::new(d.clone(), [s[0], s[1], s[2], s[3]]), self.device))
            .collect();
        let outputs = self
            .net
            .forward(tensors)
            .into_iter()
            .map(|(name, act)| {
                let (shape, data) = flat(act);
                (name, data, shape)
            })
            .collect();
        Ok((inputs, outputs))
    }

    /// Each output's name, values and shape for a sample of `batch`.
    fn outputs(&self, batch: usize) -> Result<Vec<(String, TensorData, Vec<usize>)>, ExportError> {
        Ok(self.sample(batch)?.1)
    }

    /// Writes `sample.safetensors` into `dir`: the sample input (2 samples with a dynamic batch,
    /// else 1) as `input.<name>` and trainc's outputs for it as `output.<name>`.
    pub fn write_sample(&self, dir: &Path) -> Result<PathBuf, ExportError> {
        let batch = if self.dynamic_batch { 2 } else { 1 };
        let (inputs, outputs) = self.sample(batch)?;
        let mut entries = Vec::new();
        for (name, data, shape) in inputs {
            let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
            entries.push(safetensors::Entry {
                key: format!("input.{name}"),
                dtype: ::safetensors::Dtype::F32,
                shape,
                bytes,
            });
        }
        for (name, data, shape) in outputs {
            let v = f32s(&name, &data)?;
            let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
            entries.push(safetensors::Entry {
                key: format!("output.{name}"),
                dtype: ::safetensors::Dtype::F32,
                shape,
                bytes,
            });
        }
        let path = dir.join("sample.safetensors");
        safetensors::write(&entries, HashMap::from([("model".to_string(), self.graph.name.clone())]), &path)?;
        Ok(path)
    }
}

#[cfg(test)]
mod tests {
    use super::renamed;

    #[test]
    fn rename_rules_match_whole_path_segments() {
        let rules = vec![("classifier0.linear0".to_string(), "fc".to_string()), ("a".to_string(), "b".to_string())];
        assert_eq!(renamed("classifier0.linear0.weight", &rules), "fc.weight");
        assert_eq!(renamed("classifier0.linear01.weight", &rules), "classifier0.linear01.weight");
        assert_eq!(renamed("a", &rules), "b");
        assert_eq!(renamed("ab.weight", &rules), "ab.weight");
    }
}
