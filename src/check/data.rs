//! Datasets and augment pipelines: their declarations, and what their files say.
//!
//! With data checks on, a dataset's headers and metadata are read through the [`Host`] — the
//! IDX header (16 bytes, gunzipped), class folder names, COCO categories, CSV/JSONL labels — to
//! learn its classes, channels, image size and split sizes. No image is ever decoded here.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::Sink;
use super::args::{Const, config_call, constant};
use super::builtins::{self, Kind};
use super::error::CheckError;
use super::spec::typed;
use crate::formats::{self, Probe, Source};
use crate::host::Host;
use crate::ir::{Augment, Call, DatasetSpec, DeclRef, Program, SplitSource, Task, Value};
use crate::suggest;
use crate::syntax::ast::{self, Expr, ExprKind, FieldValue, Item};
use crate::syntax::span::Span;

/// An augment pipeline after inlining the pipelines it names.
#[derive(Clone, Debug, Default)]
pub struct Pipeline {
    pub steps: Vec<(Augment, Span)>,
    pub targets: Vec<String>,
    pub span: Span,
}

impl Pipeline {
    /// The image size after the last resize or crop, if any.
    pub fn output_size(&self) -> Option<(i64, i64)> {
        self.steps.iter().rev().find_map(|(step, _)| step.output_size()).map(|(h, w)| (h as i64, w as i64))
    }
}

pub fn check_augment(program: &Program, sink: &mut Sink, decl: DeclRef, depth: usize) -> Option<Pipeline> {
    let Item::Augment(aug) = program.item(decl) else { return None };
    let mut pipeline = Pipeline { steps: Vec::new(), targets: Vec::new(), span: aug.name.span };
    for t in &aug.targets {
        if !builtins::AUGMENT_TARGETS.contains(&t.name.as_str()) {
            let help = suggest::help(
                &t.name,
                builtins::AUGMENT_TARGETS.iter().copied(),
                "a pipeline acts on `image`, `boxes` and/or `masks`",
            );
            sink.push(
                t.span.file,
                CheckError::AugmentTargets {
                    message: format!("unknown augment target `{}`", t.name),
                    help,
                    label: "not a target".into(),
                    at: t.span.into(),
                },
            );
        } else {
            pipeline.targets.push(t.name.clone());
        }
    }
    if aug.targets.is_empty() {
        pipeline.targets.push("image".into());
    }
    for step in &aug.steps {
        pipeline.steps.extend(augment_step(program, sink, decl, depth, step));
    }
    Some(pipeline)
}

/// One step of pipeline `decl`: a builtin call (`one_of` with its choices checked one by one) or
/// another pipeline, inlined. Empty after reporting why the step has no typed form.
fn augment_step(program: &Program, sink: &mut Sink, decl: DeclRef, depth: usize, step: &Expr) -> Vec<(Augment, Span)> {
    let (callee, args) = match &step.kind {
        ExprKind::Name(id) => (id, &[][..]),
        ExprKind::Call { callee, args } => (callee, args.as_slice()),
        _ => {
            sink.push(
                step.span.file,
                CheckError::BadValue {
                    message: format!("{} is not an augmentation", step.describe()),
                    help: "write calls like `hflip(p = 0.5)`".into(),
                    label: "not a step".into(),
                    at: step.span.into(),
                },
            );
            return Vec::new();
        }
    };
    // Another pipeline, inlined.
    if let Some(other) = program.lookup(decl.module, &callee.name) {
        match program.item(other) {
            Item::Augment(_) if args.is_empty() && depth < 16 && other != decl => {
                return check_augment(program, sink, other, depth + 1).map(|p| p.steps).unwrap_or_default();
            }
            item => {
                let found = super::graph::item_kind(item);
                sink.push(
                    callee.span.file,
                    CheckError::WrongKind {
                        name: callee.name.clone(),
                        found: found.into(),
                        expected: "an augmentation".into(),
                        help: "augment pipelines hold augmentations and other pipelines (without arguments)".into(),
                        at: callee.span.into(),
                    },
                );
            }
        }
        return Vec::new();
    }
    if crate::ir::BATCH_MIXES.contains(&callee.name.as_str()) {
        sink.push(
            callee.span.file,
            CheckError::BatchLevel {
                message: format!(
                    "`{}` mixes the images of a batch and cannot be a step of an augment pipeline, which sees one image at a time",
                    callee.name
                ),
                help: format!("write it in the `train` block: `mix = [{}(alpha = …)]`", callee.name),
                label: "batch level".into(),
                at: step.span.into(),
            },
        );
        return Vec::new();
    }
    if callee.name == "one_of" {
        return one_of(program, sink, decl, depth, (callee, args), step.span).into_iter().collect();
    }
    let Some(builtin) = builtins::lookup(&callee.name, Kind::Augment) else {
        unknown_builtin(sink, callee, Kind::Augment);
        return Vec::new();
    };
    let mut errors = Vec::new();
    let call = config_call(builtin, callee, args, &mut errors);
    let failed = !errors.is_empty();
    sink.extend(errors);
    if !failed
        && check_step(sink, &call, step.span)
        && let Some(typed) = typed(sink, &call, Kind::Augment, step.span)
    {
        return vec![(typed, step.span)];
    }
    Vec::new()
}

/// `one_of([a, b, …])`: each choice checked as a step of its own; every choice must end at the
/// same image size (or none change it), so the batch has one size whichever is drawn.
fn one_of(
    program: &Program,
    sink: &mut Sink,
    decl: DeclRef,
    depth: usize,
    (callee, args): (&ast::Ident, &[ast::Arg]),
    span: Span,
) -> Option<(Augment, Span)> {
    let list = match args {
        [arg] if arg.name.as_ref().is_none_or(|n| n.name == "steps") => match &arg.value.kind {
            ExprKind::List(items) if !items.is_empty() => Some(items),
            _ => None,
        },
        _ => None,
    };
    let Some(items) = list else {
        sink.push(
            span.file,
            CheckError::ArgConflict {
                message: "`one_of` takes one non-empty list of augmentations".into(),
                help: "e.g. `one_of([hflip(p = 1.0), rotate(15, p = 1.0), gaussian_blur(p = 1.0)])`".into(),
                at: callee.span.into(),
            },
        );
        return None;
    };
    let mut steps = Vec::new();
    for item in items {
        let before = steps.len();
        steps.extend(augment_step(program, sink, decl, depth, item).into_iter().map(|(a, _)| a));
        if steps.len() != before + 1 {
            // A choice that failed, or a pipeline of several steps: both already reported or
            // not one choice.
            if steps.len() > before + 1 {
                sink.push(
                    item.span.file,
                    CheckError::ArgConflict {
                        message: "a choice of `one_of` is one augmentation".into(),
                        help: "name a builtin step here, not a pipeline of several".into(),
                        at: item.span.into(),
                    },
                );
            }
            return None;
        }
    }
    let sizes: Vec<Option<(usize, usize)>> = steps.iter().map(Augment::output_size).collect();
    if sizes.iter().any(|s| *s != sizes[0]) {
        let show = |s: &Option<(usize, usize)>| s.map_or("unchanged".to_string(), |(h, w)| format!("{h}×{w}"));
        sink.push(
            span.file,
            CheckError::ArgConflict {
                message: format!(
                    "the choices of `one_of` end at different sizes ({})",
                    sizes.iter().map(show).collect::<Vec<_>>().join(", ")
                ),
                help: "make every choice end at the same size, e.g. crop after `one_of`".into(),
                at: span.into(),
            },
        );
        return None;
    }
    Some((Augment::OneOf { steps }, span))
}

/// Checks among a step's arguments that the table cannot express.
fn check_step(sink: &mut Sink, call: &Call, span: Span) -> bool {
    if let Some(message) = drawn_step_conflict(call) {
        sink.push(
            span.file,
            CheckError::ArgConflict {
                message,
                help: format!(
                    "the signature is `{}`",
                    builtins::lookup(&call.name, Kind::Augment).map_or_else(String::new, |b| b.signature())
                ),
                at: span.into(),
            },
        );
        return false;
    }
    if call.name == "tile" {
        let (size, overlap) = (call.i64("size").unwrap_or(0), call.i64("overlap").unwrap_or(0));
        if overlap >= size {
            sink.push(
                span.file,
                CheckError::ArgConflict {
                    message: format!("`overlap` ({overlap}) must be smaller than the tile's `size` ({size})"),
                    help: "neighbouring tiles step by `size - overlap` pixels, e.g. `tile(512, overlap = 64)`".into(),
                    at: span.into(),
                },
            );
            return false;
        }
        return true;
    }
    if call.name == "normalize" {
        let preset = call.word("preset").is_some();
        let (mean, std) = (call.floats("mean"), call.floats("std"));
        let message = match (preset, mean, std) {
            (true, None, None) => return true,
            (false, Some(m), Some(s)) if m.len() == s.len() && !m.is_empty() => {
                if s.iter().any(|x| *x <= 0.0) {
                    "`std` values must be greater than 0"
                } else {
                    return true;
                }
            }
            (false, Some(_), Some(_)) => "`mean` and `std` must have the same number of values",
            (true, _, _) => "give either a preset or `mean` and `std`, not both",
            _ => "`normalize` needs a preset (`imagenet`, `per_image`) or both `mean` and `std`",
        };
        sink.push(
            span.file,
            CheckError::ArgConflict {
                message: message.into(),
                help: "e.g. `normalize(mean = [0.5], std = [0.25])` or `normalize(imagenet)`".into(),
                at: span.into(),
            },
        );
        return false;
    }
    true
}

/// What is wrong among the arguments of the newer augmentations, if anything: ranges as
/// `[low, high]` pairs, an odd blur kernel, a magnitude inside the bins.
fn drawn_step_conflict(call: &Call) -> Option<String> {
    let pair = |name: &str, lo: f64, hi: f64| -> Option<String> {
        match call.floats(name)? {
            [a, b] if a <= b && *a >= lo && *b <= hi => None,
            [a, b] if a <= b => Some(format!("`{name}` must lie in [{lo}, {hi}], found [{a}, {b}]")),
            [a, b] => Some(format!("`{name}` is a range `[low, high]`, found [{a}, {b}]")),
            other => Some(format!("`{name}` is a range of two numbers `[low, high]`, found {} values", other.len())),
        }
    };
    match call.name.as_str() {
        "random_resized_crop" => pair("scale", 1e-6, 1.0).or_else(|| pair("ratio", 1e-6, 1e6)),
        "random_affine" => pair("scale", 1e-6, 1e6),
        "gaussian_blur" => {
            let kernel = call.i64("kernel").unwrap_or(3);
            if kernel % 2 == 0 {
                return Some(format!("the blur `kernel` must be odd, found {kernel}"));
            }
            pair("sigma", 1e-6, 1e6)
        }
        "rand_augment" => {
            let (m, bins) = (call.i64("magnitude").unwrap_or(0), call.i64("bins").unwrap_or(31));
            (m >= bins).then(|| format!("`magnitude` ({m}) must be below `bins` ({bins}): it is a bin's index"))
        }
        _ => None,
    }
}

/// A configuration call to a builtin of `kind` (`adamw(lr = 1e-3)`, or a bare `accuracy`), bound
/// and converted with defaults filled in. `None` after reporting why it is not one.
pub fn builtin_call(sink: &mut Sink, expr: &Expr, kind: Kind, example: &str) -> Option<Call> {
    let (callee, args) = match &expr.kind {
        ExprKind::Call { callee, args } => (callee, args.as_slice()),
        ExprKind::Name(id) => (id, &[][..]),
        _ => {
            sink.push(
                expr.span.file,
                CheckError::BadValue {
                    message: format!("{} is not {}", expr.describe(), kind.article()),
                    help: format!("write e.g. `{example}`"),
                    label: format!("not {}", kind.article()),
                    at: expr.span.into(),
                },
            );
            return None;
        }
    };
    let Some(builtin) = builtins::lookup(&callee.name, kind) else {
        unknown_builtin(sink, callee, kind);
        return None;
    };
    let mut errors = Vec::new();
    let call = config_call(builtin, callee, args, &mut errors);
    let failed = !errors.is_empty();
    sink.extend(errors);
    (!failed).then_some(call)
}

/// Reports a name that is not a builtin of `kind`, saying what it is if it is another kind.
pub fn unknown_builtin(sink: &mut Sink, callee: &ast::Ident, kind: Kind) {
    if let Some(other) = builtins::BUILTINS.iter().find(|b| b.name == callee.name) {
        sink.push(
            callee.span.file,
            CheckError::WrongKind {
                name: callee.name.clone(),
                found: other.kind.article().to_string(),
                expected: kind.article().to_string(),
                help: format!("the {} are: {}", kind.plural(), builtins::names(kind).collect::<Vec<_>>().join(", ")),
                at: callee.span.into(),
            },
        );
        return;
    }
    let help = suggest::help(
        &callee.name,
        builtins::names(kind),
        format!("the {} are: {}", kind.plural(), builtins::names(kind).collect::<Vec<_>>().join(", ")),
    );
    sink.push(
        callee.span.file,
        CheckError::UnknownName { what: kind.noun().into(), name: callee.name.clone(), help, at: callee.span.into() },
    );
}

pub struct DataCheck<'a> {
    pub program: &'a Program,
    pub host: &'a dyn Host,
    pub sink: &'a mut Sink,
    pub skip_data: bool,
    pub assume_classes: Option<Vec<String>>,
    /// Folder of each file, for relative dataset paths.
    pub base_dir: &'a dyn Fn(DeclRef) -> PathBuf,
}

impl DataCheck<'_> {
    pub fn dataset(&mut self, decl: DeclRef) -> Option<DatasetSpec> {
        let Item::Dataset(ds) = self.program.item(decl) else { return None };
        let source = self.source(ds)?;
        // Without `train = …`, the source's data (or its `train` folder/prefix) is the train split.
        let fields = self.fields(ds, source.as_ref().map_or("", Source::default_train));
        let source = source?;
        let mut spec = DatasetSpec {
            name: ds.name.name.clone(),
            task: source.task(),
            base_dir: (self.base_dir)(decl),
            splits: fields.splits.clone(),
            classes: Vec::new(),
            channels: fields.channels.unwrap_or_else(|| source.channels()),
            image_size: None,
            counts: BTreeMap::new(),
            skip_bad: fields.skip_bad,
            source,
        };
        self.split_sources(&spec, &fields.split_spans);
        let found = if self.skip_data { None } else { self.probe_splits(&mut spec, ds, &fields) };
        self.classes(&mut spec, ds, fields.classes, found);
        Some(spec)
    }

    /// The dataset's source with its arguments bound. `None` when it names no source (then its
    /// fields are not checked), `Some(None)` when the source's arguments are wrong.
    fn source(&mut self, ds: &ast::Dataset) -> Option<Option<Source>> {
        let (callee, args) = match &ds.source.kind {
            ExprKind::Call { callee, args } => (callee, args.as_slice()),
            ExprKind::Name(id) => (id, &[][..]),
            _ => {
                self.sink.push(
                    ds.name.span.file,
                    CheckError::BadValue {
                        message: format!("{} is not a dataset source", ds.source.describe()),
                        help: "write e.g. `idx(\"/path\")` or `coco(\"ann.json\", images = \"imgs\")`".into(),
                        label: "not a source".into(),
                        at: ds.source.span.into(),
                    },
                );
                return None;
            }
        };
        let Some(builtin) = builtins::lookup(&callee.name, Kind::Source) else {
            unknown_builtin(self.sink, callee, Kind::Source);
            return None;
        };
        let mut errors = Vec::new();
        let call = config_call(builtin, callee, args, &mut errors);
        let failed = !errors.is_empty();
        self.sink.extend(errors);
        Some(if failed { None } else { Source::from_call(&call) })
    }

    /// Checks the dataset's fields: splits, `classes`, `channels`.
    fn fields(&mut self, ds: &ast::Dataset, default_train: &str) -> Fields {
        let file = ds.name.span.file;
        let name = &ds.name.name;
        let mut fields = Fields {
            splits: BTreeMap::from([("train".to_string(), SplitSource::Stored(default_train.into()))]),
            split_spans: BTreeMap::new(),
            own_args: BTreeMap::new(),
            classes: None,
            skip_bad: false,
            channels: None,
        };
        let mut seen: Vec<&str> = Vec::new();
        for field in &ds.fields {
            let key = field.key.name.as_str();
            if seen.contains(&key) {
                self.sink.push(
                    file,
                    CheckError::DuplicateKey {
                        key: key.into(),
                        place: format!("dataset `{name}`"),
                        at: field.key.span.into(),
                    },
                );
                continue;
            }
            seen.push(key);
            let FieldValue::Expr(value) = &field.value else {
                self.sink.push(
                    file,
                    CheckError::BadValue {
                        message: format!("`{key}` takes a value, not a block"),
                        help: format!("write `{key} = …`"),
                        label: "a block".into(),
                        at: field.span.into(),
                    },
                );
                continue;
            };
            self.field(name, field, value, &mut fields);
        }
        fields
    }

    fn field(&mut self, dataset: &str, field: &ast::Field, value: &Expr, fields: &mut Fields) {
        let file = field.key.span.file;
        let key = field.key.name.as_str();
        match key {
            "train" | "val" | "test" => {
                if let Some(split) = self.split(dataset, value, &fields.splits) {
                    if let (SplitSource::Own(_), ExprKind::Call { args, .. }) = (&split, &value.kind) {
                        let spans = args.iter().map(|a| a.value.span).collect::<Vec<_>>();
                        fields.own_args.insert(key.into(), if spans.is_empty() { vec![value.span] } else { spans });
                    }
                    fields.splits.insert(key.into(), split);
                    fields.split_spans.insert(key.into(), value.span);
                }
            }
            "classes" => match constant(value) {
                Ok(Const::List(items)) if !items.is_empty() && items.iter().all(|i| matches!(i, Const::Str(_))) => {
                    let names: Vec<String> =
                        items.into_iter().filter_map(|i| if let Const::Str(s) = i { Some(s) } else { None }).collect();
                    fields.classes = Some((names, value.span));
                }
                _ => self.sink.push(
                    file,
                    CheckError::BadValue {
                        message: "`classes` must be a non-empty list of names".into(),
                        help: "write `classes = [\"cat\", \"dog\"]`".into(),
                        label: value.describe(),
                        at: value.span.into(),
                    },
                ),
            },
            "skip_bad" => match constant(value) {
                Ok(Const::Bool(b)) => fields.skip_bad = b,
                _ => self.sink.push(
                    file,
                    CheckError::BadValue {
                        message: "`skip_bad` is `true` or `false`".into(),
                        help: "write `skip_bad = true` to leave unreadable images out with a warning".into(),
                        label: value.describe(),
                        at: value.span.into(),
                    },
                ),
            },
            "channels" => match constant(value) {
                Ok(Const::Int(n)) if n == 1 || n == 3 => fields.channels = Some(n as usize),
                _ => self.sink.push(
                    file,
                    CheckError::ArgRange {
                        callee: dataset.into(),
                        name: "channels".into(),
                        bound: "1 or 3".into(),
                        value: self.program.sources.text(value.span).into(),
                        help: "images are grayscale (1) or RGB (3)".into(),
                        at: value.span.into(),
                    },
                ),
            },
            _ => {
                let help = suggest::help(
                    key,
                    builtins::DATASET_KEYS.iter().copied(),
                    format!("a dataset has {}", builtins::DATASET_KEYS.join(", ")),
                );
                self.sink.push(
                    file,
                    CheckError::UnknownKey {
                        key: key.into(),
                        place: format!("dataset `{dataset}`"),
                        help,
                        at: field.key.span.into(),
                    },
                );
            }
        }
    }

    /// Settles the class list from what the dataset lists and what the data declares.
    fn classes(
        &mut self,
        spec: &mut DatasetSpec,
        ds: &ast::Dataset,
        listed: Option<(Vec<String>, Span)>,
        found: Option<Vec<String>>,
    ) {
        let file = ds.name.span.file;
        match (listed, found) {
            (Some((listed, _)), Some(_)) if spec.source.names_default() => spec.classes = listed,
            (Some((listed, span)), Some(found)) if spec.source.names_subset() => {
                let outside: Vec<String> =
                    found.iter().filter(|c| !listed.contains(c)).map(|c| format!("\"{c}\"")).collect();
                if !outside.is_empty() {
                    self.sink.push(
                        file,
                        CheckError::DataLabel {
                            dataset: spec.name.clone(),
                            message: format!(
                                "the labels name {} class(es) outside the class list: {}",
                                outside.len(),
                                outside.join(", ")
                            ),
                            help: "add them to `classes`, or remove `classes` to take the names from the labels".into(),
                            at: span.into(),
                        },
                    );
                }
                spec.classes = listed;
            }
            (Some((listed, span)), Some(found))
                if found.len() != listed.len()
                    || (spec.task != Task::Classification || spec.source.order_matters()) && found != listed =>
            {
                let help = if found.len() <= 12 {
                    format!("the data has: {}", found.iter().map(|c| format!("\"{c}\"")).collect::<Vec<_>>().join(", "))
                } else {
                    "remove `classes` to take them from the data".into()
                };
                let found_words = if found.len() == listed.len() {
                    format!("the same {} classes are named or ordered differently", found.len())
                } else {
                    format!("{} listed, {} in the data", listed.len(), found.len())
                };
                self.sink.push(
                    file,
                    CheckError::DataClasses {
                        dataset: spec.name.clone(),
                        listed: listed.len(),
                        found: found_words,
                        help,
                        at: span.into(),
                    },
                );
                spec.classes = found;
            }
            (Some((listed, _)), _) => spec.classes = listed,
            (None, Some(found)) => spec.classes = found,
            (None, None) if self.assume_classes.is_some() => {
                spec.classes = self.assume_classes.clone().unwrap_or_default();
            }
            (None, None) => {
                if spec.source.ids_only() {
                    self.sink.push(
                        file,
                        CheckError::MissingKey {
                            key: "classes".into(),
                            place: format!("dataset `{}`", spec.name),
                            help:
                                "IDX files and masks carry class ids, not names: list them with `classes = [\"…\", …]`"
                                    .into(),
                            at: ds.name.span.into(),
                        },
                    );
                }
            }
        }
    }

    fn split(&mut self, dataset: &str, value: &Expr, known: &BTreeMap<String, SplitSource>) -> Option<SplitSource> {
        let file = value.span.file;
        match &value.kind {
            ExprKind::Str(s) => Some(SplitSource::Stored(s.clone())),
            ExprKind::Call { callee, args } if builtins::lookup(&callee.name, Kind::Source).is_some() => {
                let builtin = builtins::lookup(&callee.name, Kind::Source)?;
                let mut errors = Vec::new();
                let call = config_call(builtin, callee, args, &mut errors);
                let failed = !errors.is_empty();
                self.sink.extend(errors);
                if failed { None } else { Source::from_call(&call).map(SplitSource::Own) }
            }
            ExprKind::Call { callee, args } if callee.name == "split" => {
                let slots = [
                    super::args::Slot { name: "of", required: true },
                    super::args::Slot { name: "fraction", required: true },
                    super::args::Slot { name: "seed", required: false },
                ];
                let mut errors = Vec::new();
                let given = super::args::bind(callee, "split(of, fraction, seed = 0)", &slots, args, &mut errors);
                let failed = !errors.is_empty();
                self.sink.extend(errors);
                if failed {
                    return None;
                }
                let of = given[0]?;
                let of_name = match &of.kind {
                    ExprKind::Name(id) if known.contains_key(&id.name) => id.name.clone(),
                    _ => {
                        let help = suggest::help(
                            self.program.sources.text(of.span),
                            known.keys().map(String::as_str),
                            "split an earlier split: `val = split(train, 0.1, seed = 1)`",
                        );
                        self.sink.push(
                            file,
                            CheckError::DataSplit {
                                dataset: dataset.into(),
                                message: format!(
                                    "`{}` is not a split declared before this one",
                                    self.program.sources.text(of.span)
                                ),
                                help,
                                at: of.span.into(),
                            },
                        );
                        return None;
                    }
                };
                let mut errors = Vec::new();
                let fraction = super::args::convert(
                    "split",
                    "fraction",
                    builtins::Ty::Float,
                    builtins::Bound::Open(0.0, 1.0),
                    given[1]?,
                    &mut errors,
                );
                let seed = match given[2] {
                    Some(e) => super::args::convert(
                        "split",
                        "seed",
                        builtins::Ty::Int,
                        builtins::Bound::NonNeg,
                        e,
                        &mut errors,
                    ),
                    None => Some(Value::Int(0)),
                };
                self.sink.extend(errors);
                match (fraction, seed) {
                    (Some(Value::Float(fraction)), Some(Value::Int(seed))) => {
                        Some(SplitSource::Carve { of: of_name, fraction, seed: seed as u64 })
                    }
                    _ => None,
                }
            }
            _ => {
                self.sink.push(
                    file,
                    CheckError::DataSplit {
                        dataset: dataset.into(),
                        message: format!(
                            "a split is a stored name, a source or `split(…)`, not {}",
                            value.describe()
                        ),
                        help: "write `test = \"t10k\"`, `val = coco(\"val.json\", images = \"val\")` or `val = split(train, 0.1, seed = 1)`".into(),
                        at: value.span.into(),
                    },
                );
                None
            }
        }
    }

    /// Checks what each split reads against its source: a stored name must be one the source
    /// stores, and a split's own source must be of the dataset's task.
    fn split_sources(&mut self, spec: &DatasetSpec, spans: &BTreeMap<String, Span>) {
        for (split, source) in &spec.splits {
            let at = spans.get(split).copied().unwrap_or_default();
            let error = match source {
                SplitSource::Stored(stored) if !stored.is_empty() && !spec.source.stores_splits() => {
                    CheckError::DataStoredSplit {
                        dataset: spec.name.clone(),
                        source_name: spec.source.name().into(),
                        stored: stored.clone(),
                        help: format!(
                            "give `{split}` a source of its own (`{split} = {}(…)`) or carve it from another split: `{split} = split(train, 0.1, seed = 1)`",
                            spec.source.name()
                        ),
                        at: at.into(),
                    }
                }
                SplitSource::Own(own) if own.task() != spec.task => CheckError::DataSplit {
                    dataset: spec.name.clone(),
                    message: format!(
                        "split `{split}` reads `{}` ({:?}), but the dataset's `{}` is {:?}",
                        own.name(),
                        own.task(),
                        spec.source.name(),
                        spec.task
                    )
                    .to_lowercase(),
                    help: "every split of a dataset is of one task: give it a source of the same kind".into(),
                    at: at.into(),
                },
                _ => continue,
            };
            self.sink.push(at.file, error);
        }
    }

    /// Probes the dataset's source for its stored splits and each split's own source; returns
    /// the classes of the `train` split's data, after checking that every other split's data
    /// declares the same ones.
    fn probe_splits(&mut self, spec: &mut DatasetSpec, ds: &ast::Dataset, fields: &Fields) -> Option<Vec<String>> {
        let mut found: Vec<(String, Option<Vec<String>>)> = Vec::new();
        if !spec.stored_splits().is_empty() {
            let args = match &ds.source.kind {
                ExprKind::Call { args, .. } if !args.is_empty() => args.iter().map(|a| a.value.span).collect(),
                _ => vec![ds.source.span],
            };
            let classes = self.probe(spec, args, &fields.split_spans);
            found.extend(spec.stored_splits().into_iter().map(|(split, _)| (split, classes.clone())));
        }
        for (split, source) in spec.splits.clone() {
            let SplitSource::Own(own) = source else { continue };
            if own.task() != spec.task {
                continue;
            }
            let mut sub = spec.own_split(&split, &own);
            let args = fields.own_args.get(&split).cloned().unwrap_or_default();
            let classes = self.probe(&mut sub, args, &fields.split_spans);
            spec.counts.extend(sub.counts);
            spec.image_size = spec.image_size.or(sub.image_size);
            found.push((split, classes));
        }
        if spec.source.names_subset() {
            // Names gathered from the labels: a split may use fewer; the dataset has them all.
            let all: std::collections::BTreeSet<String> =
                found.into_iter().flat_map(|(_, c)| c.unwrap_or_default()).collect();
            return Some(all.into_iter().collect());
        }
        let reference = found.iter().position(|(s, _)| s == "train").unwrap_or(0);
        let (reference_split, reference_classes) = found.get(reference).cloned()?;
        for (split, classes) in &found {
            if let (Some(theirs), Some(ours)) = (classes, &reference_classes)
                && theirs != ours
            {
                let at = fields.split_spans.get(split).copied().unwrap_or(ds.source.span);
                self.sink.push(
                    at.file,
                    CheckError::DataSplitClasses {
                        dataset: spec.name.clone(),
                        split: split.clone(),
                        reference: reference_split.clone(),
                        difference: class_difference(ours, theirs, &reference_split, split),
                        help: format!(
                            "a class is the same index in every split: give `{split}` data with the classes of `{reference_split}`, in the same order"
                        ),
                        at: at.into(),
                    },
                );
            }
        }
        reference_classes
    }

    /// Reads headers and metadata through the format of `spec`'s source, its errors pointing at
    /// `args`; returns the class names the data itself declares.
    fn probe(
        &mut self,
        spec: &mut DatasetSpec,
        args: Vec<Span>,
        split_spans: &BTreeMap<String, Span>,
    ) -> Option<Vec<String>> {
        let mut probe =
            Probe { host: self.host, sink: &mut *self.sink, dataset: spec.name.clone(), args, splits: split_spans };
        formats::probe(spec, &mut probe)
    }
}

/// How one split's classes differ from the reference split's: names one lacks or adds, else
/// the first place where the order differs.
fn class_difference(ours: &[String], theirs: &[String], reference: &str, split: &str) -> String {
    let quote = |names: Vec<&String>| names.iter().map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ");
    let lacks: Vec<&String> = ours.iter().filter(|c| !theirs.contains(c)).collect();
    let adds: Vec<&String> = theirs.iter().filter(|c| !ours.contains(c)).collect();
    let mut parts = Vec::new();
    if !lacks.is_empty() {
        parts.push(format!("`{split}` lacks {}", quote(lacks)));
    }
    if !adds.is_empty() {
        parts.push(format!("`{split}` has {} that `{reference}` has not", quote(adds)));
    }
    if parts.is_empty() {
        let at = ours.iter().zip(theirs).position(|(a, b)| a != b).unwrap_or(0);
        parts.push(format!(
            "the same {} classes in another order (class {at} is \"{}\" in `{reference}`, \"{}\" in `{split}`)",
            ours.len(),
            ours.get(at).map_or("", String::as_str),
            theirs.get(at).map_or("", String::as_str)
        ));
    }
    parts.join("; ")
}

/// A dataset's fields, checked.
struct Fields {
    splits: BTreeMap<String, SplitSource>,
    /// Where each split given in the dataset is written.
    split_spans: BTreeMap<String, Span>,
    /// The argument spans of each split's own source call, where errors about its data point.
    own_args: BTreeMap<String, Vec<Span>>,
    classes: Option<(Vec<String>, Span)>,
    channels: Option<usize>,
    skip_bad: bool,
}
