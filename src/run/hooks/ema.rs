//! Exponential moving average of the weights, evaluated instead of the raw weights when enabled.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use std::path::PathBuf;

use super::checkpoint::save_net;
use super::{Control, EpochEnd, Hook, StepEnd};
use crate::exec::Net;
use crate::run::RunError;

struct Collect {
    out: HashMap<ParamId, Tensor<1>>,
}

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, param: &Param<Tensor<D>>) {
        self.out.insert(param.id, param.val().inner().reshape([-1]));
    }
}

struct Blend<'a> {
    live: &'a HashMap<ParamId, Tensor<1>>,
    decay: f64,
}

impl ModuleMapper for Blend<'_> {
    fn map_float<const D: usize>(&mut self, param: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let Some(live) = self.live.get(&param.id) else { return param };
        let decay = self.decay;
        let live = live.clone();
        param.map(|ema| {
            let dims = ema.dims();
            ema * decay + live.reshape(dims) * (1.0 - decay)
        })
    }
}

/// The averaged copy, on the plain (non-autodiff) device. Generic over the module so the tests
/// can check the arithmetic on a single burn layer.
pub struct Ema<M = Net> {
    pub net: M,
    pub decay: f64,
}

impl<M: Module> Ema<M> {
    pub fn new(net: &M, decay: f64) -> Ema<M> {
        // `valid()` makes an independent copy; `clone()` would share BatchNorm running stats.
        Ema { net: net.valid(), decay }
    }

    pub fn update(&mut self, live: &M) {
        let mut collect = Collect { out: HashMap::new() };
        live.visit(&mut collect);
        // The old copy is consumed by `map`; cloning first is cheap (tensors are shared).
        self.net = self.net.clone().map(&mut Blend { live: &collect.out, decay: self.decay });
    }
}

/// The EMA hook: updates after every optimizer step, provides the weights that validation, the
/// best checkpoints and the test split use, and saves `ema.bpk` with the last checkpoint.
pub struct EmaHook {
    pub ema: Ema,
    /// The run's checkpoint folder.
    pub dir: PathBuf,
}

impl Hook for EmaHook {
    fn name(&self) -> &'static str {
        "ema"
    }

    /// Resuming reloads the average saved with the last checkpoint.
    fn on_train_start(&mut self, state: &crate::run::State) -> Result<(), RunError> {
        if state.epochs_done == 0 {
            return Ok(());
        }
        let path = self.dir.join("ema.bpk");
        self.ema.net = self
            .ema
            .net
            .clone()
            .try_load_file(&path)
            .map_err(|e| RunError::Checkpoint { path, message: e.to_string() })?;
        Ok(())
    }

    fn on_step_end(&mut self, step: &StepEnd) -> Result<(), RunError> {
        self.ema.update(step.net);
        Ok(())
    }

    fn on_epoch_end(&mut self, _end: &EpochEnd) -> Result<Control, RunError> {
        save_net(&self.ema.net, &self.dir.join("ema.bpk"))?;
        Ok(Control::Continue)
    }

    fn eval_weights(&self) -> Option<&Net> {
        Some(&self.ema.net)
    }

    /// A rebuilt model starts a new average (the old one has other layers).
    fn on_rebuild(&mut self, rebuilt: &super::Rebuilt) -> Result<(), RunError> {
        self.ema = Ema::new(rebuilt.net, self.ema.decay);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Param;
    use burn::nn::{Linear, LinearConfig};
    use burn::tensor::{Device, Tensor, TensorData};

    use super::*;

    fn with_weight(layer: &Linear, value: f32) -> Linear {
        let mut l = layer.clone();
        let device = Device::flex();
        l.weight = Param::from_tensor(Tensor::from_data(TensorData::new(vec![value; 4], [2, 2]), &device));
        l
    }

    fn weights(l: &Linear) -> Vec<f32> {
        l.weight.val().try_into_vec_as::<f32>().expect("read")
    }

    #[test]
    fn each_update_moves_the_average_by_one_minus_decay() {
        let device = Device::flex();
        let base = with_weight(&LinearConfig::new(2, 2).with_bias(false).init(&device), 1.0);
        let mut ema = Ema::new(&base, 0.9);
        // The parameter ids must match the live module's: only the values change.
        let mut live = base.clone();
        live.weight = live.weight.clone().map(|w| w.zeros_like() + 3.0);
        ema.update(&live);
        assert!(weights(&ema.net).iter().all(|w| (w - 1.2).abs() < 1e-6), "{:?}", weights(&ema.net));
        ema.update(&live);
        assert!(weights(&ema.net).iter().all(|w| (w - 1.38).abs() < 1e-5), "{:?}", weights(&ema.net));
        assert!(weights(&live).iter().all(|w| *w == 3.0), "the live weights are untouched");
    }
}
