//! Binding call arguments to parameters, and turning constant expressions into values.
//!
//! [`bind`] matches positional and named arguments against a parameter list (a builtin's or a
//! block's) and reports unknown, duplicate, missing and surplus arguments. [`constant`] and
//! [`convert`] evaluate configuration arguments (losses, optimizers, schedules, augmentations,
//! metrics, sources) to [`ir::Value`]s with type and range checks and defaults filled in.

use std::collections::BTreeMap;

use super::Errors;
use super::builtins::{Bound, Builtin, Ty};
use super::error::CheckError;
use crate::ir::{Call, Value};
use crate::suggest;
use crate::syntax::ast::{Arg, BinOp, Expr, ExprKind, Ident};

/// A parameter as the binder sees it.
pub struct Slot<'a> {
    pub name: &'a str,
    pub required: bool,
}

/// Matches `args` to `slots`. Returns, per slot, the expression given for it (if any).
pub fn bind<'e>(
    callee: &Ident,
    signature: &str,
    slots: &[Slot],
    args: &'e [Arg],
    errors: &mut Errors,
) -> Vec<Option<&'e Expr>> {
    let mut bound: Vec<Option<&Expr>> = vec![None; slots.len()];
    let mut next_positional = 0;
    for arg in args {
        match &arg.name {
            None => {
                if next_positional >= slots.len() {
                    errors.push((
                        arg.value.span.file,
                        CheckError::TooManyArgs {
                            callee: callee.name.clone(),
                            max: slots.len(),
                            signature: signature.to_string(),
                            at: arg.value.span.into(),
                        },
                    ));
                    continue;
                }
                bound[next_positional] = Some(&arg.value);
                next_positional += 1;
            }
            Some(name) => match slots.iter().position(|s| s.name == name.name) {
                Some(i) if bound[i].is_some() => errors.push((
                    name.span.file,
                    CheckError::DuplicateArg {
                        callee: callee.name.clone(),
                        name: name.name.clone(),
                        at: name.span.into(),
                    },
                )),
                Some(i) => bound[i] = Some(&arg.value),
                None => {
                    let names = slots.iter().map(|s| s.name);
                    errors.push((
                        name.span.file,
                        CheckError::UnknownArg {
                            callee: callee.name.clone(),
                            name: name.name.clone(),
                            help: suggest::help(&name.name, names, format!("the signature is `{signature}`")),
                            at: name.span.into(),
                        },
                    ));
                }
            },
        }
    }
    for (slot, given) in slots.iter().zip(&bound) {
        if slot.required && given.is_none() {
            errors.push((
                callee.span.file,
                CheckError::MissingArg {
                    callee: callee.name.clone(),
                    name: slot.name.to_string(),
                    signature: signature.to_string(),
                    at: callee.span.into(),
                },
            ));
        }
    }
    bound
}

/// A constant: what configuration expressions evaluate to.
#[derive(Clone, Debug, PartialEq)]
pub enum Const {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Word(String),
    List(Vec<Const>),
}

impl Const {
    pub fn describe(&self) -> String {
        match self {
            Const::Int(i) => format!("the integer {i}"),
            Const::Float(f) => format!("the number {f:?}"),
            Const::Bool(b) => format!("`{b}`"),
            Const::Str(s) => format!("the string \"{s}\""),
            Const::Word(w) => format!("`{w}`"),
            Const::List(_) => "a list".into(),
        }
    }

    fn number(&self) -> Option<f64> {
        match self {
            Const::Int(i) => Some(*i as f64),
            Const::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// Evaluates a constant expression; `Err` carries what it was instead.
pub fn constant(expr: &Expr) -> Result<Const, String> {
    Ok(match &expr.kind {
        ExprKind::Int(i) => Const::Int(*i),
        ExprKind::Float(f) => Const::Float(*f),
        ExprKind::Bool(b) => Const::Bool(*b),
        ExprKind::Str(s) => Const::Str(s.clone()),
        ExprKind::Name(id) => Const::Word(id.name.clone()),
        ExprKind::List(items) => Const::List(items.iter().map(constant).collect::<Result<_, _>>()?),
        ExprKind::Neg(inner) => match constant(inner)? {
            Const::Int(i) => Const::Int(i.saturating_neg()),
            Const::Float(f) => Const::Float(-f),
            other => return Err(format!("the negation of {}", other.describe())),
        },
        ExprKind::Binary { op, lhs, rhs } => {
            let (a, b) = (constant(lhs)?, constant(rhs)?);
            match (&a, &b) {
                (Const::Int(x), Const::Int(y)) if *op != BinOp::Div => Const::Int(match op {
                    BinOp::Add => x.saturating_add(*y),
                    BinOp::Sub => x.saturating_sub(*y),
                    _ => x.saturating_mul(*y),
                }),
                _ => match (a.number(), b.number()) {
                    (Some(x), Some(y)) => Const::Float(match op {
                        BinOp::Add => x + y,
                        BinOp::Sub => x - y,
                        BinOp::Mul => x * y,
                        BinOp::Div => x / y,
                    }),
                    _ => return Err("arithmetic on non-numbers".into()),
                },
            }
        }
        _ => return Err(expr.describe()),
    })
}

/// Checks a constant against a parameter type and range, converting it to a [`Value`].
pub fn convert(callee: &str, name: &str, ty: Ty, bound: Bound, expr: &Expr, errors: &mut Errors) -> Option<Value> {
    let type_error = |found: String, help: String| CheckError::ArgType {
        callee: callee.to_string(),
        name: name.to_string(),
        expected: ty.describe(),
        found,
        help,
        at: expr.span.into(),
    };
    // `val.loss`: the checker has judged the split and the metric before binding.
    if let (Ty::Monitor, ExprKind::Member { base, name: metric }) = (ty, &expr.kind)
        && let Some(split) = base.as_name()
    {
        return Some(Value::Word(format!("{}.{}", split.name, metric.name)));
    }
    let value = match constant(expr) {
        Err(found) => {
            errors.push((expr.span.file, type_error(found, format!("`{name}` takes a constant"))));
            return None;
        }
        Ok(c) => c,
    };
    let converted = match (ty, &value) {
        (Ty::Int | Ty::IntOrWord(_), Const::Int(i)) => Value::Int(*i),
        (Ty::Float, Const::Int(i)) => Value::Float(*i as f64),
        (Ty::Float, Const::Float(f)) => Value::Float(*f),
        (Ty::Bool, Const::Bool(b)) => Value::Bool(*b),
        (Ty::Str, Const::Str(s)) => Value::Str(s.clone()),
        (Ty::Output, Const::Word(w)) => Value::Word(w.clone()),
        (Ty::Word(words) | Ty::IntOrWord(words), Const::Word(w)) => {
            if !words.contains(&w.as_str()) {
                let help = suggest::help(w, words.iter().copied(), format!("`{name}` is {}", ty.describe()));
                errors.push((expr.span.file, type_error(format!("`{w}`"), help)));
                return None;
            }
            Value::Word(w.clone())
        }
        (Ty::Floats, Const::List(items)) => {
            let numbers: Option<Vec<f64>> = items.iter().map(Const::number).collect();
            match numbers {
                Some(n) => Value::Floats(n),
                None => {
                    errors.push((
                        expr.span.file,
                        type_error("a list with non-numbers".into(), "write numbers: `[0.5, 0.5, 0.5]`".into()),
                    ));
                    return None;
                }
            }
        }
        (Ty::Strs, Const::List(items)) => {
            let strings: Option<Vec<String>> =
                items.iter().map(|i| if let Const::Str(s) = i { Some(s.clone()) } else { None }).collect();
            match strings {
                Some(s) => Value::Strs(s),
                None => {
                    errors.push((
                        expr.span.file,
                        type_error("a list with non-strings".into(), "write strings: `[\"a -> b\"]`".into()),
                    ));
                    return None;
                }
            }
        }
        (Ty::Int, Const::Float(f)) => {
            errors.push((
                expr.span.file,
                type_error(format!("the number {f:?}"), format!("`{name}` counts something: write a whole number")),
            ));
            return None;
        }
        _ => {
            let help = match &value {
                Const::Word(w) => format!("`{w}` is not a value here; `{name}` is {}", ty.describe()),
                _ => format!("`{name}` is {}", ty.describe()),
            };
            errors.push((expr.span.file, type_error(value.describe(), help)));
            return None;
        }
    };
    if let Some(x) = converted.as_f64()
        && (!bound.contains(x) || x.is_nan())
    {
        errors.push((
            expr.span.file,
            CheckError::ArgRange {
                callee: callee.to_string(),
                name: name.to_string(),
                bound: bound.describe(),
                value: format_number(x),
                help: format!("`{name}` must be {}", bound.describe()),
                at: expr.span.into(),
            },
        ));
        return None;
    }
    Some(converted)
}

pub fn format_number(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 { format!("{}", x as i64) } else { format!("{x}") }
}

/// Parses a default from the builtin table ("0.5", "true", "nearest").
pub(super) fn default_value(ty: Ty, text: &str) -> Option<Value> {
    if text.is_empty() {
        return None;
    }
    Some(match ty {
        Ty::Int | Ty::IntOrWord(_) => match text.parse() {
            Ok(i) => Value::Int(i),
            Err(_) => Value::Word(text.to_string()),
        },
        Ty::Float => Value::Float(text.parse().ok()?),
        Ty::Bool => Value::Bool(text == "true"),
        // Only `[]` is used as a default.
        Ty::Strs => Value::Strs(Vec::new()),
        // `[0.08, 1.0]`.
        Ty::Floats => Value::Floats(
            text.trim_matches(['[', ']']).split(',').map(|x| x.trim().parse().ok()).collect::<Option<Vec<f64>>>()?,
        ),
        _ => Value::Word(text.to_string()),
    })
}

/// Binds and converts a configuration call (`adamw(lr = 1e-3)`) against a builtin.
/// Parameters of tensor type are skipped: configuration calls have none.
pub fn config_call(builtin: &Builtin, callee: &Ident, args: &[Arg], errors: &mut Errors) -> Call {
    let slots: Vec<Slot> =
        builtin.params.iter().map(|p| Slot { name: p.name, required: p.default.is_none() }).collect();
    let bound = bind(callee, &builtin.signature(), &slots, args, errors);
    let mut out = BTreeMap::new();
    for (param, given) in builtin.params.iter().zip(bound) {
        let value = match given {
            Some(expr) => convert(builtin.name, param.name, param.ty, param.bound, expr, errors),
            None => param.default.and_then(|d| default_value(param.ty, d)),
        };
        if let Some(v) = value {
            out.insert(param.name.to_string(), v);
        }
    }
    Call { name: builtin.name.to_string(), args: out }
}
