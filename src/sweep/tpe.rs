//! A tree-structured Parzen estimator (Bergstra et al. 2011), as Optuna's default sampler does
//! it: each dimension on its own, the finished trials split into the best `γ(n) = min(⌈n/10⌉,
//! 25)` ("good") and the rest, a Parzen density for each (truncated normals at the observations
//! plus a wide prior at the centre; bandwidths from the neighbours' distances, clipped from below
//! by `range / min(100, n + 1)`), and of 24 candidates drawn from the good density the one with the
//! largest `l(x) / g(x)`. Categorical dimensions use smoothed counts instead of normals.
//!
//! A written crate was considered: `tpe` 0.3 (crates.io) is per-parameter, takes `rand` 0.10 (the
//! project builds 0.9 and only with the `train` feature) and has no seed per trial; this file is
//! the same algorithm in the front end, with the draws of [`Rng`].

use super::rng::Rng;

/// How many candidates are drawn from the good density.
const CANDIDATES: usize = 24;
/// The prior's weight against one observation.
const PRIOR_WEIGHT: f64 = 1.0;

/// The size of the good set among `n` finished trials.
pub fn gamma(n: usize) -> usize {
    (n.div_ceil(10)).clamp(1, 25)
}

/// A mixture of truncated normals on `[lo, hi]`.
#[derive(Debug)]
pub struct Parzen {
    mus: Vec<f64>,
    sigmas: Vec<f64>,
    weights: Vec<f64>,
    lo: f64,
    hi: f64,
}

impl Parzen {
    pub fn new(observed: &[f64], lo: f64, hi: f64) -> Parzen {
        let mut sorted = observed.to_vec();
        sorted.sort_by(f64::total_cmp);
        let range = hi - lo;
        let min_sigma = range / (100f64).min(1.0 + sorted.len() as f64);
        let mut sigmas = Vec::with_capacity(sorted.len() + 1);
        for (i, &mu) in sorted.iter().enumerate() {
            let left = mu - if i == 0 { lo } else { sorted[i - 1] };
            let right = if i + 1 == sorted.len() { hi } else { sorted[i + 1] } - mu;
            sigmas.push(left.max(right).clamp(min_sigma, range));
        }
        let mut weights = vec![1.0; sorted.len()];
        sorted.push(0.5 * (lo + hi));
        sigmas.push(range);
        weights.push(PRIOR_WEIGHT);
        let total: f64 = weights.iter().sum();
        weights.iter_mut().for_each(|w| *w /= total);
        Parzen { mus: sorted, sigmas, weights, lo, hi }
    }

    pub fn sample(&self, rng: &mut Rng) -> f64 {
        let i = rng.weighted(&self.weights);
        let (mu, sigma) = (self.mus[i], self.sigmas[i]);
        for _ in 0..100 {
            let x = mu + sigma * rng.normal();
            if (self.lo..=self.hi).contains(&x) {
                return x;
            }
        }
        mu.clamp(self.lo, self.hi)
    }

    pub fn log_pdf(&self, x: f64) -> f64 {
        let terms: Vec<f64> = (0..self.mus.len())
            .map(|i| {
                let (mu, s) = (self.mus[i], self.sigmas[i]);
                let z = (x - mu) / s;
                let mass = (phi((self.hi - mu) / s) - phi((self.lo - mu) / s)).max(1e-300);
                self.weights[i].ln() - 0.5 * z * z - (s * (std::f64::consts::TAU).sqrt()).ln() - mass.ln()
            })
            .collect();
        log_sum_exp(&terms)
    }
}

/// Smoothed category frequencies.
fn categorical(observed: &[f64], k: usize) -> Vec<f64> {
    let mut w = vec![PRIOR_WEIGHT / k as f64; k];
    for &c in observed {
        if let Some(slot) = w.get_mut(c as usize) {
            *slot += 1.0;
        }
    }
    let total: f64 = w.iter().sum();
    w.into_iter().map(|x| x / total).collect()
}

/// The next coordinate of one dimension. `good` and `bad` are the coordinates of the good and
/// the other finished trials; `categories` is `Some(k)` for a categorical dimension.
pub fn suggest(good: &[f64], bad: &[f64], bounds: (f64, f64), categories: Option<usize>, rng: &mut Rng) -> f64 {
    if let Some(k) = categories {
        let (l, g) = (categorical(good, k), categorical(bad, k));
        let best = (0..CANDIDATES).map(|_| rng.weighted(&l)).max_by(|a, b| {
            let score = |c: &usize| l[*c].ln() - g[*c].ln();
            score(a).total_cmp(&score(b))
        });
        return best.unwrap_or(0) as f64;
    }
    let (l, g) = (Parzen::new(good, bounds.0, bounds.1), Parzen::new(bad, bounds.0, bounds.1));
    (0..CANDIDATES)
        .map(|_| l.sample(rng))
        .map(|x| (l.log_pdf(x) - g.log_pdf(x), x))
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map_or(0.5 * (bounds.0 + bounds.1), |(_, x)| x)
}

fn log_sum_exp(xs: &[f64]) -> f64 {
    let m = xs.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    if !m.is_finite() {
        return m;
    }
    m + xs.iter().map(|x| (x - m).exp()).sum::<f64>().ln()
}

/// The standard normal CDF.
fn phi(z: f64) -> f64 {
    0.5 * erfc(-z / std::f64::consts::SQRT_2)
}

/// The complementary error function (Numerical Recipes' `erfcc`, relative error below 1.2e-7).
fn erfc(x: f64) -> f64 {
    let z = x.abs();
    let t = 1.0 / (1.0 + 0.5 * z);
    let poly = -z * z - 1.265_512_23
        + t * (1.000_023_68
            + t * (0.374_091_96
                + t * (0.096_784_18
                    + t * (-0.186_288_06
                        + t * (0.278_868_07
                            + t * (-1.135_203_98 + t * (1.488_515_87 + t * (-0.822_152_23 + t * 0.170_872_77))))))));
    let r = t * poly.exp();
    if x >= 0.0 { r } else { 2.0 - r }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_normal_cdf_and_a_density_that_integrates_to_one() {
        assert!((phi(0.0) - 0.5).abs() < 1e-7);
        assert!((phi(1.96) - 0.975).abs() < 1e-4);
        let p = Parzen::new(&[0.1, 0.2, 0.9], 0.0, 1.0);
        let n = 10_000;
        let integral: f64 = (0..n).map(|i| p.log_pdf((i as f64 + 0.5) / n as f64).exp()).sum::<f64>() / n as f64;
        assert!((integral - 1.0).abs() < 1e-3, "{integral}");
    }

    #[test]
    fn categories_seen_among_the_good_trials_win() {
        let mut rng = Rng::for_trial(0, 0);
        let c = suggest(&[2.0, 2.0], &[0.0, 1.0, 0.0, 1.0], (0.0, 3.0), Some(3), &mut rng);
        assert_eq!(c, 2.0);
    }
}
