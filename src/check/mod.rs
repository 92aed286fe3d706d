//! Stage 3: [`Program`] → [`Checked`] + diagnostics. Everything is checked in one pass and every
//! problem is collected: blocks on their own, datasets (and, unless `skip_data`, their headers),
//! augment pipelines, every model, and the `train` block against all of them.

mod args;
pub mod builtins;
mod data;
pub mod dim;
mod error;
mod finetune;
mod graph;
pub mod layers;
pub mod memory;
mod spec;
mod train;
mod weights;

use std::collections::BTreeMap;
use std::path::PathBuf;

use petgraph::algo::tarjan_scc;
use petgraph::graph::DiGraph;

pub use error::CheckError;

use crate::diag::Diagnostic;
use crate::host::Host;
use crate::ir::{Checked, DeclRef, Program};
use crate::syntax::ast::{Expr, ExprKind, FieldValue, GraphKind, Item, Stmt, Train};
use crate::syntax::span::{FileId, Span};

#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Do not read dataset headers or folders.
    pub skip_data: bool,
    /// Class names to assume when neither the file nor the (skipped) data names them: what a run
    /// directory's `spec.json` recorded, so a checkpoint can be used without its dataset.
    pub assume_classes: Option<Vec<String>>,
    /// The training device's memory: a step estimated to need more is an error.
    pub memory: Option<memory::MemoryBudget>,
    /// The device `run` will train on (`--device`): a `precision` it cannot run is an error.
    pub device: Option<crate::ir::DeviceKind>,
    /// How many devices share each batch (a `--device` list times the launcher's ranks); 0 or 1
    /// without data parallelism. The memory estimate is per device.
    pub shards: usize,
}

/// Errors with the file their span points into (an override's value lives in `<command line>`,
/// not in the file whose `train` block it changes).
pub type Errors = Vec<(FileId, CheckError)>;

/// Where stages collect diagnostics.
#[derive(Default)]
pub struct Sink {
    pub diags: Vec<Diagnostic>,
    /// Shapes of the bindings of top-level bodies (models, and blocks checked on their own).
    pub shapes: Vec<crate::ir::BindingShape>,
    /// Blocks nesting too deep are reported once: every block on the chain, checked on its own,
    /// would otherwise report the same runaway at its own depth.
    pub too_deep: bool,
}

impl Sink {
    pub fn push(&mut self, file: FileId, error: CheckError) {
        self.diags.push(Diagnostic::new(file, error));
    }

    /// `error` at `origin`, inside block `block` from another file, reported at the user's `call`.
    pub fn push_at_call(&mut self, call: Span, block: &str, origin: FileId, error: CheckError) {
        self.diags.push(Diagnostic::at_call(call, block, origin, error));
    }

    pub fn extend(&mut self, errors: Errors) {
        for (file, e) in errors {
            self.push(file, e);
        }
    }
}

pub fn check(program: &Program, host: &dyn Host, options: &Options) -> (Checked, Vec<Diagnostic>) {
    let mut sink = Sink::default();
    recursion(program, &mut sink);
    sweep_block(program, &mut sink);

    let base_dir = |decl: DeclRef| -> PathBuf { program.module(decl.module).dir.clone() };
    let mut datasets = BTreeMap::new();
    let mut pipelines = BTreeMap::new();
    let mut models = Vec::new();
    for (decl, item) in program.decls() {
        match item {
            Item::Graph(g) if g.kind == GraphKind::Block => {
                graph::GraphChecker::new(program, &mut sink).check_block(decl, g)
            }
            Item::Graph(g) => models.push((decl, g)),
            Item::Augment(_) => {
                pipelines.insert(decl, data::check_augment(program, &mut sink, decl, 0));
            }
            _ => {}
        }
    }
    let mut data_check = data::DataCheck {
        program,
        host,
        sink: &mut sink,
        skip_data: options.skip_data,
        assume_classes: options.assume_classes.clone(),
        base_dir: &base_dir,
    };
    for (decl, item) in program.decls() {
        if let Item::Dataset(_) = item {
            datasets.insert(decl, data_check.dataset(decl));
        }
    }

    let mut checked = Checked::default();
    if let (Some(train), Some(root)) = (&program.train, program.root) {
        let mut tc = train::TrainCheck {
            program,
            module: root,
            data: &mut data_check,
            datasets: &datasets,
            pipelines: &pipelines,
        };
        let (spec, graph) = tc.check(train);
        if let Some(graph) = graph {
            checked.models.insert(graph.name.clone(), graph);
        }
        if let Some((spec, graph)) = spec.as_ref().and_then(|s| Some((s, checked.models.get(&s.model)?))) {
            checked.memory = memory::estimate(graph, spec, options.shards);
            let file = program.module(root).file;
            fits(tc.data.sink, file, train, checked.memory, options.memory.as_ref());
            if let Some(device) = options.device {
                precision_runs(tc.data.sink, train, spec.precision, device);
            }
        }
        checked.train = spec;
        // Profiles that are not selected are checked too; what they share with the base block
        // reports at the same spans and is deduplicated.
        // Warnings are left out: a quick profile may well make the warmup longer than training.
        for profile_train in &program.profile_trains {
            let before = tc.data.sink.diags.len();
            tc.check(profile_train);
            let mut index = 0;
            tc.data.sink.diags.retain(|d| {
                index += 1;
                index <= before || d.is_error()
            });
        }
    }
    for (decl, model) in models {
        // The trained model was inferred with its data; the others are checked on their own.
        if checked.models.contains_key(&model.name.name) && program.root == Some(decl.module) {
            continue;
        }
        let graph = graph::GraphChecker::new(program, &mut sink).infer_model(decl, model, None);
        checked.models.entry(graph.name.clone()).or_insert(graph);
    }
    checked.shapes = std::mem::take(&mut sink.shapes);
    (checked, sink.diags)
}

/// The root's `sweep` block: its options and the bounds of its spaces. `trainc sweep` (and
/// `trainc check`) also check the program with each of its values, which takes a check per value.
fn sweep_block(program: &Program, sink: &mut Sink) {
    let Some(root) = program.root else { return };
    let module = program.module(root);
    let source = program.sources.get(module.file);
    for item in &module.ast.items {
        if let Item::Sweep(block) = item
            && let Err(errors) = crate::sweep::Space::from_block(block, &source.name, &source.text)
        {
            sink.diags.extend(errors.into_iter().map(|e| Diagnostic::new(module.file, e)));
        }
    }
}

/// Blocks that call themselves, directly or through others, with the chain.
/// A training step estimated to need more memory than the device has is an error at the
/// `data` field, whose batch size sets the activations.
fn fits(
    sink: &mut Sink,
    file: FileId,
    train: &Train,
    estimate: Option<memory::MemoryEstimate>,
    budget: Option<&memory::MemoryBudget>,
) {
    let (Some(estimate), Some(budget)) = (estimate, budget) else { return };
    if estimate.total() <= budget.bytes {
        return;
    }
    let data = train.fields.iter().find(|f| f.key.name == "data");
    let at = match data.map(|f| &f.value) {
        Some(FieldValue::Expr(e)) => e.span,
        _ => train.span,
    };
    sink.push(
        file,
        CheckError::Memory {
            estimate: estimate.describe(),
            budget: memory::bytes(budget.bytes),
            device: budget.source.clone(),
            batch: estimate.batch,
            at: at.into(),
        },
    );
}

/// A `precision` the device cannot run is an error at the `precision` field (which may be an
/// override on the command line).
fn precision_runs(sink: &mut Sink, train: &Train, precision: crate::ir::Precision, device: crate::ir::DeviceKind) {
    if device.supports(precision) {
        return;
    }
    let Some(field) = train.fields.iter().find(|f| f.key.name == "precision") else { return };
    let at = match &field.value {
        FieldValue::Expr(e) => e.span,
        FieldValue::Record(_) => field.span,
    };
    sink.push(
        at.file,
        CheckError::Precision {
            precision: precision.name().into(),
            device: device.describe().into(),
            help: "libtorch has no usable f16 convolutions on the CPU: write `precision = bf16` to train in 16 bits here, or train f16 on a GPU (`--device tch:cuda:0`)".into(),
            at: at.into(),
        },
    );
}

fn recursion(program: &Program, sink: &mut Sink) {
    let mut graph = DiGraph::<DeclRef, ()>::new();
    let mut index = BTreeMap::new();
    for (decl, item) in program.decls() {
        if let Item::Graph(g) = item
            && g.kind == GraphKind::Block
        {
            index.insert(decl, graph.add_node(decl));
        }
    }
    for (&decl, &node) in &index {
        let Item::Graph(g) = program.item(decl) else { continue };
        let mut callees = Vec::new();
        for stmt in &g.body {
            if let Stmt::Let { value, .. } | Stmt::Return { value, .. } = stmt {
                calls(value, &mut callees);
            }
        }
        for name in callees {
            if let Some(target) = program.lookup(decl.module, &name).and_then(|d| index.get(&d)) {
                graph.update_edge(node, *target, ());
            }
        }
    }
    for component in tarjan_scc(&graph) {
        let cyclic = component.len() > 1 || graph.contains_edge(component[0], component[0]);
        if !cyclic {
            continue;
        }
        let names: Vec<String> = component
            .iter()
            .rev()
            .map(|n| program.item(graph[*n]).name().map(|i| i.name.clone()).unwrap_or_default())
            .collect();
        for &n in &component {
            let Some(name) = program.item(graph[n]).name() else { continue };
            let start = names.iter().position(|x| *x == name.name).unwrap_or(0);
            let mut chain: Vec<String> =
                names[start..].iter().chain(&names[..start]).map(|n| format!("`{n}`")).collect();
            chain.push(format!("`{}`", name.name));
            sink.push(
                name.span.file,
                CheckError::Recursive { name: name.name.clone(), chain: chain.join(" → "), at: name.span.into() },
            );
        }
    }
}

fn calls(expr: &Expr, out: &mut Vec<String>) {
    match &expr.kind {
        ExprKind::Call { callee, args } => {
            out.push(callee.name.clone());
            for a in args {
                calls(&a.value, out);
            }
        }
        ExprKind::List(items) => items.iter().for_each(|e| calls(e, out)),
        ExprKind::Tuple(items) => items.iter().for_each(|(_, e)| calls(e, out)),
        ExprKind::Member { base, .. } | ExprKind::Neg(base) => calls(base, out),
        ExprKind::Record { base, .. } => calls(base, out),
        ExprKind::Binary { lhs, rhs, .. } | ExprKind::Then(lhs, rhs) => {
            calls(lhs, out);
            calls(rhs, out);
        }
        _ => {}
    }
}
