//! The local launcher: up to `jobs` trials at once, each a `trainc run` process with
//! `cores / jobs` threads. Every 50 ms it collects trials that exited and, with a pruner, reads
//! each running trial's `metrics.csv`: a new epoch row is one pruning decision, and a trial to stop
//! gets SIGINT (it ends gracefully after the step). The sampler sees every trial finished so far
//! when it places the next one.

use std::path::Path;
use std::process::Child;
use std::time::{Duration, Instant};

use trainc::sweep::{Pruner, Sampler, Status, Trial};

use super::super::CommandError;
use super::dir::{self, Plan};
use super::trial;

struct Running {
    index: usize,
    child: Child,
    started: Instant,
}

/// The finished trials' coordinates and objectives as losses, for the sampler.
fn history(plan: &Plan, trials: &[Trial]) -> Vec<(Vec<f64>, f64)> {
    trials
        .iter()
        .filter(|t| t.status.finished())
        .filter_map(|t| t.objective.map(|v| (t.coords.clone(), plan.mode.as_loss(v))))
        .collect()
}

/// The next trial to start: a pending one (a resumed sweep's failed trials), or a new one from
/// the sampler while the sweep has fewer than `plan.trials`.
fn next(plan: &Plan, sampler: Sampler, trials: &mut Vec<Trial>) -> Option<usize> {
    if let Some(i) = trials.iter().position(|t| t.status == Status::Pending) {
        return Some(i);
    }
    if trials.len() >= plan.trials {
        return None;
    }
    let id = trials.len();
    let coords = sampler.suggest(&plan.space.dims, id, plan.seed, &history(plan, trials));
    let (values, coords): (Vec<String>, Vec<f64>) =
        plan.space.dims.iter().zip(coords).map(|(d, c)| d.domain.value_at(c)).unzip();
    trials.push(Trial::new(id, values, coords));
    Some(trials.len() - 1)
}

/// Runs the sweep's remaining trials; returns how many failed.
pub fn run(sweep: &Path, plan: &Plan, trials: &mut Vec<Trial>) -> Result<usize, CommandError> {
    let sampler = Sampler::named(&plan.sampler, plan.trials).unwrap_or(Sampler::Random);
    let pruner = plan.prune.as_deref().and_then(Pruner::named);
    let threads = trial::threads_per_trial(plan.jobs);
    eprintln!("{} trial(s), {} at a time, {threads} thread(s) each", plan.trials, plan.jobs);
    let mut running: Vec<Running> = Vec::new();
    loop {
        let mut changed = false;
        while running.len() < plan.jobs {
            let Some(index) = next(plan, sampler, trials) else { break };
            let t = &mut trials[index];
            eprintln!("trial {} started: {}", t.id, t.overrides(&plan.space.dims).join(" "));
            let child = trial::spawn(sweep, plan, t, threads)?;
            running.push(Running { index, child, started: Instant::now() });
            changed = true;
        }
        if running.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
        let mut still = Vec::new();
        for mut r in running.drain(..) {
            match r.child.try_wait() {
                Ok(Some(exit)) => {
                    let t = &mut trials[r.index];
                    trial::finish(sweep, plan, t, exit, r.started.elapsed().as_secs_f64());
                    dir::save_trial(sweep, t)?;
                    print_end(plan, t);
                    changed = true;
                }
                _ => {
                    if let Some(p) = pruner {
                        changed |= prune_check(sweep, plan, p, trials, &r)?;
                    }
                    still.push(r);
                }
            }
        }
        running = still;
        if changed {
            dir::write_csv(sweep, plan, trials)?;
        }
    }
    Ok(trials.iter().filter(|t| t.status == Status::Failed).count())
}

fn print_end(plan: &Plan, t: &Trial) {
    let what = match (t.status, t.pruned_at) {
        (Status::Pruned, Some(e)) => format!("pruned at epoch {e}"),
        (Status::Failed, _) => format!("failed: {}", t.message.as_deref().unwrap_or("")),
        (s, _) => s.word().to_string(),
    };
    let objective = t.objective.map_or(String::new(), |v| format!(", {} = {v:.4}", plan.objective));
    eprintln!("trial {} {what}{objective} ({:.1} s)", t.id, t.seconds);
}

/// Reads a running trial's curve; on a new epoch asks the pruner, and interrupts the trial if
/// it says so. Returns whether the record changed.
fn prune_check(
    sweep: &Path,
    plan: &Plan,
    pruner: Pruner,
    trials: &mut [Trial],
    r: &Running,
) -> Result<bool, CommandError> {
    if trials[r.index].pruned_at.is_some() {
        return Ok(false);
    }
    let Some(run) = dir::find_run_dir(&dir::trial_dir(sweep, trials[r.index].id)) else { return Ok(false) };
    let curve = dir::curve(&run, &plan.objective);
    if curve.len() <= trials[r.index].curve.len() {
        return Ok(false);
    }
    trials[r.index].curve = curve;
    let as_loss = |c: &[f64]| c.iter().map(|v| plan.mode.as_loss(*v)).collect::<Vec<f64>>();
    let mine = as_loss(&trials[r.index].curve);
    let others: Vec<Vec<f64>> = trials
        .iter()
        .enumerate()
        .filter(|(i, t)| *i != r.index && t.status != Status::Failed)
        .map(|(_, t)| as_loss(&t.curve))
        .collect();
    let refs: Vec<&[f64]> = others.iter().map(|c| c.as_slice()).collect();
    if pruner.prune(&mine, &refs) {
        let t = &mut trials[r.index];
        t.pruned_at = Some(mine.len());
        eprintln!(
            "trial {}: pruning after epoch {} ({} = {:.4})",
            t.id,
            mine.len(),
            plan.objective,
            t.curve[mine.len() - 1]
        );
        trial::interrupt(&r.child);
        dir::save_trial(sweep, t)?;
    }
    Ok(true)
}
