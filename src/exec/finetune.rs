//! Freezing and per-group learning rates on the weights (`freeze = […]`, `groups = […]`).
//!
//! A module path prefix becomes a burn [`ParamGroup`] matching the checkpoint keys under it,
//! `layers.<prefix>.…` ([`super::layers`]), so it names the same parameters however often the model
//! is rebuilt. Freezing is burn's `freeze_group`: the tensors stop requiring gradients, so they get
//! none and the optimizer leaves them and their state alone (no update, no weight decay, no
//! momentum), and the layers' training flags are cleared, so a frozen batch norm normalises with its
//! running statistics and does not update them (dropout under the prefix is off too). Learning-rate
//! groups are one [`ModuleLearningRate`] per step: the base rate, and the rate × multiplier for
//! each group, applied shortest prefix first so the longest matching prefix wins.

use burn::module::{Module, ParamGroup};
use burn::optim::lr_scheduler::module_lr_scheduler::{ModuleLearningRate, ModuleLrScheduler};

use super::Net;
use crate::ir::{Frozen, LrGroup, TrainSpec};

/// The group of every tensor and training flag under a module path prefix.
pub fn group(prefix: &str) -> ParamGroup {
    let escaped: String = prefix
        .chars()
        .flat_map(|c| {
            let meta = "\\.+*?()|[]{}^$#&-~".contains(c);
            meta.then_some('\\').into_iter().chain([c])
        })
        .collect();
    // Every meta character is escaped, so the pattern always compiles; no group matches nothing.
    ParamGroup::from_regex(format!("^layers\\.{escaped}\\.")).unwrap_or_else(|_| ParamGroup::from_ids(Vec::new()))
}

/// The prefixes frozen during the epoch after `epochs_done` finished ones.
pub fn active(freeze: &[Frozen], epochs_done: usize) -> Vec<String> {
    freeze.iter().filter(|f| f.active(epochs_done)).map(|f| f.path.clone()).collect()
}

/// Freezes exactly `frozen`: everything else trains.
pub fn apply(net: Net, frozen: &[String]) -> Net {
    frozen.iter().fold(net.unfreeze(), |net, path| net.freeze_group(group(path)))
}

/// What the weights are trained under: the prefixes frozen on them, and the learning-rate groups
/// in force. Both are set when an epoch starts, so a `watch` edit applies at the next epoch.
#[derive(Default)]
pub struct Tuning {
    /// The frozen prefixes applied to the weights; `None` before the first epoch and after the
    /// model was rebuilt, when the weights carry no freeze yet.
    applied: Option<Vec<String>>,
    groups: Vec<(ParamGroup, f64)>,
}

impl Tuning {
    /// Applies the freeze of the epoch after `epochs_done` and the groups of `spec`; returns the
    /// weights and the prefixes that were frozen until now and train from this epoch on.
    pub fn epoch_start(&mut self, net: Net, spec: &TrainSpec, epochs_done: usize) -> (Net, Vec<String>) {
        self.start(net, &spec.freeze, &spec.groups, epochs_done)
    }

    fn start(&mut self, net: Net, freeze: &[Frozen], groups: &[LrGroup], epochs_done: usize) -> (Net, Vec<String>) {
        self.groups = groups.iter().map(|g| (group(&g.path), g.lr)).collect();
        let now = active(freeze, epochs_done);
        // Weights that never saw a freeze need none applied when there is nothing to freeze.
        let net = match &self.applied {
            Some(before) if *before == now => net,
            None if now.is_empty() => net,
            _ => apply(net, &now),
        };
        // A resumed run says what unfroze at its first epoch as if it had run through.
        let before = self
            .applied
            .replace(now.clone())
            .unwrap_or_else(|| epochs_done.checked_sub(1).map(|e| active(freeze, e)).unwrap_or_default());
        (net, before.into_iter().filter(|p| !now.contains(p)).collect())
    }

    /// The weights were replaced by a model that carries no freeze.
    pub fn rebuilt(&mut self) {
        self.applied = None;
    }

    /// The learning rate of every parameter at a step whose rate is `lr`.
    pub fn lr(&self, lr: f64) -> ModuleLearningRate {
        if self.groups.is_empty() {
            return lr.into();
        }
        self.groups.iter().fold(ModuleLrScheduler::new(lr), |s, (g, m)| s.with_group(g.clone(), lr * m)).step()
    }
}

/// The lines `run` prints at the start about freezing and groups, at base rate `lr`.
pub fn describe(freeze: &[Frozen], groups: &[LrGroup], lr: f64) -> Vec<String> {
    let mut out = Vec::new();
    for f in freeze {
        out.push(match f.epochs {
            Some(n) => format!("frozen: {} for {n} epoch(s)", f.path),
            None => format!("frozen: {} for the whole run", f.path),
        });
    }
    for g in groups {
        out.push(format!(
            "learning-rate group: {} at {} × lr ({:.2e} at the base rate {lr:.2e})",
            g.path,
            g.lr,
            g.lr * lr
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::tensor::{Device, Tensor};

    use super::*;
    use crate::exec::net::Layer;

    /// Every float tensor's key and whether it requires a gradient.
    #[derive(Default)]
    struct Grads {
        path: Vec<String>,
        out: Vec<(String, bool)>,
    }

    impl burn::module::ModuleVisitor for Grads {
        fn enter_module(&mut self, name: &str, _: &str) {
            self.path.push(name.into());
        }
        fn exit_module(&mut self, _: &str, _: &str) {
            self.path.pop();
        }
        fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
            self.out.push((self.path.join("."), param.is_require_grad()));
        }
    }

    fn net() -> Net {
        let device = Device::flex().autodiff();
        let mut layers = crate::exec::layers::Layers::default();
        for path in ["a.conv", "a.bn", "ab.linear"] {
            let layer = match path {
                "a.bn" => Layer::BatchNorm(burn::nn::BatchNormConfig::new(2).init(&device)),
                _ => Layer::Linear(burn::nn::LinearConfig::new(2, 2).init(&device)),
            };
            layers.push(path, layer);
        }
        Net { layers, plan: Default::default(), precision: Default::default() }
    }

    /// The trainable tensors (running statistics are visited too, and never require one).
    fn grads(net: &Net) -> Vec<(String, bool)> {
        let mut v = Grads::default();
        net.visit(&mut v);
        v.out.into_iter().filter(|(k, _)| !k.contains(".running_")).collect()
    }

    #[test]
    fn a_prefix_freezes_its_subtree_only_and_unfreezes() {
        let mut tuning = Tuning::default();
        let freeze = [Frozen { path: "a".into(), epochs: Some(1) }];
        let (net, unfrozen) = tuning.start(net(), &freeze, &[], 0);
        assert!(unfrozen.is_empty());
        for (key, requires) in grads(&net) {
            assert_eq!(requires, key.starts_with("layers.ab."), "{key}");
        }
        let Layer::BatchNorm(bn) = &net.layers[1] else { panic!("a batch norm") };
        assert!(!bn.training.is_enabled(), "a frozen batch norm runs on its running statistics");
        let (net, unfrozen) = tuning.start(net, &freeze, &[], 1);
        assert_eq!(unfrozen, ["a"]);
        assert!(grads(&net).iter().all(|(_, r)| *r));
        let Layer::BatchNorm(bn) = &net.layers[1] else { panic!("a batch norm") };
        assert!(bn.training.is_enabled());
    }

    #[test]
    fn the_longest_group_wins() {
        let mut tuning = Tuning::default();
        let groups = [LrGroup { path: "a".into(), lr: 0.1 }, LrGroup { path: "a.bn".into(), lr: 0.5 }];
        let _ = tuning.start(net(), &[], &groups, 0);
        let lr = tuning.lr(2.0);
        let id = burn::module::ParamId::new();
        assert_eq!(lr.lr_from_param(id, Some("layers.a.conv.Linear.weight")), 0.2);
        assert_eq!(lr.lr_from_param(id, Some("layers.a.bn.BatchNorm.gamma")), 1.0);
        assert_eq!(lr.lr_from_param(id, Some("layers.ab.linear.Linear.weight")), 2.0);
    }

    /// The optimizer finds each parameter's group by the same key: a group at × 0 leaves its
    /// weights where they were, the others move.
    #[test]
    fn the_optimizer_steps_each_group_at_its_rate() {
        let net = net();
        let x = Tensor::<2>::ones([1, 2], &Device::flex().autodiff());
        let (Layer::Linear(a), Layer::Linear(b)) = (&net.layers[0], &net.layers[2]) else { panic!("two linears") };
        let loss = (a.forward(x.clone()) + b.forward(x)).sum();
        let grads = burn::optim::GradientsParams::from_grads(loss.backward(), &net);
        let mut tuning = Tuning::default();
        let (net, _) = tuning.start(net, &[], &[LrGroup { path: "a".into(), lr: 0.0 }], 0);
        let before = crate::exec::transplant::values(&net);
        let stepped = burn::optim::SgdConfig::new().init().step(tuning.lr(0.5), net, grads);
        let after = crate::exec::transplant::values(&stepped);
        for key in ["layers.a.conv.Linear.weight", "layers.ab.linear.Linear.weight"] {
            assert_eq!(before[key] == after[key], key.starts_with("layers.a."), "{key}");
        }
    }
}
