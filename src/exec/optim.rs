//! Optimizers from `optimizer = …`, and the learning rate at each step from `schedule = …`.

use burn::grad_clipping::GradientClippingConfig;
use burn::optim::decay::WeightDecayConfig;
use burn::optim::momentum::MomentumConfig;
use burn::optim::{AdamConfig, AdamWConfig, ModuleOptimizer, SgdConfig};

use crate::ir::Call;

/// Builds the optimizer. PyTorch's defaults are kept where burn's differ (AdamW ε, SGD dampening),
/// so a recipe ported from Lightning behaves the same.
pub fn build(call: &Call, clip: Option<f64>) -> ModuleOptimizer {
    let f = |k: &str, d: f64| call.f64(k).unwrap_or(d) as f32;
    let clip = clip.map(|c| GradientClippingConfig::Norm(c as f32));
    match call.name.as_str() {
        "sgd" => {
            let momentum = f("momentum", 0.0);
            let mut cfg = SgdConfig::new().with_gradient_clipping(clip);
            if momentum > 0.0 {
                cfg = cfg.with_momentum(Some(
                    MomentumConfig::new()
                        .with_momentum(momentum as f64)
                        .with_dampening(0.0)
                        .with_nesterov(call.bool("nesterov").unwrap_or(false)),
                ));
            }
            let wd = f("weight_decay", 0.0);
            if wd > 0.0 {
                cfg = cfg.with_weight_decay(Some(WeightDecayConfig::new(wd)));
            }
            cfg.init()
        }
        "adam" => {
            let wd = f("weight_decay", 0.0);
            AdamConfig::new()
                .with_beta_1(f("beta1", 0.9))
                .with_beta_2(f("beta2", 0.999))
                .with_epsilon(f("eps", 1e-8))
                .with_weight_decay((wd > 0.0).then(|| WeightDecayConfig::new(wd)))
                .with_grad_clipping(clip)
                .init()
        }
        _ => AdamWConfig::new()
            .with_beta_1(f("beta1", 0.9))
            .with_beta_2(f("beta2", 0.999))
            .with_epsilon(f("eps", 1e-8))
            .with_weight_decay(f("weight_decay", 0.01))
            .with_grad_clipping(clip)
            .init(),
    }
}

/// The base learning rate: the optimizer's `lr`, or `one_cycle`'s `max_lr`.
pub fn base_lr(optimizer: &Call, schedule: &[Call]) -> f64 {
    schedule
        .iter()
        .find(|c| c.name == "one_cycle")
        .and_then(|c| c.f64("max_lr"))
        .or(optimizer.f64("lr"))
        .unwrap_or(1e-3)
}

/// Learning rate at `step` (0-based) of `total` steps, `per_epoch` steps an epoch.
pub fn lr_at(schedule: &[Call], base: f64, step: usize, total: usize, per_epoch: usize) -> f64 {
    let per_epoch = per_epoch.max(1);
    let mut start = 0usize;
    for (i, seg) in schedule.iter().enumerate() {
        let last = i + 1 == schedule.len();
        let len = match (seg.i64("steps"), seg.i64("epochs")) {
            (Some(s), _) => s as usize,
            (_, Some(e)) => e as usize * per_epoch,
            _ => total.saturating_sub(start),
        }
        .max(1);
        if step >= start + len && !last {
            start += len;
            continue;
        }
        let t = ((step.saturating_sub(start)) as f64 / len as f64).min(1.0);
        return match seg.name.as_str() {
            "warmup" => {
                let from = seg.f64("from").unwrap_or(0.0);
                base * (from + (1.0 - from) * ((step - start + 1) as f64 / len as f64).min(1.0))
            }
            "cosine" => {
                let to = seg.f64("to").unwrap_or(0.0);
                to + (base - to) * 0.5 * (1.0 + (std::f64::consts::PI * t).cos())
            }
            "linear" => {
                let to = seg.f64("to").unwrap_or(0.0);
                base + (to - base) * t
            }
            "step" => {
                let every = seg.i64("every").unwrap_or(1).max(1) as usize * per_epoch;
                base * seg.f64("gamma").unwrap_or(0.1).powi(((step - start) / every) as i32)
            }
            "one_cycle" => {
                let pct = seg.f64("pct").unwrap_or(0.3);
                let (div, final_div) = (seg.f64("div").unwrap_or(25.0), seg.f64("final_div").unwrap_or(1e4));
                let (initial, min) = (base / div, base / div / final_div);
                let cos = |a: f64, b: f64, x: f64| b + (a - b) * 0.5 * (1.0 + (std::f64::consts::PI * x).cos());
                if t < pct { cos(initial, base, t / pct) } else { cos(base, min, (t - pct) / (1.0 - pct)) }
            }
            _ => base,
        };
    }
    base
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ir::Value;

    fn call(name: &str, args: &[(&str, Value)]) -> Call {
        Call { name: name.into(), args: args.iter().cloned().map(|(k, v)| (k.to_string(), v)).collect() }
    }

    #[test]
    fn warmup_then_cosine() {
        let s = vec![
            call("warmup", &[("steps", Value::Int(10)), ("from", Value::Float(0.0))]),
            call("cosine", &[("to", Value::Float(0.0))]),
        ];
        assert!((lr_at(&s, 1.0, 0, 110, 10) - 0.1).abs() < 1e-9);
        assert!((lr_at(&s, 1.0, 9, 110, 10) - 1.0).abs() < 1e-9);
        assert!((lr_at(&s, 1.0, 10, 110, 10) - 1.0).abs() < 1e-9);
        assert!((lr_at(&s, 1.0, 60, 110, 10) - 0.5).abs() < 1e-9);
        assert!(lr_at(&s, 1.0, 109, 110, 10) < 0.01);
    }
}
