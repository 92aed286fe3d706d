//! The training loop as phases. [`Trainer::run`] starts a [`Fit`] (network, optimizer, loaders,
//! hooks, restored state), then repeats `epoch` — `train_epoch` (a `train_step` per batch),
//! `validate`, the hooks' `on_epoch_end`, `state.json` — until the live `epochs` are done or a
//! hook says stop, then runs `test`. Checkpoints, early stopping, EMA, logs and the progress bar
//! are hooks (`run::hooks`); the task's loss and metrics come from `task::runner`.
//!
//! What `trainc watch` may change is read from [`Live`]: its `spec` at every step (loss,
//! accumulation, optimizer revisions) and at every epoch start (data pipeline, batch size); a
//! new model is swapped in at an epoch boundary, keeping every weight that still fits. A Ctrl-C
//! ends the epoch after the current step (`run::interrupt`). Every epoch starts by freezing and
//! unfreezing the weights as `freeze` says for it, and every update uses the learning rates of
//! `groups` ([`Tuning`]).
//!
//! In a data-parallel run (`Trainer::group`, see `crate::dist`) every rank trains on its shard
//! and averages the gradients before each update; rank 0 alone validates, runs the hooks and the
//! test split, then sends its [`State`] and decision to the others at the end of each epoch.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::{Device, Tensor};

use super::hooks::{self, Control, EpochEnd, Hooks, Rebuilt, StepEnd, TrainEnd};
use super::live::{self, Live};
use super::step::{Accumulate, LossMeter, LossScaler, StepAt};
use super::{Evaluation, Results, RunError, State, Trainer};
use crate::data::{Batch, Loader, Shard, Source, open_splits};
use crate::dist::sync::{self, ChecksumLog};
use crate::dist::{DistError, Wait};
use crate::exec::finetune::Tuning;
use crate::exec::{Net, optim, transplant};
use crate::ir::TrainSpec;
use crate::task::{self, TaskRunner};

/// A training in progress: everything but the weights, which move through the phases by value
/// (the optimizer consumes them, and a second reference would stop burn updating in place).
pub struct Fit<'t> {
    trainer: &'t Trainer,
    task: &'static dyn TaskRunner,
    optimizer: ModuleOptimizer,
    state: State,
    hooks: Hooks,
    train: Arc<dyn Source>,
    val: Option<Arc<dyn Source>>,
    test: Option<Arc<dyn Source>>,
    /// Optimizer steps per epoch (batches ÷ accumulation), as of the current epoch's settings.
    per_epoch: usize,
    plain: Device,
    autodiff: Device,
    /// The `train` block in force (from [`Live`], refreshed at every step).
    spec: Arc<TrainSpec>,
    /// The [`Live`] revisions the optimizer and the model were built from.
    optimizer_rev: (u64, u64),
    graph_rev: u64,
    /// The frozen prefixes and learning-rate groups in force, set at every epoch start.
    tuning: Tuning,
    /// A Ctrl-C stopped the current epoch.
    interrupted: bool,
    /// A Ctrl-C on any rank, learnt with the last gradient average (data-parallel runs).
    any_rank_interrupted: bool,
    /// `TRAINC_DIST_CHECKSUMS`: the weights' checksum after every step.
    checksums: Option<ChecksumLog>,
    /// `precision = f16`'s dynamic loss scale.
    scaler: Option<LossScaler>,
}

/// After an epoch: the weights, whether to go on, and the validation metrics.
type EpochDone = (Net, Control, Option<BTreeMap<String, f64>>);

/// What an epoch's training produced.
struct Trained {
    loss: f64,
    samples: usize,
    seconds: f64,
}

impl Trainer {
    /// Trains from `resume` (or from scratch) to the end; returns the final metrics per split.
    pub fn run(&self, resume: Option<State>) -> Result<Results, RunError> {
        self.run_with(resume, Hooks::default())
    }

    /// [`Trainer::run`] with more hooks, called after the run's own (`watch` adds its own).
    pub fn run_with(&self, resume: Option<State>, extra: Hooks) -> Result<Results, RunError> {
        let (mut fit, mut net) = Fit::start(self, resume, extra)?;
        let mut results = Results::new();
        loop {
            let live = live::read(&self.live);
            if fit.state.epochs_done >= live.epochs() {
                break;
            }
            net = fit.rebuild_if_asked(net, &live)?;
            let (next, control, val) = fit.epoch(net, &live)?;
            net = next;
            if let Some(val) = val {
                results.insert("val".into(), val);
            }
            if let Control::Stop(reason) = control {
                if !self.quiet {
                    eprintln!("{reason}");
                }
                break;
            }
        }
        if !self.group.world.is_leader() {
            // MPI's finalisation waits for every rank, without a timeout: wait here instead.
            self.group.sum(&mut [0.0], "waiting for rank 0 to finish", Wait::Leader);
            return Ok(results);
        }
        if let Some(test) = fit.test(&net)? {
            results.insert("test".into(), test);
        }
        fit.hooks.train_end(&TrainEnd { results: &results })?;
        self.export_at_end(&fit, &net)?;
        self.group.sum(&mut [0.0], "waiting for rank 0 to finish", Wait::Leader);
        Ok(results)
    }

    /// `train { export = … }`: the evaluated weights (the EMA's when enabled) as
    /// `<run>/export/model.<format>`, each with `labels.json` (read from the settings in force,
    /// so `watch` may add it while the run goes on).
    fn export_at_end(&self, fit: &Fit, net: &Net) -> Result<(), RunError> {
        let live = live::read(&self.live);
        if live.spec.export.is_empty() {
            return Ok(());
        }
        let graph = live.graph.as_deref().unwrap_or(&self.graph);
        let ema = fit.hooks.eval_weights().cloned();
        let weights = ema.clone().unwrap_or_else(|| net.valid());
        let dir = self.run.path.join("export");
        std::fs::create_dir_all(&dir).map_err(RunError::write(&dir))?;
        for format in &live.spec.export {
            let exporter = crate::export::Exporter {
                net: &weights,
                graph,
                train: &live.spec,
                device: &fit.plain,
                ema: ema.is_some(),
                dynamic_batch: true,
                names: crate::ir::Names::Torchvision,
                rename: &[],
            };
            let file = dir.join(format!("model.{}", format.name()));
            exporter.write(*format, &file)?;
            if !self.quiet {
                eprintln!("exported {}", file.display());
            }
        }
        Ok(())
    }

    /// The hooks of a run, in the order they are called.
    fn hooks(&self, net: &Net, val: Option<Arc<dyn Source>>) -> Result<Hooks, RunError> {
        let checkpoints = self.run.checkpoint("");
        let mut hooks = Hooks::default();
        if let Some(decay) = self.spec.ema {
            hooks.push(hooks::EmaHook { ema: hooks::ema::Ema::new(net, decay), dir: checkpoints.clone() });
        }
        hooks.push(hooks::Progress::new(self.quiet));
        hooks.push(hooks::TensorBoard::create(&self.run.path)?);
        hooks.push(hooks::Csv { run: super::rundir::RunDir::open(&self.run.path), metrics: self.val_columns() });
        hooks.push(hooks::RunFiles::new(self.run.path.clone(), self.confusion_classes(), self.quiet));
        hooks.push(hooks::Plots::new(&self.run.path, val, self.device.clone(), self.input_size()));
        let spec_json = serde_json::to_value(&self.spec).unwrap_or_default();
        for logger in &self.spec.logger {
            let crate::ir::Logger::Mlflow { uri, experiment } = logger;
            hooks.push(hooks::Mlflow::new(uri, experiment, &self.run.path, &spec_json, self.quiet)?);
        }
        hooks.push(hooks::Checkpoints::new(checkpoints));
        hooks.push(hooks::EarlyStop::default());
        Ok(hooks)
    }
}

/// `weights = load(…)`, in order, before the first step (a resume restores its own weights).
fn pretrained(trainer: &Trainer, net: &mut Net) -> Result<(), RunError> {
    for spec in &trainer.spec.weights {
        let loaded = crate::weights::load::load(net, &trainer.graph, spec)?;
        if !trainer.quiet {
            eprintln!(
                "weights: {} tensors from `{}`{}",
                loaded.applied,
                loaded.file,
                crate::weights::load::leftovers(&loaded)
            );
        }
    }
    Ok(())
}

impl<'t> Fit<'t> {
    fn start(trainer: &'t Trainer, resume: Option<State>, extra: Hooks) -> Result<(Fit<'t>, Net), RunError> {
        let spec = &trainer.spec;
        let plain = trainer.device.clone();
        plain.seed(spec.seed);
        let autodiff = plain.clone().autodiff();
        let splits = open_splits(&spec.data.dataset)?;
        let train = splits.get("train").cloned().ok_or_else(|| RunError::NoSplit {
            dataset: spec.data.dataset.name.clone(),
            split: "train".into(),
            available: splits.keys().cloned().collect::<Vec<_>>().join(", "),
        })?;
        if !trainer.quiet {
            trainer.print_start(&splits);
        }
        let task = task::runner(spec.data.dataset.task);
        let mut net = Net::build(&trainer.graph, &autodiff)?.with_precision(spec.precision);
        task.prepare(&mut net);
        let mut optimizer = optim::build(&spec.optimizer, spec.clip_grad);
        if resume.is_some() {
            (net, optimizer) = resume_weights(trainer, net, optimizer)?;
        } else {
            pretrained(trainer, &mut net)?;
        }
        let state = resume.unwrap_or_default();
        // f16 goes on from the loss scale it had learnt (a state without one starts at 2^16).
        let learnt_scale = state.loss_scale.clone();
        // Only rank 0 writes: the other ranks run no hooks.
        let mut hooks = match trainer.group.world.is_leader() {
            true => trainer.hooks(&net, splits.get("val").cloned())?,
            false => Hooks::default(),
        };
        hooks.0.extend(extra.0);
        hooks.train_start(&state)?;
        // After rank 0's hooks started (MLflow, TensorBoard): the others wait here, not in a step.
        sync::assert_same_weights(&trainer.group, &net, "at the start")?;
        let live = live::read(&trainer.live);
        let (val, test) = (splits.get("val").cloned(), splits.get("test").cloned());
        let fit = Fit {
            trainer,
            task,
            optimizer,
            state,
            hooks,
            // Set from the loader when each epoch starts.
            per_epoch: 1,
            train,
            val,
            test,
            plain,
            autodiff,
            spec: live.spec.clone(),
            optimizer_rev: (live.optimizer_rev, live.optimizer_kind_rev),
            graph_rev: live.graph_rev,
            tuning: Tuning::default(),
            interrupted: false,
            any_rank_interrupted: false,
            checksums: ChecksumLog::from_env(trainer.group.world.rank),
            scaler: (spec.precision == crate::ir::Precision::F16).then(|| learnt_scale.unwrap_or_default()),
        };
        Ok((fit, net))
    }

    /// At an epoch boundary, when `watch` asked for a new model: saves the current weights,
    /// builds the new model and copies every weight whose key and shape still match (their
    /// optimizer state follows, being keyed by parameter id).
    fn rebuild_if_asked(&mut self, net: Net, live: &Live) -> Result<Net, RunError> {
        let Some(graph) = live.graph.clone().filter(|_| live.graph_rev != self.graph_rev) else { return Ok(net) };
        self.graph_rev = live.graph_rev;
        let saved = self.trainer.run.checkpoint(&format!("before-rebuild-step{}.bpk", self.state.step));
        hooks::save_net(&net.valid(), &saved)?;
        let mut fresh = Net::build(&graph, &self.autodiff)?.with_precision(self.spec.precision);
        self.task.prepare(&mut fresh);
        let (net, report) = transplant::transplant(&net, fresh)
            .map_err(|e| RunError::Checkpoint { path: saved.clone(), message: e.to_string() })?;
        self.tuning.rebuilt();
        let rebuilt = Rebuilt {
            epoch: self.state.epochs_done,
            step: self.state.step,
            graph: &graph,
            net: &net,
            report: &report,
            saved: &saved,
        };
        self.hooks.rebuilt(&rebuilt)?;
        Ok(net)
    }

    /// A new optimizer when `watch` changed its settings: with the old state when only the
    /// hyper-parameters changed, fresh when the kind did.
    fn refresh_optimizer(&mut self, live: &Live) {
        let rev = (live.optimizer_rev, live.optimizer_kind_rev);
        if rev == self.optimizer_rev {
            return;
        }
        let fresh = optim::build(&live.spec.optimizer, live.spec.clip_grad);
        self.optimizer =
            if rev.1 != self.optimizer_rev.1 { fresh } else { fresh.load_record(self.optimizer.to_record()) };
        self.optimizer_rev = rev;
    }

    /// After a Ctrl-C: the last weights and optimizer state, and `state.json` as of the start of
    /// the interrupted epoch (a resume repeats it, from the saved weights).
    fn save_interrupted(&mut self, net: &Net, epoch_start_step: usize) -> Result<(), RunError> {
        hooks::save_last(&self.trainer.run.checkpoint(""), net, &self.optimizer)?;
        let mut state = self.state.clone();
        state.step = epoch_start_step;
        state.hooks = self.hooks.states();
        state.loss_scale = self.scaler.clone();
        state.write(&self.trainer.run.path)
    }

    /// One epoch: train, validate, let the hooks act, save the state.
    fn epoch(&mut self, net: Net, live: &Live) -> Result<EpochDone, RunError> {
        let epoch_start_step = self.state.step;
        let (net, trained) = self.train_epoch(net, live)?;
        if self.interrupted {
            if self.leader() {
                self.save_interrupted(&net, epoch_start_step)?;
            }
            let reason = format!("interrupted at step {}: last checkpoint saved", self.state.step);
            return Ok((net, Control::Stop(reason), None));
        }
        let live = live::read(&self.trainer.live);
        let eval_net = self.hooks.eval_weights().cloned().unwrap_or_else(|| net.valid());
        let mut metrics = BTreeMap::from([("train.loss".to_string(), self.mean_over_ranks(trained.loss))]);
        let val = if self.leader() { self.validate(&eval_net)? } else { None };
        if let Some((m, _)) = &val {
            metrics.extend(m.iter().map(|(k, v)| (format!("val.{k}"), *v)));
        }
        self.state.epochs_done += 1;
        // The rate this epoch trained at; a `plateau` schedule then steps on its metric.
        let lr = live.lr(self.state.step.saturating_sub(1), self.per_epoch, self.state.plateau.factor);
        if let Some(line) = self.state.plateau.observe(&live.spec.schedule, &metrics)
            && !self.trainer.quiet
        {
            hooks::progress::print_above(&line);
        }
        let end = EpochEnd {
            epoch: self.state.epochs_done,
            step: self.state.step,
            lr,
            seconds: trained.seconds,
            samples: trained.samples,
            metrics: &metrics,
            confusion: val.as_ref().map(|(_, c)| c.as_slice()),
            net: &net,
            eval_net: &eval_net,
            optimizer: &self.optimizer,
            live: &live,
        };
        let mut control = self.hooks.epoch_end(&end)?;
        self.state.hooks = self.hooks.states();
        self.state.loss_scale = self.scaler.clone();
        if self.leader() {
            self.state.write(&self.trainer.run.path)?;
        }
        control = self.follow_leader(control)?;
        Ok((net, control, val.map(|(m, _)| m)))
    }

    fn leader(&self) -> bool {
        self.trainer.group.world.is_leader()
    }

    /// The mean of `value` over the ranks (the epoch's training loss: each rank saw its shard).
    fn mean_over_ranks(&self, value: f64) -> f64 {
        let group = &self.trainer.group;
        let mut sum = [value as f32];
        group.sum(&mut sum, "averaging the training loss", Wait::Step);
        match group.is_distributed() {
            true => sum[0] as f64 / group.world.size as f64,
            false => value,
        }
    }

    /// After an epoch in a data-parallel run: rank 0 validated and ran the hooks alone, so the
    /// others take its state (the `plateau` factor) and its decision to stop or go on.
    fn follow_leader(&mut self, control: Control) -> Result<Control, RunError> {
        let group = &self.trainer.group;
        if !group.is_distributed() {
            return Ok(control);
        }
        let stop = match &control {
            Control::Stop(reason) => Some(reason.clone()),
            Control::Continue => None,
        };
        let mut bytes = serde_json::to_vec(&(&self.state, stop)).unwrap_or_default();
        group.broadcast(&mut bytes, "ending the epoch (rank 0 validates and saves checkpoints)", Wait::Leader);
        let (state, stop): (State, Option<String>) = serde_json::from_slice(&bytes)
            .map_err(|e| DistError::LeaderState { rank: group.world.rank, message: e.to_string() })?;
        self.state = state;
        Ok(stop.map_or(Control::Continue, Control::Stop))
    }

    fn train_epoch(&mut self, mut net: Net, live: &Live) -> Result<(Net, Trained), RunError> {
        let epoch = self.state.epochs_done;
        // Like the data pipeline, `freeze` and `groups` change per epoch.
        let unfrozen;
        (net, unfrozen) = self.tuning.epoch_start(net, &live.spec, epoch);
        if !self.trainer.quiet {
            for path in unfrozen {
                hooks::progress::print_above(&format!("unfroze {path} at epoch {}", epoch + 1));
            }
        }
        // The data pipeline, batch size and limits are read here only: they change per epoch.
        let loader = self.train_loader(&live.spec)?;
        let batches = loader.num_batches(epoch as u64);
        self.per_epoch = steps_per_epoch(batches, &live.spec);
        self.hooks.epoch_start(epoch, batches, live);
        let (mut meter, mut acc) = (LossMeter::default(), Accumulate::new(live.spec.accumulate));
        let (started, mut samples) = (Instant::now(), 0);
        for (i, batch) in loader.epoch(epoch as u64, 0).into_iter().enumerate() {
            // Read at every step: `watch` may have changed the settings.
            let live = live::read(&self.trainer.live);
            self.spec = live.spec.clone();
            acc.every = live.spec.accumulate.max(1);
            self.refresh_optimizer(&live);
            let batch = batch?;
            samples += batch.shape[0];
            let at = StepAt {
                step: self.state.step,
                epoch,
                lr: live.lr(self.state.step, self.per_epoch, self.state.plateau.factor),
                read_loss: self.trainer.read_loss_every_step
                    || (self.state.step + 1).is_multiple_of(live.log_every())
                    || i + 1 == batches,
                last_batch: i + 1 == batches,
            };
            let stepped;
            (net, stepped) = self.train_step(net, batch, &at, &mut meter, &mut acc)?;
            let Some(batches) = stepped else { continue };
            self.state.step += 1;
            let samples_per_s =
                (samples * self.trainer.group.world.size) as f64 / started.elapsed().as_secs_f64().max(1e-9);
            let (loss, mean_loss) = (meter.last, meter.mean());
            let end = StepEnd {
                step: self.state.step,
                epoch,
                batches,
                lr: at.lr,
                loss,
                mean_loss,
                samples_per_s,
                net: &net,
                live: &live,
            };
            self.hooks.step_end(&end)?;
            if let Some(log) = &self.checksums {
                log.record(self.state.step, &net);
            }
            if self.stop_requested() {
                self.interrupted = true;
                break;
            }
        }
        // Every rank read as many samples (the shards are padded to equal sizes).
        let samples = samples * self.trainer.group.world.size;
        let trained = Trained { loss: meter.mean(), samples, seconds: started.elapsed().as_secs_f64() };
        Ok((net, trained))
    }

    /// The training loader of an epoch: in a data-parallel run, this rank's shard in batches of
    /// the global batch ÷ the number of ranks.
    fn train_loader(&self, spec: &TrainSpec) -> Result<Loader, RunError> {
        let loader = Loader::for_split(spec, self.train.clone(), true);
        let world = &self.trainer.group.world;
        if world.size == 1 {
            return Ok(loader);
        }
        if !spec.data.batch.is_multiple_of(world.size) {
            return Err(DistError::Batch { batch: spec.data.batch, size: world.size }.into());
        }
        Ok(loader.shard(Shard { rank: world.rank, size: world.size }))
    }

    /// Ctrl-C: on one process, as soon as it is pressed; in a data-parallel run, when any rank
    /// had it at the last gradient average, so that all stop after the same step.
    fn stop_requested(&self) -> bool {
        match self.trainer.group.is_distributed() {
            true => self.any_rank_interrupted,
            false => super::interrupt::requested(),
        }
    }

    /// Forward, backward and, when the accumulation is complete, the update. Returns the weights
    /// and, after an update, how many batches it covered.
    fn train_step(
        &mut self,
        net: Net,
        batch: Batch,
        at: &StepAt,
        meter: &mut LossMeter,
        acc: &mut Accumulate,
    ) -> Result<(Net, Option<usize>), RunError> {
        let (loss, grads) = self.loss_and_grads(&net, batch)?;
        meter.add(loss);
        if at.read_loss {
            meter.read(at.step, at.epoch, at.lr)?;
        }
        let Some((grads, batches)) = acc.add(&net, grads, at.last_batch) else { return Ok((net, None)) };
        // Data-parallel: the average over the ranks, and whether any rank had a Ctrl-C. Every
        // rank then holds the same gradients, so f16's overflow check agrees on all of them.
        let mut interrupted = [if super::interrupt::requested() { 1.0 } else { 0.0 }];
        let grads = sync::average_gradients(&self.trainer.group, &net, grads, &mut interrupted);
        self.any_rank_interrupted = interrupted[0] > 0.0;
        match self.unscaled(&net, grads, at) {
            Some(grads) => Ok((self.optimizer.step(self.tuning.lr(at.lr), net, grads), Some(batches))),
            // An overflow under f16: the step counts (the schedule moves on) but changes nothing.
            None => Ok((net, Some(batches))),
        }
    }

    /// A batch's loss (detached, for the meter) and gradients (multiplied by f16's loss scale),
    /// on this device or split over several (`run::parallel`).
    fn loss_and_grads(&self, net: &Net, batch: Batch) -> Result<(Tensor<1>, GradientsParams), RunError> {
        let scaler = self.scaler.as_ref();
        if !self.trainer.replicas.is_empty() {
            let step = self.trainer.replicas.step(self.task, &self.spec, net, batch, &self.autodiff, scaler)?;
            return Ok((step.loss, step.grads));
        }
        let loss = self.task.train_loss(&self.spec, net, batch, &self.autodiff)?;
        let scaled = scaler.map_or_else(|| loss.clone(), |s| s.scale_loss(loss.clone()));
        Ok((loss.detach(), GradientsParams::from_grads(scaled.backward(), net)))
    }

    /// The gradients to apply: as they are, or divided by f16's loss scale; `None` when they
    /// overflowed and the step is skipped.
    fn unscaled(&mut self, net: &Net, grads: GradientsParams, at: &StepAt) -> Option<GradientsParams> {
        let Some(scaler) = &mut self.scaler else { return Some(grads) };
        let scale = scaler.scale;
        let grads = scaler.unscale(net, grads);
        if grads.is_none() && !self.trainer.quiet {
            hooks::progress::print_above(&format!(
                "f16: gradients overflowed at loss scale {scale}; skipped step {} (scale now {})",
                at.step + 1,
                scaler.scale
            ));
        }
        grads
    }

    /// Metrics and confusion matrix on the `val` split, with the evaluated weights.
    fn validate(&self, eval_net: &Net) -> Result<Option<Evaluation>, RunError> {
        match &self.val {
            Some(source) => {
                let loader = Loader::for_split(&self.spec, source.clone(), false);
                Ok(Some(Trainer::evaluate(&self.spec, eval_net, &loader, &self.plain)?))
            }
            None => Ok(None),
        }
    }

    /// Metrics on the `test` split after training, with the final evaluated weights.
    fn test(&self, net: &Net) -> Result<Option<BTreeMap<String, f64>>, RunError> {
        let Some(source) = &self.test else { return Ok(None) };
        let loader = Loader::for_split(&self.spec, source.clone(), false);
        let eval_net = self.hooks.eval_weights().cloned().unwrap_or_else(|| net.valid());
        let (metrics, _) = Trainer::evaluate(&self.spec, &eval_net, &loader, &self.plain)?;
        Ok(Some(metrics))
    }
}

/// The weights and optimizer state of `last.bpk` and `optimizer.bpk`; with `warm_resume`, a
/// checkpoint of another model loads what still fits (and says so).
fn resume_weights(trainer: &Trainer, net: Net, optimizer: ModuleOptimizer) -> Result<(Net, ModuleOptimizer), RunError> {
    let dir = trainer.run.checkpoint("");
    if !trainer.warm_resume {
        return hooks::load_last(&dir, net, optimizer);
    }
    let (net, optimizer, partial) = hooks::load_last_warm(&dir, net, optimizer)?;
    if let Some((loaded, fresh)) = partial {
        eprintln!(
            "`last.bpk` is of another version of model `{}`: {} weight tensor(s) loaded, {} newly initialised ({})",
            trainer.graph.name,
            loaded.len(),
            fresh.len(),
            fresh.join(", ")
        );
    }
    Ok((net, optimizer))
}

/// Optimizer steps in an epoch of `batches` batches under `spec` (batches ÷ accumulation).
fn steps_per_epoch(batches: usize, spec: &TrainSpec) -> usize {
    batches.div_ceil(spec.accumulate.max(1)).max(1)
}
