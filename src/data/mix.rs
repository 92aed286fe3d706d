//! Batch-level mixes (`train { mix = [mixup(…), cutmix(…)] }`), as torchvision's `v2.MixUp` and
//! `v2.CutMix`: each batch draws one entry of the list and applies it with its `p`; image `i` is
//! mixed with image `i − 1` (the batch rolled by one) by one `λ ~ Beta(α, α)`, and its target
//! becomes `λ·onehot(y_i) + (1 − λ)·onehot(y_{i−1})` ([`soft_targets`], which the losses take
//! through `exec::loss::soft`). The loader mixes on the CPU after assembling a batch, from a
//! generator seeded by `(seed, epoch, batch)`.

use rand::Rng;
use rand_chacha::ChaCha8Rng;

use super::Batch;
use crate::ir::Mix;

/// How a batch was mixed: image `i` holds `lam` of itself and `1 − lam` of image `i − 1`
/// (image 0 of the last), whose label is `partners[i]`. The partners' labels travel with the
/// batch so that a slice of it (one device's share, `Batch::split`) keeps its soft targets.
#[derive(Clone, Debug, PartialEq)]
pub struct Mixed {
    pub lam: f32,
    pub partners: Vec<i64>,
}

impl Mixed {
    /// The mix of labels `y` rolled by one, as `mix_batch` rolls the images.
    pub fn rolled(lam: f32, y: &[i64]) -> Mixed {
        let n = y.len();
        Mixed { lam, partners: (0..n).map(|i| y[(i + n - 1) % n]).collect() }
    }
}

/// Mixes a batch as one entry of `mixes`, drawn from `rng`; leaves it alone when the draw of
/// `p` says so or the batch has one image.
pub fn mix_batch(batch: &mut Batch, mixes: &[Mix], rng: &mut ChaCha8Rng) {
    let [n, c, h, w] = batch.shape;
    if mixes.is_empty() || n < 2 {
        return;
    }
    let chosen = &mixes[rng.random_range(0..mixes.len())];
    let (alpha, p) = match *chosen {
        Mix::Mixup { alpha, p } | Mix::Cutmix { alpha, p } => (alpha, p),
    };
    if rng.random::<f64>() >= p {
        return;
    }
    let lam = beta(rng, alpha);
    let image = c * h * w;
    let rolled: Vec<f32> = (0..n).flat_map(|i| batch.x[((i + n - 1) % n) * image..][..image].to_vec()).collect();
    let lam = match chosen {
        Mix::Mixup { .. } => {
            let l = lam as f32;
            batch.x.iter_mut().zip(&rolled).for_each(|(x, r)| *x = l * *x + (1.0 - l) * r);
            l
        }
        Mix::Cutmix { .. } => {
            let (y0, y1, x0, x1) = cut_box((h, w), lam, rng);
            for i in 0..n {
                for ch in 0..c {
                    for y in y0..y1 {
                        let row = ((i * c + ch) * h + y) * w;
                        batch.x[row + x0..row + x1].copy_from_slice(&rolled[row + x0..row + x1]);
                    }
                }
            }
            // The share of each image that is still its own.
            1.0 - ((x1 - x0) * (y1 - y0)) as f32 / (h * w) as f32
        }
    };
    batch.mixed = Some(Mixed::rolled(lam, &batch.y));
}

/// torchvision's `CutMix` box: a centre uniform over the pixels, half-sides `⌊½√(1 − λ)·side⌋`,
/// clipped to the image; `(y0, y1, x0, x1)`.
fn cut_box((h, w): (usize, usize), lam: f64, rng: &mut ChaCha8Rng) -> (usize, usize, usize, usize) {
    let (cx, cy) = (rng.random_range(0..w) as isize, rng.random_range(0..h) as isize);
    let r = 0.5 * (1.0 - lam).sqrt();
    let (hw, hh) = ((r * w as f64) as isize, (r * h as f64) as isize);
    let clip = |v: isize, hi: usize| v.clamp(0, hi as isize) as usize;
    (clip(cy - hh, h), clip(cy + hh, h), clip(cx - hw, w), clip(cx + hw, w))
}

/// The soft targets `[N, classes]` of labels mixed as `mixed` says.
pub fn soft_targets(labels: &[i64], classes: usize, mixed: &Mixed) -> Vec<f32> {
    let mut t = vec![0.0; labels.len() * classes];
    for (i, (&y, &partner)) in labels.iter().zip(&mixed.partners).enumerate() {
        for (label, share) in [(y, mixed.lam), (partner, 1.0 - mixed.lam)] {
            if (0..classes as i64).contains(&label) {
                t[i * classes + label as usize] += share;
            }
        }
    }
    t
}

/// `Beta(α, α)` from two Gamma draws.
pub fn beta(rng: &mut ChaCha8Rng, alpha: f64) -> f64 {
    let (a, b) = (gamma(rng, alpha), gamma(rng, alpha));
    if a + b > 0.0 { a / (a + b) } else { 0.5 }
}

/// `Gamma(k, 1)` by Marsaglia and Tsang, with `U^{1/k}` boosting for `k < 1`.
fn gamma(rng: &mut ChaCha8Rng, k: f64) -> f64 {
    if k < 1.0 {
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        return gamma(rng, k + 1.0) * u.powf(1.0 / k);
    }
    let d = k - 1.0 / 3.0;
    let c = 1.0 / (9.0 * d).sqrt();
    loop {
        // A standard normal by Box–Muller.
        let (u1, u2): (f64, f64) = (rng.random::<f64>().max(f64::MIN_POSITIVE), rng.random());
        let z = (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos();
        let v = (1.0 + c * z).powi(3);
        if v <= 0.0 {
            continue;
        }
        let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
        if u.ln() < 0.5 * z * z + d - d * v + d * v.ln() {
            return d * v;
        }
    }
}

#[cfg(test)]
mod tests {
    use rand::SeedableRng;

    use super::*;

    /// Three 1×2×2 images of constant value 0, 1 and 2, labels 0, 1, 2.
    fn batch() -> Batch {
        let x: Vec<f32> = (0..3).flat_map(|i| [i as f32; 4]).collect();
        Batch { shape: [3, 1, 2, 2], x, y: vec![0, 1, 2], boxes: vec![Vec::new(); 3], frames: Vec::new(), mixed: None }
    }

    #[test]
    fn mixup_blends_each_image_with_the_previous_and_its_labels_alike() {
        let mut b = batch();
        mix_batch(&mut b, &[Mix::Mixup { alpha: 0.4, p: 1.0 }], &mut ChaCha8Rng::seed_from_u64(3));
        let mixed = b.mixed.clone().expect("mixed");
        let lam = mixed.lam;
        assert!((0.0..=1.0).contains(&lam));
        // Image 1 = λ·1 + (1 − λ)·0; image 0 = λ·0 + (1 − λ)·2 (the last one, rolled).
        assert!((b.x[4] - lam).abs() < 1e-6 && (b.x[0] - 2.0 * (1.0 - lam)).abs() < 1e-6, "{:?}", b.x);
        let t = soft_targets(&b.y, 3, &mixed);
        assert_eq!(t.len(), 9);
        assert!((t[0] - lam).abs() < 1e-6 && (t[2] - (1.0 - lam)).abs() < 1e-6, "{t:?}");
        assert!((t[3] - (1.0 - lam)).abs() < 1e-6 && (t[4] - lam).abs() < 1e-6, "{t:?}");
        for row in t.chunks(3) {
            assert!((row.iter().sum::<f32>() - 1.0).abs() < 1e-6);
        }
        // p = 0 never mixes.
        let mut c = batch();
        mix_batch(&mut c, &[Mix::Mixup { alpha: 0.4, p: 0.0 }], &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!((c.x, c.mixed), (batch().x, None));
    }

    #[test]
    fn cutmix_pastes_a_box_and_lambda_is_the_area_kept() {
        for seed in 0..20 {
            let x: Vec<f32> = (0..2).flat_map(|i| [i as f32; 64]).collect();
            let mut b = Batch {
                shape: [2, 1, 8, 8],
                x,
                y: vec![0, 1],
                boxes: vec![Vec::new(); 2],
                frames: Vec::new(),
                mixed: None,
            };
            mix_batch(&mut b, &[Mix::Cutmix { alpha: 1.0, p: 1.0 }], &mut ChaCha8Rng::seed_from_u64(seed));
            let mixed = b.mixed.clone().expect("mixed");
            let lam = mixed.lam;
            // Image 1 (all ones) got a box of zeros from image 0: its own share is λ.
            let kept = b.x[64..].iter().filter(|v| **v == 1.0).count() as f32 / 64.0;
            assert!((kept - lam).abs() < 1e-6, "seed {seed}: {kept} vs {lam}");
            // The same box in image 0 holds image 1's pixels.
            let pasted = b.x[..64].iter().filter(|v| **v == 1.0).count() as f32 / 64.0;
            assert!((pasted - (1.0 - lam)).abs() < 1e-6, "seed {seed}");
            let t = soft_targets(&b.y, 2, &mixed);
            assert_eq!(t, vec![lam, 1.0 - lam, 1.0 - lam, lam]);
        }
    }

    #[test]
    fn beta_draws_have_the_right_mean_and_spread() {
        let mut rng = ChaCha8Rng::seed_from_u64(0);
        for alpha in [0.2, 1.0, 4.0] {
            let draws: Vec<f64> = (0..20000).map(|_| beta(&mut rng, alpha)).collect();
            let mean = draws.iter().sum::<f64>() / draws.len() as f64;
            let var = draws.iter().map(|d| (d - mean).powi(2)).sum::<f64>() / draws.len() as f64;
            // Beta(α, α): mean ½, variance 1 / (4(2α + 1)).
            assert!((mean - 0.5).abs() < 0.01, "α {alpha}: mean {mean}");
            assert!((var - 1.0 / (4.0 * (2.0 * alpha + 1.0))).abs() < 0.01, "α {alpha}: variance {var}");
        }
    }
}
