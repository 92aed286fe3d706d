//! Convolutions: `conv2d` and `conv_transpose2d`. Output sizes follow PyTorch's documented
//! formulas; the parameter count is `in / groups · out · k²` weights plus `out` biases.

use super::{Inferred, LayerCx, X};
use crate::check::CheckError;
use crate::check::builtins::Bound::*;
use crate::check::builtins::Ty::*;
use crate::check::builtins::{Builtin, PADDING_WORDS, opt, req};
use crate::check::dim::{Dim, Shape};
use crate::check::graph::{T, V};
use crate::ir::Op;

pub const CONV2D: Builtin = layer!(
    "conv2d",
    "2-D convolution",
    conv2d,
    [
        X,
        req("out", Int, AtLeast(1.0)),
        opt("k", Int, "3", AtLeast(1.0)),
        opt("stride", Int, "1", AtLeast(1.0)),
        opt("padding", IntOrWord(PADDING_WORDS), "0", NonNeg),
        opt("dilation", Int, "1", AtLeast(1.0)),
        opt("groups", Int, "1", AtLeast(1.0)),
        opt("bias", Bool, "true", Any)
    ]
);

pub const CONV_TRANSPOSE2D: Builtin = layer!(
    "conv_transpose2d",
    "2-D transposed convolution",
    conv_transpose2d,
    [
        X,
        req("out", Int, AtLeast(1.0)),
        opt("k", Int, "2", AtLeast(1.0)),
        opt("stride", Int, "1", AtLeast(1.0)),
        opt("padding", Int, "0", NonNeg),
        opt("output_padding", Int, "0", NonNeg),
        opt("dilation", Int, "1", AtLeast(1.0)),
        opt("groups", Int, "1", AtLeast(1.0)),
        opt("bias", Bool, "true", Any)
    ]
);

/// Kernels written without their name beyond this are read as PyTorch's `(in, out)` order.
const LARGEST_POSITIONAL_KERNEL: i64 = 11;

impl LayerCx {
    /// `conv2d(3, 256)`, PyTorch's `nn.Conv2d(in_channels, out_channels)`, reads here as 3 output
    /// channels and a 256 × 256 kernel. A kernel that large is written by name when it is meant
    /// (ViT's `conv2d(768, k = 16, stride = 16)`), so an unnamed one is refused with the reason.
    fn pytorch_order(&mut self, out: &Dim, k: i64) -> Option<()> {
        if k <= LARGEST_POSITIONAL_KERNEL || !self.is_positional("k") {
            return Some(());
        }
        let at = self.span();
        let (callee, out) = (self.builtin().name.to_string(), out.to_string());
        self.report(at, CheckError::PytorchOrder { callee, out, k, at: at.into() });
        None
    }
}

/// What both convolutions read before their own output arithmetic.
struct Conv {
    x: T,
    in_ch: Dim,
    out: Dim,
    k: i64,
    stride: i64,
    dilation: i64,
    groups: i64,
    bias: bool,
    /// `dilation · (k − 1)`: how far the kernel reaches beyond its first tap.
    span_k: i64,
}

impl Conv {
    fn read(cx: &mut LayerCx) -> Option<Conv> {
        let x = cx.rank("x", 4)?;
        let out = cx.dim("out")?;
        let (k, stride, dilation, groups) = (cx.int("k")?, cx.int("stride")?, cx.int("dilation")?, cx.int("groups")?);
        let in_ch = x.shape.0[1].clone();
        cx.pytorch_order(&out, k)?;
        cx.groups_divide("input channels", &in_ch, groups)?;
        cx.groups_divide("output channels", &out, groups)?;
        let bias = cx.bool("bias")?;
        Some(Conv { x, in_ch, out, k, stride, dilation, groups, bias, span_k: dilation.saturating_mul(k - 1) })
    }

    /// The input's shape with the output channels; the rule fills in the spatial sizes.
    fn dims(&self) -> Vec<Dim> {
        let mut dims = self.x.shape.0.clone();
        dims[1] = self.out.clone();
        dims
    }

    /// Checks the spatial sizes and counts the weights.
    fn finish(self, cx: &mut LayerCx, op: Op, dims: Vec<Dim>) -> Option<Inferred> {
        let weights = self.in_ch.floor_div(self.groups).mul(&self.out).scale(self.k.saturating_mul(self.k));
        let params = if self.bias { weights.add(&self.out) } else { weights };
        cx.too_small(&self.x, &dims)?;
        Some(Inferred::new(op, vec![self.x], Shape(dims), params))
    }
}

fn conv2d(cx: &mut LayerCx) -> Option<Inferred> {
    let c = Conv::read(cx)?;
    let padding = match cx.get("padding") {
        Some((V::Word(_), _)) => {
            if c.stride != 1 || c.span_k % 2 != 0 {
                cx.conflict(
                    "padding",
                    "`padding = same` needs stride 1 and an odd kernel",
                    "give the padding as a number",
                );
                return None;
            }
            c.span_k / 2
        }
        _ => cx.int("padding")?,
    };
    let mut dims = c.dims();
    // floor((H + 2p − d(k − 1) − 1) / s) + 1, as PyTorch documents it.
    for d in dims.iter_mut().skip(2) {
        *d = d.plus(padding.saturating_mul(2).saturating_sub(c.span_k).saturating_sub(1)).floor_div(c.stride).plus(1);
    }
    let op = Op::Conv2d {
        in_ch: c.in_ch.clone(),
        out: c.out.clone(),
        k: c.k,
        stride: c.stride,
        padding,
        dilation: c.dilation,
        groups: c.groups,
        bias: c.bias,
    };
    c.finish(cx, op, dims)
}

fn conv_transpose2d(cx: &mut LayerCx) -> Option<Inferred> {
    let c = Conv::read(cx)?;
    let padding = cx.int("padding")?;
    let output_padding = cx.int("output_padding")?;
    if output_padding >= c.stride.max(c.dilation) {
        cx.conflict(
            "output_padding",
            "`output_padding` must be smaller than `stride` or `dilation`",
            "lower `output_padding`",
        );
        return None;
    }
    let mut dims = c.dims();
    // (H − 1)·s − 2p + d(k − 1) + output_padding + 1.
    let grow = c.span_k.saturating_add(output_padding).saturating_add(1).saturating_sub(padding.saturating_mul(2));
    for d in dims.iter_mut().skip(2) {
        *d = d.plus(-1).scale(c.stride).plus(grow);
    }
    let op = Op::ConvTranspose2d {
        in_ch: c.in_ch.clone(),
        out: c.out.clone(),
        k: c.k,
        stride: c.stride,
        padding,
        output_padding,
        dilation: c.dilation,
        groups: c.groups,
        bias: c.bias,
    };
    c.finish(cx, op, dims)
}
