//! Tensor types in signatures against the shapes that flow: a model's inputs (bound to its data
//! when trained), a block's parameters at each call site, and the declared outputs.

use super::{DataBinding, GraphChecker, Scope, T, V, is_wildcard, return_span};
use crate::check::dim::{Dim, Shape};
use crate::check::error::CheckError;
use crate::suggest;
use crate::syntax::ast::{self, Expr, ExprKind, Ident, OutType, TensorType};
use crate::syntax::span::Span;

impl GraphChecker<'_> {
    /// A parameter pattern `[B, C, H, W]` evaluated with free symbols.
    pub(super) fn pattern_shape(&mut self, scope: &mut Scope, tt: &TensorType) -> Option<Shape> {
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
    pub(super) fn model_input(
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

    pub(super) fn program_text(&self, expr: &Expr) -> String {
        self.program.sources.text(expr.span).to_string()
    }

    /// Evaluates a dimension expression (in a type).
    pub(super) fn dim_expr(&mut self, scope: &mut Scope, expr: &Expr) -> Option<Dim> {
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

    /// Checks a returned value against the declared output type.
    pub(super) fn check_output(&mut self, scope: &mut Scope, graph: &ast::Graph, result: &V) {
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

    pub(super) fn unify_output(&mut self, scope: &mut Scope, output: &str, tt: &TensorType, t: &T, at: Span) {
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

    /// Binds a block's tensor pattern to the argument's shape.
    pub(super) fn unify_param(
        &mut self,
        scope: &mut Scope,
        block: &str,
        param: &str,
        tt: &TensorType,
        t: &T,
        at: Span,
    ) -> bool {
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

    /// Selects a named output (`p.p3`, or one name of `c3, c4 = …`), reporting a missing one.
    pub(super) fn output(&mut self, outputs: &[(String, T)], name: &Ident, purpose: &str, label: &str) -> V {
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
}
