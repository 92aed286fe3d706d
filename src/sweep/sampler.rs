//! Where the next trial goes: every point of a grid in order, uniform random draws, or TPE
//! after a few random start-up trials. A sampler gives coordinates ([`super::Domain::bounds`]);
//! `Domain::value_at` turns them into override text.

use super::Dim;
use super::rng::Rng;
use super::tpe;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sampler {
    Grid,
    Random,
    /// TPE once `startup` trials have finished (random before).
    Tpe {
        startup: usize,
    },
}

impl Sampler {
    /// The sampler named by `--sampler`; TPE starts after a third of the trials, between 2
    /// and 10 (Optuna's default is 10, too many for a small sweep).
    pub fn named(name: &str, trials: usize) -> Option<Sampler> {
        match name {
            "grid" => Some(Sampler::Grid),
            "random" => Some(Sampler::Random),
            "tpe" => Some(Sampler::Tpe { startup: (trials / 3).clamp(2, 10) }),
            _ => None,
        }
    }

    /// The coordinates of trial `trial` (numbered from 0), given the finished trials'
    /// coordinates and losses (smaller is better).
    pub fn suggest(&self, dims: &[Dim], trial: usize, seed: u64, history: &[(Vec<f64>, f64)]) -> Vec<f64> {
        let mut rng = Rng::for_trial(seed, trial);
        match self {
            Sampler::Grid => grid_point(dims, trial),
            Sampler::Tpe { startup } if history.len() >= *startup => tpe_point(dims, history, &mut rng),
            Sampler::Random | Sampler::Tpe { .. } => dims
                .iter()
                .map(|d| {
                    let (lo, hi) = d.domain.bounds();
                    rng.uniform(lo, hi)
                })
                .collect(),
        }
    }
}

/// Point `i` of the grid, the last dimension varying fastest (as Hydra orders a multirun).
fn grid_point(dims: &[Dim], mut i: usize) -> Vec<f64> {
    let mut coords = vec![0.0; dims.len()];
    for (k, d) in dims.iter().enumerate().rev() {
        let n = d.domain.bounds().1.max(1.0) as usize;
        coords[k] = (i % n) as f64;
        i /= n;
    }
    coords
}

fn tpe_point(dims: &[Dim], history: &[(Vec<f64>, f64)], rng: &mut Rng) -> Vec<f64> {
    let mut sorted: Vec<&(Vec<f64>, f64)> = history.iter().collect();
    sorted.sort_by(|a, b| a.1.total_cmp(&b.1));
    let split = tpe::gamma(sorted.len());
    dims.iter()
        .enumerate()
        .map(|(k, d)| {
            let good: Vec<f64> = sorted[..split].iter().map(|h| h.0[k]).collect();
            let bad: Vec<f64> = sorted[split..].iter().map(|h| h.0[k]).collect();
            let categories = match &d.domain {
                super::Domain::Choice { values } => Some(values.len()),
                _ => None,
            };
            tpe::suggest(&good, &bad, d.domain.bounds(), categories, rng)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Space;

    fn dims(args: &[&str]) -> Vec<Dim> {
        Space::from_args(&args.iter().map(|s| s.to_string()).collect::<Vec<_>>()).expect("space").dims
    }

    #[test]
    fn the_grid_visits_every_point_once() {
        let d = dims(&["a=1,2", "b=x,y,z"]);
        let points: Vec<Vec<f64>> = (0..6).map(|i| Sampler::Grid.suggest(&d, i, 0, &[])).collect();
        assert_eq!(points[1], vec![0.0, 1.0]);
        let mut unique = points.clone();
        unique.dedup();
        assert_eq!(unique.len(), 6);
    }

    /// Runs `trials` trials of `f` (to minimise) on `x = uniform(-1, 1)`; the x of each trial.
    fn search(sampler: Sampler, seed: u64, trials: usize, f: impl Fn(f64) -> f64) -> Vec<f64> {
        let d = dims(&["x=uniform(-1,1)"]);
        let mut history = Vec::new();
        let mut xs = Vec::new();
        for t in 0..trials {
            let c = sampler.suggest(&d, t, seed, &history);
            let (_, x) = d[0].domain.value_at(c[0]);
            history.push((vec![x], f(x)));
            xs.push(x);
        }
        xs
    }

    /// Known behaviour: on a 1-D quadratic, TPE puts its later trials near the optimum, where
    /// random search keeps spreading them over the range; and it finds a better value.
    #[test]
    fn tpe_concentrates_on_the_optimum_of_a_quadratic_faster_than_random() {
        let f = |x: f64| (x - 0.3).powi(2);
        let tpe = Sampler::Tpe { startup: 5 };
        let (mut near_tpe, mut near_random, mut best_tpe, mut best_random) = (0, 0, 0.0, 0.0);
        for seed in 0..5 {
            let (a, b) = (search(tpe, seed, 40, f), search(Sampler::Random, seed, 40, f));
            near_tpe += a[20..].iter().filter(|x| (**x - 0.3).abs() < 0.1).count();
            near_random += b[20..].iter().filter(|x| (**x - 0.3).abs() < 0.1).count();
            best_tpe += a.iter().map(|x| f(*x)).fold(f64::INFINITY, f64::min);
            best_random += b.iter().map(|x| f(*x)).fold(f64::INFINITY, f64::min);
        }
        // Random puts about 10% of 100 draws within 0.1 of the optimum.
        assert!(near_tpe > 2 * near_random, "tpe {near_tpe} vs random {near_random} of 100 within 0.1");
        assert!(best_tpe < best_random, "best: tpe {best_tpe} vs random {best_random}");
    }

    #[test]
    fn tpe_is_reproducible_with_a_seed() {
        let f = |x: f64| (x + 0.5).abs();
        let tpe = Sampler::Tpe { startup: 3 };
        assert_eq!(search(tpe, 9, 12, f), search(tpe, 9, 12, f));
    }
}
