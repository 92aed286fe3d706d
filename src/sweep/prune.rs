//! Pruning: whether a running trial stops early, from the objective at the end of each epoch.
//! The sweep process reads each trial's `metrics.csv` as it grows and calls [`Pruner::prune`] once
//! per new epoch row; a trial to stop gets SIGINT, which ends it gracefully after the current step
//! (last checkpoint, test split, `summary.json`) — `src/run/interrupt.rs`.
//!
//! Values here are losses (smaller is better; [`super::Mode::as_loss`]).

/// How trials are pruned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pruner {
    /// Optuna's `MedianPruner`: stop a trial whose best value so far is worse than the median of
    /// the other trials' values at the same epoch, once `min_others` trials reached that epoch
    /// and after `warmup` epochs.
    Median { warmup: usize, min_others: usize },
    /// Asynchronous successive halving (Li et al. 2020), as Optuna's `SuccessiveHalvingPruner`:
    /// rungs at epochs `min_epochs · ηᵏ`; at a rung a trial goes on only if its value is among
    /// the best `1/η` of the values every trial had at that rung (the best one while fewer
    /// than η trials reached it).
    Asha { min_epochs: usize, eta: usize },
}

impl Pruner {
    pub fn named(name: &str) -> Option<Pruner> {
        match name {
            "median" => Some(Pruner::Median { warmup: 0, min_others: 2 }),
            "asha" => Some(Pruner::Asha { min_epochs: 1, eta: 2 }),
            _ => None,
        }
    }

    /// `curve` is this trial's loss per epoch so far (epoch 1 first); `others` are the curves of
    /// every other trial that has not failed, finished or not.
    pub fn prune(&self, curve: &[f64], others: &[&[f64]]) -> bool {
        let epoch = curve.len();
        let Some(&now) = curve.last() else { return false };
        match *self {
            Pruner::Median { warmup, min_others } => {
                if epoch <= warmup {
                    return false;
                }
                let mut at: Vec<f64> = others.iter().filter_map(|c| c.get(epoch - 1).copied()).collect();
                if at.len() < min_others {
                    return false;
                }
                let best = curve.iter().copied().fold(f64::INFINITY, f64::min);
                best > median(&mut at)
            }
            Pruner::Asha { min_epochs, eta } => {
                if !is_rung(epoch, min_epochs, eta) {
                    return false;
                }
                let mut competing: Vec<f64> = others.iter().filter_map(|c| c.get(epoch - 1).copied()).collect();
                competing.push(now);
                competing.sort_by(f64::total_cmp);
                let promoted = (competing.len() / eta).max(1);
                now > competing[promoted - 1]
            }
        }
    }
}

/// Whether `epoch` (from 1) is a rung: `min_epochs · ηᵏ`.
fn is_rung(epoch: usize, min_epochs: usize, eta: usize) -> bool {
    let mut r = min_epochs.max(1);
    while r < epoch {
        r = r.saturating_mul(eta.max(2));
    }
    r == epoch
}

fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    let n = xs.len();
    if n % 2 == 1 { xs[n / 2] } else { 0.5 * (xs[n / 2 - 1] + xs[n / 2]) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_stops_a_trial_worse_than_the_others_at_the_same_epoch() {
        let p = Pruner::Median { warmup: 1, min_others: 2 };
        let others: [&[f64]; 3] = [&[1.0, 0.5, 0.3], &[1.2, 0.6], &[0.9, 0.4, 0.2]];
        assert!(!p.prune(&[2.0], &others), "warm-up epoch");
        assert!(p.prune(&[2.0, 1.5], &others), "median at epoch 2 is 0.5");
        assert!(!p.prune(&[2.0, 0.45], &others));
        assert!(!p.prune(&[2.0, 1.5, 1.0], &[&[1.0, 0.5, 0.3]]), "one other trial is too few");
    }

    #[test]
    fn asha_keeps_the_best_half_at_each_rung() {
        let p = Pruner::Asha { min_epochs: 1, eta: 2 };
        assert!(is_rung(1, 1, 2) && is_rung(2, 1, 2) && is_rung(4, 1, 2) && !is_rung(3, 1, 2));
        let others: [&[f64]; 3] = [&[0.5, 0.4, 0.3], &[0.7], &[0.9]];
        assert!(!p.prune(&[0.6], &others), "second best of four: in the best half");
        assert!(p.prune(&[0.8], &others), "third of four");
        assert!(!p.prune(&[0.8, 0.7, 0.6], &others), "epoch 3 is no rung");
        assert!(!p.prune(&[5.0], &[]), "alone at the rung: the best");
    }
}
