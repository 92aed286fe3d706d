//! `weights = load(…)` (or a list of them): each load is typed, its rename rules parsed (`"from ->
//! to"`: the file's `from…` keys are the model's `to…` names — torchvision's with `names =
//! torchvision`, else module paths relative to `into`) and its
//! file's index (the safetensors header or the `.pt` pickle, never the tensor data) set against
//! the model's inferred shapes, so a missing file, a missing or unused key and every shape
//! that disagrees are reported before any data is read.

use std::collections::BTreeMap;
use std::path::Path;

use super::Sink;
use super::builtins::Kind;
use super::data::builtin_call;
use super::error::CheckError;
use super::spec::typed;
use crate::host::Host;
use crate::ir::{Load, ModelGraph, Rename, WeightsSpec};
use crate::suggest;
use crate::syntax::ast::{Expr, ExprKind};
use crate::syntax::span::Span;
use crate::weights::header;
use crate::weights::plan::{self, Comparison, KeyMap, PlanError, show_shape};

/// How many names a message lists before "and N more".
const LISTED: usize = 6;

/// Checks `weights = …` against the model (when it checked).
pub fn check(
    sink: &mut Sink,
    host: &dyn Host,
    dir: &Path,
    expr: &Expr,
    graph: Option<&ModelGraph>,
) -> Vec<WeightsSpec> {
    let items: Vec<&Expr> = match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    };
    items.into_iter().filter_map(|e| one(sink, host, dir, e, graph)).collect()
}

fn one(sink: &mut Sink, host: &dyn Host, dir: &Path, e: &Expr, graph: Option<&ModelGraph>) -> Option<WeightsSpec> {
    let call = builtin_call(sink, e, Kind::Weights, "weights = load(\"resnet18.pth\", names = torchvision)")?;
    let load = typed::<Load>(sink, &call, Kind::Weights, e.span)?;
    let rules = rules(sink, &load.rename, e.span)?;
    let spec = WeightsSpec { path: dir.join(&load.file), load, rules };
    if let Some(graph) = graph {
        validate(sink, host, &spec, graph, e.span);
    }
    Some(spec)
}

/// `"fc -> classifier0.linear0"` (or `→`) rules.
fn rules(sink: &mut Sink, written: &[String], at: Span) -> Option<Vec<Rename>> {
    let mut out = Vec::new();
    let mut ok = true;
    for rule in written {
        let parts = rule.split_once("->").or_else(|| rule.split_once('→'));
        match parts.map(|(a, b)| (a.trim(), b.trim())) {
            // An empty side is the root: `"model -> "` reads the file's `model.…` keys.
            Some((from, to)) if (!from.is_empty() || !to.is_empty()) && !to.contains(' ') && !from.contains(' ') => {
                out.push(Rename { from: from.into(), to: to.into() });
            }
            _ => {
                sink.push(at.file, CheckError::WeightsRename { rule: rule.clone(), at: at.into() });
                ok = false;
            }
        }
    }
    ok.then_some(out)
}

/// The plan against the file's index.
fn validate(sink: &mut Sink, host: &dyn Host, spec: &WeightsSpec, graph: &ModelGraph, at: Span) {
    let plan = match plan::plan(graph, spec) {
        Ok(plan) => plan,
        Err(e) => return sink.push(at.file, plan_error(e, spec, graph, at)),
    };
    let Some(shapes) = file_shapes(sink, host, spec, at) else { return };
    let cmp = plan::compare(&plan, &shapes);
    if spec.load.strict {
        strict(sink, spec, &cmp, at);
    } else {
        lenient(sink, spec, &cmp, at);
    }
}

/// Every tensor's shape in the file, or a reported error.
fn file_shapes(sink: &mut Sink, host: &dyn Host, spec: &WeightsSpec, at: Span) -> Option<BTreeMap<String, Vec<usize>>> {
    let file = spec.load.file.clone();
    if !host.exists(&spec.path) {
        let help = "the path is relative to the `.train` file; save the weights there \
                    (`torch.save(model.state_dict(), path)` or `safetensors.torch.save_file`)";
        sink.push(
            at.file,
            CheckError::WeightsFile { file, message: "not found".into(), help: help.into(), at: at.into() },
        );
        return None;
    }
    match header::read_header(host, &spec.path) {
        Ok(h) => Some(h.tensors.into_iter().map(|(k, t)| (k, t.shape)).collect()),
        Err(e) => {
            let help = miette::Diagnostic::help(&e).map_or_else(
                || "trainc reads `.pt`/`.pth` files saved by `torch.save` and `.safetensors` files".to_string(),
                |h| h.to_string(),
            );
            sink.push(at.file, CheckError::WeightsFile { file, message: e.to_string(), help, at: at.into() });
            None
        }
    }
}

fn plan_error(e: PlanError, spec: &WeightsSpec, graph: &ModelGraph, at: Span) -> CheckError {
    let (message, help, label) = match e {
        PlanError::UnknownInto { into, known } => (
            format!("`into = \"{into}\"` names no module of model `{}`", graph.name),
            suggest::help(&into, &known, "`trainc check --shapes FILE` lists the module paths"),
            "no such module".to_string(),
        ),
        PlanError::NoBackbone => (
            format!("`names = torchvision`: no stdlib backbone in {}", shown_into(spec)),
            "torchvision names cover the ResNets of `std/backbones`; for other modules use `rename` rules".into(),
            "no ResNet here".into(),
        ),
        PlanError::SeveralBackbones(list) => (
            format!("`names = torchvision`: {} backbones in {}", list.len(), shown_into(spec)),
            format!("choose one with `into = \"{}\"`", list.first().map_or("", String::as_str)),
            format!("which of {}?", list.join(", ")),
        ),
    };
    CheckError::WeightsTarget { message, help, label, at: at.into() }
}

fn shown_into(spec: &WeightsSpec) -> String {
    match spec.into() {
        "" => "the model".into(),
        into => format!("`{into}`"),
    }
}

fn strict(sink: &mut Sink, spec: &WeightsSpec, cmp: &Comparison, at: Span) {
    let file = spec.load.file.clone();
    if !cmp.missing.is_empty() {
        let keys = listed(cmp.missing.iter().map(|k| format!("`{}` (file key `{}`)", k.target(), k.source)));
        let help = "map the names with `names = torchvision` or `rename = [\"from -> to\"]`, or load with \
                    `strict = false` to keep the model's own initialisation for them";
        let count = cmp.missing.len();
        sink.push(
            at.file,
            CheckError::WeightsMissing { file: file.clone(), count, keys, help: help.into(), at: at.into() },
        );
    }
    if !cmp.unused.is_empty() {
        let keys = listed(cmp.unused.iter().map(|k| format!("`{k}`")));
        let help = "map them with `rename = [\"from -> to\"]`, or load with `strict = false` to ignore them";
        let count = cmp.unused.len();
        sink.push(
            at.file,
            CheckError::WeightsUnused { file: file.clone(), count, keys, help: help.into(), at: at.into() },
        );
    }
    for (key, found) in &cmp.mismatched {
        let (module, param, expected, found) = shapes(key, found);
        let help = "a different layer size than the file's; load with `strict = false` to skip it and keep \
                    the model's initialisation (a new classifier head, for example)";
        let key = key.source.clone();
        let file = file.clone();
        let help = help.into();
        sink.push(at.file, CheckError::WeightsShape { file, module, param, key, expected, found, help, at: at.into() });
    }
}

fn lenient(sink: &mut Sink, spec: &WeightsSpec, cmp: &Comparison, at: Span) {
    let file = spec.load.file.clone();
    for (key, found) in &cmp.mismatched {
        let (module, param, expected, found) = shapes(key, found);
        let key = key.source.clone();
        let file = file.clone();
        sink.push(at.file, CheckError::WeightsSkipped { file, module, param, key, expected, found, at: at.into() });
    }
    if cmp.matched == 0 {
        let help = "`trainc check --shapes` lists the model's module paths; map the file's names with \
                    `names = torchvision` or `rename` rules";
        sink.push(at.file, CheckError::WeightsNothing { file, help: help.into(), at: at.into() });
    }
}

fn shapes(key: &KeyMap, found: &[usize]) -> (String, String, String, String) {
    (key.module.clone(), key.param.to_string(), show_shape(&key.shape), show_shape(found))
}

/// `a, b, c and 4 more`.
fn listed(items: impl Iterator<Item = String>) -> String {
    let all: Vec<String> = items.collect();
    let shown = all.iter().take(LISTED).cloned().collect::<Vec<_>>().join(", ");
    match all.len().saturating_sub(LISTED) {
        0 => shown,
        more => format!("{shown} and {more} more"),
    }
}
