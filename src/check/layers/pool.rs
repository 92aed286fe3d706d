//! Pooling: `maxpool`, `avgpool` (stride defaults to the kernel) and `adaptive_avgpool`. No
//! weights.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, opt};
use crate::check::dim::{Dim, Shape};
use crate::ir::Op;

pub const MAXPOOL: Builtin = layer!(
    "maxpool",
    "2-D max pooling",
    maxpool,
    [X, opt("k", Int, "2", AtLeast(1.0)), opt("stride", Int, "", AtLeast(1.0)), opt("padding", Int, "0", NonNeg)]
);

pub const AVGPOOL: Builtin = layer!(
    "avgpool",
    "2-D average pooling",
    avgpool,
    [X, opt("k", Int, "2", AtLeast(1.0)), opt("stride", Int, "", AtLeast(1.0)), opt("padding", Int, "0", NonNeg)]
);

pub const ADAPTIVE_AVGPOOL: Builtin = layer!(
    "adaptive_avgpool",
    "2-D average pooling to a fixed size",
    adaptive_avgpool,
    [X, opt("size", Int, "1", AtLeast(1.0))]
);

fn maxpool(cx: &mut LayerCx) -> Option<Inferred> {
    pool(cx, |k, stride, padding| Op::MaxPool { k, stride, padding })
}

fn avgpool(cx: &mut LayerCx) -> Option<Inferred> {
    pool(cx, |k, stride, padding| Op::AvgPool { k, stride, padding })
}

/// A `k`×`k` window every `stride` pixels: floor((H + 2p − k) / s) + 1.
fn pool(cx: &mut LayerCx, op: fn(i64, i64, i64) -> Op) -> Option<Inferred> {
    let x = cx.rank("x", 4)?;
    let k = cx.int("k")?;
    // `stride` has no default of its own: unset, it is the kernel.
    let stride = cx.int("stride").unwrap_or(k);
    let padding = cx.int("padding")?;
    if padding.saturating_mul(2) > k {
        let message = format!("pooling padding ({padding}) must be at most half the kernel ({k})");
        cx.conflict("padding", &message, "lower `padding` or raise `k`");
        return None;
    }
    let mut dims = x.shape.0.clone();
    for d in dims.iter_mut().skip(2) {
        *d = d.plus(padding.saturating_mul(2).saturating_sub(k)).floor_div(stride).plus(1);
    }
    cx.too_small(&x, &dims)?;
    Some(Inferred::new(op(k, stride, padding), vec![x], Shape(dims), Dim::known(0)))
}

fn adaptive_avgpool(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.rank("x", 4)?;
    let size = cx.int("size")?;
    let mut dims = x.shape.0.clone();
    dims[2] = Dim::known(size);
    dims[3] = Dim::known(size);
    Some(Inferred::new(Op::AdaptiveAvgPool { size }, vec![x], Shape(dims), Dim::known(0)))
}
