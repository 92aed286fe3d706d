//! Token tensors (`[B, N, D]`) and the layers that make and mix them: `reshape`, `permute`,
//! `transpose`, `select` (one index of an axis, e.g. the class token) and multi-head
//! self-attention. The batch axis always stays first: the executor and the ONNX export keep it
//! dynamic.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::check::error::CheckError;
use crate::ir::Op;

pub const RESHAPE: Builtin =
    layer!("reshape", "the same elements in a new shape (the batch axis stays)", reshape, [X, req("shape", Ints, Any)]);
pub const PERMUTE: Builtin =
    layer!("permute", "reorders the axes (the batch axis stays first)", permute, [X, req("dims", Ints, Any)]);
pub const TRANSPOSE: Builtin =
    layer!("transpose", "swaps two axes", transpose, [X, opt("a", Int, "-2", Any), opt("b", Int, "-1", Any)]);
pub const SELECT: Builtin = layer!(
    "select",
    "one index of an axis, which is removed (`select(h, dim = 1, index = 0)`: the class token)",
    select,
    [X, opt("dim", Int, "1", Any), opt("index", Int, "0", Any)]
);
pub const ATTENTION: Builtin = layer!(
    "attention",
    "multi-head self-attention over the tokens of [B, N, D] (PyTorch's `nn.MultiheadAttention`)",
    attention,
    [X, req("heads", Int, AtLeast(1.0)), opt("dropout", Float, "0.0", HalfOpen(0.0, 1.0))]
);

/// The product of every axis but the batch.
fn per_sample(shape: &Shape) -> Dim {
    shape.0[1..].iter().fold(Dim::known(1), |acc, d| acc.mul(d))
}

fn reshape(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let dims = cx.ints("shape")?;
    let shape = Shape(dims);
    cx.supported_rank(&shape)?;
    let batch_kept = shape.0[0] == x.shape.0[0];
    let (from, to) = (per_sample(&x.shape), per_sample(&shape));
    if !batch_kept || from.surely_differs(&to) {
        let help = if batch_kept {
            "the element count of a sample must stay the same".to_string()
        } else {
            format!("the first axis is the batch and stays: start the shape with `{}`", x.shape.0[0])
        };
        let error = CheckError::ShapeReshape {
            node: "reshape".into(),
            from: x.shape.to_string(),
            to: shape.to_string(),
            count_in: from.to_string(),
            count_out: to.to_string(),
            help,
            at: cx.span().into(),
        };
        let at = cx.span();
        cx.report(at, error);
        return None;
    }
    Some(Inferred::new(Op::Reshape { dims: shape.0[1..].to_vec() }, vec![x], shape, Dim::known(0)))
}

fn permute(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let rank = x.shape.rank();
    let given = cx.ints("dims")?;
    let perm: Vec<usize> = given.iter().filter_map(|d| d.value()).map(|n| n as usize).collect();
    let mut sorted = perm.clone();
    sorted.sort_unstable();
    if sorted != (0..rank).collect::<Vec<_>>() || perm.first() != Some(&0) {
        cx.conflict(
            "dims",
            &format!("`permute` needs a permutation of 0..{rank} that starts with 0"),
            "name every axis once; the batch axis 0 stays first",
        );
        return None;
    }
    let shape = Shape(perm.iter().map(|&i| x.shape.0[i].clone()).collect());
    Some(Inferred::new(Op::Permute { perm }, vec![x], shape, Dim::known(0)))
}

fn transpose(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 3)?;
    let rank = x.shape.rank();
    let a = cx.axis("a", rank)?;
    let b = cx.axis("b", rank)?;
    if a == 0 || b == 0 {
        cx.conflict("a", "`transpose` cannot move the batch axis", "swap two axes after the first");
        return None;
    }
    let mut perm: Vec<usize> = (0..rank).collect();
    perm.swap(a, b);
    let shape = Shape(perm.iter().map(|&i| x.shape.0[i].clone()).collect());
    Some(Inferred::new(Op::Transpose { perm }, vec![x], shape, Dim::known(0)))
}

fn select(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 3)?;
    let dim = cx.axis("dim", x.shape.rank())?;
    let index = cx.int("index")?;
    let size = x.shape.0[dim].value();
    if dim == 0 || index < 0 || size.is_some_and(|n| index >= n) {
        let bound = size.map_or("an index of the axis".to_string(), |n| format!("in [0, {}]", n - 1));
        cx.conflict(
            "index",
            &format!("`select` needs an axis after the batch and an index {bound}"),
            "axis 0 is the batch",
        );
        return None;
    }
    let mut dims = x.shape.0.clone();
    dims.remove(dim);
    Some(Inferred::new(Op::Select { dim, index }, vec![x], Shape(dims), Dim::known(0)))
}

/// PyTorch's count: the packed q, k, v projection (3·D² + 3·D) and the output one (D² + D).
fn attention(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.rank("x", 3)?;
    // 0 in a generic block check, where a head count can still be a symbol.
    let heads = cx.int("heads").unwrap_or(0);
    let dropout = cx.float("dropout")?;
    let width = x.shape.0[2].clone();
    if let Some(w) = width.value()
        && heads > 0
        && w % heads != 0
    {
        let at = cx.span();
        cx.report(at, CheckError::ShapeHeads { node: "attention".into(), width: w.to_string(), heads, at: at.into() });
        return None;
    }
    let params = width.mul(&width).scale(4).add(&width.scale(4));
    let shape = x.shape.clone();
    Some(Inferred::new(Op::Attention { dim: width, heads, dropout }, vec![x], shape, params))
}
