//! Optimizers from `optimizer = …`, and the learning rate at each step from `schedule = …`.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, LambConfig, LionConfig, ModuleOptimizer, RmsPropConfig, SgdConfig};

use super::adam::{Decay, FusedAdam, FusedAdamW, Hyper};
use crate::ir::{Length, Optimizer, Schedule};

/// Builds the optimizer. PyTorch's defaults are kept where burn's differ (AdamW ε, SGD dampening),
/// so a recipe ported from Lightning behaves the same.
pub fn build(optimizer: &Optimizer, clip: Option<f64>) -> ModuleOptimizer {
    let clip = clip.map(|c| GradientClippingConfig::Norm(c as f32));
    match *optimizer {
        Optimizer::Sgd { lr: _, momentum, nesterov, weight_decay } => {
            // burn takes most hyper-parameters as f32; momentum is rounded the same way.
            let (momentum, weight_decay) = (momentum as f32, weight_decay as f32);
            let mut cfg = SgdConfig::new().with_gradient_clipping(clip);
            if momentum > 0.0 {
                cfg = cfg.with_momentum(Some(
                    MomentumConfig::new().with_momentum(momentum as f64).with_dampening(0.0).with_nesterov(nesterov),
                ));
            }
            if weight_decay > 0.0 {
                cfg = cfg.with_weight_decay(Some(WeightDecayConfig::new(weight_decay)));
            }
            cfg.init()
        }
        // burn's Adam and AdamW, with their step fused on Flex and LibTorch (`exec/adam.rs`).
        Optimizer::Adam { lr: _, beta1, beta2, eps, weight_decay } => {
            let l2 = (weight_decay as f32 > 0.0).then_some(weight_decay as f32);
            let config = AdamConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps as f32)
                .with_weight_decay(l2.map(WeightDecayConfig::new));
            let hyper = Hyper { beta_1: beta1 as f32, beta_2: beta2 as f32, epsilon: eps as f32, decay: Decay::L2(l2) };
            clipped(FusedAdam { fallback: config.build(), hyper }.into(), clip)
        }
        Optimizer::AdamW { lr: _, beta1, beta2, eps, weight_decay } => {
            let config = AdamWConfig::new()
                .with_beta_1(beta1 as f32)
                .with_beta_2(beta2 as f32)
                .with_epsilon(eps as f32)
                .with_weight_decay(weight_decay as f32);
            let decay = Decay::Decoupled(weight_decay as f32);
            let hyper = Hyper { beta_1: beta1 as f32, beta_2: beta2 as f32, epsilon: eps as f32, decay };
            clipped(FusedAdamW { fallback: config.build(), hyper }.into(), clip)
        }
        // burn's RmsProp is PyTorch's: square average from zero, `eps` outside the root, momentum
        // buffer on the scaled gradient, L2 weight decay on the gradient.
        Optimizer::RmsProp { lr: _, alpha, eps, momentum, centered, weight_decay } => RmsPropConfig::new()
            .with_alpha(alpha as f32)
            .with_epsilon(eps as f32)
            .with_momentum(momentum as f32)
            .with_centered(centered)
            .with_weight_decay((weight_decay as f32 > 0.0).then(|| WeightDecayConfig::new(weight_decay as f32)))
            .with_grad_clipping(clip)
            .init(),
        Optimizer::Lion { lr: _, beta1, beta2, weight_decay } => LionConfig::new()
            .with_beta_1(beta1 as f32)
            .with_beta_2(beta2 as f32)
            .with_weight_decay(weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
        Optimizer::Lamb { lr: _, beta1, beta2, eps, weight_decay } => LambConfig::new()
            .with_beta_1(beta1 as f32)
            .with_beta_2(beta2 as f32)
            .with_epsilon(eps as f32)
            .with_weight_decay(weight_decay as f32)
            .with_grad_clipping(clip)
            .init(),
    }
}

/// `optimizer` with gradient clipping, as burn's `*Config::init` adds it.
fn clipped(optimizer: ModuleOptimizer, clip: Option<GradientClippingConfig>) -> ModuleOptimizer {
    match clip {
        Some(config) => optimizer.with_grad_clipping(config.init()),
        None => optimizer,
    }
}

/// The base learning rate: `one_cycle`'s `max_lr`, or else the optimizer's `lr`.
pub fn base_lr(optimizer: &Optimizer, schedule: &[Schedule]) -> f64 {
    schedule
        .iter()
        .find_map(|s| match s {
            Schedule::OneCycle { max_lr, .. } => Some(*max_lr),
            Schedule::Constant { .. }
            | Schedule::Warmup { .. }
            | Schedule::Cosine { .. }
            | Schedule::Linear { .. }
            | Schedule::Step { .. }
            | Schedule::Exponential { .. }
            | Schedule::Polynomial { .. }
            | Schedule::Plateau { .. } => None,
        })
        .unwrap_or(optimizer.lr())
}

/// Learning rate at `step` (0-based) of `total` steps, `per_epoch` steps an epoch: the segment
/// `step` falls in (the last one runs on), at its fraction done. `plateau` is the factor a
/// `plateau` segment has reached (`run::plateau::Plateau`; 1 before any reduction).
pub fn lr_at(schedule: &[Schedule], base: f64, step: usize, (total, per_epoch): (usize, usize), plateau: f64) -> f64 {
    let per_epoch = per_epoch.max(1);
    let mut start = 0usize;
    for (i, seg) in schedule.iter().enumerate() {
        let last = i + 1 == schedule.len();
        let len = match seg.length() {
            Some(Length::Steps(s)) => s,
            Some(Length::Epochs(e)) => e * per_epoch,
            None => total.saturating_sub(start),
        }
        .max(1);
        if step >= start + len && !last {
            start += len;
            continue;
        }
        if let Schedule::Plateau { min_lr, .. } = *seg {
            return (base * plateau).max(min_lr.min(base));
        }
        return segment_lr(seg, base, step.saturating_sub(start), len, per_epoch);
    }
    base
}

/// The rate `done` steps into a segment of `len` steps.
fn segment_lr(seg: &Schedule, base: f64, done: usize, len: usize, per_epoch: usize) -> f64 {
    let t = (done as f64 / len as f64).min(1.0);
    let cos = |a: f64, b: f64, x: f64| b + (a - b) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos());
    match *seg {
        Schedule::Constant { .. } => base,
        Schedule::Warmup { from, .. } => base * (from + (1.0 - from) * ((done + 1) as f64 / len as f64).min(1.0)),
        Schedule::Cosine { to, .. } => cos(base, to, t),
        Schedule::Linear { to, .. } => base + (to - base) * t,
        Schedule::Step { every, gamma } => base * gamma.powi((done / (every.max(1) * per_epoch)) as i32),
        Schedule::OneCycle { pct, div, final_div, .. } => {
            let (initial, min) = (base / div, base / div / final_div);
            if t < pct { cos(initial, base, t / pct) } else { cos(base, min, (t - pct) / (1.0 - pct)) }
        }
        Schedule::Exponential { gamma, .. } => base * gamma.powi((done.min(len) / per_epoch) as i32),
        Schedule::Polynomial { power, to, .. } => (base - to) * (1.0 - t).powf(power) + to,
        // Stepped by validation, not by steps: `lr_at` scales it.
        Schedule::Plateau { .. } => base,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn close(a: f64, b: f64) -> bool {
        (a - b).abs() < 1e-9
    }

    #[test]
    fn warmup_then_cosine() {
        let s = vec![
            Schedule::Warmup { length: Some(Length::Steps(10)), from: 0.0 },
            Schedule::Cosine { length: None, to: 0.0 },
        ];
        assert!(close(lr_at(&s, 1.0, 0, (110, 10), 1.0), 0.1));
        assert!(close(lr_at(&s, 1.0, 9, (110, 10), 1.0), 1.0));
        assert!(close(lr_at(&s, 1.0, 10, (110, 10), 1.0), 1.0));
        assert!(close(lr_at(&s, 1.0, 60, (110, 10), 1.0), 0.5));
        assert!(lr_at(&s, 1.0, 109, (110, 10), 1.0) < 0.01);
    }

    #[test]
    fn epoch_lengths_linear_and_the_last_segment_running_on() {
        // Warm up from half the rate for one epoch (10 steps), then decay linearly to 0.2 over
        // two epochs, then hold 0.2: a segment past its length keeps its final rate.
        let s = vec![
            Schedule::Warmup { length: Some(Length::Epochs(1)), from: 0.5 },
            Schedule::Linear { length: Some(Length::Epochs(2)), to: 0.2 },
        ];
        assert!(close(lr_at(&s, 1.0, 0, (100, 10), 1.0), 0.55));
        assert!(close(lr_at(&s, 1.0, 10, (100, 10), 1.0), 1.0));
        assert!(close(lr_at(&s, 1.0, 20, (100, 10), 1.0), 0.6));
        assert!(close(lr_at(&s, 1.0, 30, (100, 10), 1.0), 0.2));
        assert!(close(lr_at(&s, 1.0, 99, (100, 10), 1.0), 0.2));
        let constant = [Schedule::Constant { length: None }];
        assert!(close(lr_at(&constant, 0.3, 57, (100, 10), 1.0), 0.3));
        assert!(close(lr_at(&[], 0.3, 57, (100, 10), 1.0), 0.3));
    }

    #[test]
    fn step_and_one_cycle() {
        let step = [Schedule::Step { every: 2, gamma: 0.1 }];
        assert!(close(lr_at(&step, 1.0, 19, (60, 10), 1.0), 1.0));
        assert!(close(lr_at(&step, 1.0, 20, (60, 10), 1.0), 0.1));
        assert!(close(lr_at(&step, 1.0, 45, (60, 10), 1.0), 0.01));
        let cycle = [Schedule::OneCycle { max_lr: 1.0, pct: 0.25, div: 25.0, final_div: 1e4 }];
        let sgd = Optimizer::Sgd { lr: 0.1, momentum: 0.9, nesterov: false, weight_decay: 0.0 };
        assert!(close(base_lr(&sgd, &cycle), 1.0), "one_cycle's max_lr is the base rate");
        assert!(close(base_lr(&sgd, &step), 0.1));
        assert!(close(lr_at(&cycle, 1.0, 0, (100, 10), 1.0), 1.0 / 25.0));
        assert!(close(lr_at(&cycle, 1.0, 25, (100, 10), 1.0), 1.0));
        assert!(lr_at(&cycle, 1.0, 99, (100, 10), 1.0) < 1e-3);
    }

    #[test]
    fn exponential_polynomial_and_plateau() {
        let exp = [Schedule::Exponential { length: None, gamma: 0.5 }];
        assert!(close(lr_at(&exp, 1.0, 9, (100, 10), 1.0), 1.0));
        assert!(close(lr_at(&exp, 1.0, 10, (100, 10), 1.0), 0.5));
        assert!(close(lr_at(&exp, 1.0, 35, (100, 10), 1.0), 0.125));
        // DeepLab's poly: (1 − t)^0.9 over the run.
        let poly = [Schedule::Polynomial { length: None, power: 0.9, to: 0.0 }];
        assert!(close(lr_at(&poly, 0.01, 50, (100, 10), 1.0), 0.01 * 0.5f64.powf(0.9)));
        assert!(close(lr_at(&poly, 0.01, 0, (100, 10), 1.0), 0.01));
        let plateau = [
            Schedule::Warmup { length: Some(Length::Steps(10)), from: 0.0 },
            Schedule::Plateau {
                monitor: crate::ir::Monitor { split: "val".into(), metric: "loss".into() },
                mode: crate::ir::Mode::Min,
                factor: 0.1,
                patience: 2,
                threshold: 1e-4,
                min_lr: 0.002,
            },
        ];
        assert!(close(lr_at(&plateau, 0.1, 4, (100, 10), 0.1), 0.05), "warmup ignores the plateau factor");
        assert!(close(lr_at(&plateau, 0.1, 40, (100, 10), 0.1), 0.01));
        assert!(close(lr_at(&plateau, 0.1, 40, (100, 10), 0.001), 0.002), "never below min_lr");
    }

    /// `w = [0.5, −1]` (a 2 → 1 linear without bias) under the gradient `[1, 2]` of
    /// `x·w`, `x = [1, 2]`: the weights after `steps` steps of `optimizer` at rate `lr`.
    fn stepped(optimizer: &Optimizer, lr: f64, steps: usize) -> Vec<f32> {
        use burn::module::Param;
        use burn::tensor::{Device, Tensor, TensorData};
        let device = Device::flex().autodiff();
        let mut linear = burn::nn::LinearConfig::new(2, 1).with_bias(false).init(&device);
        linear.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![0.5f32, -1.0], [2, 1]), &device));
        let mut optim = build(optimizer, None);
        let x = Tensor::<2>::from_data(TensorData::new(vec![1.0f32, 2.0], [1, 2]), &device);
        for _ in 0..steps {
            let grads = burn::optim::GradientsParams::from_grads(linear.forward(x.clone()).sum().backward(), &linear);
            linear = optim.step(lr, linear, grads);
        }
        linear.weight.val().try_into_vec_as::<f32>().expect("floats")
    }

    fn all_close(got: &[f32], want: &[f64]) -> bool {
        got.len() == want.len() && got.iter().zip(want).all(|(g, w)| (*g as f64 - w).abs() < 1e-5)
    }

    /// One or two steps against the papers' updates (and PyTorch's RMSprop, which printed
    /// [0.41721708, −1.08290362] for the same two steps).
    #[test]
    fn rmsprop_lion_and_lamb_step_as_their_papers() {
        let (w, g) = ([0.5f64, -1.0], [1.0f64, 2.0]);
        // RMSprop, EfficientNet's settings: v = (1 − α)g², then α·v + (1 − α)g²; momentum on g / (√v + ε).
        let rms =
            Optimizer::RmsProp { lr: 0.01, alpha: 0.9, eps: 1e-3, momentum: 0.9, centered: false, weight_decay: 0.0 };
        let expected: Vec<f64> = (0..2)
            .map(|i| {
                let v1 = 0.1 * g[i] * g[i];
                let s1 = g[i] / (v1.sqrt() + 1e-3);
                let v2 = 0.9 * v1 + 0.1 * g[i] * g[i];
                let s2 = 0.9 * s1 + g[i] / (v2.sqrt() + 1e-3);
                w[i] - 0.01 * s1 - 0.01 * s2
            })
            .collect();
        let got = stepped(&rms, 0.01, 2);
        assert!(all_close(&got, &expected), "{got:?} vs {expected:?}");
        assert!(all_close(&got, &[0.41721708, -1.08290362]), "PyTorch: {got:?}");
        // Lion: w ← w·(1 − lr·λ) − lr·sign(β1·m + (1 − β1)·g), m = 0 at first.
        let lion = Optimizer::Lion { lr: 1e-3, beta1: 0.9, beta2: 0.99, weight_decay: 0.1 };
        let expected: Vec<f64> = (0..2).map(|i| w[i] * (1.0 - 1e-3 * 0.1) - 1e-3 * g[i].signum()).collect();
        assert!(all_close(&stepped(&lion, 1e-3, 1), &expected));
        // LAMB: the bias-corrected Adam ratio g / (|g| + ε) plus λ·w, scaled by ‖w‖ / ‖update‖.
        let lamb = Optimizer::Lamb { lr: 0.01, beta1: 0.9, beta2: 0.999, eps: 1e-6, weight_decay: 0.01 };
        let update: Vec<f64> = (0..2).map(|i| g[i] / (g[i].abs() + 1e-6) + 0.01 * w[i]).collect();
        let norm = |v: &[f64]| v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let trust = norm(&w) / norm(&update);
        let expected: Vec<f64> = (0..2).map(|i| w[i] - 0.01 * trust * update[i]).collect();
        let got = stepped(&lamb, 0.01, 1);
        assert!(all_close(&got, &expected), "{got:?} vs {expected:?}");
    }
}
