//! Layers that only move values around: `flatten`, `add`, `concat`, `upsample`, `identity`.
//! No weights.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, INTERP, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::ir::Op;

pub const FLATTEN: Builtin = layer!("flatten", "[B, …] → [B, product]", flatten, [X]);

pub const ADD: Builtin = layer!(
    "add",
    "element-wise sum of two tensors of the same shape",
    add,
    [req("a", Tensor, Any), req("b", Tensor, Any)]
);

pub const CONCAT: Builtin =
    layer!("concat", "concatenation along an axis", concat, [req("xs", Tensors, Any), opt("dim", Int, "1", Any)]);

pub const UPSAMPLE: Builtin = layer!(
    "upsample",
    "spatial upsampling",
    upsample,
    [X, opt("scale", Int, "2", AtLeast(1.0)), opt("mode", Word(INTERP), "nearest", Any)]
);

pub const IDENTITY: Builtin = layer!("identity", "passes its input through", identity, [X]);

fn flatten(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let rest = x.shape.0[1..].iter().fold(Dim::known(1), |acc, d| acc.mul(d));
    let shape = Shape(vec![x.shape.0[0].clone(), rest]);
    Some(Inferred::new(Op::Flatten, vec![x], shape, Dim::known(0)))
}

fn add(cx: &mut LayerCx) -> Option<Inferred> {
    let a = cx.tensor("a")?;
    let b = cx.tensor("b")?;
    cx.agree(&a, &b, None)?;
    let shape = a.shape.clone();
    Some(Inferred::new(Op::Add, vec![a, b], shape, Dim::known(0)))
}

fn concat(cx: &mut LayerCx) -> Option<Inferred> {
    let xs = cx.tensors("xs")?;
    let first = xs.first()?.clone();
    let dim = cx.axis("dim", first.shape.rank())?;
    let mut total = Dim::known(0);
    for x in &xs {
        cx.agree(&first, x, Some(dim))?;
        total = total.add(&x.shape.0[dim]);
    }
    let mut dims = first.shape.0.clone();
    dims[dim] = total;
    Some(Inferred::new(Op::Concat { dim }, xs, Shape(dims), Dim::known(0)))
}

fn upsample(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.rank("x", 4)?;
    let scale = cx.int("scale")?;
    let mut dims = x.shape.0.clone();
    for d in dims.iter_mut().skip(2) {
        *d = d.scale(scale);
    }
    let bilinear = cx.word("mode") == Some("bilinear");
    Some(Inferred::new(Op::Upsample { scale, bilinear }, vec![x], Shape(dims), Dim::known(0)))
}

fn identity(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.tensor("x")?;
    Some(Inferred::same_shape(Op::Identity, x))
}
