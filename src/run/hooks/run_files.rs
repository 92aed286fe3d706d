//! The run directory's result files: `confusion_matrix.csv` after each validation (when the
//! program asks for the metric), `summary.json` with the final metrics per split and
//! `timing.json` (time to the first step, training throughput), all written atomically.

use std::path::PathBuf;
use std::time::Instant;

use super::{Control, EpochEnd, Hook, StepEnd, TrainEnd};
use crate::run::rundir::write_atomic;
use crate::run::{RunError, START};

pub struct RunFiles {
    pub dir: PathBuf,
    /// Class names for the confusion matrix, when it is asked for.
    pub confusion_classes: Option<Vec<String>>,
    pub quiet: bool,
    first_step: Option<f64>,
    train_seconds: f64,
    train_samples: usize,
}

impl RunFiles {
    pub fn new(dir: PathBuf, confusion_classes: Option<Vec<String>>, quiet: bool) -> RunFiles {
        RunFiles { dir, confusion_classes, quiet, first_step: None, train_seconds: 0.0, train_samples: 0 }
    }

    fn write(&self, name: &str, bytes: &[u8]) -> Result<(), RunError> {
        let path = self.dir.join(name);
        write_atomic(&path, bytes).map_err(RunError::write(path))
    }

    fn write_json(&self, name: &str, value: &impl serde::Serialize) -> Result<(), RunError> {
        self.write(name, serde_json::to_string_pretty(value).unwrap_or_default().as_bytes())
    }
}

/// The confusion matrix as CSV: a header of predicted classes, one row per actual class.
pub fn confusion_csv(classes: &[String], m: &[Vec<u64>]) -> String {
    let mut out = format!("actual\\predicted,{}\n", classes.join(","));
    for (i, row) in m.iter().enumerate() {
        let cells: Vec<String> = row.iter().map(u64::to_string).collect();
        out.push_str(&format!("{},{}\n", classes.get(i).map_or("?", String::as_str), cells.join(",")));
    }
    out
}

impl Hook for RunFiles {
    fn name(&self) -> &'static str {
        "run_files"
    }

    fn on_step_end(&mut self, _step: &StepEnd) -> Result<(), RunError> {
        if self.first_step.is_none() {
            let t = START.get_or_init(Instant::now).elapsed().as_secs_f64();
            self.first_step = Some(t);
            if !self.quiet {
                eprintln!("first training step done {t:.2} s after launch");
            }
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        self.train_seconds += end.seconds;
        self.train_samples += end.samples;
        if let (Some(classes), Some(m)) = (&self.confusion_classes, end.confusion) {
            self.write("confusion_matrix.csv", confusion_csv(classes, m).as_bytes())?;
        }
        Ok(Control::Continue)
    }

    /// Throughput counts the training loop only (data loading included, validation excluded).
    fn on_train_end(&mut self, end: &TrainEnd) -> Result<(), RunError> {
        self.write_json("summary.json", end.results)?;
        let timing = serde_json::json!({
            "first_step_s": self.first_step,
            "train_seconds": self.train_seconds,
            "train_samples": self.train_samples,
            "samples_per_s": self.train_samples as f64 / self.train_seconds.max(1e-9),
            "total_s": START.get_or_init(Instant::now).elapsed().as_secs_f64(),
        });
        self.write_json("timing.json", &timing)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusion_rows_are_actual_classes() {
        let classes = vec!["cat".to_string(), "dog".to_string()];
        let csv = confusion_csv(&classes, &[vec![3, 1], vec![0, 4]]);
        assert_eq!(csv, "actual\\predicted,cat,dog\ncat,3,1\ndog,0,4\n");
    }
}
