//! Element-wise layers that keep their input's shape: the activations (`prelu` alone has
//! weights, one slope or one per channel), `softmax`, and the regularisers `dropout`,
//! `dropout2d` (whole channels) and `drop_path` (whole samples: stochastic depth).

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, GELU_APPROX, P, opt};
use crate::check::dim::Dim;
use crate::ir::Op;

pub const DROPOUT: Builtin = layer!("dropout", "dropout (training only)", dropout, [X, P]);
pub const RELU: Builtin = layer!("relu", "max(x, 0)", relu, [X]);
pub const GELU: Builtin = layer!(
    "gelu",
    "Gaussian error linear unit (exact, or its tanh approximation)",
    gelu,
    [X, opt("approximate", Word(GELU_APPROX), "none", Any)]
);
pub const SILU: Builtin = layer!("silu", "x · sigmoid(x)", silu, [X]);
pub const SIGMOID: Builtin = layer!("sigmoid", "logistic function", sigmoid, [X]);
pub const TANH: Builtin = layer!("tanh", "hyperbolic tangent", tanh, [X]);
pub const LEAKY_RELU: Builtin =
    layer!("leaky_relu", "leaky ReLU", leaky_relu, [X, opt("slope", Float, "0.01", NonNeg)]);
pub const RELU6: Builtin = layer!("relu6", "min(max(x, 0), 6)", relu6, [X]);
pub const HARDSWISH: Builtin = layer!("hardswish", "x · relu6(x + 3) / 6", hardswish, [X]);
pub const HARDSIGMOID: Builtin = layer!("hardsigmoid", "relu6(x + 3) / 6", hardsigmoid, [X]);
pub const MISH: Builtin = layer!("mish", "x · tanh(softplus(x))", mish, [X]);
pub const PRELU: Builtin = layer!(
    "prelu",
    "leaky ReLU with a learned slope (one, or one per channel: axis 1)",
    prelu,
    [X, opt("per_channel", Bool, "false", Any), opt("init", Float, "0.25", Any)]
);
pub const DROPOUT2D: Builtin =
    layer!("dropout2d", "zeroes whole channels of a feature map (training only)", dropout2d, [X, P]);
pub const DROP_PATH: Builtin = layer!(
    "drop_path",
    "stochastic depth: zeroes whole samples of a residual branch (training only)",
    drop_path,
    [X, opt("p", Float, "0.1", HalfOpen(0.0, 1.0))]
);
pub const SOFTMAX: Builtin = layer!("softmax", "softmax along an axis", softmax, [X, opt("dim", Int, "1", Any)]);

/// An element-wise op on argument `x`.
fn unary(cx: &mut LayerCx, op: Op) -> Option<Inferred> {
    let x = cx.tensor("x")?;
    Some(Inferred::same_shape(op, x))
}

fn dropout(cx: &mut LayerCx) -> Option<Inferred> {
    let p = cx.float("p")?;
    unary(cx, Op::Dropout { p })
}

fn relu(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Relu)
}

fn gelu(cx: &mut LayerCx) -> Option<Inferred> {
    let tanh = cx.word("approximate") == Some("tanh");
    unary(cx, Op::Gelu { tanh })
}

fn relu6(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Relu6)
}

fn hardswish(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Hardswish)
}

fn hardsigmoid(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Hardsigmoid)
}

fn mish(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Mish)
}

/// PyTorch's `nn.PReLU(num_parameters)`: 1 slope, or one per channel (axis 1).
fn prelu(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.min_rank("x", 2)?;
    let slopes = if cx.bool("per_channel")? { x.shape.0[1].clone() } else { Dim::known(1) };
    let init = cx.float("init")?;
    let shape = x.shape.clone();
    Some(Inferred::new(Op::Prelu { slopes: slopes.clone(), init }, vec![x], shape, slopes))
}

fn dropout2d(cx: &mut LayerCx) -> Option<Inferred> {
    let p = cx.float("p")?;
    let x = cx.rank("x", 4)?;
    Some(Inferred::same_shape(Op::Dropout2d { p }, x))
}

fn drop_path(cx: &mut LayerCx) -> Option<Inferred> {
    let p = cx.float("p")?;
    let x = cx.min_rank("x", 2)?;
    Some(Inferred::same_shape(Op::DropPath { p }, x))
}

fn silu(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Silu)
}

fn sigmoid(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Sigmoid)
}

fn tanh(cx: &mut LayerCx) -> Option<Inferred> {
    unary(cx, Op::Tanh)
}

fn leaky_relu(cx: &mut LayerCx) -> Option<Inferred> {
    let slope = cx.float("slope")?;
    unary(cx, Op::LeakyRelu { slope })
}

fn softmax(cx: &mut LayerCx) -> Option<Inferred> {
    let x = cx.tensor("x")?;
    let dim = cx.axis("dim", x.shape.rank())?;
    Some(Inferred::same_shape(Op::Softmax { dim }, x))
}
