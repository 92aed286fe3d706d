//! `linear`: a fully connected layer on the last axis, `in · out` weights plus `out` biases.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::ir::Op;

pub const LINEAR: Builtin = layer!(
    "linear",
    "fully connected layer on the last axis",
    linear,
    [X, req("out", Int, AtLeast(1.0)), opt("bias", Bool, "true", Any)]
);

fn linear(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let out = cx.dim("out")?;
    let bias = cx.bool("bias")?;
    let in_f = x.shape.0[x.shape.rank() - 1].clone();
    let mut dims = x.shape.0.clone();
    let last = dims.len() - 1;
    dims[last] = out.clone();
    let params = in_f.mul(&out).add(&if bias { out.clone() } else { Dim::known(0) });
    Some(Inferred::new(Op::Linear { in_f, out, bias }, vec![x], Shape(dims), params))
}
