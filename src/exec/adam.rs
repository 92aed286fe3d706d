//! Adam and AdamW with the update fused: one parallel pass per parameter on burn-flex, in-place
//! libtorch ops on LibTorch.
//!
//! # Why
//!
//! burn's `Adam` and `AdamW` update each parameter through about fifteen tensor ops (moments,
//! bias corrections, square root, division, decay, subtraction), each a pass over the parameter
//! that writes a new buffer. For the Fashion-MNIST CNN's 1.2 M parameters that is ~150 MB of
//! memory traffic a step, most of it on one thread. On CUDA each op is also a kernel launch: a
//! ResNet-18's 62 parameters cost ~900 launches a step, where PyTorch's `_foreach` or fused AdamW
//! takes a handful.
//!
//! # What
//!
//! [`FusedAdamW`] and [`FusedAdam`] ([`Fused`]) are burn optimizers whose step updates the
//! parameter and both moments in place:
//!
//! - on f32 Flex tensors, in one parallel pass, with burn's arithmetic in burn's order (so
//!   results match burn's to float rounding; `tests` below);
//! - on contiguous f32 LibTorch tensors on the CPU (`--features tch`), in the same parallel
//!   pass over libtorch's memory: eight libtorch passes there cost ~4 % of a Fashion-MNIST
//!   step (`perf`, 2026-12-02), each waking libtorch's OpenMP threads;
//! - on other f32 LibTorch tensors (CUDA), in eight in-place libtorch ops ([`torch`]). tch 0.22
//!   wraps neither `_fused_adamw_` nor the `_foreach` ops, so this is as close to PyTorch's
//!   fused step as its API reaches.
//!
//! They keep burn's state types (`AdamWState`, `AdamState`), so checkpoints and resumed runs read
//! the same records. Anything else (another backend, another float type, AMSGrad or cautious
//! weight decay, which trainc does not configure) takes burn's own step.

use burn::backend::{DispatchTensorKind, Flex, TensorMetadata};
use burn::optim::{Adam, AdamState, AdamW, AdamWState, AdaptiveMomentumState, LearningRate, Optimizer};
use burn::tensor::{DType, Device, Tensor, TensorData};
use rayon::prelude::*;

use super::conv::{FlexTensor, f32_data};
use super::simd;

/// The moments' hyper-parameters and the weight decay.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Hyper {
    pub beta_1: f32,
    pub beta_2: f32,
    pub epsilon: f32,
    pub decay: Decay,
}

/// How the weight decay enters.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Decay {
    /// AdamW's: the parameter shrinks by `lr · decay` before the update.
    Decoupled(f32),
    /// Adam's (L2): `decay · parameter` is added to the gradient; `None` for none.
    L2(Option<f32>),
}

/// burn's `Adam` or `AdamW` (`O`), fused on Flex.
#[derive(Clone)]
pub struct Fused<O> {
    pub fallback: O,
    pub hyper: Hyper,
}

/// burn's `AdamW`, fused on Flex.
pub type FusedAdamW = Fused<AdamW>;

/// burn's `Adam`, fused on Flex.
pub type FusedAdam = Fused<Adam>;

/// A burn optimizer whose state is its adaptive momentum.
pub trait Momentum: Optimizer {
    fn wrap<const D: usize>(momentum: AdaptiveMomentumState<D>) -> Self::State<D>;
    fn unwrap<const D: usize>(state: Self::State<D>) -> AdaptiveMomentumState<D>;
}

impl Momentum for AdamW {
    fn wrap<const D: usize>(momentum: AdaptiveMomentumState<D>) -> AdamWState<D> {
        AdamWState::new(momentum)
    }

    fn unwrap<const D: usize>(state: AdamWState<D>) -> AdaptiveMomentumState<D> {
        state.momentum
    }
}

impl Momentum for Adam {
    fn wrap<const D: usize>(momentum: AdaptiveMomentumState<D>) -> AdamState<D> {
        AdamState::new(momentum)
    }

    fn unwrap<const D: usize>(state: AdamState<D>) -> AdaptiveMomentumState<D> {
        state.momentum
    }
}

impl<O: Momentum> Optimizer for Fused<O> {
    type State<const D: usize> = O::State<D>;

    fn step<const D: usize>(
        &self,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        state: Option<Self::State<D>>,
    ) -> (Tensor<D>, Option<Self::State<D>>) {
        let momentum = state.map(O::unwrap);
        let (tensor, momentum) = match kernel(&tensor, &grad, momentum.as_ref()) {
            Some(Kernel::Flex) => fused_step(&self.hyper, lr, tensor, grad, momentum),
            #[cfg(feature = "tch")]
            Some(Kernel::Torch) => torch::step(&self.hyper, lr, tensor, grad, momentum),
            None => return self.fallback.step(lr, tensor, grad, momentum.map(O::wrap)),
        };
        (tensor, Some(O::wrap(momentum)))
    }

    fn to_device<const D: usize>(state: Self::State<D>, device: &Device) -> Self::State<D> {
        O::to_device(state, device)
    }
}

/// Where the fused step runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kernel {
    /// One parallel pass over the values ([`Step::run`]).
    Flex,
    /// Eight in-place libtorch ops, on the CPU or CUDA ([`torch`]).
    #[cfg(feature = "tch")]
    Torch,
}

/// The kernel for these tensors: all plain (not autodiff) f32 tensors of one backend, and no
/// AMSGrad maximum to keep; `None` takes burn's own step.
fn kernel<const D: usize>(
    tensor: &Tensor<D>,
    grad: &Tensor<D>,
    momentum: Option<&AdaptiveMomentumState<D>>,
) -> Option<Kernel> {
    if momentum.is_some_and(|m| m.max_moment_2.is_some()) {
        return None;
    }
    let all = |on: fn(&DispatchTensorKind) -> bool| {
        let each = |t: &Tensor<D>| t.dtype() == DType::F32 && on(&t.clone().into_dispatch().kind);
        each(tensor) && each(grad) && momentum.is_none_or(|m| each(&m.moment_1) && each(&m.moment_2))
    };
    if all(|kind| matches!(kind, DispatchTensorKind::Flex(_))) {
        return Some(Kernel::Flex);
    }
    #[cfg(feature = "tch")]
    if all(|kind| matches!(kind, DispatchTensorKind::LibTorch(_))) {
        return Some(Kernel::Torch);
    }
    None
}

/// One step of Adam(W) on Flex tensors ([`Kernel::Flex`]).
fn fused_step<const D: usize>(
    hyper: &Hyper,
    lr: LearningRate,
    tensor: Tensor<D>,
    grad: Tensor<D>,
    momentum: Option<AdaptiveMomentumState<D>>,
) -> (Tensor<D>, AdaptiveMomentumState<D>) {
    let (time, moment_1, moment_2) = match momentum {
        Some(m) => (m.time + 1, m.moment_1, m.moment_2),
        None => (1, tensor.zeros_like(), tensor.zeros_like()),
    };
    let flex = |t: Tensor<D>| unique(t.try_into_primitive::<Flex>().expect("`kernel` checked a Flex tensor"));
    let (mut p, g, mut m, mut v) = (flex(tensor), flex(grad), flex(moment_1), flex(moment_2));
    let step = Step::new(hyper, lr, time);
    {
        let g = f32_data(&g);
        let [p, m, v] = [&mut p, &mut m, &mut v].map(|t| t.try_storage_mut::<f32>().expect("a unique buffer"));
        step.run(p, m, v, &g);
    }
    let back = Tensor::<D>::from_primitive::<Flex>;
    (back(p), AdaptiveMomentumState::new(time, back(m), back(v)))
}

/// `t` with a buffer of its own, in row-major order and covering exactly its values, so that
/// it can be updated in place.
fn unique(mut t: FlexTensor) -> FlexTensor {
    let whole = t.as_slice::<f32>().is_some_and(|s| s.len() * 4 == t.bytes().len());
    if whole && t.try_storage_mut::<f32>().is_some() {
        return t;
    }
    FlexTensor::from_data(TensorData::new(f32_data(&t).into_owned(), t.shape().to_vec()))
}

/// The scalars of one step, as burn computes them.
#[derive(Debug, Clone, Copy)]
struct Step {
    beta_1: f32,
    beta_2: f32,
    factor_1: f32,
    factor_2: f32,
    correction_1: f32,
    correction_2: f32,
    epsilon: f32,
    lr: f32,
    /// AdamW: the parameter's factor before the update (`1 − lr·decay`), when there is decay.
    shrink: Option<f32>,
    /// Adam: the L2 factor added to the gradient.
    l2: Option<f32>,
}

/// Values per parallel task: small parameters (biases) are updated on the calling thread.
const CHUNK: usize = 1 << 15;

impl Step {
    fn new(hyper: &Hyper, lr: LearningRate, time: usize) -> Step {
        let decay_rate = match hyper.decay {
            Decay::Decoupled(decay) => lr * decay as f64,
            Decay::L2(_) => 0.0,
        };
        Step {
            beta_1: hyper.beta_1,
            beta_2: hyper.beta_2,
            factor_1: 1.0 - hyper.beta_1,
            factor_2: 1.0 - hyper.beta_2,
            correction_1: 1f32 - hyper.beta_1.powi(time as i32),
            correction_2: 1f32 - hyper.beta_2.powi(time as i32),
            epsilon: hyper.epsilon,
            lr: lr as f32,
            shrink: (decay_rate != 0.0).then_some((1.0 - decay_rate) as f32),
            l2: match hyper.decay {
                Decay::L2(decay) => decay,
                Decay::Decoupled(_) => None,
            },
        }
    }

    fn run(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        let chunk = |(((p, m), v), g)| {
            simd::dispatch(
                #[inline(always)]
                || self.run_chunk(p, m, v, g),
            )
        };
        if p.len() <= CHUNK {
            return chunk((((p, m), v), g));
        }
        let chunks = p.par_chunks_mut(CHUNK).zip(m.par_chunks_mut(CHUNK)).zip(v.par_chunks_mut(CHUNK));
        chunks.zip(g.par_chunks(CHUNK)).for_each(chunk);
    }

    #[inline(always)]
    fn run_chunk(&self, p: &mut [f32], m: &mut [f32], v: &mut [f32], g: &[f32]) {
        for (((p, m), v), &g) in p.iter_mut().zip(m).zip(v).zip(g) {
            let g = match self.l2 {
                Some(decay) => *p * decay + g,
                None => g,
            };
            *m = *m * self.beta_1 + g * self.factor_1;
            *v = *v * self.beta_2 + g * g * self.factor_2;
            let delta = (*m / self.correction_1) / ((*v / self.correction_2).sqrt() + self.epsilon);
            let kept = match self.shrink {
                Some(shrink) => *p * shrink,
                None => *p,
            };
            *p = kept - delta * self.lr;
        }
    }
}

/// The step on LibTorch tensors, as libtorch ops that update the parameter and both moments in
/// place: eight kernel launches a parameter (on CUDA) or passes (on the CPU), where burn's
/// `AdamW` takes about fifteen that each allocate a new tensor. The same code runs on both
/// devices, so the CPU tests below check what a GPU runs.
#[cfg(feature = "tch")]
mod torch {
    #![allow(deprecated)] // burn-tch is deprecated upstream in favour of CubeCL backends.

    use burn::backend::LibTorch;
    use burn::backend::libtorch::TchTensor;

    use super::super::tch_ops::{cpu_f32, cpu_f32_mut, libtorch_kernels_kept};
    use super::*;

    pub(super) fn step<const D: usize>(
        hyper: &Hyper,
        lr: LearningRate,
        tensor: Tensor<D>,
        grad: Tensor<D>,
        momentum: Option<AdaptiveMomentumState<D>>,
    ) -> (Tensor<D>, AdaptiveMomentumState<D>) {
        let torch = |t: Tensor<D>| t.try_into_primitive::<LibTorch>().expect("`kernel` checked a LibTorch tensor");
        let (mut p, g) = (unique(torch(tensor)), torch(grad));
        let (time, mut m, mut v) = match momentum {
            Some(s) => (s.time + 1, unique(torch(s.moment_1)), unique(torch(s.moment_2))),
            None => (1, zeros_like(&p), zeros_like(&p)),
        };
        Step::new(hyper, lr, time).run_libtorch(&mut p.tensor, &mut m.tensor, &mut v.tensor, &g.tensor);
        let back = Tensor::<D>::from_primitive::<LibTorch>;
        (back(p), AdaptiveMomentumState::new(time, back(m), back(v)))
    }

    /// `t`, or a copy of it when its storage is shared (burn-tch's own rule for writing in place).
    fn unique(t: TchTensor) -> TchTensor {
        if t.can_mut() { t } else { TchTensor::new(t.tensor.copy()) }
    }

    fn zeros_like(t: &TchTensor) -> TchTensor {
        TchTensor::new(t.tensor.zeros_like())
    }

    impl Step {
        /// [`Step::run`] on libtorch's CPU memory when all four are contiguous f32 CPU tensors
        /// (`p`, `m` and `v` are unique: `unique` above), else [`Step::run_torch`].
        fn run_libtorch(&self, p: &mut tch::Tensor, m: &mut tch::Tensor, v: &mut tch::Tensor, g: &tch::Tensor) {
            if !libtorch_kernels_kept()
                && let (Some(g), Some(p), Some(m), Some(v)) =
                    (cpu_f32(g), cpu_f32_mut(p), cpu_f32_mut(m), cpu_f32_mut(v))
                && [p.len(), m.len(), v.len()] == [g.len(); 3]
            {
                return self.run(p, m, v, g);
            }
            self.run_torch(p, m, v, g)
        }

        /// [`Step::run`]'s update, to rounding (`lerp` for the moments' running averages).
        fn run_torch(&self, p: &mut tch::Tensor, m: &mut tch::Tensor, v: &mut tch::Tensor, g: &tch::Tensor) {
            tch::no_grad(|| {
                let g = match self.l2 {
                    Some(decay) => g + &*p * f64::from(decay),
                    None => g.shallow_clone(),
                };
                let _ = m.lerp_(&g, f64::from(self.factor_1));
                let _ = v.lerp_(&(&g * &g), f64::from(self.factor_2));
                if let Some(shrink) = self.shrink {
                    let _ = p.g_mul_scalar_(f64::from(shrink));
                }
                if self.lr == 0.0 {
                    return;
                }
                // p − lr · (m / c₁) / (√(v / c₂) + ε) as one `addcdiv_`: p + m / d with
                // d = −(c₁ / lr) · (√v / √c₂ + ε).
                let scale = -f64::from(self.correction_1) / f64::from(self.lr);
                let mut d = v.sqrt();
                let _ = d.g_mul_scalar_(scale / f64::from(self.correction_2).sqrt());
                let _ = d.g_add_scalar_(scale * f64::from(self.epsilon));
                let _ = p.addcdiv_(m, &d);
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::assert_close;
    use super::*;
    use burn::optim::decay::WeightDecayConfig;
    use burn::optim::{AdamConfig, AdamWConfig};
    use burn::tensor::Distribution;

    /// Runs `test` on each device with a fused step: Flex, and in a build with `tch` LibTorch's
    /// CPU twice, through trainc's pass and through the libtorch ops CUDA tensors take.
    #[allow(deprecated)] // burn-tch is deprecated upstream.
    fn each_path(test: impl Fn(&Device)) {
        test(&Device::flex());
        #[cfg(feature = "tch")]
        super::super::tch_ops::tests::both_paths(|| test(&Device::libtorch()));
    }

    /// Five steps from the same start, burn's optimizer against the fused one: the parameter and
    /// both moments after each, for a tensor larger than one chunk and a small one.
    fn check<O: Optimizer>(
        device: &Device,
        burn: impl Optimizer<State<2> = O::State<2>>,
        fused: O,
        moments: fn(&O::State<2>) -> [Tensor<2>; 2],
    ) {
        for shape in [[300, 200], [3, 5]] {
            let start = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), device);
            let (mut a, mut b) = (start.clone(), start);
            let (mut state_a, mut state_b) = (None, None);
            for step in 0..5 {
                let grad = Tensor::<2>::random(shape, Distribution::Normal(0.0, 1.0), device);
                // A zero learning rate (a warm-up's first step) in the middle.
                let lr = if step == 2 { 0.0 } else { 1e-2 };
                (a, state_a) = burn.step(lr, a, grad.clone(), state_a);
                (b, state_b) = fused.step(lr, b, grad, state_b);
                let what = format!("{shape:?} step {step}");
                assert_close(b.clone(), a.clone(), &format!("{what}: parameter"));
                let (ma, mb) = (moments(state_a.as_ref().expect("state")), moments(state_b.as_ref().expect("state")));
                for (i, (x, y)) in mb.into_iter().zip(ma).enumerate() {
                    assert_close(x, y, &format!("{what}: moment {}", i + 1));
                }
            }
        }
    }

    #[test]
    fn fused_adamw_matches_burn() {
        let config = AdamWConfig::new().with_weight_decay(0.05).with_epsilon(1e-8);
        let hyper = Hyper { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-8, decay: Decay::Decoupled(0.05) };
        each_path(|device| {
            let fused = FusedAdamW { fallback: config.build(), hyper };
            let moments = |s: &AdamWState<2>| [s.momentum.moment_1.clone(), s.momentum.moment_2.clone()];
            check(device, config.build(), fused, moments);
        });
    }

    #[test]
    fn fused_adam_matches_burn_with_and_without_l2() {
        for decay in [None, Some(0.01f32)] {
            let config = AdamConfig::new().with_weight_decay(decay.map(WeightDecayConfig::new));
            let hyper = Hyper { beta_1: 0.9, beta_2: 0.999, epsilon: 1e-5, decay: Decay::L2(decay) };
            each_path(|device| {
                let fused = FusedAdam { fallback: config.build(), hyper };
                let moments = |s: &AdamState<2>| [s.momentum.moment_1.clone(), s.momentum.moment_2.clone()];
                check(device, config.build(), fused, moments);
            });
        }
    }

    #[cfg(feature = "tch")]
    #[test]
    #[allow(deprecated)] // burn-tch is deprecated upstream.
    fn libtorch_tensors_take_the_torch_step() {
        let t = Tensor::<2>::ones([2, 2], &Device::libtorch());
        assert_eq!(kernel(&t, &t, None), Some(Kernel::Torch));
        let flex = Tensor::<2>::ones([2, 2], &Device::flex());
        assert_eq!(kernel(&t, &flex, None), None, "one backend for all four tensors");
    }

    #[test]
    fn tensors_off_flex_take_burns_step() {
        let device = Device::flex().autodiff();
        let t = Tensor::<2>::ones([2, 2], &device);
        assert_eq!(kernel(&t, &t, None), None, "an autodiff tensor is not a plain Flex tensor");
        let flex = Tensor::<2>::ones([2, 2], &Device::flex());
        assert_eq!(kernel(&flex, &flex, None), Some(Kernel::Flex));
        assert_eq!(kernel(&flex.clone().cast(burn::tensor::FloatDType::BF16), &flex, None), None, "bf16");
    }
}
