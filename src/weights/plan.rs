//! The load plan of a `load(…)`: for every parameter it fills, the key in the file and the shape
//! the checker inferred (PyTorch's layout, see [`Op::tensors`]). [`compare`] sets a plan against
//! a file's index: `check` does it on the header alone, `run` loads the same table.

use std::collections::{BTreeMap, BTreeSet};

use super::torchvision;
use crate::check::dim::Dim;
use crate::ir::{ModelGraph, Names, Op, Rename, WeightsSpec, relative_to};
use crate::syntax::span::Span;

/// One parameter a load fills.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyMap {
    /// The key in the file: `layer1.0.conv1.weight`.
    pub source: String,
    /// The module path in the model: `resnet180.basic_block0.conv_bn_relu0.conv2d0`.
    pub module: String,
    /// PyTorch's parameter name: `weight`, `bias`, `running_mean`, `running_var`, `query.weight`
    /// (attention), or empty for a `param`, which is its module path itself.
    pub param: &'static str,
    /// The inferred shape, in PyTorch's layout.
    pub shape: Vec<Dim>,
    /// The layer's call, for diagnostics.
    pub span: Span,
}

impl KeyMap {
    /// The parameter's name in the model, as `check --shapes` and messages show it.
    pub fn target(&self) -> String {
        join(&self.module, self.param)
    }
}

/// Why there is no plan.
#[derive(Debug, Clone, PartialEq)]
pub enum PlanError {
    /// `into` names no module; the known prefixes, for a suggestion.
    UnknownInto { into: String, known: Vec<String> },
    /// `names = torchvision` with no stdlib backbone under `into`.
    NoBackbone,
    /// `names = torchvision` with several backbones under `into`: which one is ambiguous.
    SeveralBackbones(Vec<String>),
}

/// Layers with tensors, in call order, with their module paths.
fn layers(graph: &ModelGraph) -> Vec<(&str, &Op, Span)> {
    let mut nodes: Vec<_> = graph.graph.node_indices().collect();
    nodes.sort();
    nodes
        .into_iter()
        .map(|i| &graph.graph[i])
        .filter(|n| !n.op.tensors().is_empty())
        .map(|n| (n.path.as_str(), &n.op, n.span))
        .collect()
}

/// `module.name`; either may be empty (the root module; a `param`, which is its module path).
fn join(module: &str, name: &str) -> String {
    match (module.is_empty(), name.is_empty()) {
        (true, _) => name.to_string(),
        (false, true) => module.to_string(),
        (false, false) => format!("{module}.{name}"),
    }
}

/// Every module path prefix of the model (`resnet180`, `resnet180.stem0`, …), for suggestions.
pub fn prefixes(graph: &ModelGraph) -> Vec<String> {
    let mut out = BTreeSet::new();
    for (path, _, _) in layers(graph) {
        let mut at = 0;
        for part in path.split('.') {
            at += part.len();
            out.insert(path[..at].to_string());
            at += 1;
        }
    }
    out.into_iter().collect()
}

/// The table of a load: which file key fills which parameter.
pub fn plan(graph: &ModelGraph, spec: &WeightsSpec) -> Result<Vec<KeyMap>, PlanError> {
    let into = spec.into();
    let targets: Vec<(&str, &str, &Op, Span)> =
        layers(graph).into_iter().filter_map(|(p, op, span)| Some((p, relative_to(p, into)?, op, span))).collect();
    if targets.is_empty() {
        return Err(PlanError::UnknownInto { into: into.to_string(), known: prefixes(graph) });
    }
    let relative: Vec<&str> = targets.iter().map(|t| t.1).collect();
    let preset = match spec.names() {
        Names::Trainc => BTreeMap::new(),
        Names::Torchvision => torchvision_names(into, &relative)?,
    };
    let mut out = Vec::new();
    for (path, rel, op, span) in targets {
        // The canonical name (torchvision's, or the path itself), then the file's prefixes.
        let canonical = preset.get(rel).cloned().unwrap_or_else(|| rel.to_string());
        let module = renamed(&spec.rules, &canonical).unwrap_or(canonical);
        for (param, shape) in op.tensors() {
            out.push(KeyMap { source: join(&module, param), module: path.to_string(), param, shape, span });
        }
    }
    Ok(out)
}

/// The file's module name for a canonical one, by the first rule whose `to` covers it
/// (`"model -> "` reads every name under `model.` in the file).
fn renamed(rules: &[Rename], rel: &str) -> Option<String> {
    rules.iter().find_map(|r| {
        let rest = relative_to(rel, &r.to)?;
        Some(if rest.is_empty() { r.from.clone() } else { join(&r.from, rest) })
    })
}

/// torchvision's names for the paths under `into`: `into` is a backbone instance, or holds
/// exactly one (and maybe a `classifier` head, torchvision's `fc`).
fn torchvision_names(into: &str, relative: &[&str]) -> Result<BTreeMap<String, String>, PlanError> {
    let last = into.rsplit('.').next().unwrap_or("");
    if let Some(family) = torchvision::family(last) {
        return Ok(torchvision::backbone(family, relative));
    }
    torchvision::with_one_backbone(relative).map_err(|found| match found.as_slice() {
        [] => PlanError::NoBackbone,
        many => PlanError::SeveralBackbones(many.iter().map(|m| join(into, m)).collect()),
    })
}

/// A plan set against a file's tensors.
#[derive(Debug, Default)]
pub struct Comparison<'p> {
    /// Parameters the file has no key for.
    pub missing: Vec<&'p KeyMap>,
    /// File keys no parameter takes (`num_batches_tracked` counters excepted).
    pub unused: Vec<String>,
    /// Parameters whose file tensor has another shape, with the shape found.
    pub mismatched: Vec<(&'p KeyMap, Vec<usize>)>,
    /// Parameters that load.
    pub matched: usize,
}

/// Which parameters a file fills, lacks or contradicts.
pub fn compare<'p>(plan: &'p [KeyMap], file: &BTreeMap<String, Vec<usize>>) -> Comparison<'p> {
    let mut c = Comparison::default();
    for key in plan {
        match file.get(&key.source) {
            None => c.missing.push(key),
            Some(found) if !fits(&key.shape, found) => c.mismatched.push((key, found.clone())),
            Some(_) => c.matched += 1,
        }
    }
    let taken: BTreeSet<&str> = plan.iter().map(|k| k.source.as_str()).collect();
    c.unused =
        file.keys().filter(|k| !taken.contains(k.as_str()) && !k.ends_with("num_batches_tracked")).cloned().collect();
    c
}

/// Same rank and no known dimension that differs (symbolic ones are unknown until data binds them).
fn fits(expected: &[Dim], found: &[usize]) -> bool {
    expected.len() == found.len() && expected.iter().zip(found).all(|(e, f)| e.value().is_none_or(|v| v == *f as i64))
}

/// `[64, 3, 7, 7]`.
pub fn show_shape<T: std::fmt::Display>(dims: &[T]) -> String {
    let parts: Vec<String> = dims.iter().map(ToString::to_string).collect();
    format!("[{}]", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_at_dot_boundaries() {
        assert_eq!(relative_to("resnet180.stem0", "resnet180"), Some("stem0"));
        assert_eq!(relative_to("resnet180", "resnet180"), Some(""));
        assert_eq!(relative_to("resnet1800.stem0", "resnet180"), None);
        assert_eq!(relative_to("a.b", ""), Some("a.b"));
    }

    #[test]
    fn rules_rename_prefixes() {
        let rules = vec![Rename { from: "fc".into(), to: "head0.linear0".into() }];
        assert_eq!(renamed(&rules, "head0.linear0"), Some("fc".into()));
        assert_eq!(renamed(&rules, "head0.linear1"), None);
        let rules = vec![Rename { from: "backbone".into(), to: "resnet180".into() }];
        assert_eq!(renamed(&rules, "resnet180.stem0.conv2d0"), Some("backbone.stem0.conv2d0".into()));
        let rules = vec![Rename { from: "model".into(), to: "".into() }];
        assert_eq!(renamed(&rules, "layer1.0.conv1"), Some("model.layer1.0.conv1".into()));
    }

    #[test]
    fn symbolic_dims_fit_any_size() {
        assert!(fits(&[Dim::sym("classes"), Dim::known(512)], &[10, 512]));
        assert!(!fits(&[Dim::known(64)], &[32]));
        assert!(!fits(&[Dim::known(64)], &[64, 1]));
    }
}
