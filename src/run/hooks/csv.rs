//! `metrics.csv`, as Lightning's CSV logger writes it: a row every `log_every` steps (epoch, step,
//! learning rate and the loss read at that step; the other cells empty), so an edit's effect shows
//! on the curve from the next logged step, and a row per epoch (epoch, step, learning rate, mean
//! train loss, throughput and the validation metrics). Epoch rows are those with a
//! `samples_per_s`. On resume, rows of epochs after the saved state are dropped first, so an epoch
//! logged just before a crash is not logged twice.

use super::{Control, EpochEnd, Hook, StepEnd};
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

impl Csv {
    /// The row of a logged step.
    pub fn step_row(&self, s: &StepEnd) -> Vec<String> {
        let fixed = [(s.epoch + 1).to_string(), s.step.to_string(), format!("{:e}", s.lr), format!("{:.6}", s.loss)];
        fixed.into_iter().chain(std::iter::repeat_n(String::new(), 1 + self.metrics.len())).collect()
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

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        if s.step.is_multiple_of(s.live.log_every.max(1)) {
            let path = self.run.path.join("metrics.csv");
            self.run.append_metrics(&self.header(), &self.step_row(s)).map_err(RunError::write(path))?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let path = self.run.path.join("metrics.csv");
        self.run.append_metrics(&self.header(), &self.row(end)).map_err(RunError::write(path))?;
        Ok(Control::Continue)
    }
}
