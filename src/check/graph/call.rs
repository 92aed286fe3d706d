//! Calls in a model body: a block is instantiated with its parameters bound to the arguments;
//! a layer's arguments are bound and checked against its signature, then its shape rule
//! (`check/layers/`) infers the node.

use std::collections::HashMap;

use super::{GraphChecker, MAX_DEPTH, Scope, T, V, item_kind};
use crate::check::args::{Slot, bind, format_number};
use crate::check::builtins::{self, Bound, Builtin, Kind, Ty};
use crate::check::dim::{Dim, Shape};
use crate::check::error::CheckError;
use crate::check::layers::{self, LayerCx};
use crate::ir::{DeclRef, Node, Op};
use crate::suggest;
use crate::syntax::ast::{self, Arg, ExprKind, GraphKind, Ident, Item};
use crate::syntax::span::Span;

impl GraphChecker<'_> {
    pub(super) fn call(&mut self, scope: &mut Scope, callee: &Ident, args: &[Arg], span: Span) -> V {
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
                let help = match crate::resolve::stdlib::exporting(&callee.name) {
                    Some(module) => {
                        format!("`{}` is in `{module}`: add `use {module}.{{{}}}`", callee.name, callee.name)
                    }
                    None => suggest::help(&callee.name, &names, "see `trainc builtins` for the layers"),
                };
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

    pub(super) fn call_block(
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
        for (file, error) in errors {
            self.report_in(file, error);
        }
        let values: Vec<Option<V>> = given.iter().map(|g| g.map(|e| self.eval(caller, e))).collect();
        if failed || values.iter().any(|v| matches!(v, Some(V::Invalid))) {
            return V::Invalid;
        }
        if self.stack.contains(&decl) {
            return V::Invalid; // reported once per cycle by `check::recursion`
        }
        if self.stack.len() >= MAX_DEPTH {
            if std::mem::replace(&mut self.sink.too_deep, true) {
                return V::Invalid;
            }
            self.report(span, CheckError::TooDeep { name: block.name.name.clone(), limit: MAX_DEPTH, at: span.into() });
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
        self.calls.push((span, block.name.name.clone()));
        let result = self.body(&mut scope, block, false);
        self.calls.pop();
        self.stack.pop();
        match result {
            Some(v) => {
                self.check_output(&mut scope, block, &v);
                v
            }
            None => V::Invalid,
        }
    }

    pub(super) fn call_layer(
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
        for (file, error) in errors {
            self.report_in(file, error);
        }
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
        let positional = args.iter().filter(|a| a.name.is_none()).map(|a| a.value.span).collect();
        self.layer(scope, LayerCx::new(builtin, span, values).with_positional(positional))
    }

    pub(super) fn type_ok(&mut self, builtin: &Builtin, name: &str, ty: Ty, bound: Bound, v: &V, span: Span) -> bool {
        let ok = match (ty, v) {
            (Ty::Tensor, V::Tensor(_)) => true,
            (Ty::Tensors, V::List(items)) => !items.is_empty() && items.iter().all(|i| matches!(i, V::Tensor(_))),
            (Ty::Int | Ty::IntOrWord(_), V::Int(_)) => true,
            (Ty::IntOrWord(_) | Ty::Word(_), V::Word(_)) => true,
            (Ty::Float, V::Float(_) | V::Int(_)) => true,
            (Ty::Bool, V::Bool(_)) => true,
            (Ty::Str, V::Str(_)) => true,
            (Ty::Floats, V::List(items)) => items.iter().all(|i| matches!(i, V::Float(_) | V::Int(_))),
            (Ty::Ints, V::Int(_)) => true,
            (Ty::Ints, V::List(items)) => !items.is_empty() && items.iter().all(|i| matches!(i, V::Int(_))),
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

    /// `a + b`, `a - b` and `a * b` on tensors are the `add`, `sub` and `mul` layers.
    pub(super) fn binary_node(&mut self, scope: &Scope, builtin: &'static Builtin, a: T, b: T, span: Span) -> V {
        let values = HashMap::from([("a", (V::Tensor(a), span)), ("b", (V::Tensor(b), span))]);
        self.layer(scope, LayerCx::new(builtin, span, values))
    }

    /// `s * x` and `x / s` are the `scale` layer.
    pub(super) fn scale_node(&mut self, scope: &Scope, x: T, by: f64, span: Span) -> V {
        let values = HashMap::from([("x", (V::Tensor(x), span)), ("by", (V::Float(by), span))]);
        self.layer(scope, LayerCx::new(&layers::math::SCALE, span, values))
    }

    /// Runs a layer's shape rule and adds the node it infers.
    pub(super) fn layer(&mut self, scope: &Scope, mut cx: LayerCx) -> V {
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

    pub(super) fn node(&mut self, scope: &Scope, op: Op, inputs: &[T], shape: Shape, params: Dim, span: Span) -> V {
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
