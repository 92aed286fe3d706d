//! Max-pooling over non-overlapping windows (`maxpool(2)`: kernel = stride, no padding) on
//! burn-flex, as a burn backend extension.
//!
//! # Why
//!
//! burn-flex pools any window shape through one generic loop that works out each window's
//! bounds per output value, writes the argmax as an `i64` index tensor (cast again to burn's int
//! type), and its backward pass zeroes the whole input gradient before scattering into it. On the
//! Fashion-MNIST CNN (`[64, 64, 24, 24]`) forward + backward took 13 ms of a ~90 ms step
//! (`cargo bench --bench ops`).
//!
//! # What
//!
//! For windows that tile the map (kernel = stride, no padding, dilation 1) [`max_pool2d`] keeps
//! the argmax as one byte per output (its place in the window), and the backward step writes
//! every input gradient once: the output gradient at the argmax, zero elsewhere. NaN wins its
//! window, as in PyTorch (the last NaN); ties go to the first value. With `--features tch` the
//! same kernel pools f32 LibTorch tensors on the CPU, in libtorch's memory ([`torch`]). Other
//! pools, other float types and other backends take burn's `MaxPool2d::forward`.

// The extension's generated dispatch names LibTorch, which burn marks deprecated.
#![cfg_attr(feature = "tch", allow(deprecated))]

use burn::backend::autodiff::checkpoint::base::Checkpointer;
use burn::backend::autodiff::checkpoint::strategy::CheckpointStrategy;
use burn::backend::autodiff::grads::Gradients;
use burn::backend::autodiff::ops::{Backward, Ops, OpsKind};
use burn::backend::ops::ModuleOps;
use burn::backend::tensor::FloatTensor;
use burn::backend::{Autodiff, Backend, Dispatch, Flex, TensorMetadata, backend_extension};
use burn::nn::PaddingConfig2d;
use burn::nn::pool::MaxPool2d;
use burn::tensor::{DType, Tensor};
use rayon::prelude::*;
use std::mem::MaybeUninit;

use super::conv::{FlexTensor, f32_data, flex_tensor, is_flex};
use super::{fused, simd};

/// [`MaxPool2d::forward`], through trainc's kernel for tiling windows on Flex.
pub fn max_pool2d(m: &MaxPool2d, x: Tensor<4>) -> Tensor<4> {
    let [_, _, height, width] = x.dims();
    let k = m.kernel_size[0];
    let no_padding = matches!(m.padding, PaddingConfig2d::Valid | PaddingConfig2d::Explicit(0, 0, 0, 0));
    // With ceil mode a partial last window would count; it only differs when the map is not a
    // multiple of the window.
    let ceil_differs = m.ceil_mode && (height % k != 0 || width % k != 0);
    let tiles = m.kernel_size == [k, k] && m.stride == [k, k] && m.dilation == [1, 1] && no_padding;
    if !tiles || ceil_differs || !(1..=MAX_WINDOW).contains(&k) || height < k || width < k {
        return m.forward(x);
    }
    let x = x.into_dispatch();
    if !is_flex(&x.kind) && !on_libtorch(&x.kind) {
        return m.forward(Tensor::from_dispatch(x));
    }
    Tensor::from_dispatch(<Dispatch as PoolBackend>::max_pool2d_tiles(x, k))
}

/// Whether `kind` is LibTorch, whose extension below pools f32 CPU tensors itself and hands
/// the rest (CUDA, other float types) to libtorch.
fn on_libtorch(kind: &burn::backend::DispatchTensorKind) -> bool {
    #[cfg(feature = "tch")]
    return super::tch_ops::is_libtorch(kind);
    #[cfg(not(feature = "tch"))]
    return {
        let _ = kind;
        false
    };
}

/// Largest window side: the argmax's place in the window must fit a byte.
const MAX_WINDOW: usize = 15;

/// The extension.
#[backend_extension(Autodiff, Flex, LibTorch: cfg(feature = "tch"))]
pub trait PoolBackend: Backend {
    /// Max-pooling of `x` (`[B, C, H, W]`) over `k × k` windows with stride `k`.
    fn max_pool2d_tiles(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self>;
}

impl PoolBackend for Flex {
    fn max_pool2d_tiles(x: FlexTensor, k: usize) -> FlexTensor {
        forward(&x, k).0
    }
}

/// The pooled tensor and, when `x` is f32, each output's argmax within its window.
fn forward(x: &FlexTensor, k: usize) -> (FlexTensor, Option<Vec<u8>>) {
    if x.dtype() != DType::F32 {
        return (Flex::max_pool2d(x.clone(), [k, k], [k, k], [0, 0], [1, 1], false), None);
    }
    let tiles = Tiles::of(x, k);
    let (out, argmax) = tiles.pool(&f32_data(x));
    (flex_tensor(out, tiles.out_shape()), Some(argmax))
}

/// A `[B, C, H, W]` map cut into `k × k` tiles.
#[derive(Debug, Clone, Copy)]
struct Tiles {
    shape: [usize; 4],
    k: usize,
    out: [usize; 2],
}

impl Tiles {
    fn of(x: &FlexTensor, k: usize) -> Tiles {
        Tiles::new(x.shape().dims(), k)
    }

    fn new(shape: [usize; 4], k: usize) -> Tiles {
        Tiles { shape, k, out: [shape[2] / k, shape[3] / k] }
    }

    fn out_shape(&self) -> [usize; 4] {
        [self.shape[0], self.shape[1], self.out[0], self.out[1]]
    }

    fn plane(&self) -> usize {
        self.shape[2] * self.shape[3]
    }

    fn out_plane(&self) -> usize {
        self.out[0] * self.out[1]
    }

    /// The maximum of each tile and where in the tile it is (`i·k + j`), plane by plane.
    fn pool(&self, x: &[f32]) -> (Vec<f32>, Vec<u8>) {
        let len = x.len() / self.plane() * self.out_plane();
        let mut out = Vec::with_capacity(len);
        let argmax = self.pool_into(x, &mut out.spare_capacity_mut()[..len]);
        // SAFETY: `pool_into` wrote every one of the `len` values.
        unsafe { out.set_len(len) };
        (out, argmax)
    }

    /// [`Tiles::pool`] into `out` (one value per tile), which it writes in full. The outputs are
    /// zeroed by the worker that writes them (see [`fused::zeroed`]).
    fn pool_into(&self, x: &[f32], out: &mut [MaybeUninit<f32>]) -> Vec<u8> {
        let mut argmax = vec![0u8; out.len()];
        let planes = out.par_chunks_mut(self.out_plane());
        let planes = planes.zip(argmax.par_chunks_mut(self.out_plane())).zip(x.par_chunks(self.plane()));
        planes.for_each(|((out, argmax), x)| {
            simd::dispatch(
                #[inline(always)]
                || self.pool_plane(x, fused::zeroed(out), argmax),
            )
        });
        argmax
    }

    /// One plane, band of `k` input rows by band: each window row is a slice, so the loops
    /// index without bounds checks or divisions.
    #[inline(always)]
    fn pool_plane(&self, x: &[f32], out: &mut [f32], argmax: &mut [u8]) {
        if self.k == 2 {
            return self.pool_plane_2x2(x, out, argmax);
        }
        let (k, w, ow) = (self.k, self.shape[3], self.out[1]);
        let bands = x.chunks(k * w).zip(out.chunks_mut(ow)).zip(argmax.chunks_mut(ow));
        for ((band, out), argmax) in bands.take(self.out[0]) {
            for (ox, (out, argmax)) in out.iter_mut().zip(argmax.iter_mut()).enumerate() {
                let (mut best, mut at) = (band[ox * k], 0);
                for (i, row) in band.chunks(w).enumerate() {
                    for (j, &v) in row[ox * k..][..k].iter().enumerate() {
                        if v > best || v.is_nan() {
                            (best, at) = (v, i * k + j);
                        }
                    }
                }
                (*out, *argmax) = (best, at as u8);
            }
        }
    }

    /// [`Tiles::pool_plane`] for 2×2 windows (`maxpool(2)`, most CNNs' pool): the four values of
    /// a window compared with selects instead of branches. On ReLU outputs the branches were
    /// taken at random; the loop over a window's rows and columns was 9.6 % of a Fashion-MNIST
    /// step on `--device tch` (`perf`, issue 17).
    #[inline(always)]
    fn pool_plane_2x2(&self, x: &[f32], out: &mut [f32], argmax: &mut [u8]) {
        let (w, ow) = (self.shape[3], self.out[1]);
        let bands = x.chunks(2 * w).zip(out.chunks_mut(ow)).zip(argmax.chunks_mut(ow));
        for ((band, out), argmax) in bands.take(self.out[0]) {
            let (top, bottom) = band.split_at(w);
            let windows = top.chunks_exact(2).zip(bottom.chunks_exact(2));
            for ((out, argmax), (top, bottom)) in out.iter_mut().zip(argmax.iter_mut()).zip(windows) {
                (*out, *argmax) = max_of_window([top[0], top[1], bottom[0], bottom[1]]);
            }
        }
    }

    /// The input gradient: `dy` at each tile's argmax, zero elsewhere (and in rows or columns
    /// no tile covers).
    fn unpool(&self, dy: &[f32], argmax: &[u8]) -> Vec<f32> {
        let len = dy.len() / self.out_plane() * self.plane();
        let mut dx = Vec::with_capacity(len);
        self.unpool_into(dy, argmax, &mut dx.spare_capacity_mut()[..len]);
        // SAFETY: `unpool_into` wrote every one of the `len` values.
        unsafe { dx.set_len(len) };
        dx
    }

    /// [`Tiles::unpool`] into `dx` (the input's size), which it writes in full: each plane is
    /// zeroed by the worker that scatters into it.
    fn unpool_into(&self, dy: &[f32], argmax: &[u8], dx: &mut [MaybeUninit<f32>]) {
        let (k, w, ow) = (self.k, self.shape[3], self.out[1]);
        // Where argmax `i·k + j` lands in a band of `k` input rows.
        let offsets: Vec<usize> = (0..k * k).map(|at| at / k * w + at % k).collect();
        let planes = dx.par_chunks_mut(self.plane());
        let planes = planes.zip(dy.par_chunks(self.out_plane())).zip(argmax.par_chunks(self.out_plane()));
        planes.for_each(|((dx, dy), argmax)| {
            if k == 2 {
                return simd::dispatch(
                    #[inline(always)]
                    || self.unpool_plane_2x2(dy, argmax, dx),
                );
            }
            let dx = fused::zeroed(dx);
            let rows = dy.chunks(ow).zip(argmax.chunks(ow));
            for ((dy, argmax), band) in rows.zip(dx.chunks_mut(k * w)) {
                for (ox, (&g, &at)) in dy.iter().zip(argmax).enumerate() {
                    band[ox * k + offsets[at as usize]] = g;
                }
            }
        });
    }

    /// [`Tiles::unpool_into`] for one plane of 2×2 windows: each window's four gradients written
    /// at once (`dy` at the argmax, zero elsewhere), without zeroing the plane first and scattering;
    /// only a last row or column no window covers is zeroed.
    #[inline(always)]
    fn unpool_plane_2x2(&self, dy: &[f32], argmax: &[u8], dx: &mut [MaybeUninit<f32>]) {
        let (w, ow) = (self.shape[3], self.out[1]);
        let zero = MaybeUninit::new(0.0);
        let (covered, rest) = dx.split_at_mut(2 * self.out[0] * w);
        rest.fill(zero);
        for ((band, dy), argmax) in covered.chunks_mut(2 * w).zip(dy.chunks(ow)).zip(argmax.chunks(ow)) {
            let (top, bottom) = band.split_at_mut(w);
            top[2 * ow..].fill(zero);
            bottom[2 * ow..].fill(zero);
            let windows = top.chunks_exact_mut(2).zip(bottom.chunks_exact_mut(2));
            for ((&g, &at), (top, bottom)) in dy.iter().zip(argmax).zip(windows) {
                let at = |i: u8| MaybeUninit::new(if at == i { g } else { 0.0 });
                (top[0], top[1], bottom[0], bottom[1]) = (at(0), at(1), at(2), at(3));
            }
        }
    }
}

/// The maximum of a 2×2 window `[top left, top right, bottom left, bottom right]` and its place
/// (0–3), as the general loop finds it: the last NaN, else the first maximum.
#[inline(always)]
fn max_of_window(values: [f32; 4]) -> (f32, u8) {
    let (mut best, mut at) = (values[0], 0);
    for (i, v) in (1..4).zip(values.into_iter().skip(1)) {
        let take = v > best || v.is_nan();
        best = if take { v } else { best };
        at = if take { i } else { at };
    }
    (best, at)
}

impl<C: CheckpointStrategy> PoolBackend for Autodiff<Flex, C> {
    fn max_pool2d_tiles(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self> {
        let node = x.node();
        let x = x.into_primitive();
        let (out, argmax) = forward(&x, k);
        match (TilesStep.prepare::<C>([node]).compute_bound().stateful(), argmax) {
            (OpsKind::Tracked(prep), Some(argmax)) => prep.finish(TilesState::Argmax(Tiles::of(&x, k), argmax), out),
            (OpsKind::Tracked(prep), None) => prep.finish(TilesState::Input(x, k), out),
            (OpsKind::UnTracked(prep), _) => prep.finish(out),
        }
    }
}

/// What the backward step keeps: the argmax (f32), or the input for burn's backward.
#[derive(Debug, Clone)]
enum TilesState {
    Argmax(Tiles, Vec<u8>),
    Input(FlexTensor, usize),
}

#[derive(Debug)]
struct TilesStep;

impl Backward<Flex, 1> for TilesStep {
    type State = TilesState;

    fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
        let [parent] = ops.parents;
        let grad = grads.consume::<Flex>(&ops.node);
        let Some(parent) = parent else { return };
        let dx = match ops.state {
            TilesState::Argmax(tiles, argmax) => flex_tensor(tiles.unpool(&f32_data(&grad), &argmax), tiles.shape),
            TilesState::Input(x, k) => burn_backward(x, grad, k),
        };
        grads.register::<Flex>(parent.id, dx);
    }
}

/// burn-flex's own backward (other float types), from its forward pass with indices.
fn burn_backward(x: FlexTensor, grad: FlexTensor, k: usize) -> FlexTensor {
    let int = burn::tensor::IntDType::I64;
    let indices = Flex::max_pool2d_with_indices(x.clone(), [k, k], [k, k], [0, 0], [1, 1], false, int).indices;
    Flex::max_pool2d_with_indices_backward(x, [k, k], [k, k], [0, 0], [1, 1], false, grad, indices).x_grad
}

/// The same kernel on LibTorch's CPU tensors, read and written in place (`tch_ops::cpu_f32`).
///
/// libtorch's CPU max-pool with indices (what PyTorch's training calls too) took 11 % of a
/// Fashion-MNIST step on `--device tch` (BENCHMARKS.md); its indices are `i64`, eight bytes per
/// output where this keeps one.
#[cfg(feature = "tch")]
mod torch {
    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;

    use super::super::tch_ops::{cpu_f32, cpu_f32_filled};
    use super::*;

    /// The pooled tensor, the tiles and each output's argmax; `None` when `x` is not f32 on the
    /// CPU.
    fn forward(x: &tch::Tensor, k: usize) -> Option<(TchTensor, Tiles, Vec<u8>)> {
        let x = x.contiguous();
        let values = cpu_f32(&x)?;
        let dims: Vec<usize> = x.size().iter().map(|&d| d as usize).collect();
        let tiles = Tiles::new(dims.try_into().ok()?, k);
        let (out, argmax) = cpu_f32_filled(&tiles.out_shape(), |out| tiles.pool_into(values, out));
        Some((TchTensor::new(out), tiles, argmax))
    }

    fn libtorch_pool(x: TchTensor, k: usize) -> TchTensor {
        LibTorch::max_pool2d(x, [k, k], [k, k], [0, 0], [1, 1], false)
    }

    impl PoolBackend for LibTorch {
        fn max_pool2d_tiles(x: TchTensor, k: usize) -> TchTensor {
            match forward(&x.tensor, k) {
                Some((out, _, _)) => out,
                None => libtorch_pool(x, k),
            }
        }
    }

    impl<C: CheckpointStrategy> PoolBackend for Autodiff<LibTorch, C> {
        fn max_pool2d_tiles(x: FloatTensor<Self>, k: usize) -> FloatTensor<Self> {
            let Some((out, tiles, argmax)) = forward(&x.primitive().tensor, k) else {
                return <Self as ModuleOps<Self>>::max_pool2d(x, [k, k], [k, k], [0, 0], [1, 1], false);
            };
            match TorchTilesStep.prepare::<C>([x.node()]).compute_bound().stateful() {
                OpsKind::Tracked(prep) => prep.finish((tiles, argmax), out),
                OpsKind::UnTracked(prep) => prep.finish(out),
            }
        }
    }

    #[derive(Debug)]
    struct TorchTilesStep;

    impl Backward<LibTorch, 1> for TorchTilesStep {
        type State = (Tiles, Vec<u8>);

        fn backward(self, ops: Ops<Self::State, 1>, grads: &mut Gradients, _: &mut Checkpointer) {
            let [parent] = ops.parents;
            let grad = grads.consume::<LibTorch>(&ops.node).tensor.contiguous();
            let Some(parent) = parent else { return };
            let (tiles, argmax) = ops.state;
            let dy = cpu_f32(&grad).expect("the gradient of an f32 CPU output");
            let (dx, ()) = cpu_f32_filled(&tiles.shape, |dx| tiles.unpool_into(dy, &argmax, dx));
            grads.register::<LibTorch>(parent.id, TchTensor::new(dx));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{assert_close, grad_of, normal};
    use super::*;
    use burn::nn::pool::MaxPool2dConfig;
    use burn::tensor::Device;

    /// Output and input gradient against burn's `MaxPool2d` for 2×2 and 3×3 tiles, maps that the
    /// tiles cover and maps with rows and columns left over, in f32 and bf16.
    #[test]
    fn matches_burn_max_pool2d_with_autodiff() {
        check_against_burn(&Device::flex().autodiff());
    }

    #[cfg(feature = "tch")]
    #[test]
    #[allow(deprecated)] // burn-tch is deprecated upstream.
    fn matches_burn_max_pool2d_on_libtorch() {
        check_against_burn(&Device::libtorch().autodiff());
        let (m, x) = (
            MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init(),
            Tensor::<4>::random([2, 3, 6, 4], normal(), &Device::libtorch()),
        );
        assert_close(max_pool2d(&m, x.clone()), m.forward(x), "without autodiff");
    }

    fn check_against_burn(device: &Device) {
        for (k, shape) in [(2, [3, 4, 6, 8]), (2, [2, 3, 7, 5]), (3, [2, 2, 9, 10])] {
            let m = MaxPool2dConfig::new([k, k]).with_strides([k, k]).init();
            let what = format!("k={k} {shape:?}");
            let x = Tensor::<4>::random(shape, normal(), device).into_data();
            let x_ref = Tensor::<4>::from_data(x.clone(), device).require_grad();
            let x_new = Tensor::<4>::from_data(x, device).require_grad();
            let (expected, actual) = (m.forward(x_ref.clone()), max_pool2d(&m, x_new.clone()));
            assert_close(actual.clone().inner(), expected.clone().inner(), &format!("{what}: output"));
            let upstream = Tensor::<4>::random(expected.dims(), normal(), device);
            let grads_ref = (expected * upstream.clone()).sum().backward();
            let grads_new = (actual * upstream).sum().backward();
            assert_close(grad_of(&x_new, &grads_new, &what), grad_of(&x_ref, &grads_ref, &what), &what);
        }
    }

    #[test]
    fn nan_wins_its_window_and_ties_go_to_the_first_value() {
        let device = Device::flex();
        let m = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let x = Tensor::<4>::from_data([[[[1.0, f32::NAN, 3.0, 3.0], [2.0, 0.0, 3.0, 1.0]]]], &device);
        let out = max_pool2d(&m, x).into_data().try_into_vec::<f32>().expect("f32");
        assert!(out[0].is_nan() && out[1] == 3.0, "{out:?}");
        let tiles = Tiles { shape: [1, 1, 2, 4], k: 2, out: [1, 2] };
        let (_, argmax) = tiles.pool(&[1.0, f32::NAN, 3.0, 3.0, 2.0, 0.0, 3.0, 1.0]);
        assert_eq!(argmax, vec![1, 0]);
    }

    #[test]
    fn bf16_pooling_is_left_to_burn() {
        let device = Device::flex().autodiff();
        let m = MaxPool2dConfig::new([2, 2]).with_strides([2, 2]).init();
        let x =
            Tensor::<4>::random([2, 3, 4, 4], normal(), &device).cast(burn::tensor::FloatDType::BF16).require_grad();
        let (expected, actual) = (m.forward(x.clone()), max_pool2d(&m, x.clone()));
        assert_eq!(actual.dtype(), DType::BF16);
        let diff = (actual.clone() - expected).abs().max().cast(burn::tensor::FloatDType::F32).into_scalar::<f32>();
        assert_eq!(diff, 0.0);
        let grads = actual.sum().backward();
        assert!(x.grad(&grads).is_some(), "bf16 input gradient");
    }
}
