//! The graph compiler: a checked [`ModelGraph`] becomes a burn module.
//!
//! burn's `Module` is not object safe, so a model built at run time is a `Vec` of one
//! `#[derive(Module)]` enum of the layers that hold weights or state ([`Layer`]), plus a plain
//! wiring [`Plan`] in topological order that says which values feed which step. Ops without
//! weights (activations, add, concat, flatten) are plan steps only. Values of different rank
//! travel as [`Act`]. Checkpoint keys follow the module path, `layers.<path>.<Variant>.<param>`
//! ([`Layers`]), so a checkpoint reloads into any model that still has the layer.

use burn::module::{Module, Param};
use burn::nn::attention::{MhaInput, MultiHeadAttention, MultiHeadAttentionConfig};
use burn::nn::conv::{Conv2d, Conv2dConfig, ConvTranspose2d, ConvTranspose2dConfig};
use burn::nn::interpolate::{Interpolate2d, Interpolate2dConfig, InterpolateMode};
use burn::nn::pool::{
    AdaptiveAvgPool2d, AdaptiveAvgPool2dConfig, AvgPool2d, AvgPool2dConfig, MaxPool2d, MaxPool2dConfig,
};
use burn::nn::{
    BatchNorm, BatchNormConfig, Dropout, DropoutConfig, GroupNorm, GroupNormConfig, LayerNorm, LayerNormConfig, Linear,
    LinearConfig, PRelu, PReluConfig, PaddingConfig2d,
};
use burn::tensor::activation;
use burn::tensor::ops::{ConvOptions, ConvTransposeOptions};
use burn::tensor::{Device, Distribution, FloatDType, Tensor};
use petgraph::algo::toposort;
use petgraph::visit::EdgeRef;

use super::layers::Layers;
use super::ops::{self, Binary};
use super::precision::{self, full, low};
use crate::check::dim::Dim;
use crate::ir::{Init, ModelGraph, Op, Precision, Reduce};

/// Layers with weights or running state.
// Boxing the attention variant would keep the enum small, but burn's `Module` derive does not
// see through `Box`; a model holds a few hundred layers at most, built once.
#[allow(clippy::large_enum_variant)]
#[derive(Module, Debug)]
pub enum Layer {
    Conv(Conv2d),
    ConvT(ConvTranspose2d),
    Linear(Linear),
    BatchNorm(BatchNorm),
    GroupNorm(GroupNorm),
    LayerNorm(LayerNorm),
    Dropout(Dropout),
    MaxPool(MaxPool2d),
    AvgPool(AvgPool2d),
    AdaptivePool(AdaptiveAvgPool2d),
    Upsample(Interpolate2d),
    Prelu(PRelu),
    /// burn's `Dropout` for its probability and training flag; the mask is per channel.
    Dropout2d(Dropout),
    /// The same, with a mask per sample.
    DropPath(Dropout),
    /// A layer norm over axis 1 of `[B, C, H, W]`.
    ChannelNorm(LayerNorm),
    Attention(MultiHeadAttention),
    /// A `param` of rank 2, 3 or 4.
    Param2(Param<Tensor<2>>),
    Param3(Param<Tensor<3>>),
    Param4(Param<Tensor<4>>),
}

/// What a plan step does.
#[derive(Clone, Debug)]
pub enum Kind {
    Input(usize),
    Layer(usize),
    /// A `param` layer: a value without an input.
    Param(usize),
    Relu,
    Gelu,
    GeluTanh,
    Relu6,
    Hardswish,
    Hardsigmoid,
    Mish,
    Silu,
    Sigmoid,
    Tanh,
    LeakyRelu(f64),
    Softmax(usize),
    Flatten(usize, usize),
    Add,
    Sub,
    Mul,
    Scale(f64),
    Matmul,
    Reduce(Reduce, Vec<usize>, bool),
    /// The dimensions after the batch.
    Reshape(Vec<usize>),
    Permute(Vec<usize>),
    Select(usize, usize),
    Concat(usize),
    Identity,
}

#[derive(Clone, Debug)]
pub struct Step {
    pub kind: Kind,
    /// Indices of earlier steps, in argument order.
    pub inputs: Vec<usize>,
    /// The node's path in the checked graph, for errors and summaries.
    pub path: String,
}

#[derive(Clone, Debug, Default)]
pub struct Plan {
    pub steps: Vec<Step>,
    /// Output names and the steps that produce them.
    pub outputs: Vec<(String, usize)>,
}

impl Plan {
    /// Each step's last reader: `usize::MAX` for model outputs, 0 for steps nothing reads.
    fn last_uses(&self) -> Vec<usize> {
        let mut last_use = vec![0; self.steps.len()];
        for (i, s) in self.steps.iter().enumerate() {
            for &j in &s.inputs {
                last_use[j] = i;
            }
        }
        for (_, o) in &self.outputs {
            last_use[*o] = usize::MAX;
        }
        last_use
    }
}

#[derive(Module, Debug)]
pub struct Net {
    pub layers: Layers,
    #[module(skip)]
    pub plan: Plan,
    /// What convolutions, linear layers and products compute in (`train { precision }`; see
    /// [`super::precision`]). The weights are f32 whatever this says.
    #[module(skip)]
    pub precision: Precision,
}

/// A value in flight: tensors of the ranks models produce.
#[derive(Clone, Debug)]
pub enum Act {
    D2(Tensor<2>),
    D3(Tensor<3>),
    D4(Tensor<4>),
}

macro_rules! each_rank {
    ($act:expr, $t:ident => $e:expr) => {
        match $act {
            Act::D2($t) => Act::D2($e),
            Act::D3($t) => Act::D3($e),
            Act::D4($t) => Act::D4($e),
        }
    };
}

impl Act {
    pub fn d2(self) -> Tensor<2> {
        match self {
            Act::D2(t) => t,
            Act::D3(t) => t.flatten(1, 2),
            Act::D4(t) => t.flatten(1, 3),
        }
    }

    pub fn d4(self) -> Option<Tensor<4>> {
        match self {
            Act::D4(t) => Some(t),
            _ => None,
        }
    }
}

/// [`Conv2d::forward`] through [`super::conv::conv2d`], which picks the fastest measured way for
/// the backend (BENCHMARKS.md), then `relu` when `relu` (fused on Flex:
/// [`super::conv::conv2d_relu`]).
/// In `compute` (with 16-bit copies of the weights) when given.
fn conv(m: &Conv2d, x: Tensor<4>, compute: Option<FloatDType>, relu: bool) -> Tensor<4> {
    let conv2d = if relu { super::conv::conv2d_relu } else { super::conv::conv2d };
    // `Net::build` only makes explicit paddings (the checker resolved them).
    let PaddingConfig2d::Explicit(top, left, bottom, right) = m.padding else {
        let y = m.forward(full(x));
        return if relu { activation::relu(y) } else { y };
    };
    let options = ConvOptions::new_with_padding(m.stride, [(top, bottom), (left, right)], m.dilation, m.groups);
    if compute.is_none() {
        return conv2d(x, m.weight.val(), m.bias.as_ref().map(|b| b.val()), options);
    }
    // The weight before the bias: burn initialises a parameter on its first use, from the
    // seeded generator, so the order of first uses is the order of the initial draws.
    let weight = low(m.weight.val(), compute);
    let bias = m.bias.as_ref().map(|b| low(b.val(), compute));
    conv2d(low(x, compute), weight, bias, options)
}

/// [`ConvTranspose2d::forward`] through [`super::conv_transpose::conv_transpose2d`] (trainc's
/// kernel on Flex), in `compute` when given.
fn conv_transpose(m: &ConvTranspose2d, x: Tensor<4>, compute: Option<FloatDType>) -> Tensor<4> {
    let options = ConvTransposeOptions::new(m.stride, m.padding, m.padding_out, m.dilation, m.groups);
    let weight = low(m.weight.val(), compute);
    let bias = m.bias.as_ref().map(|b| low(b.val(), compute));
    super::conv_transpose::conv_transpose2d(low(x, compute), weight, bias, options)
}

/// [`Linear::forward`], in `compute` when given.
fn linear<const D: usize>(m: &Linear, x: Tensor<D>, compute: Option<FloatDType>) -> Tensor<D> {
    if compute.is_none() {
        return m.forward(x);
    }
    let weight = low(m.weight.val(), compute);
    let bias = m.bias.as_ref().map(|b| low(b.val(), compute));
    burn::tensor::module::linear(low(x, compute), weight, bias)
}

/// [`BatchNorm::forward`], through libtorch's own batch norm on LibTorch tensors
/// ([`super::tch_ops::batch_norm`]) and trainc's on Flex ([`super::norm::batch_norm`]).
pub fn batch_norm<const D: usize>(m: &BatchNorm, x: Tensor<D>) -> Tensor<D> {
    #[cfg(feature = "tch")]
    return super::tch_ops::batch_norm(m, x);
    #[cfg(not(feature = "tch"))]
    super::norm::batch_norm(m, x)
}

/// Why a checked graph cannot be compiled.
#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("layer `{path}`: `{what}` is {dim}, which is not known; bind the model to data with a fixed image size")]
    Symbolic { path: String, what: &'static str, dim: String },
    #[error("model `{0}` has a cycle")]
    Cycle(String),
}

fn known(path: &str, what: &'static str, d: &Dim) -> Result<usize, CompileError> {
    d.value().map(|n| n as usize).ok_or_else(|| CompileError::Symbolic { path: path.into(), what, dim: d.to_string() })
}

/// What one node compiles to: a layer with weights or state, or a plain plan step.
// One lives per node while the model is built, so the size of the larger variant does not matter.
#[allow(clippy::large_enum_variant)]
enum Compiled {
    Layer(Layer),
    Step(Kind),
}

/// The executor's arm for each [`Op`].
fn compile(op: &Op, path: &str, device: &Device) -> Result<Compiled, CompileError> {
    let u = |x: i64| x as usize;
    Ok(match op {
        Op::Input(i) => Compiled::Step(Kind::Input(*i)),
        Op::Conv2d { in_ch, out, k, stride, padding, dilation, groups, bias } => {
            let (i, o) = (known(path, "input channels", in_ch)?, known(path, "output channels", out)?);
            let p = u(*padding);
            Compiled::Layer(Layer::Conv(
                Conv2dConfig::new([i, o], [u(*k), u(*k)])
                    .with_stride([u(*stride), u(*stride)])
                    .with_dilation([u(*dilation), u(*dilation)])
                    .with_groups(u(*groups))
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .with_bias(*bias)
                    .init(device),
            ))
        }
        Op::ConvTranspose2d { in_ch, out, k, stride, padding, output_padding, dilation, groups, bias } => {
            let (i, o) = (known(path, "input channels", in_ch)?, known(path, "output channels", out)?);
            Compiled::Layer(Layer::ConvT(
                ConvTranspose2dConfig::new([i, o], [u(*k), u(*k)])
                    .with_stride([u(*stride), u(*stride)])
                    .with_dilation([u(*dilation), u(*dilation)])
                    .with_groups(u(*groups))
                    .with_padding([u(*padding), u(*padding)])
                    .with_padding_out([u(*output_padding), u(*output_padding)])
                    .with_bias(*bias)
                    .init(device),
            ))
        }
        Op::Linear { in_f, out, bias } => {
            let (i, o) = (known(path, "input features", in_f)?, known(path, "output features", out)?);
            Compiled::Layer(Layer::Linear(LinearConfig::new(i, o).with_bias(*bias).init(device)))
        }
        Op::BatchNorm { ch, momentum, eps } => Compiled::Layer(Layer::BatchNorm(
            BatchNormConfig::new(known(path, "channels", ch)?).with_momentum(*momentum).with_epsilon(*eps).init(device),
        )),
        Op::GroupNorm { groups, ch, eps } => Compiled::Layer(Layer::GroupNorm(
            GroupNormConfig::new(u(*groups), known(path, "channels", ch)?).with_epsilon(*eps).init(device),
        )),
        Op::LayerNorm { dim, eps, channels } => {
            let norm = LayerNormConfig::new(known(path, "features", dim)?).with_epsilon(*eps).init(device);
            Compiled::Layer(if *channels { Layer::ChannelNorm(norm) } else { Layer::LayerNorm(norm) })
        }
        Op::Dropout { p } => Compiled::Layer(Layer::Dropout(DropoutConfig::new(*p).init())),
        Op::MaxPool { k, stride, padding } => {
            let p = u(*padding);
            Compiled::Layer(Layer::MaxPool(
                MaxPool2dConfig::new([u(*k), u(*k)])
                    .with_strides([u(*stride), u(*stride)])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(),
            ))
        }
        Op::AvgPool { k, stride, padding } => {
            let p = u(*padding);
            Compiled::Layer(Layer::AvgPool(
                AvgPool2dConfig::new([u(*k), u(*k)])
                    .with_strides([u(*stride), u(*stride)])
                    .with_padding(PaddingConfig2d::Explicit(p, p, p, p))
                    .init(),
            ))
        }
        Op::AdaptiveAvgPool { size } => {
            Compiled::Layer(Layer::AdaptivePool(AdaptiveAvgPool2dConfig::new([u(*size), u(*size)]).init()))
        }
        Op::Upsample { scale, bilinear } => {
            let mode = if *bilinear { InterpolateMode::Linear } else { InterpolateMode::Nearest };
            let s = *scale as f32;
            Compiled::Layer(Layer::Upsample(
                Interpolate2dConfig::new()
                    .with_scale_factor(Some([s, s]))
                    .with_mode(mode)
                    .with_align_corners(false)
                    .init(),
            ))
        }
        Op::Prelu { slopes, init } => Compiled::Layer(Layer::Prelu(
            PReluConfig::new().with_num_parameters(known(path, "slopes", slopes)?).with_alpha(*init).init(device),
        )),
        Op::Dropout2d { p } => Compiled::Layer(Layer::Dropout2d(regulariser(*p))),
        Op::DropPath { p } => Compiled::Layer(Layer::DropPath(regulariser(*p))),
        Op::Attention { dim, heads, dropout } => Compiled::Layer(Layer::Attention(
            MultiHeadAttentionConfig::new(known(path, "width", dim)?, u(*heads)).with_dropout(*dropout).init(device),
        )),
        Op::Param { dims, init } => {
            let dims = dims.iter().map(|d| known(path, "parameter size", d)).collect::<Result<Vec<_>, _>>()?;
            Compiled::Layer(param(&dims, *init, device))
        }
        other => Compiled::Step(step(other, path)?),
    })
}

/// A `Dropout` holding the probability and training flag of `dropout2d` and `drop_path`.
fn regulariser(p: f64) -> Dropout {
    // burn's `Dropout` refuses 1; a mask that keeps nothing is the same in `ops::masked`.
    DropoutConfig::new(p.min(0.999_999)).init()
}

/// A learned tensor of rank 2 to 4 (the checker's promise), initialised.
fn param(dims: &[usize], init: Init, device: &Device) -> Layer {
    let mut four = [1usize; 4];
    four[..dims.len()].copy_from_slice(dims);
    let t: Tensor<4> = match init {
        Init::Full(v) => Tensor::full(four, v, device),
        Init::Normal { std } => Tensor::random(four, Distribution::Normal(0.0, std), device),
        Init::TruncNormal { std } => {
            Tensor::random(four, Distribution::Normal(0.0, std), device).clamp(-2.0 * std, 2.0 * std)
        }
    };
    match dims.len() {
        2 => Layer::Param2(Param::from_tensor(t.reshape([dims[0], dims[1]]))),
        3 => Layer::Param3(Param::from_tensor(t.reshape([dims[0], dims[1], dims[2]]))),
        _ => Layer::Param4(Param::from_tensor(t)),
    }
}

/// The plan step of an op without weights.
fn step(op: &Op, path: &str) -> Result<Kind, CompileError> {
    Ok(match op {
        Op::Relu => Kind::Relu,
        Op::Gelu { tanh: false } => Kind::Gelu,
        Op::Gelu { tanh: true } => Kind::GeluTanh,
        Op::Relu6 => Kind::Relu6,
        Op::Hardswish => Kind::Hardswish,
        Op::Hardsigmoid => Kind::Hardsigmoid,
        Op::Mish => Kind::Mish,
        Op::Silu => Kind::Silu,
        Op::Sigmoid => Kind::Sigmoid,
        Op::Tanh => Kind::Tanh,
        Op::LeakyRelu { slope } => Kind::LeakyRelu(*slope),
        Op::Softmax { dim } => Kind::Softmax(*dim),
        Op::Flatten { start, end } => Kind::Flatten(*start, *end),
        Op::Add => Kind::Add,
        Op::Sub => Kind::Sub,
        Op::Mul => Kind::Mul,
        Op::Scale { by } => Kind::Scale(*by),
        Op::Matmul => Kind::Matmul,
        Op::Reduce { how, dims, keepdim } => Kind::Reduce(*how, dims.clone(), *keepdim),
        Op::Reshape { dims } => {
            Kind::Reshape(dims.iter().map(|d| known(path, "reshape size", d)).collect::<Result<_, _>>()?)
        }
        Op::Permute { perm } | Op::Transpose { perm } => Kind::Permute(perm.clone()),
        Op::Select { dim, index } => Kind::Select(*dim, *index as usize),
        Op::Concat { dim } => Kind::Concat(*dim),
        Op::Identity => Kind::Identity,
        // `compile` builds every op with weights or state.
        _ => unreachable!("`{}` is a layer", op.name()),
    })
}

impl Net {
    /// Builds the module on `device` (use an autodiff device for training).
    pub fn build(graph: &ModelGraph, device: &Device) -> Result<Net, CompileError> {
        let order = toposort(&graph.graph, None).map_err(|_| CompileError::Cycle(graph.name.clone()))?;
        let mut index = std::collections::HashMap::new();
        let mut layers = Layers::default();
        let mut plan = Plan::default();
        for node in order {
            let n = &graph.graph[node];
            let path = n.path.as_str();
            let mut edges: Vec<_> = graph
                .graph
                .edges_directed(node, petgraph::Direction::Incoming)
                .map(|e| (*e.weight(), e.source()))
                .collect();
            edges.sort();
            let inputs: Vec<usize> = edges.iter().map(|(_, src)| index[src]).collect();
            let kind = match compile(&n.op, path, device)? {
                Compiled::Step(kind) => kind,
                Compiled::Layer(l @ (Layer::Param2(_) | Layer::Param3(_) | Layer::Param4(_))) => {
                    Kind::Param(layers.push(path, l))
                }
                Compiled::Layer(l) => Kind::Layer(layers.push(path, l)),
            };
            index.insert(node, plan.steps.len());
            plan.steps.push(Step { kind, inputs, path: n.path.clone() });
        }
        plan.outputs = graph.outputs.iter().map(|(name, node)| (name.clone(), index[node])).collect();
        Ok(Net { layers, plan, precision: Precision::F32 })
    }

    /// The same weights, computing in `precision` from the next forward pass on.
    pub fn with_precision(mut self, precision: Precision) -> Net {
        self.precision = precision;
        self
    }

    /// Averages the batch-norm running statistics that several threads' forward passes recorded
    /// (burn's `RunningState` keeps one update per thread until a thread reads again): after an
    /// in-process data-parallel step (`run::parallel`), called from the thread that ran the first
    /// slice, so every replica's update is merged before the next step reads them.
    pub fn merge_running_stats(&self) {
        for layer in self.layers.iter() {
            if let Layer::BatchNorm(m) = layer {
                m.running_mean.value_sync();
                m.running_var.value_sync();
            }
        }
    }

    /// Sets the bias of the convolution that produces output `name` (through identities) to
    /// `value`; returns whether there was one. Used for the detection heatmap's prior.
    pub fn set_output_bias(&mut self, name: &str, value: f32) -> bool {
        let Some(mut step) = self.plan.outputs.iter().find(|(n, _)| n == name).map(|(_, s)| *s) else {
            return false;
        };
        while let Kind::Identity = self.plan.steps[step].kind {
            step = self.plan.steps[step].inputs[0];
        }
        let Kind::Layer(l) = self.plan.steps[step].kind else { return false };
        let Layer::Conv(conv) = &mut self.layers[l] else { return false };
        let Some(bias) = conv.bias.take() else { return false };
        conv.bias = Some(bias.map(|b| b.full_like(value).require_grad()));
        true
    }

    /// Runs the model; returns the named outputs in declaration order.
    pub fn forward(&self, inputs: Vec<Tensor<4>>) -> Vec<(String, Act)> {
        self.forward_traced(inputs, |_, _| {})
    }

    /// The runtime shape of every step, by node path (to compare with the checker's).
    pub fn shapes(&self, inputs: Vec<Tensor<4>>) -> Vec<(String, Vec<usize>)> {
        let mut out = Vec::new();
        self.forward_traced(inputs, |step, act| out.push((step.path.clone(), act.dims())));
        out
    }

    pub(crate) fn forward_traced(
        &self,
        inputs: Vec<Tensor<4>>,
        mut on_step: impl FnMut(&Step, &Act),
    ) -> Vec<(String, Act)> {
        let steps = &self.plan.steps;
        // Each value is dropped after its last use so activations are freed as early as possible.
        let last_use = self.plan.last_uses();
        let fused = self.fused_relus(&last_use);
        let mut values: Vec<Option<Act>> = vec![None; steps.len()];
        let mut inputs: Vec<Option<Tensor<4>>> = inputs.into_iter().map(Some).collect();
        for (i, step) in steps.iter().enumerate() {
            let args: Vec<Act> = step.inputs.iter().filter_map(|&j| values[j].clone()).collect();
            for &j in &step.inputs {
                if last_use[j] == i {
                    values[j] = None;
                }
            }
            let out = match &step.kind {
                Kind::Input(k) => {
                    Act::D4(inputs.get_mut(*k).and_then(Option::take).expect("one tensor per model input"))
                }
                // The layer before it already rectified its output.
                Kind::Relu if fused[i] => args.into_iter().next().expect("relu has one argument"),
                Kind::Layer(l) if fused[i] => self.layer_relu(*l, args),
                kind => self.run(kind, args),
            };
            on_step(step, &out);
            values[i] = Some(out);
        }
        // Losses and metrics read f32 whatever the layers computed in.
        self.plan
            .outputs
            .iter()
            .map(|(name, i)| (name.clone(), values[*i].clone().expect("outputs are kept").full()))
            .collect()
    }

    /// The convolution and batch-norm steps whose output only a `relu` step reads, and those
    /// `relu` steps: the layer computes both ([`super::conv::conv2d_relu`],
    /// [`super::norm::batch_norm_relu`]). `last_use` is each step's last reader (`usize::MAX`
    /// for model outputs).
    fn fused_relus(&self, last_use: &[usize]) -> Vec<bool> {
        let steps = &self.plan.steps;
        let mut readers = vec![0usize; steps.len()];
        for &j in steps.iter().flat_map(|s| &s.inputs) {
            readers[j] += 1;
        }
        let mut fused = vec![false; steps.len()];
        for (i, step) in steps.iter().enumerate() {
            let fusable = matches!(step.kind, Kind::Layer(l)
                if matches!(self.layers[l], Layer::Conv(_) | Layer::BatchNorm(_)));
            let Some(&reader) = last_use.get(i).filter(|_| fusable && readers[i] == 1) else { continue };
            if steps.get(reader).is_some_and(|r| matches!(r.kind, Kind::Relu)) {
                fused[i] = true;
                fused[reader] = true;
            }
        }
        fused
    }

    /// `relu(layer(x))` for the convolution or batch-norm layer `index`.
    fn layer_relu(&self, index: usize, args: Vec<Act>) -> Act {
        let x = args.into_iter().next().expect("a layer has one argument");
        match &self.layers[index] {
            Layer::Conv(m) => {
                let x = x.d4().expect("the checker guarantees 4-D inputs for convolutions");
                Act::D4(conv(m, x, precision::compute_type(self.precision), true))
            }
            Layer::BatchNorm(m) => each_rank!(x, t => super::norm::batch_norm_relu(m, full(t))),
            _ => unreachable!("only convolutions and batch norms are fused"),
        }
    }

    /// One plan step on its arguments (every kind but `Input`).
    fn run(&self, kind: &Kind, mut args: Vec<Act>) -> Act {
        let mut x = || args.remove(0);
        match kind {
            Kind::Input(_) => unreachable!("inputs are taken in `forward_traced`"),
            Kind::Layer(l) => self.layer(*l, x()),
            Kind::Param(l) => match &self.layers[*l] {
                Layer::Param2(p) => Act::D2(p.val()),
                Layer::Param3(p) => Act::D3(p.val()),
                Layer::Param4(p) => Act::D4(p.val()),
                _ => unreachable!("a param step holds a param"),
            },
            Kind::Relu => each_rank!(x(), t => activation::relu(t)),
            Kind::Gelu => each_rank!(x(), t => activation::gelu(t)),
            Kind::GeluTanh => each_rank!(x(), t => activation::gelu_approximate(t)),
            Kind::Relu6 => each_rank!(x(), t => activation::relu6(t)),
            Kind::Hardswish => each_rank!(x(), t => activation::hard_swish(t)),
            Kind::Hardsigmoid => each_rank!(x(), t => activation::hard_sigmoid(t, 1.0 / 6.0, 0.5)),
            Kind::Mish => each_rank!(x(), t => activation::mish(t)),
            Kind::Silu => each_rank!(x(), t => activation::silu(t)),
            Kind::Sigmoid => each_rank!(x(), t => activation::sigmoid(t)),
            Kind::Tanh => each_rank!(x(), t => activation::tanh(t)),
            Kind::LeakyRelu(s) => each_rank!(x(), t => activation::leaky_relu(t, *s)),
            Kind::Softmax(d) => each_rank!(x(), t => activation::softmax(full(t), *d)),
            Kind::Scale(by) => each_rank!(x(), t => t.mul_scalar(*by)),
            Kind::Flatten(start, end) => ops::flatten(x(), *start, *end),
            Kind::Identity => x(),
            Kind::Add => ops::binary(Binary::Add, x(), x()),
            Kind::Sub => ops::binary(Binary::Sub, x(), x()),
            Kind::Mul => ops::binary(Binary::Mul, x(), x()),
            Kind::Matmul => {
                let compute = precision::compute_type(self.precision);
                ops::matmul(x().low(compute), x().low(compute))
            }
            Kind::Reduce(how, dims, keepdim) => ops::reduce(*how, dims, *keepdim, x()),
            Kind::Reshape(dims) => {
                let a = x();
                let batch = a.dims()[0];
                ops::reshape(a, &[&[batch][..], dims].concat())
            }
            Kind::Permute(perm) => ops::permute(x(), perm),
            Kind::Select(dim, index) => ops::select(x(), *dim, *index),
            Kind::Concat(d) => ops::concat(args, *d),
        }
    }

    fn layer(&self, index: usize, x: Act) -> Act {
        let four = |x: Act| x.d4().expect("the checker guarantees 4-D inputs for spatial layers");
        let compute = precision::compute_type(self.precision);
        match &self.layers[index] {
            Layer::Conv(m) => Act::D4(conv(m, four(x), compute, false)),
            Layer::ConvT(m) => Act::D4(conv_transpose(m, four(x), compute)),
            Layer::MaxPool(m) => Act::D4(super::pool::max_pool2d(m, four(x))),
            Layer::AvgPool(m) => Act::D4(m.forward(four(x))),
            Layer::AdaptivePool(m) => Act::D4(m.forward(four(x))),
            Layer::Upsample(m) => Act::D4(m.forward(four(x))),
            Layer::Linear(m) => each_rank!(x, t => linear(m, t, compute)),
            Layer::BatchNorm(m) => each_rank!(x, t => batch_norm(m, full(t))),
            Layer::GroupNorm(m) => each_rank!(x, t => m.forward(full(t))),
            Layer::LayerNorm(m) => each_rank!(x, t => m.forward(full(t))),
            Layer::Dropout(m) => each_rank!(x, t => m.forward(t)),
            Layer::Prelu(m) => each_rank!(x, t => m.forward(full(t))),
            Layer::Dropout2d(m) => ops::dropout2d(m, x),
            Layer::DropPath(m) => ops::drop_path(m, x),
            // [B, C, H, W] → [B, H, W, C], normalised over C, and back.
            Layer::ChannelNorm(m) => Act::D4(m.forward(full(four(x)).permute([0, 2, 3, 1])).permute([0, 3, 1, 2])),
            Layer::Attention(m) => match x {
                Act::D3(t) => Act::D3(m.forward(MhaInput::self_attn(full(t))).context),
                _ => unreachable!("the checker guarantees [B, N, D] for attention"),
            },
            Layer::Param2(_) | Layer::Param3(_) | Layer::Param4(_) => unreachable!("params are `Kind::Param` steps"),
        }
    }
}

#[cfg(test)]
mod tests {
    use burn::tensor::{Device, Distribution, Tensor};

    use super::*;
    use crate::frontend::{Options, check_text};
    use crate::host::MemHost;

    fn net(body: &str, device: &Device) -> Net {
        let source = format!("model m(x: Image[B, 2, 6, 6]) -> Logits[B, 3] {{\n{body}\n}}");
        let outcome = check_text(&MemHost::new(), "m.train", &source, &Options::default());
        assert!(!outcome.has_errors(), "{}", outcome.render(false));
        Net::build(&outcome.checked.models["m"], device).expect("compiles")
    }

    /// Which step paths the net fuses.
    fn fused(net: &Net) -> Vec<String> {
        let fused = net.fused_relus(&net.plan.last_uses());
        net.plan.steps.iter().zip(fused).filter(|(_, f)| *f).map(|(s, _)| s.path.clone()).collect()
    }

    /// `out` against `expected`, and the gradients of `param` through each.
    fn check_same<const D: usize>(out: Tensor<2>, expected: Tensor<2>, param: Tensor<D>, what: &str) {
        super::super::testing::assert_close(out.clone().inner(), expected.clone().inner(), &format!("{what} output"));
        let (grads_new, grads_ref) = (out.sum().backward(), expected.sum().backward());
        let what = format!("{what} gradient");
        let grad = |grads| super::super::testing::grad_of(&param, grads, &what);
        super::super::testing::assert_close(grad(&grads_new), grad(&grads_ref), &what);
    }

    /// `conv2d |> relu` is one step, and it computes what the two do: the output and the
    /// weight gradient equal burn's `relu(conv2d(..))` with the same weights.
    #[test]
    fn a_convolution_read_only_by_relu_is_fused_with_it() {
        let device = Device::flex().autodiff();
        let net = net("  return x |> conv2d(3, k = 3) |> relu |> adaptive_avgpool(1) |> flatten", &device);
        let paths = fused(&net);
        assert!(paths.len() == 2 && paths[0].starts_with("conv2d0") && paths[1].starts_with("relu0"), "{paths:?}");

        let x = Tensor::<4>::random([2, 2, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let out = net.forward(vec![x.clone()]).remove(0).1.d2();
        let Layer::Conv(conv) = &net.layers[0] else { panic!("the first layer is the convolution") };
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let reference =
            burn::tensor::module::conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options);
        let expected = activation::relu(reference).mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        check_same(out, expected, conv.weight.val(), "fused conv: weight");
    }

    /// `batch_norm |> relu` is one step in training: the output and gamma's gradient equal burn's
    /// `relu(batch_norm(..))` on the convolution's output.
    #[test]
    fn a_batch_norm_read_only_by_relu_is_fused_with_it() {
        let device = Device::flex().autodiff();
        let body = "  return x |> conv2d(3, k = 3) |> batch_norm |> relu |> adaptive_avgpool(1) |> flatten";
        let net = net(body, &device);
        let paths = fused(&net);
        assert!(paths.len() == 2 && paths[0].starts_with("batch_norm0") && paths[1].starts_with("relu0"), "{paths:?}");

        let x = Tensor::<4>::random([2, 2, 6, 6], Distribution::Normal(0.0, 1.0), &device);
        let out = net.forward(vec![x.clone()]).remove(0).1.d2();
        let (Layer::Conv(conv), Layer::BatchNorm(norm)) = (&net.layers[0], &net.layers[1]) else {
            panic!("a convolution, then a batch norm")
        };
        let options = ConvOptions::new([1, 1], [0, 0], [1, 1], 1);
        let y = burn::tensor::module::conv2d(x, conv.weight.val(), conv.bias.as_ref().map(|b| b.val()), options);
        let expected = activation::relu(norm.forward(y)).mean_dim(3).mean_dim(2).flatten::<2>(1, 3);
        check_same(out, expected, norm.gamma.val(), "fused batch norm: gamma");
    }

    /// A convolution whose output is read elsewhere too, or is a model output, keeps its own
    /// output: nothing is fused.
    #[test]
    fn a_convolution_read_by_more_than_relu_is_not_fused() {
        let device = Device::flex();
        let shared =
            "  h = x |> conv2d(3, k = 3, padding = 1)\n  return add(h, relu(h)) |> adaptive_avgpool(1) |> flatten";
        assert_eq!(fused(&net(shared, &device)), Vec::<String>::new());
        let twice = "  h = x |> conv2d(3, k = 3, padding = 1)\n  return add(relu(h), relu(h)) |> adaptive_avgpool(1) |> flatten";
        assert_eq!(fused(&net(twice, &device)), Vec::<String>::new());
    }
}
