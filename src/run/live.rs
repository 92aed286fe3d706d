//! [`Live`]: the settings a running training reads at every step, so `trainc watch` can replace
//! them between steps without restarting.

use std::sync::{Arc, RwLock};

use crate::exec::optim;
use crate::ir::{CheckpointSpec, EarlyStopSpec, Schedule, TrainSpec};

/// The settings a running training may have replaced between steps.
#[derive(Clone, Debug)]
pub struct Live {
    pub schedule: Vec<Schedule>,
    pub base_lr: f64,
    pub epochs: usize,
    pub log_every: usize,
    pub early_stop: Option<EarlyStopSpec>,
    pub checkpoint: CheckpointSpec,
    /// Multiplies every augmentation probability.
    pub p_scale: f64,
}

impl Live {
    pub fn from_spec(spec: &TrainSpec) -> Live {
        Live {
            schedule: spec.schedule.clone(),
            base_lr: optim::base_lr(&spec.optimizer, &spec.schedule),
            epochs: spec.epochs,
            log_every: spec.log_every.max(1),
            early_stop: spec.early_stop.clone(),
            checkpoint: spec.checkpoint.clone(),
            p_scale: 1.0,
        }
    }

    /// The learning rate at `step` of a run of `per_epoch` steps an epoch. The total is taken from
    /// the current `epochs`, so a changed `epochs` bends the schedule from this step on.
    pub fn lr(&self, step: usize, per_epoch: usize) -> f64 {
        optim::lr_at(&self.schedule, self.base_lr, step, per_epoch * self.epochs, per_epoch)
    }
}

/// The shared handle: the trainer reads a copy at every step, `watch` writes a new one.
pub type SharedLive = Arc<RwLock<Live>>;

/// A copy of the current settings; a writer that panicked leaves the last value it wrote.
pub fn read(live: &SharedLive) -> Live {
    live.read().map(|l| l.clone()).unwrap_or_else(|e| e.into_inner().clone())
}
