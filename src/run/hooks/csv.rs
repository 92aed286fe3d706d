//! `metrics.csv`: one row per epoch (epoch, step, learning rate, train loss, throughput and the
//! validation metrics). On resume, rows of epochs after the saved state are dropped first, so an
//! epoch logged just before a crash is not logged twice.

use super::{Control, EpochEnd, Hook};
use crate::run::RunError;
use crate::run::rundir::RunDir;

pub struct Csv {
    pub run: RunDir,
    /// The metric columns after the fixed ones (`val.loss`, `val.accuracy`, …).
    pub metrics: Vec<String>,
}

impl Csv {
    fn header(&self) -> Vec<String> {
        ["epoch", "step", "lr", "train_loss", "samples_per_s"]
            .iter()
            .map(|s| s.to_string())
            .chain(self.metrics.iter().cloned())
            .collect()
    }

    /// The row of an epoch; a metric the epoch did not produce is an empty cell.
    pub fn row(&self, end: &EpochEnd) -> Vec<String> {
        let train_loss = end.metrics.get("train.loss").copied().unwrap_or(f64::NAN);
        [
            end.epoch.to_string(),
            end.step.to_string(),
            format!("{:e}", end.lr),
            format!("{train_loss:.6}"),
            format!("{:.1}", end.samples as f64 / end.seconds),
        ]
        .into_iter()
        .chain(self.metrics.iter().map(|c| end.metrics.get(c).map_or(String::new(), |v| format!("{v:.6}"))))
        .collect()
    }
}

impl Hook for Csv {
    fn name(&self) -> &'static str {
        "csv"
    }

    fn on_train_start(&mut self, state: &crate::run::State) -> Result<(), RunError> {
        if state.epochs_done > 0 {
            let path = self.run.path.join("metrics.csv");
            self.run.truncate_metrics(state.epochs_done).map_err(RunError::write(path))?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let path = self.run.path.join("metrics.csv");
        self.run.append_metrics(&self.header(), &self.row(end)).map_err(RunError::write(path))?;
        Ok(Control::Continue)
    }
}
