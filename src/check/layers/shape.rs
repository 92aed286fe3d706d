//! Layers that only move values around: `flatten`, `add`, `concat`, `upsample`, `identity`.
//! No weights. `add` broadcasts like `sub` and `mul` (`math.rs`).

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, INTERP, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::ir::Op;

pub const FLATTEN: Builtin = layer!(
    "flatten",
    "axes `start` to `end` into one ([B, …] → [B, product] by default)",
    flatten,
    [X, opt("start", Int, "1", Any), opt("end", Int, "-1", Any)]
);

pub const ADD: Builtin = layer!(
    "add",
    "element-wise sum, with broadcasting (`a + b`)",
    super::math::add,
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
    let rank = x.shape.rank();
    let start = cx.axis("start", rank)?;
    let end = cx.axis("end", rank)?;
    if start == 0 || end < start {
        cx.conflict(
            "start",
            "`flatten` needs 1 ≤ start ≤ end",
            "the batch axis stays; `end` counts from the end when negative",
        );
        return None;
    }
    let merged = x.shape.0[start..=end].iter().fold(Dim::known(1), |acc, d| acc.mul(d));
    let mut dims = x.shape.0[..start].to_vec();
    dims.push(merged);
    dims.extend(x.shape.0[end + 1..].iter().cloned());
    Some(Inferred::new(Op::Flatten { start, end }, vec![x], Shape(dims), Dim::known(0)))
}

fn concat(cx: &mut LayerCx) -> Option<Inferred> {
    let xs = cx.tensors("xs")?;
    let first = xs.first()?.clone();
    let dim = cx.axis("dim", first.shape.rank())?;
    // A learned parameter (`param cls: [1, 1, D]`) has a batch of 1, repeated to the others'.
    let batch = xs.iter().map(|x| &x.shape.0[0]).find(|b| b.value() != Some(1)).unwrap_or(&first.shape.0[0]).clone();
    let mut total = Dim::known(0);
    for x in &xs {
        let mut x = x.clone();
        if x.shape.0[0].value() == Some(1) && dim != 0 {
            x.shape.0[0] = batch.clone();
        }
        let mut reference = first.clone();
        reference.shape.0[0] = batch.clone();
        cx.agree(&reference, &x, Some(dim))?;
        total = total.add(&x.shape.0[dim]);
    }
    let mut dims = first.shape.0.clone();
    dims[0] = batch;
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
