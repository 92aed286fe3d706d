//! The parts of a training step that keep state across batches: gradient accumulation and the
//! loss meter. `fit::Fit::train_step` uses them; data parallelism would be another step with
//! the same shape (split the batch, average the gradients, one update).

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::{GradientsAccumulator, GradientsParams};
use burn::tensor::Tensor;

use super::RunError;
use crate::exec::Net;

/// Gradient accumulation over `accumulate` batches (the last batch of an epoch always steps).
pub struct Accumulate {
    pub every: usize,
    pending: usize,
    acc: GradientsAccumulator<Net>,
}

impl Accumulate {
    pub fn new(every: usize) -> Accumulate {
        Accumulate { every: every.max(1), pending: 0, acc: GradientsAccumulator::new() }
    }

    /// Adds a batch's gradients; returns the gradients to apply when it is time to step, with the
    /// number of batches they cover.
    pub fn add(&mut self, net: &Net, grads: GradientsParams, last_batch: bool) -> Option<(GradientsParams, usize)> {
        self.pending += 1;
        if self.every == 1 {
            self.pending = 0;
            return Some((grads, 1));
        }
        self.acc.accumulate(net, grads);
        if self.pending < self.every && !last_batch {
            return None;
        }
        Some((self.acc.grads(), std::mem::take(&mut self.pending)))
    }
}

/// The losses of an epoch. They stay on the device until read (see `Trainer::read_loss_every_step`):
/// on a GPU each read waits for the queue to drain.
#[derive(Default)]
pub struct LossMeter {
    unread: Option<Tensor<1>>,
    unread_n: usize,
    sum: f64,
    n: usize,
    /// The mean of the losses at the last read.
    pub last: f32,
}

impl LossMeter {
    pub fn add(&mut self, loss: Tensor<1>) {
        self.unread = Some(match self.unread.take() {
            Some(sum) => sum + loss,
            None => loss,
        });
        self.unread_n += 1;
    }

    /// Reads the pending losses back; a NaN or infinite one stops training.
    pub fn read(&mut self, step: usize, epoch: usize, lr: f64) -> Result<(), RunError> {
        let sum = self.unread.take().map_or(0.0, |u| u.into_scalar::<f32>());
        if !sum.is_finite() {
            return Err(RunError::NonFinite { value: sum, step, epoch: epoch + 1, lr });
        }
        self.sum += sum as f64;
        self.n += self.unread_n;
        self.last = sum / self.unread_n.max(1) as f32;
        self.unread_n = 0;
        Ok(())
    }

    pub fn mean(&self) -> f64 {
        self.sum / self.n.max(1) as f64
    }
}

/// Where in the run a step happens.
pub struct StepAt {
    pub step: usize,
    pub epoch: usize,
    pub lr: f64,
    /// Read the loss now (every step on CPUs; at log steps and the end of an epoch on GPUs).
    pub read_loss: bool,
    pub last_batch: bool,
}

/// f16's dynamic loss scaling, as PyTorch's `GradScaler`: the loss is multiplied by `scale`
/// before the backward pass so that small gradients survive f16's range, and the gradients are
/// divided by it before the update. A step whose gradients overflowed (an infinity or a NaN) is
/// skipped and the scale halved; after [`LossScaler::GROWTH_INTERVAL`] good steps in a row it
/// doubles. bf16 has f32's range and needs none of this.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LossScaler {
    pub scale: f32,
    /// Good steps since the scale last changed.
    good: usize,
    /// Steps skipped so far.
    pub skipped: usize,
}

impl Default for LossScaler {
    fn default() -> LossScaler {
        LossScaler { scale: LossScaler::INITIAL, good: 0, skipped: 0 }
    }
}

impl LossScaler {
    /// 2^16, PyTorch's starting scale.
    pub const INITIAL: f32 = 65536.0;
    pub const GROWTH_INTERVAL: usize = 2000;

    /// The loss the backward pass starts from.
    pub fn scale_loss(&self, loss: Tensor<1>) -> Tensor<1> {
        loss.mul_scalar(self.scale)
    }

    /// The decision after a step's gradients are known: whether to apply the step, with the
    /// scale for the next one.
    pub fn update(&mut self, finite: bool) -> bool {
        if !finite {
            self.scale = (self.scale / 2.0).max(f32::MIN_POSITIVE);
            self.good = 0;
            self.skipped += 1;
            return false;
        }
        self.good += 1;
        if self.good >= LossScaler::GROWTH_INTERVAL {
            self.scale = (self.scale * 2.0).min(f32::MAX / 2.0);
            self.good = 0;
        }
        true
    }

    /// The gradients divided by the scale, or `None` when one overflowed (the step is skipped).
    /// Reads one number back from the device.
    pub fn unscale<M: Module>(&mut self, module: &M, grads: GradientsParams) -> Option<GradientsParams> {
        let mut visitor = Unscale { grads, inverse: 1.0 / self.scale, poison: None };
        module.visit(&mut visitor);
        // `Σ 0·g` is 0 when every gradient is finite, NaN otherwise (0·∞ and 0·NaN are NaN).
        let finite = visitor.poison.is_none_or(|p| p.into_scalar::<f32>().is_finite());
        self.update(finite).then_some(visitor.grads)
    }
}

/// Divides every gradient by the scale and sums `0·g` over all of them.
struct Unscale {
    grads: GradientsParams,
    inverse: f32,
    poison: Option<Tensor<1>>,
}

impl ModuleVisitor for Unscale {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let Some(grad) = self.grads.remove::<D>(param.id) else { return };
        let zero = grad.clone().mul_scalar(0.0).sum();
        self.poison = Some(match self.poison.take() {
            Some(p) => p + zero,
            None => zero,
        });
        self.grads.register::<D>(param.id, grad.mul_scalar(self.inverse));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overflow_skips_the_step_and_halves_the_scale() {
        let mut s = LossScaler::default();
        assert!(s.update(true));
        assert!(!s.update(false));
        assert_eq!((s.scale, s.skipped), (LossScaler::INITIAL / 2.0, 1));
        // The count of good steps starts again after an overflow.
        for _ in 0..LossScaler::GROWTH_INTERVAL - 1 {
            assert!(s.update(true));
        }
        assert_eq!(s.scale, LossScaler::INITIAL / 2.0);
    }

    #[test]
    fn the_scale_doubles_after_2000_good_steps() {
        let mut s = LossScaler::default();
        for _ in 0..LossScaler::GROWTH_INTERVAL {
            assert!(s.update(true));
        }
        assert_eq!(s.scale, LossScaler::INITIAL * 2.0);
        for _ in 0..LossScaler::GROWTH_INTERVAL {
            s.update(true);
        }
        assert_eq!(s.scale, LossScaler::INITIAL * 4.0);
    }

    #[test]
    fn gradients_are_unscaled_and_an_infinite_one_is_caught() {
        use burn::nn::LinearConfig;
        use burn::tensor::Device;
        let device = Device::flex().autodiff();
        let layer = LinearConfig::new(3, 2).init(&device);
        let x = Tensor::<2>::from_floats([[1.0, -2.0, 0.5]], &device);
        let plain = GradientsParams::from_grads(layer.forward(x.clone()).sum().backward(), &layer);
        let mut s = LossScaler::default();
        let scaled = GradientsParams::from_grads(s.scale_loss(layer.forward(x).sum()).backward(), &layer);
        let unscaled = s.unscale(&layer, scaled).expect("finite gradients are applied");
        let (a, b) = (plain.get::<2>(layer.weight.id), unscaled.get::<2>(layer.weight.id));
        let (a, b) = (a.expect("a weight gradient"), b.expect("a weight gradient"));
        a.into_data().assert_approx_eq::<f32>(&b.into_data(), burn::tensor::Tolerance::default());

        let overflow = Tensor::<2>::from_floats([[f32::INFINITY, 1.0, 1.0]], &device);
        let grads = GradientsParams::from_grads(s.scale_loss(layer.forward(overflow).sum()).backward(), &layer);
        assert!(s.unscale(&layer, grads).is_none(), "an infinite gradient skips the step");
        assert_eq!((s.scale, s.skipped), (LossScaler::INITIAL / 2.0, 1));
    }
}
