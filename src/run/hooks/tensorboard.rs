//! TensorBoard: the training loss and learning rate every `log_every` steps, and every epoch's
//! metrics (`val.accuracy` as `val/accuracy`), in an event file of the run directory.

use super::{Control, EpochEnd, Hook, StepEnd};
use crate::run::RunError;
use crate::run::tensorboard::EventWriter;

pub struct TensorBoard {
    pub events: EventWriter,
}

impl TensorBoard {
    pub fn create(dir: &std::path::Path) -> Result<TensorBoard, RunError> {
        Ok(TensorBoard { events: EventWriter::create(dir).map_err(RunError::write(dir))? })
    }
}

impl Hook for TensorBoard {
    fn name(&self) -> &'static str {
        "tensorboard"
    }

    fn on_step_end(&mut self, s: &StepEnd) -> Result<(), RunError> {
        if s.step.is_multiple_of(s.live.log_every()) {
            let scalars = [("train/loss", s.loss as f64), ("train/lr", s.lr)];
            self.events.scalars(s.step as u64, &scalars).map_err(RunError::write("events"))?;
        }
        Ok(())
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let tags: Vec<(String, f64)> = end.metrics.iter().map(|(k, v)| (k.replace('.', "/"), *v)).collect();
        let tags: Vec<(&str, f64)> = tags.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.events.scalars(end.step as u64, &tags).map_err(RunError::write("events"))?;
        Ok(Control::Continue)
    }
}
