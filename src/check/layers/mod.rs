//! The layers, one file per family. Each file holds, for its layers, the signature (a
//! [`Builtin`] with its parameters, defaults and summary, listed in [`super::builtins::BUILTINS`])
//! and the shape rule: a [`Rule`] that reads the bound arguments from a [`LayerCx`] and returns
//! the [`Inferred`] node — the resolved [`Op`], its inputs, its output shape and its parameter
//! count — or reports why the arguments do not fit and returns `None`.
//!
//! Defaults are written once, in the signature: [`LayerCx::int`] and its siblings fall back to the
//! parameter's default when an argument is not given (or, in a generic block check, not known).
//!
//! Adding a layer: its `Builtin` (with `layer!`) and rule in a family file, the constant in
//! `BUILTINS`, an [`Op`] variant with its arm in `exec/net.rs`, and the three editor grammars.
//! `tests/layers.rs` and `tests/editors.rs` fail until all of them are there.

use std::collections::HashMap;

use super::builtins::{Bound, Builtin, Param, Ty};
use super::dim::{Dim, Shape};
use super::error::CheckError;
use super::graph::{T, V};
use crate::ir::Op;
use crate::syntax::span::Span;

/// A layer's shape rule. `None` after reporting an error in the context.
pub type Rule = fn(&mut LayerCx) -> Option<Inferred>;

/// A layer's signature with its shape rule: `layer!("relu", "max(x, 0)", relu, [X])`.
macro_rules! layer {
    ($name:literal, $summary:literal, $rule:expr, [$($p:expr),* $(,)?]) => {
        $crate::check::builtins::Builtin {
            name: $name,
            kind: $crate::check::builtins::Kind::Layer,
            params: &[$($p),*],
            summary: $summary,
            rule: Some($rule),
        }
    };
}

pub mod activation;
pub mod conv;
pub mod linear;
pub mod math;
pub mod norm;
pub mod pool;
pub mod shape;
pub mod tokens;

/// The input tensor most layers take first.
pub(crate) const X: Param = super::builtins::req("x", Ty::Tensor, Bound::Any);

/// What a shape rule infers: one node of the model graph.
#[derive(Debug)]
pub struct Inferred {
    pub(crate) op: Op,
    pub(crate) inputs: Vec<T>,
    pub(crate) shape: Shape,
    pub(crate) params: Dim,
}

impl Inferred {
    fn new(op: Op, inputs: Vec<T>, shape: Shape, params: Dim) -> Inferred {
        Inferred { op, inputs, shape, params }
    }

    /// A layer without weights that keeps its input's shape (activations, dropout).
    fn same_shape(op: Op, x: T) -> Inferred {
        let shape = x.shape.clone();
        Inferred { op, inputs: vec![x], shape, params: Dim::known(0) }
    }
}

/// One layer call: its builtin, the arguments that were given (already type- and range-checked
/// against the signature), and the errors its rule reports.
pub struct LayerCx {
    builtin: &'static Builtin,
    span: Span,
    values: HashMap<&'static str, (V, Span)>,
    errors: Vec<(Span, CheckError)>,
    /// The values written without a name (`conv2d(3, 256)`), by span.
    positional: Vec<Span>,
}

impl LayerCx {
    pub(crate) fn new(builtin: &'static Builtin, span: Span, values: HashMap<&'static str, (V, Span)>) -> LayerCx {
        LayerCx { builtin, span, values, errors: Vec::new(), positional: Vec::new() }
    }

    /// Records which values were written without a name.
    pub(crate) fn with_positional(mut self, positional: Vec<Span>) -> LayerCx {
        self.positional = positional;
        self
    }

    /// Whether argument `name` was written without its name.
    fn is_positional(&self, name: &str) -> bool {
        self.get(name).is_some_and(|(_, at)| self.positional.contains(at))
    }

    pub(crate) fn builtin(&self) -> &'static Builtin {
        self.builtin
    }

    pub(crate) fn span(&self) -> Span {
        self.span
    }

    /// The errors the rule reported, in order.
    pub(crate) fn take_errors(&mut self) -> Vec<(Span, CheckError)> {
        std::mem::take(&mut self.errors)
    }

    pub(super) fn report(&mut self, at: Span, error: CheckError) {
        self.errors.push((at, error));
    }

    fn get(&self, name: &str) -> Option<&(V, Span)> {
        self.values.get(name)
    }

    /// Where argument `name` was written, or the call when it was not.
    fn at(&self, name: &str) -> Span {
        self.get(name).map_or(self.span, |(_, s)| *s)
    }

    /// The signature's default for `name`; `None` when it has none ("unset" or required).
    fn default(&self, name: &str) -> Option<&'static str> {
        self.builtin.param(name).and_then(|p| p.default).filter(|d| !d.is_empty())
    }

    /// A size argument (`out`), possibly symbolic.
    fn dim(&self, name: &str) -> Option<Dim> {
        match self.get(name) {
            Some((V::Int(d), _)) => Some(d.clone()),
            _ => None,
        }
    }

    /// A hyper-parameter that must be known (kernel, stride…). Symbolic ones fall back to the
    /// default, which only happens in generic block checks.
    fn int(&self, name: &str) -> Option<i64> {
        self.dim(name).and_then(|d| d.value()).or_else(|| self.default(name)?.parse().ok())
    }

    fn float(&self, name: &str) -> Option<f64> {
        let given = match self.get(name) {
            Some((V::Float(f), _)) if !f.is_nan() => Some(*f),
            Some((V::Int(d), _)) => d.value().map(|n| n as f64),
            _ => None,
        };
        given.or_else(|| self.default(name)?.parse().ok())
    }

    fn bool(&self, name: &str) -> Option<bool> {
        match self.get(name) {
            Some((V::Bool(b), _)) => Some(*b),
            _ => self.default(name)?.parse().ok(),
        }
    }

    /// A bare-word argument (`mode = bilinear`), or the default word.
    fn word(&self, name: &str) -> Option<&str> {
        match self.get(name) {
            Some((V::Word(w), _)) => Some(w),
            _ => self.default(name),
        }
    }

    fn missing(&mut self, name: &str) {
        let error = CheckError::MissingArg {
            callee: self.builtin.name.into(),
            name: name.into(),
            signature: self.builtin.signature(),
            at: self.span.into(),
        };
        self.report(self.span, error);
    }

    fn tensor(&mut self, name: &str) -> Option<T> {
        match self.get(name) {
            Some((V::Tensor(t), _)) => Some(t.clone()),
            _ => {
                self.missing(name);
                None
            }
        }
    }

    /// A list-of-tensors argument (`concat([a, b])`).
    fn tensors(&self, name: &str) -> Option<Vec<T>> {
        let Some((V::List(items), _)) = self.get(name) else { return None };
        Some(items.iter().filter_map(|v| if let V::Tensor(t) = v { Some(t.clone()) } else { None }).collect())
    }

    fn rank(&mut self, name: &str, rank: usize) -> Option<T> {
        let t = self.tensor(name)?;
        if t.shape.rank() != rank {
            let help = if t.shape.rank() == 2 && rank == 4 {
                "this layer works on images [B, C, H, W]; it comes before `flatten`".to_string()
            } else {
                format!("`{}` works on {rank}-D tensors", self.builtin.name)
            };
            self.shape_rank(rank.to_string(), &t, help);
            return None;
        }
        Some(t)
    }

    fn min_rank(&mut self, name: &str, rank: usize) -> Option<T> {
        let t = self.tensor(name)?;
        if t.shape.rank() < rank {
            self.shape_rank(format!("at least {rank}"), &t, "the first axis is the batch".into());
            return None;
        }
        Some(t)
    }

    fn shape_rank(&mut self, expected: String, t: &T, help: String) {
        let error = CheckError::ShapeRank {
            node: self.builtin.name.into(),
            expected,
            found: t.shape.rank(),
            shape: t.shape.to_string(),
            help,
            at: self.span.into(),
        };
        self.report(self.span, error);
    }

    /// An axis argument, negative counting from the end, checked against the rank.
    fn axis(&mut self, name: &str, rank: usize) -> Option<usize> {
        let d = self.int(name)?;
        let axis = if d < 0 { rank as i64 + d } else { d };
        if axis < 0 || axis >= rank as i64 {
            let at = self.at(name);
            let error = CheckError::ArgRange {
                callee: self.builtin.name.into(),
                name: name.into(),
                bound: format!("in [-{rank}, {}]", rank - 1),
                value: d.to_string(),
                help: format!("the input has {rank} axes"),
                at: at.into(),
            };
            self.report(at, error);
            return None;
        }
        Some(axis as usize)
    }

    /// An integer-list argument (`dims = [2, 3]`, or one integer), possibly symbolic.
    fn ints(&self, name: &str) -> Option<Vec<Dim>> {
        match self.get(name) {
            Some((V::Int(d), _)) => Some(vec![d.clone()]),
            Some((V::List(items), _)) => {
                items.iter().map(|v| if let V::Int(d) = v { Some(d.clone()) } else { None }).collect()
            }
            _ => None,
        }
    }

    /// A list of axes (`dims = [2, -1]`), each counted from the end when negative, checked
    /// against the rank, never the batch axis, each at most once. Sorted.
    fn axes(&mut self, name: &str, rank: usize) -> Option<Vec<usize>> {
        let given = self.ints(name)?;
        let mut out = Vec::new();
        for d in given {
            let at = self.at(name);
            let n = d.value().unwrap_or(-1);
            let axis = if n < 0 { rank as i64 + n } else { n };
            if axis < 1 || axis >= rank as i64 || out.contains(&(axis as usize)) {
                let error = CheckError::ArgRange {
                    callee: self.builtin.name.into(),
                    name: name.into(),
                    bound: format!("distinct axes in [1, {}]", rank - 1),
                    value: d.to_string(),
                    help: format!("the input has {rank} axes and the first is the batch"),
                    at: at.into(),
                };
                self.report(at, error);
                return None;
            }
            out.push(axis as usize);
        }
        out.sort_unstable();
        Some(out)
    }

    /// The NumPy broadcast of two shapes: aligned from the last axis, each pair of dimensions
    /// equal or one of them 1. Symbolic dimensions that might agree are taken to (the left one).
    fn broadcast(&mut self, a: &T, b: &T) -> Option<Shape> {
        let rank = a.shape.rank().max(b.shape.rank());
        let one = Dim::known(1);
        let at = |s: &Shape, i: usize| {
            let pad = rank - s.rank();
            if i < pad { one.clone() } else { s.0[i - pad].clone() }
        };
        let mut dims = Vec::with_capacity(rank);
        for i in 0..rank {
            let (x, y) = (at(&a.shape, i), at(&b.shape, i));
            let d = if x == y || y == one {
                x
            } else if x == one {
                y
            } else if x.surely_differs(&y) {
                let what = if rank == 4 && i == 1 { " (channels: project one with `conv2d(…, k = 1)`)" } else { "" };
                let error = CheckError::ShapeBroadcast {
                    node: self.builtin.name.into(),
                    left: a.shape.to_string(),
                    right: b.shape.to_string(),
                    dim: i,
                    a: x.to_string(),
                    b: y.to_string(),
                    help: format!("aligned from the last axis, each pair of dimensions must agree or one be 1{what}"),
                    at: self.span.into(),
                };
                self.report(self.span, error);
                return None;
            } else {
                x
            };
            dims.push(d);
        }
        Some(Shape(dims))
    }

    /// A result of rank 2 to 4: what the executor carries (the batch axis and up to three more).
    fn supported_rank(&mut self, shape: &Shape) -> Option<()> {
        if (2..=4).contains(&shape.rank()) {
            return Some(());
        }
        let error = CheckError::ShapeRank {
            node: self.builtin.name.into(),
            expected: "2 to 4".into(),
            found: shape.rank(),
            shape: shape.to_string(),
            help: "trainc's tensors have a batch axis and one to three more; keep reduced axes with `keepdim = true`"
                .into(),
            at: self.span.into(),
        };
        self.report(self.span, error);
        None
    }

    /// Two arguments that conflict with each other, reported at argument `name`.
    fn conflict(&mut self, name: &str, message: &str, help: &str) {
        let at = self.at(name);
        self.report(at, CheckError::ArgConflict { message: message.into(), help: help.into(), at: at.into() });
    }

    /// `groups` must divide a channel count (when it is known).
    fn groups_divide(&mut self, what: &str, dim: &Dim, groups: i64) -> Option<()> {
        if let Some(n) = dim.value()
            && n % groups != 0
        {
            let node = self.builtin.name.into();
            let at = self.span;
            self.report(
                at,
                CheckError::ShapeGroups { node, what: what.into(), value: n.to_string(), groups, at: at.into() },
            );
            return None;
        }
        Some(())
    }

    /// Two inputs have the same shape, except along axis `except`.
    fn agree(&mut self, a: &T, b: &T, except: Option<usize>) -> Option<()> {
        if a.shape.rank() != b.shape.rank() {
            self.shape_rank(a.shape.rank().to_string(), b, format!("the other input is {}", a.shape));
            return None;
        }
        for (i, (x, y)) in a.shape.0.iter().zip(&b.shape.0).enumerate() {
            if Some(i) != except && x.surely_differs(y) {
                let what = match i {
                    1 => "channels",
                    0 => "batch",
                    _ => "spatial size",
                };
                let error = CheckError::ShapeMismatch {
                    node: self.builtin.name.into(),
                    dim: i,
                    expected: x.to_string(),
                    found: y.to_string(),
                    help: format!(
                        "the inputs are {} and {}; their {what} must agree{}",
                        a.shape,
                        b.shape,
                        if i == 1 { " (project one with `conv2d(…, k = 1)`)" } else { "" }
                    ),
                    at: self.span.into(),
                };
                self.report(self.span, error);
                return None;
            }
        }
        Some(())
    }

    /// Every spatial size of the output (`dims`, from axis 2) is at least 1.
    fn too_small(&mut self, x: &T, dims: &[Dim]) -> Option<()> {
        for (i, d) in dims.iter().enumerate().skip(2) {
            if let Some(n) = d.value()
                && n <= 0
            {
                let error = CheckError::ShapeTooSmall {
                    node: self.builtin.name.into(),
                    dim: i,
                    size: n,
                    input: x.shape.to_string(),
                    at: self.span.into(),
                };
                self.report(self.span, error);
                return None;
            }
        }
        Some(())
    }
}

#[cfg(test)]
mod tests {
    use super::super::builtins::{BUILTINS, Kind, Ty};

    /// Rules read defaults with `?`: a default that does not parse would make a layer fail
    /// without a word, so every one must parse as its parameter's type.
    #[test]
    fn every_layer_default_parses_as_its_type() {
        for b in BUILTINS.iter().filter(|b| b.kind == Kind::Layer) {
            for p in b.params {
                let Some(d) = p.default.filter(|d| !d.is_empty()) else { continue };
                let ok = match p.ty {
                    Ty::Int => d.parse::<i64>().is_ok(),
                    Ty::Float => d.parse::<f64>().is_ok(),
                    Ty::Bool => d.parse::<bool>().is_ok(),
                    Ty::Word(words) => words.contains(&d),
                    Ty::IntOrWord(words) => words.contains(&d) || d.parse::<i64>().is_ok(),
                    _ => false,
                };
                assert!(ok, "`{}`: default `{} = {d}` is not {}", b.name, p.name, p.ty.describe());
            }
        }
    }

    #[test]
    fn layers_and_only_layers_have_a_shape_rule() {
        for b in BUILTINS {
            assert_eq!(b.rule.is_some(), b.kind == Kind::Layer, "`{}` ({})", b.name, b.kind.noun());
        }
    }
}
