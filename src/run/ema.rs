//! Exponential moving average of the weights, evaluated instead of the raw weights when enabled.

use std::collections::HashMap;

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param, ParamId};
use burn::tensor::Tensor;

use crate::exec::Net;

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

/// The averaged copy, on the plain (non-autodiff) device.
pub struct Ema {
    pub net: Net,
    pub decay: f64,
}

impl Ema {
    pub fn new(net: &Net, decay: f64) -> Ema {
        // `valid()` makes an independent copy; `clone()` would share BatchNorm running stats.
        Ema { net: net.valid(), decay }
    }

    pub fn update(&mut self, live: &Net) {
        let mut collect = Collect { out: HashMap::new() };
        live.visit(&mut collect);
        // The old copy is consumed by `map`; cloning first is cheap (tensors are shared).
        self.net = self.net.clone().map(&mut Blend { live: &collect.out, decay: self.decay });
    }
}
