//! Batch norm in training mode on burn-flex as two fused passes, forward and backward, as a
//! burn backend extension.
//!
//! # Why
//!
//! burn-flex has no batch norm of its own: `batch_norm_train` is burn-backend's composition of
//! tensor ops (a transposing copy to `[C, B·H·W]`, a mean, a subtraction, a square, another mean,
//! then the normalisation as four broadcast ops), and its backward pass is a dozen more. On the
//! U-Net's first level (`[4, 32, 256, 256]`) that made batch norm cost almost as much as the 3×3
//! convolution before it (`cargo bench --bench ops`, "conv 3×3 + batch norm").
//!
//! # What
//!
//! [`train`] computes each channel's mean and biased variance in one parallel pass over the
//! channels (two sums per value, in f64), then normalises in a second pass over the `(sample,
//! channel)` rows. The backward step needs two per-channel sums of the output gradient (`Σ dy` and
//! `Σ dy·x̂`, which are also the gradients of beta and gamma) and one more pass for the input
//! gradient, `dx = γ/σ · (dy − Σdy/N − x̂·Σ(dy·x̂)/N)`. Tensors on other backends and other float
//! types go to burn's `batch_norm_train`.

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::{ActivationOps, ModuleOps};
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, AutodiffBackend, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::nn::BatchNorm;
use burn::tensor::{DType, Tensor, TensorData};
use rayon::prelude::*;

use super::conv::{FlexTensor, f32_data as f32s, is_flex};
use super::fused;

/// [`BatchNorm::forward`]: in training mode on Flex through [`train`], otherwise burn's.
pub fn batch_norm<const D: usize>(m: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    match training_on_flex(m, &x) {
        true => train_and_update(m, x, false),
        false => m.forward(x),
    }
}

/// Whether `m` trains on `x` on Flex: what [`batch_norm_relu`] fuses.
fn training_on_flex<const D: usize>(m: &BatchNorm, x: &Tensor<D>) -> bool {
    x.device().is_autodiff() && m.training.is_enabled() && is_flex(&x.clone().into_dispatch().kind)
}

/// `relu(batch_norm(x))` as one op in training mode on Flex ([`training_on_flex`]): the
/// normalising pass rectifies, and the backward step masks the output gradient inside its own
/// passes. burn-flex's `relu` and its backward are two more passes over the activation, on one
/// thread. Anywhere else it is [`super::net::batch_norm`] (libtorch's on LibTorch), then burn's
/// `relu`.
pub fn batch_norm_relu<const D: usize>(m: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    match training_on_flex(m, &x) {
        true => train_and_update(m, x, true),
        false => burn::tensor::activation::relu(super::net::batch_norm(m, x)),
    }
}

/// [`train_then`] with `m`'s parameters, moving its running statistics.
fn train_and_update<const D: usize>(m: &BatchNorm, x: Tensor<D>, relu: bool) -> Tensor<D> {
    let (out, mean, variance) = train_then(x, m.gamma.val(), m.beta.val(), m.epsilon, relu);
    update_running_stats(m, mean, variance);
    out
}

/// Moves `m`'s running statistics towards a batch's, as `burn::nn::BatchNorm::forward_train`.
pub fn update_running_stats(m: &BatchNorm, mean: Tensor<1>, variance: Tensor<1>) {
    let device = m.gamma.device();
    let running_mean = m.running_mean.value_sync().to_device(&device);
    let running_var = m.running_var.value_sync().to_device(&device);
    let running_mean = running_mean.mul_scalar(1.0 - m.momentum).add(mean.detach().mul_scalar(m.momentum));
    let running_var = running_var.mul_scalar(1.0 - m.momentum).add(variance.detach().mul_scalar(m.momentum));
    m.running_mean.update(running_mean.detach());
    m.running_var.update(running_var.detach());
}

/// Batch norm with the batch's own statistics: `(output, mean, biased variance)`, as
/// `burn::tensor::module::batch_norm_train`; the statistics are `[C]` and not differentiated.
/// `x` is `[B, C, ...]`.
pub fn train<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    train_then(x, gamma, beta, epsilon, false)
}

/// [`train`], its output rectified when `relu`.
fn train_then<const D: usize>(
    x: Tensor<D>,
    gamma: Tensor<1>,
    beta: Tensor<1>,
    epsilon: f64,
    relu: bool,
) -> (Tensor<D>, Tensor<1>, Tensor<1>) {
    let x = x.into_dispatch();
    if !is_flex(&x.kind) {
        let result = burn::tensor::module::batch_norm_train(Tensor::from_dispatch(x), gamma, beta, epsilon);
        let output = if relu { burn::tensor::activation::relu(result.output) } else { result.output };
        return (output, result.mean, result.variance);
    }
    let (gamma, beta) = (gamma.into_dispatch(), beta.into_dispatch());
    let (out, mean, variance) = <Dispatch as NormBackend>::flex_batch_norm_train(x, gamma, beta, epsilon, relu);
    (Tensor::from_dispatch(out), Tensor::from_dispatch(mean), Tensor::from_dispatch(variance))
}

/// The extension (the macro takes bare tensors only, and returns tuples of them).
#[backend_extension(Autodiff, Flex)]
pub trait NormBackend: Backend {
    /// [`train`] on one backend, rectified when `relu`.
    fn flex_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);
}

impl NormBackend for Flex {
    fn flex_batch_norm_train(
        x: FlexTensor,
        gamma: FlexTensor,
        beta: FlexTensor,
        epsilon: f64,
        relu: bool,
    ) -> (FlexTensor, FlexTensor, FlexTensor) {
        let Some(shape) = Rows::of(&[&x, &gamma, &beta]) else {
            let result = Flex::batch_norm_train(x, gamma, beta, epsilon);
            let output = if relu { Flex::relu(result.output) } else { result.output };
            return (output, result.mean, result.variance);
        };
        let stats = shape.statistics(&f32s(&x), epsilon);
        let out = shape.normalize(&f32s(&x), &stats, (&f32s(&gamma), &f32s(&beta)), relu);
        let dims = x.shape().to_vec();
        let channel = |values: Vec<f32>| FlexTensor::from_data(TensorData::new(values, [shape.channels]));
        let out = FlexTensor::from_data(TensorData::new(out, dims));
        (out, channel(stats.mean), channel(stats.variance))
    }
}

impl<C: CheckpointStrategy> NormBackend for Autodiff<Flex, C> {
    fn flex_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
        relu: bool,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>) {
        let nodes = [x.node(), gamma.node(), beta.node()];
        let (x, gamma, beta) = (x.into_primitive(), gamma.into_primitive(), beta.into_primitive());
        let (out, mean, variance) = Flex::flex_batch_norm_train(x.clone(), gamma.clone(), beta, epsilon, relu);
        let out = match BatchNormStep.prepare::<C>(nodes).compute_bound().stateful() {
            OpsKind::Tracked(prep) => {
                let (mean, variance, relu_output) = (mean.clone(), variance.clone(), relu.then(|| out.clone()));
                prep.finish(BatchNormState { x, gamma, mean, variance, epsilon, relu_output }, out)
            }
            OpsKind::UnTracked(prep) => prep.finish(out),
        };
        (out, Self::from_inner(mean), Self::from_inner(variance))
    }
}

/// What the backward step keeps: the input, gamma and the batch statistics; with a fused
/// `relu`, its output (whose zeros mask the output gradient).
#[derive(Debug, Clone)]
struct BatchNormState {
    x: FlexTensor,
    gamma: FlexTensor,
    mean: FlexTensor,
    variance: FlexTensor,
    epsilon: f64,
    relu_output: Option<FlexTensor>,
}

#[derive(Debug)]
struct BatchNormStep;

impl Backward<Flex, 3> for BatchNormStep {
    type State = BatchNormState;

    fn backward(
        self,
        ops: Ops<Self::State, 3>,
        grads: &mut Gradients,
        _: &mut burn::backend::autodiff::checkpoint::base::Checkpointer,
    ) {
        let [node_x, node_gamma, node_beta] = ops.parents.map(|node| node.map(|node| node.id));
        let grad = grads.consume::<Flex>(&ops.node);
        let BatchNormState { x, gamma, mean, variance, epsilon, relu_output } = ops.state;
        let Some(shape) = Rows::of(&[&x, &gamma, &grad]) else {
            let grad = match relu_output {
                Some(y) => Flex::relu_backward(y, grad),
                None => grad,
            };
            let result = Flex::batch_norm_train_backward(x, gamma, mean, variance, epsilon, grad);
            register(grads, node_x, result.x_grad);
            register(grads, node_gamma, result.gamma_grad);
            return register(grads, node_beta, result.beta_grad);
        };
        let stats = Stats::from_tensors(&mean, &variance, epsilon);
        let relu_output = relu_output.as_ref().map(f32s);
        let dy = Gradient { dy: &f32s(&grad), relu_output: relu_output.as_deref() };
        let sums = shape.gradient_sums(&f32s(&x), dy, &stats);
        if let Some(id) = node_x {
            let dx = shape.input_grad(&f32s(&x), dy, &stats, &sums, &f32s(&gamma));
            grads.register::<Flex>(id, FlexTensor::from_data(TensorData::new(dx, x.shape().to_vec())));
        }
        let channel = |values: Vec<f32>| FlexTensor::from_data(TensorData::new(values, [shape.channels]));
        register(grads, node_gamma, channel(sums.dy_xhat));
        register(grads, node_beta, channel(sums.dy));
    }
}

fn register(grads: &mut Gradients, id: Option<NodeId>, grad: FlexTensor) {
    if let Some(id) = id {
        grads.register::<Flex>(id, grad);
    }
}

/// `[B, C, ...]` seen as `B·C` rows of `len` values, each row one channel of one sample.
#[derive(Debug, Clone, Copy)]
struct Rows {
    channels: usize,
    len: usize,
}

/// Per channel: the batch mean, biased variance and `1/√(variance + ε)`.
struct Stats {
    mean: Vec<f32>,
    variance: Vec<f32>,
    inv_std: Vec<f32>,
}

impl Stats {
    fn from_tensors(mean: &FlexTensor, variance: &FlexTensor, epsilon: f64) -> Stats {
        let (mean, variance) = (f32s(mean).into_owned(), f32s(variance).into_owned());
        let inv_std = variance.iter().map(|&v| (1.0 / (v as f64 + epsilon).sqrt()) as f32).collect();
        Stats { mean, variance, inv_std }
    }
}

/// The output gradient, and the output of a fused `relu` whose zeros mask it.
#[derive(Clone, Copy)]
struct Gradient<'a> {
    dy: &'a [f32],
    relu_output: Option<&'a [f32]>,
}

impl Gradient<'_> {
    /// One gradient value `g` through the `relu` whose output is `y` ([`fused::relu_grad`]),
    /// when `relu`.
    fn gate(relu: bool, g: f32, y: f32) -> f32 {
        if relu { fused::relu_grad(g, y) } else { g }
    }

    /// What the mask reads: the `relu`'s output, or `dy` itself when there is none (and
    /// [`Gradient::gate`] ignores it).
    fn mask_source(&self) -> &[f32] {
        self.relu_output.unwrap_or(self.dy)
    }
}

/// Per channel: `Σ dy` (beta's gradient) and `Σ dy·x̂` (gamma's).
struct Sums {
    dy: Vec<f32>,
    dy_xhat: Vec<f32>,
}

impl Rows {
    /// The layout of `tensors[0]` when every tensor is f32 and it has a channel axis with at
    /// least one value per channel.
    fn of(tensors: &[&FlexTensor]) -> Option<Rows> {
        let shape = tensors[0].shape();
        let dims = shape.as_slice();
        let f32s = tensors.iter().all(|t| t.dtype() == DType::F32);
        let len: usize = dims.iter().skip(2).product();
        (f32s && dims.len() >= 2 && dims[1] > 0 && dims[0] * len > 0).then(|| Rows { channels: dims[1], len })
    }

    /// Channel `c`'s rows, one per sample.
    fn channel<'a>(&self, data: &'a [f32], c: usize) -> impl Iterator<Item = &'a [f32]> + use<'a> {
        let (len, stride) = (self.len, self.channels * self.len);
        data.chunks(stride).map(move |sample| &sample[c * len..(c + 1) * len])
    }

    fn count(&self, data: &[f32]) -> f64 {
        (data.len() / self.channels) as f64
    }

    fn statistics(&self, x: &[f32], epsilon: f64) -> Stats {
        let n = self.count(x);
        let per_channel: Vec<(f32, f32, f32)> = (0..self.channels)
            .into_par_iter()
            .map(|c| {
                let mean = self.channel(x, c).flatten().map(|&v| v as f64).sum::<f64>() / n;
                let squares = self.channel(x, c).flatten().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>();
                let variance = squares / n;
                (mean as f32, variance as f32, (1.0 / (variance + epsilon).sqrt()) as f32)
            })
            .collect();
        Stats {
            mean: per_channel.iter().map(|s| s.0).collect(),
            variance: per_channel.iter().map(|s| s.1).collect(),
            inv_std: per_channel.iter().map(|s| s.2).collect(),
        }
    }

    /// `(x − mean)·γ/σ + β`, rectified when `relu`, row by row in parallel (each row's output
    /// zeroed by its worker: see [`fused::zeroed_chunks`]).
    fn normalize(&self, x: &[f32], stats: &Stats, (gamma, beta): (&[f32], &[f32]), relu: bool) -> Vec<f32> {
        fused::zeroed_chunks(x.len(), self.len, true, |_: &mut (), (row, out)| {
            let c = row % self.channels;
            let scale = gamma[c] * stats.inv_std[c];
            let shift = beta[c] - stats.mean[c] * scale;
            let x = &x[row * self.len..][..self.len];
            match relu {
                true => out.iter_mut().zip(x).for_each(|(o, &v)| *o = fused::relu(v * scale + shift)),
                false => out.iter_mut().zip(x).for_each(|(o, &v)| *o = v * scale + shift),
            }
        })
    }

    fn gradient_sums(&self, x: &[f32], grad: Gradient, stats: &Stats) -> Sums {
        let relu = grad.relu_output.is_some();
        let per_channel: Vec<(f32, f32)> = (0..self.channels)
            .into_par_iter()
            .map(|c| {
                let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
                let (mut sum, mut sum_xhat) = (0.0f64, 0.0f64);
                let rows = self.channel(x, c).zip(self.channel(grad.dy, c)).zip(self.channel(grad.mask_source(), c));
                for ((x, dy), y) in rows {
                    for ((&v, &g), &y) in x.iter().zip(dy).zip(y) {
                        let g = Gradient::gate(relu, g, y);
                        sum += g as f64;
                        sum_xhat += ((v - mean) * inv_std * g) as f64;
                    }
                }
                (sum as f32, sum_xhat as f32)
            })
            .collect();
        Sums { dy: per_channel.iter().map(|s| s.0).collect(), dy_xhat: per_channel.iter().map(|s| s.1).collect() }
    }

    /// `γ/σ · (dy − Σdy/N − x̂·Σ(dy·x̂)/N)`, row by row in parallel.
    fn input_grad(&self, x: &[f32], grad: Gradient, stats: &Stats, sums: &Sums, gamma: &[f32]) -> Vec<f32> {
        let (n, relu) = (self.count(x) as f32, grad.relu_output.is_some());
        fused::zeroed_chunks(x.len(), self.len, true, |_: &mut (), (row, dx)| {
            let c = row % self.channels;
            let (mean, inv_std) = (stats.mean[c], stats.inv_std[c]);
            let (mean_dy, mean_dy_xhat) = (sums.dy[c] / n, sums.dy_xhat[c] / n);
            let scale = gamma[c] * inv_std;
            let range = row * self.len..(row + 1) * self.len;
            let (x, dy, y) = (&x[range.clone()], &grad.dy[range.clone()], &grad.mask_source()[range]);
            for (((d, &v), &g), &y) in dx.iter_mut().zip(x).zip(dy).zip(y) {
                let xhat = (v - mean) * inv_std;
                *d = scale * (Gradient::gate(relu, g, y) - mean_dy - xhat * mean_dy_xhat);
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, batch_norms, check_batch_norm, normal};
    use super::*;
    use burn::tensor::Device;

    #[test]
    fn flex_tensors_are_recognised() {
        for device in [Device::flex(), Device::flex().autodiff()] {
            assert!(is_flex(&Tensor::<1>::zeros([2], &device).into_dispatch().kind));
        }
    }

    #[test]
    fn batch_norm_matches_burn_in_training() {
        let device = Device::flex().autodiff();
        check_batch_norm(&device, batch_norm, [4, 3, 5, 6], (false, false));
        check_batch_norm(&device, batch_norm, [8, 5], (false, false));
        check_batch_norm(&device, batch_norm, [2, 4, 7], (false, false));
        check_batch_norm(&device, batch_norm, [1, 3], (false, false));
    }

    /// `batch_norm |> relu` as one op: output, running statistics and every gradient against
    /// burn's `relu` after burn's batch norm.
    #[test]
    fn fused_batch_norm_relu_matches_burn_in_training() {
        let device = Device::flex().autodiff();
        check_batch_norm(&device, fused, [4, 3, 5, 6], (false, true));
        check_batch_norm(&device, fused, [8, 5], (false, true));
        check_batch_norm(&device, fused, [2, 4, 7], (false, true));
        check_batch_norm(&device, fused, [1, 3], (false, true));
    }

    fn fused<const D: usize>(m: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
        assert!(training_on_flex(m, &x), "training on Flex is fused");
        batch_norm_relu(m, x)
    }

    /// Evaluation mode is not fused: burn's batch norm, then burn's `relu`.
    #[test]
    fn batch_norm_relu_in_evaluation_is_burns() {
        let device = Device::flex();
        let (reference, ours) = batch_norms(3, &device);
        let x = Tensor::<4>::random([2, 3, 4, 5], normal(), &device);
        assert!(!training_on_flex(&ours, &x));
        let expected = burn::tensor::activation::relu(reference.forward(x.clone()));
        assert_close(batch_norm_relu(&ours, x), expected, "evaluation output");
    }

    #[test]
    fn frozen_batch_norm_matches_burn() {
        check_batch_norm(&Device::flex().autodiff(), batch_norm, [4, 3, 5, 6], (true, false));
    }

    #[test]
    fn batch_norm_matches_burn_in_evaluation() {
        let device = Device::flex();
        let (reference, ours) = batch_norms(3, &device);
        let x = Tensor::<4>::random([2, 3, 4, 5], normal(), &device);
        assert_close(batch_norm(&ours, x.clone()), reference.forward(x), "evaluation output");
    }

    /// A transposed input (not contiguous) is read in its logical order.
    #[test]
    fn batch_norm_of_a_strided_view_matches_burn() {
        let device = Device::flex().autodiff();
        let (reference, ours) = batch_norms(3, &device);
        let x = Tensor::<4>::random([5, 4, 3, 2], normal(), &device).swap_dims(1, 2);
        assert_close(batch_norm(&ours, x.clone()).inner(), reference.forward(x).inner(), "output");
    }
}
