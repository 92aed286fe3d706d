//! `schedule = plateau(…)`: PyTorch's `ReduceLROnPlateau` in its default relative-threshold
//! mode, stepped by the run loop after every validation. The rate is the schedule's base times
//! [`Plateau::factor`], which only ever shrinks; `exec::optim::lr_at` applies it (and `min_lr`).
//!
//! The tracker lives in `state.json`, so a resumed run keeps its reductions. `trainc watch` may
//! swap the schedule at any step: a new `factor` or `patience` applies from the next epoch with
//! the count so far, a new monitor starts its count afresh (its best value is another
//! quantity's) but keeps the reductions made, so the rate never jumps back up; a schedule
//! without `plateau` leaves the tracker untouched.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ir::{Mode, Schedule};

/// The decision, without a model: feed it each epoch's metrics, read the factor.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Plateau {
    /// The product of the reductions so far (1 before any).
    pub factor: f64,
    /// The best value of `monitor` so far.
    pub best: Option<f64>,
    /// Epochs since the last improvement (or reduction).
    pub bad: usize,
    /// What `best` is a value of (`val.loss`).
    pub monitor: Option<String>,
}

impl Default for Plateau {
    fn default() -> Plateau {
        Plateau { factor: 1.0, best: None, bad: 0, monitor: None }
    }
}

impl Plateau {
    /// After an epoch: observes the monitored value when `schedule` has a `plateau` segment and
    /// the value was computed; returns a line to print when it reduced the rate.
    pub fn observe(&mut self, schedule: &[Schedule], metrics: &BTreeMap<String, f64>) -> Option<String> {
        let (monitor, mode, factor, patience, threshold) = schedule.iter().find_map(|s| match s {
            Schedule::Plateau { monitor, mode, factor, patience, threshold, .. } => {
                Some((monitor.to_string(), *mode, *factor, *patience, *threshold))
            }
            _ => None,
        })?;
        if self.monitor.as_deref() != Some(monitor.as_str()) {
            (self.best, self.bad, self.monitor) = (None, 0, Some(monitor.clone()));
        }
        let value = *metrics.get(&monitor)?;
        let better = self.best.is_none_or(|best| match mode {
            Mode::Min => value < best * (1.0 - threshold),
            Mode::Max => value > best * (1.0 + threshold),
        });
        if better {
            (self.best, self.bad) = (Some(value), 0);
            return None;
        }
        self.bad += 1;
        if self.bad <= patience {
            return None;
        }
        self.factor *= factor;
        self.bad = 0;
        Some(format!(
            "plateau: `{monitor}` has not improved for {} epochs; learning rate × {factor} (now × {})",
            patience + 1,
            self.factor
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Monitor;

    fn plateau(metric: &str, patience: usize) -> Vec<Schedule> {
        vec![Schedule::Plateau {
            monitor: Monitor { split: "val".into(), metric: metric.into() },
            mode: if metric == "loss" { Mode::Min } else { Mode::Max },
            factor: 0.5,
            patience,
            threshold: 1e-4,
            min_lr: 0.0,
        }]
    }

    fn epoch(p: &mut Plateau, schedule: &[Schedule], key: &str, value: f64) -> Option<String> {
        p.observe(schedule, &BTreeMap::from([(key.to_string(), value)]))
    }

    /// The numbers of `torch.optim.lr_scheduler.ReduceLROnPlateau(factor=0.5, patience=1)` on
    /// losses 1.0, 0.9, 0.95, 0.96 (reduce), 0.97, 0.98 (reduce), 0.5: factors 1, 1, 1, 0.5,
    /// 0.5, 0.25, 0.25.
    #[test]
    fn reduces_after_more_than_patience_bad_epochs_like_pytorch() {
        let s = plateau("loss", 1);
        let mut p = Plateau::default();
        let mut factors = Vec::new();
        for v in [1.0, 0.9, 0.95, 0.96, 0.97, 0.98, 0.5] {
            epoch(&mut p, &s, "val.loss", v);
            factors.push(p.factor);
        }
        assert_eq!(factors, [1.0, 1.0, 1.0, 0.5, 0.5, 0.25, 0.25]);
        // An improvement smaller than the relative threshold is no improvement.
        let mut q = Plateau::default();
        epoch(&mut q, &s, "val.loss", 1.0);
        epoch(&mut q, &s, "val.loss", 0.99995);
        assert_eq!(q.bad, 1);
    }

    #[test]
    fn a_new_monitor_restarts_the_count_but_keeps_the_reductions() {
        let mut p = Plateau::default();
        let s = plateau("loss", 0);
        epoch(&mut p, &s, "val.loss", 1.0);
        assert!(epoch(&mut p, &s, "val.loss", 1.0).is_some());
        assert_eq!(p.factor, 0.5);
        // `watch` changed the monitor to accuracy (maximised): 0.3 is its first value, a best.
        let acc = plateau("accuracy", 0);
        assert_eq!(epoch(&mut p, &acc, "val.accuracy", 0.3), None);
        assert_eq!((p.factor, p.best, p.bad), (0.5, Some(0.3), 0));
        // Without a plateau segment, or without the metric, nothing changes.
        let before = p.clone();
        assert_eq!(p.observe(&[Schedule::Constant { length: None }], &BTreeMap::new()), None);
        assert_eq!(epoch(&mut p, &acc, "train.loss", 9.0), None);
        assert_eq!(p, before);
        // And the tracker survives `state.json`.
        let back: Plateau = serde_json::from_value(serde_json::to_value(&p).expect("json")).expect("back");
        assert_eq!(back, p);
    }
}
