//! Loading a checked `load(…)` into a compiled network through burn-store: the file's index is
//! read and vetted first ([`super::header`]: a pickle that calls anything but PyTorch's tensor
//! rebuilders is refused before burn-store opens the file), then each planned key is renamed to
//! its parameter's path (`layers.<module path>.<param>`) and applied with burn's
//! `PyTorchToBurnAdapter` (linear weights transposed, norm `weight`/`bias` → `gamma`/`beta`).

use std::collections::BTreeMap;

use burn::module::Param;
use burn::store::{
    ApplyResult, KeyRemapper, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter, PytorchStore, SafetensorsStore,
};
use burn::tensor::{Tensor, TensorData};

use super::header::{self, WeightsFormat};
use super::plan::{self, KeyMap};
use crate::exec::Net;
use crate::exec::net::Layer;
use crate::host::FsHost;
use crate::ir::{ModelGraph, WeightsSpec};

/// What a load did.
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Loaded {
    pub file: String,
    /// Parameters filled from the file.
    pub applied: usize,
    /// Parameters the file has no key for: they keep their initialisation (non-strict only).
    pub fresh: Vec<String>,
    /// Parameters whose file tensor has another shape: skipped (non-strict only).
    pub skipped: Vec<String>,
    /// File keys nothing took (non-strict only).
    pub unused: Vec<String>,
}

/// Why weights did not load. `check` reports all of these before a run; they can still happen
/// when the file changes between the check and the load.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error(transparent)]
    Header(#[from] header::HeaderError),
    #[error("`{file}`: {message}")]
    Plan { file: String, message: String },
    #[error("`{file}` does not fit the model: {message}")]
    Mismatch { file: String, message: String },
    #[error("`{file}`: {message}")]
    Store { file: String, message: String },
}

/// Loads one weights file into `net`.
pub fn load(net: &mut Net, graph: &ModelGraph, spec: &WeightsSpec) -> Result<Loaded, LoadError> {
    let file = spec.load.file.clone();
    let header = header::read_header(&FsHost, &spec.path)?;
    let plan =
        plan::plan(graph, spec).map_err(|e| LoadError::Plan { file: file.clone(), message: format!("{e:?}") })?;
    let shapes: BTreeMap<String, Vec<usize>> =
        header.tensors.iter().map(|(k, t)| (k.clone(), t.shape.clone())).collect();
    let cmp = plan::compare(&plan, &shapes);
    if spec.load.strict && (!cmp.missing.is_empty() || !cmp.unused.is_empty() || !cmp.mismatched.is_empty()) {
        let message = format!(
            "{} missing, {} unused and {} mismatched key(s); run `trainc check` for the list",
            cmp.missing.len(),
            cmp.unused.len(),
            cmp.mismatched.len()
        );
        return Err(LoadError::Mismatch { file, message });
    }
    let skipped: Vec<&KeyMap> = cmp.mismatched.iter().map(|(k, _)| *k).collect();
    let wanted: Vec<&KeyMap> = plan.iter().filter(|k| shapes.contains_key(&k.source) && !skipped.contains(k)).collect();
    let (packed, direct): (Vec<&KeyMap>, Vec<&KeyMap>) = wanted.iter().partition(|k| is_packed(k));
    let store_error = |message: String| LoadError::Store { file: file.clone(), message };
    let result = apply(net, spec, &header, &direct).map_err(store_error)?;
    if let Some(e) = result.errors.first() {
        return Err(store_error(e.to_string()));
    }
    let unpacked = unpack(net, spec, &header, &packed).map_err(store_error)?;
    let applied = result.applied.len() + unpacked;
    if applied != wanted.len() {
        return Err(store_error(format!("{applied} of {} planned tensors applied", wanted.len())));
    }
    Ok(Loaded {
        file,
        applied,
        fresh: cmp.missing.iter().map(|k| k.target()).collect(),
        skipped: skipped.iter().map(|k| k.target()).collect(),
        unused: cmp.unused,
    })
}

/// `; 2 fresh (head0.linear0.weight, …), 1 unused` for a non-strict load's summary line.
pub fn leftovers(l: &Loaded) -> String {
    let mut parts = Vec::new();
    for (n, what, list) in
        [(l.fresh.len(), "kept their initialisation", &l.fresh), (l.skipped.len(), "skipped (shape)", &l.skipped)]
    {
        if n > 0 {
            let first: Vec<&str> = list.iter().take(3).map(String::as_str).collect();
            parts.push(format!("{n} {what}: {}{}", first.join(", "), if n > 3 { ", …" } else { "" }));
        }
    }
    if !l.unused.is_empty() {
        parts.push(format!("{} file key(s) unused", l.unused.len()));
    }
    if parts.is_empty() { String::new() } else { format!("; {}", parts.join("; ")) }
}

/// The burn path of a planned key (enum variants are skipped when matching); PyTorch's
/// attention `out_proj` is burn's `output`.
fn burn_path(key: &KeyMap) -> String {
    format!("layers.{}", key.target().replace(".out_proj.", ".output."))
}

/// PyTorch packs an attention's query, key and value projections into one `in_proj_weight`
/// (`[3D, D]`) and `in_proj_bias`; burn keeps three linear layers, so a key-to-parameter
/// renaming cannot load them: they are read and split by hand ([`unpack`]).
fn is_packed(key: &KeyMap) -> bool {
    key.param.starts_with("in_proj_")
}

/// Reads the packed attention tensors and splits them into burn's query, key and value
/// layers; returns how many file tensors it applied.
fn unpack(net: &mut Net, spec: &WeightsSpec, header: &header::Header, keys: &[&KeyMap]) -> Result<usize, String> {
    if keys.is_empty() {
        return Ok(0);
    }
    let tensors = match header.format {
        WeightsFormat::Safetensors => read(&mut SafetensorsStore::from_file(&spec.path), keys)?,
        WeightsFormat::Pytorch => {
            let mut store = PytorchStore::from_file(&spec.path);
            if let Some(key) = &header.top_level_key {
                store = store.with_top_level_key(key.clone());
            }
            read(&mut store, keys)?
        }
    };
    for (key, data) in keys.iter().zip(tensors) {
        let Some(Layer::Attention(mha)) = net.layers.get_mut(&key.module) else {
            return Err(format!("`{}` is not an attention layer", key.module));
        };
        let device = mha.output.weight.val().device();
        let parts = [&mut mha.query, &mut mha.key, &mut mha.value];
        if key.param == "in_proj_weight" {
            // `[3D, D]` in PyTorch's `[out, in]` rows; burn's linear weight is `[in, out]`.
            let chunks = Tensor::<2>::from_data(data.convert::<f32>(), &device).chunk(3, 0);
            for (linear, w) in parts.into_iter().zip(chunks) {
                linear.weight = Param::from_tensor(w.transpose());
            }
        } else {
            let chunks = Tensor::<1>::from_data(data.convert::<f32>(), &device).chunk(3, 0);
            for (linear, b) in parts.into_iter().zip(chunks) {
                linear.bias = Some(Param::from_tensor(b));
            }
        }
    }
    Ok(keys.len())
}

/// The file tensors of `keys`, in order.
fn read<S: ModuleStore>(store: &mut S, keys: &[&KeyMap]) -> Result<Vec<TensorData>, String>
where
    S::Error: std::fmt::Display,
{
    keys.iter()
        .map(|k| {
            let t = store.get_tensor(&k.source).map_err(|e| e.to_string())?;
            let t = t.ok_or_else(|| format!("no tensor `{}`", k.source))?;
            burn::store::bridge::to_data(t).map_err(|e| e.to_string())
        })
        .collect()
}

/// Renames the wanted keys to their parameters and applies them; nothing else is touched.
fn apply(
    net: &mut Net,
    spec: &WeightsSpec,
    header: &header::Header,
    wanted: &[&KeyMap],
) -> Result<ApplyResult, String> {
    let patterns: Vec<(String, String)> =
        wanted.iter().map(|k| (format!("^{}$", regex_escape(&k.source)), regex_replacement(&burn_path(k)))).collect();
    let remapper = KeyRemapper::from_patterns(patterns).map_err(|e| e.to_string())?;
    match header.format {
        WeightsFormat::Safetensors => {
            let mut store = SafetensorsStore::from_file(&spec.path)
                .with_from_adapter(PyTorchToBurnAdapter)
                .remap(remapper)
                .skip_enum_variants(true)
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(true);
            net.load_from(&mut store).map_err(|e| e.to_string())
        }
        WeightsFormat::Pytorch => {
            let mut store = PytorchStore::from_file(&spec.path)
                .remap(remapper)
                .map_indices_contiguous(false)
                .allow_partial(true)
                .validate(true);
            if let Some(key) = &header.top_level_key {
                store = store.with_top_level_key(key.clone());
            }
            net.load_from(&mut store).map_err(|e| e.to_string())
        }
    }
}

/// A literal for a regex: every metacharacter escaped.
fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 2);
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A literal for a regex replacement: `$` escaped.
fn regex_replacement(s: &str) -> String {
    s.replace('$', "$$")
}
