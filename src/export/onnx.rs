//! The ONNX writer: a compiled [`Net`] (its [`Plan`] and [`Layers`]) becomes an opset-17 model.
//!
//! trainc writes ONNX itself instead of going through burn-onnx: burn-onnx is built for burn
//! 0.22.0 and does not cover `conv_transpose2d`, `gelu`, `softmax` or the norms, and one writer
//! that covers every plan [`Kind`] and every [`Layer`] variant is simpler than two that split the
//! work. Each plan step becomes one or a few nodes:
//!
//! - layers with weights read their tensors from the module (linear weights stay `[in, out]`:
//!   `MatMul` + `Add`), batch norm in its inference form, dropout as `Identity`;
//! - ops opset 17 lacks are decomposed exactly: `gelu` through `Erf`, `silu` as `x·σ(x)`, group
//!   norm as `InstanceNormalization` over `[N, G, -1]` then the per-channel affine, an adaptive
//!   average pool with uneven bins as two pooling matrices;
//! - `upsample` is `Resize` with burn's coordinate conventions (nearest: asymmetric + floor;
//!   bilinear: half-pixel).
//!
//! Value names are the node's module path (`resnet180.basic_block0.conv2d0`), so a graph viewer
//! shows the same names as `trainc check --shapes`; weights are `<path>.weight` etc. Every model
//! output is an `Identity` named after the output (`logits`, `heat`, …).

use std::collections::{HashMap, HashSet};

use burn::nn::PaddingConfig2d;
use burn::nn::interpolate::{Interpolate2d, InterpolateMode};
use burn::tensor::{Device, Tensor};

use super::ExportError;
use super::proto::{
    AttributeProto, GraphProto, IR_VERSION, ModelProto, NodeProto, OPSET, OperatorSetIdProto, StringStringEntryProto,
    TensorProto, ValueInfoProto,
};
use crate::exec::Net;
use crate::exec::net::{Kind, Layer, Plan};
use crate::ir::{ModelGraph, Op, Reduce};

/// Nodes and initializers under construction.
struct Writer<'a> {
    nodes: Vec<NodeProto>,
    inits: Vec<TensorProto>,
    /// Each step's runtime shape with a batch of 1 (for ranks and spatial sizes).
    shapes: &'a [Vec<usize>],
    /// The checked graph's op of each node path (the few settings burn keeps private).
    ops: HashMap<&'a str, &'a Op>,
    /// The first model input's name, whose batch a parameter is repeated to.
    input: String,
}

/// The model as ONNX bytes. Input shapes come from the checked graph; with `dynamic_batch` the
/// first dimension of every input and output is the symbol `batch`, otherwise 1.
pub fn write(net: &Net, graph: &ModelGraph, device: &Device, dynamic_batch: bool) -> Result<Vec<u8>, ExportError> {
    let inputs = input_shapes(graph)?;
    let probes = inputs.iter().map(|s| Tensor::<4>::zeros(*s, device)).collect();
    let shapes: Vec<Vec<usize>> = net.shapes(probes).into_iter().map(|(_, s)| s).collect();
    let names = value_names(&net.plan, graph);
    let ops = graph.graph.node_weights().map(|n| (n.path.as_str(), &n.op)).collect();
    let input = graph.inputs.first().map(|(n, _)| n.clone()).unwrap_or_default();
    let mut w = Writer { nodes: Vec::new(), inits: Vec::new(), shapes: &shapes, ops, input };
    for (i, step) in net.plan.steps.iter().enumerate() {
        let args: Vec<String> = step.inputs.iter().map(|&j| names[j].clone()).collect();
        w.step(net, i, &args, &names[i])?;
    }
    let batch = |dims: &[usize]| -> Vec<Option<usize>> {
        dims.iter().enumerate().map(|(k, &d)| if k == 0 && dynamic_batch { None } else { Some(d) }).collect()
    };
    let mut outputs = Vec::new();
    for (name, step) in &net.plan.outputs {
        w.node("Identity", name, vec![names[*step].clone()], name, vec![]);
        outputs.push(ValueInfoProto::float(name, &batch(&shapes[*step])));
    }
    let graph_inputs =
        graph.inputs.iter().zip(&inputs).map(|((name, _), dims)| ValueInfoProto::float(name, &batch(dims))).collect();
    let proto = GraphProto {
        node: w.nodes,
        name: graph.name.clone(),
        initializer: w.inits,
        input: graph_inputs,
        output: outputs,
        value_info: Vec::new(),
    };
    Ok(model(proto, &graph.name).to_bytes())
}

fn model(graph: GraphProto, name: &str) -> ModelProto {
    ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto { domain: String::new(), version: OPSET }],
        producer_name: "trainc".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: format!("model `{name}`, exported by trainc"),
        graph: Some(graph),
        metadata_props: vec![StringStringEntryProto { key: "model".into(), value: name.into() }],
    }
}

/// Each input's `[1, C, H, W]`; every dimension but the batch must be known.
pub fn input_shapes(graph: &ModelGraph) -> Result<Vec<[usize; 4]>, ExportError> {
    graph
        .inputs
        .iter()
        .map(|(name, shape)| {
            let mut dims = [1usize; 4];
            for (k, d) in shape.0.iter().enumerate().skip(1).take(3) {
                dims[k] = d.value().filter(|v| *v > 0).ok_or_else(|| ExportError::Symbolic {
                    model: graph.name.clone(),
                    input: name.clone(),
                    dim: d.to_string(),
                })? as usize;
            }
            Ok(dims)
        })
        .collect()
}

/// A unique value name per step: the model input's name for inputs, otherwise the module path
/// (with `#<step>` when it would clash with an input, an output or an earlier step).
fn value_names(plan: &Plan, graph: &ModelGraph) -> Vec<String> {
    let mut used: HashSet<String> =
        graph.inputs.iter().map(|(n, _)| n.clone()).chain(plan.outputs.iter().map(|(n, _)| n.clone())).collect();
    plan.steps
        .iter()
        .enumerate()
        .map(|(i, step)| match step.kind {
            Kind::Input(k) => graph.inputs[k].0.clone(),
            _ => {
                let name = if used.contains(&step.path) { format!("{}#{i}", step.path) } else { step.path.clone() };
                used.insert(name.clone());
                name
            }
        })
        .collect()
}

/// A tensor's dimensions and values as `f32`.
fn values<const D: usize>(path: &str, t: Tensor<D>) -> Result<(Vec<usize>, Vec<f32>), ExportError> {
    let dims = t.dims().to_vec();
    Ok((dims, super::f32s(path, &t.into_data())?))
}

/// `[top, left, bottom, right]` of an explicit padding, as ONNX's `pads`.
fn pads(path: &str, p: &PaddingConfig2d) -> Result<Vec<i64>, ExportError> {
    match p {
        PaddingConfig2d::Explicit(t, l, b, r) => Ok(vec![*t as i64, *l as i64, *b as i64, *r as i64]),
        PaddingConfig2d::Valid => Ok(vec![0; 4]),
        other => Err(ExportError::Unsupported {
            path: path.into(),
            format: "ONNX",
            why: format!("padding {other:?} is not explicit"),
        }),
    }
}

fn two(v: [usize; 2]) -> Vec<i64> {
    vec![v[0] as i64, v[1] as i64]
}

impl Writer<'_> {
    fn node(&mut self, op: &str, name: &str, inputs: Vec<String>, output: &str, attrs: Vec<AttributeProto>) {
        self.nodes.push(NodeProto {
            input: inputs,
            output: vec![output.into()],
            name: name.into(),
            op_type: op.into(),
            attribute: attrs,
            domain: String::new(),
        });
    }

    /// A node whose output is an intermediate value `<path>/<what>`; returns its name.
    fn temp(&mut self, op: &str, path: &str, what: &str, inputs: Vec<String>, attrs: Vec<AttributeProto>) -> String {
        let out = format!("{path}/{what}");
        self.node(op, &out, inputs, &out, attrs);
        out
    }

    fn init_f32(&mut self, name: String, dims: &[usize], v: &[f32]) -> String {
        self.inits.push(TensorProto::f32(&name, dims, v));
        name
    }

    fn init_i64(&mut self, name: String, dims: &[usize], v: &[i64]) -> String {
        self.inits.push(TensorProto::i64(&name, dims, v));
        name
    }

    /// A module tensor as an initializer named `<path>.<what>`.
    fn weight<const D: usize>(&mut self, path: &str, what: &str, t: Tensor<D>) -> Result<String, ExportError> {
        let (dims, v) = values(path, t)?;
        Ok(self.init_f32(format!("{path}.{what}"), &dims, &v))
    }

    fn rank(&self, step: usize) -> usize {
        self.shapes[step].len()
    }

    /// The nodes of plan step `i`, reading `args` and writing `out`.
    fn step(&mut self, net: &Net, i: usize, args: &[String], out: &str) -> Result<(), ExportError> {
        let step = &net.plan.steps[i];
        let path = step.path.as_str();
        let mut args = args.to_vec();
        let x = || args[0].clone();
        let (op, attrs) = match &step.kind {
            Kind::Input(_) => return Ok(()),
            Kind::Layer(l) => return self.layer(&net.layers[*l], path, step.inputs[0], x(), out),
            Kind::Param(l) => return self.param(&net.layers[*l], path, out),
            Kind::Gelu => return self.gelu(path, x(), out),
            Kind::GeluTanh => return self.gelu_tanh(path, x(), out),
            Kind::Silu => {
                let s = self.temp("Sigmoid", path, "sigmoid", vec![x()], vec![]);
                self.node("Mul", path, vec![x(), s], out, vec![]);
                return Ok(());
            }
            Kind::Mish => {
                let sp = self.temp("Softplus", path, "softplus", vec![x()], vec![]);
                let t = self.temp("Tanh", path, "tanh", vec![sp], vec![]);
                self.node("Mul", path, vec![x(), t], out, vec![]);
                return Ok(());
            }
            Kind::Relu6 => {
                let lo = self.init_f32(format!("{path}/min"), &[], &[0.0]);
                let hi = self.init_f32(format!("{path}/max"), &[], &[6.0]);
                self.node("Clip", path, vec![x(), lo, hi], out, vec![]);
                return Ok(());
            }
            Kind::Scale(by) => {
                let k = self.init_f32(format!("{path}/by"), &[], &[*by as f32]);
                self.node("Mul", path, vec![x(), k], out, vec![]);
                return Ok(());
            }
            Kind::Concat(d) if net.plan.steps.iter().any(|s| matches!(s.kind, Kind::Param(_))) => {
                return self.concat_params(&step.inputs, path, &args, *d as i64, out);
            }
            _ => self.plain(&step.kind, i, step.inputs[0], path, &mut args)?,
        };
        self.node(&op, path, args, out, attrs);
        Ok(())
    }

    /// The op type and attributes of a step that is one node on its arguments; extra inputs
    /// (shapes, axes, indices) are appended to `args` as initializers.
    fn plain(
        &mut self,
        kind: &Kind,
        i: usize,
        arg: usize,
        path: &str,
        args: &mut Vec<String>,
    ) -> Result<(String, Vec<AttributeProto>), ExportError> {
        let unary = |op: &str| (op.to_string(), vec![]);
        let axes = |dims: &[usize]| dims.iter().map(|&d| d as i64).collect::<Vec<_>>();
        Ok(match kind {
            Kind::Relu => unary("Relu"),
            Kind::Sigmoid => unary("Sigmoid"),
            Kind::Tanh => unary("Tanh"),
            Kind::Identity => unary("Identity"),
            Kind::Hardswish => unary("HardSwish"),
            Kind::Hardsigmoid => {
                let attrs = vec![AttributeProto::float("alpha", 1.0 / 6.0), AttributeProto::float("beta", 0.5)];
                ("HardSigmoid".into(), attrs)
            }
            Kind::LeakyRelu(s) => ("LeakyRelu".into(), vec![AttributeProto::float("alpha", *s as f32)]),
            Kind::Softmax(d) => ("Softmax".into(), vec![AttributeProto::int("axis", *d as i64)]),
            Kind::Flatten(..) if self.rank(arg) == 2 => unary("Identity"),
            Kind::Flatten(1, end) if *end + 1 == self.rank(arg) => {
                ("Flatten".into(), vec![AttributeProto::int("axis", 1)])
            }
            // The output's shape with the batch copied (0): flatten, reshape.
            Kind::Flatten(..) | Kind::Reshape(_) => {
                let mut dims: Vec<i64> = self.shapes[i].iter().map(|&d| d as i64).collect();
                dims[0] = 0;
                args.push(self.init_i64(format!("{path}/shape"), &[dims.len()], &dims));
                unary("Reshape")
            }
            Kind::Add => unary("Add"),
            Kind::Sub => unary("Sub"),
            Kind::Mul => unary("Mul"),
            Kind::Matmul => unary("MatMul"),
            Kind::Reduce(how, dims, keepdim) => {
                let keep = AttributeProto::int("keepdims", i64::from(*keepdim));
                match how {
                    Reduce::Mean => ("ReduceMean".into(), vec![AttributeProto::ints("axes", axes(dims)), keep]),
                    Reduce::Max => ("ReduceMax".into(), vec![AttributeProto::ints("axes", axes(dims)), keep]),
                    // Since opset 13 `ReduceSum` takes its axes as an input.
                    Reduce::Sum => {
                        args.push(self.init_i64(format!("{path}/axes"), &[dims.len()], &axes(dims)));
                        ("ReduceSum".into(), vec![keep])
                    }
                }
            }
            Kind::Permute(perm) => ("Transpose".into(), vec![AttributeProto::ints("perm", axes(perm))]),
            Kind::Select(dim, index) => {
                args.push(self.init_i64(format!("{path}/index"), &[], &[*index as i64]));
                ("Gather".into(), vec![AttributeProto::int("axis", *dim as i64)])
            }
            Kind::Concat(d) => ("Concat".into(), vec![AttributeProto::int("axis", *d as i64)]),
            other => unreachable!("`step` writes {other:?}"),
        })
    }

    /// A `param` as an initializer, passed on by an `Identity`.
    fn param(&mut self, layer: &Layer, path: &str, out: &str) -> Result<(), ExportError> {
        let value = match layer {
            Layer::Param2(p) => self.weight(path, "value", p.val())?,
            Layer::Param3(p) => self.weight(path, "value", p.val())?,
            Layer::Param4(p) => self.weight(path, "value", p.val())?,
            _ => unreachable!("a param step holds a param"),
        };
        self.node("Identity", path, vec![value], out, vec![]);
        Ok(())
    }

    /// `concat` in a model with parameters: each input is first expanded to `[batch, 1, …]`
    /// (the model input's batch), which repeats a parameter's batch of 1 and leaves the others.
    fn concat_params(
        &mut self,
        inputs: &[usize],
        path: &str,
        args: &[String],
        axis: i64,
        out: &str,
    ) -> Result<(), ExportError> {
        let shape = self.temp("Shape", path, "input_shape", vec![self.input.clone()], vec![]);
        let zero = self.init_i64(format!("{path}/zero"), &[1], &[0]);
        let one = self.init_i64(format!("{path}/one"), &[1], &[1]);
        let batch = self.temp("Slice", path, "batch", vec![shape, zero, one], vec![]);
        let mut expanded = Vec::new();
        for (k, (a, &step)) in args.iter().zip(inputs).enumerate() {
            let rest = self.rank(step) - 1;
            let ones = self.init_i64(format!("{path}/ones{k}"), &[rest], &vec![1; rest]);
            let axis0 = vec![AttributeProto::int("axis", 0)];
            let target = self.temp("Concat", path, &format!("target{k}"), vec![batch.clone(), ones], axis0);
            expanded.push(self.temp("Expand", path, &format!("expand{k}"), vec![a.clone(), target], vec![]));
        }
        self.node("Concat", path, expanded, out, vec![AttributeProto::int("axis", axis)]);
        Ok(())
    }

    /// burn's exact gelu: `x · ½ · (1 + erf(x / √2))`.
    fn gelu(&mut self, path: &str, x: String, out: &str) -> Result<(), ExportError> {
        let sqrt2 = self.init_f32(format!("{path}/sqrt2"), &[], &[std::f32::consts::SQRT_2]);
        let one = self.init_f32(format!("{path}/one"), &[], &[1.0]);
        let half = self.init_f32(format!("{path}/half"), &[], &[0.5]);
        let scaled = self.temp("Div", path, "div", vec![x.clone(), sqrt2], vec![]);
        let erf = self.temp("Erf", path, "erf", vec![scaled], vec![]);
        let plus = self.temp("Add", path, "add", vec![erf, one], vec![]);
        let times = self.temp("Mul", path, "mul", vec![x, plus], vec![]);
        self.node("Mul", path, vec![times, half], out, vec![]);
        Ok(())
    }

    /// PyTorch's tanh gelu: `½x · (1 + tanh(√(2/π) · (x + 0.044715 x³)))`.
    fn gelu_tanh(&mut self, path: &str, x: String, out: &str) -> Result<(), ExportError> {
        let c = self.init_f32(format!("{path}/c"), &[], &[0.044_715]);
        let k = self.init_f32(format!("{path}/k"), &[], &[(2.0 / std::f32::consts::PI).sqrt()]);
        let one = self.init_f32(format!("{path}/one"), &[], &[1.0]);
        let half = self.init_f32(format!("{path}/half"), &[], &[0.5]);
        let x2 = self.temp("Mul", path, "x2", vec![x.clone(), x.clone()], vec![]);
        let x3 = self.temp("Mul", path, "x3", vec![x2, x.clone()], vec![]);
        let cx3 = self.temp("Mul", path, "cx3", vec![x3, c], vec![]);
        let inner = self.temp("Add", path, "inner", vec![x.clone(), cx3], vec![]);
        let scaled = self.temp("Mul", path, "scaled", vec![inner, k], vec![]);
        let t = self.temp("Tanh", path, "tanh", vec![scaled], vec![]);
        let plus = self.temp("Add", path, "plus", vec![t, one], vec![]);
        let times = self.temp("Mul", path, "times", vec![x, plus], vec![]);
        self.node("Mul", path, vec![times, half], out, vec![]);
        Ok(())
    }

    fn layer(&mut self, layer: &Layer, path: &str, arg: usize, x: String, out: &str) -> Result<(), ExportError> {
        match layer {
            Layer::Conv(m) => {
                let mut inputs = vec![x, self.weight(path, "weight", m.weight.val())?];
                if let Some(b) = &m.bias {
                    inputs.push(self.weight(path, "bias", b.val())?);
                }
                let attrs = vec![
                    AttributeProto::ints("kernel_shape", two(m.kernel_size)),
                    AttributeProto::ints("strides", two(m.stride)),
                    AttributeProto::ints("pads", pads(path, &m.padding)?),
                    AttributeProto::ints("dilations", two(m.dilation)),
                    AttributeProto::int("group", m.groups as i64),
                ];
                self.node("Conv", path, inputs, out, attrs);
            }
            Layer::ConvT(m) => {
                let mut inputs = vec![x, self.weight(path, "weight", m.weight.val())?];
                if let Some(b) = &m.bias {
                    inputs.push(self.weight(path, "bias", b.val())?);
                }
                let [ph, pw] = m.padding.map(|p| p as i64);
                let attrs = vec![
                    AttributeProto::ints("kernel_shape", two(m.kernel_size)),
                    AttributeProto::ints("strides", two(m.stride)),
                    AttributeProto::ints("pads", vec![ph, pw, ph, pw]),
                    AttributeProto::ints("output_padding", two(m.padding_out)),
                    AttributeProto::ints("dilations", two(m.dilation)),
                    AttributeProto::int("group", m.groups as i64),
                ];
                self.node("ConvTranspose", path, inputs, out, attrs);
            }
            Layer::Linear(m) => {
                let w = self.weight(path, "weight", m.weight.val())?;
                match &m.bias {
                    Some(b) => {
                        let y = self.temp("MatMul", path, "matmul", vec![x, w], vec![]);
                        let b = self.weight(path, "bias", b.val())?;
                        self.node("Add", path, vec![y, b], out, vec![]);
                    }
                    None => self.node("MatMul", path, vec![x, w], out, vec![]),
                }
            }
            Layer::BatchNorm(m) => {
                let inputs = vec![
                    x,
                    self.weight(path, "weight", m.gamma.val())?,
                    self.weight(path, "bias", m.beta.val())?,
                    self.weight(path, "running_mean", m.running_mean.value())?,
                    self.weight(path, "running_var", m.running_var.value())?,
                ];
                let attrs = vec![AttributeProto::float("epsilon", m.epsilon as f32)];
                self.node("BatchNormalization", path, inputs, out, attrs);
            }
            Layer::Dropout(_) => self.node("Identity", path, vec![x], out, vec![]),
            _ => return self.layer_2(layer, path, arg, x, out),
        }
        Ok(())
    }

    /// The norms and the spatial layers without weights.
    fn layer_2(&mut self, layer: &Layer, path: &str, arg: usize, x: String, out: &str) -> Result<(), ExportError> {
        match layer {
            Layer::GroupNorm(m) => self.group_norm(m, path, arg, x, out)?,
            Layer::LayerNorm(m) => {
                let eps = match self.ops.get(path) {
                    Some(Op::LayerNorm { eps, .. }) => *eps,
                    _ => 1e-5,
                };
                let scale = self.weight(path, "weight", m.gamma.val())?;
                let bias = match &m.beta {
                    Some(b) => self.weight(path, "bias", b.val())?,
                    None => {
                        let n = m.gamma.val().dims()[0];
                        self.init_f32(format!("{path}.bias"), &[n], &vec![0.0; n])
                    }
                };
                let attrs = vec![AttributeProto::int("axis", -1), AttributeProto::float("epsilon", eps as f32)];
                self.node("LayerNormalization", path, vec![x, scale, bias], out, attrs);
            }
            Layer::MaxPool(m) => {
                let attrs = vec![
                    AttributeProto::ints("kernel_shape", two(m.kernel_size)),
                    AttributeProto::ints("strides", two(m.stride)),
                    AttributeProto::ints("pads", pads(path, &m.padding)?),
                    AttributeProto::ints("dilations", two(m.dilation)),
                    AttributeProto::int("ceil_mode", m.ceil_mode as i64),
                ];
                self.node("MaxPool", path, vec![x], out, attrs);
            }
            Layer::AvgPool(m) => {
                let attrs = vec![
                    AttributeProto::ints("kernel_shape", two(m.kernel_size)),
                    AttributeProto::ints("strides", two(m.stride)),
                    AttributeProto::ints("pads", pads(path, &m.padding)?),
                    AttributeProto::int("count_include_pad", m.count_include_pad as i64),
                    AttributeProto::int("ceil_mode", m.ceil_mode as i64),
                ];
                self.node("AveragePool", path, vec![x], out, attrs);
            }
            Layer::AdaptivePool(m) => self.adaptive_pool(m.output_size, path, arg, x, out),
            Layer::Upsample(m) => self.upsample(m, path, arg, x, out)?,
            _ => return self.layer_3(layer, path, arg, x, out),
        }
        Ok(())
    }

    /// The layers of the token and modern-backbone builtins.
    fn layer_3(&mut self, layer: &Layer, path: &str, arg: usize, x: String, out: &str) -> Result<(), ExportError> {
        match layer {
            Layer::Dropout2d(_) | Layer::DropPath(_) => self.node("Identity", path, vec![x], out, vec![]),
            Layer::Prelu(m) => {
                let (dims, v) = values(path, m.alpha.val())?;
                // `[C, 1, …]` against `[B, C, …]`: ONNX broadcasts from the last axis.
                let mut shape = dims.clone();
                if dims[0] > 1 {
                    shape.resize(self.rank(arg) - 1, 1);
                }
                let slope = self.init_f32(format!("{path}.weight"), &shape, &v);
                self.node("PRelu", path, vec![x, slope], out, vec![]);
            }
            Layer::ChannelNorm(m) => {
                let eps = match self.ops.get(path) {
                    Some(Op::LayerNorm { eps, .. }) => *eps,
                    _ => 1e-5,
                };
                let scale = self.weight(path, "weight", m.gamma.val())?;
                let n = m.gamma.val().dims()[0];
                let bias = match &m.beta {
                    Some(b) => self.weight(path, "bias", b.val())?,
                    None => self.init_f32(format!("{path}.bias"), &[n], &vec![0.0; n]),
                };
                let last = vec![AttributeProto::ints("perm", vec![0, 2, 3, 1])];
                let t = self.temp("Transpose", path, "channels_last", vec![x], last);
                let attrs = vec![AttributeProto::int("axis", -1), AttributeProto::float("epsilon", eps as f32)];
                let normed = self.temp("LayerNormalization", path, "normalized", vec![t, scale, bias], attrs);
                let first = vec![AttributeProto::ints("perm", vec![0, 3, 1, 2])];
                self.node("Transpose", path, vec![normed], out, first);
            }
            Layer::Attention(m) => self.attention(m, path, x, out)?,
            _ => unreachable!("`layer` and `layer_2` handle the others"),
        }
        Ok(())
    }

    /// `x·W + b` of a burn linear layer (`W` is `[in, out]`), as an intermediate value.
    fn linear(&mut self, m: &burn::nn::Linear, path: &str, what: &str, x: String) -> Result<String, ExportError> {
        let w = self.weight(path, &format!("{what}.weight"), m.weight.val())?;
        let y = self.temp("MatMul", path, &format!("{what}/matmul"), vec![x, w], vec![]);
        match &m.bias {
            Some(b) => {
                let b = self.weight(path, &format!("{what}.bias"), b.val())?;
                Ok(self.temp("Add", path, what, vec![y, b], vec![]))
            }
            None => Ok(y),
        }
    }

    /// burn's multi-head attention: q, k, v projections split into heads (`[B, h, N, d]`),
    /// `softmax(q·kᵀ / √d)·v`, heads merged, the output projection.
    fn attention(
        &mut self,
        m: &burn::nn::attention::MultiHeadAttention,
        path: &str,
        x: String,
        out: &str,
    ) -> Result<(), ExportError> {
        let (h, d) = (m.n_heads as i64, m.d_k as i64);
        let split = self.init_i64(format!("{path}/heads_shape"), &[4], &[0, 0, h, d]);
        let merged = self.init_i64(format!("{path}/merged_shape"), &[3], &[0, 0, h * d]);
        let mut heads = Vec::new();
        for (what, lin, perm) in
            [("query", &m.query, [0, 2, 1, 3]), ("key", &m.key, [0, 2, 3, 1]), ("value", &m.value, [0, 2, 1, 3])]
        {
            let y = self.linear(lin, path, what, x.clone())?;
            let r = self.temp("Reshape", path, &format!("{what}/split"), vec![y, split.clone()], vec![]);
            let p = vec![AttributeProto::ints("perm", perm.to_vec())];
            heads.push(self.temp("Transpose", path, &format!("{what}/heads"), vec![r], p));
        }
        let [q, k, v] = [heads[0].clone(), heads[1].clone(), heads[2].clone()];
        let root = self.init_f32(format!("{path}/sqrt_d"), &[], &[(d as f32).sqrt()]);
        let scores = self.temp("MatMul", path, "scores", vec![q, k], vec![]);
        let scaled = self.temp("Div", path, "scaled", vec![scores, root], vec![]);
        let weights = self.temp("Softmax", path, "weights", vec![scaled], vec![AttributeProto::int("axis", -1)]);
        let context = self.temp("MatMul", path, "context", vec![weights, v], vec![]);
        let p = vec![AttributeProto::ints("perm", vec![0, 2, 1, 3])];
        let back = self.temp("Transpose", path, "tokens", vec![context], p);
        let flat = self.temp("Reshape", path, "merged", vec![back, merged], vec![]);
        let y = self.linear(&m.output, path, "output", flat)?;
        self.node("Identity", path, vec![y], out, vec![]);
        Ok(())
    }

    /// `InstanceNormalization` over `[N, G, -1]` (per sample and group), reshaped back, then
    /// the per-channel scale and shift.
    fn group_norm(
        &mut self,
        m: &burn::nn::GroupNorm,
        path: &str,
        arg: usize,
        x: String,
        out: &str,
    ) -> Result<(), ExportError> {
        let g = m.num_groups;
        let grouped = self.init_i64(format!("{path}/grouped_shape"), &[3], &[0, g as i64, -1]);
        let ones = self.init_f32(format!("{path}/ones"), &[g], &vec![1.0; g]);
        let zeros = self.init_f32(format!("{path}/zeros"), &[g], &vec![0.0; g]);
        let shape = self.temp("Shape", path, "shape", vec![x.clone()], vec![]);
        let r = self.temp("Reshape", path, "grouped", vec![x, grouped], vec![]);
        let eps = vec![AttributeProto::float("epsilon", m.epsilon as f32)];
        let n = self.temp("InstanceNormalization", path, "normalized", vec![r, ones, zeros], eps);
        let (Some(gamma), Some(beta)) = (&m.gamma, &m.beta) else {
            self.node("Reshape", path, vec![n, shape], out, vec![]);
            return Ok(());
        };
        let back = self.temp("Reshape", path, "ungrouped", vec![n, shape], vec![]);
        // [C, 1, 1…] so that the scale broadcasts over the spatial dimensions.
        let mut dims = vec![m.num_channels];
        dims.resize(self.rank(arg) - 1, 1);
        let (_, gv) = values(path, gamma.val())?;
        let (_, bv) = values(path, beta.val())?;
        let gamma = self.init_f32(format!("{path}.weight"), &dims, &gv);
        let beta = self.init_f32(format!("{path}.bias"), &dims, &bv);
        let scaled = self.temp("Mul", path, "scaled", vec![back, gamma], vec![]);
        self.node("Add", path, vec![scaled, beta], out, vec![]);
        Ok(())
    }

    /// `GlobalAveragePool` for 1×1, `AveragePool` when the bins are equal, otherwise
    /// `P_h · X · P_wᵀ` with PyTorch's bins (`floor(i·n/s) .. ceil((i+1)·n/s)`).
    fn adaptive_pool(&mut self, size: [usize; 2], path: &str, arg: usize, x: String, out: &str) {
        let (h, w) = (self.shapes[arg][2], self.shapes[arg][3]);
        if size == [1, 1] {
            self.node("GlobalAveragePool", path, vec![x], out, vec![]);
        } else if h % size[0] == 0 && w % size[1] == 0 {
            let k = [h / size[0], w / size[1]];
            let attrs = vec![AttributeProto::ints("kernel_shape", two(k)), AttributeProto::ints("strides", two(k))];
            self.node("AveragePool", path, vec![x], out, attrs);
        } else {
            let ph = pool_matrix(h, size[0]);
            let pw = pool_matrix(w, size[1]);
            // P_wᵀ: [W, s_w].
            let pwt: Vec<f32> =
                (0..w).flat_map(|c| (0..size[1]).map(move |r| (r, c))).map(|(r, c)| pw[r * w + c]).collect();
            let ph = self.init_f32(format!("{path}/rows"), &[size[0], h], &ph);
            let pwt = self.init_f32(format!("{path}/cols"), &[w, size[1]], &pwt);
            let cols = self.temp("MatMul", path, "pool_cols", vec![x, pwt], vec![]);
            self.node("MatMul", path, vec![ph, cols], out, vec![]);
        }
    }

    fn upsample(&mut self, m: &Interpolate2d, path: &str, arg: usize, x: String, out: &str) -> Result<(), ExportError> {
        let (h, w) = (self.shapes[arg][2], self.shapes[arg][3]);
        let [oh, ow] = match (m.output_size, m.scale_factor) {
            (Some(size), _) => size,
            (None, Some([sh, sw])) => {
                [(h as f64 * sh as f64).floor() as usize, (w as f64 * sw as f64).floor() as usize]
            }
            (None, None) => [h, w],
        };
        let (mode, coords) = match m.mode {
            InterpolateMode::Nearest => ("nearest", "asymmetric"),
            InterpolateMode::Linear if m.align_corners => ("linear", "align_corners"),
            InterpolateMode::Linear => ("linear", "half_pixel"),
            ref other => {
                return Err(ExportError::Unsupported {
                    path: path.into(),
                    format: "ONNX",
                    why: format!("interpolation {other:?} has no matching `Resize` mode"),
                });
            }
        };
        let scales = [1.0, 1.0, oh as f32 / h as f32, ow as f32 / w as f32];
        let scales = self.init_f32(format!("{path}/scales"), &[4], &scales);
        let attrs = vec![
            AttributeProto::string("mode", mode),
            AttributeProto::string("coordinate_transformation_mode", coords),
            AttributeProto::string("nearest_mode", "floor"),
        ];
        self.node("Resize", path, vec![x, String::new(), scales], out, attrs);
        Ok(())
    }
}

/// `[s, n]`: row `i` averages PyTorch's adaptive bin `floor(i·n/s) .. ceil((i+1)·n/s)`.
fn pool_matrix(n: usize, s: usize) -> Vec<f32> {
    let mut m = vec![0.0; s * n];
    for i in 0..s {
        let (a, b) = (i * n / s, ((i + 1) * n).div_ceil(s));
        for j in a..b {
            m[i * n + j] = 1.0 / (b - a) as f32;
        }
    }
    m
}

#[cfg(test)]
mod tests {
    use burn::nn::interpolate::{Interpolate2dConfig, InterpolateMode};
    use burn::tensor::Device;

    use super::{ExportError, pool_matrix, write};
    use crate::check::dim::{Dim, Shape};
    use crate::exec::Net;
    use crate::exec::layers::Layers;
    use crate::exec::net::{Kind, Layer, Plan, Step};
    use crate::ir::ModelGraph;

    /// `Net::build` never makes a bicubic upsample; one built by hand is the one layer without
    /// a `Resize` mode of the same arithmetic, and the error names it.
    #[test]
    fn a_layer_without_an_onnx_form_is_named_in_the_error() {
        let mut layers = Layers::default();
        let cubic = Interpolate2dConfig::new().with_scale_factor(Some([2.0, 2.0])).with_mode(InterpolateMode::Cubic);
        let l = layers.push("decoder.upsample0", Layer::Upsample(cubic.init()));
        let step = |kind, inputs, path: &str| Step { kind, inputs, path: path.into() };
        let steps = vec![step(Kind::Input(0), vec![], "x"), step(Kind::Layer(l), vec![0], "decoder.upsample0")];
        let net = Net { layers, plan: Plan { steps, outputs: vec![("out".into(), 1)] }, precision: Default::default() };
        let shape = Shape(vec![Dim::sym("B"), Dim::known(3), Dim::known(4), Dim::known(4)]);
        let graph = ModelGraph {
            name: "m".into(),
            inputs: vec![("x".into(), shape)],
            graph: Default::default(),
            outputs: Vec::new(),
            bindings: Default::default(),
        };
        let Err(err) = write(&net, &graph, &Device::flex(), false) else { panic!("a cubic upsample exported") };
        assert!(matches!(&err, ExportError::Unsupported { path, .. } if path == "decoder.upsample0"), "{err}");
        assert!(err.to_string().contains("`decoder.upsample0`"), "{err}");
    }

    #[test]
    fn adaptive_bins_overlap_like_pytorch() {
        // 5 → 3: bins [0, 2), [1, 4), [3, 5).
        let m = pool_matrix(5, 3);
        assert_eq!(&m[0..5], &[0.5, 0.5, 0.0, 0.0, 0.0]);
        let third = 1.0 / 3.0;
        assert_eq!(&m[5..10], &[0.0, third, third, third, 0.0]);
        assert_eq!(&m[10..15], &[0.0, 0.0, 0.0, 0.5, 0.5]);
    }
}
