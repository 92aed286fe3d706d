//! `param name: [dims] = init`: a learned tensor declared in a body (a class token, a position
//! embedding, a layer scale). Its dimensions are size expressions like a type's; it becomes an
//! input-less node whose module path is the body's prefix plus its name, with one parameter per
//! element.

use super::{GraphChecker, Scope, T, V};
use crate::check::builtins::PARAM_INITS;
use crate::check::dim::{Dim, Shape};
use crate::check::error::CheckError;
use crate::ir::{Init, Node, Op};
use crate::syntax::ast::{Arg, Expr, ExprKind, Ident, TensorType};
use crate::syntax::span::Span;

impl GraphChecker<'_> {
    pub(super) fn param(
        &mut self,
        scope: &mut Scope,
        name: &Ident,
        ty: &TensorType,
        init: Option<&Expr>,
        span: Span,
    ) -> V {
        let mut dims = Vec::new();
        for d in &ty.dims {
            match self.eval(scope, d) {
                V::Int(n) => dims.push(n),
                V::Invalid => return V::Invalid,
                other => {
                    self.bad_param(d.span, format!("a dimension of `{}` is {}", name.name, other.describe()));
                    return V::Invalid;
                }
            }
        }
        let shape = Shape(dims);
        if !(2..=4).contains(&shape.rank()) {
            let error = CheckError::ShapeRank {
                node: format!("param {}", name.name),
                expected: "2 to 4".into(),
                found: shape.rank(),
                shape: shape.to_string(),
                help: "a parameter has a leading axis (1: shared by the batch) and one to three more".into(),
                at: ty.span.into(),
            };
            self.report(ty.span, error);
            return V::Invalid;
        }
        let Some(init) = self.init(scope, init) else { return V::Invalid };
        let count = shape.0.iter().fold(Dim::known(1), |acc, d| acc.mul(d));
        let key = format!("{}{}", scope.prefix, name.name);
        let n = self.counters.entry(key.clone()).or_insert(0);
        let path = if *n == 0 { key } else { format!("{key}{n}") };
        *n += 1;
        let op = Op::Param { dims: shape.0.clone(), init };
        let node = self.graph.add_node(Node { path, op, shape: shape.clone(), params: count, span });
        V::Tensor(T { shape, node })
    }

    /// `zeros` (also when no init is written), `ones`, `full(v)`, `normal(std = s)`,
    /// `trunc_normal(std = s)`.
    fn init(&mut self, scope: &mut Scope, init: Option<&Expr>) -> Option<Init> {
        let Some(init) = init else { return Some(Init::Full(0.0)) };
        let (callee, args): (&Ident, &[Arg]) = match &init.kind {
            ExprKind::Name(id) => (id, &[]),
            ExprKind::Call { callee, args } => (callee, args),
            _ => {
                self.bad_param(init.span, format!("{} is not an initialiser", init.describe()));
                return None;
            }
        };
        let mut number = None;
        for a in args {
            match self.eval(scope, &a.value) {
                V::Float(f) => number = Some(f),
                V::Int(d) => number = d.value().map(|n| n as f64),
                V::Invalid => return None,
                other => {
                    self.bad_param(a.value.span, format!("`{}` takes a number, not {}", callee.name, other.describe()));
                    return None;
                }
            }
        }
        let std = number.unwrap_or(0.02);
        match (callee.name.as_str(), number) {
            ("zeros", None) => Some(Init::Full(0.0)),
            ("ones", None) => Some(Init::Full(1.0)),
            ("full", Some(v)) => Some(Init::Full(v)),
            ("normal", _) => Some(Init::Normal { std }),
            ("trunc_normal", _) => Some(Init::TruncNormal { std }),
            _ => {
                self.bad_param(init.span, format!("`{}` is not an initialiser with these arguments", callee.name));
                None
            }
        }
    }

    fn bad_param(&mut self, span: Span, message: String) {
        let help = format!(
            "a `param` is initialised with one of {}: `= zeros`, `= full(1e-6)`, `= normal(std = 0.02)`",
            PARAM_INITS.join(", ")
        );
        self.report(span, CheckError::BadValue { message, help, label: "here".into(), at: span.into() });
    }
}
