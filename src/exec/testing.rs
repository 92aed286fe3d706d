//! Test helpers shared by the kernels' tests ([`super::conv`], [`super::norm`],
//! `super::tch_ops`): each compares a kernel against burn's own op on the same inputs.

use burn::module::{Param, RunningState};
use burn::nn::{BatchNorm, BatchNormConfig};
use burn::tensor::ops::ConvOptions;
use burn::tensor::{Device, Distribution, Tensor, TensorData};

/// Largest difference allowed between a kernel's values and burn's (f32 sums in another order).
pub const TOLERANCE: f32 = 1e-3;

pub fn normal() -> Distribution {
    Distribution::Normal(0.0, 1.0)
}

pub fn assert_close<const D: usize>(actual: Tensor<D>, expected: Tensor<D>, what: &str) {
    assert_eq!(actual.dims(), expected.dims(), "{what}: shapes differ");
    let actual = actual.into_data().try_into_vec::<f32>().expect("f32 data");
    let expected = expected.into_data().try_into_vec::<f32>().expect("f32 data");
    assert!(actual.iter().chain(&expected).all(|v| v.is_finite()), "{what}: non-finite values");
    let worst = actual.iter().zip(&expected).map(|(a, e)| (a - e).abs()).fold(0.0f32, f32::max);
    assert!(worst <= TOLERANCE, "{what}: max |actual - expected| = {worst}");
}

pub fn grad_of<const D: usize>(t: &Tensor<D>, grads: &burn::tensor::Gradients, what: &str) -> Tensor<D> {
    t.grad(grads).unwrap_or_else(|| panic!("{what}: no gradient"))
}

/// `(channels_in, channels_out, kernel, options)`: groups, dilation, stride, symmetric and
/// asymmetric padding, 1×1 and 5×5 kernels, depthwise, one input channel.
pub fn conv_configs() -> Vec<(usize, usize, usize, ConvOptions<2>)> {
    // (c, o, k, padding, dilation, stride), groups 1.
    let mut configs: Vec<_> =
        [(3, 5, 3, 1, 1, 1), (4, 2, 3, 0, 2, 1), (2, 3, 1, 0, 1, 1), (1, 4, 5, 2, 1, 1), (3, 4, 3, 1, 1, 2)]
            .into_iter()
            .map(|(c, o, k, p, d, s)| (c, o, k, ConvOptions::new([s, s], [p, p], [d, d], 1)))
            .collect();
    configs.push((4, 6, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 2)));
    configs.push((6, 6, 3, ConvOptions::new([2, 1], [1, 1], [1, 1], 6)));
    configs.push((3, 4, 3, ConvOptions::new_with_padding([1, 1], [(1, 0), (0, 2)], [1, 1], 1)));
    configs.push((2, 3, 3, ConvOptions::new([2, 2], [1, 1], [2, 2], 1)));
    configs.push((8, 4, 3, ConvOptions::new_with_padding([1, 2], [(0, 1), (2, 0)], [2, 1], 2)));
    configs.push((6, 5, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)));
    configs.push((5, 3, 1, ConvOptions::new([1, 1], [0, 0], [1, 1], 1)));
    // Enough channels for Winograd (`exec::winograd`), with same and asymmetric padding.
    configs.push((16, 16, 3, ConvOptions::new([1, 1], [1, 1], [1, 1], 1)));
    configs.push((16, 20, 3, ConvOptions::new_with_padding([1, 1], [(2, 0), (0, 1)], [1, 1], 1)));
    configs
}

/// A `conv2d` under test: `(x, weight, bias, options)`.
pub type Conv = fn(Tensor<4>, Tensor<4>, Option<Tensor<1>>, ConvOptions<2>) -> Tensor<4>;

/// `conv`'s output and the gradients of x (when `x_grad`), weight and bias against burn's own
/// `conv2d` on `device` (an autodiff device), for an input of shape `x` and `o` output channels
/// of a `k × k` kernel. The output goes on through a ReLU, as in a network (and in place where
/// a backend can).
pub struct ConvCase {
    pub x: [usize; 4],
    pub o: usize,
    pub k: usize,
    pub options: ConvOptions<2>,
    pub with_bias: bool,
    pub x_grad: bool,
    /// `conv` is a fused `conv2d |> relu`: compared with burn's `relu(conv2d(..))`.
    pub relu: bool,
}

pub fn check_conv(device: &Device, conv: Conv, case: ConvCase) {
    let ConvCase { x, o, k, options, with_bias, x_grad, relu } = case;
    let what = format!("x={x:?} o={o} k={k} {options:?} bias={with_bias} x_grad={x_grad} relu={relu}");
    let c = x[1];
    let x = Tensor::<4>::random(x, normal(), device).into_data();
    let w = Tensor::<4>::random([o, c / options.groups, k, k], normal(), device).into_data();
    let b = Tensor::<1>::random([o], normal(), device).into_data();
    let leaves = || {
        let x = Tensor::<4>::from_data(x.clone(), device);
        let x = if x_grad { x.require_grad() } else { x };
        let w = Tensor::<4>::from_data(w.clone(), device).require_grad();
        let b = with_bias.then(|| Tensor::<1>::from_data(b.clone(), device).require_grad());
        (x, w, b)
    };
    let ((x_ref, w_ref, b_ref), (x_new, w_new, b_new)) = (leaves(), leaves());
    let expected = burn::tensor::module::conv2d(x_ref.clone(), w_ref.clone(), b_ref.clone(), options.clone());
    let expected = if relu { burn::tensor::activation::relu(expected) } else { expected };
    let actual = conv(x_new.clone(), w_new.clone(), b_new.clone(), options);
    assert_close(actual.clone().inner(), expected.clone().inner(), &format!("{what}: output"));
    let upstream = Tensor::<4>::random(expected.dims(), normal(), device);
    let grads_ref = (burn::tensor::activation::relu(expected) * upstream.clone()).sum().backward();
    let grads_new = (burn::tensor::activation::relu(actual) * upstream).sum().backward();
    match (x_ref.grad(&grads_ref), x_new.grad(&grads_new)) {
        (Some(expected), Some(actual)) => assert_close(actual, expected, &format!("{what}: x grad")),
        (None, None) => assert!(!x_grad, "{what}: no x grad"),
        _ => panic!("{what}: x grad present on one side only"),
    }
    let w_what = format!("{what}: weight grad");
    assert_close(grad_of(&w_new, &grads_new, &w_what), grad_of(&w_ref, &grads_ref, &w_what), &w_what);
    if let (Some(b_ref), Some(b_new)) = (b_ref, b_new) {
        let b_what = format!("{what}: bias grad");
        assert_close(grad_of(&b_new, &grads_new, &b_what), grad_of(&b_ref, &grads_ref, &b_what), &b_what);
    }
}

/// Two identical batch norms with non-trivial gamma, beta and running statistics.
pub fn batch_norms(channels: usize, device: &Device) -> (BatchNorm, BatchNorm) {
    let values =
        |seed: f32| TensorData::new((0..channels).map(|i| seed + 0.3 * i as f32).collect::<Vec<_>>(), [channels]);
    let make = || {
        let mut m = BatchNormConfig::new(channels).with_momentum(0.2).init(device);
        m.gamma = Param::from_tensor(Tensor::from_data(values(0.5), device));
        m.beta = Param::from_tensor(Tensor::from_data(values(-0.2), device));
        m.running_mean = RunningState::new(Tensor::from_data(values(0.1), device));
        m.running_var = RunningState::new(Tensor::from_data(values(1.5), device));
        m
    };
    (make(), make())
}

/// `batch_norm`'s output, running statistics (after two steps) and gradients of x, gamma and
/// beta against `burn::nn::BatchNorm::forward` on `device` (an autodiff device), in training mode
/// or frozen (evaluation mode on the autodiff device). With `relu`, `batch_norm` is a fused
/// `batch_norm |> relu`, compared with burn's `relu` after burn's batch norm.
pub fn check_batch_norm<const D: usize>(
    device: &Device,
    batch_norm: impl Fn(&BatchNorm, Tensor<D>) -> Tensor<D>,
    shape: [usize; D],
    (frozen, relu): (bool, bool),
) {
    let what = format!("{shape:?} frozen={frozen} relu={relu}");
    let (mut reference, mut ours) = batch_norms(shape[1], device);
    if frozen {
        reference.training = Param::from_bool(false);
        ours.training = Param::from_bool(false);
    }
    for step in 0..2 {
        let what = format!("{what} step {step}");
        let x = Tensor::<D>::random(shape, Distribution::Normal(1.0, 2.0), device).into_data();
        let x_ref = Tensor::<D>::from_data(x.clone(), device).require_grad();
        let x_new = Tensor::<D>::from_data(x, device).require_grad();
        let expected = reference.forward(x_ref.clone());
        let expected = if relu { burn::tensor::activation::relu(expected) } else { expected };
        let actual = batch_norm(&ours, x_new.clone());
        assert_close(actual.clone().inner(), expected.clone().inner(), &format!("{what}: output"));
        let upstream = Tensor::<D>::random(shape, normal(), device);
        let grads_ref = (expected * upstream.clone()).sum().backward();
        let grads_new = (actual * upstream).sum().backward();
        let pairs = [
            (
                "x grad",
                grad_of(&x_new, &grads_new, &what).flatten::<1>(0, D - 1),
                grad_of(&x_ref, &grads_ref, &what).flatten(0, D - 1),
            ),
            (
                "gamma grad",
                grad_of(&ours.gamma.val(), &grads_new, &what),
                grad_of(&reference.gamma.val(), &grads_ref, &what),
            ),
            (
                "beta grad",
                grad_of(&ours.beta.val(), &grads_new, &what),
                grad_of(&reference.beta.val(), &grads_ref, &what),
            ),
            ("running mean", ours.running_mean.value_sync(), reference.running_mean.value_sync()),
            ("running var", ours.running_var.value_sync(), reference.running_var.value_sync()),
        ];
        for (name, actual, expected) in pairs {
            assert_close(actual.inner(), expected.inner(), &format!("{what}: {name}"));
        }
    }
}
