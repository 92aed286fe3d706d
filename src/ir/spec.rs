//! Typed configuration builtins: what `optimizer = …`, `schedule = …`, `loss = …`, `metrics = …`
//! and augment pipelines become once checked. Each builtin is one variant with every argument
//! filled in; the checker builds them from checked calls in one place per kind
//! (`check/spec.rs`, defaults from the builtin table), and the executor matches on them
//! exhaustively, so a new builtin is a new variant the compiler asks every consumer to handle.
//!
//! Variant names follow the builtin names (`random_crop` → [`Augment::RandomCrop`]); [`name`]
//! methods give the builtin name back for messages, logs and `spec.json` (its `name` field).
//!
//! [`name`]: Optimizer::name

use serde::Serialize;

use super::{Mode, Monitor, Task};

/// `optimizer = …`. PyTorch's conventions: `lr` is the base rate a schedule scales.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Optimizer {
    Sgd {
        lr: f64,
        momentum: f64,
        nesterov: bool,
        weight_decay: f64,
    },
    Adam {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
    #[serde(rename = "adamw")]
    AdamW {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
    /// PyTorch's RMSprop: `eps` outside the square root, momentum on the scaled gradient.
    #[serde(rename = "rmsprop")]
    RmsProp {
        lr: f64,
        alpha: f64,
        eps: f64,
        momentum: f64,
        centered: bool,
        weight_decay: f64,
    },
    /// Lion (Chen et al. 2023): the sign of interpolated momentum, decoupled weight decay.
    Lion {
        lr: f64,
        beta1: f64,
        beta2: f64,
        weight_decay: f64,
    },
    /// LAMB (You et al. 2019): Adam's update scaled per tensor by ‖w‖ / ‖update‖.
    Lamb {
        lr: f64,
        beta1: f64,
        beta2: f64,
        eps: f64,
        weight_decay: f64,
    },
}

impl Optimizer {
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::Adam { .. } => "adam",
            Optimizer::AdamW { .. } => "adamw",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::Lion { .. } => "lion",
            Optimizer::Lamb { .. } => "lamb",
        }
    }

    /// The learning rate the optimizer was given.
    pub fn lr(&self) -> f64 {
        match self {
            Optimizer::Sgd { lr, .. }
            | Optimizer::Adam { lr, .. }
            | Optimizer::AdamW { lr, .. }
            | Optimizer::RmsProp { lr, .. }
            | Optimizer::Lion { lr, .. }
            | Optimizer::Lamb { lr, .. } => *lr,
        }
    }
}

/// How long a schedule segment lasts.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Length {
    Steps(usize),
    Epochs(usize),
}

/// One segment of `schedule = a then b then …`. A segment without a length runs to the end of
/// training; only the last one may lack it.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Schedule {
    /// The base rate.
    Constant { length: Option<Length> },
    /// Linear ramp from `from` × base to base.
    Warmup { length: Option<Length>, from: f64 },
    /// Cosine decay from the base rate to `to`.
    Cosine { length: Option<Length>, to: f64 },
    /// Linear decay from the base rate to `to`.
    Linear { length: Option<Length>, to: f64 },
    /// The base rate times `gamma` every `every` epochs.
    Step { every: usize, gamma: f64 },
    /// Cosine up from `max_lr / div` to `max_lr` over `pct` of training, then down to
    /// `max_lr / div / final_div`.
    OneCycle { max_lr: f64, pct: f64, div: f64, final_div: f64 },
    /// The base rate times `gamma` after every epoch (PyTorch's `ExponentialLR`).
    Exponential { length: Option<Length>, gamma: f64 },
    /// `(base − to)·(1 − t)^power + to` over the segment, `t` its fraction done (DeepLab's "poly").
    Polynomial { length: Option<Length>, power: f64, to: f64 },
    /// PyTorch's `ReduceLROnPlateau` (relative threshold): the rate times `factor` when
    /// `monitor` has not improved by more than `threshold` (relative) for more than `patience`
    /// epochs, never below `min_lr`. The run loop steps it after each validation (`run::plateau`).
    Plateau { monitor: Monitor, mode: Mode, factor: f64, patience: usize, threshold: f64, min_lr: f64 },
}

impl Schedule {
    pub fn name(&self) -> &'static str {
        match self {
            Schedule::Constant { .. } => "constant",
            Schedule::Warmup { .. } => "warmup",
            Schedule::Cosine { .. } => "cosine",
            Schedule::Linear { .. } => "linear",
            Schedule::Step { .. } => "step",
            Schedule::OneCycle { .. } => "one_cycle",
            Schedule::Exponential { .. } => "exponential",
            Schedule::Polynomial { .. } => "polynomial",
            Schedule::Plateau { .. } => "plateau",
        }
    }

    /// The segment's length; `None` runs to the end of training.
    pub fn length(&self) -> Option<Length> {
        match self {
            Schedule::Constant { length }
            | Schedule::Warmup { length, .. }
            | Schedule::Cosine { length, .. }
            | Schedule::Linear { length, .. }
            | Schedule::Exponential { length, .. }
            | Schedule::Polynomial { length, .. } => *length,
            Schedule::Step { .. } | Schedule::OneCycle { .. } | Schedule::Plateau { .. } => None,
        }
    }

    /// Whether the segment is a whole schedule of its own, which cannot be chained with `then`.
    pub fn is_whole(&self) -> bool {
        match self {
            Schedule::Constant { .. }
            | Schedule::Warmup { .. }
            | Schedule::Cosine { .. }
            | Schedule::Linear { .. }
            | Schedule::Exponential { .. }
            | Schedule::Polynomial { .. }
            | Schedule::Plateau { .. } => false,
            Schedule::Step { .. } | Schedule::OneCycle { .. } => true,
        }
    }

    /// Whether the segment lowers the rate, so ending it early leaves training at its final rate.
    pub fn decays(&self) -> bool {
        match self {
            Schedule::Constant { .. } | Schedule::Warmup { .. } => false,
            Schedule::Cosine { .. }
            | Schedule::Linear { .. }
            | Schedule::Step { .. }
            | Schedule::OneCycle { .. }
            | Schedule::Exponential { .. }
            | Schedule::Polynomial { .. }
            | Schedule::Plateau { .. } => true,
        }
    }
}

/// A loss term's function. Which model output it applies to is the term's (see
/// [`super::LossTerm`]).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Loss {
    CrossEntropy {
        label_smoothing: f64,
        /// One weight per class.
        weights: Option<Vec<f64>>,
    },
    Bce,
    Mse,
    L1,
    SmoothL1 {
        beta: f64,
    },
    Focal {
        alpha: f64,
        gamma: f64,
    },
    Dice {
        smooth: f64,
    },
    /// Trains the `heat`, `size` and `offset` outputs together.
    #[serde(rename = "centernet_loss")]
    CenterNet {
        heat_weight: f64,
        size_weight: f64,
        offset_weight: f64,
    },
    /// Trains every output as one FCOS pyramid level (`[B, classes + 5, H, W]`). A level of
    /// stride `s` regresses boxes whose largest distance lies in (`range`·s/2, `range`·s], the
    /// first from 0 and the last without a bound (FCOS's 64/128/… at `range = 8`).
    #[serde(rename = "fcos_loss")]
    Fcos {
        cls_weight: f64,
        box_weight: f64,
        ctr_weight: f64,
        range: f64,
    },
}

impl Loss {
    pub fn name(&self) -> &'static str {
        match self {
            Loss::CrossEntropy { .. } => "cross_entropy",
            Loss::Bce => "bce",
            Loss::Mse => "mse",
            Loss::L1 => "l1",
            Loss::SmoothL1 { .. } => "smooth_l1",
            Loss::Focal { .. } => "focal",
            Loss::Dice { .. } => "dice",
            Loss::CenterNet { .. } => "centernet_loss",
            Loss::Fcos { .. } => "fcos_loss",
        }
    }
}

/// A metric of an evaluation pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Metric {
    Accuracy,
    TopK { k: usize },
    Precision,
    Recall,
    F1,
    ConfusionMatrix,
    Map50,
    Map,
    Miou,
    PixelAccuracy,
}

impl Metric {
    /// The builtin's name, which is also the metric's column in `metrics.csv`.
    pub fn name(&self) -> &'static str {
        match self {
            Metric::Accuracy => "accuracy",
            Metric::TopK { .. } => "top_k",
            Metric::Precision => "precision",
            Metric::Recall => "recall",
            Metric::F1 => "f1",
            Metric::ConfusionMatrix => "confusion_matrix",
            Metric::Map50 => "map50",
            Metric::Map => "map",
            Metric::Miou => "miou",
            Metric::PixelAccuracy => "pixel_accuracy",
        }
    }

    /// The task whose predictions the metric scores.
    pub fn task(&self) -> Task {
        match self {
            Metric::Accuracy
            | Metric::TopK { .. }
            | Metric::Precision
            | Metric::Recall
            | Metric::F1
            | Metric::ConfusionMatrix => Task::Classification,
            Metric::Map50 | Metric::Map => Task::Detection,
            Metric::Miou | Metric::PixelAccuracy => Task::Segmentation,
        }
    }
}

/// ImageNet's per-channel statistics (`normalize(imagenet)`).
pub const IMAGENET_MEAN: [f64; 3] = [0.485, 0.456, 0.406];
pub const IMAGENET_STD: [f64; 3] = [0.229, 0.224, 0.225];

/// The per-channel statistics of `normalize`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Normalization {
    /// `normalize(imagenet)`: [`IMAGENET_MEAN`] and [`IMAGENET_STD`].
    Imagenet,
    /// `normalize(mean = […], std = […])`, one value per channel.
    Given { mean: Vec<f64>, std: Vec<f64> },
    /// `normalize(per_image)`: each channel of each image to mean 0 and standard deviation 1,
    /// from its own pixels — for 16-bit and float scenes (microscopy, remote sensing) whose
    /// range differs from image to image.
    PerImage,
}

impl Normalization {
    /// The fixed statistics, or `None` for [`Normalization::PerImage`], which has none.
    pub fn mean_std(&self) -> Option<(&[f64], &[f64])> {
        match self {
            Normalization::Imagenet => Some((&IMAGENET_MEAN, &IMAGENET_STD)),
            Normalization::Given { mean, std } => Some((mean, std)),
            Normalization::PerImage => None,
        }
    }
}

/// One step of an augment pipeline. Probabilities `p` are in [0, 1].
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Augment {
    Normalize {
        stats: Normalization,
    },
    /// Bilinear resize to `height × width`.
    Resize {
        height: usize,
        width: usize,
    },
    /// Resize keeping the aspect ratio so the image fits `height × width`, then zero padding
    /// centred around it (YOLO's letterbox). Boxes and masks follow; `predict` and `eval` map
    /// boxes back through the scale and the padding.
    Letterbox {
        height: usize,
        width: usize,
    },
    /// One `size × size` tile of the image's grid of tiles overlapping by `overlap` pixels, drawn
    /// at random in training (the centre tile in evaluation), at the image's resolution: a scene
    /// far larger than the model is trained on all of its tiles over the epochs. Boxes and masks
    /// follow; `trainc predict --tile` runs on every tile of the same grid.
    Tile {
        size: usize,
        overlap: usize,
    },
    /// A `size × size` crop at a random offset (the centre in evaluation) after zero padding.
    RandomCrop {
        size: usize,
        padding: usize,
    },
    CenterCrop {
        size: usize,
    },
    Hflip {
        p: f64,
    },
    Vflip {
        p: f64,
    },
    /// Rotation by a uniform angle in ±`degrees`.
    Rotate {
        degrees: f64,
        p: f64,
    },
    /// Each factor uniform in [1 − a, 1 + a].
    ColorJitter {
        brightness: f64,
        contrast: f64,
        saturation: f64,
        p: f64,
    },
    /// Zeroes a square of `scale` × the image's area.
    RandomErasing {
        p: f64,
        scale: f64,
    },
    /// torchvision's `RandomResizedCrop`: a crop of a random `scale` share of the area and
    /// aspect `ratio` (log-uniform), resized to `size × size`; the whole image resized in
    /// evaluation.
    RandomResizedCrop {
        size: usize,
        scale: [f64; 2],
        ratio: [f64; 2],
    },
    /// A rotation in ±`degrees`, a shift of up to `translate` × the size per axis, a zoom in
    /// `scale` and an x-shear in ±`shear` degrees, about the centre (bilinear).
    RandomAffine {
        degrees: f64,
        translate: f64,
        scale: [f64; 2],
        shear: f64,
        p: f64,
    },
    /// A `kernel × kernel` Gaussian blur with σ uniform in `sigma` (reflected borders).
    GaussianBlur {
        kernel: usize,
        sigma: [f64; 2],
        p: f64,
    },
    /// Every channel set to the luma (ITU-R 601, torchvision's weights); the channel count stays.
    Grayscale {
        p: f64,
    },
    /// One of `steps`, uniformly at random; the first in evaluation.
    OneOf {
        steps: Vec<Augment>,
    },
    /// torchvision's `RandAugment`: `n` ops drawn from its 14, each at bin `magnitude` of
    /// `bins`, with a random sign where signed (nearest-neighbour warps, zero fill).
    RandAugment {
        n: usize,
        magnitude: usize,
        bins: usize,
    },
    /// torchvision's `TrivialAugmentWide`: one op of its 14 at a random bin of `bins`.
    TrivialAugment {
        bins: usize,
    },
}

impl Augment {
    pub fn name(&self) -> &'static str {
        match self {
            Augment::Normalize { .. } => "normalize",
            Augment::Resize { .. } => "resize",
            Augment::Letterbox { .. } => "letterbox",
            Augment::Tile { .. } => "tile",
            Augment::RandomCrop { .. } => "random_crop",
            Augment::CenterCrop { .. } => "center_crop",
            Augment::Hflip { .. } => "hflip",
            Augment::Vflip { .. } => "vflip",
            Augment::Rotate { .. } => "rotate",
            Augment::ColorJitter { .. } => "color_jitter",
            Augment::RandomErasing { .. } => "random_erasing",
            Augment::RandomResizedCrop { .. } => "random_resized_crop",
            Augment::RandomAffine { .. } => "random_affine",
            Augment::GaussianBlur { .. } => "gaussian_blur",
            Augment::Grayscale { .. } => "grayscale",
            Augment::OneOf { .. } => "one_of",
            Augment::RandAugment { .. } => "rand_augment",
            Augment::TrivialAugment { .. } => "trivial_augment",
        }
    }

    /// Whether the step moves pixels, and so must move boxes and masks with them. The one place
    /// that decides it: the checker's target lint and the loader's masks both ask here.
    pub fn is_geometric(&self) -> bool {
        match self {
            Augment::Resize { .. }
            | Augment::Letterbox { .. }
            | Augment::Tile { .. }
            | Augment::RandomCrop { .. }
            | Augment::CenterCrop { .. }
            | Augment::Hflip { .. }
            | Augment::Vflip { .. }
            | Augment::Rotate { .. }
            | Augment::RandomResizedCrop { .. }
            | Augment::RandomAffine { .. }
            // Shears, translations and rotations are among their ops.
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. } => true,
            Augment::OneOf { steps } => steps.iter().any(Augment::is_geometric),
            Augment::Normalize { .. }
            | Augment::ColorJitter { .. }
            | Augment::RandomErasing { .. }
            | Augment::GaussianBlur { .. }
            | Augment::Grayscale { .. } => false,
        }
    }

    /// The probability the step is applied with in training; steps without one always apply.
    pub fn p(&self) -> f64 {
        match self {
            Augment::Hflip { p }
            | Augment::Vflip { p }
            | Augment::Rotate { p, .. }
            | Augment::ColorJitter { p, .. }
            | Augment::RandomErasing { p, .. }
            | Augment::RandomAffine { p, .. }
            | Augment::GaussianBlur { p, .. }
            | Augment::Grayscale { p } => *p,
            Augment::RandomResizedCrop { .. }
            | Augment::OneOf { .. }
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. }
            | Augment::Normalize { .. }
            | Augment::Resize { .. }
            | Augment::Letterbox { .. }
            | Augment::Tile { .. }
            | Augment::RandomCrop { .. }
            | Augment::CenterCrop { .. } => 1.0,
        }
    }

    /// The image size after the step, if the step fixes it.
    pub fn output_size(&self) -> Option<(usize, usize)> {
        match self {
            Augment::Resize { height, width } | Augment::Letterbox { height, width } => Some((*height, *width)),
            Augment::RandomCrop { size, .. }
            | Augment::CenterCrop { size }
            | Augment::Tile { size, .. }
            | Augment::RandomResizedCrop { size, .. } => Some((*size, *size)),
            // The checker makes every choice end at the same size.
            Augment::OneOf { steps } => steps.first().and_then(Augment::output_size),
            Augment::Normalize { .. }
            | Augment::Hflip { .. }
            | Augment::Vflip { .. }
            | Augment::Rotate { .. }
            | Augment::ColorJitter { .. }
            | Augment::RandomErasing { .. }
            | Augment::RandomAffine { .. }
            | Augment::GaussianBlur { .. }
            | Augment::Grayscale { .. }
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. } => None,
        }
    }

    /// Whether the step draws its whole effect up front (`data::augment::drawn`), so image,
    /// mask and boxes follow one list of concrete ops.
    pub fn is_drawn(&self) -> bool {
        match self {
            Augment::RandomResizedCrop { .. }
            | Augment::RandomAffine { .. }
            | Augment::GaussianBlur { .. }
            | Augment::Grayscale { .. }
            | Augment::OneOf { .. }
            | Augment::RandAugment { .. }
            | Augment::TrivialAugment { .. } => true,
            Augment::Normalize { .. }
            | Augment::Resize { .. }
            | Augment::Letterbox { .. }
            | Augment::Tile { .. }
            | Augment::RandomCrop { .. }
            | Augment::CenterCrop { .. }
            | Augment::Hflip { .. }
            | Augment::Vflip { .. }
            | Augment::Rotate { .. }
            | Augment::ColorJitter { .. }
            | Augment::RandomErasing { .. } => false,
        }
    }
}

/// Builtins that mix the images of a batch: written in `train { mix = […] }`, never in a
/// per-image augment pipeline.
pub const BATCH_MIXES: &[&str] = &["mixup", "cutmix"];

/// One entry of `train { mix = […] }`: a batch-level mix with soft targets. Each batch draws one
/// entry of the list uniformly and applies it with probability `p`; image `i` is mixed with
/// image `i − 1` (the batch rolled by one, as torchvision's `MixUp`/`CutMix` do) by one
/// `λ ~ Beta(alpha, alpha)` per batch, and its target is `λ·y_i + (1 − λ)·y_{i−1}`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Mix {
    /// `λ·x_i + (1 − λ)·x_{i−1}`.
    Mixup { alpha: f64, p: f64 },
    /// A box of `1 − λ` of the area pasted from `x_{i−1}`; `λ` is then the area kept.
    Cutmix { alpha: f64, p: f64 },
}

impl Mix {
    pub fn name(&self) -> &'static str {
        match self {
            Mix::Mixup { .. } => "mixup",
            Mix::Cutmix { .. } => "cutmix",
        }
    }
}

/// `weights = load("r18.pth", into = "resnet180", names = torchvision, rename = ["fc -> head0.linear0"],
/// strict = false)`: a weights file, where in the model it goes and how its names map.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Load {
    /// As written: relative to the `.train` file.
    pub file: String,
    /// The module path prefix the file's root goes to; `None`: the whole model.
    pub into: Option<String>,
    pub names: Names,
    /// `"from -> to"` prefix rules: the file's `from…` keys are the model's `to…` names (after
    /// `names`; either side may be empty, meaning the root).
    pub rename: Vec<String>,
    /// Missing, unused and shape-mismatched keys are errors; otherwise they are reported and skipped.
    pub strict: bool,
}

impl Load {
    pub fn name(&self) -> &'static str {
        "load"
    }
}

/// The naming a weights file uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Names {
    /// trainc's module paths (`resnet180.stem0.conv_bn_relu0.conv2d0.weight`), as
    /// `trainc export --names trainc` writes.
    Trainc,
    /// torchvision's (`layer1.0.conv1.weight`) for the stdlib backbones.
    Torchvision,
}

/// `frozen("resnet180", epochs = 2)` in `freeze = […]`: the parameters under a module path
/// prefix are not trained (no gradient, no update, batch norms on their running statistics) for
/// the first `epochs` epochs, or for the whole run without `epochs`. A bare string is shorthand
/// for `frozen(path)`.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename = "frozen")]
pub struct Frozen {
    /// A module path prefix (`resnet180`, `resnet180.stem0`), matched at a `.` boundary.
    pub path: String,
    /// Epochs the prefix stays frozen; `None`: the whole run.
    pub epochs: Option<usize>,
}

impl Frozen {
    /// Whether the prefix is frozen during the epoch after `epochs_done` finished ones.
    pub fn active(&self, epochs_done: usize) -> bool {
        self.epochs.is_none_or(|e| epochs_done < e)
    }
}

/// `group("resnet180", lr = 0.1)` in `groups = […]`: the parameters under a module path prefix
/// train at `lr` × the schedule's rate (discriminative fine-tuning). The longest matching prefix
/// wins; parameters under none train at the base rate.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename = "group")]
pub struct LrGroup {
    pub path: String,
    /// The learning-rate multiplier.
    pub lr: f64,
}

/// Whether `path` (a module path, `resnet180.stem0.conv2d0`) lies under `prefix`: equal to it, or
/// starting with it at a `.` boundary (`resnet18` does not cover `resnet180`).
pub fn under(path: &str, prefix: &str) -> bool {
    !prefix.is_empty() && relative_to(path, prefix).is_some()
}

/// `path` relative to `prefix` when it lies under it (`""` for the prefix itself); every path
/// lies under the empty prefix, the model's root.
pub fn relative_to<'p>(path: &'p str, prefix: &str) -> Option<&'p str> {
    if prefix.is_empty() {
        return Some(path);
    }
    match path.strip_prefix(prefix)? {
        "" => Some(""),
        rest => rest.strip_prefix('.'),
    }
}

/// `logger = mlflow("http://127.0.0.1:5000", experiment = "fashion")`: a tracking server that
/// gets the run's params, per-epoch metrics and files (`summary.json`, plots).
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "name", rename_all = "snake_case")]
pub enum Logger {
    Mlflow {
        /// `http://host:port` of the tracking server, as written.
        uri: String,
        /// The MLflow experiment (created when missing); `""`: the run's `name`.
        experiment: String,
    },
}

impl Logger {
    pub fn name(&self) -> &'static str {
        match self {
            Logger::Mlflow { .. } => "mlflow",
        }
    }
}

/// The `host:port` of an `http://host[:port][/path]` address (port 80 when none is given), or
/// why it is not one. Shared by `check` (reported at the `logger` call) and the MLflow client.
pub fn http_authority(uri: &str) -> Result<(String, u16, String), String> {
    let Some(rest) = uri.strip_prefix("http://") else {
        return Err(if uri.starts_with("https://") {
            "HTTPS is not supported".into()
        } else {
            "the address must start with `http://`".into()
        });
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let (host, port) = match authority.rsplit_once(':') {
        Some((host, port)) => (host, port.parse::<u16>().map_err(|_| format!("`{port}` is not a port"))?),
        None => (authority, 80),
    };
    if host.is_empty() {
        return Err("the address has no host".into());
    }
    Ok((host.to_string(), port, path.trim_end_matches('/').to_string()))
}
