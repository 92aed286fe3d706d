//! The SLURM launcher: every trial is placed up front (grid or random; TPE and pruning need the
//! results as they come, which a job array does not give), recorded as pending, and
//! `sweep.sbatch` submits one array task per trial (`--array=0-N%jobs`). Each task runs `trainc
//! sweep --run-trial DIR N` on its node, which runs the trial and writes its record in the
//! shared sweep directory. `trainc sweep --status DIR` gathers the records; a trial still
//! pending or running whose task SLURM no longer knows is recorded as failed, and `--resume DIR`
//! submits an array of the failed trials only.

use std::path::Path;
use std::process::Command;

use trainc::sweep::{Status, Trial};

use super::super::CommandError;
use super::dir::{self, Plan};

fn slurm_error(message: String) -> CommandError {
    CommandError::Slurm { message }
}

/// The batch script of an array over `ids`.
pub fn script(sweep: &Path, plan: &Plan, ids: &[usize]) -> Result<String, CommandError> {
    let exe = std::env::current_exe().map_err(|e| slurm_error(e.to_string()))?;
    let array = ids.iter().map(|i| i.to_string()).collect::<Vec<_>>().join(",");
    let name = plan.file.file_stem().map_or("sweep".into(), |s| s.to_string_lossy().to_string());
    Ok(format!(
        "#!/bin/bash\n\
         #SBATCH --job-name=trainc-{name}\n\
         #SBATCH --array={array}%{jobs}\n\
         #SBATCH --output={out}/slurm-%A_%a.out\n\
         #SBATCH --cpus-per-task=1\n\
         # One trial per task; the task writes trials/<n>/trial.json in this shared directory.\n\
         cd {cwd}\n\
         exec {exe} sweep --run-trial {dir} \"$SLURM_ARRAY_TASK_ID\"\n",
        jobs = plan.jobs,
        out = quote(&sweep.join("trials")),
        cwd = quote(&plan.cwd),
        exe = quote(&exe),
        dir = quote(sweep),
    ))
}

fn quote(p: &Path) -> String {
    trainc::sweep::table::shell_word(&p.display().to_string())
}

/// Writes `sweep.sbatch` for `ids` and submits it; returns the job id.
pub fn submit(sweep: &Path, plan: &mut Plan, ids: &[usize]) -> Result<(), CommandError> {
    let path = sweep.join("sweep.sbatch");
    dir::write(&path, &script(sweep, plan, ids)?)?;
    let out = Command::new("sbatch")
        .arg("--parsable")
        .arg(&path)
        .output()
        .map_err(|e| slurm_error(format!("cannot run `sbatch`: {e}")))?;
    if !out.status.success() {
        return Err(slurm_error(format!("`sbatch` failed: {}", String::from_utf8_lossy(&out.stderr).trim())));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let job = text.trim().split(';').next().unwrap_or_default().to_string();
    eprintln!(
        "submitted job array {job}: {} task(s); `trainc sweep --status {}` gathers the results",
        ids.len(),
        sweep.display()
    );
    plan.slurm_job = Some(job);
    plan.save(sweep)
}

/// The array tasks SLURM still has (pending or running), as trial numbers; `None` when
/// `squeue` cannot be asked.
fn queued(job: &str) -> Option<Vec<usize>> {
    let out = Command::new("squeue").args(["-h", "-r", "-j", job, "-o", "%K"]).output().ok()?;
    if !out.status.success() {
        // A finished job is unknown to squeue after a while: nothing is queued.
        return Some(Vec::new());
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().filter_map(|l| l.trim().parse().ok()).collect())
}

/// The records, with lost tasks recorded as failed.
pub fn gather(sweep: &Path, plan: &Plan) -> Result<Vec<Trial>, CommandError> {
    let mut trials = dir::load_trials(sweep)?;
    let Some(job) = &plan.slurm_job else { return Ok(trials) };
    let Some(queued) = queued(job) else { return Ok(trials) };
    for t in trials.iter_mut().filter(|t| matches!(t.status, Status::Pending | Status::Running)) {
        if !queued.contains(&t.id) {
            t.status = Status::Failed;
            t.message = Some("the SLURM task ended without a result".into());
            dir::save_trial(sweep, t)?;
        }
    }
    Ok(trials)
}
