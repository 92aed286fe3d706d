//! [`WatchHook`]: applies checked edits to a running training, at step and epoch boundaries.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::Receiver;

use serde_json::json;

use super::diff::{self, Change, When};
use super::log::{self, EditLog};
use super::{Candidate, Checked};
use crate::ir::{ModelGraph, TrainSpec};
use crate::run::hooks::progress::print_above;
use crate::run::hooks::{Control, EpochEnd, Hook, Rebuilt, StepEnd};
use crate::run::live::{self, SharedLive};
use crate::run::{RunError, State};

/// The version in force.
pub struct Applied {
    /// Its number: `specs/<n>.json`.
    pub n: usize,
    pub spec: TrainSpec,
    pub graph: ModelGraph,
    pub hash: String,
}

pub struct WatchHook {
    pub rx: Receiver<Candidate>,
    pub live: SharedLive,
    pub applied: Applied,
    pub log: EditLog,
    /// The watched file and the run directory, for the restart hint.
    pub file: PathBuf,
    pub run: PathBuf,
    step: usize,
    epoch: usize,
    /// Applied changes that take effect when the next epoch starts, by path.
    next_epoch: Vec<String>,
}

impl WatchHook {
    pub fn new(rx: Receiver<Candidate>, live: SharedLive, applied: Applied, file: PathBuf, run: PathBuf) -> Self {
        WatchHook { rx, live, applied, log: EditLog::new(&run), file, run, step: 0, epoch: 0, next_epoch: Vec::new() }
    }

    /// Takes every checked save that arrived since the last call.
    fn poll(&mut self) -> Result<(), RunError> {
        while let Ok(candidate) = self.rx.try_recv() {
            self.consider(candidate)?;
        }
        Ok(())
    }

    fn entry(&self, status: &str, c: &Candidate, changes: &[Change]) -> serde_json::Value {
        json!({
            "step": self.step,
            "epoch": self.epoch + 1,
            "time": log::now(),
            "status": status,
            "hash": c.hash,
            "changes": changes,
            "check_ms": c.check_ms,
            "latency_ms": c.saved_at.elapsed().as_secs_f64() * 1e3,
        })
    }

    fn write(&self, entry: serde_json::Value) -> Result<(), RunError> {
        self.log.append(&entry).map_err(RunError::write(self.log.dir.join("edits.jsonl")))
    }

    fn consider(&mut self, c: Candidate) -> Result<(), RunError> {
        if c.hash == self.applied.hash {
            let n = self.applied.n;
            print_above(&format!("step {}: saved; back to the spec in force (specs/{n}.json)", self.step));
            return Ok(());
        }
        let (spec, graph) = match &c.checked {
            Checked::Bad { report, errors } => {
                print_above(report.trim_end());
                print_above(&format!(
                    "step {}: {} has {errors} error(s); the run continues on the last good spec",
                    self.step,
                    self.file.display()
                ));
                let mut entry = self.entry("rejected", &c, &[]);
                entry["errors"] = json!(errors);
                return self.write(entry);
            }
            Checked::Good { spec, graph } => (spec, graph),
        };
        let mut changes = diff::spec_changes(&self.applied.spec, spec);
        changes.extend(diff::graph_changes(&self.applied.graph, graph));
        for change in &changes {
            print_above(&format!("step {}: {}", self.step, change.line()));
        }
        if changes.iter().any(|c| c.when == When::Restart) {
            print_above(&format!(
                "step {}: not applied (nothing of this save is): restart from the last checkpoint with \
                 `trainc watch {} --resume {}`",
                self.step,
                self.file.display(),
                self.run.display()
            ));
            return self.write(self.entry("needs_restart", &c, &changes));
        }
        if changes.is_empty() {
            print_above(&format!("step {}: saved; nothing that training uses changed", self.step));
        }
        self.apply(spec, graph, &changes);
        let epochal = changes.iter().filter(|c| c.when == When::NextEpoch).map(|c| c.path.clone());
        self.next_epoch.extend(epochal);
        let n = self.applied.n + 1;
        self.log.save_spec(n, spec, &c.sources).map_err(RunError::write(self.log.dir.join("specs")))?;
        self.applied = Applied { n, spec: (**spec).clone(), graph: (**graph).clone(), hash: c.hash.clone() };
        let mut entry = self.entry("applied", &c, &changes);
        entry["spec"] = json!(format!("specs/{n}.json"));
        self.write(entry)
    }

    /// Swaps the live settings; bumps the revisions that make the loop build a new optimizer or
    /// rebuild the model.
    fn apply(&self, spec: &TrainSpec, graph: &ModelGraph, changes: &[Change]) {
        let kind = changes.iter().any(|c| c.when == When::NewOptimizer);
        let optimizer = changes.iter().any(|c| c.path.starts_with("optimizer") || c.path.starts_with("clip_grad"));
        let rebuild = changes.iter().any(|c| c.when == When::Rebuild);
        live::update(&self.live, |old| {
            let mut new = old.replaced(spec);
            if kind {
                new.optimizer_kind_rev += 1;
            } else if optimizer {
                new.optimizer_rev += 1;
            }
            if rebuild {
                new.graph = Some(Arc::new(graph.clone()));
                new.graph_rev += 1;
            }
            new
        });
    }
}

impl Hook for WatchHook {
    fn name(&self) -> &'static str {
        "watch"
    }

    fn on_train_start(&mut self, state: &State) -> Result<(), RunError> {
        (self.step, self.epoch) = (state.step, state.epochs_done);
        Ok(())
    }

    /// Says when epoch-level changes took effect: the loop read them as this epoch started.
    fn on_epoch_start(&mut self, epoch: usize, _batches: usize, _live: &crate::run::Live) {
        self.epoch = epoch;
        if self.next_epoch.is_empty() {
            return;
        }
        let paths = std::mem::take(&mut self.next_epoch);
        print_above(&format!("step {}: epoch {} starts with {}", self.step, epoch + 1, paths.join(", ")));
        let entry =
            json!({"step": self.step, "epoch": epoch + 1, "time": log::now(), "status": "in_effect", "paths": paths});
        if let Err(e) = self.write(entry) {
            print_above(&format!("warning: {e}"));
        }
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        (self.step, self.epoch) = (s.step, s.epoch);
        self.poll()
    }

    /// Edits saved during validation apply before the next epoch (or end the run, if `epochs`
    /// went down).
    fn on_epoch_end(&mut self, _end: &EpochEnd) -> Result<Control, RunError> {
        self.poll()?;
        Ok(Control::Continue)
    }

    fn on_rebuild(&mut self, r: &Rebuilt) -> Result<(), RunError> {
        let t = r.report;
        print_above(&format!(
            "step {}: model `{}` rebuilt: {} weight tensor(s) copied, {} newly initialised, {} dropped \
             (weights before: {})",
            r.step,
            r.graph.name,
            t.copied.len(),
            t.fresh.len(),
            t.dropped.len(),
            r.saved.display()
        ));
        let entry = json!({
            "step": r.step,
            "epoch": r.epoch,
            "time": log::now(),
            "status": "rebuilt",
            "copied": t.copied,
            "fresh": t.fresh,
            "dropped": t.dropped,
        });
        self.write(entry)
    }
}
