//! Checkpoints: the best `keep` epochs by the monitored value (`best-epoch<N>.bpk`, evaluated
//! weights) and, every epoch, the last weights with the optimizer state (`last.bpk`,
//! `optimizer.bpk`) for `--resume`. Every file is written to a temporary name and renamed, so a
//! crash never leaves half a checkpoint.

use std::path::{Path, PathBuf};

use burn::module::Module;
use burn::optim::ModuleOptimizer;
use serde::{Deserialize, Serialize};

use super::{Control, EpochEnd, Hook};
use crate::exec::Net;
use crate::ir::Mode;
use crate::run::RunError;

/// A kept checkpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Kept {
    pub score: f64,
    pub epoch: usize,
    pub file: String,
}

/// What to do with the files after an epoch's score was offered.
#[derive(Debug, Default, PartialEq)]
pub struct Decision {
    /// Save the evaluated weights under this name.
    pub save: Option<String>,
    /// Delete these files: they fell out of the best `keep`.
    pub remove: Vec<String>,
}

/// The best-k decision, without any file: feed it scores, read what to save and delete.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct BestK {
    /// Best first.
    pub kept: Vec<Kept>,
}

fn better(mode: Mode, a: f64, b: f64) -> bool {
    match mode {
        Mode::Max => a > b,
        Mode::Min => a < b,
    }
}

impl BestK {
    pub fn offer(&mut self, score: f64, epoch: usize, keep: usize, mode: Mode) -> Decision {
        let qualifies = self.kept.len() < keep || self.kept.iter().any(|k| better(mode, score, k.score));
        if !qualifies {
            return Decision::default();
        }
        let file = format!("best-epoch{epoch}.bpk");
        self.kept.push(Kept { score, epoch, file: file.clone() });
        // Stable: among equal scores the earlier epoch stays ahead.
        self.kept.sort_by(|a, b| {
            if better(mode, a.score, b.score) {
                std::cmp::Ordering::Less
            } else if better(mode, b.score, a.score) {
                std::cmp::Ordering::Greater
            } else {
                std::cmp::Ordering::Equal
            }
        });
        let remove = self.kept.split_off(keep.min(self.kept.len())).into_iter().map(|k| k.file).collect();
        Decision { save: Some(file), remove }
    }
}

/// Saves a network atomically (temporary file, then rename).
pub fn save_net(net: &Net, path: &Path) -> Result<(), RunError> {
    let tmp = path.with_extension("bpk.tmp");
    net.clone().save_file(&tmp).map_err(|e| RunError::Save { path: path.to_path_buf(), message: e.to_string() })?;
    std::fs::rename(&tmp, path).map_err(RunError::write(path))
}

/// Saves the optimizer state atomically.
fn save_optimizer(optimizer: &ModuleOptimizer, path: &Path) -> Result<(), RunError> {
    let tmp = path.with_extension("tmp.bpk");
    optimizer.save(&tmp).map_err(|e| RunError::Save { path: path.to_path_buf(), message: e.to_string() })?;
    std::fs::rename(&tmp, path).map_err(RunError::write(path))
}

/// Saves `last.bpk` (the trained weights) and `optimizer.bpk`, what `--resume` loads.
pub fn save_last(dir: &Path, net: &Net, optimizer: &ModuleOptimizer) -> Result<(), RunError> {
    save_net(&net.valid(), &dir.join("last.bpk"))?;
    save_optimizer(optimizer, &dir.join("optimizer.bpk"))
}

/// Loads `last.bpk` and `optimizer.bpk` of a run's checkpoint folder, to resume.
pub fn load_last(dir: &Path, net: Net, optimizer: ModuleOptimizer) -> Result<(Net, ModuleOptimizer), RunError> {
    let last = dir.join("last.bpk");
    let net = net.try_load_file(&last).map_err(|e| RunError::Checkpoint { path: last, message: e.to_string() })?;
    let path = dir.join("optimizer.bpk");
    let optimizer =
        optimizer.load(&path).map_err(|e| RunError::Checkpoint { path: path.clone(), message: e.to_string() })?;
    Ok((net, optimizer))
}

/// The checkpoint keys that were loaded, and those that kept their fresh initialisation.
pub type LoadedKeys = (Vec<String>, Vec<String>);

/// Like [`load_last`], but a `last.bpk` of another model (a watched run killed between a model
/// edit and the epoch boundary that would have rebuilt it) warm-starts the model instead of
/// failing: every weight whose key and shape match is loaded, the others keep their fresh
/// initialisation. Returns the keys loaded and not loaded in that case.
pub fn load_last_warm(
    dir: &Path,
    net: Net,
    optimizer: ModuleOptimizer,
) -> Result<(Net, ModuleOptimizer, Option<LoadedKeys>), RunError> {
    let last = dir.join("last.bpk");
    let fail = |e: burn::store::RecordError| RunError::Checkpoint { path: last.clone(), message: e.to_string() };
    // Taken first: a clone shares BatchNorm running statistics, which a failed load may already
    // have replaced.
    let before = crate::exec::transplant::values(&net);
    if let Ok((net, optimizer)) = load_last(dir, net.clone(), optimizer.clone()) {
        return Ok((net, optimizer, None));
    }
    let record = burn::store::ModuleRecord::load(&last).map_err(fail)?;
    let net = net.try_load_record(record.allow_partial(true).allow_unused(true).validate(false)).map_err(fail)?;
    // A loaded tensor has the saved values; a fresh one keeps its initialisation.
    let (loaded, fresh) =
        crate::exec::transplant::values(&net).into_iter().partition(|(k, v)| before.get(k) != Some(v));
    let keys = |m: std::collections::BTreeMap<String, Vec<u8>>| m.into_keys().collect::<Vec<_>>();
    let path = dir.join("optimizer.bpk");
    let optimizer = optimizer.load(&path).map_err(|e| RunError::Checkpoint { path, message: e.to_string() })?;
    Ok((net, optimizer, Some((keys(loaded), keys(fresh)))))
}

/// The checkpoint hook. `keep` and `monitor` are read from the live settings every epoch.
pub struct Checkpoints {
    pub dir: PathBuf,
    pub best: BestK,
}

impl Checkpoints {
    pub fn new(dir: PathBuf) -> Checkpoints {
        Checkpoints { dir, best: BestK::default() }
    }

    fn save_best(&mut self, end: &EpochEnd) -> Result<(), RunError> {
        let spec = &end.live.spec.checkpoint;
        let Some(score) = end.metrics.get(&spec.monitor.to_string()).copied() else { return Ok(()) };
        let decision = self.best.offer(score, end.epoch, spec.keep, spec.mode);
        if let Some(name) = &decision.save {
            save_net(end.eval_net, &self.dir.join(name))?;
        }
        for old in decision.remove {
            // A file already gone is what we wanted.
            let _ = std::fs::remove_file(self.dir.join(old));
        }
        Ok(())
    }
}

impl Hook for Checkpoints {
    fn name(&self) -> &'static str {
        "checkpoint"
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.save_best(end)?;
        save_last(&self.dir, end.net, end.optimizer)?;
        Ok(Control::Continue)
    }

    fn state(&self) -> Option<serde_json::Value> {
        super::save_state(&self.best)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), RunError> {
        self.best = super::load_state(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(b: &BestK) -> Vec<&str> {
        b.kept.iter().map(|k| k.file.as_str()).collect()
    }

    #[test]
    fn keeps_the_best_k_and_removes_the_one_that_falls_out() {
        let mut b = BestK::default();
        assert_eq!(b.offer(0.5, 1, 2, Mode::Max).save.as_deref(), Some("best-epoch1.bpk"));
        assert_eq!(b.offer(0.7, 2, 2, Mode::Max).remove, Vec::<String>::new());
        let d = b.offer(0.6, 3, 2, Mode::Max);
        assert_eq!(d.save.as_deref(), Some("best-epoch3.bpk"));
        assert_eq!(d.remove, vec!["best-epoch1.bpk".to_string()]);
        assert_eq!(files(&b), ["best-epoch2.bpk", "best-epoch3.bpk"]);
    }

    #[test]
    fn a_worse_score_saves_nothing() {
        let mut b = BestK::default();
        b.offer(0.1, 1, 1, Mode::Min);
        assert_eq!(b.offer(0.2, 2, 1, Mode::Min), Decision::default());
        let d = b.offer(0.05, 3, 1, Mode::Min);
        assert_eq!((d.save.as_deref(), d.remove), (Some("best-epoch3.bpk"), vec!["best-epoch1.bpk".to_string()]));
    }

    #[test]
    fn a_smaller_keep_drops_the_surplus_at_the_next_offer() {
        let mut b = BestK::default();
        for (e, s) in [(1, 0.1), (2, 0.2), (3, 0.3)] {
            b.offer(s, e, 3, Mode::Max);
        }
        let d = b.offer(0.4, 4, 1, Mode::Max);
        assert_eq!(d.remove.len(), 3);
        assert_eq!(files(&b), ["best-epoch4.bpk"]);
    }

    #[test]
    fn state_survives_a_round_trip() {
        let mut hook = Checkpoints::new(PathBuf::from("unused"));
        hook.best.offer(0.9, 7, 3, Mode::Max);
        let saved = hook.state().expect("state");
        let mut again = Checkpoints::new(PathBuf::from("unused"));
        again.restore(&saved).expect("restore");
        assert_eq!(again.best.kept, hook.best.kept);
    }
}
