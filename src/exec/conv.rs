//! `conv2d` on burn-flex through trainc's own kernel, as a burn backend extension.
//!
//! # Why
//!
//! burn-flex lowers a convolution through channels-last copies, computes the input gradient as a
//! transposed convolution (a scatter loop on one thread) and the weight gradient as another
//! convolution with batch and channels swapped: skinny im2col products. On the Fashion-MNIST
//! CNN's second layer (`[64, 32, 26, 26]` → 64, 3×3) forward + backward took 124 ms with burn's
//! ops and 51 ms with [`im2col`]; on a U-Net layer at 256×256, 424 against 167 ms
//! (`cargo bench --bench ops -- flex convs`, BENCHMARKS.md).
//!
//! # What
//!
//! [`conv2d`] is a drop-in for `burn::tensor::module::conv2d`. On Flex in f32 its forward pass is
//! [`im2col::forward`] and its backward step [`im2col::backward`], which computes the input,
//! weight and bias gradients in one pass over the columns. 3×3 convolutions with stride 1 and
//! enough channels ([`winograd::chosen`]) take [`winograd::forward`] and [`winograd::backward`]
//! instead: 2.25× fewer multiplications, 1.3–1.7× faster forward + backward on the benchmark
//! models' layers (`cargo bench --bench ops -- kernels`). Other float types (bf16 under mixed
//! precision) stay with burn-flex's own ops.
//!
//! # Backends
//!
//! The op is declared with `#[backend_extension(Autodiff, Flex)]`: plain Flex runs the forward
//! kernel, and `Autodiff<Flex, C>` records the backward step. Calling an extension on a backend it
//! does not list panics, so [`conv2d`] first looks at the input's dispatch representation
//! (`DispatchTensorKind`, looking through `Autodiff(..)`) and hands tensors on any other backend
//! to `burn::tensor::module::conv2d` unchanged. LibTorch tensors (with `--features tch`) go to
//! [`super::tch_ops::conv2d`] instead, whose backward pass is libtorch's own (or, for the
//! convolutions Winograd takes on the CPU, [`winograd`]'s, on libtorch's memory).
//!
//! Requires burn's `extension` feature (for `Tensor::into_dispatch` / `from_dispatch` and the
//! `burn::backend` module).

use std::borrow::Cow;
use std::mem::MaybeUninit;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ActivationOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, DispatchTensorKind, Flex, TensorMetadata, backend_extension};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{DType, Tensor, TensorData};

use super::{fused, im2col, winograd};

/// burn-flex's tensor (the crate is not a direct dependency).
pub(super) type FlexTensor = FloatTensor<Flex>;

/// 2D convolution through trainc's kernel on Flex and libtorch's on LibTorch (see the module
/// docs for why).
///
/// `x`: `[B, C, H, W]`, `weight`: `[O, C / groups, kh, kw]`, `bias`: `[O]`; returns
/// `[B, O, OH, OW]`. Same results as `burn::tensor::module::conv2d`, to float rounding.
///
/// Tensors on Flex (with or without autodiff) go through the extension, tensors on LibTorch
/// through [`super::tch_ops`]; tensors on any other backend go to `burn::tensor::module::conv2d`.
pub fn conv2d(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, false)
}

/// `relu(conv2d(x, weight, bias, options))`. On Flex in f32 the two are one op: each band of the
/// output is rectified while the convolution has it in cache, and the backward step masks the
/// output gradient chunk by chunk on the workers. burn-flex's own `relu` and its backward are
/// two more passes over the whole activation on one thread (6 % of a Fashion-MNIST step, with
/// the other core idle). The same holds on LibTorch's CPU where [`winograd`] takes the
/// convolution ([`super::tch_ops::conv2d`]). Elsewhere it is `conv2d` then burn's `relu`.
pub fn conv2d_relu(x: Tensor<4>, weight: Tensor<4>, bias: Option<Tensor<1>>, options: ConvOptions<2>) -> Tensor<4> {
    conv2d_then(x, weight, bias, options, true)
}

fn conv2d_then(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    relu: bool,
) -> Tensor<4> {
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
    let then_relu = |y: Tensor<4>| if relu { burn::tensor::activation::relu(y) } else { y };

    let burn_conv = burn_conv_forced();
    let x = x.into_dispatch();
    #[cfg(feature = "tch")]
    if !burn_conv && super::tch_ops::is_libtorch(&x.kind) {
        return super::tch_ops::conv2d(x, weight, bias, options, relu);
    }
    if !is_flex(&x.kind) || burn_conv {
        return then_relu(burn::tensor::module::conv2d(Tensor::from_dispatch(x), weight, bias, options));
    }
    let weight = weight.into_dispatch();
    let out = match bias {
        Some(bias) => <Dispatch as ConvBackend>::conv2d_gemm_wgrad_bias(x, weight, bias.into_dispatch(), options, relu),
        None => <Dispatch as ConvBackend>::conv2d_gemm_wgrad(x, weight, options, relu),
    };
    Tensor::from_dispatch(out)
}

/// Whether a tensor lives on Flex, the backend trainc's extensions are declared for. Autodiff
/// tensors carry their concrete backend inside `Autodiff(..)`.
pub fn is_flex(kind: &DispatchTensorKind) -> bool {
    match kind {
        DispatchTensorKind::Flex(_) => true,
        DispatchTensorKind::Autodiff(inner) => is_flex(inner),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// `TRAINC_BURN_CONV=1` runs burn's own convolutions everywhere, to compare (bench/gpu.sh).
pub fn burn_conv_forced() -> bool {
    static BURN_CONV: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *BURN_CONV.get_or_init(|| std::env::var_os("TRAINC_BURN_CONV").is_some())
}

/// The extension: `conv2d` with and without a bias (the macro takes bare tensors only, not
/// `Option<FloatTensor>`, so the bias is a separate entry point), rectified when `relu`. On Flex
/// both run [`im2col::forward`]; the autodiff implementation records [`im2col::backward`] as the
/// step.
#[backend_extension(Autodiff, Flex)]
pub trait ConvBackend: Backend {
    /// `conv2d(x, weight, Some(bias), options)`, then `relu` when asked.
    fn conv2d_gemm_wgrad_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        rectified::<Self>(Self::conv2d(x, weight, Some(bias), options), relu)
    }

    /// `conv2d(x, weight, None, options)`, then `relu` when asked.
    fn conv2d_gemm_wgrad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        rectified::<Self>(Self::conv2d(x, weight, None, options), relu)
    }
}

/// `relu(y)` when `relu`, else `y`.
fn rectified<B: Backend>(y: FloatTensor<B>, relu: bool) -> FloatTensor<B> {
    if relu { B::relu(y) } else { y }
}

impl ConvBackend for Flex {
    fn conv2d_gemm_wgrad_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FlexTensor {
        flex_forward(x, weight, Some(bias), options, relu)
    }

    fn conv2d_gemm_wgrad(x: FlexTensor, weight: FlexTensor, options: ConvOptions<2>, relu: bool) -> FlexTensor {
        flex_forward(x, weight, None, options, relu)
    }
}

/// The data of an f32 tensor (checked by [`flex_geometry`]) in row-major order, copied only when
/// its layout is not plain.
pub(super) fn f32_data(t: &FlexTensor) -> Cow<'_, [f32]> {
    match t.as_slice::<f32>() {
        Some(data) => Cow::Borrowed(data),
        None => Cow::Owned(t.to_contiguous().into_data().try_into_vec::<f32>().expect("an f32 tensor")),
    }
}

pub(super) fn flex_tensor<const D: usize>(data: Vec<f32>, shape: [usize; D]) -> FlexTensor {
    FlexTensor::from_data(TensorData::new(data, shape))
}

/// The geometry of an all-f32 convolution on Flex; `None` (other float types, shapes burn
/// should report) leaves the convolution to burn-flex.
fn flex_geometry(tensors: &[&FlexTensor], weight: &FlexTensor, options: &ConvOptions<2>) -> Option<im2col::Geometry> {
    let (x, weight) = f32_4d_shapes(tensors, weight)?;
    im2col::Geometry::new(x, weight, options)
}

/// The shapes of `tensors[0]` (the input) and `weight` when every tensor is f32 and both are
/// 4-D: what trainc's kernels take.
pub(super) fn f32_4d_shapes(tensors: &[&FlexTensor], weight: &FlexTensor) -> Option<([usize; 4], [usize; 4])> {
    let x = tensors[0];
    let f32s = tensors.iter().chain([&weight]).all(|t| t.dtype() == DType::F32);
    let ranks = x.shape().num_dims() == 4 && weight.shape().num_dims() == 4;
    (f32s && ranks).then(|| (x.shape().dims(), weight.shape().dims()))
}

/// `conv2d` (then `relu`) on Flex: [`im2col::forward`] for f32, burn-flex's own otherwise.
fn flex_forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: ConvOptions<2>,
    relu: bool,
) -> FlexTensor {
    let tensors: Vec<&FlexTensor> = [Some(&x), bias.as_ref()].into_iter().flatten().collect();
    let Some(g) = flex_geometry(&tensors, &weight, &options) else {
        return rectified::<Flex>(Flex::conv2d(x, weight, bias, options), relu);
    };
    let bias = bias.as_ref().map(f32_data);
    let (x, weight) = (f32_data(&x), f32_data(&weight));
    let len = g.batch * g.output_len();
    // SAFETY: `forward_into` writes every value.
    let (out, ()) = unsafe { fused::filled(len, |out| forward_into(&g, &x, &weight, bias.as_deref(), relu, out)) };
    flex_tensor(out, [g.batch, g.channels_out, g.out[0], g.out[1]])
}

/// trainc's kernel for the f32 convolution `g` (then `relu` when asked), into `out`
/// (`[B, O, OH, OW]`, in full): [`winograd`] where it is chosen, [`im2col`] otherwise. On Flex's
/// memory here, on libtorch's in [`super::tch_ops`].
pub(super) fn forward_into(
    g: &im2col::Geometry,
    x: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    relu: bool,
    out: &mut [MaybeUninit<f32>],
) {
    match winograd::chosen(g) {
        true => winograd::forward_into(g, x, weight, bias, relu, out),
        false => im2col::forward_into(g, x, weight, bias, relu, out),
    }
}

/// The backward step of [`forward_into`]'s kernel, the input gradient into `dx` when given.
pub(super) fn backward_into(
    g: &im2col::Geometry,
    [x, weight, dy]: [&[f32]; 3],
    dx: Option<&mut [MaybeUninit<f32>]>,
    relu_output: Option<&[f32]>,
) -> im2col::Grads {
    match winograd::chosen(g) {
        true => winograd::backward_into(g, x, weight, dy, dx, relu_output),
        false => im2col::backward_into(g, x, weight, dy, dx, relu_output),
    }
}

/// Mirrors burn-autodiff's `conv2d` (`burn-autodiff/src/ops/module.rs`): same preparation,
/// checkpointing and forward call; the backward step is [`im2col::backward`]. A fused `relu`
/// keeps the rectified output in the step's state (its zeros are the mask), as burn-autodiff's
/// `max_pool2d` keeps its indices.
impl<C: CheckpointStrategy> ConvBackend for Autodiff<Flex, C> {
    fn conv2d_gemm_wgrad_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        match Conv2dWithBias.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let bias_state = prep.checkpoint(&bias);
                let out = flex_forward(
                    x.into_primitive(),
                    weight.into_primitive(),
                    Some(bias.into_primitive()),
                    options.clone(),
                    relu,
                );
                let relu_output = relu.then(|| out.clone());
                prep.finish((x_state, weight_state, bias_state, options, relu_output), out)
            }
            OpsKind::UnTracked(prep) => prep.finish(flex_forward(
                x.into_primitive(),
                weight.into_primitive(),
                Some(bias.into_primitive()),
                options,
                relu,
            )),
        }
    }

    fn conv2d_gemm_wgrad(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self> {
        match Conv2dNoBias.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let x_state = prep.checkpoint(&x);
                let weight_state = prep.checkpoint(&weight);
                let out = flex_forward(x.into_primitive(), weight.into_primitive(), None, options.clone(), relu);
                let relu_output = relu.then(|| out.clone());
                prep.finish((x_state, weight_state, options, relu_output), out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(flex_forward(x.into_primitive(), weight.into_primitive(), None, options, relu))
            }
        }
    }
}

#[derive(Debug)]
struct Conv2dWithBias;

#[derive(Debug)]
struct Conv2dNoBias;

impl Backward<Flex, 3> for Conv2dWithBias {
    type State = (NodeId, NodeId, NodeId, ConvOptions<2>, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, 3>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight, node_bias] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);

        let (x_state, weight_state, bias_state, options, relu_output) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let bias = checkpointer.retrieve_node_output::<FlexTensor>(bias_state);
        let ids = [node_x, node_weight, node_bias].map(|node| node.map(|node| node.id));
        register_grads(grads, ids, [x, weight, grad], Some(bias), (options, relu_output));
    }
}

impl Backward<Flex, 2> for Conv2dNoBias {
    type State = (NodeId, NodeId, ConvOptions<2>, Option<FlexTensor>);

    fn backward(self, ops: Ops<Self::State, 2>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let [node_x, node_weight] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);

        let (x_state, weight_state, options, relu_output) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let ids = [node_x.map(|node| node.id), node_weight.map(|node| node.id), None];
        register_grads(grads, ids, [x, weight, grad], None, (options, relu_output));
    }
}

/// Registers the gradients of whichever of `[x, weight, bias]` is tracked: [`backward_into`]
/// for f32, burn's own `conv2d_*_backward` otherwise. `relu_output` is the output of a fused
/// `relu`, whose zeros mask `grad`.
fn register_grads(
    grads: &mut Gradients,
    [x_id, weight_id, bias_id]: [Option<NodeId>; 3],
    [x, weight, grad]: [FlexTensor; 3],
    bias: Option<FlexTensor>,
    (options, relu_output): (ConvOptions<2>, Option<FlexTensor>),
) {
    let Some(g) = flex_geometry(&[&x, &grad], &weight, &options) else {
        let grad = match relu_output {
            Some(y) => Flex::relu_backward(y, grad),
            None => grad,
        };
        return register_burn_grads(grads, [x_id, weight_id, bias_id], [x, weight, grad], bias, options);
    };
    let relu_output = relu_output.as_ref().map(f32_data);
    let (x_data, weight_data, grad) = (f32_data(&x), f32_data(&weight), f32_data(&grad));
    let result = im2col::with_input_grad(&g, x_id.is_some(), |dx| {
        backward_into(&g, [&x_data, &weight_data, &grad], dx, relu_output.as_deref())
    });
    if let (Some(id), Some(dx)) = (x_id, result.x) {
        grads.register::<Flex>(id, flex_tensor(dx, [g.batch, g.channels_in, g.input[0], g.input[1]]));
    }
    if let Some(id) = weight_id {
        grads.register::<Flex>(id, flex_tensor::<4>(result.weight, weight.shape().dims()));
    }
    if let Some(id) = bias_id {
        grads.register::<Flex>(id, flex_tensor(result.bias, [g.channels_out]));
    }
}

/// burn's gradients, as burn-autodiff's `conv2d` computes them.
fn register_burn_grads(
    grads: &mut Gradients,
    [x_id, weight_id, bias_id]: [Option<NodeId>; 3],
    [x, weight, grad]: [FlexTensor; 3],
    bias: Option<FlexTensor>,
    options: ConvOptions<2>,
) {
    if let (Some(id), Some(bias)) = (bias_id, bias) {
        grads.register::<Flex>(id, Flex::conv2d_bias_backward(x.clone(), bias, grad.clone()));
    }
    if let Some(id) = x_id {
        grads.register::<Flex>(id, Flex::conv2d_x_backward(x.clone(), weight.clone(), grad.clone(), options.clone()));
    }
    if let Some(id) = weight_id {
        grads.register::<Flex>(id, Flex::conv2d_weight_backward(x, weight, grad, options));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{ConvCase, assert_close, check_conv, conv_configs as configs, grad_of, normal};
    use super::*;
    use burn::tensor::Device;

    fn check_autodiff(c: usize, o: usize, k: usize, options: ConvOptions<2>, with_bias: bool, x_grad: bool) {
        check_autodiff_on([2, c, 9, 8], o, k, options, with_bias, x_grad);
    }

    /// `conv2d` against burn's on `Device::flex().autodiff()`, for an input of shape `x`, and
    /// `conv2d_relu` against burn's `relu(conv2d(..))`.
    fn check_autodiff_on(x: [usize; 4], o: usize, k: usize, options: ConvOptions<2>, with_bias: bool, x_grad: bool) {
        let case = |relu| ConvCase { x, o, k, options: options.clone(), with_bias, x_grad, relu };
        check_conv(&Device::flex().autodiff(), conv2d, case(false));
        check_conv(&Device::flex().autodiff(), conv2d_relu, case(true));
    }

    #[test]
    fn matches_burn_conv2d_with_autodiff() {
        for (c, o, k, options) in configs() {
            check_autodiff(c, o, k, options.clone(), true, true);
            check_autodiff(c, o, k, options, false, true);
        }
    }

    /// Small maps: several samples share a chunk's products (7 samples on 3×3 maps make chunks
    /// of 4 and 3), and one sample runs its products on every thread.
    #[test]
    fn matches_burn_conv2d_in_chunks_of_several_samples_and_of_one() {
        for batch in [7, 1] {
            for (c, o, k, options) in configs() {
                check_autodiff_on([batch, c, 3 + 2 * options.dilation[0], 5], o, k, options.clone(), true, true);
            }
        }
    }

    /// Wide maps with many channels: one sample's columns are built band by band of output rows
    /// (64 channels × 3×3 on 200 columns: 2 rows a band, so 7 rows make 4 bands).
    #[test]
    fn matches_burn_conv2d_band_by_band_on_wide_maps() {
        let options = [
            ConvOptions::new([1, 1], [1, 1], [1, 1], 1),
            ConvOptions::new([2, 1], [1, 0], [1, 2], 1),
            ConvOptions::new_with_padding([1, 1], [(2, 0), (1, 1)], [2, 1], 2),
            ConvOptions::new([1, 1], [0, 0], [1, 1], 1),
        ];
        for options in options {
            for batch in [1, 2] {
                let k = if options.padding == [(0, 0); 2] { 1 } else { 3 };
                check_autodiff_on([batch, 64, 7, 200], 2, k, options.clone(), true, true);
            }
        }
    }

    /// Padding wider than the map, so that some kernel columns never touch the image: a 7×7
    /// depthwise convolution (ConvNeXt's) on a 2×2 map, and a 5×5 one with stride 2.
    #[test]
    fn matches_burn_conv2d_when_padding_is_wider_than_the_map() {
        check_autodiff_on([2, 4, 2, 2], 4, 7, ConvOptions::new([1, 1], [3, 3], [1, 1], 4), true, true);
        check_autodiff_on([3, 2, 1, 2], 3, 5, ConvOptions::new([2, 2], [4, 4], [1, 1], 1), true, true);
    }

    #[test]
    fn bf16_convolutions_are_left_to_burn() {
        let device = Device::flex().autodiff();
        let x = Tensor::<4>::random([2, 3, 6, 6], normal(), &device).cast(burn::tensor::FloatDType::BF16);
        let w = Tensor::<4>::random([4, 3, 3, 3], normal(), &device).cast(burn::tensor::FloatDType::BF16);
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let expected = burn::tensor::module::conv2d(x.clone(), w.clone(), None, options.clone());
        let actual = conv2d(x, w.require_grad(), None, options);
        assert_eq!(actual.dtype(), DType::BF16);
        let worst = (actual.clone() - expected).abs().max().cast(burn::tensor::FloatDType::F32).into_scalar::<f32>();
        assert!(worst == 0.0, "bf16 output differs from burn's by {worst}");
        let _ = actual.sum().backward();
    }

    /// A fused `relu` in bf16 falls back to burn's convolution and burn's `relu_backward`.
    #[test]
    fn bf16_fused_relu_is_left_to_burn() {
        let device = Device::flex().autodiff();
        let bf16 = |t: Tensor<4>| t.cast(burn::tensor::FloatDType::BF16);
        let x = bf16(Tensor::<4>::random([2, 3, 6, 6], normal(), &device));
        let w = Tensor::<4>::random([4, 3, 3, 3], normal(), &device).into_data();
        let options = ConvOptions::new([1, 1], [1, 1], [1, 1], 1);
        let w_ref = Tensor::<4>::from_data(w.clone(), &device).require_grad();
        let w_new = Tensor::<4>::from_data(w, &device).require_grad();
        let expected = burn::tensor::activation::relu(burn::tensor::module::conv2d(
            x.clone(),
            bf16(w_ref.clone()),
            None,
            options.clone(),
        ));
        let actual = conv2d_relu(x, bf16(w_new.clone()), None, options);
        assert_eq!(actual.dtype(), DType::BF16);
        let to_f32 = |t: Tensor<4>| t.cast(burn::tensor::FloatDType::F32);
        assert_close(to_f32(actual.clone()).inner(), to_f32(expected.clone()).inner(), "bf16 rectified output");
        let (grads_ref, grads_new) = (expected.sum().backward(), actual.sum().backward());
        let what = "bf16 weight grad";
        let grad = |w: &Tensor<4>, grads| grad_of(w, grads, what);
        assert_close(grad(&w_new, &grads_new), grad(&w_ref, &grads_ref), what);
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
            let actual = conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            assert_close(actual, expected.clone(), &format!("{options:?}: output"));
            let actual = conv2d_relu(x, w, Some(b), options.clone());
            let expected = burn::tensor::activation::relu(expected);
            assert_close(actual, expected, &format!("{options:?}: rectified output"));
        }
    }
}
