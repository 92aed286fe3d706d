//! The parts of a training step that keep state across batches: gradient accumulation and the
//! loss meter. `fit::Fit::train_step` uses them; data parallelism would be another step with
//! the same shape (split the batch, average the gradients, one update).

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
