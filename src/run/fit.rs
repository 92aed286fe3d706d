//! The training loop as phases. [`Trainer::run`] starts a [`Fit`] (network, optimizer, loaders,
//! hooks, restored state), then repeats `epoch` — `train_epoch` (a `train_step` per batch),
//! `validate`, the hooks' `on_epoch_end`, `state.json` — until the live `epochs` are done or a
//! hook says stop, then runs `test`. Checkpoints, early stopping, EMA, logs and the progress bar
//! are hooks (`run::hooks`); the task's loss and metrics come from `task::runner`.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Instant;

use burn::module::Module;
use burn::optim::{GradientsParams, ModuleOptimizer};
use burn::tensor::Device;

use super::hooks::{self, Control, EpochEnd, Hooks, StepEnd, TrainEnd};
use super::live::{self, Live};
use super::step::{Accumulate, LossMeter, StepAt};
use super::{Evaluation, Results, RunError, State, Trainer};
use crate::data::{Batch, Loader, Source, open_splits};
use crate::exec::{Net, optim};
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
    val: Option<Loader>,
    test: Option<Loader>,
    /// Optimizer steps per epoch (batches ÷ accumulation).
    per_epoch: usize,
    plain: Device,
    autodiff: Device,
}

/// What an epoch's training produced.
struct Trained {
    loss: f64,
    samples: usize,
    seconds: f64,
}

impl Trainer {
    /// Trains from `resume` (or from scratch) to the end; returns the final metrics per split.
    pub fn run(&self, resume: Option<State>) -> Result<Results, RunError> {
        let (mut fit, mut net) = Fit::start(self, resume)?;
        let mut results = Results::new();
        loop {
            let live = live::read(&self.live);
            if fit.state.epochs_done >= live.epochs {
                break;
            }
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
        if let Some(test) = fit.test(&net)? {
            results.insert("test".into(), test);
        }
        fit.hooks.train_end(&TrainEnd { results: &results })?;
        Ok(results)
    }

    /// The hooks of a run, in the order they are called.
    fn hooks(&self, net: &Net) -> Result<Hooks, RunError> {
        let checkpoints = self.run.checkpoint("");
        let mut hooks = Hooks::default();
        if let Some(decay) = self.spec.ema {
            hooks.push(hooks::EmaHook { ema: hooks::ema::Ema::new(net, decay), dir: checkpoints.clone() });
        }
        hooks.push(hooks::Progress::new(self.quiet));
        hooks.push(hooks::TensorBoard::create(&self.run.path)?);
        hooks.push(hooks::Csv { run: super::rundir::RunDir::open(&self.run.path), metrics: self.val_columns() });
        hooks.push(hooks::RunFiles::new(self.run.path.clone(), self.confusion_classes(), self.quiet));
        hooks.push(hooks::Checkpoints::new(checkpoints));
        hooks.push(hooks::EarlyStop::default());
        Ok(hooks)
    }
}

impl<'t> Fit<'t> {
    fn start(trainer: &'t Trainer, resume: Option<State>) -> Result<(Fit<'t>, Net), RunError> {
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
        let mut net = Net::build(&trainer.graph, &autodiff)?;
        task.prepare(&mut net);
        let mut optimizer = optim::build(&spec.optimizer, spec.clip_grad);
        if resume.is_some() {
            (net, optimizer) = hooks::load_last(&trainer.run.checkpoint(""), net, optimizer)?;
        }
        let state = resume.unwrap_or_default();
        let mut hooks = trainer.hooks(&net)?;
        hooks.train_start(&state)?;
        let per_epoch = trainer.loader(train.clone(), true).num_batches(0).div_ceil(spec.accumulate.max(1)).max(1);
        let loader = |split: &str| splits.get(split).map(|s| trainer.loader(s.clone(), false));
        let (val, test) = (loader("val"), loader("test"));
        let fit = Fit { trainer, task, optimizer, state, hooks, train, val, test, per_epoch, plain, autodiff };
        Ok((fit, net))
    }

    /// One epoch: train, validate, let the hooks act, save the state.
    fn epoch(&mut self, net: Net, live: &Live) -> Result<(Net, Control, Option<BTreeMap<String, f64>>), RunError> {
        let (net, trained) = self.train_epoch(net, live)?;
        let live = live::read(&self.trainer.live);
        let eval_net = self.hooks.eval_weights().cloned().unwrap_or_else(|| net.valid());
        let mut metrics = BTreeMap::from([("train.loss".to_string(), trained.loss)]);
        let val = self.validate(&eval_net)?;
        if let Some((m, _)) = &val {
            metrics.extend(m.iter().map(|(k, v)| (format!("val.{k}"), *v)));
        }
        self.state.epochs_done += 1;
        let end = EpochEnd {
            epoch: self.state.epochs_done,
            step: self.state.step,
            lr: live.lr(self.state.step.saturating_sub(1), self.per_epoch),
            seconds: trained.seconds,
            samples: trained.samples,
            metrics: &metrics,
            confusion: val.as_ref().map(|(_, c)| c.as_slice()),
            net: &net,
            eval_net: &eval_net,
            optimizer: &self.optimizer,
            live: &live,
        };
        let control = self.hooks.epoch_end(&end)?;
        self.state.hooks = self.hooks.states();
        self.state.write(&self.trainer.run.path)?;
        Ok((net, control, val.map(|(m, _)| m)))
    }

    fn train_epoch(&mut self, mut net: Net, live: &Live) -> Result<(Net, Trained), RunError> {
        let epoch = self.state.epochs_done;
        let mut loader = self.trainer.loader(self.train.clone(), true);
        loader.p_scale = live.p_scale;
        let batches = loader.num_batches(epoch as u64);
        self.hooks.epoch_start(epoch, batches, live);
        let (mut meter, mut acc) = (LossMeter::default(), Accumulate::new(self.trainer.spec.accumulate));
        let (started, mut samples) = (Instant::now(), 0);
        for (i, batch) in loader.epoch(epoch as u64, 0).into_iter().enumerate() {
            // Read at every step: `watch` may have changed the settings.
            let live = live::read(&self.trainer.live);
            let batch = batch?;
            samples += batch.shape[0];
            let at = StepAt {
                step: self.state.step,
                epoch,
                lr: live.lr(self.state.step, self.per_epoch),
                read_loss: self.trainer.read_loss_every_step
                    || (self.state.step + 1).is_multiple_of(live.log_every.max(1))
                    || i + 1 == batches,
                last_batch: i + 1 == batches,
            };
            let stepped;
            (net, stepped) = self.train_step(net, batch, &at, &mut meter, &mut acc)?;
            let Some(batches) = stepped else { continue };
            self.state.step += 1;
            let samples_per_s = samples as f64 / started.elapsed().as_secs_f64().max(1e-9);
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
        }
        let trained = Trained { loss: meter.mean(), samples, seconds: started.elapsed().as_secs_f64() };
        Ok((net, trained))
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
        let loss = self.task.train_loss(&self.trainer.spec, &net, batch, &self.autodiff)?;
        meter.add(loss.clone().detach());
        if at.read_loss {
            meter.read(at.step, at.epoch, at.lr)?;
        }
        let grads = GradientsParams::from_grads(loss.backward(), &net);
        match acc.add(&net, grads, at.last_batch) {
            Some((grads, batches)) => Ok((self.optimizer.step(at.lr, net, grads), Some(batches))),
            None => Ok((net, None)),
        }
    }

    /// Metrics and confusion matrix on the `val` split, with the evaluated weights.
    fn validate(&self, eval_net: &Net) -> Result<Option<Evaluation>, RunError> {
        match &self.val {
            Some(loader) => Ok(Some(Trainer::evaluate(&self.trainer.spec, eval_net, loader, &self.plain)?)),
            None => Ok(None),
        }
    }

    /// Metrics on the `test` split after training, with the final evaluated weights.
    fn test(&self, net: &Net) -> Result<Option<BTreeMap<String, f64>>, RunError> {
        let Some(loader) = &self.test else { return Ok(None) };
        let eval_net = self.hooks.eval_weights().cloned().unwrap_or_else(|| net.valid());
        let (metrics, _) = Trainer::evaluate(&self.trainer.spec, &eval_net, loader, &self.plain)?;
        Ok(Some(metrics))
    }
}
