//! Early stopping: stop when the monitored value has not improved by more than `min_delta` for
//! `patience` epochs. The settings are read from the live settings every epoch, so `watch` can
//! change them; the count of bad epochs survives a resume.

use serde::{Deserialize, Serialize};

use super::{Control, EpochEnd, Hook};
use crate::ir::{EarlyStopSpec, Mode};
use crate::run::RunError;

/// The decision, without a model: feed it values, read whether to stop.
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
pub struct Patience {
    pub best: Option<f64>,
    pub bad: usize,
}

impl Patience {
    pub fn observe(&mut self, value: f64, spec: &EarlyStopSpec) -> Control {
        let improved = self.best.is_none_or(|b| {
            let better = match spec.mode {
                Mode::Max => value > b,
                Mode::Min => value < b,
            };
            better && (value - b).abs() > spec.min_delta
        });
        if improved {
            self.best = Some(value);
            self.bad = 0;
            return Control::Continue;
        }
        self.bad += 1;
        if self.bad >= spec.patience {
            Control::Stop(format!("early stopping: `{}` has not improved for {} epochs", spec.monitor, self.bad))
        } else {
            Control::Continue
        }
    }
}

#[derive(Default)]
pub struct EarlyStop {
    pub patience: Patience,
}

impl Hook for EarlyStop {
    fn name(&self) -> &'static str {
        "early_stop"
    }

    fn on_epoch_end(&mut self, end: &EpochEnd) -> Result<Control, RunError> {
        let Some(spec) = &end.live.spec.early_stop else { return Ok(Control::Continue) };
        match end.metrics.get(&spec.monitor.to_string()) {
            Some(value) => Ok(self.patience.observe(*value, spec)),
            None => Ok(Control::Continue),
        }
    }

    fn state(&self) -> Option<serde_json::Value> {
        super::save_state(&self.patience)
    }

    fn restore(&mut self, state: &serde_json::Value) -> Result<(), RunError> {
        self.patience = super::load_state(state);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Monitor;

    fn spec(mode: Mode, patience: usize, min_delta: f64) -> EarlyStopSpec {
        EarlyStopSpec { monitor: Monitor { split: "val".into(), metric: "loss".into() }, mode, patience, min_delta }
    }

    #[test]
    fn stops_after_patience_epochs_without_improvement() {
        let s = spec(Mode::Min, 2, 0.0);
        let mut p = Patience::default();
        assert_eq!(p.observe(1.0, &s), Control::Continue);
        assert_eq!(p.observe(0.8, &s), Control::Continue);
        assert_eq!(p.observe(0.9, &s), Control::Continue);
        match p.observe(0.85, &s) {
            Control::Stop(reason) => assert!(reason.contains("`val.loss` has not improved for 2 epochs"), "{reason}"),
            Control::Continue => panic!("should stop"),
        }
    }

    #[test]
    fn an_improvement_smaller_than_min_delta_does_not_count() {
        let s = spec(Mode::Max, 1, 0.01);
        let mut p = Patience::default();
        p.observe(0.90, &s);
        assert!(matches!(p.observe(0.905, &s), Control::Stop(_)));
        let mut q = Patience::default();
        q.observe(0.90, &s);
        assert_eq!(q.observe(0.92, &s), Control::Continue);
        assert_eq!(q, Patience { best: Some(0.92), bad: 0 });
    }

    #[test]
    fn the_bad_count_survives_a_resume() {
        let s = spec(Mode::Min, 3, 0.0);
        let mut hook = EarlyStop::default();
        hook.patience.observe(1.0, &s);
        hook.patience.observe(1.1, &s);
        hook.patience.observe(1.2, &s);
        let mut resumed = EarlyStop::default();
        resumed.restore(&hook.state().expect("state")).expect("restore");
        assert!(matches!(resumed.patience.observe(1.3, &s), Control::Stop(_)));
    }
}
