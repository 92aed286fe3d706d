//! The `train` block: model ↔ data ↔ loss ↔ metrics agreement, optimizer, schedule lints, and
//! the records (`checkpoint`, `early_stop`, `ema`). Produces the [`TrainSpec`] and the trained
//! model's graph, inferred with the data's channels, size and class count.

use std::collections::BTreeMap;

use super::Sink;
use super::args::{Const, config_call, constant, convert};
use super::builtins::{self, Bound, Kind, Ty};
use super::data::{DataCheck, Pipeline, builtin_call, unknown_builtin};
use super::dim::Dim;
use super::error::CheckError;
use super::finetune::Finetune;
use super::graph::{DataBinding, GraphChecker, item_kind};
use super::spec::typed;
use crate::ir::{
    Augment, Call, CheckpointSpec, DataSpec, DatasetSpec, DeclRef, EarlyStopSpec, ExportFormat, Frozen, Length, Logger,
    Loss, LossTerm, LrGroup, Metric, Mix, Mode, ModelGraph, ModuleId, Monitor, Normalization, Optimizer, Precision,
    Program, Schedule, SplitSource, Task, TrainSpec, Value, WeightsSpec,
};
use crate::suggest;
use crate::syntax::ast::{self, BinOp, Expr, ExprKind, Field, FieldValue, GraphKind, Item};
use crate::syntax::span::Span;

pub struct TrainCheck<'a, 'b> {
    pub program: &'a Program,
    pub module: ModuleId,
    pub data: &'b mut DataCheck<'a>,
    pub datasets: &'b BTreeMap<DeclRef, Option<DatasetSpec>>,
    pub pipelines: &'b BTreeMap<DeclRef, Option<Pipeline>>,
}

/// What a reference in the `train` block must name.
struct Wanted {
    is: fn(&Item) -> bool,
    what: &'static str,
    article: &'static str,
    declare: &'static str,
    wrong_help: fn(&Item) -> &'static str,
}

const MODEL: Wanted = Wanted {
    is: |i| matches!(i, Item::Graph(g) if g.kind == GraphKind::Model),
    what: "model",
    article: "a model",
    declare: "declare it with `model NAME(x: Image[B, C, H, W]) -> … { … }`",
    wrong_help: |i| {
        if matches!(i, Item::Graph(_)) {
            "declare it with `model` instead of `block`"
        } else {
            "name a `model` declaration"
        }
    },
};

const DATASET: Wanted = Wanted {
    is: |i| matches!(i, Item::Dataset(_)),
    what: "dataset",
    article: "a dataset",
    declare: "declare it with `dataset NAME = idx(\"…\") { … }`",
    wrong_help: |_| "name a `dataset` declaration",
};

const PIPELINE: Wanted = Wanted {
    is: |i| matches!(i, Item::Augment(_)),
    what: "augment pipeline",
    article: "an augment pipeline",
    declare: "declare it with `augment NAME { … }`",
    wrong_help: |_| "name an `augment` declaration",
};

/// Fields of a record by key, reporting unknown and duplicate keys.
fn fields<'f>(sink: &mut Sink, list: &'f [Field], allowed: &[&str], place: &str) -> BTreeMap<&'f str, &'f Field> {
    let mut out = BTreeMap::new();
    for f in list {
        let key = f.key.name.as_str();
        if !allowed.contains(&key) {
            let help = suggest::foreign_key(key, allowed).unwrap_or_else(|| {
                suggest::help(key, allowed.iter().copied(), format!("the keys are: {}", allowed.join(", ")))
            });
            sink.push(
                f.key.span.file,
                CheckError::UnknownKey { key: key.into(), place: place.into(), help, at: f.key.span.into() },
            );
        } else if out.insert(key, f).is_some() {
            sink.push(
                f.key.span.file,
                CheckError::DuplicateKey { key: key.into(), place: place.into(), at: f.key.span.into() },
            );
        }
    }
    out
}

fn expr_of<'f>(sink: &mut Sink, field: &'f Field) -> Option<&'f Expr> {
    match &field.value {
        FieldValue::Expr(e) => Some(e),
        FieldValue::Record(_) => {
            sink.push(
                field.span.file,
                CheckError::BadValue {
                    message: format!("`{}` takes a value, not a block", field.key.name),
                    help: format!("write `{} = …`", field.key.name),
                    label: "a block".into(),
                    at: field.span.into(),
                },
            );
            None
        }
    }
}

/// A scalar field, type- and range-checked like a builtin argument.
fn scalar(sink: &mut Sink, place: &str, field: &Field, ty: Ty, bound: Bound) -> Option<Value> {
    let expr = expr_of(sink, field)?;
    let mut errors = Vec::new();
    let v = convert(place, &field.key.name, ty, bound, expr, &mut errors);
    sink.extend(errors);
    v
}

fn int(sink: &mut Sink, place: &str, field: Option<&&Field>, bound: Bound) -> Option<i64> {
    match scalar(sink, place, field?, Ty::Int, bound)? {
        Value::Int(i) => Some(i),
        _ => None,
    }
}

fn float(sink: &mut Sink, place: &str, field: Option<&&Field>, bound: Bound) -> Option<f64> {
    scalar(sink, place, field?, Ty::Float, bound)?.as_f64()
}

impl<'a> TrainCheck<'a, '_> {
    pub fn check(&mut self, train: &ast::Train) -> (Option<TrainSpec>, Option<ModelGraph>) {
        let sink = &mut *self.data.sink;
        let f = fields(sink, &train.fields, builtins::TRAIN_KEYS, "`train`");
        missing_keys(sink, &f, train);

        // Model and data first: everything else is checked against them.
        let model = f.get("model").and_then(|field| self.model_ref(field));
        let data = f.get("data").and_then(|field| self.data_ref(field, f.get("limit_batches").copied()));
        let binding = data.as_ref().map(|d| DataBinding {
            dataset: d.0.dataset.name.clone(),
            channels: d.0.dataset.channels,
            size: d.1.as_ref().and_then(Pipeline::output_size).or(d
                .0
                .dataset
                .image_size
                .map(|(h, w)| (h as i64, w as i64))),
            classes: (!d.0.dataset.classes.is_empty()).then_some(d.0.dataset.classes.len()),
        });
        let graph = model.map(|(decl, g)| {
            let graph = GraphChecker::new(self.program, self.data.sink).infer_model(decl, g, binding.as_ref());
            (graph, g)
        });
        let sink = &mut *self.data.sink;
        if let (Some((graph, g)), Some(binding)) = (&graph, &binding) {
            varying_size(sink, graph, g, binding);
        }
        let task = data.as_ref().map(|d| d.0.dataset.task);
        let classes = data.as_ref().map_or(0, |d| d.0.dataset.classes.len());
        let dataset_name = data.as_ref().map_or(String::new(), |d| d.0.dataset.name.clone());
        let outputs = graph.as_ref().map(|(graph, g)| output_ranks(graph, g)).unwrap_or_default();

        // Augment pipelines against the data.
        if let (Some((spec, train_pipe, eval_pipe, spans)), Some(task)) = (&data, task) {
            for (pipe, span) in [(train_pipe, spans.0), (eval_pipe, spans.1)] {
                if let Some(pipe) = pipe {
                    self.pipeline_vs_data(pipe, &spec.dataset, task, span);
                }
            }
        }
        let sink = &mut *self.data.sink;

        let loss = f
            .get("loss")
            .and_then(|field| expr_of(sink, field))
            .map(|e| loss_terms(sink, e, task, &outputs, classes))
            .unwrap_or_default();
        let model_name = graph.as_ref().map(|(g, _)| g.name.clone()).unwrap_or_default();
        unused_outputs(sink, &loss, &outputs, &model_name);
        if let Some((graph, g)) = &graph {
            fcos_levels(sink, &loss, graph, g, classes);
        }
        let optimizer = f.get("optimizer").and_then(|field| optimizer(sink, field));
        let given_epochs = int(sink, "train", f.get("epochs"), Bound::AtLeast(1.0)).map(|e| e as usize);
        let epochs = given_epochs.unwrap_or(1);
        let metrics = match f.get("metrics") {
            Some(field) => {
                expr_of(sink, field).map(|e| metric_list(sink, e, task, classes, &dataset_name)).unwrap_or_default()
            }
            None => default_metrics(task),
        };
        let steps_per_epoch = data.as_ref().and_then(|d| steps_per_epoch(&d.0));
        let splits: Vec<String> =
            data.as_ref().map(|d| d.0.dataset.splits.keys().cloned().collect()).unwrap_or_else(|| vec!["train".into()]);
        let monitors =
            Monitors { splits: &splits, metrics: &metrics.iter().map(|m| m.name().to_string()).collect::<Vec<_>>() };
        let schedule = schedule_field(sink, f.get("schedule"), (given_epochs, steps_per_epoch), &monitors);
        let mix = mix_field(sink, f.get("mix"), data.as_ref().map(|d| &d.0.dataset));
        let (checkpoint, early_stop) = records(sink, &f, &splits, &metrics);
        let ema = f.get("ema").and_then(|field| ema_decay(sink, field));
        let clip_grad = float(sink, "train", f.get("clip_grad"), Bound::Positive);
        let accumulate = int(sink, "train", f.get("accumulate"), Bound::AtLeast(1.0)).unwrap_or(1) as usize;
        let seed = int(sink, "train", f.get("seed"), Bound::NonNeg).unwrap_or(0) as u64;
        let log_every = int(sink, "train", f.get("log_every"), Bound::AtLeast(1.0)).unwrap_or(50) as usize;
        let export = f.get("export").map(|field| export_formats(sink, field)).unwrap_or_default();
        let precision = precision(sink, f.get("precision"));
        let (plots, logger) = tracking(sink, &f);
        let (weights, freeze, groups) = self.parameters(&f, graph.as_ref().map(|(g, _)| g), epochs);
        let sink = &mut *self.data.sink;
        let name = f
            .get("name")
            .and_then(|field| scalar(sink, "train", field, Ty::Str, Bound::Any))
            .and_then(|v| if let Value::Str(s) = v { Some(s) } else { None });

        let spec = match (graph.as_ref(), data, optimizer) {
            (Some((graph, _)), Some((data, ..)), Some(optimizer)) if !loss.is_empty() => Some(TrainSpec {
                name: name.unwrap_or_else(|| graph.name.clone()),
                model: graph.name.clone(),
                data,
                loss,
                optimizer,
                schedule,
                epochs,
                metrics,
                checkpoint,
                early_stop,
                ema,
                clip_grad,
                accumulate,
                seed,
                log_every,
                export,
                weights,
                freeze,
                groups,
                mix,
                plots,
                logger,
                precision,
            }),
            _ => None,
        };
        (spec, graph.map(|(g, _)| g))
    }

    /// `weights`, `freeze` and `groups`: what the model starts from and which parameters train.
    fn parameters(
        &mut self,
        f: &BTreeMap<&str, &Field>,
        graph: Option<&ModelGraph>,
        epochs: usize,
    ) -> (Vec<WeightsSpec>, Vec<Frozen>, Vec<LrGroup>) {
        let sink = &mut *self.data.sink;
        let weights = f.get("weights").and_then(|field| expr_of(sink, field)).map(|e| {
            let dir = self.program.module(self.module).dir.clone();
            super::weights::check(sink, self.data.host, &dir, e, graph)
        });
        let (freeze, groups) = Finetune {
            freeze: f.get("freeze").and_then(|field| expr_of(sink, field)),
            groups: f.get("groups").and_then(|field| expr_of(sink, field)),
            graph,
            epochs,
        }
        .check(sink);
        (weights.unwrap_or_default(), freeze, groups)
    }

    fn model_ref(&mut self, field: &Field) -> Option<(DeclRef, &'a ast::Graph)> {
        let program: &'a Program = self.program;
        let sink = &mut *self.data.sink;
        let expr = expr_of(sink, field)?;
        let Some(id) = expr.as_name() else {
            sink.push(
                expr.span.file,
                CheckError::BadValue {
                    message: format!("`model` must name a model, found {}", expr.describe()),
                    help: "write `model = cnn`".into(),
                    label: "not a name".into(),
                    at: expr.span.into(),
                },
            );
            return None;
        };
        let decl = self.lookup_decl(id, &MODEL)?;
        match program.item(decl) {
            Item::Graph(g) => Some((decl, g)),
            _ => None,
        }
    }

    /// The declaration `id` names, if it is of the wanted kind; otherwise reports an unknown name
    /// (with did-you-mean among declarations of that kind) or a declaration of another kind.
    fn lookup_decl(&mut self, id: &ast::Ident, want: &Wanted) -> Option<DeclRef> {
        let program: &'a Program = self.program;
        match program.lookup(self.module, &id.name) {
            Some(decl) if (want.is)(program.item(decl)) => Some(decl),
            Some(decl) => {
                let item = program.item(decl);
                self.data.sink.push(
                    id.span.file,
                    CheckError::WrongKind {
                        name: id.name.clone(),
                        found: item_kind(item).into(),
                        expected: want.article.into(),
                        help: (want.wrong_help)(item).into(),
                        at: id.span.into(),
                    },
                );
                None
            }
            // Already reported where the import failed.
            None if program.module(self.module).failed_imports.contains(&id.name) => None,
            None => {
                let names = self.names_of(want.is);
                let help = suggest::help(&id.name, names.iter().map(String::as_str), want.declare);
                self.data.sink.push(
                    id.span.file,
                    CheckError::UnknownName { what: want.what.into(), name: id.name.clone(), help, at: id.span.into() },
                );
                None
            }
        }
    }

    fn names_of(&self, pred: impl Fn(&Item) -> bool) -> Vec<String> {
        let module = self.program.module(self.module);
        module.scope.iter().filter(|(_, d)| pred(self.program.item(**d))).map(|(n, _)| n.clone()).collect()
    }

    #[allow(clippy::type_complexity)]
    fn data_ref(
        &mut self,
        field: &Field,
        top_limit: Option<&Field>,
    ) -> Option<(DataSpec, Option<Pipeline>, Option<Pipeline>, (Span, Span))> {
        let sink = &mut *self.data.sink;
        let expr = expr_of(sink, field)?;
        let (base, options) = match &expr.kind {
            ExprKind::Record { base, fields } => (base.as_ref(), fields.as_slice()),
            _ => (expr, &[][..]),
        };
        let Some(id) = base.as_name() else {
            sink.push(
                expr.span.file,
                CheckError::BadValue {
                    message: format!("`data` must name a dataset, found {}", base.describe()),
                    help: "write `data = fashion { batch = 64 }`".into(),
                    label: "not a name".into(),
                    at: base.span.into(),
                },
            );
            return None;
        };
        let o = fields(sink, options, builtins::DATA_KEYS, &format!("the options of `{}`", id.name));
        let batch = int(sink, "data", o.get("batch"), Bound::AtLeast(1.0)).unwrap_or(32) as usize;
        let workers = int(sink, "data", o.get("workers"), Bound::NonNeg).unwrap_or(2) as usize;
        let limit = o.get("limit_batches").copied().or(top_limit);
        let limit_batches = int(sink, "data", limit.as_ref(), Bound::AtLeast(1.0)).map(|n| n as usize);
        let flag = |sink: &mut Sink, key: &str, default: bool| match o.get(key) {
            Some(f) => matches!(scalar(sink, "data", f, Ty::Bool, Bound::Any), Some(Value::Bool(true))),
            None => default,
        };
        let balanced = flag(sink, "balanced", false);
        let shuffle = flag(sink, "shuffle", true);
        let train_pipe = self.pipeline_ref(o.get("augment").copied());
        let eval_pipe = self.pipeline_ref(o.get("eval_augment").copied());
        let decl = self.lookup_decl(id, &DATASET)?;
        let sink = &mut *self.data.sink;
        let spans = (o.get("augment").map_or(id.span, |f| f.span), o.get("eval_augment").map_or(id.span, |f| f.span));
        let dataset = self.datasets.get(&decl).cloned().flatten()?;
        if train_pipe.is_some()
            && eval_pipe.is_none()
            && let (Some(tp), Some(f)) = (&train_pipe, o.get("augment"))
        {
            // Evaluation without its own pipeline sees raw images: a resize or crop in training
            // would then feed the model a different size. Say so.
            if tp.output_size().is_some() && dataset.image_size.map(|(h, w)| (h as i64, w as i64)) != tp.output_size() {
                let (h, w) = tp.output_size().unwrap_or_default();
                sink.push(
                    f.span.file,
                    CheckError::EvalSize {
                        pipeline: self.program.sources.text(tp.span).to_string(),
                        size: format!("{h}×{w}"),
                        at: f.span.into(),
                    },
                );
            }
        }
        let spec = DataSpec {
            dataset,
            batch,
            augment: train_pipe.as_ref().map(|p| p.steps.iter().map(|(c, _)| c.clone()).collect()).unwrap_or_default(),
            eval_augment: eval_pipe
                .as_ref()
                .map(|p| p.steps.iter().map(|(c, _)| c.clone()).collect())
                .unwrap_or_default(),
            workers,
            balanced,
            shuffle,
            limit_batches,
        };
        Some((spec, train_pipe, eval_pipe, spans))
    }

    fn pipeline_ref(&mut self, field: Option<&Field>) -> Option<Pipeline> {
        let sink = &mut *self.data.sink;
        let expr = expr_of(sink, field?)?;
        let Some(id) = expr.as_name() else {
            sink.push(
                expr.span.file,
                CheckError::BadValue {
                    message: format!("expected the name of an augment pipeline, found {}", expr.describe()),
                    help: "declare `augment NAME { … }` and name it here".into(),
                    label: "not a name".into(),
                    at: expr.span.into(),
                },
            );
            return None;
        };
        let decl = self.lookup_decl(id, &PIPELINE)?;
        self.pipelines.get(&decl).cloned().flatten()
    }

    fn pipeline_vs_data(&mut self, pipe: &Pipeline, dataset: &DatasetSpec, task: Task, used_at: Span) {
        let sink = &mut *self.data.sink;
        let needs = match task {
            Task::Detection => Some("boxes"),
            Task::Segmentation => Some("masks"),
            Task::Classification => None,
        };
        if let Some(needs) = needs {
            let geometric = pipe.steps.iter().find(|(step, _)| step.is_geometric());
            if let (false, Some((step, _))) = (pipe.targets.iter().any(|t| t == needs), geometric) {
                sink.push(
                    pipe.span.file,
                    CheckError::AugmentTargets {
                        message: format!(
                            "pipeline `{}` moves pixels (`{}`) but not the {needs} of dataset `{}`",
                            self.program.sources.text(pipe.span),
                            step.name(),
                            dataset.name
                        ),
                        help: format!(
                            "declare what it acts on: `augment {}(image, {needs}) {{ … }}`",
                            self.program.sources.text(pipe.span)
                        ),
                        label: format!("acts on {}", pipe.targets.join(", ")),
                        at: pipe.span.into(),
                    },
                );
            }
        }
        for (step, span) in &pipe.steps {
            let Augment::Normalize { stats } = step else { continue };
            let (name, found) = match stats {
                Normalization::Given { mean, .. } => ("mean", mean.len()),
                Normalization::Imagenet => ("imagenet", 3),
                // Its statistics come from the image, whatever its channels.
                Normalization::PerImage => continue,
            };
            if found != dataset.channels {
                sink.push(
                    span.file,
                    CheckError::AugmentChannels {
                        name: name.into(),
                        found,
                        channels: dataset.channels,
                        at: (*span).into(),
                    },
                );
            }
        }
        let _ = used_at;
    }
}

/// `precision = bf16`: one of [`builtins::PRECISIONS`] (did-you-mean otherwise), f32 when absent.
fn precision(sink: &mut Sink, field: Option<&&Field>) -> Precision {
    field
        .and_then(|field| scalar(sink, "train", field, Ty::Word(builtins::PRECISIONS), Bound::Any))
        .and_then(|v| if let Value::Word(w) = v { Precision::from_name(&w) } else { None })
        .unwrap_or_default()
}

/// A model whose parameter count depends on the image size needs data of one size.
fn varying_size(sink: &mut Sink, graph: &ModelGraph, g: &ast::Graph, binding: &DataBinding) {
    if graph.param_count().symbols().iter().any(|s| s != "B" && s != "classes") && !graph.outputs.is_empty() {
        let at = g.params.first().map_or(g.name.span, |p| p.span);
        sink.push(
            at.file,
            CheckError::InputSize {
                model: g.name.name.clone(),
                expected: "fixed-size".into(),
                found: "images of varying size".into(),
                help: format!(
                    "dataset `{}` does not fix the image size: end the augment pipeline with `resize(h, w)` or a crop",
                    binding.dataset
                ),
                at: at.into(),
            },
        );
    }
}

/// Reports the keys every `train` block needs and this one lacks.
fn missing_keys(sink: &mut Sink, f: &BTreeMap<&str, &Field>, train: &ast::Train) {
    let train_span = Span { end: train.span.start + 5, ..train.span };
    for key in ["model", "data", "loss", "optimizer", "epochs"] {
        if !f.contains_key(key) {
            let help = match key {
                "model" => "name the model to train: `model = cnn`",
                "data" => "name the dataset: `data = fashion { batch = 64 }`",
                "loss" => "e.g. `loss = cross_entropy()`",
                "optimizer" => "e.g. `optimizer = adamw(lr = 1e-3)`",
                _ => "e.g. `epochs = 10`",
            };
            sink.push(
                train.span.file,
                CheckError::MissingKey {
                    key: key.into(),
                    place: "`train`".into(),
                    help: help.into(),
                    at: train_span.into(),
                },
            );
        }
    }
}

/// With `fcos_loss`, every model output is a pyramid level `[B, classes + 5, H, W]` (class
/// logits, four box distances, centerness); reports each output that is not.
fn fcos_levels(sink: &mut Sink, loss: &[LossTerm], graph: &ModelGraph, g: &ast::Graph, classes: usize) {
    if !loss.iter().any(|t| matches!(t.loss, Loss::Fcos { .. })) {
        return;
    }
    let channels = if classes > 0 { Dim::known(classes as i64 + 5) } else { Dim::sym("classes").plus(5) };
    for (name, idx) in &graph.outputs {
        let shape = &graph.graph[*idx].shape;
        // A known count of 5 or fewer channels is wrong whatever the (at least one) class.
        let few = shape.0.get(1).and_then(Dim::value).is_some_and(|c| c <= 5);
        if shape.rank() == 4 && !shape.0[1].surely_differs(&channels) && !few {
            continue;
        }
        let span = output_span(g, name);
        sink.push(
            span.file,
            CheckError::LossMismatch {
                message: format!(
                    "`fcos_loss` trains every output as a pyramid level [B, {channels}, H, W], but `{name}` is {shape}"
                ),
                help: "return one `[B, classes + 5, H, W]` map per level (class logits, l, t, r, b, centerness), e.g. from `std/heads.fcos`".into(),
                label: format!("not a level of {channels} channels"),
                at: span.into(),
            },
        );
    }
}

/// Reports model outputs that no loss term trains.
fn unused_outputs(sink: &mut Sink, loss: &[LossTerm], outputs: &[(String, usize, Span)], model: &str) {
    if !loss.is_empty() {
        for (name, _, span) in outputs {
            if !loss.iter().any(|t| {
                t.output == *name
                    || (matches!(t.loss, Loss::CenterNet { .. }) && ["heat", "size", "offset"].contains(&name.as_str()))
                    || matches!(t.loss, Loss::Fcos { .. })
            }) {
                sink.push(
                    span.file,
                    CheckError::UnusedOutput { output: name.clone(), model: model.into(), at: (*span).into() },
                );
            }
        }
    }
}

/// The `checkpoint` and `early_stop` records, with their monitors checked against the splits
/// and metrics.
fn records(
    sink: &mut Sink,
    f: &BTreeMap<&str, &Field>,
    splits: &[String],
    metrics: &[Metric],
) -> (CheckpointSpec, Option<EarlyStopSpec>) {
    let metric_names: Vec<String> = metrics.iter().map(|m| m.name().to_string()).collect();
    let default_monitor = if splits.iter().any(|s| s == "val") { "val" } else { "train" };
    let monitor_of = |sink: &mut Sink, r: &BTreeMap<&str, &Field>| {
        monitor(sink, r.get("monitor").copied(), r.get("mode").copied(), splits, &metric_names, default_monitor)
    };
    let checkpoint = match f.get("checkpoint") {
        Some(field) => record(sink, field, builtins::CHECKPOINT_KEYS, "`checkpoint`").map(|r| {
            let (monitor, mode) = monitor_of(sink, &r);
            CheckpointSpec {
                monitor,
                mode,
                keep: int(sink, "checkpoint", r.get("keep"), Bound::AtLeast(1.0)).unwrap_or(1) as usize,
            }
        }),
        None => None,
    }
    .unwrap_or_else(|| CheckpointSpec {
        monitor: Monitor { split: default_monitor.into(), metric: "loss".into() },
        mode: Mode::Min,
        keep: 1,
    });
    let early_stop =
        f.get("early_stop").and_then(|field| record(sink, field, builtins::EARLY_STOP_KEYS, "`early_stop`")).map(|r| {
            let (monitor, mode) = monitor_of(sink, &r);
            EarlyStopSpec {
                monitor,
                mode,
                patience: int(sink, "early_stop", r.get("patience"), Bound::AtLeast(1.0)).unwrap_or(3) as usize,
                min_delta: float(sink, "early_stop", r.get("min_delta"), Bound::NonNeg).unwrap_or(0.0),
            }
        });
    (checkpoint, early_stop)
}

/// Each model output's name, rank and span in the model's declaration.
fn output_ranks(graph: &ModelGraph, g: &ast::Graph) -> Vec<(String, usize, Span)> {
    graph.outputs.iter().map(|(n, idx)| (n.clone(), graph.graph[*idx].shape.rank(), output_span(g, n))).collect()
}

fn output_span(g: &ast::Graph, name: &str) -> Span {
    match &g.output {
        Some(ast::OutType::Named(list)) => {
            list.iter().find(|(n, _)| n.name == name).map_or(g.name.span, |(n, _)| n.span)
        }
        Some(ast::OutType::Single(tt)) => tt.span,
        None => g.name.span,
    }
}

fn record<'f>(
    sink: &mut Sink,
    field: &'f Field,
    allowed: &[&str],
    place: &str,
) -> Option<BTreeMap<&'f str, &'f Field>> {
    match &field.value {
        FieldValue::Record(list) => Some(fields(sink, list, allowed, place)),
        FieldValue::Expr(e) => {
            sink.push(
                e.span.file,
                CheckError::BadValue {
                    message: format!("{place} is a block of settings"),
                    help: format!("write `{} {{ {} = … }}`", field.key.name, allowed[0]),
                    label: "not a block".into(),
                    at: e.span.into(),
                },
            );
            None
        }
    }
}

fn steps_per_epoch(data: &DataSpec) -> Option<usize> {
    let mut train = match data.dataset.splits.get("train")? {
        SplitSource::Stored(_) | SplitSource::Own(_) => *data.dataset.counts.get("train")? as f64,
        SplitSource::Carve { .. } => return None,
    };
    for split in data.dataset.splits.values() {
        if let SplitSource::Carve { of, fraction, .. } = split
            && of == "train"
        {
            train *= 1.0 - fraction;
        }
    }
    let steps = (train / data.batch as f64).ceil() as usize;
    Some(data.limit_batches.map_or(steps, |l| l.min(steps)).max(1))
}

/// `a * loss(…) + loss(…) * b + …` into weighted terms.
fn loss_terms(
    sink: &mut Sink,
    expr: &Expr,
    task: Option<Task>,
    outputs: &[(String, usize, Span)],
    classes: usize,
) -> Vec<LossTerm> {
    let mut terms = Vec::new();
    collect_terms(sink, expr, 1.0, &mut terms);
    let mut out = Vec::new();
    for (weight, callee, args, span) in terms {
        let Some(builtin) = builtins::lookup(&callee.name, Kind::Loss) else {
            unknown_builtin(sink, callee, Kind::Loss);
            continue;
        };
        let mut errors = Vec::new();
        let call = config_call(builtin, callee, args, &mut errors);
        let failed = !errors.is_empty();
        sink.extend(errors);
        if failed {
            continue;
        }
        let Some(loss) = typed::<Loss>(sink, &call, Kind::Loss, span) else { continue };
        let Some(output) = loss_output(sink, &call, &loss, outputs, (span, callee.span)) else { continue };
        if let Some(task) = task
            && !loss_vs_task(sink, &call, &loss, task, (&output, outputs, classes), (span, callee.span))
        {
            continue;
        }
        out.push(LossTerm { weight, loss, output });
    }
    out
}

/// The model output a loss term applies to: its `on`, the only output, or `heat` for CenterNet.
fn loss_output(
    sink: &mut Sink,
    call: &Call,
    loss: &Loss,
    outputs: &[(String, usize, Span)],
    (span, callee): (Span, Span),
) -> Option<String> {
    let on = call.word("on").map(String::from);
    let output = match (&on, outputs) {
        (_, []) => on.clone().unwrap_or_else(|| "out".into()),
        (None, [only]) => only.0.clone(),
        (None, _) if matches!(loss, Loss::CenterNet { .. }) => "heat".into(),
        // Every output is a level; the term is recorded on the first.
        (None, [first, ..]) if matches!(loss, Loss::Fcos { .. }) => first.0.clone(),
        (None, many) => {
            sink.push(
                span.file,
                CheckError::LossMismatch {
                    message: format!("`{}` does not say which output it applies to", call.name),
                    help: format!(
                        "the model has outputs {}: write `{}({}, …)`",
                        many.iter().map(|o| format!("`{}`", o.0)).collect::<Vec<_>>().join(", "),
                        call.name,
                        many[0].0
                    ),
                    label: "which output?".into(),
                    at: callee.into(),
                },
            );
            return None;
        }
        (Some(name), list) => match list.iter().find(|o| o.0 == *name) {
            Some(o) => o.0.clone(),
            None => {
                let help = suggest::help(
                    name,
                    list.iter().map(|o| o.0.as_str()),
                    format!(
                        "the outputs are {}",
                        list.iter().map(|o| format!("`{}`", o.0)).collect::<Vec<_>>().join(", ")
                    ),
                );
                sink.push(
                    span.file,
                    CheckError::LossMismatch {
                        message: format!("the model has no output `{name}`"),
                        help,
                        label: "no such output".into(),
                        at: span.into(),
                    },
                );
                return None;
            }
        },
    };
    Some(output)
}

/// Whether a loss term fits the task, its output and the class count; reports why not.
fn loss_vs_task(
    sink: &mut Sink,
    call: &Call,
    loss: &Loss,
    task: Task,
    (output, outputs, classes): (&str, &[(String, usize, Span)], usize),
    (span, callee): (Span, Span),
) -> bool {
    let rank = outputs.iter().find(|o| o.0 == output).map(|o| o.1);
    if !loss_fits(loss, task, rank) {
        let (needs, help) = match task {
            Task::Classification => (
                "class logits [B, classes]",
                "use `cross_entropy`, `focal`, `bce`, `mse`, `l1` or `smooth_l1` on a [B, classes] output",
            ),
            Task::Detection => (
                "boxes",
                "detection trains with `centernet_loss` on `heat`, `size` and `offset` outputs, or with `fcos_loss` on pyramid levels",
            ),
            Task::Segmentation => ("masks", "use `cross_entropy` or `dice` on a [B, classes, H, W] output"),
        };
        sink.push(
            span.file,
            CheckError::LossMismatch {
                message: format!(
                    "`{}` cannot train this model on {} data ({needs})",
                    call.name,
                    format!("{task:?}").to_lowercase()
                ),
                help: help.into(),
                label: "wrong loss for the task".into(),
                at: callee.into(),
            },
        );
        return false;
    }
    if matches!(loss, Loss::CenterNet { .. }) {
        for needed in ["heat", "size", "offset"] {
            if !outputs.is_empty() && !outputs.iter().any(|o| o.0 == needed) {
                sink.push(
                    span.file,
                    CheckError::LossMismatch {
                        message: format!("`centernet_loss` needs a model output `{needed}`"),
                        help: "return `(heat: …, size: …, offset: …)`, e.g. from `std/heads.centernet`".into(),
                        label: format!("no `{needed}` output"),
                        at: callee.into(),
                    },
                );
            }
        }
    }
    if let Loss::CrossEntropy { weights: Some(w), .. } = &loss
        && classes > 0
        && w.len() != classes
    {
        sink.push(
            span.file,
            CheckError::LossMismatch {
                message: format!("`weights` has {} values for {classes} classes", w.len()),
                help: "give one weight per class".into(),
                label: format!("{} weights", w.len()),
                at: span.into(),
            },
        );
    }
    true
}

/// Whether `loss` can train on data of `task` through an output of `rank` (when known).
fn loss_fits(loss: &Loss, task: Task, rank: Option<usize>) -> bool {
    match loss {
        Loss::CenterNet { .. } | Loss::Fcos { .. } => task == Task::Detection,
        Loss::Dice { .. } => task == Task::Segmentation,
        Loss::CrossEntropy { .. } | Loss::Bce | Loss::Mse | Loss::L1 | Loss::SmoothL1 { .. } | Loss::Focal { .. } => {
            match task {
                Task::Detection => false,
                Task::Segmentation => rank.is_none_or(|r| r == 4),
                Task::Classification => rank.is_none_or(|r| r == 2),
            }
        }
    }
}

fn collect_terms<'e>(
    sink: &mut Sink,
    expr: &'e Expr,
    weight: f64,
    out: &mut Vec<(f64, &'e ast::Ident, &'e [ast::Arg], Span)>,
) {
    match &expr.kind {
        ExprKind::Binary { op: BinOp::Add, lhs, rhs } => {
            collect_terms(sink, lhs, weight, out);
            collect_terms(sink, rhs, weight, out);
        }
        ExprKind::Binary { op: BinOp::Mul, lhs, rhs } => {
            let (k, term) = match (constant(lhs), constant(rhs)) {
                (Ok(Const::Int(i)), _) => (i as f64, rhs),
                (Ok(Const::Float(f)), _) => (f, rhs),
                (_, Ok(Const::Int(i))) => (i as f64, lhs),
                (_, Ok(Const::Float(f))) => (f, lhs),
                _ => {
                    sink.push(
                        expr.span.file,
                        CheckError::LossMismatch {
                            message: "a loss term is a weight times a loss".into(),
                            help: "write `0.5 * l1(size)`".into(),
                            label: "two losses multiplied".into(),
                            at: expr.span.into(),
                        },
                    );
                    return;
                }
            };
            if k < 0.0 || !k.is_finite() {
                sink.push(
                    expr.span.file,
                    CheckError::ArgRange {
                        callee: "loss".into(),
                        name: "weight".into(),
                        bound: Bound::NonNeg.describe(),
                        value: super::args::format_number(k),
                        help: "a negative weight would maximise the loss".into(),
                        at: expr.span.into(),
                    },
                );
                return;
            }
            collect_terms(sink, term, weight * k, out);
        }
        ExprKind::Call { callee, args } => out.push((weight, callee, args, expr.span)),
        ExprKind::Name(id) => out.push((weight, id, &[], expr.span)),
        _ => sink.push(
            expr.span.file,
            CheckError::LossMismatch {
                message: format!("{} is not a loss", expr.describe()),
                help: "write a loss or a weighted sum: `cross_entropy()` or `focal(heat) + 0.1 * l1(size)`".into(),
                label: "not a loss".into(),
                at: expr.span.into(),
            },
        ),
    }
}

fn optimizer(sink: &mut Sink, field: &Field) -> Option<Optimizer> {
    let expr = expr_of(sink, field)?;
    let call = builtin_call(sink, expr, Kind::Optimizer, "optimizer = adamw(lr = 1e-3)")?;
    let optimizer = typed::<Optimizer>(sink, &call, Kind::Optimizer, expr.span)?;
    if let Optimizer::Sgd { nesterov: true, momentum, .. } = optimizer
        && momentum == 0.0
    {
        sink.push(
            expr.span.file,
            CheckError::ArgConflict {
                message: "Nesterov momentum needs `momentum` > 0".into(),
                help: "add `momentum = 0.9`".into(),
                at: expr.span.into(),
            },
        );
        return None;
    }
    Some(optimizer)
}

fn default_metrics(task: Option<Task>) -> Vec<Metric> {
    vec![match task {
        Some(Task::Detection) => Metric::Map50,
        Some(Task::Segmentation) => Metric::Miou,
        Some(Task::Classification) | None => Metric::Accuracy,
    }]
}

fn metric_list(sink: &mut Sink, expr: &Expr, task: Option<Task>, classes: usize, dataset: &str) -> Vec<Metric> {
    let items: Vec<&Expr> = match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    };
    let mut out = Vec::new();
    for item in items {
        let Some(call) = builtin_call(sink, item, Kind::Metric, "metrics = [accuracy, top_k(5)]") else { continue };
        let Some(metric) = typed::<Metric>(sink, &call, Kind::Metric, item.span) else { continue };
        let metric_task = metric.task();
        if let Some(task) = task
            && task != metric_task
        {
            let needs = match metric_task {
                Task::Detection => "boxes",
                Task::Segmentation => "masks",
                Task::Classification => "class labels",
            };
            let task_name = format!("{task:?}").to_lowercase();
            sink.push(
                item.span.file,
                CheckError::MetricTask {
                    metric: metric.name().into(),
                    needs: needs.into(),
                    dataset: dataset.into(),
                    task: task_name,
                    help: format!(
                        "metrics for this task: {}",
                        match task {
                            Task::Classification => "accuracy, top_k, precision, recall, f1, confusion_matrix",
                            Task::Detection => "map50, map",
                            Task::Segmentation => "miou, pixel_accuracy",
                        }
                    ),
                    at: item.span.into(),
                },
            );
            continue;
        }
        if let (Metric::TopK { k }, true) = (metric, classes > 0)
            && k > classes
        {
            sink.push(
                item.span.file,
                CheckError::ArgRange {
                    callee: "top_k".into(),
                    name: "k".into(),
                    bound: format!("at most the class count ({classes})"),
                    value: k.to_string(),
                    help: "top-k over more classes than exist is always 1".into(),
                    at: item.span.into(),
                },
            );
            continue;
        }
        out.push(metric);
    }
    out
}

fn monitor(
    sink: &mut Sink,
    field: Option<&Field>,
    mode: Option<&Field>,
    splits: &[String],
    metrics: &[String],
    default_split: &str,
) -> (Monitor, Mode) {
    let mut m = Monitor { split: default_split.into(), metric: "loss".into() };
    // A mode is only judged against a monitor that was understood.
    let mut understood = field.is_none();
    if let Some(expr) = field.and_then(|f| expr_of(sink, f))
        && let Some(checked) = monitor_expr(sink, expr, splits, metrics)
    {
        m = checked;
        understood = true;
    }
    let natural = if m.metric == "loss" { Mode::Min } else { Mode::Max };
    let mode = match mode.and_then(|f| scalar(sink, "monitor", f, Ty::Word(builtins::MODES), Bound::Any)) {
        Some(Value::Word(w)) => {
            let chosen = if w == "min" { Mode::Min } else { Mode::Max };
            if chosen != natural
                && understood
                && let Some(f) = mode
            {
                sink.push(f.span.file, CheckError::MonitorMode { monitor: m.to_string(), mode: w, at: f.span.into() });
            }
            chosen
        }
        _ => natural,
    };
    (m, mode)
}

/// `split.metric` checked against the dataset's splits and the computed metrics (or `loss`);
/// `None` after reporting what is wrong with it.
fn monitor_expr(sink: &mut Sink, expr: &Expr, splits: &[String], metrics: &[String]) -> Option<Monitor> {
    match &expr.kind {
        ExprKind::Member { base, name } if base.as_name().is_some() => {
            let split = base.as_name().map(|b| b.name.clone()).unwrap_or_default();
            if !splits.contains(&split) {
                let help = suggest::help(
                    &split,
                    splits.iter().map(String::as_str),
                    format!(
                        "the dataset has splits {}",
                        splits.iter().map(|s| format!("`{s}`")).collect::<Vec<_>>().join(", ")
                    ),
                );
                sink.push(
                    expr.span.file,
                    CheckError::Monitor {
                        monitor: sink_text(expr),
                        reason: format!("there is no split `{split}`"),
                        help,
                        at: base.span.into(),
                    },
                );
            } else if name.name != "loss" && !metrics.contains(&name.name) {
                let help = suggest::help(
                    &name.name,
                    metrics.iter().map(String::as_str).chain(["loss"]),
                    format!("add `{}` to `metrics`, or monitor `loss`", name.name),
                );
                sink.push(
                    expr.span.file,
                    CheckError::Monitor {
                        monitor: sink_text(expr),
                        reason: format!("`{}` is not computed", name.name),
                        help,
                        at: name.span.into(),
                    },
                );
            } else {
                return Some(Monitor { split, metric: name.name.clone() });
            }
        }
        ExprKind::Str(text) => {
            sink.push(
                expr.span.file,
                CheckError::Monitor {
                    monitor: format!("\"{text}\""),
                    reason: "a monitor is a split and a metric, not a string".into(),
                    help: format!("write it unquoted: `monitor = {}`", unquoted_monitor(text)),
                    at: expr.span.into(),
                },
            );
        }
        _ => {
            let written = match &expr.kind {
                ExprKind::Name(id) => id.name.clone(),
                _ => expr.describe(),
            };
            sink.push(
                expr.span.file,
                CheckError::Monitor {
                    monitor: written.clone(),
                    reason: format!("`{written}` does not name a split"),
                    help: format!("write `split.metric`, e.g. `monitor = val.{written}`"),
                    at: expr.span.into(),
                },
            )
        }
    }
    None
}

/// What Lightning's logged names (`"val_acc"`, `"val/loss"`, `"train_f1"`) are in trainc:
/// `val.accuracy`, `val.loss`, `train.f1`.
fn unquoted_monitor(text: &str) -> String {
    let (split, metric) = text.split_once(['_', '/', '.']).unwrap_or(("val", text));
    let metric = match metric {
        "acc" | "accuracy" | "top1" => "accuracy",
        "map_50" | "mAP50" | "map50" => "map50",
        "mAP" => "map",
        "mIoU" | "iou" => "miou",
        other => other,
    };
    format!("{split}.{metric}")
}

fn sink_text(expr: &Expr) -> String {
    match &expr.kind {
        ExprKind::Member { base, name } => format!("{}.{}", base.as_name().map_or("?", |b| b.name.as_str()), name.name),
        _ => "?".into(),
    }
}

/// What a monitor may name: the dataset's splits and the computed metrics (`loss` always).
struct Monitors<'m> {
    splits: &'m [String],
    metrics: &'m [String],
}

impl Monitors<'_> {
    /// `val.loss`, or `train.loss` without a `val` split: what checkpoints monitor by default.
    fn default(&self) -> String {
        let split = if self.splits.iter().any(|s| s == "val") { "val" } else { "train" };
        format!("{split}.loss")
    }
}

/// `schedule = …`, constant when absent. Lengths are judged against `epochs` only when it was
/// valid: a wrong one is its own error.
fn schedule_field(
    sink: &mut Sink,
    field: Option<&&Field>,
    length: (Option<usize>, Option<usize>),
    monitors: &Monitors,
) -> Vec<Schedule> {
    match field {
        Some(field) => expr_of(sink, field).map(|e| schedule(sink, e, length, monitors)).unwrap_or_default(),
        None => vec![Schedule::Constant { length: None }],
    }
}

/// A schedule segment's call; `plateau`'s monitor is judged like a checkpoint's first (and
/// filled with the default when absent). `None` after reporting why there is none.
fn segment_call(sink: &mut Sink, part: &Expr, monitors: &Monitors) -> Option<Call> {
    let example = "schedule = warmup(steps = 500) then cosine()";
    let given = match &part.kind {
        ExprKind::Call { callee, args } if callee.name == "plateau" => Some(
            args.iter()
                .enumerate()
                .find(|(i, a)| a.name.as_ref().map_or(*i == 0, |n| n.name == "monitor"))
                .map(|(_, a)| &a.value),
        ),
        ExprKind::Name(id) if id.name == "plateau" => Some(None),
        _ => None,
    };
    match given {
        Some(Some(expr)) => {
            monitor_expr(sink, expr, monitors.splits, monitors.metrics)?;
            builtin_call(sink, part, Kind::Schedule, example)
        }
        Some(None) => {
            let mut call = builtin_call(sink, part, Kind::Schedule, example)?;
            call.args.insert("monitor".into(), Value::Word(monitors.default()));
            Some(call)
        }
        None => builtin_call(sink, part, Kind::Schedule, example),
    }
}

/// `warmup(…) then cosine(…)`: segments, with length lints against the training length.
fn schedule(
    sink: &mut Sink,
    expr: &Expr,
    (epochs, steps_per_epoch): (Option<usize>, Option<usize>),
    monitors: &Monitors,
) -> Vec<Schedule> {
    let mut parts = Vec::new();
    flatten_then(expr, &mut parts);
    let mut out = Vec::new();
    let total = steps_per_epoch.zip(epochs).map(|(s, e)| s * e);
    let mut elapsed: f64 = 0.0; // in epochs
    for (i, part) in parts.iter().enumerate() {
        let last = i + 1 == parts.len();
        let Some(call) = segment_call(sink, part, monitors) else {
            continue;
        };
        if call.i64("steps").is_some() && call.i64("epochs").is_some() {
            sink.push(
                part.span.file,
                CheckError::ScheduleSegment {
                    message: format!("`{}` has both `steps` and `epochs`", call.name),
                    help: "give its length one way".into(),
                    label: "two lengths".into(),
                    at: part.span.into(),
                },
            );
            continue;
        }
        let Some(seg) = typed::<Schedule>(sink, &call, Kind::Schedule, part.span) else { continue };
        let name = seg.name();
        // In epochs.
        let length = match seg.length() {
            Some(Length::Steps(s)) => steps_per_epoch.map(|spe| s as f64 / spe as f64),
            Some(Length::Epochs(e)) => Some(e as f64),
            None => None,
        };
        if !last && seg.length().is_none() {
            sink.push(
                part.span.file,
                CheckError::ScheduleSegment {
                    message: format!("`{name}` is followed by another segment but never ends"),
                    help: format!("give it a length: `{name}(steps = 500)` or `{name}(epochs = 2)`"),
                    label: "no length".into(),
                    at: part.span.into(),
                },
            );
            continue;
        }
        if seg.is_whole() && parts.len() > 1 {
            sink.push(
                part.span.file,
                CheckError::ScheduleSegment {
                    message: format!("`{name}` is a whole schedule and cannot be chained"),
                    help: "use it alone: `schedule = one_cycle(max_lr = 0.1)`".into(),
                    label: "cannot chain".into(),
                    at: part.span.into(),
                },
            );
            continue;
        }
        if let (Some(len), Some(epochs)) = (length, epochs) {
            let end = elapsed + len;
            let total_epochs = epochs as f64;
            let unit = |x: f64| match (seg.length(), total) {
                (Some(Length::Steps(_)), Some(_)) => {
                    format!("{} steps", (x * steps_per_epoch.unwrap_or(1) as f64).round())
                }
                _ if x == 1.0 => "1 epoch".to_string(),
                _ => format!("{x} epochs"),
            };
            if end > total_epochs + 1e-9 {
                let message = if matches!(seg, Schedule::Warmup { .. }) {
                    "the warmup is longer than the whole training"
                } else {
                    "this segment ends after training does"
                };
                sink.push(
                    part.span.file,
                    CheckError::ScheduleLength {
                        message: message.into(),
                        help: format!("training is {} long; this ends at {}", unit(total_epochs), unit(end)),
                        label: format!("ends at {}", unit(end)),
                        at: part.span.into(),
                    },
                );
            } else if last && seg.decays() && end < 0.5 * total_epochs {
                sink.push(part.span.file, CheckError::ScheduleLength {
                    message: "the decay ends long before training does".into(),
                    help: format!("it ends at {} of {}; the rest runs at the final rate. Drop its length to decay until the end", unit(end), unit(total_epochs)),
                    label: format!("ends at {}", unit(end)),
                    at: part.span.into(),
                });
            }
            elapsed = end;
        }
        out.push(seg);
    }
    out
}

fn flatten_then<'e>(expr: &'e Expr, out: &mut Vec<&'e Expr>) {
    match &expr.kind {
        ExprKind::Then(a, b) => {
            flatten_then(a, out);
            flatten_then(b, out);
        }
        _ => out.push(expr),
    }
}

/// `mix = …`, none when absent.
fn mix_field(sink: &mut Sink, field: Option<&&Field>, dataset: Option<&DatasetSpec>) -> Vec<Mix> {
    field.and_then(|field| expr_of(sink, field)).map(|e| mix_list(sink, e, dataset)).unwrap_or_default()
}

/// `mix = [mixup(alpha = 0.2), cutmix(alpha = 1.0)]` (or one of them alone): batch-level mixes,
/// for classification only (they make soft class targets; boxes and masks cannot be mixed).
fn mix_list(sink: &mut Sink, expr: &Expr, dataset: Option<&DatasetSpec>) -> Vec<Mix> {
    let items: Vec<&Expr> = match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    };
    let mut out = Vec::new();
    for item in items {
        let name = match &item.kind {
            ExprKind::Call { callee, .. } | ExprKind::Name(callee) => Some(callee),
            _ => None,
        };
        if let Some(callee) = name
            && builtins::lookup(&callee.name, Kind::Augment).is_some()
            && !crate::ir::BATCH_MIXES.contains(&callee.name.as_str())
        {
            sink.push(
                item.span.file,
                CheckError::BatchLevel {
                    message: format!(
                        "`{}` augments one image at a time and cannot be in `mix`, which mixes the images of a batch",
                        callee.name
                    ),
                    help: format!(
                        "`mix` takes {}; put `{}` in the `augment` pipeline",
                        crate::ir::BATCH_MIXES.join(" and "),
                        callee.name
                    ),
                    label: "per image".into(),
                    at: item.span.into(),
                },
            );
            continue;
        }
        let Some(call) = builtin_call(sink, item, Kind::Augment, "mix = [mixup(alpha = 0.2), cutmix(alpha = 1.0)]")
        else {
            continue;
        };
        let Some(mix) = typed::<Mix>(sink, &call, Kind::Augment, item.span) else { continue };
        if let Some(d) = dataset
            && d.task != Task::Classification
        {
            let targets = if d.task == Task::Detection { "boxes" } else { "masks" };
            sink.push(
                item.span.file,
                CheckError::MixTask {
                    name: mix.name().into(),
                    dataset: d.name.clone(),
                    task: format!("{:?}", d.task).to_lowercase(),
                    targets: targets.into(),
                    at: item.span.into(),
                },
            );
            continue;
        }
        out.push(mix);
    }
    out
}

/// `ema = 0.999` or `ema { decay = 0.999 }`.
fn ema_decay(sink: &mut Sink, field: &Field) -> Option<f64> {
    match &field.value {
        FieldValue::Record(list) => {
            let r = fields(sink, list, builtins::EMA_KEYS, "`ema`");
            Some(float(sink, "ema", r.get("decay"), Bound::Open(0.0, 1.0)).unwrap_or(0.999))
        }
        FieldValue::Expr(_) => float(sink, "train", Some(&field), Bound::Open(0.0, 1.0)),
    }
}

/// `plots` (on unless `false`) and `logger`.
fn tracking(sink: &mut Sink, f: &BTreeMap<&str, &Field>) -> (bool, Vec<Logger>) {
    let plots = f
        .get("plots")
        .and_then(|field| scalar(sink, "train", field, Ty::Bool, Bound::Any))
        .is_none_or(|v| v == Value::Bool(true));
    let logger = f.get("logger").and_then(|field| expr_of(sink, field)).map(|e| loggers(sink, e)).unwrap_or_default();
    (plots, logger)
}

/// `logger = mlflow("http://host:port", …)` or a list of loggers. A tracking URI must be plain
/// `http://host[:port]`: trainc speaks HTTP/1.1 itself and has no TLS (see `run::mlflow`).
fn loggers(sink: &mut Sink, expr: &Expr) -> Vec<Logger> {
    let items: Vec<&Expr> = match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    };
    let example = "logger = mlflow(\"http://127.0.0.1:5000\", experiment = \"fashion\")";
    let mut out = Vec::new();
    for item in items {
        let Some(call) = builtin_call(sink, item, Kind::Logger, example) else { continue };
        let Some(logger) = typed::<Logger>(sink, &call, Kind::Logger, item.span) else { continue };
        let Logger::Mlflow { uri, .. } = &logger;
        if let Err(problem) = crate::ir::http_authority(uri) {
            sink.push(
                item.span.file,
                CheckError::BadValue {
                    message: format!("`mlflow` cannot reach `{uri}`: {problem}"),
                    help: "write the tracking server as `http://host:port` (for HTTPS, run a local proxy)".into(),
                    label: "not an `http://host:port` address".into(),
                    at: item.span.into(),
                },
            );
            continue;
        }
        out.push(logger);
    }
    out
}

/// `export = onnx` or `export = [onnx, safetensors]`: the formats written at the end of training.
fn export_formats(sink: &mut Sink, field: &Field) -> Vec<ExportFormat> {
    let Some(expr) = expr_of(sink, field) else { return Vec::new() };
    let items: Vec<&Expr> = match &expr.kind {
        ExprKind::List(items) => items.iter().collect(),
        _ => vec![expr],
    };
    let names = ExportFormat::ALL.map(ExportFormat::name);
    let mut out = Vec::new();
    for item in items {
        let Some(id) = item.as_name() else {
            sink.push(
                item.span.file,
                CheckError::BadValue {
                    message: format!("`export` takes format names, found {}", item.describe()),
                    help: "write `export = onnx` or `export = [onnx, safetensors]`".into(),
                    label: "not a format name".into(),
                    at: item.span.into(),
                },
            );
            continue;
        };
        match ExportFormat::from_name(&id.name) {
            Some(format) if !out.contains(&format) => out.push(format),
            Some(_) => {}
            None => {
                let help = suggest::help(&id.name, names, format!("the formats are: {}", names.join(", ")));
                sink.push(
                    id.span.file,
                    CheckError::UnknownName {
                        what: "export format".into(),
                        name: id.name.clone(),
                        help,
                        at: id.span.into(),
                    },
                );
            }
        }
    }
    out
}
