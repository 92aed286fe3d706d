//! `conv_transpose2d` on burn-flex through [`im2col`], as a burn backend extension.
//!
//! A transposed convolution is the input gradient of the convolution that maps its output back
//! to its input ([`im2col::Geometry::transposed`]), so the kernel's pieces serve again:
//!
//! - forward: [`im2col::transposed`] (`Wᵀ · x`, then `col2im`), plus the bias;
//! - input gradient: that convolution's forward pass on the output gradient;
//! - weight gradient: that convolution's weight gradient, with the output gradient as its input
//!   and `x` as its output gradient;
//! - bias gradient: the output gradient summed per channel.
//!
//! burn-flex runs the forward pass as a scatter per input value; the U-Net's upsampling layers
//! (k 2, stride 2) went through it. Other float types, and shapes the kernel does not cover,
//! stay with burn-flex.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::tensor::Tensor;
use burn::tensor::ops::ConvTransposeOptions;

use super::conv::{FlexTensor, burn_conv_forced, f32_4d_shapes, f32_data, flex_tensor, is_flex};
use super::im2col::{self, Geometry};

/// `burn::tensor::module::conv_transpose2d`, through trainc's kernel on Flex.
///
/// `x`: `[B, C_in, H, W]`, `weight`: `[C_in, C_out / groups, kh, kw]`, `bias`: `[C_out]`.
pub fn conv_transpose2d(
    x: Tensor<4>,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvTransposeOptions<2>,
) -> Tensor<4> {
    let x = x.into_dispatch();
    if !is_flex(&x.kind) || burn_conv_forced() {
        return burn::tensor::module::conv_transpose2d(Tensor::from_dispatch(x), weight, bias, options);
    }
    let weight = weight.into_dispatch();
    let out = match bias {
        Some(bias) => {
            <Dispatch as ConvTransposeBackend>::conv_transpose2d_bias(x, weight, bias.into_dispatch(), options)
        }
        None => <Dispatch as ConvTransposeBackend>::conv_transpose2d_plain(x, weight, options),
    };
    Tensor::from_dispatch(out)
}

/// The extension, with and without a bias (the macro takes bare tensors only).
#[backend_extension(Autodiff, Flex)]
pub trait ConvTransposeBackend: Backend {
    /// `conv_transpose2d(x, weight, Some(bias), options)`.
    fn conv_transpose2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d(x, weight, Some(bias), options)
    }

    /// `conv_transpose2d(x, weight, None, options)`.
    fn conv_transpose2d_plain(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        Self::conv_transpose2d(x, weight, None, options)
    }
}

impl ConvTransposeBackend for Flex {
    fn conv_transpose2d_bias(
        x: FlexTensor,
        weight: FlexTensor,
        bias: FlexTensor,
        options: ConvTransposeOptions<2>,
    ) -> FlexTensor {
        forward(x, weight, Some(bias), options)
    }

    fn conv_transpose2d_plain(x: FlexTensor, weight: FlexTensor, options: ConvTransposeOptions<2>) -> FlexTensor {
        forward(x, weight, None, options)
    }
}

/// The geometry of an all-f32 transposed convolution; `None` leaves it to burn-flex.
fn geometry(tensors: &[&FlexTensor], weight: &FlexTensor, options: &ConvTransposeOptions<2>) -> Option<Geometry> {
    let (x, weight) = f32_4d_shapes(tensors, weight)?;
    Geometry::transposed(x, weight, options)
}

fn forward(
    x: FlexTensor,
    weight: FlexTensor,
    bias: Option<FlexTensor>,
    options: ConvTransposeOptions<2>,
) -> FlexTensor {
    let tensors: Vec<&FlexTensor> = [Some(&x), bias.as_ref()].into_iter().flatten().collect();
    let Some(g) = geometry(&tensors, &weight, &options) else {
        return Flex::conv_transpose2d(x, weight, bias, options);
    };
    let mut out = im2col::transposed(&g, &f32_data(&weight), &f32_data(&x));
    if let Some(bias) = bias {
        let (bias, plane) = (f32_data(&bias), g.input[0] * g.input[1]);
        for (row, channel) in out.chunks_mut(plane).zip((0..g.channels_in).cycle()) {
            row.iter_mut().for_each(|v| *v += bias[channel]);
        }
    }
    flex_tensor(out, [g.batch, g.channels_in, g.input[0], g.input[1]])
}

/// Mirrors burn-autodiff's `conv_transpose2d`: checkpointed inputs, the backward step below.
impl<C: CheckpointStrategy> ConvTransposeBackend for Autodiff<Flex, C> {
    fn conv_transpose2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        match TransposeStep::<3>.prepare::<C>([x.node(), weight.node(), bias.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), options.clone());
                let out = forward(x.into_primitive(), weight.into_primitive(), Some(bias.into_primitive()), options);
                prep.finish(state, out)
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), weight.into_primitive(), Some(bias.into_primitive()), options))
            }
        }
    }

    fn conv_transpose2d_plain(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvTransposeOptions<2>,
    ) -> FloatTensor<Self> {
        match TransposeStep::<2>.prepare::<C>([x.node(), weight.node()]).compute_bound().stateful() {
            OpsKind::Tracked(mut prep) => {
                let state = (prep.checkpoint(&x), prep.checkpoint(&weight), options.clone());
                prep.finish(state, forward(x.into_primitive(), weight.into_primitive(), None, options))
            }
            OpsKind::UnTracked(prep) => {
                prep.finish(forward(x.into_primitive(), weight.into_primitive(), None, options))
            }
        }
    }
}

/// The backward step, with `N` = 3 parents when there is a bias.
#[derive(Debug)]
struct TransposeStep<const N: usize>;

impl<const N: usize> Backward<Flex, N> for TransposeStep<N> {
    type State = (NodeId, NodeId, ConvTransposeOptions<2>);

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, checkpointer: &mut Checkpointer) {
        let ids = ops.parents.map(|node| node.map(|node| node.id));
        let grad = grads.consume::<Flex>(&ops.node);
        let (x_state, weight_state, options) = ops.state;
        let x = checkpointer.retrieve_node_output::<FlexTensor>(x_state);
        let weight = checkpointer.retrieve_node_output::<FlexTensor>(weight_state);
        let [x_id, weight_id] = [ids[0], ids[1]];
        let bias_id = ids.get(2).copied().flatten();
        let Some(g) = geometry(&[&x, &grad], &weight, &options) else {
            return burn_grads(grads, [x_id, weight_id, bias_id], [x, weight, grad], options);
        };
        let dy = f32_data(&grad);
        if let Some(id) = x_id {
            let dx = im2col::forward(&g, &dy, &f32_data(&weight), None, false);
            grads.register::<Flex>(id, flex_tensor(dx, [g.batch, g.channels_out, g.out[0], g.out[1]]));
        }
        // The convolution back sees the output gradient as its input and `x` as its output
        // gradient; its bias gradient is the transposed convolution's, summed over `dy`.
        let want_weight = weight_id.is_some();
        let back = want_weight.then(|| im2col::backward(&g, &dy, &f32_data(&weight), &f32_data(&x), false, None));
        if let (Some(id), Some(back)) = (weight_id, back) {
            grads.register::<Flex>(id, flex_tensor::<4>(back.weight, weight.shape().dims()));
        }
        if let Some(id) = bias_id {
            grads.register::<Flex>(id, flex_tensor(channel_sums(&g, &dy), [g.channels_in]));
        }
    }
}

/// Per channel of the transposed convolution's output (`g`'s input), the sum of `dy` over the
/// batch and the map.
fn channel_sums(g: &Geometry, dy: &[f32]) -> Vec<f32> {
    let plane = g.input[0] * g.input[1];
    let mut sums = vec![0.0f64; g.channels_in];
    for (row, channel) in dy.chunks(plane).zip((0..g.channels_in).cycle()) {
        sums[channel] += row.iter().map(|&v| v as f64).sum::<f64>();
    }
    sums.into_iter().map(|s| s as f32).collect()
}

/// burn's gradients, as burn-autodiff's `conv_transpose2d` computes them.
fn burn_grads(
    grads: &mut Gradients,
    [x_id, weight_id, bias_id]: [Option<NodeId>; 3],
    [x, weight, grad]: [FlexTensor; 3],
    options: ConvTransposeOptions<2>,
) {
    if let Some(id) = bias_id {
        let [_, per_group, _, _] = weight.shape().dims();
        let bias = flex_tensor(vec![0.0; per_group * options.groups], [per_group * options.groups]);
        grads.register::<Flex>(id, Flex::conv_transpose2d_bias_backward(x.clone(), bias, grad.clone()));
    }
    if let Some(id) = x_id {
        let dx = Flex::conv_transpose2d_x_backward(weight.clone(), grad.clone(), options.clone());
        grads.register::<Flex>(id, dx);
    }
    if let Some(id) = weight_id {
        grads.register::<Flex>(id, Flex::conv_transpose2d_weight_backward(x, weight, grad, options));
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, grad_of, normal};
    use super::*;
    use burn::tensor::Device;

    /// `(channels_in, channels_out, kernel, options)`: the U-Net's upsampling, padding with
    /// output padding, stride 1, dilation, groups, a non-square stride.
    fn configs() -> Vec<(usize, usize, usize, ConvTransposeOptions<2>)> {
        vec![
            (4, 3, 2, ConvTransposeOptions::new([2, 2], [0, 0], [0, 0], [1, 1], 1)),
            (3, 5, 3, ConvTransposeOptions::new([2, 2], [1, 1], [1, 1], [1, 1], 1)),
            (2, 4, 3, ConvTransposeOptions::new([1, 1], [1, 1], [0, 0], [1, 1], 1)),
            (3, 2, 3, ConvTransposeOptions::new([1, 1], [0, 0], [0, 0], [2, 2], 1)),
            (4, 6, 3, ConvTransposeOptions::new([2, 1], [1, 0], [1, 0], [1, 1], 2)),
        ]
    }

    /// Output and the gradients of x, weight and bias against burn's `conv_transpose2d`, for a
    /// batch that runs in parallel chunks (4) and for one sample.
    #[test]
    fn matches_burn_conv_transpose2d_with_autodiff() {
        let device = Device::flex().autodiff();
        for (c, o, k, options) in configs() {
            for (batch, with_bias) in [(4, true), (1, false)] {
                let what = format!("c={c} o={o} k={k} {options:?} batch={batch} bias={with_bias}");
                let x = Tensor::<4>::random([batch, c, 5, 4], normal(), &device).into_data();
                let w = Tensor::<4>::random([c, o / options.groups, k, k], normal(), &device).into_data();
                let b = Tensor::<1>::random([o], normal(), &device).into_data();
                let leaves = || {
                    let x = Tensor::<4>::from_data(x.clone(), &device).require_grad();
                    let w = Tensor::<4>::from_data(w.clone(), &device).require_grad();
                    let b = with_bias.then(|| Tensor::<1>::from_data(b.clone(), &device).require_grad());
                    (x, w, b)
                };
                let ((x_ref, w_ref, b_ref), (x_new, w_new, b_new)) = (leaves(), leaves());
                let expected = burn::tensor::module::conv_transpose2d(
                    x_ref.clone(),
                    w_ref.clone(),
                    b_ref.clone(),
                    options.clone(),
                );
                let actual = conv_transpose2d(x_new.clone(), w_new.clone(), b_new.clone(), options.clone());
                assert_close(actual.clone().inner(), expected.clone().inner(), &format!("{what}: output"));
                let upstream = Tensor::<4>::random(expected.dims(), normal(), &device);
                let grads_ref = (expected * upstream.clone()).sum().backward();
                let grads_new = (actual * upstream).sum().backward();
                let pairs = [(&x_new, &x_ref, "x grad"), (&w_new, &w_ref, "weight grad")];
                for (new, reference, name) in pairs {
                    let what = format!("{what}: {name}");
                    assert_close(grad_of(new, &grads_new, &what), grad_of(reference, &grads_ref, &what), &what);
                }
                if let (Some(b_new), Some(b_ref)) = (b_new, b_ref) {
                    let what = format!("{what}: bias grad");
                    assert_close(grad_of(&b_new, &grads_new, &what), grad_of(&b_ref, &grads_ref, &what), &what);
                }
            }
        }
    }
}
