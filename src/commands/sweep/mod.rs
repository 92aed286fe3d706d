//! `trainc sweep`: check the search space value by value, then run the trials — locally
//! (`--jobs N`) or as a SLURM job array — into a sweep directory (`dir.rs`), prune from per-epoch
//! metrics, and report the trials sorted by the objective. `--resume DIR` runs the failed (or
//! never finished) trials again; `--status DIR` gathers a sweep's results.

mod dir;
mod local;
mod slurm;
mod trial;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use trainc::frontend::Options as CheckOptions;
use trainc::host::FsHost;
use trainc::sweep::{self, Domain, Mode, Options, Sampler, Space, Status, SweepError, Trial, validate};
use trainc::syntax::ast::Item;

use super::CommandError;
use super::shared::checked;
use crate::{SpecArgs, SweepArgs};
use dir::Plan;

pub fn sweep(args: &SweepArgs) -> Result<ExitCode, CommandError> {
    trainc::dist::World::require_single("sweep")?;
    if let [dir, id] = args.run_trial.as_slice() {
        let id = id.parse().map_err(|_| CommandError::SweepDir {
            path: dir.into(),
            message: format!("`{id}` is not a trial number"),
        })?;
        return trial::run_one(Path::new(dir), id);
    }
    if let Some(dir) = &args.status {
        return status(dir);
    }
    if let Some(dir) = &args.resume {
        return resume(dir);
    }
    let (dir, mut plan) = prepare(args)?;
    launch(&dir, &mut plan, Vec::new())
}

fn refused(file: &Path, errors: Vec<SweepError>) -> CommandError {
    CommandError::SweepRefused { file: file.to_path_buf(), errors: super::print_reports(errors) }
}

/// The options given on the command line.
fn cli_options(args: &SweepArgs) -> Options {
    Options {
        trials: args.trials,
        sampler: args.sampler.clone(),
        objective: args.objective.clone(),
        prune: args.prune.clone(),
        jobs: args.jobs,
        seed: args.seed,
    }
}

/// Checks the program, builds the space (the file's `sweep` block, then the command line's
/// dimensions), checks every value of it, and creates the sweep directory with its plan.
fn prepare(args: &SweepArgs) -> Result<(PathBuf, Plan), CommandError> {
    let Some(file) = &args.file else {
        return Err(CommandError::SweepDir { path: PathBuf::from("."), message: "no `.train` file given".into() });
    };
    let cli = Space::from_args(&args.settings).map_err(|e| refused(file, e))?;
    let spec = SpecArgs {
        file: file.clone(),
        overrides: cli.fixed.clone(),
        profile: args.profile.clone(),
        skip_data: args.skip_data,
        memory: None,
        device: Some(args.device.clone()),
    };
    let base = checked(&spec, None)?;
    let program = &base.outcome.program;
    let root = program.root.map(|r| &program.modules[r.0]);
    let block =
        root.and_then(|m| m.ast.items.iter().find_map(|i| if let Item::Sweep(s) = i { Some((m, s)) } else { None }));
    let (mut space, file_options) = match block {
        Some((module, block)) => {
            let source = program.sources.get(module.file);
            Space::from_block(block, &source.name, &source.text).map_err(|e| refused(file, e))?
        }
        None => (Space::default(), Options::default()),
    };
    space.merge(cli);
    if space.dims.is_empty() {
        return Err(CommandError::NothingToSweep { file: file.clone() });
    }
    let options = cli_options(args).or(file_options);
    let mut plan = resolve_plan(args, file, space, options, &base.train)?;
    let mut check = CheckOptions::default();
    check.resolve.profile = args.profile.clone();
    check.check.skip_data = args.skip_data;
    let errors = validate::check_values(&FsHost, file, &check, &plan.space);
    if !errors.is_empty() {
        return Err(refused(file, errors));
    }
    let values: usize = plan.space.dims.iter().map(|d| d.domain.probes().len()).sum();
    eprintln!("✓ {} dimension(s), {values} value(s) checked", plan.space.dims.len());
    // Absolute, so SLURM tasks and `--status` find it from anywhere.
    let dir = dir::create(&args.sweeps_dir, &base.train.name)?;
    let dir = std::path::absolute(&dir).unwrap_or(dir);
    plan.cwd =
        std::env::current_dir().map_err(|e| CommandError::SweepDir { path: dir.clone(), message: e.to_string() })?;
    plan.save(&dir)?;
    eprintln!("sweep directory: {}", dir.display());
    Ok((dir, plan))
}

/// The plan from the options, with their defaults: the grid when every dimension is a list
/// (TPE otherwise), 10 trials for a search, `val.loss` as the objective.
fn resolve_plan(
    args: &SweepArgs,
    file: &Path,
    space: Space,
    o: Options,
    train: &trainc::ir::TrainSpec,
) -> Result<Plan, CommandError> {
    let grid = space.grid_size();
    let sampler = o.sampler.clone().unwrap_or(if grid.is_some() { "grid".into() } else { "tpe".into() });
    if sampler == "grid"
        && let Some(d) = space.dims.iter().find(|d| !matches!(d.domain, Domain::Choice { .. }))
        && let Domain::Float { lo, .. } | Domain::Int { lo, .. } = &d.domain
    {
        let src = space.sources[lo.source].named();
        return Err(refused(file, vec![SweepError::GridNeedsValues { path: d.path.clone(), src, at: lo.span() }]));
    }
    let trials = match (sampler.as_str(), grid) {
        ("grid", Some(n)) => o.trials.map_or(n, |t| t.min(n)),
        _ => o.trials.unwrap_or(10),
    };
    let known = validate::objectives(train);
    let objective = o.objective.clone().unwrap_or_else(|| known.first().cloned().unwrap_or("val.loss".into()));
    if !known.contains(&objective) {
        return Err(CommandError::Objective { objective, known: known.join(", ") });
    }
    let prune = o.prune.clone().filter(|p| p != "none");
    if args.launcher == "slurm" && (sampler == "tpe" || prune.is_some()) {
        return Err(CommandError::Slurm {
            message: "a job array runs its trials blind: use `--sampler grid` or `random`, without `--prune`".into(),
        });
    }
    if prune.is_some() && !objective.starts_with("val.") {
        return Err(CommandError::Objective { objective, known: "pruning reads per-epoch `val.…` metrics".into() });
    }
    Ok(Plan {
        file: std::path::absolute(file).unwrap_or(file.to_path_buf()),
        cwd: PathBuf::new(),
        profile: args.profile.clone(),
        skip_data: args.skip_data,
        space,
        sampler,
        trials,
        seed: o.seed.unwrap_or(0),
        mode: Mode::of(&objective),
        objective,
        prune,
        jobs: o.jobs.unwrap_or(1),
        device: args.device.clone(),
        launcher: args.launcher.clone(),
        slurm_job: None,
    })
}

/// Runs (locally) or submits (SLURM) the plan's trials that have not finished.
fn launch(dir: &Path, plan: &mut Plan, mut trials: Vec<Trial>) -> Result<ExitCode, CommandError> {
    if plan.launcher == "slurm" {
        let sampler = Sampler::named(&plan.sampler, plan.trials).unwrap_or(Sampler::Random);
        while trials.len() < plan.trials {
            let id = trials.len();
            let coords = sampler.suggest(&plan.space.dims, id, plan.seed, &[]);
            let (values, coords) = plan.space.dims.iter().zip(coords).map(|(d, c)| d.domain.value_at(c)).unzip();
            trials.push(Trial::new(id, values, coords));
        }
        let pending: Vec<usize> = trials.iter().filter(|t| t.status == Status::Pending).map(|t| t.id).collect();
        for t in &trials {
            dir::save_trial(dir, t)?;
        }
        dir::write_csv(dir, plan, &trials)?;
        slurm::submit(dir, plan, &pending)?;
        return Ok(ExitCode::SUCCESS);
    }
    let failed = local::run(dir, plan, &mut trials)?;
    dir::report(dir, plan, &trials)?;
    if failed > 0 {
        return Err(CommandError::TrialsFailed { failed, dir: dir.display().to_string() });
    }
    Ok(ExitCode::SUCCESS)
}

/// `--resume DIR`: every trial without a result runs again (from its run's state when it has
/// one), then the sweep goes on to its number of trials.
fn resume(dir: &Path) -> Result<ExitCode, CommandError> {
    let mut plan = Plan::load(dir)?;
    let mut trials = if plan.launcher == "slurm" { slurm::gather(dir, &plan)? } else { dir::load_trials(dir)? };
    for t in trials.iter_mut().filter(|t| !t.status.finished()) {
        eprintln!("trial {} ({}) runs again", t.id, t.status.word());
        *t = Trial { seconds: t.seconds, ..Trial::new(t.id, t.values.clone(), t.coords.clone()) };
        dir::save_trial(dir, t)?;
    }
    launch(dir, &mut plan, trials)
}

/// `--status DIR`: the trials' records (SLURM tasks that vanished become failed), `sweep.csv`,
/// and the full report once no trial is pending or running.
fn status(dir: &Path) -> Result<ExitCode, CommandError> {
    let plan = Plan::load(dir)?;
    let trials = if plan.launcher == "slurm" { slurm::gather(dir, &plan)? } else { dir::load_trials(dir)? };
    let count = |s: Status| trials.iter().filter(|t| t.status == s).count();
    let statuses = [Status::Completed, Status::Pruned, Status::Failed, Status::Running, Status::Pending];
    let counts: Vec<String> = statuses.iter().map(|s| format!("{} {}", count(*s), s.word())).collect();
    eprintln!("{} of {} trial(s): {}", trials.len(), plan.trials, counts.join(", "));
    if count(Status::Running) + count(Status::Pending) > 0 || trials.len() < plan.trials {
        dir::write_csv(dir, &plan, &trials)?;
        print!("{}", sweep::table::summary(&plan.space.dims, &trials, &plan.objective, plan.mode));
        return Ok(ExitCode::SUCCESS);
    }
    dir::report(dir, &plan, &trials)?;
    Ok(ExitCode::SUCCESS)
}
