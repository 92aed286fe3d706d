//! From checked calls to typed specs: the one place per kind where a [`Call`] (bound against the
//! builtin table, defaults filled in) becomes an [`Optimizer`], [`Schedule`], [`Loss`],
//! [`Metric`], [`Augment`], [`Frozen`] or [`LrGroup`].
//!
//! Defaults live only in the table (`builtins.rs`): every argument read here was either written
//! or filled from it. A missing argument or an unknown name therefore means the table and the IR
//! disagree; the test at the bottom builds every builtin of these kinds to rule that out, and
//! [`typed`] still reports it rather than dropping the call.

use super::Sink;
use super::builtins::{self, Kind};
use super::error::CheckError;
use crate::ir::{
    Augment, Call, Frozen, Length, Load, Logger, Loss, LrGroup, Metric, Mix, Mode, Monitor, Names, Normalization,
    Optimizer, Schedule,
};
use crate::syntax::span::Span;

/// Why a checked call has no typed form.
#[derive(Clone, Debug, PartialEq)]
pub enum SpecError {
    /// A name with no variant.
    Unknown,
    /// An argument the variant needs is absent or of another type.
    Arg(&'static str),
    /// Arguments that only make sense one way or the other (`normalize`'s preset or statistics).
    Conflict,
}

/// The typed form of `call`, a builtin of `kind`; `None` after reporting why there is none.
pub fn typed<T>(sink: &mut Sink, call: &Call, kind: Kind, at: Span) -> Option<T>
where
    T: for<'c> TryFrom<&'c Call, Error = SpecError>,
{
    let error = match T::try_from(call) {
        Ok(t) => return Some(t),
        Err(e) => e,
    };
    let signature = builtins::lookup(&call.name, kind).map_or_else(|| call.name.clone(), |b| b.signature());
    let error = match error {
        SpecError::Unknown => CheckError::UnknownName {
            what: kind.noun().into(),
            name: call.name.clone(),
            help: "it is in the builtin table but trainc cannot run it: this is a bug in trainc".into(),
            at: at.into(),
        },
        SpecError::Arg(name) => {
            CheckError::MissingArg { callee: call.name.clone(), name: name.into(), signature, at: at.into() }
        }
        SpecError::Conflict => CheckError::ArgConflict {
            message: format!("`{}` cannot take these arguments together", call.name),
            help: format!("the signature is `{signature}`"),
            at: at.into(),
        },
    };
    sink.push(at.file, error);
    None
}

impl TryFrom<&Call> for Load {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        if call.name != "load" {
            return Err(SpecError::Unknown);
        }
        let a = Args(call);
        Ok(Load {
            file: call.word("file").ok_or(SpecError::Arg("file"))?.to_string(),
            into: call.word("into").map(String::from),
            names: match call.word("names") {
                Some("trainc") => Names::Trainc,
                Some("torchvision") => Names::Torchvision,
                _ => return Err(SpecError::Arg("names")),
            },
            rename: call.strs("rename").ok_or(SpecError::Arg("rename"))?.to_vec(),
            strict: a.bool("strict")?,
        })
    }
}

impl TryFrom<&Call> for Logger {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        match call.name.as_str() {
            "mlflow" => Ok(Logger::Mlflow {
                uri: call.word("uri").ok_or(SpecError::Arg("uri"))?.to_string(),
                // Its default, `""` (the run's name), leaves the argument unset.
                experiment: call.word("experiment").unwrap_or_default().to_string(),
            }),
            _ => Err(SpecError::Unknown),
        }
    }
}

/// Reads a call's arguments for its typed form.
struct Args<'c>(&'c Call);

impl Args<'_> {
    fn f64(&self, name: &'static str) -> Result<f64, SpecError> {
        self.0.f64(name).ok_or(SpecError::Arg(name))
    }

    fn bool(&self, name: &'static str) -> Result<bool, SpecError> {
        self.0.bool(name).ok_or(SpecError::Arg(name))
    }

    fn string(&self, name: &'static str) -> Result<String, SpecError> {
        self.0.word(name).map(String::from).ok_or(SpecError::Arg(name))
    }

    fn usize(&self, name: &'static str) -> Result<usize, SpecError> {
        self.0.i64(name).and_then(|i| usize::try_from(i).ok()).ok_or(SpecError::Arg(name))
    }

    /// A list of two numbers (`scale = [0.08, 1.0]`); the checker judges their order and range.
    fn pair(&self, name: &'static str) -> Result<[f64; 2], SpecError> {
        match self.0.floats(name) {
            Some(&[a, b]) => Ok([a, b]),
            _ => Err(SpecError::Arg(name)),
        }
    }

    /// An argument without a default: `None` when not given.
    fn opt_usize(&self, name: &'static str) -> Result<Option<usize>, SpecError> {
        self.0.args.get(name).map(|_| self.usize(name)).transpose()
    }

    fn opt_floats(&self, name: &'static str) -> Result<Option<Vec<f64>>, SpecError> {
        self.0.args.get(name).map(|_| self.0.floats(name).map(<[f64]>::to_vec).ok_or(SpecError::Arg(name))).transpose()
    }

    /// `steps = …` or `epochs = …`; the checker reports both given before asking.
    fn length(&self) -> Result<Option<Length>, SpecError> {
        Ok(match (self.opt_usize("steps")?, self.opt_usize("epochs")?) {
            (Some(s), _) => Some(Length::Steps(s)),
            (None, Some(e)) => Some(Length::Epochs(e)),
            (None, None) => None,
        })
    }
}

impl TryFrom<&Call> for Optimizer {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        Ok(match call.name.as_str() {
            "sgd" => Optimizer::Sgd {
                lr: a.f64("lr")?,
                momentum: a.f64("momentum")?,
                nesterov: a.bool("nesterov")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "adam" => Optimizer::Adam {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                eps: a.f64("eps")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "adamw" => Optimizer::AdamW {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                eps: a.f64("eps")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "rmsprop" => Optimizer::RmsProp {
                lr: a.f64("lr")?,
                alpha: a.f64("alpha")?,
                eps: a.f64("eps")?,
                momentum: a.f64("momentum")?,
                centered: a.bool("centered")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "lion" => Optimizer::Lion {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                weight_decay: a.f64("weight_decay")?,
            },
            "lamb" => Optimizer::Lamb {
                lr: a.f64("lr")?,
                beta1: a.f64("beta1")?,
                beta2: a.f64("beta2")?,
                eps: a.f64("eps")?,
                weight_decay: a.f64("weight_decay")?,
            },
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Schedule {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        Ok(match call.name.as_str() {
            "constant" => Schedule::Constant { length: a.length()? },
            "warmup" => Schedule::Warmup { length: a.length()?, from: a.f64("from")? },
            "cosine" => Schedule::Cosine { length: a.length()?, to: a.f64("to")? },
            "linear" => Schedule::Linear { length: a.length()?, to: a.f64("to")? },
            "step" => Schedule::Step { every: a.usize("every")?, gamma: a.f64("gamma")? },
            "one_cycle" => Schedule::OneCycle {
                max_lr: a.f64("max_lr")?,
                pct: a.f64("pct")?,
                div: a.f64("div")?,
                final_div: a.f64("final_div")?,
            },
            "exponential" => Schedule::Exponential { length: a.length()?, gamma: a.f64("gamma")? },
            "polynomial" => Schedule::Polynomial { length: a.length()?, power: a.f64("power")?, to: a.f64("to")? },
            "plateau" => {
                // The checker fills the monitor in (`val.loss`, or `train.loss` without a `val` split).
                let (split, metric) =
                    call.word("monitor").and_then(|m| m.split_once('.')).ok_or(SpecError::Arg("monitor"))?;
                let monitor = Monitor { split: split.into(), metric: metric.into() };
                Schedule::Plateau {
                    mode: if monitor.metric == "loss" { Mode::Min } else { Mode::Max },
                    monitor,
                    factor: a.f64("factor")?,
                    patience: a.usize("patience")?,
                    threshold: a.f64("threshold")?,
                    min_lr: a.f64("min_lr")?,
                }
            }
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Loss {
    type Error = SpecError;

    /// `on` is not part of the loss: the checker turns it into the term's output.
    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        Ok(match call.name.as_str() {
            "cross_entropy" => {
                Loss::CrossEntropy { label_smoothing: a.f64("label_smoothing")?, weights: a.opt_floats("weights")? }
            }
            "bce" => Loss::Bce,
            "mse" => Loss::Mse,
            "l1" => Loss::L1,
            "smooth_l1" => Loss::SmoothL1 { beta: a.f64("beta")? },
            "focal" => Loss::Focal { alpha: a.f64("alpha")?, gamma: a.f64("gamma")? },
            "dice" => Loss::Dice { smooth: a.f64("smooth")? },
            "centernet_loss" => Loss::CenterNet {
                heat_weight: a.f64("heat_weight")?,
                size_weight: a.f64("size_weight")?,
                offset_weight: a.f64("offset_weight")?,
            },
            "fcos_loss" => Loss::Fcos {
                cls_weight: a.f64("cls_weight")?,
                box_weight: a.f64("box_weight")?,
                ctr_weight: a.f64("ctr_weight")?,
                range: a.f64("range")?,
            },
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Metric {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        Ok(match call.name.as_str() {
            "accuracy" => Metric::Accuracy,
            "top_k" => Metric::TopK { k: Args(call).usize("k")? },
            "precision" => Metric::Precision,
            "recall" => Metric::Recall,
            "f1" => Metric::F1,
            "confusion_matrix" => Metric::ConfusionMatrix,
            "map50" => Metric::Map50,
            "map" => Metric::Map,
            "miou" => Metric::Miou,
            "pixel_accuracy" => Metric::PixelAccuracy,
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Augment {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        Ok(match call.name.as_str() {
            "normalize" => Augment::Normalize { stats: normalization(call)? },
            "resize" => {
                let height = a.usize("height")?;
                // `resize(h)` is square.
                Augment::Resize { height, width: a.opt_usize("width")?.unwrap_or(height) }
            }
            "letterbox" => {
                let height = a.usize("height")?;
                Augment::Letterbox { height, width: a.opt_usize("width")?.unwrap_or(height) }
            }
            "tile" => Augment::Tile { size: a.usize("size")?, overlap: a.usize("overlap")? },
            "random_crop" => Augment::RandomCrop { size: a.usize("size")?, padding: a.usize("padding")? },
            "center_crop" => Augment::CenterCrop { size: a.usize("size")? },
            "hflip" => Augment::Hflip { p: a.f64("p")? },
            "vflip" => Augment::Vflip { p: a.f64("p")? },
            "rotate" => Augment::Rotate { degrees: a.f64("degrees")?, p: a.f64("p")? },
            "color_jitter" => Augment::ColorJitter {
                brightness: a.f64("brightness")?,
                contrast: a.f64("contrast")?,
                saturation: a.f64("saturation")?,
                p: a.f64("p")?,
            },
            "random_erasing" => Augment::RandomErasing { p: a.f64("p")?, scale: a.f64("scale")? },
            "random_resized_crop" => {
                Augment::RandomResizedCrop { size: a.usize("size")?, scale: a.pair("scale")?, ratio: a.pair("ratio")? }
            }
            "random_affine" => Augment::RandomAffine {
                degrees: a.f64("degrees")?,
                translate: a.f64("translate")?,
                scale: a.pair("scale")?,
                shear: a.f64("shear")?,
                p: a.f64("p")?,
            },
            "gaussian_blur" => {
                Augment::GaussianBlur { kernel: a.usize("kernel")?, sigma: a.pair("sigma")?, p: a.f64("p")? }
            }
            "grayscale" => Augment::Grayscale { p: a.f64("p")? },
            "rand_augment" => {
                Augment::RandAugment { n: a.usize("n")?, magnitude: a.usize("magnitude")?, bins: a.usize("bins")? }
            }
            "trivial_augment" => Augment::TrivialAugment { bins: a.usize("bins")? },
            // `one_of`'s steps are checked one by one (`check::data`), which builds it.
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Mix {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        Ok(match call.name.as_str() {
            "mixup" => Mix::Mixup { alpha: a.f64("alpha")?, p: a.f64("p")? },
            "cutmix" => Mix::Cutmix { alpha: a.f64("alpha")?, p: a.f64("p")? },
            _ => return Err(SpecError::Unknown),
        })
    }
}

impl TryFrom<&Call> for Frozen {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        match call.name.as_str() {
            "frozen" => Ok(Frozen { path: a.string("path")?, epochs: a.opt_usize("epochs")? }),
            _ => Err(SpecError::Unknown),
        }
    }
}

impl TryFrom<&Call> for LrGroup {
    type Error = SpecError;

    fn try_from(call: &Call) -> Result<Self, SpecError> {
        let a = Args(call);
        match call.name.as_str() {
            "group" => Ok(LrGroup { path: a.string("path")?, lr: a.f64("lr")? }),
            _ => Err(SpecError::Unknown),
        }
    }
}

/// A preset alone, or `mean` and `std` alone (the checker explains the other combinations).
fn normalization(call: &Call) -> Result<Normalization, SpecError> {
    match (call.word("preset"), call.floats("mean"), call.floats("std")) {
        (Some("imagenet"), None, None) => Ok(Normalization::Imagenet),
        (Some("per_image"), None, None) => Ok(Normalization::PerImage),
        (None, Some(mean), Some(std)) => Ok(Normalization::Given { mean: mean.to_vec(), std: std.to_vec() }),
        _ => Err(SpecError::Conflict),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::check::args::default_value;
    use crate::check::builtins::{BUILTINS, Builtin, Ty};
    use crate::ir::Value;

    /// A call as the checker builds it: defaults filled, required arguments given.
    fn filled(b: &Builtin) -> Call {
        let mut args = BTreeMap::new();
        for p in b.params {
            let value = match p.default {
                // The checker fills the monitor in when it is not written.
                Some(d) if p.ty != Ty::Monitor => default_value(p.ty, d),
                _ => Some(match p.ty {
                    Ty::Int | Ty::IntOrWord(_) => Value::Int(2),
                    Ty::Float => Value::Float(0.5),
                    Ty::Bool => Value::Bool(true),
                    Ty::Floats => Value::Floats(vec![0.5]),
                    Ty::Strs => Value::Strs(vec!["x".into()]),
                    Ty::Word(words) => Value::Word(words[0].into()),
                    Ty::Monitor => Value::Word("val.loss".into()),
                    Ty::Str | Ty::Output | Ty::Tensor | Ty::Tensors | Ty::Augments | Ty::Ints => Value::Str("x".into()),
                }),
            };
            if let Some(v) = value {
                args.insert(p.name.to_string(), v);
            }
        }
        Call { name: b.name.into(), args }
    }

    fn builds<T>(kind: Kind, name: fn(&T) -> &'static str, skip: fn(&str) -> bool)
    where
        T: for<'c> TryFrom<&'c Call, Error = SpecError>,
    {
        for b in BUILTINS.iter().filter(|b| b.kind == kind && !skip(b.name)) {
            let call = filled(b);
            match T::try_from(&call) {
                Ok(t) => assert_eq!(name(&t), b.name, "{} names itself", b.name),
                // `normalize()` needs a preset or statistics, which the checker asks for.
                Err(SpecError::Conflict) if b.name == "normalize" => {
                    let mut call = call;
                    call.args.insert("preset".into(), Value::Word("imagenet".into()));
                    let t = T::try_from(&call).expect("normalize(imagenet)");
                    assert_eq!(name(&t), b.name);
                }
                Err(e) => panic!("`{}` from the table has no typed form: {e:?}", b.name),
            }
        }
    }

    #[test]
    fn every_configuration_builtin_has_a_typed_form() {
        let none = |_: &str| false;
        builds::<Optimizer>(Kind::Optimizer, Optimizer::name, none);
        builds::<Schedule>(Kind::Schedule, Schedule::name, none);
        builds::<Loss>(Kind::Loss, Loss::name, none);
        builds::<Metric>(Kind::Metric, Metric::name, none);
        // `one_of` is built from its checked steps; the batch mixes are `Mix`es.
        builds::<Augment>(Kind::Augment, Augment::name, |n| n == "one_of" || crate::ir::BATCH_MIXES.contains(&n));
        builds::<Mix>(Kind::Augment, Mix::name, |n| !crate::ir::BATCH_MIXES.contains(&n));
        builds::<Load>(Kind::Weights, Load::name, none);
        builds::<Logger>(Kind::Logger, Logger::name, none);
        // One kind, two typed forms: each builds from its own builtin.
        let frozen = filled(builtins::lookup("frozen", Kind::Param).expect("frozen"));
        assert_eq!(Frozen::try_from(&frozen), Ok(Frozen { path: "x".into(), epochs: None }));
        let group = filled(builtins::lookup("group", Kind::Param).expect("group"));
        assert_eq!(LrGroup::try_from(&group), Ok(LrGroup { path: "x".into(), lr: 0.5 }));
        assert_eq!(Frozen::try_from(&group), Err(SpecError::Unknown));
    }

    #[test]
    fn defaults_come_from_the_table() {
        let adamw = filled(builtins::lookup("adamw", Kind::Optimizer).expect("adamw"));
        assert_eq!(
            Optimizer::try_from(&adamw),
            Ok(Optimizer::AdamW { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weight_decay: 0.01 })
        );
        let resize = Call { name: "resize".into(), args: [("height".to_string(), Value::Int(32))].into() };
        assert_eq!(Augment::try_from(&resize), Ok(Augment::Resize { height: 32, width: 32 }));
    }
}
