//! Normalisations: `batch_norm`, `group_norm`, `layer_norm`. Each has a scale and a shift per
//! normalised feature, so twice the channels (or features) in parameters.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, opt};
use crate::check::error::CheckError;
use crate::ir::Op;

pub const BATCH_NORM: Builtin = layer!(
    "batch_norm",
    "batch normalisation over channels",
    batch_norm,
    [X, opt("momentum", Float, "0.1", Open(0.0, 1.0)), opt("eps", Float, "1e-5", Positive)]
);

pub const GROUP_NORM: Builtin = layer!(
    "group_norm",
    "group normalisation",
    group_norm,
    [X, opt("groups", Int, "32", AtLeast(1.0)), opt("eps", Float, "1e-5", Positive)]
);

pub const LAYER_NORM: Builtin = layer!(
    "layer_norm",
    "layer normalisation over the last axis, or over the channels of a feature map (`axis = 1`, ConvNeXt's)",
    layer_norm,
    [X, opt("eps", Float, "1e-5", Positive), opt("axis", Int, "-1", Any)]
);

fn batch_norm(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let ch = x.shape.0[1].clone();
    let op = Op::BatchNorm { ch: ch.clone(), momentum: cx.float("momentum")?, eps: cx.float("eps")? };
    Some(Inferred::new(op, vec![x.clone()], x.shape, ch.scale(2)))
}

fn group_norm(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let ch = x.shape.0[1].clone();
    let groups = cx.int("groups")?;
    cx.groups_divide("channels", &ch, groups)?;
    let op = Op::GroupNorm { groups, ch: ch.clone(), eps: cx.float("eps")? };
    Some(Inferred::new(op, vec![x.clone()], x.shape, ch.scale(2)))
}

fn layer_norm(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let rank = x.shape.rank();
    let axis = cx.axis("axis", rank)?;
    // PyTorch users expect channels; on a feature map the last axis is the width.
    if rank == 4 && axis == 3 && cx.get("axis").is_none() {
        let at = cx.span();
        cx.report(at, CheckError::LastAxis { shape: x.shape.to_string(), at: at.into() });
    }
    if axis != rank - 1 && !(rank == 4 && axis == 1) {
        cx.conflict(
            "axis",
            "`layer_norm` normalises the last axis, or axis 1 of a feature map",
            "write `axis = -1` or, on [B, C, H, W], `axis = 1`",
        );
        return None;
    }
    let channels = axis != rank - 1;
    let dim = x.shape.0[axis].clone();
    let op = Op::LayerNorm { dim: dim.clone(), eps: cx.float("eps")?, channels };
    Some(Inferred::new(op, vec![x.clone()], x.shape, dim.scale(2)))
}
