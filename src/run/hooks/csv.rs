//! `metrics.csv`, as Lightning's CSV logger writes it: a row every `log_every` steps (epoch, step,
//! learning rate and the loss read at that step; the other cells empty), so an edit's effect shows
//! on the curve from the next logged step, and a row per epoch (epoch, step, learning rate, mean
//! train loss, throughput and the validation metrics). Epoch rows are those with a
//! `samples_per_s`. On resume, rows of epochs after the saved state are dropped first, so an epoch
//! logged just before a crash is not logged twice.

use super::{Control, EpochEnd, Hook, StepEnd};
use crate::run::RunError;
use crate::run::rundir::{RunDir, write_atomic};

/// The columns before the metrics.
const FIXED: [&str; 5] = ["epoch", "step", "lr", "train_loss", "samples_per_s"];

pub struct Csv {
    pub run: RunDir,
    /// The metric columns after the fixed ones (`val.loss`, `val.accuracy`, …).
    pub metrics: Vec<String>,
}

/// `text` under a new `header`, every earlier row padded with `added` empty cells.
fn widened(text: &str, header: &[String], added: usize) -> String {
    let pad = ",".repeat(added);
    let rows: Vec<String> = text.lines().skip(1).map(|l| format!("{l}{pad}\n")).collect();
    format!("{}\n{}", header.join(","), rows.concat())
}

impl Csv {
    fn header(&self) -> Vec<String> {
        FIXED.iter().map(|s| s.to_string()).chain(self.metrics.iter().cloned()).collect()
    }

    /// A metric that appears mid-run (`watch` applied a new `metrics` list) gets its column: the file
    /// is rewritten with the wider header and empty cells in the earlier rows, as Lightning's CSV
    /// logger does when a new key appears.
    fn widen(&mut self, end: &EpochEnd) -> std::io::Result<()> {
        let new: Vec<String> = end
            .metrics
            .keys()
            .filter(|k| k.starts_with("val.") && *k != "val.confusion_matrix" && !self.metrics.contains(k))
            .cloned()
            .collect();
        if new.is_empty() {
            return Ok(());
        }
        self.metrics.extend_from_slice(&new);
        let path = self.run.path.join("metrics.csv");
        let Ok(text) = std::fs::read_to_string(&path) else { return Ok(()) };
        write_atomic(&path, widened(&text, &self.header(), new.len()).as_bytes())
    }

    /// On resume, the columns the file already has, in its order (a watched run may have added
    /// some); a metric of the program that the file lacks is added by `widen` at the epoch's end.
    fn adopt_header(&mut self) {
        let Ok(text) = std::fs::read_to_string(self.run.path.join("metrics.csv")) else { return };
        let Some(header) = text.lines().next() else { return };
        self.metrics = header.split(',').skip(FIXED.len()).map(String::from).collect();
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
            self.adopt_header();
            let path = self.run.path.join("metrics.csv");
            self.run.truncate_metrics(state.epochs_done).map_err(RunError::write(path))?;
        }
        Ok(())
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        if s.step.is_multiple_of(s.live.log_every()) {
            let path = self.run.path.join("metrics.csv");
            self.run.append_metrics(&self.header(), &self.step_row(s)).map_err(RunError::write(path))?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let path = self.run.path.join("metrics.csv");
        self.widen(end).map_err(RunError::write(path.clone()))?;
        self.run.append_metrics(&self.header(), &self.row(end)).map_err(RunError::write(path))?;
        Ok(Control::Continue)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_metric_widens_every_earlier_row() {
        let text = "epoch,step,lr,train_loss,samples_per_s,val.loss\n1,10,1e-3,0.5,,\n1,20,1e-3,0.4,90.0,0.45\n";
        let header: Vec<String> =
            "epoch,step,lr,train_loss,samples_per_s,val.loss,val.f1".split(',').map(String::from).collect();
        let out = widened(text, &header, 1);
        assert_eq!(
            out,
            "epoch,step,lr,train_loss,samples_per_s,val.loss,val.f1\n1,10,1e-3,0.5,,,\n1,20,1e-3,0.4,90.0,0.45,\n"
        );
        assert!(out.lines().all(|l| l.split(',').count() == 7));
    }
}
