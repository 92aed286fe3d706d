//! Element-wise layers that keep their input's shape and hold no weights: the activations,
//! `softmax` and `dropout`.

use super::{Inferred, LayerCx, X};
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, P, opt};
use crate::ir::Op;

pub const DROPOUT: Builtin = layer!("dropout", "dropout (training only)", dropout, [X, P]);
pub const RELU: Builtin = layer!("relu", "max(x, 0)", relu, [X]);
pub const GELU: Builtin = layer!("gelu", "Gaussian error linear unit", gelu, [X]);
pub const SILU: Builtin = layer!("silu", "x · sigmoid(x)", silu, [X]);
pub const SIGMOID: Builtin = layer!("sigmoid", "logistic function", sigmoid, [X]);
pub const TANH: Builtin = layer!("tanh", "hyperbolic tangent", tanh, [X]);
pub const LEAKY_RELU: Builtin =
    layer!("leaky_relu", "leaky ReLU", leaky_relu, [X, opt("slope", Float, "0.01", NonNeg)]);
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
    unary(cx, Op::Gelu)
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
