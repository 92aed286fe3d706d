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

use std::collections::{HashMap, HashSet};

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use petgraph::visit::{Dfs, Reversed};

use super::Sink;
use super::args::{Slot, bind, format_number};
use super::builtins::{self, Bound, Builtin, Kind, Ty};
use super::dim::{Dim, Shape};
use super::error::CheckError;
use super::layers::{self, LayerCx};
use crate::ir::{DeclRef, ModelGraph, ModuleId, Node, Op, Program};
use crate::suggest;
use crate::syntax::ast::{self, Arg, BinOp, Expr, ExprKind, GraphKind, Ident, Item, OutType, Stmt, TensorType};
use crate::syntax::span::Span;

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
            dataset: None,
            model: String::new(),
        }
    }

    fn report(&mut self, span: Span, error: CheckError) {
        self.sink.push(span.file, error);
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

    /// A parameter pattern `[B, C, H, W]` evaluated with free symbols.
    fn pattern_shape(&mut self, scope: &mut Scope, tt: &TensorType) -> Option<Shape> {
        let mut dims = Vec::new();
        for (i, d) in tt.dims.iter().enumerate() {
            if is_wildcard(d) {
                dims.push(Dim::sym(&format!("_{i}")));
                continue;
            }
            if let ExprKind::Name(id) = &d.kind
                && !scope.symbols.contains_key(&id.name)
            {
                scope.symbols.insert(id.name.clone(), Dim::sym(&id.name));
            }
            dims.push(self.dim_expr(scope, d)?);
        }
        Some(Shape(dims))
    }

    /// A model input's shape, unified with the data's when trained.
    fn model_input(
        &mut self,
        scope: &mut Scope,
        model: &str,
        tt: &TensorType,
        data: Option<&DataBinding>,
    ) -> Option<Shape> {
        let Some(data) = data else {
            return self.pattern_shape(scope, tt);
        };
        if tt.dims.len() != 4 {
            self.report(
                tt.span,
                CheckError::ShapeRank {
                    node: model.to_string(),
                    expected: "4".into(),
                    found: tt.dims.len(),
                    shape: self.program.sources.text(tt.span).to_string(),
                    help: "image inputs are `Image[B, channels, height, width]`".into(),
                    at: tt.span.into(),
                },
            );
            return None;
        }
        let mut actual: Vec<Option<i64>> = vec![None, Some(data.channels as i64), None, None];
        if let Some((h, w)) = data.size {
            actual[2] = Some(h);
            actual[3] = Some(w);
        }
        let mut dims = Vec::new();
        let mut size_error = false;
        for (i, d) in tt.dims.iter().enumerate() {
            let unbound_name = match &d.kind {
                ExprKind::Name(id) if !scope.symbols.contains_key(&id.name) => Some(id.name.clone()),
                _ => None,
            };
            if let (Some(name), Some(n)) = (&unbound_name, actual[i]) {
                scope.symbols.insert(name.clone(), Dim::known(n));
            } else if let Some(name) = &unbound_name {
                scope.symbols.insert(name.clone(), Dim::sym(name));
            }
            let dim = self.dim_expr(scope, d)?;
            if let (Some(found), Some(expected)) = (actual[i], dim.value()) {
                if found != expected && i == 1 {
                    self.report(
                        d.span,
                        CheckError::InputChannels {
                            model: model.to_string(),
                            dataset: data.dataset.clone(),
                            expected: expected.to_string(),
                            found: data.channels,
                            help: if data.channels == 1 {
                                "the images are grayscale: declare `Image[B, 1, …]`".into()
                            } else {
                                format!("declare `Image[B, {}, …]`", data.channels)
                            },
                            at: d.span.into(),
                        },
                    );
                } else if found != expected && !size_error {
                    size_error = true;
                    let (h, w) = data.size.unwrap_or_default();
                    self.report(
                        tt.span,
                        CheckError::InputSize {
                            model: model.to_string(),
                            expected: format!(
                                "{}×{}",
                                tt.dims.get(2).map_or(String::new(), |e| self.program_text(e)),
                                tt.dims.get(3).map_or(String::new(), |e| self.program_text(e))
                            ),
                            found: format!("{h}×{w}"),
                            help:
                                "add `resize(h, w)` or a crop to the augment pipeline, or change the model's input size"
                                    .into(),
                            at: tt.span.into(),
                        },
                    );
                }
            }
            dims.push(dim);
        }
        Some(Shape(dims))
    }

    fn program_text(&self, expr: &Expr) -> String {
        self.program.sources.text(expr.span).to_string()
    }

    /// Evaluates a dimension expression (in a type).
    fn dim_expr(&mut self, scope: &mut Scope, expr: &Expr) -> Option<Dim> {
        match self.eval(scope, expr) {
            V::Int(d) => Some(d),
            V::Invalid => None,
            other => {
                self.report(
                    expr.span,
                    CheckError::NotADim {
                        message: format!("{} is not a dimension", other.describe()),
                        at: expr.span.into(),
                    },
                );
                None
            }
        }
    }

    /// Evaluates a body; returns what it returns (`None` if it does not, reported).
    fn body(&mut self, scope: &mut Scope, graph: &ast::Graph, warn_unused: bool) -> Option<V> {
        let mut result = None;
        for stmt in &graph.body {
            if result.is_some() {
                let span = match stmt {
                    Stmt::Let { span, .. } | Stmt::Return { span, .. } => *span,
                };
                self.report(span, CheckError::AfterReturn { at: span.into() });
                break;
            }
            match stmt {
                Stmt::Let { names, value, .. } => {
                    let v = self.eval(scope, value);
                    self.bind_names(scope, names, v, value.span);
                }
                Stmt::Return { value, .. } => result = Some(self.eval(scope, value)),
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

    /// Checks a returned value against the declared output type.
    fn check_output(&mut self, scope: &mut Scope, graph: &ast::Graph, result: &V) {
        let Some(out) = &graph.output else { return };
        match (out, result) {
            (_, V::Invalid) => {}
            (OutType::Single(tt), V::Tensor(t)) => self.unify_output(scope, "out", tt, t, return_span(graph)),
            (OutType::Named(declared), V::Outputs(found)) => {
                for (name, tt) in declared {
                    match found.iter().find(|(n, _)| *n == name.name) {
                        Some((_, t)) => self.unify_output(scope, &name.name, tt, t, return_span(graph)),
                        None => {
                            let help = suggest::help(
                                &name.name,
                                found.iter().map(|(n, _)| n.as_str()),
                                "return it under this name: `return (name: tensor, …)`",
                            );
                            self.report(
                                name.span,
                                CheckError::Outputs {
                                    message: format!("output `{}` is declared but not returned", name.name),
                                    help,
                                    label: "never returned".into(),
                                    at: name.span.into(),
                                },
                            );
                        }
                    }
                }
                for (name, _) in found {
                    if !declared.iter().any(|(d, _)| d.name == *name) {
                        let span = return_span(graph);
                        self.report(
                            span,
                            CheckError::Outputs {
                                message: format!(
                                    "`{}` returns `{name}`, which its signature does not declare",
                                    graph.name.name
                                ),
                                help: format!("declare it: `-> (…, {name}: [..])`"),
                                label: format!("returns `{name}`"),
                                at: span.into(),
                            },
                        );
                    }
                }
            }
            (OutType::Single(_), other) | (OutType::Named(_), other) => {
                let span = return_span(graph);
                let expected = if matches!(out, OutType::Single(_)) { "one tensor" } else { "named outputs" };
                self.report(
                    span,
                    CheckError::Outputs {
                        message: format!(
                            "`{}` must return {expected}, but returns {}",
                            graph.name.name,
                            other.describe()
                        ),
                        help: "make the `return` match the signature after `->`".into(),
                        label: other.describe(),
                        at: span.into(),
                    },
                );
            }
        }
    }

    fn unify_output(&mut self, scope: &mut Scope, output: &str, tt: &TensorType, t: &T, at: Span) {
        if tt.dims.len() != t.shape.rank() {
            self.report(
                at,
                CheckError::OutputShape {
                    output: output.into(),
                    found: t.shape.to_string(),
                    expected: format!("{}-D", tt.dims.len()),
                    help: "the rank differs; check for a missing `flatten` or pooling".into(),
                    at: at.into(),
                    declared: tt.span.into(),
                },
            );
            return;
        }
        for (d, found) in tt.dims.iter().zip(&t.shape.0) {
            if is_wildcard(d) {
                continue;
            }
            // A symbol not bound yet (an output size named in the signature) binds here.
            if let ExprKind::Name(id) = &d.kind
                && !scope.symbols.contains_key(&id.name)
                && !scope.env.contains_key(&id.name)
            {
                scope.symbols.insert(id.name.clone(), found.clone());
                continue;
            }
            let Some(expected) = self.dim_expr(scope, d) else { return };
            if expected.surely_differs(found) {
                let is_classes = matches!(&d.kind, ExprKind::Name(id) if id.name == "classes");
                if let (true, Some(dataset), Some(n)) = (is_classes, &self.dataset, expected.value()) {
                    let model = self.model.clone();
                    self.report(
                        at,
                        CheckError::ClassCount {
                            model,
                            dataset: dataset.clone(),
                            found: found.to_string(),
                            expected: n as usize,
                            at: at.into(),
                        },
                    );
                } else {
                    self.report(
                        at,
                        CheckError::OutputShape {
                            output: output.into(),
                            found: t.shape.to_string(),
                            expected: format!(
                                "[{}]",
                                tt.dims.iter().map(|e| self.program_text(e)).collect::<Vec<_>>().join(", ")
                            ),
                            help: format!("dimension `{}` is {found}, not {expected}", self.program_text(d)),
                            at: at.into(),
                            declared: tt.span.into(),
                        },
                    );
                }
                return;
            }
        }
    }

    /// Selects a named output (`p.p3`, or one name of `c3, c4 = …`), reporting a missing one.
    fn output(&mut self, outputs: &[(String, T)], name: &Ident, purpose: &str, label: &str) -> V {
        if let Some((_, t)) = outputs.iter().find(|(n, _)| *n == name.name) {
            return V::Tensor(t.clone());
        }
        let listed = outputs.iter().map(|(n, _)| format!("`{n}`")).collect::<Vec<_>>().join(", ");
        let help =
            suggest::help(&name.name, outputs.iter().map(|(n, _)| n.as_str()), format!("the outputs are {listed}"));
        let message =
            format!("there is no output `{}`{}{purpose}", name.name, if purpose.is_empty() { "" } else { " " });
        self.report(name.span, CheckError::Outputs { message, help, label: label.into(), at: name.span.into() });
        V::Invalid
    }

    fn eval(&mut self, scope: &mut Scope, expr: &Expr) -> V {
        match &expr.kind {
            ExprKind::Int(i) => V::Int(Dim::known(*i)),
            ExprKind::Float(f) => V::Float(*f),
            ExprKind::Str(s) => V::Str(s.clone()),
            ExprKind::Bool(b) => V::Bool(*b),
            ExprKind::Name(id) => self.name(scope, id),
            ExprKind::List(items) => V::List(items.iter().map(|e| self.eval(scope, e)).collect()),
            ExprKind::Tuple(items) => {
                let mut out = Vec::new();
                for (name, e) in items {
                    match self.eval(scope, e) {
                        V::Tensor(t) => out.push((name.name.clone(), t)),
                        V::Invalid => return V::Invalid,
                        other => {
                            self.report(
                                e.span,
                                CheckError::BadValue {
                                    message: format!(
                                        "output `{}` must be a tensor, found {}",
                                        name.name,
                                        other.describe()
                                    ),
                                    help: "named outputs hold tensors".into(),
                                    label: other.describe(),
                                    at: e.span.into(),
                                },
                            );
                            return V::Invalid;
                        }
                    }
                }
                V::Outputs(out)
            }
            ExprKind::Call { callee, args } => self.call(scope, callee, args, expr.span),
            ExprKind::Member { base, name } => match self.eval(scope, base) {
                V::Outputs(o) => self.output(&o, name, "", "no such output"),
                V::Invalid => V::Invalid,
                other => {
                    self.report(
                        expr.span,
                        CheckError::BadValue {
                            message: format!("{} has no member `{}`", other.describe(), name.name),
                            help: "`.name` selects a named output of a block".into(),
                            label: "no members".into(),
                            at: expr.span.into(),
                        },
                    );
                    V::Invalid
                }
            },
            ExprKind::Record { .. } | ExprKind::Then(..) => {
                self.report(
                    expr.span,
                    CheckError::BadValue {
                        message: format!("{} cannot appear in a {}", expr.describe(), "model body"),
                        help: "model bodies hold layers, blocks and arithmetic on sizes".into(),
                        label: "not a graph value".into(),
                        at: expr.span.into(),
                    },
                );
                V::Invalid
            }
            ExprKind::Neg(inner) => match self.eval(scope, inner) {
                V::Int(d) => V::Int(d.scale(-1)),
                V::Float(f) => V::Float(-f),
                V::Invalid => V::Invalid,
                other => self.bad_arith(expr.span, &other),
            },
            ExprKind::Binary { op, lhs, rhs } => {
                let (a, b) = (self.eval(scope, lhs), self.eval(scope, rhs));
                self.binary(scope, *op, a, b, expr.span)
            }
        }
    }

    fn bad_arith(&mut self, span: Span, v: &V) -> V {
        self.report(
            span,
            CheckError::BadValue {
                message: format!("cannot do arithmetic on {}", v.describe()),
                help: "only sizes and numbers take `+ - * /`; tensors take `+` (element-wise add)".into(),
                label: v.describe(),
                at: span.into(),
            },
        );
        V::Invalid
    }

    fn binary(&mut self, scope: &mut Scope, op: BinOp, a: V, b: V, span: Span) -> V {
        match (a, b) {
            (V::Invalid, _) | (_, V::Invalid) => V::Invalid,
            (V::Tensor(x), V::Tensor(y)) if op == BinOp::Add => self.add_node(scope, x, y, span),
            (V::Int(x), V::Int(y)) => V::Int(match op {
                BinOp::Add => x.add(&y),
                BinOp::Sub => x.sub(&y),
                BinOp::Mul => x.mul(&y),
                BinOp::Div => match y.value() {
                    Some(n) if n > 0 => x.floor_div(n),
                    Some(_) => {
                        self.report(
                            span,
                            CheckError::BadValue {
                                message: "division by zero or a negative size".into(),
                                help: "divide by a positive integer".into(),
                                label: "here".into(),
                                at: span.into(),
                            },
                        );
                        return V::Invalid;
                    }
                    None => Dim::sym(&format!("({x})/({y})")),
                },
            }),
            (x @ (V::Int(_) | V::Float(_)), y @ (V::Int(_) | V::Float(_))) => {
                let f = |v: &V| match v {
                    V::Int(d) => d.value().map_or(f64::NAN, |n| n as f64),
                    V::Float(f) => *f,
                    _ => f64::NAN,
                };
                let (x, y) = (f(&x), f(&y));
                V::Float(match op {
                    BinOp::Add => x + y,
                    BinOp::Sub => x - y,
                    BinOp::Mul => x * y,
                    BinOp::Div => x / y,
                })
            }
            (V::Tensor(_), other) | (other, V::Tensor(_)) => {
                self.report(
                    span,
                    CheckError::BadValue {
                        message: format!("cannot apply `{}` to a tensor and {}", op.symbol(), other.describe()),
                        help: "tensors only take `+` with another tensor of the same shape".into(),
                        label: "not element-wise addable".into(),
                        at: span.into(),
                    },
                );
                V::Invalid
            }
            (other, _) => self.bad_arith(span, &other),
        }
    }

    fn name(&mut self, scope: &mut Scope, id: &Ident) -> V {
        if let Some((v, index)) = scope.env.get(&id.name) {
            let v = v.clone();
            if let Some(b) = scope.bindings.get_mut(*index) {
                b.2 = true;
            }
            return v;
        }
        if let Some(d) = scope.symbols.get(&id.name) {
            return V::Int(d.clone());
        }
        if let Some(decl) = self.program.lookup(scope.module, &id.name) {
            let what = item_kind(self.program.item(decl));
            self.report(
                id.span,
                CheckError::BadValue {
                    message: format!("`{}` is {what}, not a value", id.name),
                    help: format!("call it: `{}(x)`", id.name),
                    label: what.to_string(),
                    at: id.span.into(),
                },
            );
            return V::Invalid;
        }
        if builtins::lookup(&id.name, Kind::Layer).is_some() {
            self.report(
                id.span,
                CheckError::BadValue {
                    message: format!("`{}` is a layer, not a value", id.name),
                    help: format!("call it: `{}(x)` or `x |> {}`", id.name, id.name),
                    label: "a layer".into(),
                    at: id.span.into(),
                },
            );
            return V::Invalid;
        }
        if self.program.module(scope.module).failed_imports.contains(&id.name) {
            return V::Invalid;
        }
        let candidates: Vec<String> = scope.env.keys().chain(scope.symbols.keys()).cloned().collect();
        let help = suggest::help(
            &id.name,
            candidates.iter().map(String::as_str),
            "bind it first with `name = …`, or declare it as a parameter",
        );
        self.report(
            id.span,
            CheckError::UnknownName { what: "name".into(), name: id.name.clone(), help, at: id.span.into() },
        );
        V::Invalid
    }

    fn call(&mut self, scope: &mut Scope, callee: &Ident, args: &[Arg], span: Span) -> V {
        let known = self.program.lookup(scope.module, &callee.name).is_some()
            || builtins::lookup(&callee.name, Kind::Layer).is_some();
        if !known {
            // Still check what is passed in, so a typo inside is reported with the one outside.
            for a in args {
                self.eval(scope, &a.value);
            }
            if self.program.module(scope.module).failed_imports.contains(&callee.name) {
                return V::Invalid;
            }
            if let Some((_, index)) = scope.env.get(&callee.name) {
                let index = *index;
                if let Some(b) = scope.bindings.get_mut(index) {
                    b.2 = true;
                }
                self.report(
                    callee.span,
                    CheckError::BadValue {
                        message: format!("`{}` holds a value; only layers and blocks can be called", callee.name),
                        help: format!(
                            "call the layer itself, e.g. `x |> relu`, instead of storing it in `{}`",
                            callee.name
                        ),
                        label: "a value, not a layer".into(),
                        at: callee.span.into(),
                    },
                );
                return V::Invalid;
            }
        }
        if let Some(decl) = self.program.lookup(scope.module, &callee.name) {
            return match self.program.item(decl) {
                Item::Graph(g) if g.kind == GraphKind::Block => self.call_block(scope, callee, decl, g, args, span),
                item => {
                    let found = item_kind(item);
                    let help = if matches!(item, Item::Graph(_)) {
                        format!("declare `{}` as a `block` to call it from a model", callee.name)
                    } else {
                        "only layers and blocks can be called in a model".into()
                    };
                    self.report(
                        callee.span,
                        CheckError::WrongKind {
                            name: callee.name.clone(),
                            found: found.into(),
                            expected: "a layer or block".into(),
                            help,
                            at: callee.span.into(),
                        },
                    );
                    V::Invalid
                }
            };
        }
        match builtins::lookup(&callee.name, Kind::Layer) {
            Some(builtin) => self.call_layer(scope, builtin, callee, args, span),
            None => {
                if let Some(other) = builtins::BUILTINS.iter().find(|b| b.name == callee.name) {
                    self.report(
                        callee.span,
                        CheckError::WrongKind {
                            name: callee.name.clone(),
                            found: other.kind.article().to_string(),
                            expected: "a layer or block".into(),
                            help: format!(
                                "{} belongs in the `train` block or an `augment` pipeline",
                                other.kind.article()
                            ),
                            at: callee.span.into(),
                        },
                    );
                    return V::Invalid;
                }
                let mut names: Vec<String> =
                    self.program.names_in_scope(scope.module).into_iter().map(String::from).collect();
                names.extend(builtins::names(Kind::Layer).map(String::from));
                let help = suggest::help(&callee.name, &names, "see `trainc builtins` for the layers");
                self.report(
                    callee.span,
                    CheckError::UnknownName {
                        what: "layer or block".into(),
                        name: callee.name.clone(),
                        help,
                        at: callee.span.into(),
                    },
                );
                V::Invalid
            }
        }
    }

    fn call_block(
        &mut self,
        caller: &mut Scope,
        callee: &Ident,
        decl: DeclRef,
        block: &ast::Graph,
        args: &[Arg],
        span: Span,
    ) -> V {
        let signature = format!(
            "{}({})",
            block.name.name,
            block.params.iter().map(|p| p.name.name.as_str()).collect::<Vec<_>>().join(", ")
        );
        let slots: Vec<Slot> =
            block.params.iter().map(|p| Slot { name: &p.name.name, required: p.default.is_none() }).collect();
        let mut errors = Vec::new();
        let given = bind(callee, &signature, &slots, args, &mut errors);
        let failed = !errors.is_empty();
        self.sink.extend(errors);
        let values: Vec<Option<V>> = given.iter().map(|g| g.map(|e| self.eval(caller, e))).collect();
        if failed || values.iter().any(|v| matches!(v, Some(V::Invalid))) {
            return V::Invalid;
        }
        if self.stack.contains(&decl) || self.stack.len() >= MAX_DEPTH {
            return V::Invalid;
        }
        let count = self.counters.entry(format!("{}{}", caller.prefix, block.name.name)).or_insert(0);
        let prefix = format!("{}{}{}.", caller.prefix, block.name.name, count);
        *count += 1;
        let mut scope = Scope { prefix, ..Scope::new(decl.module) };
        for ((param, value), given_expr) in block.params.iter().zip(values).zip(&given) {
            let value = match value {
                Some(v) => v,
                None => match &param.default {
                    Some(d) => self.eval(&mut scope, d),
                    None => return V::Invalid,
                },
            };
            let at = given_expr.map_or(span, |e| e.span);
            let ok = match (&param.ty, &value) {
                (ast::Type::Tensor(tt), V::Tensor(t)) => {
                    self.unify_param(&mut scope, &block.name.name, &param.name.name, tt, t, at)
                }
                (ast::Type::Scalar(ast::ScalarType::Int, _), V::Int(d)) => {
                    scope.symbols.insert(param.name.name.clone(), d.clone());
                    true
                }
                (ast::Type::Scalar(ast::ScalarType::Float, _), V::Float(_) | V::Int(_)) => true,
                (ast::Type::Scalar(ast::ScalarType::Bool, _), V::Bool(_)) => true,
                (ast::Type::Scalar(ast::ScalarType::Str, _), V::Str(_)) => true,
                (ty, v) => {
                    let expected = match ty {
                        ast::Type::Tensor(_) => "a tensor".to_string(),
                        ast::Type::Scalar(s, _) => format!("`{}`", s.keyword()),
                    };
                    self.report(
                        at,
                        CheckError::ArgType {
                            callee: block.name.name.clone(),
                            name: param.name.name.clone(),
                            expected,
                            found: v.describe(),
                            help: format!("the signature is `{signature}`"),
                            at: at.into(),
                        },
                    );
                    false
                }
            };
            if !ok {
                return V::Invalid;
            }
            scope.env.insert(param.name.name.clone(), (value, usize::MAX));
        }
        self.stack.push(decl);
        let result = self.body(&mut scope, block, false);
        self.stack.pop();
        match result {
            Some(v) => {
                self.check_output(&mut scope, block, &v);
                v
            }
            None => V::Invalid,
        }
    }

    /// Binds a block's tensor pattern to the argument's shape.
    fn unify_param(&mut self, scope: &mut Scope, block: &str, param: &str, tt: &TensorType, t: &T, at: Span) -> bool {
        if tt.dims.len() != t.shape.rank() {
            self.report(
                at,
                CheckError::ShapeRank {
                    node: block.to_string(),
                    expected: tt.dims.len().to_string(),
                    found: t.shape.rank(),
                    shape: t.shape.to_string(),
                    help: format!("`{param}` is declared as {}", self.program.sources.text(tt.span)),
                    at: at.into(),
                },
            );
            return false;
        }
        for (i, (d, found)) in tt.dims.iter().zip(&t.shape.0).enumerate() {
            if is_wildcard(d) {
                continue;
            }
            if let ExprKind::Name(id) = &d.kind
                && (!scope.symbols.contains_key(&id.name)
                    || (id.name == "B" && scope.symbols.get("B") == Some(&Dim::sym("B"))))
            {
                scope.symbols.insert(id.name.clone(), found.clone());
                continue;
            }
            let Some(expected) = self.dim_expr(scope, d) else { return false };
            if expected.surely_differs(found) {
                self.report(
                    at,
                    CheckError::ShapeMismatch {
                        node: block.to_string(),
                        dim: i,
                        expected: if self.program.sources.text(d.span) == expected.to_string() {
                            expected.to_string()
                        } else {
                            format!("{expected} (`{}`)", self.program.sources.text(d.span))
                        },
                        found: found.to_string(),
                        help: format!(
                            "`{param}` is declared as {}, the argument is {}",
                            self.program.sources.text(tt.span),
                            t.shape
                        ),
                        at: at.into(),
                    },
                );
                return false;
            }
        }
        true
    }

    fn call_layer(
        &mut self,
        scope: &mut Scope,
        builtin: &'static Builtin,
        callee: &Ident,
        args: &[Arg],
        span: Span,
    ) -> V {
        let slots: Vec<Slot> =
            builtin.params.iter().map(|p| Slot { name: p.name, required: p.default.is_none() }).collect();
        let mut errors = Vec::new();
        let given = bind(callee, &builtin.signature(), &slots, args, &mut errors);
        let mut failed = !errors.is_empty();
        self.sink.extend(errors);
        let mut values: HashMap<&'static str, (V, Span)> = HashMap::new();
        for (param, expr) in builtin.params.iter().zip(given) {
            let Some(expr) = expr else { continue };
            let v = match (param.ty, &expr.kind) {
                (Ty::Word(words) | Ty::IntOrWord(words), ExprKind::Name(id)) if words.contains(&id.name.as_str()) => {
                    V::Word(id.name.clone())
                }
                (Ty::Word(words), ExprKind::Name(id)) => {
                    let help = suggest::help(
                        &id.name,
                        words.iter().copied(),
                        format!("`{}` is {}", param.name, param.ty.describe()),
                    );
                    self.report(
                        expr.span,
                        CheckError::ArgType {
                            callee: builtin.name.into(),
                            name: param.name.into(),
                            expected: param.ty.describe(),
                            found: format!("`{}`", id.name),
                            help,
                            at: expr.span.into(),
                        },
                    );
                    V::Invalid
                }
                _ => self.eval(scope, expr),
            };
            if matches!(&v, V::Invalid) || matches!(&v, V::List(items) if items.iter().any(|i| matches!(i, V::Invalid)))
            {
                failed = true;
                continue;
            }
            if !self.type_ok(builtin, param.name, param.ty, param.bound, &v, expr.span) {
                failed = true;
                continue;
            }
            values.insert(param.name, (v, expr.span));
        }
        if failed {
            return V::Invalid;
        }
        self.layer(scope, LayerCx::new(builtin, span, values))
    }

    fn type_ok(&mut self, builtin: &Builtin, name: &str, ty: Ty, bound: Bound, v: &V, span: Span) -> bool {
        let ok = match (ty, v) {
            (Ty::Tensor, V::Tensor(_)) => true,
            (Ty::Tensors, V::List(items)) => !items.is_empty() && items.iter().all(|i| matches!(i, V::Tensor(_))),
            (Ty::Int | Ty::IntOrWord(_), V::Int(_)) => true,
            (Ty::IntOrWord(_) | Ty::Word(_), V::Word(_)) => true,
            (Ty::Float, V::Float(_) | V::Int(_)) => true,
            (Ty::Bool, V::Bool(_)) => true,
            (Ty::Str, V::Str(_)) => true,
            (Ty::Floats, V::List(items)) => items.iter().all(|i| matches!(i, V::Float(_) | V::Int(_))),
            _ => false,
        };
        if !ok {
            let help = match (ty, v) {
                (Ty::Tensor, V::Int(_)) => {
                    format!("the input comes first: `{}(x, …)` or `x |> {}(…)`", builtin.name, builtin.name)
                }
                (Ty::Int, V::Float(_)) => format!("`{name}` counts something: write a whole number"),
                _ => format!("the signature is `{}`", builtin.signature()),
            };
            self.report(
                span,
                CheckError::ArgType {
                    callee: builtin.name.into(),
                    name: name.into(),
                    expected: ty.describe(),
                    found: v.describe(),
                    help,
                    at: span.into(),
                },
            );
            return false;
        }
        let number = match v {
            V::Int(d) => d.value().map(|n| n as f64),
            V::Float(f) if !f.is_nan() => Some(*f),
            _ => None,
        };
        if let Some(x) = number
            && !bound.contains(x)
        {
            self.report(
                span,
                CheckError::ArgRange {
                    callee: builtin.name.into(),
                    name: name.into(),
                    bound: bound.describe(),
                    value: format_number(x),
                    help: format!("`{name}` must be {}", bound.describe()),
                    at: span.into(),
                },
            );
            return false;
        }
        true
    }

    /// `a + b` on tensors is the `add` layer.
    fn add_node(&mut self, scope: &Scope, a: T, b: T, span: Span) -> V {
        let values = HashMap::from([("a", (V::Tensor(a), span)), ("b", (V::Tensor(b), span))]);
        self.layer(scope, LayerCx::new(&layers::shape::ADD, span, values))
    }

    /// Runs a layer's shape rule and adds the node it infers.
    fn layer(&mut self, scope: &Scope, mut cx: LayerCx) -> V {
        // Every layer has a rule (`tests/layers.rs`); the other kinds are never called here.
        let Some(rule) = cx.builtin().rule else { return V::Invalid };
        let inferred = rule(&mut cx);
        for (at, error) in cx.take_errors() {
            self.report(at, error);
        }
        match inferred {
            Some(n) => self.node(scope, n.op, &n.inputs, n.shape, n.params, cx.span()),
            None => V::Invalid,
        }
    }

    fn node(&mut self, scope: &Scope, op: Op, inputs: &[T], shape: Shape, params: Dim, span: Span) -> V {
        let key = format!("{}{}", scope.prefix, op.name());
        let count = self.counters.entry(key.clone()).or_insert(0);
        let path = format!("{key}{count}");
        *count += 1;
        let node = self.graph.add_node(Node { path, op, shape: shape.clone(), params, span });
        for (slot, input) in inputs.iter().enumerate() {
            self.graph.add_edge(input.node, node, slot);
        }
        V::Tensor(T { shape, node })
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
        Item::Use(_) | Item::Train(_) => "a declaration",
    }
}
