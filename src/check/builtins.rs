//! Every builtin the language knows, with its signature. This table is the single source of
//! truth: the checker binds arguments against it, `trainc builtins` prints it, and the editor
//! grammars are tested against it. The layers' entries live in `check/layers/`, one file per
//! family, each next to its shape rule; this table lists them in the order they are printed.

/// What a builtin is, which decides where it may appear.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Layer,
    Loss,
    Optimizer,
    Schedule,
    Augment,
    Source,
    Metric,
    /// `weights = load(…)`.
    Weights,
    /// What `freeze` and `groups` hold: rules for the parameters under a module path.
    Param,
    /// `logger = mlflow(…)`: a tracking server.
    Logger,
}

impl Kind {
    pub fn noun(self) -> &'static str {
        match self {
            Kind::Layer => "layer",
            Kind::Loss => "loss",
            Kind::Optimizer => "optimizer",
            Kind::Schedule => "schedule",
            Kind::Augment => "augmentation",
            Kind::Source => "dataset source",
            Kind::Metric => "metric",
            Kind::Weights => "weights source",
            Kind::Param => "parameter rule",
            Kind::Logger => "logger",
        }
    }

    /// "a layer", "an optimizer".
    pub fn article(self) -> &'static str {
        match self {
            Kind::Layer => "a layer",
            Kind::Loss => "a loss",
            Kind::Optimizer => "an optimizer",
            Kind::Schedule => "a schedule",
            Kind::Augment => "an augmentation",
            Kind::Source => "a dataset source",
            Kind::Metric => "a metric",
            Kind::Weights => "a weights source",
            Kind::Param => "a parameter rule",
            Kind::Logger => "a logger",
        }
    }

    pub fn plural(self) -> &'static str {
        match self {
            Kind::Layer => "layers",
            Kind::Loss => "losses",
            Kind::Optimizer => "optimizers",
            Kind::Schedule => "schedules",
            Kind::Augment => "augmentations",
            Kind::Source => "dataset sources",
            Kind::Metric => "metrics",
            Kind::Weights => "weights sources",
            Kind::Param => "parameter rules",
            Kind::Logger => "loggers",
        }
    }

    pub const ALL: [Kind; 10] = [
        Kind::Layer,
        Kind::Loss,
        Kind::Optimizer,
        Kind::Schedule,
        Kind::Augment,
        Kind::Source,
        Kind::Metric,
        Kind::Weights,
        Kind::Param,
        Kind::Logger,
    ];
}

/// The type an argument must have.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ty {
    Tensor,
    /// A list of tensors (`concat([a, b])`).
    Tensors,
    Int,
    /// An integer or a float.
    Float,
    Bool,
    Str,
    /// A list of numbers.
    Floats,
    /// A list of strings.
    Strs,
    /// An integer or a list of integers, possibly symbolic sizes (`dims = [2, 3]`, `[B, N, D]`).
    Ints,
    /// One of these bare words.
    Word(&'static [&'static str]),
    /// A number or one of these words (`padding = same`, `normalize(imagenet)`).
    IntOrWord(&'static [&'static str]),
    /// The name of a model output (`focal(heat)`).
    Output,
    /// A split and a metric, as a checkpoint monitors them (`val.loss`).
    Monitor,
    /// A list of augmentations (`one_of([hflip(p = 1.0), rotate(10)])`).
    Augments,
}

impl Ty {
    pub fn describe(self) -> String {
        match self {
            Ty::Tensor => "a tensor".into(),
            Ty::Tensors => "a list of tensors".into(),
            Ty::Int => "an integer".into(),
            Ty::Float => "a number".into(),
            Ty::Bool => "`true` or `false`".into(),
            Ty::Str => "a string".into(),
            Ty::Floats => "a list of numbers".into(),
            Ty::Strs => "a list of strings".into(),
            Ty::Ints => "an integer or a list of integers".into(),
            Ty::Word(words) => one_of(words),
            Ty::IntOrWord(words) => format!("an integer or {}", one_of(words)),
            Ty::Output => "the name of a model output".into(),
            Ty::Monitor => "a split and a metric (`val.loss`)".into(),
            Ty::Augments => "a list of augmentations".into(),
        }
    }
}

fn one_of(words: &[&str]) -> String {
    let quoted: Vec<String> = words.iter().map(|w| format!("`{w}`")).collect();
    match quoted.as_slice() {
        [one] => one.clone(),
        [init @ .., last] => format!("one of {} or {last}", init.join(", ")),
        [] => String::new(),
    }
}

/// The allowed range of a numeric argument.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Bound {
    Any,
    /// > 0
    Positive,
    /// ≥ 0
    NonNeg,
    /// ≥ n
    AtLeast(f64),
    /// [lo, hi]
    Closed(f64, f64),
    /// [lo, hi)
    HalfOpen(f64, f64),
    /// (lo, hi)
    Open(f64, f64),
}

impl Bound {
    pub fn contains(self, x: f64) -> bool {
        match self {
            Bound::Any => true,
            Bound::Positive => x > 0.0,
            Bound::NonNeg => x >= 0.0,
            Bound::AtLeast(n) => x >= n,
            Bound::Closed(lo, hi) => (lo..=hi).contains(&x),
            Bound::HalfOpen(lo, hi) => x >= lo && x < hi,
            Bound::Open(lo, hi) => x > lo && x < hi,
        }
    }

    pub fn describe(self) -> String {
        match self {
            Bound::Any => "any value".into(),
            Bound::Positive => "greater than 0".into(),
            Bound::NonNeg => "0 or more".into(),
            Bound::AtLeast(n) => format!("{n} or more"),
            Bound::Closed(lo, hi) => format!("in [{lo}, {hi}]"),
            Bound::HalfOpen(lo, hi) => format!("in [{lo}, {hi})"),
            Bound::Open(lo, hi) => format!("in ({lo}, {hi})"),
        }
    }
}

/// One parameter of a builtin.
#[derive(Clone, Copy, Debug)]
pub struct Param {
    pub name: &'static str,
    pub ty: Ty,
    /// `None`: required. `Some(text)`: optional, with this default shown in docs ("" = unset).
    pub default: Option<&'static str>,
    pub bound: Bound,
}

#[derive(Clone, Copy, Debug)]
pub struct Builtin {
    pub name: &'static str,
    pub kind: Kind,
    pub params: &'static [Param],
    pub summary: &'static str,
    /// A layer's shape rule, which infers its node; `None` for every other kind.
    pub rule: Option<Rule>,
}

impl Builtin {
    pub fn param(&self, name: &str) -> Option<&'static Param> {
        self.params.iter().find(|p| p.name == name)
    }

    /// `conv2d(x, out, k, stride = 1, …)` for help lines.
    pub fn signature(&self) -> String {
        let params: Vec<String> = self
            .params
            .iter()
            .map(|p| match p.default {
                None => p.name.to_string(),
                Some("") => format!("{}?", p.name),
                Some(d) => format!("{} = {d}", p.name),
            })
            .collect();
        format!("{}({})", self.name, params.join(", "))
    }
}

pub(crate) const fn req(name: &'static str, ty: Ty, bound: Bound) -> Param {
    Param { name, ty, default: None, bound }
}

pub(crate) const fn opt(name: &'static str, ty: Ty, default: &'static str, bound: Bound) -> Param {
    Param { name, ty, default: Some(default), bound }
}

use super::layers::{Rule, activation, conv, linear, math, norm, pool, shape, tokens};
use Bound::*;
use Kind::*;
use Ty::*;

/// A probability, shared by `dropout` and the random augmentations.
pub(crate) const P: Param = opt("p", Float, "0.5", Closed(0.0, 1.0));
pub const INTERP: &[&str] = &["nearest", "bilinear"];
pub const MODES: &[&str] = &["min", "max"];
/// How a weights file names its tensors (`load(names = …)`).
pub const WEIGHT_NAMES: &[&str] = &["trainc", "torchvision"];
pub const NORM_PRESETS: &[&str] = &["imagenet", "per_image"];
pub const PADDING_WORDS: &[&str] = &["same"];
/// `gelu(approximate = …)`, as PyTorch spells it.
pub const GELU_APPROX: &[&str] = &["none", "tanh"];

macro_rules! builtin {
    ($name:literal, $kind:expr, $summary:literal, [$($p:expr),* $(,)?]) => {
        Builtin { name: $name, kind: $kind, params: &[$($p),*], summary: $summary, rule: None }
    };
}

pub static BUILTINS: &[Builtin] = &[
    // ── layers: signatures and shape rules in `check/layers/` ────────────────────────────────
    conv::CONV2D,
    conv::CONV_TRANSPOSE2D,
    linear::LINEAR,
    norm::BATCH_NORM,
    norm::GROUP_NORM,
    norm::LAYER_NORM,
    activation::DROPOUT,
    activation::RELU,
    activation::GELU,
    activation::SILU,
    activation::SIGMOID,
    activation::TANH,
    activation::LEAKY_RELU,
    activation::SOFTMAX,
    activation::RELU6,
    activation::HARDSWISH,
    activation::HARDSIGMOID,
    activation::MISH,
    activation::PRELU,
    activation::DROPOUT2D,
    activation::DROP_PATH,
    pool::MAXPOOL,
    pool::AVGPOOL,
    pool::ADAPTIVE_AVGPOOL,
    shape::FLATTEN,
    shape::ADD,
    shape::CONCAT,
    shape::UPSAMPLE,
    shape::IDENTITY,
    math::SUB,
    math::MUL,
    math::SCALE,
    math::MATMUL,
    math::MEAN,
    math::SUM,
    math::MAX,
    tokens::RESHAPE,
    tokens::PERMUTE,
    tokens::TRANSPOSE,
    tokens::SELECT,
    tokens::ATTENTION,
    // ── losses ─────────────────────────────────────────────────────────────────────────────
    builtin!(
        "cross_entropy",
        Loss,
        "softmax cross-entropy on class logits (or per-pixel on mask logits)",
        [
            opt("on", Output, "", Any),
            opt("label_smoothing", Float, "0.0", HalfOpen(0.0, 1.0)),
            opt("weights", Floats, "", Any)
        ]
    ),
    builtin!("bce", Loss, "binary cross-entropy on logits against one-hot targets", [opt("on", Output, "", Any)]),
    builtin!("mse", Loss, "mean squared error against one-hot targets", [opt("on", Output, "", Any)]),
    builtin!("l1", Loss, "mean absolute error against one-hot targets", [opt("on", Output, "", Any)]),
    builtin!(
        "smooth_l1",
        Loss,
        "Huber loss against one-hot targets",
        [opt("on", Output, "", Any), opt("beta", Float, "1.0", Positive)]
    ),
    builtin!(
        "focal",
        Loss,
        "focal loss on class logits",
        [opt("on", Output, "", Any), opt("alpha", Float, "0.25", Closed(0.0, 1.0)), opt("gamma", Float, "2.0", NonNeg)]
    ),
    builtin!(
        "dice",
        Loss,
        "soft Dice loss on mask logits",
        [opt("on", Output, "", Any), opt("smooth", Float, "1.0", NonNeg)]
    ),
    builtin!(
        "centernet_loss",
        Loss,
        "CenterNet heatmap focal + size and offset L1",
        [
            opt("heat_weight", Float, "1.0", NonNeg),
            opt("size_weight", Float, "0.1", NonNeg),
            opt("offset_weight", Float, "1.0", NonNeg)
        ]
    ),
    builtin!(
        "fcos_loss",
        Loss,
        "FCOS over pyramid levels: focal loss on classes, GIoU on boxes, BCE on centerness",
        [
            opt("cls_weight", Float, "1.0", NonNeg),
            opt("box_weight", Float, "1.0", NonNeg),
            opt("ctr_weight", Float, "1.0", NonNeg),
            opt("range", Float, "8.0", Positive)
        ]
    ),
    // ── optimizers ─────────────────────────────────────────────────────────────────────────
    builtin!(
        "sgd",
        Optimizer,
        "stochastic gradient descent",
        [
            req("lr", Float, Positive),
            opt("momentum", Float, "0.0", HalfOpen(0.0, 1.0)),
            opt("nesterov", Bool, "false", Any),
            opt("weight_decay", Float, "0.0", NonNeg)
        ]
    ),
    builtin!(
        "adam",
        Optimizer,
        "Adam",
        [
            opt("lr", Float, "1e-3", Positive),
            opt("beta1", Float, "0.9", HalfOpen(0.0, 1.0)),
            opt("beta2", Float, "0.999", HalfOpen(0.0, 1.0)),
            opt("eps", Float, "1e-8", Positive),
            opt("weight_decay", Float, "0.0", NonNeg)
        ]
    ),
    builtin!(
        "adamw",
        Optimizer,
        "Adam with decoupled weight decay",
        [
            opt("lr", Float, "1e-3", Positive),
            opt("beta1", Float, "0.9", HalfOpen(0.0, 1.0)),
            opt("beta2", Float, "0.999", HalfOpen(0.0, 1.0)),
            opt("eps", Float, "1e-8", Positive),
            opt("weight_decay", Float, "0.01", NonNeg)
        ]
    ),
    builtin!(
        "rmsprop",
        Optimizer,
        "RMSprop as PyTorch's (EfficientNet: `rmsprop(lr = 0.016, alpha = 0.9, momentum = 0.9, eps = 1e-3)`)",
        [
            opt("lr", Float, "1e-2", Positive),
            opt("alpha", Float, "0.99", HalfOpen(0.0, 1.0)),
            opt("eps", Float, "1e-8", Positive),
            opt("momentum", Float, "0.0", HalfOpen(0.0, 1.0)),
            opt("centered", Bool, "false", Any),
            opt("weight_decay", Float, "0.0", NonNeg)
        ]
    ),
    builtin!(
        "lion",
        Optimizer,
        "Lion: sign of interpolated momentum, decoupled weight decay (lr ≈ AdamW's / 10)",
        [
            opt("lr", Float, "1e-4", Positive),
            opt("beta1", Float, "0.9", HalfOpen(0.0, 1.0)),
            opt("beta2", Float, "0.99", HalfOpen(0.0, 1.0)),
            opt("weight_decay", Float, "0.0", NonNeg)
        ]
    ),
    builtin!(
        "lamb",
        Optimizer,
        "LAMB: Adam scaled per tensor by its trust ratio, for large batches",
        [
            opt("lr", Float, "1e-3", Positive),
            opt("beta1", Float, "0.9", HalfOpen(0.0, 1.0)),
            opt("beta2", Float, "0.999", HalfOpen(0.0, 1.0)),
            opt("eps", Float, "1e-6", Positive),
            opt("weight_decay", Float, "0.0", NonNeg)
        ]
    ),
    // ── weights ────────────────────────────────────────────────────────────────────────────
    builtin!(
        "load",
        Weights,
        "Pretrained weights from a PyTorch `.pt`/`.pth` state dict or a `.safetensors` file",
        [
            req("file", Str, Any),
            opt("into", Str, "", Any),
            opt("names", Word(WEIGHT_NAMES), "trainc", Any),
            opt("rename", Strs, "[]", Any),
            opt("strict", Bool, "true", Any)
        ]
    ),
    // ── loggers ────────────────────────────────────────────────────────────────────────────
    builtin!(
        "mlflow",
        Logger,
        "an MLflow tracking server (`http://host:port`): params, metrics per epoch, summary and plots",
        [req("uri", Str, Any), opt("experiment", Str, "", Any)]
    ),
    // ── schedules ──────────────────────────────────────────────────────────────────────────
    builtin!(
        "constant",
        Schedule,
        "the optimizer's learning rate throughout",
        [opt("steps", Int, "", AtLeast(1.0)), opt("epochs", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "warmup",
        Schedule,
        "linear ramp from `from` × lr to lr",
        [
            opt("steps", Int, "", AtLeast(1.0)),
            opt("epochs", Int, "", AtLeast(1.0)),
            opt("from", Float, "0.0", Closed(0.0, 1.0))
        ]
    ),
    builtin!(
        "cosine",
        Schedule,
        "cosine decay from lr to `to`",
        [opt("to", Float, "0.0", NonNeg), opt("steps", Int, "", AtLeast(1.0)), opt("epochs", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "linear",
        Schedule,
        "linear decay from lr to `to`",
        [opt("to", Float, "0.0", NonNeg), opt("steps", Int, "", AtLeast(1.0)), opt("epochs", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "step",
        Schedule,
        "multiply lr by `gamma` every `every` epochs",
        [req("every", Int, AtLeast(1.0)), opt("gamma", Float, "0.1", Open(0.0, 1.0))]
    ),
    builtin!(
        "one_cycle",
        Schedule,
        "one-cycle: warm up to max_lr, then anneal",
        [
            req("max_lr", Float, Positive),
            opt("pct", Float, "0.3", Open(0.0, 1.0)),
            opt("div", Float, "25.0", Positive),
            opt("final_div", Float, "1e4", Positive)
        ]
    ),
    builtin!(
        "exponential",
        Schedule,
        "lr × gamma after every epoch",
        [
            req("gamma", Float, Open(0.0, 1.0)),
            opt("steps", Int, "", AtLeast(1.0)),
            opt("epochs", Int, "", AtLeast(1.0))
        ]
    ),
    builtin!(
        "polynomial",
        Schedule,
        "polynomial decay (lr − to)·(1 − t)^power + to",
        [
            opt("power", Float, "1.0", Positive),
            opt("to", Float, "0.0", NonNeg),
            opt("steps", Int, "", AtLeast(1.0)),
            opt("epochs", Int, "", AtLeast(1.0))
        ]
    ),
    builtin!(
        "plateau",
        Schedule,
        "lr × factor when `monitor` has not improved for more than `patience` epochs",
        [
            opt("monitor", Monitor, "", Any),
            opt("factor", Float, "0.1", Open(0.0, 1.0)),
            opt("patience", Int, "10", NonNeg),
            opt("threshold", Float, "1e-4", NonNeg),
            opt("min_lr", Float, "0.0", NonNeg)
        ]
    ),
    // ── augmentations ──────────────────────────────────────────────────────────────────────
    builtin!(
        "normalize",
        Augment,
        "(x - mean) / std per channel",
        [opt("preset", Word(NORM_PRESETS), "", Any), opt("mean", Floats, "", Any), opt("std", Floats, "", Any)]
    ),
    builtin!(
        "resize",
        Augment,
        "resize to height × width",
        [req("height", Int, AtLeast(1.0)), opt("width", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "letterbox",
        Augment,
        "resize keeping the aspect ratio, then pad to height × width",
        [req("height", Int, AtLeast(1.0)), opt("width", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "tile",
        Augment,
        "a random size × size tile of the image's overlapping grid (the centre one in evaluation)",
        [req("size", Int, AtLeast(1.0)), opt("overlap", Int, "0", NonNeg)]
    ),
    builtin!(
        "random_crop",
        Augment,
        "random crop after zero padding",
        [req("size", Int, AtLeast(1.0)), opt("padding", Int, "0", NonNeg)]
    ),
    builtin!("center_crop", Augment, "central crop", [req("size", Int, AtLeast(1.0))]),
    builtin!("hflip", Augment, "horizontal flip with probability p", [P]),
    builtin!("vflip", Augment, "vertical flip with probability p", [P]),
    builtin!(
        "rotate",
        Augment,
        "rotation by a random angle in ±degrees",
        [req("degrees", Float, Closed(0.0, 180.0)), P]
    ),
    builtin!(
        "color_jitter",
        Augment,
        "random brightness, contrast and saturation",
        [
            opt("brightness", Float, "0.0", Closed(0.0, 1.0)),
            opt("contrast", Float, "0.0", Closed(0.0, 1.0)),
            opt("saturation", Float, "0.0", Closed(0.0, 1.0)),
            P
        ]
    ),
    builtin!("random_erasing", Augment, "erase a random rectangle", [P, opt("scale", Float, "0.2", Open(0.0, 1.0))]),
    builtin!(
        "random_resized_crop",
        Augment,
        "a crop of random area share `scale` and aspect `ratio`, resized to size × size",
        [
            req("size", Int, AtLeast(1.0)),
            opt("scale", Floats, "[0.08, 1.0]", Any),
            opt("ratio", Floats, "[0.75, 1.3333333]", Any)
        ]
    ),
    builtin!(
        "random_affine",
        Augment,
        "random rotation, shift (share of the size), zoom and x-shear (degrees) about the centre",
        [
            opt("degrees", Float, "0.0", Closed(0.0, 180.0)),
            opt("translate", Float, "0.0", Closed(0.0, 1.0)),
            opt("scale", Floats, "[1.0, 1.0]", Any),
            opt("shear", Float, "0.0", HalfOpen(0.0, 90.0)),
            P
        ]
    ),
    builtin!(
        "gaussian_blur",
        Augment,
        "Gaussian blur, σ uniform in `sigma`",
        [opt("kernel", Int, "3", AtLeast(1.0)), opt("sigma", Floats, "[0.1, 2.0]", Any), P]
    ),
    builtin!("grayscale", Augment, "every channel to the luma", [opt("p", Float, "0.1", Closed(0.0, 1.0))]),
    builtin!(
        "one_of",
        Augment,
        "one of the steps, uniformly at random (the first in evaluation)",
        [req("steps", Augments, Any)]
    ),
    builtin!(
        "rand_augment",
        Augment,
        "torchvision's RandAugment: `n` random ops at bin `magnitude` of `bins`",
        [opt("n", Int, "2", AtLeast(1.0)), opt("magnitude", Int, "9", NonNeg), opt("bins", Int, "31", AtLeast(2.0))]
    ),
    builtin!(
        "trivial_augment",
        Augment,
        "torchvision's TrivialAugmentWide: one random op at a random bin of `bins`",
        [opt("bins", Int, "31", AtLeast(2.0))]
    ),
    builtin!(
        "mixup",
        Augment,
        "batch level, in `train { mix = … }`: blend each image with the previous one, soft targets",
        [req("alpha", Float, Positive), opt("p", Float, "1.0", Closed(0.0, 1.0))]
    ),
    builtin!(
        "cutmix",
        Augment,
        "batch level, in `train { mix = … }`: paste a box from the previous image, soft targets",
        [req("alpha", Float, Positive), opt("p", Float, "1.0", Closed(0.0, 1.0))]
    ),
    // ── dataset sources ────────────────────────────────────────────────────────────────────
    builtin!("idx", Source, "MNIST-style IDX files (optionally gzip) in a folder", [req("root", Str, Any)]),
    builtin!("image_folder", Source, "one sub-folder of images per class", [req("root", Str, Any)]),
    builtin!("csv", Source, "a CSV index of `path,label` rows", [req("path", Str, Any), opt("images", Str, "", Any)]),
    builtin!(
        "jsonl",
        Source,
        "a JSON-lines index of {\"path\", \"label\"} objects",
        [req("path", Str, Any), opt("images", Str, "", Any)]
    ),
    builtin!(
        "coco",
        Source,
        "COCO JSON: boxes, or with `masks = true` instance polygons/RLE as semantic masks",
        [req("annotations", Str, Any), req("images", Str, Any), opt("masks", Bool, "false", Any)]
    ),
    builtin!(
        "mask_folder",
        Source,
        "images with same-named PNG masks of class ids (255 ignored; `instances = true`: 16-bit ids class·1000 + instance)",
        [req("images", Str, Any), req("masks", Str, Any), opt("instances", Bool, "false", Any)]
    ),
    builtin!(
        "voc",
        Source,
        "Pascal VOC: XML boxes in `Annotations/` (or palette masks in `SegmentationClass/` with `masks = true`), images in `JPEGImages/`, ids in split files",
        [req("root", Str, Any), opt("split_file", Str, "", Any), opt("masks", Bool, "false", Any)]
    ),
    builtin!(
        "yolo",
        Source,
        "YOLO txt labels (`class cx cy w h`, normalised) with a `data.yaml` or an images/ + labels/ folder",
        [req("path", Str, Any)]
    ),
    // ── metrics ────────────────────────────────────────────────────────────────────────────
    builtin!("accuracy", Metric, "top-1 accuracy", []),
    builtin!("top_k", Metric, "top-k accuracy", [opt("k", Int, "5", AtLeast(1.0))]),
    builtin!("precision", Metric, "macro precision", []),
    builtin!("recall", Metric, "macro recall", []),
    builtin!("f1", Metric, "macro F1", []),
    builtin!("confusion_matrix", Metric, "confusion matrix, written to the run directory", []),
    builtin!("map50", Metric, "mean average precision at IoU 0.5", []),
    builtin!("map", Metric, "mean average precision over IoU 0.5:0.95", []),
    builtin!("miou", Metric, "mean intersection over union of masks", []),
    builtin!("pixel_accuracy", Metric, "fraction of pixels classified right", []),
    // ── parameter rules (`freeze`, `groups`) ───────────────────────────────────────────────
    builtin!(
        "frozen",
        Param,
        "no training under a module path, for the first `epochs` epochs or the whole run",
        [req("path", Str, Any), opt("epochs", Int, "", AtLeast(1.0))]
    ),
    builtin!(
        "group",
        Param,
        "learning rate × `lr` under a module path (the longest matching path wins)",
        [req("path", Str, Any), req("lr", Float, Positive)]
    ),
];

/// Looks up a builtin of one kind (`linear` is both a layer and a schedule).
pub fn lookup(name: &str, kind: Kind) -> Option<&'static Builtin> {
    BUILTINS.iter().find(|b| b.name == name && b.kind == kind)
}

/// Names of all builtins of a kind, for did-you-mean and the editors.
pub fn names(kind: Kind) -> impl Iterator<Item = &'static str> {
    BUILTINS.iter().filter(move |b| b.kind == kind).map(|b| b.name)
}

/// Words of the language that are not names: item keywords and type names.
pub const KEYWORDS: &[&str] =
    &["use", "dataset", "augment", "model", "block", "train", "profile", "sweep", "return", "then", "param"];
/// How a `param` statement may initialise its tensor (`= normal(std = 0.02)`).
pub const PARAM_INITS: &[&str] = &["zeros", "ones", "full", "normal", "trunc_normal"];
pub const CONSTANTS: &[&str] = &["true", "false"];
pub const TYPES: &[&str] = &["int", "float", "bool", "str", "Image", "Logits", "Mask", "Heatmap", "Tensor"];
/// Keys of the `train` block and its nested records.
pub const TRAIN_KEYS: &[&str] = &[
    "model",
    "data",
    "loss",
    "optimizer",
    "schedule",
    "epochs",
    "metrics",
    "checkpoint",
    "early_stop",
    "ema",
    "clip_grad",
    "accumulate",
    "seed",
    "limit_batches",
    "log_every",
    "name",
    "export",
    "weights",
    "freeze",
    "groups",
    "mix",
    "plots",
    "logger",
    "precision",
];
/// `precision = …` (`ir::Precision`).
pub const PRECISIONS: &[&str] = crate::ir::Precision::NAMES;
pub const DATA_KEYS: &[&str] = &["batch", "augment", "eval_augment", "limit_batches", "workers", "balanced", "shuffle"];
pub const CHECKPOINT_KEYS: &[&str] = &["monitor", "mode", "keep"];
pub const EARLY_STOP_KEYS: &[&str] = &["monitor", "mode", "patience", "min_delta"];
pub const EMA_KEYS: &[&str] = &["decay"];
pub const DATASET_KEYS: &[&str] = &["train", "val", "test", "classes", "channels", "skip_bad"];
pub const AUGMENT_TARGETS: &[&str] = &["image", "boxes", "masks"];
/// Symbols with a meaning in every model: batch size and the dataset's class count.
pub const SYMBOLS: &[&str] = &["B", "classes"];
