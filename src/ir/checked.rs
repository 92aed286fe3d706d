//! [`Checked`]: what the checker hands to the executor. Blocks are inlined, every argument has
//! its default filled in, every shape is inferred, and names are plain strings: the executor
//! needs nothing from the AST.

use std::collections::BTreeMap;
use std::path::PathBuf;

use petgraph::stable_graph::{NodeIndex, StableDiGraph};
use serde::Serialize;

use super::{Augment, Frozen, Load, Logger, Loss, LrGroup, Metric, Mix, Names, Optimizer, Precision, Schedule};
use crate::check::dim::{Dim, Shape};
/// A dataset's source, typed by format (see `crate::formats`).
pub use crate::formats::Source;
use crate::syntax::span::Span;

#[derive(Debug, Default)]
pub struct Checked {
    /// Every model, inferred with the bindings of the dataset it trains on (if any).
    pub models: BTreeMap<String, ModelGraph>,
    pub train: Option<TrainSpec>,
    /// The shape of every tensor binding in every model and block body (blocks with their own
    /// symbols, `[B, C, H / 2, W / 2]`), in check order: what editors show as inlay hints.
    pub shapes: Vec<BindingShape>,
    /// What one training step of the trained model needs (when every size is known).
    pub memory: Option<crate::check::memory::MemoryEstimate>,
}

/// One name bound to a tensor: `h = x |> conv2d(64)` (or one name of `c3, c4 = backbone(x)`).
#[derive(Debug, Clone)]
pub struct BindingShape {
    pub name: String,
    pub name_span: Span,
    /// The bound expression.
    pub value: Span,
    pub shape: Shape,
}

/// A model as a dataflow graph of layers. Edge weights are the consumer's input slot.
#[derive(Debug, Clone)]
pub struct ModelGraph {
    pub name: String,
    pub inputs: Vec<(String, Shape)>,
    pub graph: StableDiGraph<Node, usize>,
    pub outputs: Vec<(String, NodeIndex)>,
    /// Symbol bindings the shapes were inferred with (`classes = 10`, `H = 28`…).
    pub bindings: BTreeMap<String, i64>,
}

impl ModelGraph {
    /// Total trainable parameters; symbolic when a size depends on an unbound symbol.
    pub fn param_count(&self) -> Dim {
        self.graph.node_weights().fold(Dim::known(0), |acc, n| acc.add(&n.params))
    }
}

#[derive(Debug, Clone)]
pub struct Node {
    /// The module path, unique in the model: `layer1.0.conv1`. Checkpoint keys follow it.
    pub path: String,
    pub op: Op,
    pub shape: Shape,
    pub params: Dim,
    pub span: Span,
}

/// A layer with every hyper-parameter resolved. Sizes stay [`Dim`]s: they are concrete once the
/// model is bound to data, and the compiler refuses symbolic ones.
#[derive(Debug, Clone, PartialEq)]
pub enum Op {
    Input(usize),
    Conv2d {
        in_ch: Dim,
        out: Dim,
        k: i64,
        stride: i64,
        padding: i64,
        dilation: i64,
        groups: i64,
        bias: bool,
    },
    ConvTranspose2d {
        in_ch: Dim,
        out: Dim,
        k: i64,
        stride: i64,
        padding: i64,
        output_padding: i64,
        dilation: i64,
        groups: i64,
        bias: bool,
    },
    Linear {
        in_f: Dim,
        out: Dim,
        bias: bool,
    },
    BatchNorm {
        ch: Dim,
        momentum: f64,
        eps: f64,
    },
    GroupNorm {
        groups: i64,
        ch: Dim,
        eps: f64,
    },
    LayerNorm {
        dim: Dim,
        eps: f64,
        /// Over axis 1 of a feature map (ConvNeXt's `LayerNorm2d`) instead of the last axis.
        channels: bool,
    },
    Dropout {
        p: f64,
    },
    Relu,
    Gelu {
        /// PyTorch's `approximate = "tanh"`.
        tanh: bool,
    },
    Relu6,
    Hardswish,
    Hardsigmoid,
    Mish,
    Prelu {
        /// 1, or the channel count.
        slopes: Dim,
        init: f64,
    },
    Dropout2d {
        p: f64,
    },
    DropPath {
        p: f64,
    },
    Silu,
    Sigmoid,
    Tanh,
    LeakyRelu {
        slope: f64,
    },
    Softmax {
        dim: usize,
    },
    MaxPool {
        k: i64,
        stride: i64,
        padding: i64,
    },
    AvgPool {
        k: i64,
        stride: i64,
        padding: i64,
    },
    AdaptiveAvgPool {
        size: i64,
    },
    /// Axes `start..=end` into one.
    Flatten {
        start: usize,
        end: usize,
    },
    /// Broadcasting element-wise ops.
    Add,
    Sub,
    Mul,
    /// Multiplication by a number.
    Scale {
        by: f64,
    },
    Matmul,
    Reduce {
        how: Reduce,
        /// Sorted, never the batch axis.
        dims: Vec<usize>,
        keepdim: bool,
    },
    /// The new shape after the batch axis.
    Reshape {
        dims: Vec<Dim>,
    },
    Permute {
        perm: Vec<usize>,
    },
    /// A permutation that swaps two axes.
    Transpose {
        perm: Vec<usize>,
    },
    /// One index of an axis, which is removed.
    Select {
        dim: usize,
        index: i64,
    },
    /// Multi-head self-attention over `[B, N, dim]`.
    Attention {
        dim: Dim,
        heads: i64,
        dropout: f64,
    },
    /// A learned tensor declared with `param name: [dims] = init` (no input).
    Param {
        dims: Vec<Dim>,
        init: Init,
    },
    Concat {
        dim: usize,
    },
    Upsample {
        scale: i64,
        bilinear: bool,
    },
    Identity,
}

/// How a reduction combines the values of its axes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reduce {
    Mean,
    Sum,
    Max,
}

/// How a `param` starts: `zeros`, `ones`, `full(v)`, `normal(std = s)` (mean 0) or
/// `trunc_normal(std = s)` (cut at ±2 std, as timm's).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Init {
    Full(f64),
    Normal { std: f64 },
    TruncNormal { std: f64 },
}

impl Op {
    /// The tensors a layer holds, with PyTorch's names and layout (`weight` of a linear layer is
    /// `[out, in]`; a norm's scale is `weight`): the vocabulary of weights files, so `check` can
    /// compare a file's shapes with the model's before anything runs.
    pub fn tensors(&self) -> Vec<(&'static str, Vec<Dim>)> {
        let k = |n: i64| Dim::known(n);
        let bias = |on: bool, out: &Dim| if on { vec![("bias", vec![out.clone()])] } else { vec![] };
        match self {
            Op::Conv2d { in_ch, out, k: size, groups, bias: b, .. } => {
                let mut t = vec![("weight", vec![out.clone(), in_ch.floor_div(*groups), k(*size), k(*size)])];
                t.extend(bias(*b, out));
                t
            }
            Op::ConvTranspose2d { in_ch, out, k: size, groups, bias: b, .. } => {
                let mut t = vec![("weight", vec![in_ch.clone(), out.floor_div(*groups), k(*size), k(*size)])];
                t.extend(bias(*b, out));
                t
            }
            Op::Linear { in_f, out, bias: b } => {
                let mut t = vec![("weight", vec![out.clone(), in_f.clone()])];
                t.extend(bias(*b, out));
                t
            }
            Op::BatchNorm { ch, .. } => {
                ["weight", "bias", "running_mean", "running_var"].into_iter().map(|n| (n, vec![ch.clone()])).collect()
            }
            Op::GroupNorm { ch, .. } => vec![("weight", vec![ch.clone()]), ("bias", vec![ch.clone()])],
            Op::LayerNorm { dim, .. } => vec![("weight", vec![dim.clone()]), ("bias", vec![dim.clone()])],
            Op::Prelu { slopes, .. } => vec![("weight", vec![slopes.clone()])],
            // PyTorch's `nn.MultiheadAttention`: query, key and value packed into `in_proj_*`.
            Op::Attention { dim, .. } => {
                let three = dim.mul(&k(3));
                vec![
                    ("in_proj_weight", vec![three.clone(), dim.clone()]),
                    ("in_proj_bias", vec![three]),
                    ("out_proj.weight", vec![dim.clone(), dim.clone()]),
                    ("out_proj.bias", vec![dim.clone()]),
                ]
            }
            // A parameter is its module path itself, as an `nn.Parameter` attribute in PyTorch.
            Op::Param { dims, .. } => vec![("", dims.clone())],
            _ => vec![],
        }
    }

    pub fn name(&self) -> &'static str {
        match self {
            Op::Input(_) => "input",
            Op::Conv2d { .. } => "conv2d",
            Op::ConvTranspose2d { .. } => "conv_transpose2d",
            Op::Linear { .. } => "linear",
            Op::BatchNorm { .. } => "batch_norm",
            Op::GroupNorm { .. } => "group_norm",
            Op::LayerNorm { .. } => "layer_norm",
            Op::Dropout { .. } => "dropout",
            Op::Relu => "relu",
            Op::Gelu { .. } => "gelu",
            Op::Relu6 => "relu6",
            Op::Hardswish => "hardswish",
            Op::Hardsigmoid => "hardsigmoid",
            Op::Mish => "mish",
            Op::Prelu { .. } => "prelu",
            Op::Dropout2d { .. } => "dropout2d",
            Op::DropPath { .. } => "drop_path",
            Op::Sub => "sub",
            Op::Mul => "mul",
            Op::Scale { .. } => "scale",
            Op::Matmul => "matmul",
            Op::Reduce { how: Reduce::Mean, .. } => "mean",
            Op::Reduce { how: Reduce::Sum, .. } => "sum",
            Op::Reduce { how: Reduce::Max, .. } => "max",
            Op::Reshape { .. } => "reshape",
            Op::Permute { .. } => "permute",
            Op::Transpose { .. } => "transpose",
            Op::Select { .. } => "select",
            Op::Attention { .. } => "attention",
            Op::Param { .. } => "param",
            Op::Silu => "silu",
            Op::Sigmoid => "sigmoid",
            Op::Tanh => "tanh",
            Op::LeakyRelu { .. } => "leaky_relu",
            Op::Softmax { .. } => "softmax",
            Op::MaxPool { .. } => "maxpool",
            Op::AvgPool { .. } => "avgpool",
            Op::AdaptiveAvgPool { .. } => "adaptive_avgpool",
            Op::Flatten { .. } => "flatten",
            Op::Add => "add",
            Op::Concat { .. } => "concat",
            Op::Upsample { .. } => "upsample",
            Op::Identity => "identity",
        }
    }
}

/// A resolved argument value.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Value {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    Floats(Vec<f64>),
    Strs(Vec<String>),
    /// A bare word (`max`, `imagenet`) or a model output name.
    Word(String),
}

impl Value {
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            _ => None,
        }
    }
}

/// A builtin applied to arguments, defaults filled in: what the checker binds a configuration
/// call to before turning it into its typed form ([`Optimizer`], [`Augment`]…).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Call {
    pub name: String,
    pub args: BTreeMap<String, Value>,
}

impl Call {
    pub fn f64(&self, name: &str) -> Option<f64> {
        self.args.get(name).and_then(Value::as_f64)
    }

    pub fn i64(&self, name: &str) -> Option<i64> {
        match self.args.get(name) {
            Some(Value::Int(i)) => Some(*i),
            _ => None,
        }
    }

    pub fn bool(&self, name: &str) -> Option<bool> {
        match self.args.get(name) {
            Some(Value::Bool(b)) => Some(*b),
            _ => None,
        }
    }

    pub fn word(&self, name: &str) -> Option<&str> {
        match self.args.get(name) {
            Some(Value::Word(w) | Value::Str(w)) => Some(w),
            _ => None,
        }
    }

    pub fn strs(&self, name: &str) -> Option<&[String]> {
        match self.args.get(name) {
            Some(Value::Strs(s)) => Some(s),
            _ => None,
        }
    }

    pub fn floats(&self, name: &str) -> Option<&[f64]> {
        match self.args.get(name) {
            Some(Value::Floats(f)) => Some(f),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Task {
    Classification,
    Detection,
    Segmentation,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SplitSource {
    /// A split stored with the dataset: IDX prefix, sub-folder, or the source's own data.
    Stored(String),
    /// A seeded random fraction carved out of another split.
    Carve { of: String, fraction: f64, seed: u64 },
    /// A split with a source of its own (`val = coco("val.json", images = "val2017")`): all of
    /// that source's data, read with the dataset's classes and channels.
    Own(Source),
}

/// A dataset as the checker read it: its typed source, splits and what its data told.
#[derive(Debug, Clone, Serialize)]
pub struct DatasetSpec {
    pub name: String,
    pub source: Source,
    pub task: Task,
    /// Paths in `source` are relative to it: the folder of the file that declared the dataset.
    pub base_dir: PathBuf,
    pub splits: BTreeMap<String, SplitSource>,
    pub classes: Vec<String>,
    pub channels: usize,
    /// Image size when the dataset fixes it (IDX headers).
    pub image_size: Option<(usize, usize)>,
    /// Samples per stored split, when the headers tell.
    pub counts: BTreeMap<String, usize>,
    /// `skip_bad = true`: unreadable images are left out of their split with a warning, instead
    /// of stopping the run. Recorded in `spec.json` only when set.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub skip_bad: bool,
}

impl DatasetSpec {
    /// The splits stored with the data, as `(split, where)`: IDX prefix, sub-folder or "" (all).
    pub fn stored_splits(&self) -> Vec<(String, String)> {
        self.splits
            .iter()
            .filter_map(|(k, v)| if let SplitSource::Stored(p) = v { Some((k.clone(), p.clone())) } else { None })
            .collect()
    }

    /// The dataset as one split with its own source sees it: that source, its whole data stored
    /// under the split's name, nothing counted yet.
    pub fn own_split(&self, split: &str, source: &Source) -> DatasetSpec {
        DatasetSpec {
            source: source.clone(),
            splits: BTreeMap::from([(split.to_string(), SplitSource::Stored(source.whole(split)))]),
            counts: BTreeMap::new(),
            image_size: None,
            ..self.clone()
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct DataSpec {
    pub dataset: DatasetSpec,
    pub batch: usize,
    pub augment: Vec<Augment>,
    pub eval_augment: Vec<Augment>,
    pub workers: usize,
    pub balanced: bool,
    pub shuffle: bool,
    pub limit_batches: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct LossTerm {
    pub weight: f64,
    pub loss: Loss,
    /// The model output it applies to.
    pub output: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    Min,
    Max,
}

/// `val.accuracy`: a split and a metric (or `loss`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Monitor {
    pub split: String,
    pub metric: String,
}

impl std::fmt::Display for Monitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}.{}", self.split, self.metric)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct CheckpointSpec {
    pub monitor: Monitor,
    pub mode: Mode,
    pub keep: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct EarlyStopSpec {
    pub monitor: Monitor,
    pub mode: Mode,
    pub patience: usize,
    pub min_delta: f64,
}

/// A file format of `trainc export` and of `train { export = … }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportFormat {
    Onnx,
    Safetensors,
}

impl ExportFormat {
    pub const ALL: [ExportFormat; 2] = [ExportFormat::Onnx, ExportFormat::Safetensors];

    /// The name in the language and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            ExportFormat::Onnx => "onnx",
            ExportFormat::Safetensors => "safetensors",
        }
    }

    pub fn from_name(name: &str) -> Option<ExportFormat> {
        ExportFormat::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// The `train` block, fully resolved. The live-tunable part is copied into the executor's
/// swappable settings at start.
#[derive(Debug, Clone, Serialize)]
pub struct TrainSpec {
    pub name: String,
    pub model: String,
    pub data: DataSpec,
    pub loss: Vec<LossTerm>,
    pub optimizer: Optimizer,
    /// `warmup then cosine`: segments in order; the last one runs to the end.
    pub schedule: Vec<Schedule>,
    pub epochs: usize,
    pub metrics: Vec<Metric>,
    pub checkpoint: CheckpointSpec,
    pub early_stop: Option<EarlyStopSpec>,
    pub ema: Option<f64>,
    pub clip_grad: Option<f64>,
    pub accumulate: usize,
    pub seed: u64,
    pub log_every: usize,
    /// Formats written to `<run>/export/` at the end of training (`export = [onnx, safetensors]`).
    pub export: Vec<ExportFormat>,
    /// Pretrained weights loaded before the first step, in order.
    pub weights: Vec<WeightsSpec>,
    /// `freeze = […]`: module path prefixes not trained, for some epochs or the whole run.
    pub freeze: Vec<Frozen>,
    /// `groups = […]`: learning-rate multipliers by module path prefix, shortest prefix first
    /// (so a later, longer one overrides it).
    pub groups: Vec<LrGroup>,
    /// `mix = [mixup(…), cutmix(…)]`: batch-level mixes of the training batches (soft targets).
    pub mix: Vec<Mix>,
    /// `plots = true` (the default): `<run>/plots/*.png` redrawn after every epoch.
    pub plots: bool,
    /// `logger = mlflow(…)` (or a list): tracking servers that get params, metrics and files.
    /// `metrics.csv` and the TensorBoard events are written whatever this says.
    pub logger: Vec<Logger>,
    /// `precision = bf16`: what the convolutions and products compute in (f32 by default).
    pub precision: Precision,
}

/// A checked `load(…)`: the file resolved, its rename rules parsed.
#[derive(Debug, Clone, Serialize)]
pub struct WeightsSpec {
    pub load: Load,
    pub path: PathBuf,
    pub rules: Vec<Rename>,
}

impl WeightsSpec {
    pub fn names(&self) -> Names {
        self.load.names
    }

    /// The module path prefix the file fills (`""`: the whole model).
    pub fn into(&self) -> &str {
        self.load.into.as_deref().unwrap_or("")
    }
}

/// `"fc -> head0.linear0"`: the file's keys under `from` fill the model's modules under `to`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Rename {
    pub from: String,
    pub to: String,
}
