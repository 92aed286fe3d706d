//! [`Live`]: the settings a running training reads at every step, so `trainc watch` can replace
//! them between steps without restarting.
//!
//! `spec` is the whole `train` block in force. The loop reads from it at every step what may
//! change at a step (loss, accumulation, optimizer) and at every epoch start what may change at
//! an epoch (data pipeline, batch size, metrics). Changes that need more than a new value — a
//! new optimizer, a rebuilt model — are asked for by bumping a revision counter.

use std::sync::{Arc, RwLock};

use crate::exec::optim;
use crate::ir::{ModelGraph, TrainSpec};

/// The settings a running training may have replaced between steps: the `train` block in force
/// and the revisions of what cannot simply be read from it. Everything else (schedule, epochs,
/// `log_every`, early stopping, checkpoint settings) is read from `spec`, so there is one copy.
#[derive(Clone, Debug)]
pub struct Live {
    /// The `train` block in force.
    pub spec: Arc<TrainSpec>,
    /// Bumped when the optimizer's settings (or `clip_grad`) changed: the loop builds a new one
    /// at the next step and carries the state over.
    pub optimizer_rev: u64,
    /// Bumped when the optimizer's kind changed: the new one starts with fresh state.
    pub optimizer_kind_rev: u64,
    /// The model to rebuild into at the next epoch boundary, when `graph_rev` changed.
    pub graph: Option<Arc<ModelGraph>>,
    pub graph_rev: u64,
}

impl Live {
    pub fn from_spec(spec: &TrainSpec) -> Live {
        Live { spec: Arc::new(spec.clone()), optimizer_rev: 0, optimizer_kind_rev: 0, graph: None, graph_rev: 0 }
    }

    /// The settings of `spec`, keeping this one's revisions and pending model.
    pub fn replaced(&self, spec: &TrainSpec) -> Live {
        Live { spec: Arc::new(spec.clone()), ..self.clone() }
    }

    pub fn epochs(&self) -> usize {
        self.spec.epochs
    }

    pub fn log_every(&self) -> usize {
        self.spec.log_every.max(1)
    }

    /// The learning rate at `step` of a run of `per_epoch` steps an epoch, a `plateau` segment
    /// at `plateau` × the base (`run::plateau`). The total is taken from the current `epochs`,
    /// so a changed `epochs` bends the schedule from this step on.
    pub fn lr(&self, step: usize, per_epoch: usize, plateau: f64) -> f64 {
        let spec = &self.spec;
        let base = optim::base_lr(&spec.optimizer, &spec.schedule);
        optim::lr_at(&spec.schedule, base, step, (per_epoch * spec.epochs, per_epoch), plateau)
    }
}

/// The shared handle: the trainer reads a copy at every step, `watch` writes a new one.
pub type SharedLive = Arc<RwLock<Live>>;

/// A copy of the current settings; a writer that panicked leaves the last value it wrote.
pub fn read(live: &SharedLive) -> Live {
    live.read().map(|l| l.clone()).unwrap_or_else(|e| e.into_inner().clone())
}

/// Replaces the settings with what `f` makes of them.
pub fn update(live: &SharedLive, f: impl FnOnce(&Live) -> Live) {
    let mut guard = live.write().unwrap_or_else(|e| e.into_inner());
    *guard = f(&guard);
}
