//! Shape inference through models and blocks.
//!
//! A model is evaluated like a program whose values are tensor *shapes*: each layer call adds a
//! [`Node`] to a petgraph graph and computes its output shape with the layer's real arithmetic
//! (see [`Dim`]). Blocks are instantiated at every call site, like templates: their tensor
//! parameters are patterns (`x: [B, C, H, W]`) whose symbols bind to the caller's dimensions, so
//! a channel mismatch three blocks deep is found with concrete numbers and reported at the layer
//! that breaks. Every block is also checked once on its own with free symbols; there, only
//! differences that hold whatever the symbols are (different constants, different ranks) are
//! errors, so a generic block is never blamed for a mismatch that depends on its caller.
//!
//! This file holds the checker, its values and scopes, and the walk over a body; `eval.rs`
//! evaluates expressions, `call.rs` calls blocks and layers, `signature.rs` unifies tensor types
//! in signatures with the shapes that flow.

use std::collections::{HashMap, HashSet};

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{Dfs, Reversed};

use super::Sink;
use super::builtins;
use super::dim::{Dim, Shape};
use super::error::CheckError;
use crate::ir::{BindingShape, DeclRef, ModelGraph, ModuleId, Node, Op, Program};
use crate::syntax::ast::{self, Expr, ExprKind, GraphKind, Ident, Item, Stmt};
use crate::syntax::span::{FileId, Span};

mod call;
mod eval;
mod param;
mod signature;

/// How deep blocks may nest; deeper is certainly a runaway (recursion is reported separately).
const MAX_DEPTH: usize = 64;

/// A tensor flowing through the graph.
#[derive(Clone, Debug)]
pub(crate) struct T {
    pub shape: Shape,
    pub node: NodeIndex,
}

/// What a model-body expression evaluates to.
#[derive(Clone, Debug)]
pub(crate) enum V {
    Tensor(T),
    Int(Dim),
    Float(f64),
    Bool(bool),
    Str(#[allow(dead_code)] String),
    Word(String),
    List(Vec<V>),
    Outputs(Vec<(String, T)>),
    /// An error was already reported; stay quiet about anything derived from it.
    Invalid,
}

impl V {
    fn describe(&self) -> String {
        match self {
            V::Tensor(t) => format!("a tensor {}", t.shape),
            V::Int(d) => format!("the integer {d}"),
            V::Float(f) => format!("the number {f:?}"),
            V::Bool(b) => format!("`{b}`"),
            V::Str(_) => "a string".into(),
            V::Word(w) => format!("`{w}`"),
            V::List(_) => "a list".into(),
            V::Outputs(o) => {
                format!("named outputs ({})", o.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(", "))
            }
            V::Invalid => "an invalid value".into(),
        }
    }
}

/// What the data says about a model's input, when the model is trained.
pub struct DataBinding {
    pub dataset: String,
    pub channels: usize,
    pub size: Option<(i64, i64)>,
    pub classes: Option<usize>,
}

/// One body being evaluated.
struct Scope {
    module: ModuleId,
    env: HashMap<String, (V, usize)>,
    symbols: HashMap<String, Dim>,
    /// Every binding: name, span, used.
    bindings: Vec<(String, Span, bool)>,
    prefix: String,
}

impl Scope {
    /// An empty scope in `module`, with the built-in symbols and no prefix.
    fn new(module: ModuleId) -> Scope {
        Scope { module, env: HashMap::new(), symbols: base_symbols(), bindings: Vec::new(), prefix: String::new() }
    }
}

pub struct GraphChecker<'a> {
    program: &'a Program,
    sink: &'a mut Sink,
    graph: StableDiGraph<Node, usize>,
    counters: HashMap<String, usize>,
    stack: Vec<DeclRef>,
    /// The block calls being instantiated, outermost first: (call span, block name).
    calls: Vec<(Span, String)>,
    dataset: Option<String>,
    model: String,
}

impl<'a> GraphChecker<'a> {
    pub fn new(program: &'a Program, sink: &'a mut Sink) -> GraphChecker<'a> {
        GraphChecker {
            program,
            sink,
            graph: StableDiGraph::new(),
            counters: HashMap::new(),
            stack: Vec::new(),
            calls: Vec::new(),
            dataset: None,
            model: String::new(),
        }
    }

    fn report(&mut self, span: Span, error: CheckError) {
        self.report_in(span.file, error);
    }

    /// Reports an error found in `file`. Inside a block from another file than the user's
    /// outermost call (the stdlib, an import), it is reported at that call, with the block's
    /// line as related: the user's own code is what they can open and change.
    fn report_in(&mut self, file: FileId, error: CheckError) {
        match self.calls.first() {
            Some((call, block)) if call.file != file => self.sink.push_at_call(*call, block, file, error),
            _ => self.sink.push(file, error),
        }
    }

    /// Checks a block on its own, with its parameters as free symbols.
    pub fn check_block(&mut self, decl: DeclRef, block: &ast::Graph) {
        let mut scope = Scope::new(decl.module);
        for param in &block.params {
            let value = match &param.ty {
                ast::Type::Tensor(tt) => match self.pattern_shape(&mut scope, tt) {
                    Some(shape) => V::Tensor(self.input(shape, param.span, &param.name.name)),
                    None => V::Invalid,
                },
                ast::Type::Scalar(ty, _) => self.free_scalar(&mut scope, &param.name.name, *ty, param.default.as_ref()),
            };
            scope.env.insert(param.name.name.clone(), (value, usize::MAX));
        }
        self.stack.push(decl);
        let result = self.body(&mut scope, block, true);
        self.stack.pop();
        if let Some(result) = result {
            self.check_output(&mut scope, block, &result);
        }
    }

    /// Infers a model into a [`ModelGraph`], bound to its data when it is trained.
    pub fn infer_model(mut self, decl: DeclRef, model: &ast::Graph, data: Option<&DataBinding>) -> ModelGraph {
        let mut scope = Scope::new(decl.module);
        self.model = model.name.name.clone();
        if let Some(data) = data {
            self.dataset = Some(data.dataset.clone());
            if let Some(n) = data.classes {
                scope.symbols.insert("classes".into(), Dim::known(n as i64));
            }
        }
        let mut inputs = Vec::new();
        let mut first_tensor = true;
        for param in &model.params {
            let value = match &param.ty {
                ast::Type::Tensor(tt) => {
                    let bound = if first_tensor { data } else { None };
                    first_tensor = false;
                    match self.model_input(&mut scope, &model.name.name, tt, bound) {
                        Some(shape) => {
                            let t = self.input(shape.clone(), param.span, &param.name.name);
                            if let Op::Input(_) = self.graph[t.node].op {
                                self.graph[t.node].op = Op::Input(inputs.len());
                            }
                            inputs.push((param.name.name.clone(), shape));
                            V::Tensor(t)
                        }
                        None => V::Invalid,
                    }
                }
                ast::Type::Scalar(ty, _) => self.free_scalar(&mut scope, &param.name.name, *ty, param.default.as_ref()),
            };
            scope.env.insert(param.name.name.clone(), (value, usize::MAX));
        }
        self.stack.push(decl);
        let result = self.body(&mut scope, model, true);
        self.stack.pop();
        let mut outputs = Vec::new();
        if let Some(result) = result {
            self.check_output(&mut scope, model, &result);
            match result {
                V::Tensor(t) => outputs.push(("out".to_string(), t.node)),
                V::Outputs(named) => outputs.extend(named.into_iter().map(|(n, t)| (n, t.node))),
                _ => {}
            }
        }
        // Nodes that no output depends on are never computed.
        let mut live = HashSet::new();
        let reversed = Reversed(&self.graph);
        for (_, node) in &outputs {
            let mut dfs = Dfs::new(reversed, *node);
            while let Some(n) = dfs.next(reversed) {
                live.insert(n);
            }
        }
        let dead: Vec<NodeIndex> = self
            .graph
            .node_indices()
            .filter(|n| !live.contains(n) && !matches!(self.graph[*n].op, Op::Input(_)))
            .collect();
        for n in dead {
            self.graph.remove_node(n);
        }
        let bindings = scope.symbols.iter().filter_map(|(k, v)| v.value().map(|n| (k.clone(), n))).collect();
        ModelGraph { name: model.name.name.clone(), inputs, graph: self.graph, outputs, bindings }
    }

    fn free_scalar(&mut self, scope: &mut Scope, name: &str, ty: ast::ScalarType, default: Option<&Expr>) -> V {
        if let Some(default) = default {
            let v = self.eval(scope, default);
            if let V::Int(d) = &v {
                scope.symbols.insert(name.to_string(), d.clone());
            }
            return v;
        }
        match ty {
            ast::ScalarType::Int => {
                scope.symbols.insert(name.to_string(), Dim::sym(name));
                V::Int(Dim::sym(name))
            }
            ast::ScalarType::Float => V::Float(f64::NAN),
            ast::ScalarType::Bool => V::Bool(false),
            ast::ScalarType::Str => V::Str(String::new()),
        }
    }

    fn input(&mut self, shape: Shape, span: Span, name: &str) -> T {
        let node = self.graph.add_node(Node {
            path: name.to_string(),
            op: Op::Input(0),
            shape: shape.clone(),
            params: Dim::known(0),
            span,
        });
        T { shape, node }
    }

    /// Evaluates a body; returns what it returns (`None` if it does not, reported).
    fn body(&mut self, scope: &mut Scope, graph: &ast::Graph, warn_unused: bool) -> Option<V> {
        let mut result = None;
        for stmt in &graph.body {
            if result.is_some() {
                let span = stmt.span();
                self.report(span, CheckError::AfterReturn { at: span.into() });
                break;
            }
            match stmt {
                Stmt::Let { names, value, .. } => {
                    let v = self.eval(scope, value);
                    if warn_unused {
                        self.record_shapes(names, &v, value.span);
                    }
                    self.bind_names(scope, names, v, value.span);
                }
                Stmt::Return { value, .. } => result = Some(self.eval(scope, value)),
                Stmt::Param { name, ty, init, span } => {
                    let v = self.param(scope, name, ty, init.as_ref(), *span);
                    if warn_unused {
                        self.record_shapes(std::slice::from_ref(name), &v, *span);
                    }
                    self.bind_names(scope, std::slice::from_ref(name), v, *span);
                }
            }
        }
        if warn_unused {
            for (name, span, used) in &scope.bindings {
                if !used && !name.starts_with('_') {
                    self.sink.push(span.file, CheckError::Unused { name: name.clone(), at: (*span).into() });
                }
            }
        }
        if result.is_none() {
            self.report(
                graph.name.span,
                CheckError::NoReturn {
                    kind: graph.kind.keyword().into(),
                    name: graph.name.name.clone(),
                    at: graph.name.span.into(),
                },
            );
        }
        result
    }

    /// Keeps the shapes a top-level body binds, for editors.
    fn record_shapes(&mut self, names: &[Ident], value: &V, span: Span) {
        let shape_of = |name: &Ident| match value {
            V::Tensor(t) if names.len() == 1 => Some(t.shape.clone()),
            V::Outputs(o) => o.iter().find(|(n, _)| *n == name.name).map(|(_, t)| t.shape.clone()),
            _ => None,
        };
        for name in names {
            if let Some(shape) = shape_of(name) {
                let name_span = name.span;
                self.sink.shapes.push(BindingShape { name: name.name.clone(), name_span, value: span, shape });
            }
        }
    }

    fn bind_names(&mut self, scope: &mut Scope, names: &[Ident], value: V, span: Span) {
        if let [name] = names {
            let index = scope.bindings.len();
            scope.bindings.push((name.name.clone(), name.span, false));
            scope.env.insert(name.name.clone(), (value, index));
            return;
        }
        let outputs = match value {
            V::Outputs(o) => Some(o),
            V::Invalid => None,
            other => {
                self.report(
                    span,
                    CheckError::Outputs {
                        message: format!("cannot unpack {} into {} names", other.describe(), names.len()),
                        help: "only a block with named outputs can be unpacked".into(),
                        label: "not named outputs".into(),
                        at: span.into(),
                    },
                );
                None
            }
        };
        for name in names {
            let v = match &outputs {
                None => V::Invalid,
                Some(o) => self.output(o, name, "to unpack", "outputs are bound by name"),
            };
            // A name bound to an error is not reported as unused on top of it.
            let index = scope.bindings.len();
            scope.bindings.push((name.name.clone(), name.span, matches!(v, V::Invalid)));
            scope.env.insert(name.name.clone(), (v, index));
        }
    }
}

/// `_` in a type matches any dimension.
fn is_wildcard(d: &Expr) -> bool {
    matches!(&d.kind, ExprKind::Name(id) if id.name == "_")
}

fn base_symbols() -> HashMap<String, Dim> {
    builtins::SYMBOLS.iter().map(|s| (s.to_string(), Dim::sym(s))).collect()
}

fn return_span(graph: &ast::Graph) -> Span {
    graph
        .body
        .iter()
        .rev()
        .find_map(|s| match s {
            Stmt::Return { value, .. } => Some(value.span),
            _ => None,
        })
        .unwrap_or(graph.name.span)
}

pub fn item_kind(item: &Item) -> &'static str {
    match item {
        Item::Dataset(_) => "a dataset",
        Item::Augment(_) => "an augment pipeline",
        Item::Graph(g) if g.kind == GraphKind::Model => "a model",
        Item::Graph(_) => "a block",
        Item::Profile(_) => "a profile",
        Item::Use(_) | Item::Train(_) | Item::Sweep(_) => "a declaration",
    }
}
