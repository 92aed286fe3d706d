//! Tensor arithmetic: `sub` and `mul` (with `add` in `shape.rs`, all three with NumPy
//! broadcasting: `a - b`, `a * b`), `scale` (`s * a`, `a / s`), `matmul`, and the reductions
//! `mean`, `sum` and `max` over axes. No weights.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::check::error::CheckError;
use crate::ir::{Op, Reduce};

const A: crate::check::builtins::Param = req("a", Tensor, Any);
const B: crate::check::builtins::Param = req("b", Tensor, Any);

pub const SUB: Builtin = layer!("sub", "element-wise difference, with broadcasting (`a - b`)", sub, [A, B]);
pub const MUL: Builtin = layer!("mul", "element-wise product, with broadcasting (`a * b`)", mul, [A, B]);
pub const SCALE: Builtin =
    layer!("scale", "multiplies by a number (`s * x`, `x / s`)", scale, [X, req("by", Float, Any)]);
pub const MATMUL: Builtin = layer!(
    "matmul",
    "matrix product of the last two axes, batched over the others ([…, n, k] × […, k, m])",
    matmul,
    [A, B]
);
const DIMS: crate::check::builtins::Param = req("dims", Ints, Any);
const KEEPDIM: crate::check::builtins::Param = opt("keepdim", Bool, "false", Any);
pub const MEAN: Builtin = layer!("mean", "mean over axes", mean, [X, DIMS, KEEPDIM]);
pub const SUM: Builtin = layer!("sum", "sum over axes", sum, [X, DIMS, KEEPDIM]);
pub const MAX: Builtin = layer!("max", "maximum over axes", max, [X, DIMS, KEEPDIM]);

/// An element-wise op of two tensors, broadcast.
fn broadcasting(cx: &mut LayerCx, op: Op) -> Option<Inferred> {
    let a = cx.tensor("a")?;
    let b = cx.tensor("b")?;
    let shape = cx.broadcast(&a, &b)?;
    Some(Inferred::new(op, vec![a, b], shape, Dim::known(0)))
}

pub(super) fn add(cx: &mut LayerCx) -> Option<Inferred> {
    broadcasting(cx, Op::Add)
}

fn sub(cx: &mut LayerCx) -> Option<Inferred> {
    broadcasting(cx, Op::Sub)
}

fn mul(cx: &mut LayerCx) -> Option<Inferred> {
    broadcasting(cx, Op::Mul)
}

fn scale(cx: &mut LayerCx) -> Option<Inferred> {
    // NaN in a generic block check, where a float parameter has no value yet.
    let by = cx.float("by").unwrap_or(f64::NAN);
    let x = cx.tensor("x")?;
    Some(Inferred::same_shape(Op::Scale { by }, x))
}

fn matmul(cx: &mut LayerCx) -> Option<Inferred> {
    let a = cx.min_rank("a", 2)?;
    let b = cx.min_rank("b", 2)?;
    if a.shape.rank() != b.shape.rank() {
        cx.shape_rank(a.shape.rank().to_string(), &b, format!("the other input is {}", a.shape));
        return None;
    }
    let r = a.shape.rank();
    let (k1, k2) = (&a.shape.0[r - 1], &b.shape.0[r - 2]);
    if k1.surely_differs(k2) {
        let error = CheckError::ShapeMismatch {
            node: "matmul".into(),
            dim: r - 2,
            expected: k1.to_string(),
            found: k2.to_string(),
            help: format!(
                "{} × {}: the last axis of the first must equal the one before last of the second",
                a.shape, b.shape
            ),
            at: cx.span().into(),
        };
        let at = cx.span();
        cx.report(at, error);
        return None;
    }
    // The leading (batch) axes broadcast like `a * b`.
    let lead = |t: &super::T| super::T { shape: Shape(t.shape.0[..r - 2].to_vec()), node: t.node };
    let mut dims = if r > 2 { cx.broadcast(&lead(&a), &lead(&b))?.0 } else { Vec::new() };
    dims.push(a.shape.0[r - 2].clone());
    dims.push(b.shape.0[r - 1].clone());
    Some(Inferred::new(Op::Matmul, vec![a, b], Shape(dims), Dim::known(0)))
}

fn reduce(cx: &mut LayerCx, how: Reduce) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let dims = cx.axes("dims", x.shape.rank())?;
    let keepdim = cx.bool("keepdim")?;
    let mut out = Vec::new();
    for (i, d) in x.shape.0.iter().enumerate() {
        if !dims.contains(&i) {
            out.push(d.clone());
        } else if keepdim {
            out.push(Dim::known(1));
        }
    }
    let shape = Shape(out);
    cx.supported_rank(&shape)?;
    Some(Inferred::new(Op::Reduce { how, dims, keepdim }, vec![x], shape, Dim::known(0)))
}

fn mean(cx: &mut LayerCx) -> Option<Inferred> {
    reduce(cx, Reduce::Mean)
}

fn sum(cx: &mut LayerCx) -> Option<Inferred> {
    reduce(cx, Reduce::Sum)
}

fn max(cx: &mut LayerCx) -> Option<Inferred> {
    reduce(cx, Reduce::Max)
}
