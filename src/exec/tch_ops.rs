//! `conv2d` and batch norm on LibTorch with libtorch's own backward pass, as a burn backend
//! extension (built with `--features tch`).
//!
//! # Why
//!
//! burn-tch 0.22.1 runs the convolution forward on libtorch, but burn-autodiff differentiates it
//! with burn-backend's generic code: the input gradient as a transposed convolution and the
//! weight gradient as a convolution with batch and channels swapped. Batch norm is not overridden
//! at all: its forward and backward are burn's compositions of small element-wise ops. So
//! cuDNN (CUDA) and oneDNN (CPU) never see the backward pass, which is where a training step
//! spends two thirds of its time (issue 17, BENCHMARKS.md).
//!
//! # What
//!
//! tch 0.22 has no wrapper for `convolution_backward` (its generator skips `bool[3]`
//! arguments), so each op here records a small libtorch autograd graph instead: the inputs that
//! burn tracks become libtorch leaves with `requires_grad`, the op runs once with grad mode on,
//! and burn's graph stores the libtorch output (with its `grad_fn`) as the op's state. burn sees
//! a detached copy of the output (same storage). In burn's backward step, [`TorchBackward`] runs
//! libtorch's engine from `sum(output · upstream)` to the tracked leaves
//! (`Tensor::run_backward`), which calls `convolution_backward` (cuDNN / oneDNN / native) or the
//! batch norm backward (cuDNN / native) once, computing only the gradients burn asked for.
//! The cost over a direct call is one element-wise product and a sum over the output.
//!
//! - [`conv2d`]: libtorch's `conv2d` (asymmetric padding as an explicit pad first).
//! - [`batch_norm`]: in training, libtorch's `_batch_norm_with_update` on fresh statistics
//!   buffers with momentum 1, which leaves the batch mean and unbiased variance in them; burn's
//!   running statistics are then updated exactly as `burn::nn::BatchNorm::forward` does (biased
//!   variance, burn's momentum convention). In evaluation, libtorch's `batch_norm` with the
//!   running statistics (differentiable too, for frozen layers in a fine-tuned network).
//!
//! On the CPU, f32 convolutions run trainc's own kernels instead, as on Flex, reading and writing
//! libtorch's memory ([`kernel_geometry`], [`KernelStep`]), with a fused `relu`: Winograd
//! F(2×2, 3×3) for the 3×3 convolutions [`super::winograd::chosen`] picks (oneDNN computes them
//! directly, with 2.25× the multiplications) and im2col for the rest. On the Fashion-MNIST CNN's
//! first layer (one input channel) oneDNN's forward + backward through the recorded graph took
//! 9.6 ms against im2col's 4.0 (`cargo bench --bench ops -- tch` / `-- flex`, BENCHMARKS.md).
//! The outputs and input gradients are written straight into libtorch tensors, not copied there.
//!
//! On CUDA, convolutions run channels-last with cuDNN's autotuner on, as PyTorch is benchmarked
//! ([`cuda_layout`]). Tensors on any other backend, and every tensor when `TRAINC_BURN_CONV` is
//! set (to compare, bench/gpu.sh), take burn's own path.
//!
//! # Aliasing
//!
//! burn-tch writes into a tensor in place when it believes it is the only owner of the storage
//! (`TchTensor::can_mut`). The graph state keeps burn's input tensors (hence their storage
//! counts) alive until the backward step, so the inputs libtorch saved are never overwritten.
//! The output burn receives may be overwritten in place (by a following `relu`, say): neither
//! libtorch's convolution nor its batch norm saves its output for the backward pass, and the
//! upstream product only needs the output's gradient, not its value.

#![allow(deprecated)] // burn-tch is deprecated upstream in favour of CubeCL backends.

use std::mem::MaybeUninit;

use burn::backend::autodiff::NodeId;
use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::libtorch::TchTensor;
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{
    Autodiff, AutodiffBackend, Backend, BackendTensor, Dispatch, DispatchTensor, DispatchTensorKind, LibTorch,
    backend_extension,
};
use burn::nn::BatchNorm;
use burn::tensor::Tensor;
use burn::tensor::ops::ConvOptions;

use super::conv;
use super::im2col::Geometry;

/// Whether a dispatch tensor lives on LibTorch (with or without autodiff).
pub fn is_libtorch(kind: &DispatchTensorKind) -> bool {
    match kind {
        DispatchTensorKind::LibTorch(_) => true,
        DispatchTensorKind::Autodiff(inner) => is_libtorch(inner),
        #[allow(unreachable_patterns)]
        _ => false,
    }
}

/// The libtorch tensor behind a plain (not autodiff) LibTorch `tensor`, sharing its storage;
/// `None` on any other backend. For libraries that take device pointers (NCCL, `dist::nccl`).
pub fn torch_view<const D: usize>(tensor: &Tensor<D>) -> Option<tch::Tensor> {
    match tensor.clone().into_dispatch().kind {
        DispatchTensorKind::LibTorch(BackendTensor::Float(t)) => Some(t.tensor),
        #[allow(unreachable_patterns)]
        _ => None,
    }
}

/// The values of `t`, borrowed, when it is a contiguous f32 tensor on the CPU; `None` otherwise.
/// For trainc's own CPU kernels on libtorch's memory (`exec/pool.rs`).
pub fn cpu_f32(t: &tch::Tensor) -> Option<&[f32]> {
    let plain = t.device() == tch::Device::Cpu && t.kind() == tch::Kind::Float && t.is_contiguous();
    match t.numel() {
        _ if !plain => None,
        0 => Some(&[]),
        // SAFETY: a contiguous CPU tensor holds `numel` f32 values from `data_ptr` (which counts
        // the storage offset); the borrow of `t` keeps its storage alive.
        n => Some(unsafe { std::slice::from_raw_parts(t.data_ptr() as *const f32, n) }),
    }
}

/// The values of `t`, mutably, when it is a contiguous f32 tensor on the CPU; `None` otherwise.
/// The caller owns the storage alone (burn-tch's `can_mut`): libtorch has no borrow checker, so
/// `&mut` on the `tch::Tensor` is what stands for that here. For the fused optimizer step.
pub fn cpu_f32_mut(t: &mut tch::Tensor) -> Option<&mut [f32]> {
    let n = cpu_f32(t)?.len();
    // SAFETY: as in `cpu_f32`; the `&mut` borrow of `t` is the only access while it lives.
    Some(unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut f32, n) })
}

/// A new contiguous f32 CPU tensor of `shape`, whose values `fill` writes, every one of them,
/// and what `fill` returns.
pub fn cpu_f32_filled<R>(shape: &[usize], fill: impl FnOnce(&mut [MaybeUninit<f32>]) -> R) -> (tch::Tensor, R) {
    let dims: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    let t = tch::Tensor::empty(dims.as_slice(), (tch::Kind::Float, tch::Device::Cpu));
    let n = t.numel();
    // SAFETY: a fresh contiguous tensor of `n` f32 values that nothing else references yet;
    // `MaybeUninit` because `empty` leaves them unwritten.
    let values = match n {
        0 => &mut [],
        n => unsafe { std::slice::from_raw_parts_mut(t.data_ptr() as *mut MaybeUninit<f32>, n) },
    };
    let result = fill(values);
    (t, result)
}

/// `TRAINC_BURN_CONV=1` keeps burn's own conv and batch norm everywhere, to compare.
pub fn burn_ops_forced() -> bool {
    static FORCED: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *FORCED.get_or_init(|| std::env::var_os("TRAINC_BURN_CONV").is_some())
}

/// `conv2d` of a LibTorch tensor `x` (already in dispatch form; see [`is_libtorch`]), then
/// `relu` when asked, with libtorch's backward pass, or on the CPU trainc's kernels
/// ([`kernel_geometry`]). Shapes as `burn::tensor::module::conv2d`.
pub fn conv2d(
    x: DispatchTensor,
    weight: Tensor<4>,
    bias: Option<Tensor<1>>,
    options: ConvOptions<2>,
    relu: bool,
) -> Tensor<4> {
    let weight = weight.into_dispatch();
    let out = match bias {
        Some(bias) => <Dispatch as TorchOps>::torch_conv2d_bias(x, weight, bias.into_dispatch(), options, relu),
        None => <Dispatch as TorchOps>::torch_conv2d(x, weight, options, relu),
    };
    Tensor::from_dispatch(out)
}

/// `m.forward(x)` for a burn `BatchNorm`, through libtorch's batch norm when `x` is on
/// LibTorch. Same training/evaluation choice and running-statistics update as burn's.
pub fn batch_norm<const D: usize>(m: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    let dims = x.dims();
    // libtorch refuses batch statistics over a single value per channel; burn does not.
    let values_per_channel = dims.iter().product::<usize>() / dims[1].max(1);
    let training = x.device().is_autodiff() && m.training.is_enabled();
    let x = x.into_dispatch();
    if !is_libtorch(&x.kind) || burn_ops_forced() || (training && values_per_channel < 2) {
        return super::norm::batch_norm(m, Tensor::from_dispatch(x));
    }
    let device = m.gamma.device();
    if !training {
        let out = <Dispatch as TorchOps>::torch_batch_norm_eval(
            x,
            m.gamma.val().into_dispatch(),
            m.beta.val().into_dispatch(),
            m.running_mean.value().to_device(&device).into_dispatch(),
            m.running_var.value().to_device(&device).into_dispatch(),
            m.epsilon,
        );
        return Tensor::from_dispatch(out);
    }
    let (out, mean, var) = <Dispatch as TorchOps>::torch_batch_norm_train(
        x,
        m.gamma.val().into_dispatch(),
        m.beta.val().into_dispatch(),
        m.epsilon,
    );
    super::norm::update_running_stats(m, Tensor::from_dispatch(mean), Tensor::from_dispatch(var));
    Tensor::from_dispatch(out)
}

/// The extension. The macro takes bare tensors only (no `Option`), hence two conv entry points.
#[backend_extension(Autodiff, LibTorch)]
pub trait TorchOps: Backend {
    /// `conv2d(x, weight, Some(bias), options)`, then `relu` when asked.
    fn torch_conv2d_bias(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        bias: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// `conv2d(x, weight, None, options)`, then `relu` when asked.
    fn torch_conv2d(
        x: FloatTensor<Self>,
        weight: FloatTensor<Self>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> FloatTensor<Self>;

    /// Batch norm with the batch's statistics: `(output, mean, biased variance)`, the statistics
    /// `[C]` and not differentiated (as `burn::tensor::module::batch_norm_train`).
    fn torch_batch_norm_train(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        epsilon: f64,
    ) -> (FloatTensor<Self>, FloatTensor<Self>, FloatTensor<Self>);

    /// Batch norm with given statistics (as `burn::tensor::module::batch_norm`).
    fn torch_batch_norm_eval(
        x: FloatTensor<Self>,
        gamma: FloatTensor<Self>,
        beta: FloatTensor<Self>,
        mean: FloatTensor<Self>,
        variance: FloatTensor<Self>,
        epsilon: f64,
    ) -> FloatTensor<Self>;
}

/// On CUDA: cuDNN's autotuner on (`torch.backends.cudnn.benchmark = True`), and convolutions
/// in channels-last layout (NHWC strides under the NCHW shape, which is how PyTorch's
/// `channels_last` works; the layout then flows through batch norm and element-wise ops).
/// `TRAINC_CUDNN_BENCHMARK=0` and `TRAINC_CHANNELS_LAST=0` turn them off, to compare.
fn cuda_layout(x: &tch::Tensor, weight: &tch::Tensor) -> Option<(tch::Tensor, tch::Tensor)> {
    static CHANNELS_LAST: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    if !x.device().is_cuda() || x.dim() != 4 {
        return None;
    }
    let off = |name: &str| std::env::var(name).is_ok_and(|v| v == "0");
    let channels_last = *CHANNELS_LAST.get_or_init(|| {
        tch::Cuda::cudnn_set_benchmark(!off("TRAINC_CUDNN_BENCHMARK"));
        !off("TRAINC_CHANNELS_LAST")
    });
    let nhwc = |t: &tch::Tensor| match t.stride()[1] == 1 {
        true => t.shallow_clone(),
        false => t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2]),
    };
    channels_last.then(|| (nhwc(x), nhwc(weight)))
}

/// libtorch's `conv2d`; asymmetric padding becomes an explicit zero pad of the input.
fn torch_conv(
    x: &tch::Tensor,
    weight: &tch::Tensor,
    bias: Option<&tch::Tensor>,
    options: &ConvOptions<2>,
) -> tch::Tensor {
    let nhwc = cuda_layout(x, weight);
    let (x, weight) = match &nhwc {
        Some((x, weight)) => (x, weight),
        None => (x, weight),
    };
    let [(top, bottom), (left, right)] = options.padding;
    let symmetric = top == bottom && left == right;
    let padded;
    let (x, padding) = if symmetric {
        (x, [top as i64, left as i64])
    } else {
        padded = x.constant_pad_nd([left as i64, right as i64, top as i64, bottom as i64]);
        (&padded, [0, 0])
    };
    let stride = options.stride.map(|s| s as i64);
    let dilation = options.dilation.map(|d| d as i64);
    x.conv2d(weight, bias, stride, padding, dilation, options.groups as i64)
}

/// libtorch's batch norm over the batch: `(output, mean, biased variance)`. Fresh statistics
/// buffers with momentum 1 receive the batch mean and unbiased variance (libtorch's update).
fn torch_bn_train(x: &tch::Tensor, gamma: &tch::Tensor, beta: &tch::Tensor, epsilon: f64) -> [tch::Tensor; 3] {
    let mean = gamma.zeros_like();
    let var = gamma.zeros_like();
    let (out, _, _, _) = x.internal_batch_norm_with_update(Some(gamma), Some(beta), &mean, &var, 1.0, epsilon);
    let size = x.size();
    let n = size.iter().product::<i64>() / size[1];
    let var = tch::no_grad(|| var * ((n - 1) as f64 / n as f64));
    [out, mean, var]
}

/// libtorch's batch norm with given statistics.
fn torch_bn_eval(
    x: &tch::Tensor,
    gamma: &tch::Tensor,
    beta: &tch::Tensor,
    mean: &tch::Tensor,
    var: &tch::Tensor,
    epsilon: f64,
) -> tch::Tensor {
    x.batch_norm(Some(gamma), Some(beta), Some(mean), Some(var), false, 0.0, epsilon, true)
}

/// Plain LibTorch (no autodiff): the ops without any graph.
impl TorchOps for LibTorch {
    fn torch_conv2d_bias(
        x: TchTensor,
        weight: TchTensor,
        bias: TchTensor,
        options: ConvOptions<2>,
        relu: bool,
    ) -> TchTensor {
        if let Some(g) = kernel_geometry(&x, &weight, &options) {
            return kernel_forward(&g, [&x, &weight], Some(&bias), relu);
        }
        let y = TchTensor::new(tch::no_grad(|| torch_conv(&x.tensor, &weight.tensor, Some(&bias.tensor), &options)));
        rectified::<Self>(y, relu)
    }

    fn torch_conv2d(x: TchTensor, weight: TchTensor, options: ConvOptions<2>, relu: bool) -> TchTensor {
        if let Some(g) = kernel_geometry(&x, &weight, &options) {
            return kernel_forward(&g, [&x, &weight], None, relu);
        }
        let y = TchTensor::new(tch::no_grad(|| torch_conv(&x.tensor, &weight.tensor, None, &options)));
        rectified::<Self>(y, relu)
    }

    fn torch_batch_norm_train(
        x: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        epsilon: f64,
    ) -> (TchTensor, TchTensor, TchTensor) {
        let [out, mean, var] = tch::no_grad(|| torch_bn_train(&x.tensor, &gamma.tensor, &beta.tensor, epsilon));
        (TchTensor::new(out), TchTensor::new(mean), TchTensor::new(var))
    }

    fn torch_batch_norm_eval(
        x: TchTensor,
        gamma: TchTensor,
        beta: TchTensor,
        mean: TchTensor,
        variance: TchTensor,
        epsilon: f64,
    ) -> TchTensor {
        let out = tch::no_grad(|| {
            torch_bn_eval(&x.tensor, &gamma.tensor, &beta.tensor, &mean.tensor, &variance.tensor, epsilon)
        });
        TchTensor::new(out)
    }
}

type AdTensor<C> = FloatTensor<Autodiff<LibTorch, C>>;

/// Autodiff over LibTorch: each op records its libtorch graph (see the module docs).
impl<C: CheckpointStrategy> TorchOps for Autodiff<LibTorch, C> {
    fn torch_conv2d_bias(
        x: AdTensor<C>,
        weight: AdTensor<C>,
        bias: AdTensor<C>,
        options: ConvOptions<2>,
        relu: bool,
    ) -> AdTensor<C> {
        if let Some(g) = kernel_geometry(x.primitive(), weight.primitive(), &options) {
            return kernel_recorded::<C, 3>(g, [x, weight, bias], relu);
        }
        if burn_backward_is_faster(x.primitive()) {
            return rectified::<Self>(Self::conv2d(x, weight, Some(bias), options), relu);
        }
        // burn's `relu` after the recorded convolution, not libtorch's inside it: libtorch's
        // `relu` saves its output, which burn-tch may then overwrite in place.
        let y = record::<C, 3>([x, weight, bias], vec![], |[x, w, b]| vec![torch_conv(x, w, Some(b), &options)]).0;
        rectified::<Self>(y, relu)
    }

    fn torch_conv2d(x: AdTensor<C>, weight: AdTensor<C>, options: ConvOptions<2>, relu: bool) -> AdTensor<C> {
        if let Some(g) = kernel_geometry(x.primitive(), weight.primitive(), &options) {
            return kernel_recorded::<C, 2>(g, [x, weight], relu);
        }
        if burn_backward_is_faster(x.primitive()) {
            return rectified::<Self>(Self::conv2d(x, weight, None, options), relu);
        }
        let y = record::<C, 2>([x, weight], vec![], |[x, w]| vec![torch_conv(x, w, None, &options)]).0;
        rectified::<Self>(y, relu)
    }

    fn torch_batch_norm_train(
        x: AdTensor<C>,
        gamma: AdTensor<C>,
        beta: AdTensor<C>,
        epsilon: f64,
    ) -> (AdTensor<C>, AdTensor<C>, AdTensor<C>) {
        let (out, stats) =
            record::<C, 3>([x, gamma, beta], vec![], |[x, g, b]| torch_bn_train(x, g, b, epsilon).into());
        let [mean, var]: [TchTensor; 2] = stats.try_into().expect("mean and variance");
        (out, Self::from_inner(mean), Self::from_inner(var))
    }

    fn torch_batch_norm_eval(
        x: AdTensor<C>,
        gamma: AdTensor<C>,
        beta: AdTensor<C>,
        mean: AdTensor<C>,
        variance: AdTensor<C>,
        epsilon: f64,
    ) -> AdTensor<C> {
        let (mean, variance) = (Self::inner(mean), Self::inner(variance));
        let op = |[x, g, b]: &[tch::Tensor; 3]| vec![torch_bn_eval(x, g, b, &mean.tensor, &variance.tensor, epsilon)];
        record::<C, 3>([x, gamma, beta], vec![mean.clone(), variance.clone()], op).0
    }
}

/// Whether burn's generic conv2d backward (built of libtorch forward convolutions) beats
/// libtorch's own `convolution_backward`: on the CPU over a 1×1 map (ResNet-18's last stage on
/// 32×32 images). Conv 3×3 + batch norm, forward + backward, `[32, 512, 1, 1]`: 21–46 ms with
/// burn's backward, 50–94 ms with libtorch's, 85–106 ms in PyTorch itself (`cargo bench --bench
/// ops -- tch` and the same block in PyTorch, 1 thread, 2 rounds each, 2026-12-01).
fn burn_backward_is_faster(x: &TchTensor) -> bool {
    let tensor = &x.tensor;
    tensor.device() == tch::Device::Cpu && tensor.size().get(2..) == Some(&[1, 1][..])
}

/// Runs `op` on the inputs' libtorch tensors and records it in burn's graph. `op` returns the
/// differentiable output first, then any statistics (returned detached, as plain tensors).
/// When burn tracks an input, `op` sees it as a libtorch leaf that requires grad, and the
/// libtorch graph of the output becomes the state of a [`TorchBackward`] step.
fn record<C: CheckpointStrategy, const N: usize>(
    inputs: [AdTensor<C>; N],
    keep: Vec<TchTensor>,
    op: impl FnOnce(&[tch::Tensor; N]) -> Vec<tch::Tensor>,
) -> (AdTensor<C>, Vec<TchTensor>) {
    let nodes = inputs.each_ref().map(|t| t.node());
    let tracked = inputs.each_ref().map(|t| t.is_tracked());
    let inputs = inputs.map(|t| t.into_primitive());
    // The output shares storage with the graph's; statistics are copied, since libtorch may
    // have saved them for the backward pass and burn-tch may update them in place.
    let detached = |outputs: Vec<tch::Tensor>| {
        let copy = |(i, t): (usize, tch::Tensor)| TchTensor::new(if i == 0 { t.detach() } else { t.detach_copy() });
        outputs.into_iter().enumerate().map(copy).collect::<Vec<_>>()
    };
    match TorchBackward::<N>.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let leaves: [tch::Tensor; N] = std::array::from_fn(|i| match tracked[i] {
                true => inputs[i].tensor.detach().set_requires_grad(true),
                false => inputs[i].tensor.shallow_clone(),
            });
            let outputs = tch::with_grad(|| op(&leaves));
            let mut results = detached(outputs.iter().map(tch::Tensor::shallow_clone).collect());
            let mut outputs = outputs.into_iter();
            let graph = TorchGraph {
                output: TchTensor::new(outputs.next().expect("an output")),
                leaves: leaves.into_iter().zip(tracked).map(|(leaf, t)| t.then(|| TchTensor::new(leaf))).collect(),
                _inputs: inputs.into_iter().chain(keep).collect(),
            };
            let output = prep.finish(graph, results.remove(0));
            (output, results)
        }
        OpsKind::UnTracked(prep) => {
            let plain = inputs.each_ref().map(|t| t.tensor.shallow_clone());
            let mut results = detached(tch::no_grad(|| op(&plain)));
            let output = prep.finish(results.remove(0));
            (output, results)
        }
    }
}

/// burn's backward step for an op recorded by [`record`]: libtorch's engine computes the
/// gradients of the tracked inputs from the upstream gradient.
#[derive(Debug)]
struct TorchBackward<const N: usize>;

/// The state of a [`TorchBackward`] step.
#[derive(Debug, Clone)]
struct TorchGraph {
    /// The op's output with its libtorch `grad_fn`.
    output: TchTensor,
    /// Per input, the libtorch leaf that requires grad (`None` when burn does not track it).
    leaves: Vec<Option<TchTensor>>,
    /// burn's input tensors (and any other tensor the op reads), held so that burn-tch does not
    /// overwrite them in place: they share storage with what libtorch saved.
    _inputs: Vec<TchTensor>,
}

impl<const N: usize> Backward<LibTorch, N> for TorchBackward<N> {
    type State = TorchGraph;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let upstream = grads.consume::<LibTorch>(&ops.node);
        let TorchGraph { output, leaves, _inputs } = ops.state;
        let (ids, wanted): (Vec<NodeId>, Vec<tch::Tensor>) = ops
            .parents
            .iter()
            .zip(leaves)
            .filter_map(|(parent, leaf)| Some((parent.as_ref()?.id, leaf?.tensor)))
            .unzip();
        if wanted.is_empty() {
            return;
        }
        // d/d(output) of sum(output · upstream) is the upstream gradient.
        let root = tch::with_grad(|| (&output.tensor * &upstream.tensor).sum(output.tensor.kind()));
        let computed = tch::Tensor::run_backward(&[root], &wanted, false, false);
        for (id, grad) in ids.into_iter().zip(computed) {
            grads.register::<LibTorch>(id, TchTensor::new(grad));
        }
    }
}

/// `relu(y)` when `relu`, else `y`.
fn rectified<B: Backend>(y: FloatTensor<B>, relu: bool) -> FloatTensor<B> {
    if relu { B::relu(y) } else { y }
}

/// The geometry of a convolution that trainc's kernels take on the CPU: f32 tensors in
/// libtorch's CPU memory and a shape [`im2col`] computes. [`conv::forward_into`] then runs
/// Winograd F(2×2, 3×3) where it is chosen (oneDNN computes such a convolution directly, with
/// 2.25× the multiplications) and im2col otherwise, as on Flex. `None` leaves the convolution to
/// libtorch: on CUDA, with `TRAINC_TORCH_CONV=1` or `TRAINC_BURN_CONV=1` (to compare), and for
/// shapes the kernels do not take.
fn kernel_geometry(x: &TchTensor, weight: &TchTensor, options: &ConvOptions<2>) -> Option<Geometry> {
    let on_cpu = |t: &tch::Tensor| t.device() == tch::Device::Cpu && t.kind() == tch::Kind::Float;
    let dims = |t: &tch::Tensor| -> Option<[usize; 4]> {
        t.size().iter().map(|&d| usize::try_from(d).ok()).collect::<Option<Vec<_>>>()?.try_into().ok()
    };
    if !on_cpu(&x.tensor) || !on_cpu(&weight.tensor) || burn_ops_forced() || libtorch_kernels_kept() {
        return None;
    }
    Geometry::new(dims(&x.tensor)?, dims(&weight.tensor)?, options)
}

/// `TRAINC_TORCH_CONV=1`: libtorch's own convolutions (oneDNN) and optimizer ops on the CPU
/// too, to compare; or a test of that path, the one CUDA tensors take (`tests::both_paths`).
pub(super) fn libtorch_kernels_kept() -> bool {
    static KEPT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    #[cfg(test)]
    if tests::LIBTORCH_KERNELS.get() {
        return true;
    }
    *KEPT.get_or_init(|| std::env::var("TRAINC_TORCH_CONV").is_ok_and(|v| v == "1"))
}

/// The values of a contiguous f32 CPU tensor, which [`kernel_geometry`] checked.
fn values(t: &tch::Tensor) -> &[f32] {
    cpu_f32(t).expect("a contiguous f32 tensor on the CPU")
}

/// [`conv::forward_into`] on `[x, weight]` (and the bias), straight into a new libtorch tensor.
fn kernel_forward(g: &Geometry, [x, weight]: [&TchTensor; 2], bias: Option<&TchTensor>, relu: bool) -> TchTensor {
    let [x, weight] = [x, weight].map(|t| t.tensor.contiguous());
    let bias = bias.map(|b| b.tensor.contiguous());
    let shape = [g.batch, g.channels_out, g.out[0], g.out[1]];
    let (out, ()) = cpu_f32_filled(&shape, |out| {
        conv::forward_into(g, values(&x), values(&weight), bias.as_ref().map(values), relu, out)
    });
    TchTensor::new(out)
}

/// A libtorch CPU tensor of `shape` holding a copy of `values`, for burn.
fn from_values(values: &[f32], shape: &[usize]) -> TchTensor {
    let shape: Vec<i64> = shape.iter().map(|&d| d as i64).collect();
    TchTensor::new(tch::Tensor::from_slice(values).reshape(shape))
}

/// The convolution `[x, weight(, bias)]` by [`kernel_forward`], recorded in burn's graph with
/// [`KernelStep`] as its backward step.
fn kernel_recorded<C: CheckpointStrategy, const N: usize>(
    g: Geometry,
    inputs: [AdTensor<C>; N],
    relu: bool,
) -> AdTensor<C> {
    let nodes = inputs.each_ref().map(|t| t.node());
    let [x, weight] = [0, 1].map(|i| inputs[i].primitive().clone());
    let bias = inputs.get(2).map(|t| t.primitive().clone());
    let out = kernel_forward(&g, [&x, &weight], bias.as_ref(), relu);
    match KernelStep::<N>.prepare::<C>(nodes).compute_bound().stateful() {
        OpsKind::Tracked(prep) => {
            let relu_output = relu.then(|| out.clone());
            prep.finish(KernelState { g, x, weight, relu_output }, out)
        }
        OpsKind::UnTracked(prep) => prep.finish(out),
    }
}

/// burn's backward step for [`kernel_recorded`]: [`conv::backward_into`], the input gradient
/// written straight into a new libtorch tensor.
#[derive(Debug)]
struct KernelStep<const N: usize>;

/// The state of a [`KernelStep`]: its inputs, held (so burn-tch does not write into them in
/// place), and the output of a fused `relu`, whose zeros mask the upstream gradient.
#[derive(Debug, Clone)]
struct KernelState {
    g: Geometry,
    x: TchTensor,
    weight: TchTensor,
    relu_output: Option<TchTensor>,
}

impl<const N: usize> Backward<LibTorch, N> for KernelStep<N> {
    type State = KernelState;

    fn backward(self, ops: Ops<Self::State, N>, grads: &mut Gradients, _checkpointer: &mut Checkpointer) {
        let dy = grads.consume::<LibTorch>(&ops.node).tensor.contiguous();
        let KernelState { g, x, weight, relu_output } = ops.state;
        let [x_id, weight_id, bias_id] = std::array::from_fn(|i| ops.parents.get(i).and_then(|p| Some(p.as_ref()?.id)));
        if [x_id, weight_id, bias_id].iter().all(Option::is_none) {
            return;
        }
        let [x, weight] = [&x, &weight].map(|t| t.tensor.contiguous());
        let relu_output = relu_output.map(|t| t.tensor.contiguous());
        let inputs = [values(&x), values(&weight), values(&dy)];
        let mask = relu_output.as_ref().map(values);
        let backward = |dx: Option<&mut [MaybeUninit<f32>]>| conv::backward_into(&g, inputs, dx, mask);
        let result = match x_id {
            Some(id) => {
                let x_shape = [g.batch, g.channels_in, g.input[0], g.input[1]];
                let (dx, result) = cpu_f32_filled(&x_shape, |dx| backward(Some(dx)));
                grads.register::<LibTorch>(id, TchTensor::new(dx));
                result
            }
            None => backward(None),
        };
        if let Some(id) = weight_id {
            let shape = [g.channels_out, g.channels_in / g.groups, g.kernel[0], g.kernel[1]];
            grads.register::<LibTorch>(id, from_values(&result.weight, &shape));
        }
        if let Some(id) = bias_id {
            grads.register::<LibTorch>(id, from_values(&result.bias, &[g.channels_out]));
        }
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::testing::{self, assert_close, batch_norms, conv_configs as configs, normal};
    use super::*;
    use burn::tensor::Device;

    /// What NCCL's in-place all-reduce (`dist::nccl`) relies on: the view shares the burn
    /// tensor's storage, so writing through it changes what burn reads afterwards.
    #[test]
    fn torch_view_shares_the_storage_of_a_libtorch_tensor_only() {
        let device = Device::libtorch();
        let flat = Tensor::<1>::cat(vec![Tensor::ones([3], &device), Tensor::zeros([2], &device)], 0);
        let view = torch_view(&flat).expect("a LibTorch tensor has a view");
        assert!(view.is_contiguous());
        let _ = tch::no_grad(|| view.shallow_clone().fill_(7.0));
        assert_eq!(flat.into_data().try_into_vec::<f32>().ok(), Some(vec![7.0; 5]));
        assert!(torch_view(&Tensor::<1>::ones([3], &Device::flex())).is_none());
    }

    thread_local! {
        /// Set by [`keep_libtorch_kernels`]: this test thread's convolutions on the CPU take
        /// libtorch's path (the one CUDA tensors take) instead of trainc's kernels.
        pub(super) static LIBTORCH_KERNELS: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }

    /// Runs `test` twice: with trainc's kernels on the CPU, then with libtorch's own.
    pub(in crate::exec) fn both_paths(test: impl Fn()) {
        for kept in [false, true] {
            LIBTORCH_KERNELS.set(kept);
            test();
        }
        LIBTORCH_KERNELS.set(false);
    }

    /// Against burn's own `conv2d` on LibTorch with autodiff (libtorch forward, burn's generic
    /// backward).
    /// With `relu`, the fused `conv2d |> relu` against burn's `relu` after burn's `conv2d`.
    fn check_conv(
        c: usize,
        o: usize,
        k: usize,
        options: ConvOptions<2>,
        with_bias: bool,
        (x_grad, relu): (bool, bool),
    ) {
        let case = testing::ConvCase { x: [2, c, 9, 8], o, k, options, with_bias, x_grad, relu };
        let ours: testing::Conv = match relu {
            true => |x, w, b, options| conv2d(x.into_dispatch(), w, b, options, true),
            false => |x, w, b, options| conv2d(x.into_dispatch(), w, b, options, false),
        };
        testing::check_conv(&Device::libtorch().autodiff(), ours, case);
    }

    /// The tests below compare against burn only if LibTorch tensors really take this path.
    #[test]
    fn libtorch_tensors_are_recognised() {
        for device in [Device::libtorch(), Device::libtorch().autodiff()] {
            assert!(is_libtorch(&Tensor::<1>::zeros([2], &device).into_dispatch().kind));
        }
        assert!(!is_libtorch(&Tensor::<1>::zeros([2], &Device::flex().autodiff()).into_dispatch().kind));
    }

    /// Every configuration of `conv_configs` takes trainc's kernels on the CPU (the Winograd-sized
    /// ones Winograd), unless a test keeps libtorch's, so the tests below cover both paths.
    #[test]
    fn trainc_kernels_take_cpu_convolutions() {
        let device = Device::libtorch();
        let tensor =
            |shape: [usize; 4]| TchTensor::new(torch_view(&Tensor::<4>::zeros(shape, &device)).expect("LibTorch"));
        for (c, o, k, options) in configs() {
            let (x, weight) = (tensor([2, c, 9, 8]), tensor([o, c / options.groups, k, k]));
            assert!(kernel_geometry(&x, &weight, &options).is_some(), "{options:?}");
            both_paths(|| {
                assert_eq!(kernel_geometry(&x, &weight, &options).is_some(), !LIBTORCH_KERNELS.get());
            });
        }
        assert!(configs().iter().any(|(c, o, k, options)| {
            let g = Geometry::new([2, *c, 9, 8], [*o, c / options.groups, *k, *k], options);
            g.is_some_and(|g| super::super::winograd::chosen(&g))
        }));
    }

    #[test]
    fn conv2d_matches_burn_with_autodiff() {
        both_paths(|| {
            for (c, o, k, options) in configs() {
                check_conv(c, o, k, options.clone(), true, (true, false));
                check_conv(c, o, k, options.clone(), false, (true, false));
                check_conv(c, o, k, options.clone(), true, (false, false));
                check_conv(c, o, k, options, true, (true, true));
            }
        });
    }

    #[test]
    fn conv2d_matches_burn_without_autodiff() {
        both_paths(conv2d_without_autodiff_matches_burn);
    }

    fn conv2d_without_autodiff_matches_burn() {
        let device = Device::libtorch();
        for (c, o, k, options) in configs() {
            let x = Tensor::<4>::random([2, c, 9, 8], normal(), &device);
            let w = Tensor::<4>::random([o, c / options.groups, k, k], normal(), &device);
            let b = Tensor::<1>::random([o], normal(), &device);
            let expected = burn::tensor::module::conv2d(x.clone(), w.clone(), Some(b.clone()), options.clone());
            let actual = conv2d(x.clone().into_dispatch(), w.clone(), Some(b), options.clone(), false);
            assert_close(actual, expected, &format!("{options:?}: output with bias"));
            let expected = burn::tensor::module::conv2d(x.clone(), w.clone(), None, options.clone());
            let actual = conv2d(x.into_dispatch(), w, None, options.clone(), true);
            let expected = burn::tensor::activation::relu(expected);
            assert_close(actual, expected, &format!("{options:?}: output without bias, with relu"));
        }
    }

    fn check_batch_norm<const D: usize>(shape: [usize; D], frozen: bool) {
        testing::check_batch_norm(&Device::libtorch().autodiff(), batch_norm, shape, (frozen, false));
    }

    #[test]
    fn batch_norm_matches_burn_in_training() {
        check_batch_norm([4, 3, 5, 6], false);
        check_batch_norm([8, 5], false);
        check_batch_norm([2, 4, 7], false);
    }

    #[test]
    fn frozen_batch_norm_matches_burn() {
        check_batch_norm([4, 3, 5, 6], true);
        check_batch_norm([8, 5], true);
    }

    #[test]
    fn batch_norm_matches_burn_in_evaluation() {
        let device = Device::libtorch();
        let (reference, ours) = batch_norms(3, &device);
        let x = Tensor::<4>::random([2, 3, 4, 5], normal(), &device);
        assert_close(batch_norm(&ours, x.clone()), reference.forward(x), "evaluation output");
    }

    /// A batch of one value per channel: burn's path (libtorch refuses it), same result.
    #[test]
    fn batch_norm_of_one_value_per_channel_falls_back_to_burn() {
        let device = Device::libtorch().autodiff();
        let (reference, ours) = batch_norms(3, &device);
        let x = Tensor::<2>::random([1, 3], normal(), &device);
        assert_close(batch_norm(&ours, x.clone()).inner(), reference.forward(x).inner(), "output");
    }
}
