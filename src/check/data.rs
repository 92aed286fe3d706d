//! Datasets and augment pipelines: their declarations, and what their files say.
//!
//! With data checks on, a dataset's headers and metadata are read through the [`Host`] — the
//! IDX header (16 bytes, gunzipped), class folder names, COCO categories, CSV/JSONL labels — to
//! learn its classes, channels, image size and split sizes. No image is ever decoded here.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use super::Sink;
use super::args::{Const, config_call, constant};
use super::builtins::{self, Kind};
use super::error::CheckError;
use super::spec::typed;
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
                continue;
            }
        };
        // Another pipeline, inlined.
        if let Some(other) = program.lookup(decl.module, &callee.name) {
            match program.item(other) {
                Item::Augment(_) if args.is_empty() && depth < 16 && other != decl => {
                    if let Some(inner) = check_augment(program, sink, other, depth + 1) {
                        pipeline.steps.extend(inner.steps);
                    }
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
            continue;
        }
        match builtins::lookup(&callee.name, Kind::Augment) {
            Some(builtin) => {
                let mut errors = Vec::new();
                let call = config_call(builtin, callee, args, &mut errors);
                let failed = !errors.is_empty();
                sink.extend(errors);
                if !failed
                    && check_step(sink, &call, step.span)
                    && let Some(typed) = typed(sink, &call, Kind::Augment, step.span)
                {
                    pipeline.steps.push((typed, step.span));
                }
            }
            None => unknown_builtin(sink, callee, Kind::Augment),
        }
    }
    Some(pipeline)
}

/// Checks among a step's arguments that the table cannot express.
fn check_step(sink: &mut Sink, call: &Call, span: Span) -> bool {
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
            _ => "`normalize` needs a preset (`imagenet`) or both `mean` and `std`",
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
        let file = ds.name.span.file;
        let (callee, args) = match &ds.source.kind {
            ExprKind::Call { callee, args } => (callee, args.as_slice()),
            ExprKind::Name(id) => (id, &[][..]),
            _ => {
                self.sink.push(
                    file,
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
        let source = config_call(builtin, callee, args, &mut errors);
        let failed = !errors.is_empty();
        self.sink.extend(errors);
        let task = match builtin.name {
            "coco" => Task::Detection,
            "mask_folder" => Task::Segmentation,
            _ => Task::Classification,
        };
        let mut spec = DatasetSpec {
            name: ds.name.name.clone(),
            source,
            task,
            base_dir: (self.base_dir)(decl),
            splits: BTreeMap::new(),
            classes: Vec::new(),
            channels: if builtin.name == "idx" { 1 } else { 3 },
            image_size: None,
            counts: BTreeMap::new(),
        };
        // Without `train = …`, the source's data (or its `train` folder/prefix) is the train split.
        let default = match builtin.name {
            "idx" | "image_folder" => "train",
            _ => "",
        };
        spec.splits.insert("train".into(), SplitSource::Stored(default.into()));
        let mut classes: Option<(Vec<String>, Span)> = None;
        let mut seen: Vec<&str> = Vec::new();
        let mut split_spans: BTreeMap<String, Span> = BTreeMap::new();
        for field in &ds.fields {
            let key = field.key.name.as_str();
            if seen.contains(&key) {
                self.sink.push(
                    file,
                    CheckError::DuplicateKey {
                        key: key.into(),
                        place: format!("dataset `{}`", spec.name),
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
            match key {
                "train" | "val" | "test" => {
                    if let Some(split) = self.split(&spec.name, value, &spec.splits) {
                        spec.splits.insert(key.into(), split);
                        split_spans.insert(key.into(), value.span);
                    }
                }
                "classes" => match constant(value) {
                    Ok(Const::List(items)) if !items.is_empty() && items.iter().all(|i| matches!(i, Const::Str(_))) => {
                        let names: Vec<String> = items
                            .into_iter()
                            .filter_map(|i| if let Const::Str(s) = i { Some(s) } else { None })
                            .collect();
                        classes = Some((names, value.span));
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
                "channels" => match constant(value) {
                    Ok(Const::Int(n)) if n == 1 || n == 3 => spec.channels = n as usize,
                    _ => self.sink.push(
                        file,
                        CheckError::ArgRange {
                            callee: spec.name.clone(),
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
                            place: format!("dataset `{}`", spec.name),
                            help,
                            at: field.key.span.into(),
                        },
                    );
                }
            }
        }
        if failed {
            return None;
        }
        let listed = classes.as_ref().map(|(c, _)| c.clone());
        let found = if self.skip_data { None } else { self.probe(&mut spec, ds, &split_spans) };
        match (listed, found, &classes) {
            (Some(listed), Some(found), Some((_, span)))
                if found.len() != listed.len()
                    || (task != Task::Classification || builtin.name == "image_folder") && found != listed =>
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
                        at: (*span).into(),
                    },
                );
                spec.classes = found;
            }
            (Some(listed), _, _) => spec.classes = listed,
            (None, Some(found), _) => spec.classes = found,
            (None, None, _) if self.assume_classes.is_some() => {
                spec.classes = self.assume_classes.clone().unwrap_or_default();
            }
            (None, None, _) => {
                if builtin.name == "idx" || builtin.name == "mask_folder" {
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
        Some(spec)
    }

    fn split(&mut self, dataset: &str, value: &Expr, known: &BTreeMap<String, SplitSource>) -> Option<SplitSource> {
        let file = value.span.file;
        match &value.kind {
            ExprKind::Str(s) => Some(SplitSource::Stored(s.clone())),
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
                        message: format!("a split is a stored name or `split(…)`, not {}", value.describe()),
                        help: "write `test = \"t10k\"` or `val = split(train, 0.1, seed = 1)`".into(),
                        at: value.span.into(),
                    },
                );
                None
            }
        }
    }

    /// Reads headers and metadata; returns the class names the data itself declares.
    fn probe(
        &mut self,
        spec: &mut DatasetSpec,
        ds: &ast::Dataset,
        split_spans: &BTreeMap<String, Span>,
    ) -> Option<Vec<String>> {
        let file = ds.name.span.file;
        let source_span = match &ds.source.kind {
            ExprKind::Call { args, .. } => args.first().map_or(ds.source.span, |a| a.value.span),
            _ => ds.source.span,
        };
        let path = |name: &str| -> Option<PathBuf> { spec.source.word(name).map(|p| spec.base_dir.join(p)) };
        match spec.source.name.as_str() {
            "idx" => {
                let root = path("root")?;
                if !self.host.exists(&root) {
                    self.missing(spec, &root, source_span);
                    return None;
                }
                let stored = spec.stored_splits();
                for (split, prefix) in stored {
                    let at = split_spans.get(&split).copied().unwrap_or(source_span);
                    let images = self.idx_header(spec, &root, &format!("{prefix}-images-idx3-ubyte"), 0x0803, at)?;
                    let labels = self.idx_header(spec, &root, &format!("{prefix}-labels-idx1-ubyte"), 0x0801, at)?;
                    if images[0] != labels[0] {
                        self.sink.push(
                            file,
                            CheckError::DataFormat {
                                dataset: spec.name.clone(),
                                message: format!("split `{split}` has {} images but {} labels", images[0], labels[0]),
                                help: "the image and label files must come from the same release".into(),
                                at: at.into(),
                            },
                        );
                    }
                    spec.counts.insert(split, images[0] as usize);
                    spec.image_size = Some((images[1] as usize, images[2] as usize));
                }
                None
            }
            "image_folder" => {
                let root = path("root")?;
                let stored = spec.stored_splits();
                let mut classes = None;
                for (split, sub) in stored {
                    let dir = root.join(&sub);
                    let at = split_spans.get(&split).copied().unwrap_or(source_span);
                    match self.host.list_dir(&dir) {
                        Ok(entries) => {
                            let dirs: Vec<String> = entries.into_iter().filter(|(_, d)| *d).map(|(n, _)| n).collect();
                            if dirs.is_empty() {
                                self.sink.push(
                                    file,
                                    CheckError::DataFormat {
                                        dataset: spec.name.clone(),
                                        message: format!("`{}` has no class folders", dir.display()),
                                        help: "put each class's images in a sub-folder named after the class".into(),
                                        at: at.into(),
                                    },
                                );
                            }
                            classes.get_or_insert(dirs);
                        }
                        Err(_) => {
                            self.missing(spec, &dir, at);
                            return None;
                        }
                    }
                }
                classes
            }
            "csv" | "jsonl" => {
                let index = path("path")?;
                let text = match self.host.read_to_string(&index) {
                    Ok(t) => t,
                    Err(_) => {
                        self.missing(spec, &index, source_span);
                        return None;
                    }
                };
                let mut labels = std::collections::BTreeSet::new();
                let mut count = 0;
                for (i, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
                    let label = if spec.source.name == "csv" {
                        if i == 0 && line.to_ascii_lowercase().starts_with("path") {
                            continue;
                        }
                        line.rsplit_once(',').map(|(_, l)| l.trim().to_string())
                    } else {
                        serde_json::from_str::<serde_json::Value>(line).ok().and_then(|v| {
                            v.get("label").map(|l| l.as_str().map(String::from).unwrap_or_else(|| l.to_string()))
                        })
                    };
                    match label {
                        Some(l) => {
                            labels.insert(l);
                            count += 1;
                        }
                        None => {
                            self.sink.push(
                                file,
                                CheckError::DataFormat {
                                    dataset: spec.name.clone(),
                                    message: format!("line {} of `{}` has no label", i + 1, index.display()),
                                    help: if spec.source.name == "csv" {
                                        "each row is `path,label`".into()
                                    } else {
                                        "each line is {\"path\": …, \"label\": …}".into()
                                    },
                                    at: source_span.into(),
                                },
                            );
                            return None;
                        }
                    }
                }
                spec.counts.insert("train".into(), count);
                Some(labels.into_iter().collect())
            }
            "coco" => {
                let ann = path("annotations")?;
                let text = match self.host.read_to_string(&ann) {
                    Ok(t) => t,
                    Err(_) => {
                        self.missing(spec, &ann, source_span);
                        return None;
                    }
                };
                if let Some(images) = path("images")
                    && !self.host.exists(&images)
                {
                    let at = match &ds.source.kind {
                        ExprKind::Call { args, .. } => args.get(1).map_or(source_span, |a| a.value.span),
                        _ => source_span,
                    };
                    self.missing(spec, &images, at);
                }
                let json: serde_json::Value = match serde_json::from_str(&text) {
                    Ok(j) => j,
                    Err(e) => {
                        self.sink.push(
                            file,
                            CheckError::DataFormat {
                                dataset: spec.name.clone(),
                                message: format!("`{}` is not valid JSON: {e}", ann.display()),
                                help:
                                    "COCO annotations are one JSON object with `images`, `annotations` and `categories`"
                                        .into(),
                                at: source_span.into(),
                            },
                        );
                        return None;
                    }
                };
                let Some(categories) = json.get("categories").and_then(|c| c.as_array()) else {
                    self.sink.push(
                        file,
                        CheckError::DataFormat {
                            dataset: spec.name.clone(),
                            message: format!("`{}` has no `categories`", ann.display()),
                            help: "add `categories: [{\"id\": 1, \"name\": \"…\"}]`".into(),
                            at: source_span.into(),
                        },
                    );
                    return None;
                };
                let mut cats: Vec<(i64, String)> = categories
                    .iter()
                    .filter_map(|c| Some((c.get("id")?.as_i64()?, c.get("name")?.as_str()?.to_string())))
                    .collect();
                cats.sort();
                let images = json.get("images").and_then(|i| i.as_array()).map_or(0, Vec::len);
                spec.counts.insert("train".into(), images);
                Some(cats.into_iter().map(|(_, n)| n).collect())
            }
            "mask_folder" => {
                for name in ["images", "masks"] {
                    let dir = path(name)?;
                    if !self.host.exists(&dir) {
                        self.missing(spec, &dir, source_span);
                        return None;
                    }
                }
                if let Some(dir) = path("images")
                    && let Ok(entries) = self.host.list_dir(&dir)
                {
                    spec.counts.insert("train".into(), entries.iter().filter(|(_, d)| !d).count());
                }
                None
            }
            _ => None,
        }
    }

    fn missing(&mut self, spec: &DatasetSpec, path: &Path, at: Span) {
        self.sink.push(
            at.file,
            CheckError::DataMissing { dataset: spec.name.clone(), path: path.display().to_string(), at: at.into() },
        );
    }

    /// Reads an IDX header (plain or `.gz`): the item count, then each dimension.
    fn idx_header(&mut self, spec: &DatasetSpec, root: &Path, stem: &str, magic: u32, at: Span) -> Option<Vec<u32>> {
        let plain = root.join(stem);
        let gz = root.join(format!("{stem}.gz"));
        let (path, bytes) = match self.host.read_head(&gz, 4096) {
            Ok(b) => (gz, gunzip_head(&b, 16)),
            Err(_) => match self.host.read_head(&plain, 16) {
                Ok(b) => (plain, Some(b)),
                Err(_) => {
                    self.missing(spec, &root.join(format!("{stem}[.gz]")), at);
                    return None;
                }
            },
        };
        let dims = (magic & 0xff) as usize;
        let header = bytes.filter(|b| b.len() >= 4 + 4 * dims);
        let parsed = header.and_then(|b| {
            let word = |i: usize| u32::from_be_bytes([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
            (word(0) == magic).then(|| (1..=dims).map(word).collect::<Vec<u32>>())
        });
        if parsed.is_none() {
            self.sink.push(
                at.file,
                CheckError::DataFormat {
                    dataset: spec.name.clone(),
                    message: format!("`{}` is not an IDX file with magic {magic:#06x}", path.display()),
                    help: "IDX files start with 0x00000803 (images) or 0x00000801 (labels)".into(),
                    at: at.into(),
                },
            );
        }
        if let Some(d) = &parsed
            && magic == 0x0803
            && d.len() == 3
            && (d[1] == 0 || d[2] == 0)
        {
            self.sink.push(
                at.file,
                CheckError::DataFormat {
                    dataset: spec.name.clone(),
                    message: format!("`{}` holds {}×{} images", path.display(), d[1], d[2]),
                    help: "the file is truncated or not an image file".into(),
                    at: at.into(),
                },
            );
            return None;
        }
        parsed
    }
}

fn gunzip_head(compressed: &[u8], n: usize) -> Option<Vec<u8>> {
    let mut out = vec![0; n];
    flate2::read::GzDecoder::new(compressed).read_exact(&mut out).ok()?;
    Some(out)
}
