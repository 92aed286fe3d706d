//! `steps.csv`: the learning rate and loss every `log_every` steps (`step,epoch,lr,loss`), so an
//! edit's effect shows on the curve from the next logged step (`metrics.csv` has one row per
//! epoch). On resume, rows after the saved step are dropped first.

use std::io::Write;
use std::path::PathBuf;

use super::{Hook, StepEnd};
use crate::run::RunError;
use crate::run::rundir::write_atomic;

pub struct StepsCsv {
    pub path: PathBuf,
}

impl StepsCsv {
    pub fn new(run: &std::path::Path) -> StepsCsv {
        StepsCsv { path: run.join("steps.csv") }
    }

    fn append(&self, line: &str) -> std::io::Result<()> {
        let fresh = !self.path.exists();
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(&self.path)?;
        if fresh {
            writeln!(f, "step,epoch,lr,loss")?;
        }
        writeln!(f, "{line}")
    }

    /// Keeps the header and the rows up to `step`.
    fn truncate(&self, step: usize) -> std::io::Result<()> {
        let Ok(text) = std::fs::read_to_string(&self.path) else { return Ok(()) };
        let kept: Vec<&str> = text
            .lines()
            .enumerate()
            .filter(|(i, l)| {
                *i == 0 || l.split(',').next().and_then(|s| s.parse::<usize>().ok()).is_some_and(|s| s <= step)
            })
            .map(|(_, l)| l)
            .collect();
        write_atomic(&self.path, format!("{}\n", kept.join("\n")).as_bytes())
    }
}

impl Hook for StepsCsv {
    fn name(&self) -> &'static str {
        "steps_csv"
    }

    fn on_train_start(&mut self, state: &crate::run::State) -> Result<(), RunError> {
        self.truncate(state.step).map_err(RunError::write(self.path.clone()))
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        if s.step.is_multiple_of(s.live.log_every.max(1)) {
            let line = format!("{},{},{:e},{:.6}", s.step, s.epoch + 1, s.lr, s.loss);
            self.append(&line).map_err(RunError::write(self.path.clone()))?;
        }
        Ok(())
    }
}
