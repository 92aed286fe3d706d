//! `conv2d` with a cheaper weight gradient, as a burn backend extension.
//!
//! # Why
//!
//! On burn-flex (CPU), for `x: [64, 32, 26, 26]`, `weight: [64, 32, 3, 3]`, stride 1, no
//! padding, burn's `conv2d` forward takes about 20 ms but forward + backward about 86 ms. Most of
//! the difference is the weight gradient: burn-backend's default `conv2d_weight_backward`
//! (burn-backend 0.22.1, `ops/modules/conv.rs`, `conv2d_weight_grad_no_groups`) computes it as a
//! `conv2d` of the input with batch and channels swapped, convolved with the output gradient
//! (batch and channels swapped) as a 26×26 "kernel". Flex lowers that convolution to im2col
//! matrix products of shape M = 64, K = 36864, N = 9: skinny products, and their repacking runs
//! on one thread.
//!
//! # What
//!
//! [`conv2d`] is a drop-in for `burn::tensor::module::conv2d`. With few input channels (a first
//! layer, [`FEW_CHANNELS`]) and stride 1 it is [`conv2d_columns`], one matrix product over shifted
//! copies of the input. Otherwise its forward pass is the backend's own `conv2d`. Its backward pass computes:
//!
//! - the input gradient with `B::conv2d_x_backward`, and the bias gradient with
//!   `B::conv2d_bias_backward`, exactly as burn-autodiff's `conv2d` does;
//! - the weight gradient as matrix products over im2col columns (see [`WeightGradPlan`]):
//!   the zero-padded input is laid out channels-last (`[B, Hp, Wp, C]`, one copy), the
//!   `kh × kw` windows under each output position are taken as a strided view
//!   (`float_unfold` twice, then a stepped slice for dilation), and one more copy gathers them
//!   into columns `[B, OH·OW, kh·kw·C]` (order `(i, j, c)`). With `G` the output gradient as
//!   `[B, O, OH·OW]`, `dW[o, (i, j, c)] = Σ_b Σ_p G[b, o, p] · cols[b, p, (i, j, c)]`, reshaped
//!   `[O, kh, kw, C]` and permuted to `[O, C, kh, kw]`. Groups, stride, dilation and asymmetric
//!   padding all fit this form (the group becomes a batch dimension of the product).
//!
//! By default the sum over the batch is done as `B` per-sample products
//! (`[O, OH·OW] @ [OH·OW, kh·kw·C]`, 64 × 676 × 288 for the case above) followed by a sum over
//! the batch, rather than as a single `[O, B·OH·OW] @ [B·OH·OW, kh·kw·C]` product: flex runs a
//! batched product one sample per rayon task, each packing its own operands, whereas a single
//! product with K = 43264 but only a 64 × 288 output leaves gemm little to split across threads
//! and needs the output gradient transposed first. With more output channels than output
//! positions (deep layers on small maps) the `B` per-sample gradients outweigh the columns and
//! the single product is used instead ([`WeightGradGemm::for_plan`]); both are tested. If a shape does not fit (it always should for a valid
//! convolution), the backward pass falls back to burn's `conv2d_weight_backward`.
//!
//! # Backends
//!
//! The op is declared with `#[backend_extension(Autodiff, Flex)]`: plain Flex runs its own
//! `conv2d` (the trait's default body), and `Autodiff<Flex, C>` records the custom backward step.
//! Calling an extension on a backend it does not list panics, so [`conv2d`] first looks at the
//! input's dispatch representation (`DispatchTensorKind`, looking through `Autodiff(..)`) and
//! hands tensors on any other backend to `burn::tensor::module::conv2d` unchanged. LibTorch
//! tensors (with `--features tch`) go to [`super::tch_ops::conv2d`] instead, whose backward pass
//! is libtorch's own: this im2col weight gradient made an H100 training step (ResNet-18, 32×32,
//! batch 128) twice as slow as burn's (BENCHMARKS.md).
//!
//! Requires burn's `extension` feature (for `Tensor::into_dispatch` / `from_dispatch` and the
//! `burn::backend` module).

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchTensorKind, Flex, TensorMetadata, backend_extension};
use burn::tensor::ops::{ConvOptions, PadMode};
use burn::tensor::{Shape, Slice, Tensor};

/// 2D convolution whose training step computes the weight gradient with matrix products instead
/// of burn's swapped-tensor convolution (see the module docs for why).
///
/// `x`: `[B, C, H, W]`, `weight`: `[O, C / groups, kh, kw]`, `bias`: `[O]`; returns
/// `[B, O, OH, OW]`. Same results as `burn::tensor::module::conv2d`, to float rounding.
///
/// Tensors on Flex (with or without autodiff) go through the extension, tensors on LibTorch
/// through [`super::tch_ops`]; tensors on any other backend go to `burn::tensor::module::conv2d`.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    let [_, channels_in, _, _] = x.dims();
    let [channels_out, channels_per_group, _, _] = weight.dims();
    assert!(
        options.groups > 0 && channels_in == channels_per_group * options.groups && channels_out % options.groups == 0,
        "conv2d: input has {channels_in} channels but weight is {:?} with {} groups",
        weight.dims(),
        options.groups
    );
    if let Some(bias) = &bias {
        assert_eq!(bias.dims(), [channels_out], "conv2d: bias must have one value per output channel");
    }

    // `TRAINC_BURN_CONV=1` runs burn's own conv2d everywhere, to compare (bench/gpu.sh).
    static BURN_CONV: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    let burn_conv = *BURN_CONV.get_or_init(|| std::env::var_os("TRAINC_BURN_CONV").is_some());
    let x = x.into_dispatch();
    #[cfg(feature = "tch")]
    if !burn_conv && super::tch_ops::is_libtorch(&x.kind) {
        return super::tch_ops::conv2d(x, weight, bias, options);
    }
    if !has_extension(&x.kind) || burn_conv {
        return burn::tensor::module::conv2d(Tensor::from_dispatch(x), weight, bias, options);
    }
    if channels_in <= FEW_CHANNELS && options.stride == [1, 1] && options.groups == 1 {
        return conv2d_columns(Tensor::from_dispatch(x), weight, bias, options.padding, options.dilation);
    }
    let weight = weight.into_dispatch();
    let out = match bias {
        Some(bias) => <Dispatch as ConvBackend>::conv2d_gemm_wgrad_bias(x, weight, bias.into_dispatch(), options),
        None => <Dispatch as ConvBackend>::conv2d_gemm_wgrad(x, weight, options),
    };
    Tensor::from_dispatch(out)
}

/// Up to this many input channels (a first layer on images), [`conv2d`] uses [`conv2d_columns`].
/// Measured on flex (`cargo bench --bench ops`, and the Fashion-MNIST CNN: 661 → 700 samples/s
/// with its 1-channel first conv): faster at 1 channel, 2× slower at 32.
const FEW_CHANNELS: usize = 4;

/// `conv2d` with stride 1 and one group as one batched matrix product over shifted copies of the
/// (padded) input, built from tensor ops so that autodiff derives the backward pass (two matrix
/// products). Cheap when the columns are few (`C·k·k` small); see [`FEW_CHANNELS`].
/// `x`: `[B, C, H, W]`, `weight`: `[O, C, kh, kw]`, `bias`: `[O]`, `padding`: `(begin, end)` for
/// height and width.
pub fn conv2d_columns(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    padding: [(usize, usize); 2],
    dilation: [usize; 2],
) -> Tensor<4> {
    let x = if padding != [(0, 0); 2] { x.pad(padding, PadMode::Constant(0.0)) } else { x };
    let [b, c, h, w] = x.dims();
    let [o, _, kh, kw] = weight.dims();
    let (oh, ow) = (h - dilation[0] * (kh - 1), w - dilation[1] * (kw - 1));
    // Column `c·kh·kw + i·kw + j` holds channel c shifted by tap (i, j): the weight's own order.
    let taps: Vec<Tensor<4>> = (0..kh * kw)
        .map(|t| {
            let (i, j) = ((t / kw) * dilation[0], (t % kw) * dilation[1]);
            x.clone().slice([0..b, 0..c, i..i + oh, j..j + ow]).reshape([b, c, 1, oh * ow])
        })
        .collect();
    let columns = Tensor::cat(taps, 2).reshape([b, c * kh * kw, oh * ow]);
    let out = weight.reshape([1, o, c * kh * kw]).matmul(columns);
    let out = match bias {
        Some(bias) => out + bias.reshape([1, o, 1]),
        None => out,
    };
    out.reshape([b, o, oh, ow])
}

/// Whether a tensor's backend is one that [`ConvBackend`] is declared for. Autodiff tensors
/// carry their concrete backend inside `Autodiff(..)`.
fn has_extension(kind: &DispatchTensorKind) -> bool {
    match kind {
        DispatchTensorKind::Flex(_) => true,
        DispatchTensorKind::Autodiff(inner) => has_extension(inner),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The extension: `conv2d` with and without a bias (the macro takes bare tensors only, not
/// `Option<FloatTensor>`, so the bias is a separate entry point). The default bodies are the
/// backend's own forward pass; the autodiff implementation adds the custom backward step.
#[backend_extension(Autodiff, Flex)]
pub trait ConvBackend: Backend {
    /// `conv2d(x, weight, Some(bias), options)`.
    fn conv2d_gemm_wgrad_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, Some(bias), options)
    }

    /// `conv2d(x, weight, None, options)`.
    fn conv2d_gemm_wgrad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv2d(x, weight, None, options)
    }
}

impl ConvBackend for Flex {}

/// Mirrors burn-autodiff's `conv2d` (`burn-autodiff/src/ops/module.rs`): same preparation,
/// checkpointing and forward call; only the weight gradient in the backward step differs.
impl<B: Backend, C: CheckpointStrategy> ConvBackend for Autodiff<B, C> {
    fn conv2d_gemm_wgrad_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match Conv2dWithBias.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let bias_state = prep.checkpoint(&bias);
                prep.finish(
                    (x_state, weight_state, bias_state, options.clone()),
                    B::conv2d(x.into_primitive(), weight.into_primitive(), Some(bias.into_primitive()), options),
                )
            }
            OpsKind::UnTracked(prep) => prep.finish(B::conv2d(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                options,
            )),
        }
    }

    fn conv2d_gemm_wgrad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
    ) -> FloatTensor<Self> {
        match Conv2dNoBias.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                prep.finish(
                    (x_state, weight_state, options.clone()),
                    B::conv2d(x.into_primitive(), weight.into_primitive(), None, options),
                )
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(B::conv2d(x.into_primitive(), weight.into_primitive(), None, options))
            }
        }
    }
}

#[derive(Debug)]
struct Conv2dWithBias;

#[derive(Debug)]
struct Conv2dNoBias;

impl<B: Backend> Backward<B, 3> for Conv2dWithBias {
    type State = (NodeId, NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);

        let (x_state, weight_state, bias_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);
        let bias = checkpointer.retrieve_node_output::<FloatTensor<B>>(bias_state);

        if let Some(node) = node_bias {
            let bias_grad = B::conv2d_bias_backward(x.clone(), bias, grad.clone());
            grads.register::<B>(node.id, bias_grad);
        }
        register_x_and_weight_grads::<B>(
            grads,
            [node_x.map(|node| node.id), node_weight.map(|node| node.id)],
            x,
            weight,
            grad,
            options,
        );
    }
}

impl<B: Backend> Backward<B, 2> for Conv2dNoBias {
    type State = (NodeId, NodeId, ConvOptions<2>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<B>(&ops.node);

        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FloatTensor<B>>(x_state);
        let weight = checkpointer.retrieve_node_output::<FloatTensor<B>>(weight_state);

        register_x_and_weight_grads::<B>(
            grads,
            [node_x.map(|node| node.id), node_weight.map(|node| node.id)],
            x,
            weight,
            grad,
            options,
        );
    }
}

/// Registers the input gradient (burn's own `conv2d_x_backward`) and the weight gradient
/// ([`conv2d_weight_grad`]) for whichever of `[x, weight]` is tracked.
fn register_x_and_weight_grads<B: Backend>(
    grads: &mut Gradients,
    [x_id, weight_id]: [Option<NodeId>; 2],
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    grad: FloatTensor<B>,
    options: ConvOptions<2>,
) {
    if let Some(id) = x_id {
        let x_grad = B::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone());
        grads.register::<B>(id, x_grad);
    }
    if let Some(id) = weight_id {
        grads.register::<B>(id, conv2d_weight_grad::<B>(x, weight, grad, options));
    }
}

/// How [`WeightGradPlan::run`] sums over the batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum WeightGradGemm {
    /// One product per sample (and group), `[O/g, OH·OW] @ [OH·OW, kh·kw·C/g]`, batched, then a
    /// sum over the batch. Flex runs the batch in parallel, one product per task.
    PerSample,
    /// A single product per group, `[O/g, B·OH·OW] @ [B·OH·OW, kh·kw·C/g]`, after transposing
    /// the output gradient to `[g, O/g, B·OH·OW]`.
    Single,
}

impl WeightGradGemm {
    /// The strategy for a shape. Per-sample products write `B` weight gradients before summing
    /// them, `B·O·kh·kw·C/g` floats: cheap when the output channels are few next to the output
    /// positions (the Fashion-MNIST CNN: per-sample 676 samples/s, single 632, burn's own 648;
    /// release, 300 batches, 2026-11-24), ruinous when they are many on a small map (ResNet-18's
    /// last stage at 32×32 input, 512 channels on a 1×1 map: 128 × 512 × 4608 floats, 1.2 GB a
    /// step, whose fresh pages made half of a flex profile kernel page faults).
    fn for_plan(plan: &WeightGradPlan) -> WeightGradGemm {
        match plan.channels_out <= plan.out[0] * plan.out[1] {
            true => WeightGradGemm::PerSample,
            false => WeightGradGemm::Single,
        }
    }
}

/// Gradient of `conv2d` with respect to `weight`, `[O, C / groups, kh, kw]`.
///
/// `x` is the unpadded input `[B, C, H, W]`, `output_grad` is `[B, O, OH, OW]`. Falls back to
/// burn's `conv2d_weight_backward` when the shapes do not form a valid convolution.
fn conv2d_weight_grad<B: Backend>(
    x: FloatTensor<B>,
    weight: FloatTensor<B>,
    output_grad: FloatTensor<B>,
    options: ConvOptions<2>,
) -> FloatTensor<B> {
    match WeightGradPlan::new(&x.shape(), &weight.shape(), &output_grad.shape(), &options) {
        Some(plan) => plan.run::<B>(x, output_grad, WeightGradGemm::for_plan(&plan)),
        None => B::conv2d_weight_backward(x, weight, output_grad, options),
    }
}

/// Sizes for the im2col weight gradient, checked before any tensor is touched.
#[derive(Debug, Clone, Copy)]
struct WeightGradPlan {
    batch: usize,
    channels_out: usize,
    groups: usize,
    /// Input channels per group, `C / groups`.
    channels_per_group: usize,
    kernel: [usize; 2],
    stride: [usize; 2],
    dilation: [usize; 2],
    /// `(begin, end)` zero padding of height and width.
    padding: [(usize, usize); 2],
    /// Padded input height and width.
    padded: [usize; 2],
    /// Output height and width.
    out: [usize; 2],
}

impl WeightGradPlan {
    fn new(x: &Shape, weight: &Shape, grad: &Shape, options: &ConvOptions<2>) -> Option<Self> {
        if x.num_dims() != 4 || weight.num_dims() != 4 || grad.num_dims() != 4 {
            return None;
        }
        let [batch, channels_in, height, width] = x.dims();
        let [channels_out, channels_per_group, kh, kw] = weight.dims();
        let [grad_batch, grad_channels, oh, ow] = grad.dims();
        let groups = options.groups;
        let sizes_nonzero = [batch, channels_out, channels_per_group, kh, kw, oh, ow, groups]
            .iter()
            .chain(&options.stride)
            .chain(&options.dilation)
            .all(|&n| n > 0);
        if !sizes_nonzero
            || channels_out % groups != 0
            || channels_in != channels_per_group * groups
            || grad_batch != batch
            || grad_channels != channels_out
        {
            return None;
        }
        let [(top, bottom), (left, right)] = options.padding;
        let padded = [height + top + bottom, width + left + right];
        let kernel = [kh, kw];
        let out = [oh, ow];
        for axis in 0..2 {
            // The window a kernel covers, dilation included; its count along the axis must be
            // the output size, which is what `float_unfold` will produce.
            let reach = (kernel[axis] - 1) * options.dilation[axis] + 1;
            if padded[axis] < reach || (padded[axis] - reach) / options.stride[axis] + 1 != out[axis] {
                return None;
            }
        }
        Some(Self {
            batch,
            channels_out,
            groups,
            channels_per_group,
            kernel,
            stride: options.stride,
            dilation: options.dilation,
            padding: options.padding,
            padded,
            out,
        })
    }

    /// `dW` from the unpadded input `x: [B, C, H, W]` and `output_grad: [B, O, OH, OW]`.
    fn run<B: Backend>(self, x: FloatTensor<B>, output_grad: FloatTensor<B>, gemm: WeightGradGemm) -> FloatTensor<B> {
        let Self {
            batch: b,
            channels_out: o,
            groups: g,
            channels_per_group: cg,
            kernel: [kh, kw],
            stride: [sh, sw],
            dilation: [dh, dw],
            padding: [(top, bottom), (left, right)],
            padded: [hp, wp],
            out: [oh, ow],
        } = self;
        let og = o / g;
        let positions = oh * ow;
        let row = kh * kw * cg;
        let (reach_h, reach_w) = ((kh - 1) * dh + 1, (kw - 1) * dw + 1);

        // Zero padding, then channels-last with the group split out: [B, Hp, Wp, g, C/g].
        // The reshape of the permuted view is what materialises it (one transposing copy).
        let x = if top + bottom + left + right > 0 {
            B::float_pad(x, &[(0, 0), (0, 0), (top, bottom), (left, right)], PadMode::Constant(0.0))
        } else {
            x
        };
        let x = B::float_reshape(B::float_permute(x, &[0, 2, 3, 1]), Shape::new([b, hp, wp, g, cg]));

        // Windows as a strided view: unfold appends the window dimension last.
        // [B, OH, Wp, g, C/g, reach_h] then [B, OH, OW, g, C/g, reach_h, reach_w].
        let windows = B::float_unfold(x, 1, reach_h, sh);
        let windows = B::float_unfold(windows, 2, reach_w, sw);
        let windows = if dh > 1 || dw > 1 {
            let all = |n: usize| Slice::new(0, Some(n as isize), 1);
            B::float_slice(
                windows,
                &[
                    all(b),
                    all(oh),
                    all(ow),
                    all(g),
                    all(cg),
                    Slice::new(0, Some(reach_h as isize), dh as isize),
                    Slice::new(0, Some(reach_w as isize), dw as isize),
                ],
            )
        } else {
            windows
        };

        // Columns [B, OH·OW, g, kh·kw·C/g], each row in (i, j, c) order: the one big copy.
        let columns = B::float_permute(windows, &[0, 1, 2, 3, 5, 6, 4]);
        let columns = B::float_reshape(columns, Shape::new([b, positions, g, row]));

        // Output gradient [B, g, O/g, OH·OW]; the product gives [g, O/g, kh·kw·C/g] (with a
        // leading 1 after the per-sample sum).
        let grad_per_group = B::float_reshape(output_grad, Shape::new([b, g, og, positions]));
        let weight_grad = match gemm {
            WeightGradGemm::PerSample => {
                let columns = B::float_permute(columns, &[0, 2, 1, 3]); // [B, g, OH·OW, row]
                let per_sample = B::float_matmul(grad_per_group, columns); // [B, g, O/g, row]
                B::float_sum_dim(per_sample, 0)
            }
            WeightGradGemm::Single => {
                let lhs = B::float_reshape(
                    B::float_permute(grad_per_group, &[1, 2, 0, 3]),
                    Shape::new([g, og, b * positions]),
                );
                let rhs = if g == 1 {
                    B::float_reshape(columns, Shape::new([1, b * positions, row]))
                } else {
                    B::float_reshape(B::float_permute(columns, &[2, 0, 1, 3]), Shape::new([g, b * positions, row]))
                };
                B::float_matmul(lhs, rhs)
            }
        };

        // [O, kh, kw, C/g] → [O, C/g, kh, kw], made contiguous (it is small) so later
        // gradient arithmetic sees an ordinary tensor.
        let weight_grad = B::float_reshape(weight_grad, Shape::new([o, kh, kw, cg]));
        let weight_grad = B::float_permute(weight_grad, &[0, 3, 1, 2]);
        let weight_grad = B::float_reshape(weight_grad, Shape::new([o * cg * kh * kw]));
        B::float_reshape(weight_grad, Shape::new([o, cg, kh, kw]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::backend::ops::ModuleOps;
    use burn::tensor::{Device, Distribution};

    const TOLERANCE: f32 = 1e-3;

    fn normal() -> Distribution {
        Distribution::Normal(0.0, 1.0)
    }

    fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
        assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
        let actual = actual.into_data().try_into_vec::<f32>().expect("f32 data");
        let expected = expected.into_data().try_into_vec::<f32>().expect("f32 data");
        assert!(actual.iter().chain(&expected).all(|v| v.is_finite()), "{what}: non-finite values");
        let worst = actual.iter().zip(&expected).map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
        assert!(worst <= TOLERANCE, "{what}: max |actual - expected| = {worst}");
    }

    /// `(channels_in, channels_out, kernel, options)`.
    fn configs() -> Vec<(usize, usize, usize, ConvOptions<2>)> {
        // (c, o, k, padding, dilation, stride) from the brief, groups 1.
        let mut configs: Vec<_> =
            [(3, 5, 3, 1, 1, 1), (4, 2, 3, 0, 2, 1), (2, 3, 1, 0, 1, 1), (1, 4, 5, 2, 1, 1), (3, 4, 3, 1, 1, 2)]
                .into_iter()
                .map(|(c, o, k, padding, dilation, stride)| {
                    (c, o, k, ConvOptions::new([stride, stride], [padding, padding], [dilation, dilation], 1))
                })
                .collect();
        // Groups, asymmetric padding, and stride with dilation.
        configs.push((4, 6, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 2)));
        configs.push((3, 4, 3, ConvOptions::new_with_padding([1, 1], [(1, 0), (0, 2)], [1, 1], 1)));
        configs.push((2, 3, 3, ConvOptions::new([2, 2], [1, 1], [2, 2], 1)));
        // More than FEW_CHANNELS inputs: `conv2d` takes the extension instead of the columns.
        configs.push((6, 5, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)));
        configs.push((8, 4, 3, ConvOptions::new_with_padding([1, 1], [(0, 1), (2, 0)], [2, 1], 1)));
        configs.push((5, 3, 1, ConvOptions::new([1, 1], [0, 0], [1, 1], 1)));
        configs
    }

    /// Forward output and the gradients of x, weight and bias against burn's `conv2d` on
    /// `Device::flex().autodiff()`.
    fn check_autodiff(c: usize, o: usize, k: usize, options: ConvOptions<2>, with_bias: bool, x_grad: bool) {
        let what = format!("c={c} o={o} k={k} {options:?} bias={with_bias} x_grad={x_grad}");
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, c, 9, 8], normal(), &device).into_data();
        let w = Tensor::<4>::random([o, c / options.groups, k, k], normal(), &device).into_data();
        let b = Tensor::<1>::random([o], normal(), &device).into_data();
        let leaves = || {
            let x = Tensor::<4>::from_data(x.clone(), &device);
            let x = if x_grad { x.require_grad() } else { x };
            let w = Tensor::<4>::from_data(w.clone(), &device).require_grad();
            let b = with_bias.then(|| Tensor::<1>::from_data(b.clone(), &device).require_grad());
            (x, w, b)
        };
        let (x_ref, w_ref, b_ref) = leaves();
        let (x_new, w_new, b_new) = leaves();

        let expected = burn::tensor::module::conv2d(x_ref.clone(), w_ref.clone(), b_ref.clone(), options.clone());
        let actual = conv2d(x_new.clone(), w_new.clone(), b_new.clone(), options);
        let upstream = Tensor::<4>::random(expected.dims(), normal(), &device);
        assert_close(actual.clone().inner(), expected.clone().inner(), &format!("{what}: output"));

        let grads_ref = (expected * upstream.clone()).sum().backward();
        let grads_new = (actual * upstream).sum().backward();

        match (x_ref.grad(&grads_ref), x_new.grad(&grads_new)) {
            (Some(expected), Some(actual)) => {
                assert!(x_grad);
                assert_close(actual, expected, &format!("{what}: x grad"));
            }
            (None, None) => assert!(!x_grad, "{what}: no x grad"),
            _ => panic!("{what}: x grad present on one side only"),
        }
        assert_close(
            w_new.grad(&grads_new).expect("weight grad"),
            w_ref.grad(&grads_ref).expect("weight grad"),
            &format!("{what}: weight grad"),
        );
        if let (Some(b_ref), Some(b_new)) = (b_ref, b_new) {
            assert_close(
                b_new.grad(&grads_new).expect("bias grad"),
                b_ref.grad(&grads_ref).expect("bias grad"),
                &format!("{what}: bias grad"),
            );
        }
    }

    #[test]
    fn matches_burn_conv2d_with_autodiff() {
        for (c, o, k, options) in configs() {
            check_autodiff(c, o, k, options.clone(), true, true);
            check_autodiff(c, o, k, options, false, true);
        }
    }

    #[test]
    fn input_without_grad_gets_weight_and_bias_grads() {
        check_autodiff(3, 5, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 1), true, false);
    }

    #[test]
    fn matches_burn_conv2d_without_autodiff() {
        let device = Device::flex();
        for (c, o, k, options) in configs() {
            let x = Tensor::<4>::random([2, c, 9, 8], normal(), &device);
            let w = Tensor::<4>::random([o, c / options.groups, k, k], normal(), &device);
            let b = Tensor::<1>::random([o], normal(), &device);
            let expected = burn::tensor::module::conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            let actual = conv2d(x, w, Some(b), options.clone());
            assert_close(actual, expected, &format!("{options:?}: output"));
        }
    }

    #[test]
    fn deep_layers_on_small_maps_sum_the_batch_in_one_product() {
        let plan = |x: [usize; 4], w: [usize; 4], g: [usize; 4], stride| {
            let options = ConvOptions::new([stride, stride], [1, 1], [1, 1], 1);
            let plan = WeightGradPlan::new(&Shape::new(x), &Shape::new(w), &Shape::new(g), &options);
            WeightGradGemm::for_plan(&plan.expect("a valid convolution"))
        };
        // The Fashion-MNIST CNN's second conv: 64 channels over 24×24 positions.
        assert_eq!(plan([64, 32, 24, 24], [64, 32, 3, 3], [64, 64, 24, 24], 1), WeightGradGemm::PerSample);
        // ResNet-18's last stage at 32×32 input: 512 channels on a 1×1 map.
        assert_eq!(plan([128, 512, 1, 1], [512, 512, 3, 3], [128, 512, 1, 1], 1), WeightGradGemm::Single);
    }

    /// Both batch-sum strategies against burn-backend's default weight gradient, on Flex
    /// primitives directly.
    #[test]
    fn weight_grad_matches_burn_default() {
        let device = Device::flex();
        let flex = |t: Tensor<4>| t.try_into_primitive::<Flex>().expect("a flex tensor");
        for (c, o, k, options) in configs() {
            let x = Tensor::<4>::random([3, c, 10, 7], normal(), &device);
            let w = Tensor::<4>::random([o, c / options.groups, k, k], normal(), &device);
            let out = burn::tensor::module::conv2d(x.clone(), w.clone(), None, options.clone());
            let grad = Tensor::<4>::random(out.dims(), normal(), &device);

            let expected =
                Flex::conv2d_weight_backward(flex(x.clone()), flex(w.clone()), flex(grad.clone()), options.clone());
            let plan = WeightGradPlan::new(&x.shape(), &w.shape(), &grad.shape(), &options)
                .expect("a valid convolution has a plan");
            for gemm in [WeightGradGemm::PerSample, WeightGradGemm::Single] {
                let actual = plan.run::<Flex>(flex(x.clone()), flex(grad.clone()), gemm);
                assert_close(
                    Tensor::<4>::from_primitive::<Flex>(actual),
                    Tensor::<4>::from_primitive::<Flex>(expected.clone()),
                    &format!("c={c} o={o} k={k} {options:?} {gemm:?}: weight grad"),
                );
            }
        }
    }
}
