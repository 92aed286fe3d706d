//! Mixed precision without autocast: burn 0.22 has none, so [`super::Net`] casts by hand, as
//! PyTorch's autocast does by op list. The weights stay f32 (master weights): a layer that
//! computes in the 16-bit type casts its input and a copy of its weights ([`low`]); autodiff's
//! `cast` casts the gradient back, so every gradient reaching the optimizer is f32.
//!
//! - Convolutions, transposed convolutions, linear layers and `matmul` compute in the compute
//!   type (bf16 or f16).
//! - Normalisations, softmax and attention compute in f32 ([`full`]): their sums and
//!   exponentials lose too much in 8 bits of mantissa.
//! - Everything else (activations, pooling, reshapes, dropout) keeps the type it is given; an
//!   `add`, `mul` or `concat` of an f32 and a 16-bit value computes in f32 ([`common`]).
//! - The model's outputs are cast to f32, so losses and metrics never see a 16-bit value.

use burn::tensor::{DType, FloatDType, Tensor};

use super::net::Act;
use crate::ir::Precision;

/// The 16-bit type `precision` computes in; `None` for f32.
pub fn compute_type(precision: Precision) -> Option<FloatDType> {
    match precision {
        Precision::F32 => None,
        Precision::Bf16 => Some(FloatDType::BF16),
        Precision::F16 => Some(FloatDType::F16),
    }
}

/// `t` in `dtype`; without a cast (and an autodiff node) when it already is.
pub fn cast<const D: usize>(t: Tensor<D>, dtype: FloatDType) -> Tensor<D> {
    if t.dtype() == DType::from(dtype) { t } else { t.cast(dtype) }
}

/// `t` in the compute type, or unchanged in f32 training.
pub fn low<const D: usize>(t: Tensor<D>, compute: Option<FloatDType>) -> Tensor<D> {
    match compute {
        Some(dtype) => cast(t, dtype),
        None => t,
    }
}

/// `t` in f32.
pub fn full<const D: usize>(t: Tensor<D>) -> Tensor<D> {
    cast(t, FloatDType::F32)
}

impl Act {
    /// The element type of the value.
    pub fn dtype(&self) -> DType {
        match self {
            Act::D2(t) => t.dtype(),
            Act::D3(t) => t.dtype(),
            Act::D4(t) => t.dtype(),
        }
    }

    /// The value in f32.
    pub fn full(self) -> Act {
        match self {
            Act::D2(t) => Act::D2(full(t)),
            Act::D3(t) => Act::D3(full(t)),
            Act::D4(t) => Act::D4(full(t)),
        }
    }

    /// The value in the compute type (unchanged in f32 training).
    pub fn low(self, compute: Option<FloatDType>) -> Act {
        match self {
            Act::D2(t) => Act::D2(low(t, compute)),
            Act::D3(t) => Act::D3(low(t, compute)),
            Act::D4(t) => Act::D4(low(t, compute)),
        }
    }
}

/// Values of one type for an element-wise op or a concatenation: all f32 when they differ.
pub fn common(values: Vec<Act>) -> Vec<Act> {
    let first = values.first().map(Act::dtype);
    if values.iter().all(|v| Some(v.dtype()) == first) { values } else { values.into_iter().map(Act::full).collect() }
}

/// `t` in `dtype` when that is a 16-bit or f32 float type (the types [`super::Net`] computes in).
pub fn like<const D: usize>(t: Tensor<D>, dtype: DType) -> Tensor<D> {
    match dtype {
        DType::BF16 => cast(t, FloatDType::BF16),
        DType::F16 => cast(t, FloatDType::F16),
        DType::F32 => cast(t, FloatDType::F32),
        _ => t,
    }
}

#[cfg(test)]
mod tests {
    use burn::module::Module;
    use burn::tensor::{DType, Device, Distribution, Tensor};

    use crate::exec::Net;
    use crate::frontend::{Options, check_text};
    use crate::host::MemHost;
    use crate::ir::Precision;

    /// A model with every kind of cast: conv and linear (16-bit), batch norm and softmax (f32),
    /// and an `add` of the two.
    const MODEL: &str = "model m(x: Image[B, 3, 8, 8]) -> Logits[B, 4] {
  a = x |> conv2d(4, k = 3, padding = 1) |> relu
  b = a |> batch_norm
  h = add(a, b) |> conv2d(4, k = 3, padding = 1) |> flatten |> linear(4)
  return softmax(h)
}";

    fn net(precision: Precision, device: &Device) -> Net {
        let outcome = check_text(&MemHost::new(), "m.train", MODEL, &Options::default());
        assert!(!outcome.has_errors(), "{}", outcome.render(false));
        Net::build(&outcome.checked.models["m"], device).expect("compiles").with_precision(precision)
    }

    #[test]
    fn layers_compute_in_bf16_and_the_outputs_are_f32() {
        let device = Device::flex().autodiff();
        let net = net(Precision::Bf16, &device);
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let mut types = Vec::new();
        let outputs = net.forward_traced(vec![x], |step, act| types.push((step.path.clone(), act.dtype())));
        let of = |prefix: &str| types.iter().find(|(p, _)| p.starts_with(prefix)).map(|(_, t)| *t);
        assert_eq!(of("conv2d0"), Some(DType::BF16), "{types:?}");
        assert_eq!(of("relu0"), Some(DType::BF16), "{types:?}");
        assert_eq!(of("batch_norm0"), Some(DType::F32), "{types:?}");
        // bf16 + f32 is computed in f32; the next conv and the linear layer go back to bf16.
        assert_eq!(of("add0"), Some(DType::F32), "{types:?}");
        assert_eq!(of("conv2d1"), Some(DType::BF16), "{types:?}");
        assert_eq!(of("linear0"), Some(DType::BF16), "{types:?}");
        assert_eq!(of("softmax0"), Some(DType::F32), "{types:?}");
        let (_, out) = outputs.into_iter().next().expect("one output");
        assert_eq!(out.dtype(), DType::F32);

        // The master weights and their gradients stay f32.
        let grads = out.d2().sum().backward();
        let conv =
            net.layers.iter().find_map(|l| if let super::super::net::Layer::Conv(c) = l { Some(c) } else { None });
        let weight = conv.expect("a conv layer").weight.val();
        assert_eq!(weight.dtype(), DType::F32);
        assert_eq!(weight.grad(&grads).expect("a gradient").dtype(), DType::F32);
        assert_eq!(net.valid().precision, Precision::Bf16, "evaluation copies keep the precision");
    }

    #[test]
    fn f32_training_casts_nothing() {
        let device = Device::flex();
        let net = net(Precision::F32, &device);
        let x = Tensor::<4>::random([2, 3, 8, 8], Distribution::Normal(0.0, 1.0), &device);
        let mut types = Vec::new();
        net.forward_traced(vec![x], |_, act| types.push(act.dtype()));
        assert!(types.iter().all(|t| *t == DType::F32), "{types:?}");
    }
}
