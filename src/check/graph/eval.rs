//! Expressions in a model body: literals, names, arithmetic on sizes, arithmetic on tensors
//! (`a + b`, `a - b`, `a * b` broadcast; `s * a`, `a / s` scale), named outputs and member
//! access.

use super::{GraphChecker, Scope, V, item_kind};
use crate::check::builtins::{self, Kind};
use crate::check::dim::Dim;
use crate::check::error::CheckError;
use crate::check::layers;
use crate::suggest;
use crate::syntax::ast::{BinOp, Expr, ExprKind, Ident};
use crate::syntax::span::Span;

impl GraphChecker<'_> {
    pub(super) fn eval(&mut self, scope: &mut Scope, expr: &Expr) -> V {
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

    pub(super) fn bad_arith(&mut self, span: Span, v: &V) -> V {
        self.report(
            span,
            CheckError::BadValue {
                message: format!("cannot do arithmetic on {}", v.describe()),
                help: "only sizes, numbers and tensors take `+ - * /`".into(),
                label: v.describe(),
                at: span.into(),
            },
        );
        V::Invalid
    }

    pub(super) fn binary(&mut self, scope: &mut Scope, op: BinOp, a: V, b: V, span: Span) -> V {
        match (a, b) {
            (V::Invalid, _) | (_, V::Invalid) => V::Invalid,
            (V::Tensor(x), V::Tensor(y)) if op != BinOp::Div => {
                let builtin = match op {
                    BinOp::Add => &layers::shape::ADD,
                    BinOp::Sub => &layers::math::SUB,
                    _ => &layers::math::MUL,
                };
                self.binary_node(scope, builtin, x, y, span)
            }
            (V::Tensor(x), n @ (V::Int(_) | V::Float(_))) if matches!(op, BinOp::Mul | BinOp::Div) => {
                let by = number(&n);
                self.scale_node(scope, x, if op == BinOp::Div { 1.0 / by } else { by }, span)
            }
            (n @ (V::Int(_) | V::Float(_)), V::Tensor(x)) if op == BinOp::Mul => {
                let by = number(&n);
                self.scale_node(scope, x, by, span)
            }
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
                let (x, y) = (number(&x), number(&y));
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
                        help: "tensors take `+`, `-` and `*` with tensors (broadcast), and `*` or `/` by a number"
                            .into(),
                        label: "not a tensor operation".into(),
                        at: span.into(),
                    },
                );
                V::Invalid
            }
            (other, _) => self.bad_arith(span, &other),
        }
    }

    pub(super) fn name(&mut self, scope: &mut Scope, id: &Ident) -> V {
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
}

/// A number's value; NaN for a size that is still a symbol (a generic block check).
fn number(v: &V) -> f64 {
    match v {
        V::Int(d) => d.value().map_or(f64::NAN, |n| n as f64),
        V::Float(f) => *f,
        _ => f64::NAN,
    }
}
