//! The sweep directory: `sweep.json` (the plan: file, profile, space, sampler, objective, …),
//! `trials/<n>/trial.json` (each trial's record, the source of truth), `sweep.csv` (derived from
//! the records and rewritten atomically whenever one changes), `summary.txt`, `best.txt` and
//! `plots/`. A trial's run directory is `trials/<n>/<train name>/<timestamp>/`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use trainc::run::rundir::write_atomic;
use trainc::sweep::{Mode, Space, Trial, plot, table};

use super::super::CommandError;

/// What a sweep is, written once at its start and read by `--resume`, `--status` and the SLURM
/// tasks.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Plan {
    /// The `.train` file, absolute.
    pub file: PathBuf,
    /// Where the sweep was started; trials run there, so the file's relative paths mean the same.
    pub cwd: PathBuf,
    pub profile: Option<String>,
    pub skip_data: bool,
    pub space: Space,
    pub sampler: String,
    pub trials: usize,
    pub seed: u64,
    pub objective: String,
    pub mode: Mode,
    pub prune: Option<String>,
    pub jobs: usize,
    pub device: String,
    pub launcher: String,
    /// The SLURM job of the array, once submitted.
    pub slurm_job: Option<String>,
}

fn dir_error(path: &Path, e: impl std::fmt::Display) -> CommandError {
    CommandError::SweepDir { path: path.to_path_buf(), message: e.to_string() }
}

pub fn write(path: &Path, text: &str) -> Result<(), CommandError> {
    write_atomic(path, text.as_bytes()).map_err(|e| dir_error(path, e))
}

impl Plan {
    pub fn load(dir: &Path) -> Result<Plan, CommandError> {
        let path = dir.join("sweep.json");
        let text = std::fs::read_to_string(&path).map_err(|e| dir_error(&path, e))?;
        serde_json::from_str(&text).map_err(|e| dir_error(&path, e))
    }

    pub fn save(&self, dir: &Path) -> Result<(), CommandError> {
        write(&dir.join("sweep.json"), &serde_json::to_string_pretty(self).unwrap_or_default())
    }

    /// The settings every trial gets before its own values.
    pub fn fixed(&self) -> &[String] {
        &self.space.fixed
    }
}

pub fn trial_dir(dir: &Path, id: usize) -> PathBuf {
    dir.join(Trial::folder(id))
}

pub fn save_trial(dir: &Path, trial: &Trial) -> Result<(), CommandError> {
    let folder = trial_dir(dir, trial.id);
    std::fs::create_dir_all(&folder).map_err(|e| dir_error(&folder, e))?;
    write(&folder.join("trial.json"), &serde_json::to_string_pretty(trial).unwrap_or_default())
}

/// Every trial record in the directory, by number.
pub fn load_trials(dir: &Path) -> Result<Vec<Trial>, CommandError> {
    let root = dir.join("trials");
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(&root) else { return Ok(out) };
    for entry in entries.flatten() {
        let path = entry.path().join("trial.json");
        if let Ok(text) = std::fs::read_to_string(&path) {
            out.push(serde_json::from_str::<Trial>(&text).map_err(|e| dir_error(&path, e))?);
        }
    }
    out.sort_by_key(|t| t.id);
    Ok(out)
}

/// The run directory `trainc run` made under the trial's folder (`<name>/<timestamp>`).
pub fn find_run_dir(folder: &Path) -> Option<PathBuf> {
    let mut found = Vec::new();
    for name in std::fs::read_dir(folder).ok()?.flatten().filter(|e| e.path().is_dir()) {
        for run in std::fs::read_dir(name.path()).ok()?.flatten() {
            if run.path().join("run.json").exists() {
                found.push(run.path());
            }
        }
    }
    found.sort();
    found.pop()
}

/// `summary.json` of a run, flattened to `split.metric`.
pub fn final_metrics(run: &Path) -> Option<BTreeMap<String, f64>> {
    let text = std::fs::read_to_string(run.join("summary.json")).ok()?;
    let results: BTreeMap<String, BTreeMap<String, f64>> = serde_json::from_str(&text).ok()?;
    Some(
        results
            .into_iter()
            .flat_map(|(split, m)| m.into_iter().map(move |(k, v)| (format!("{split}.{k}"), v)))
            .collect(),
    )
}

/// The objective after each epoch, from the epoch rows of `metrics.csv` (those with a
/// `samples_per_s`; the others are logged steps). Empty when the file or the column is missing.
pub fn curve(run: &Path, objective: &str) -> Vec<f64> {
    let Ok(text) = std::fs::read_to_string(run.join("metrics.csv")) else { return Vec::new() };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let (Some(rate), Some(col)) =
        (header.iter().position(|h| *h == "samples_per_s"), header.iter().position(|h| *h == objective))
    else {
        return Vec::new();
    };
    lines
        .map(|l| l.split(',').collect::<Vec<_>>())
        .filter(|cells| cells.len() == header.len() && !cells[rate].is_empty())
        .filter_map(|cells| cells[col].parse().ok())
        .collect()
}

/// Rewrites `sweep.csv` from the records.
pub fn write_csv(dir: &Path, plan: &Plan, trials: &[Trial]) -> Result<(), CommandError> {
    write(&dir.join("sweep.csv"), &table::csv(&plan.space.dims, trials))
}

/// The end of a sweep (or a `--status` that finds it done): the table sorted by the objective,
/// printed and in `summary.txt`, the best trial's command line in `best.txt`, and the plots.
pub fn report(dir: &Path, plan: &Plan, trials: &[Trial]) -> Result<(), CommandError> {
    write_csv(dir, plan, trials)?;
    let summary = table::summary(&plan.space.dims, trials, &plan.objective, plan.mode);
    println!("{summary}");
    write(&dir.join("summary.txt"), &summary)?;
    let best =
        table::ranked(trials, plan.mode).into_iter().next().filter(|t| t.status.finished() && t.objective.is_some());
    if let Some(best) = best {
        let file = plan.file.display().to_string();
        let line = table::command_line(&file, plan.profile.as_deref(), plan.fixed(), &plan.space.dims, best);
        println!("best: trial {} with {} = {:.4}", best.id, plan.objective, best.objective.unwrap_or(f64::NAN));
        println!("  {line}");
        write(&dir.join("best.txt"), &format!("{line}\n"))?;
    }
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| dir_error(&plots, e))?;
    for (name, svg) in plot::plots(&plan.space.dims, trials, &plan.objective, plan.mode) {
        write(&plots.join(name), &svg)?;
    }
    println!("sweep directory: {}", dir.display());
    Ok(())
}

/// `sweeps/<name>/<timestamp>`, a fresh folder.
pub fn create(root: &Path, name: &str) -> Result<PathBuf, CommandError> {
    let stamp = trainc::run::rundir::timestamp();
    let mut path = root.join(name).join(&stamp);
    let mut n = 1;
    while path.exists() {
        path = root.join(name).join(format!("{stamp}-{n}"));
        n += 1;
    }
    std::fs::create_dir_all(path.join("trials")).map_err(|e| dir_error(&path, e))?;
    Ok(path)
}
