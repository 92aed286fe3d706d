//! One trial as a process: `trainc run FILE [--profile P] fixed… path=value… --runs-dir
//! trials/<n> --quiet`, started in the sweep's working directory with its share of the cores
//! (`RAYON_NUM_THREADS`, `OMP_NUM_THREADS`), its output in `trials/<n>/log.txt`, its process id
//! in `trials/<n>/pid`; and, when it exits, its record from the run directory. A trial resumed
//! after a crash continues from its run's `state.json` when there is one.

use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};

use trainc::sweep::{Status, Trial};

use super::super::CommandError;
use super::dir::{self, Plan};

/// The threads each of `jobs` trials gets on this machine.
pub fn threads_per_trial(jobs: usize) -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cores / jobs.max(1)).max(1)
}

/// Starts the trial's `trainc run`.
pub fn spawn(sweep: &Path, plan: &Plan, trial: &mut Trial, threads: usize) -> Result<Child, CommandError> {
    let folder = dir::trial_dir(sweep, trial.id);
    let fail = |e: std::io::Error| CommandError::SweepDir { path: folder.clone(), message: e.to_string() };
    std::fs::create_dir_all(&folder).map_err(fail)?;
    let exe = std::env::current_exe().map_err(fail)?;
    let mut cmd = Command::new(exe);
    cmd.current_dir(&plan.cwd).arg("run").arg(&plan.file);
    if let Some(p) = &plan.profile {
        cmd.args(["--profile", p]);
    }
    if plan.skip_data {
        cmd.arg("--skip-data");
    }
    cmd.args(plan.fixed()).args(trial.overrides(&plan.space.dims));
    cmd.arg("--runs-dir").arg(&folder).args(["--quiet", "--device", &plan.device]);
    // A run killed after an epoch continues from its state; one killed earlier starts again.
    match dir::find_run_dir(&folder) {
        Some(run) if run.join("state.json").exists() => {
            cmd.arg("--resume").arg(run);
        }
        Some(run) => std::fs::remove_dir_all(run).map_err(fail)?,
        None => {}
    }
    for var in ["RAYON_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"] {
        cmd.env(var, threads.to_string());
    }
    let log = std::fs::File::create(folder.join("log.txt")).map_err(fail)?;
    let err = log.try_clone().map_err(fail)?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(err);
    let child = cmd.spawn().map_err(fail)?;
    dir::write(&folder.join("pid"), &format!("{}\n", child.id()))?;
    trial.status = Status::Running;
    trial.message = None;
    dir::save_trial(sweep, trial)?;
    Ok(child)
}

/// The trial's record after its process exited: completed (or pruned) with its final metrics
/// when the run wrote `summary.json`, failed otherwise (with the exit status or the signal).
pub fn finish(sweep: &Path, plan: &Plan, trial: &mut Trial, exit: ExitStatus, seconds: f64) {
    let folder = dir::trial_dir(sweep, trial.id);
    let run = dir::find_run_dir(&folder);
    trial.seconds += seconds;
    trial.run_dir = run.as_ref().and_then(|r| r.strip_prefix(sweep).ok()).map(|r| r.display().to_string());
    let metrics = run.as_deref().filter(|_| exit.success()).and_then(dir::final_metrics);
    if let Some(run) = &run {
        trial.curve = dir::curve(run, &plan.objective);
    }
    match metrics {
        Some(metrics) => {
            trial.objective = metrics.get(&plan.objective).copied();
            trial.metrics = metrics;
            trial.status = if trial.pruned_at.is_some() { Status::Pruned } else { Status::Completed };
            if trial.objective.is_none() {
                trial.status = Status::Failed;
                trial.message = Some(format!("the run reported no `{}`", plan.objective));
            }
        }
        None => {
            trial.status = Status::Failed;
            trial.message = Some(describe(exit));
        }
    }
}

fn describe(exit: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (exit.code(), exit.signal()) {
        (_, Some(9)) => "killed (SIGKILL)".into(),
        (_, Some(s)) => format!("killed by signal {s}"),
        (Some(c), _) => format!("exited with status {c}; see log.txt"),
        _ => "ended without a result".into(),
    }
}

/// Asks a trial to stop after its current step, as Ctrl-C does: it still writes its last
/// checkpoint, test metrics and `summary.json`.
pub fn interrupt(child: &Child) {
    let _ = Command::new("kill").args(["-INT", &child.id().to_string()]).status();
}

/// `trainc sweep --run-trial DIR N`: one trial of a SLURM array, run and recorded by the task.
pub fn run_one(sweep: &Path, id: usize) -> Result<std::process::ExitCode, CommandError> {
    let plan = Plan::load(sweep)?;
    let mut trials = dir::load_trials(sweep)?;
    let Some(trial) = trials.iter_mut().find(|t| t.id == id) else {
        return Err(CommandError::SweepDir { path: dir::trial_dir(sweep, id), message: "no such trial".into() });
    };
    let threads = std::env::var("SLURM_CPUS_PER_TASK").ok().and_then(|s| s.parse().ok()).unwrap_or(1);
    let started = std::time::Instant::now();
    let mut child = spawn(sweep, &plan, trial, threads)?;
    let exit = child.wait().map_err(|e| CommandError::SweepDir { path: sweep.into(), message: e.to_string() })?;
    finish(sweep, &plan, trial, exit, started.elapsed().as_secs_f64());
    dir::save_trial(sweep, trial)?;
    let failed = trial.status == Status::Failed;
    eprintln!("trial {id}: {}", trial.status.word());
    dir::write_csv(sweep, &plan, &trials)?;
    Ok(if failed { std::process::ExitCode::FAILURE } else { std::process::ExitCode::SUCCESS })
}
