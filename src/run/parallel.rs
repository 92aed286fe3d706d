//! Several devices in one process (`--device tch:cuda:0,1,2,3`): every batch is cut into one
//! slice per device (`Batch::split`), each device runs the forward and backward pass of its slice
//! on a replica of the weights in its own thread, and the gradients are summed onto the first
//! device, where the one optimizer step runs. The next step copies the updated weights to every
//! device again, so all replicas always start a step from the same weights (PyTorch's
//! `DataParallel` design; one process per GPU, through `crate::dist`, is the `DistributedDataParallel`
//! one, and the two combine: each rank splits its shard's batches over its devices).
//!
//! Decisions, written down because a user comparing with PyTorch will ask:
//! - Each slice's loss is weighted by its share of the batch's samples, so the summed gradient is
//!   the gradient of the whole batch's mean loss: the update one device makes with the same batch,
//!   up to float summation order and batch norm. (Segmentation losses that skip ignored pixels
//!   weigh slices by samples, not by counted pixels.)
//! - The gradients are summed onto the first device instead of going through burn's
//!   `MultiGradientsParams` + `ModuleOptimizer::step_multi`, which updates each parameter on
//!   another device: one `GradientsParams` on one device is what gradient accumulation, f16's
//!   loss scaler, gradient clipping and the average across processes (`dist::sync`) already take.
//! - Batch norm normalises each slice with its own statistics, as DDP does without
//!   `SyncBatchNorm` (synchronising them costs a cross-device exchange per layer in the forward
//!   pass, and per-device statistics are what DDP users' recipes were tuned with). The running
//!   statistics are averaged over the devices after every step (`Net::merge_running_stats`), so the
//!   evaluated model does not depend on which device saw which slice.

use burn::module::{Module, ModuleVisitor, Param};
use burn::optim::GradientsParams;
use burn::tensor::{Device, Tensor};

use super::RunError;
use super::step::LossScaler;
use crate::data::Batch;
use crate::exec::Net;
use crate::ir::TrainSpec;
use crate::task::TaskRunner;

/// The other devices of an in-process data-parallel run (the first one is `Trainer::device`).
#[derive(Clone, Default)]
pub struct Replicas {
    /// Plain (not autodiff) devices, in `--device` order after the first.
    pub devices: Vec<Device>,
}

/// One step's loss (on the first device, for the meter) and gradients (summed onto it).
pub(crate) struct Step {
    pub loss: Tensor<1>,
    pub grads: GradientsParams,
}

impl Replicas {
    pub fn is_empty(&self) -> bool {
        self.devices.is_empty()
    }

    /// The forward and backward pass of `batch` split over the first device (this thread, with
    /// `net`; `first` is its autodiff device) and the replicas (a thread each). f16's `scaler` multiplies every slice's loss before the
    /// backward pass.
    pub(crate) fn step(
        &self,
        task: &'static dyn TaskRunner,
        spec: &TrainSpec,
        net: &Net,
        batch: Batch,
        first: &Device,
        scaler: Option<&LossScaler>,
    ) -> Result<Step, RunError> {
        let total = batch.shape[0].max(1) as f32;
        let mut slices = batch.split(self.devices.len() + 1).into_iter();
        let own = slices.next().expect("split returns at least one slice");
        let results = std::thread::scope(|scope| {
            let others: Vec<_> = slices
                .zip(&self.devices)
                .map(|(slice, device)| {
                    let device = device.clone().autodiff();
                    // `fork` makes every trainable weight a new leaf of the autodiff graph, even on
                    // the same device (`flex,flex`): the replicas' backward passes never meet.
                    let replica = net.clone().fork(&device);
                    scope.spawn(move || slice_step(task, spec, &replica, slice, &device, total, scaler))
                })
                .collect();
            let mut results = vec![slice_step(task, spec, net, own, first, total, scaler)];
            results.extend(others.into_iter().map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e))));
            results
        });
        let mut sum = SumOnto { parts: Vec::new(), device: first.clone().inner(), out: GradientsParams::new() };
        let mut loss: Option<Tensor<1>> = None;
        for result in results {
            let (part_loss, grads) = result?;
            let part_loss = part_loss.to_device(first);
            loss = Some(loss.map_or(part_loss.clone(), |l| l + part_loss));
            sum.parts.push(grads);
        }
        net.visit(&mut sum);
        net.merge_running_stats();
        Ok(Step { loss: loss.expect("at least one slice"), grads: sum.out })
    }
}

/// One slice's loss, weighted by its share of the batch and detached, and its gradients.
fn slice_step(
    task: &'static dyn TaskRunner,
    spec: &TrainSpec,
    net: &Net,
    slice: Batch,
    device: &Device,
    total: f32,
    scaler: Option<&LossScaler>,
) -> Result<(Tensor<1>, GradientsParams), RunError> {
    let share = slice.shape[0] as f32 / total;
    let loss = task.train_loss(spec, net, slice, device)?.mul_scalar(share);
    let scaled = scaler.map_or_else(|| loss.clone(), |s| s.scale_loss(loss.clone()));
    let grads = GradientsParams::from_grads(scaled.backward(), net);
    Ok((loss.detach(), grads))
}

/// Sums each parameter's gradients from every slice onto one (plain) device.
struct SumOnto {
    parts: Vec<GradientsParams>,
    device: Device,
    out: GradientsParams,
}

impl ModuleVisitor for SumOnto {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        let device = &self.device;
        let sum = self
            .parts
            .iter_mut()
            .filter_map(|grads| grads.remove::<D>(param.id))
            .map(|g| g.to_device(device))
            .reduce(|a, b| a + b);
        if let Some(sum) = sum {
            self.out.register::<D>(param.id, sum);
        }
    }
}
