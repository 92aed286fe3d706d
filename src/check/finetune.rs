//! `freeze = [frozen("resnet180", epochs = 2)]` and `groups = [group("resnet180", lr = 0.1)]`:
//! which parameters train, and how fast. Both name module path prefixes, as `trainc check
//! --shapes` prints them; a prefix covers the path it names and everything below it at a `.`
//! boundary ([`ir::under`]). A prefix that covers no module is an error with a did-you-mean over
//! every path and parent path of the model; a freeze that never ends before training does, and a
//! freeze that leaves nothing to train, are warnings.

use std::collections::BTreeSet;

use super::Sink;
use super::builtins::Kind;
use super::data::builtin_call;
use super::error::CheckError;
use super::spec::typed;
use crate::ir::{self, Call, Frozen, LrGroup, ModelGraph, Op, Value};
use crate::suggest;
use crate::syntax::ast::{Expr, ExprKind};
use crate::syntax::span::Span;

/// The two lists of the `train` block, with the model they apply to and the run's length.
pub struct Finetune<'e> {
    pub freeze: Option<&'e Expr>,
    pub groups: Option<&'e Expr>,
    pub graph: Option<&'e ModelGraph>,
    pub epochs: usize,
}

impl Finetune<'_> {
    /// The typed rules; `groups` shortest prefix first, so the longest matching one is applied last.
    pub fn check(&self, sink: &mut Sink) -> (Vec<Frozen>, Vec<LrGroup>) {
        let modules = self.graph.map(modules);
        let mut freeze = Vec::new();
        let mut seen = BTreeSet::new();
        for item in self.freeze.map(items).unwrap_or_default() {
            let Some((call, at)) = rule(sink, item, FROZEN) else { continue };
            let Some(frozen) = typed::<Frozen>(sink, &call, Kind::Param, item.span) else { continue };
            if !self.known(sink, &modules, &frozen.path, at) || !once(sink, &mut seen, &frozen.path, "`freeze`", at) {
                continue;
            }
            if let Some(n) = frozen.epochs.filter(|n| *n >= self.epochs) {
                let (path, epochs) = (frozen.path.clone(), self.epochs);
                sink.push(item.span.file, CheckError::NeverUnfrozen { path, frozen: n, epochs, at: item.span.into() });
            }
            freeze.push(frozen);
        }
        if let (Some(graph), Some(list)) = (self.graph, self.freeze) {
            self.all_frozen(sink, graph, &freeze, list.span);
        }
        let mut groups = Vec::new();
        let mut seen = BTreeSet::new();
        for item in self.groups.map(items).unwrap_or_default() {
            let Some((call, at)) = rule(sink, item, GROUP) else { continue };
            let Some(group) = typed::<LrGroup>(sink, &call, Kind::Param, item.span) else { continue };
            if self.known(sink, &modules, &group.path, at) && once(sink, &mut seen, &group.path, "`groups`", at) {
                groups.push(group);
            }
        }
        groups.sort_by_key(|g| g.path.len());
        (freeze, groups)
    }

    /// Whether `path` covers a module of the model (always, when the model did not check).
    fn known(&self, sink: &mut Sink, modules: &Option<BTreeSet<String>>, path: &str, at: Span) -> bool {
        let (Some(graph), Some(modules)) = (self.graph, modules) else { return true };
        if modules.contains(path) {
            return true;
        }
        let top: Vec<&str> = modules.iter().filter(|m| !m.contains('.')).map(String::as_str).collect();
        let help = suggest::help(
            path,
            modules.iter().map(String::as_str),
            format!(
                "module paths are those of `trainc check --shapes`; the top-level ones are {}",
                top.iter().map(|m| format!("`{m}`")).collect::<Vec<_>>().join(", ")
            ),
        );
        sink.push(
            at.file,
            CheckError::UnknownModule { path: path.into(), model: graph.name.clone(), help, at: at.into() },
        );
        false
    }

    /// Warns when every layer with parameters is frozen until training ends.
    fn all_frozen(&self, sink: &mut Sink, graph: &ModelGraph, freeze: &[Frozen], at: Span) {
        let forever: Vec<&str> =
            freeze.iter().filter(|f| f.epochs.is_none_or(|n| n >= self.epochs)).map(|f| f.path.as_str()).collect();
        let mut trained = graph.graph.node_weights().filter(|n| n.params.value() != Some(0)).peekable();
        if forever.is_empty() || trained.peek().is_none() {
            return;
        }
        if trained.all(|n| forever.iter().any(|p| ir::under(&n.path, p))) {
            sink.push(at.file, CheckError::AllFrozen { model: graph.name.clone(), at: at.into() });
        }
    }
}

/// What each list holds, for the error when a rule is in the other list.
struct Wanted {
    name: &'static str,
    what: &'static str,
    other: &'static str,
    help: &'static str,
}

const FROZEN: Wanted = Wanted {
    name: "frozen",
    what: "a freeze rule",
    other: "a learning-rate group",
    help: "`freeze` lists `frozen(\"path\")` or `frozen(\"path\", epochs = 2)`; learning rates go in `groups`",
};

const GROUP: Wanted = Wanted {
    name: "group",
    what: "a learning-rate group",
    other: "a freeze rule",
    help: "`groups` lists `group(\"path\", lr = 0.1)`; freezing goes in `freeze`",
};

/// The items of a list, or the one item written without brackets.
fn items(expr: &Expr) -> Vec<&Expr> {
    match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    }
}

/// The bound call of one item and the span of its path; a bare string is `frozen(path)`.
fn rule(sink: &mut Sink, item: &Expr, want: Wanted) -> Option<(Call, Span)> {
    if let (ExprKind::Str(path), "frozen") = (&item.kind, want.name) {
        let args = [("path".to_string(), Value::Str(path.clone()))].into();
        return Some((Call { name: want.name.into(), args }, item.span));
    }
    let example =
        format!("{} = [{}(\"backbone\")]", if want.name == "frozen" { "freeze" } else { "groups" }, want.name);
    let call = builtin_call(sink, item, Kind::Param, &example)?;
    let ExprKind::Call { callee, args } = &item.kind else { return None };
    if call.name != want.name {
        sink.push(
            callee.span.file,
            CheckError::WrongKind {
                name: call.name.clone(),
                found: want.other.into(),
                expected: want.what.into(),
                help: want.help.into(),
                at: callee.span.into(),
            },
        );
        return None;
    }
    let path = args.iter().find(|a| a.name.as_ref().is_none_or(|n| n.name == "path"));
    Some((call, path.map_or(item.span, |a| a.value.span)))
}

/// Reports a prefix given twice in one list; true the first time.
fn once(sink: &mut Sink, seen: &mut BTreeSet<String>, path: &str, place: &str, at: Span) -> bool {
    if seen.insert(path.to_string()) {
        return true;
    }
    sink.push(at.file, CheckError::DuplicateKey { key: path.into(), place: place.into(), at: at.into() });
    false
}

/// Every module path of the model and every parent of one (`resnet180`, `resnet180.stem0`, …),
/// inputs left out.
fn modules(graph: &ModelGraph) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for node in graph.graph.node_weights().filter(|n| !matches!(n.op, Op::Input(_))) {
        let mut end = 0;
        for part in node.path.split('.') {
            end += part.len();
            out.insert(node.path[..end].to_string());
            end += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_prefix_covers_its_path_at_a_dot_boundary() {
        assert!(ir::under("resnet180.stem0.conv2d0", "resnet180"));
        assert!(ir::under("resnet180.stem0", "resnet180.stem0"));
        assert!(!ir::under("resnet180.stem0", "resnet18"));
        assert!(!ir::under("resnet18", "resnet180"));
    }

    #[test]
    fn frozen_until_its_epochs_are_done() {
        let f = Frozen { path: "a".into(), epochs: Some(2) };
        assert!(f.active(0) && f.active(1) && !f.active(2));
        assert!(Frozen { path: "a".into(), epochs: None }.active(100));
    }
}
