//! A sweep's trials: the record each trial keeps (`trials/<n>/trial.json`), `sweep.csv`, the
//! summary table sorted by the objective, and the best trial as one command line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Dim, Mode};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Pending,
    Running,
    Completed,
    /// Stopped early by the pruner; its metrics are those of the epoch it stopped at.
    Pruned,
    /// Ended without `summary.json`: an error, a signal (SIGKILL), or a lost SLURM task.
    Failed,
}

impl Status {
    pub fn word(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Running => "running",
            Status::Completed => "completed",
            Status::Pruned => "pruned",
            Status::Failed => "failed",
        }
    }

    /// Whether the trial has a result (and counts for the sampler and the summary).
    pub fn finished(self) -> bool {
        matches!(self, Status::Completed | Status::Pruned)
    }
}

/// One trial of a sweep.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Trial {
    /// From 0; its folder is `trials/<id, three digits>`.
    pub id: usize,
    /// The override text of each dimension, in the order of the space.
    pub values: Vec<String>,
    /// The sampler's coordinates of those values.
    pub coords: Vec<f64>,
    pub status: Status,
    pub objective: Option<f64>,
    /// The objective after each epoch, from `metrics.csv` (what pruning decides on).
    #[serde(default)]
    pub curve: Vec<f64>,
    /// Final metrics by `split.metric`, from `summary.json`.
    #[serde(default)]
    pub metrics: BTreeMap<String, f64>,
    pub seconds: f64,
    /// The trial's run directory, relative to the sweep directory.
    pub run_dir: Option<String>,
    pub pruned_at: Option<usize>,
    /// Why it failed (exit status or signal).
    pub message: Option<String>,
}

impl Trial {
    pub fn new(id: usize, values: Vec<String>, coords: Vec<f64>) -> Trial {
        Trial {
            id,
            values,
            coords,
            status: Status::Pending,
            objective: None,
            curve: Vec::new(),
            metrics: BTreeMap::new(),
            seconds: 0.0,
            run_dir: None,
            pruned_at: None,
            message: None,
        }
    }

    /// `trials/007`.
    pub fn folder(id: usize) -> String {
        format!("trials/{id:03}")
    }

    /// `path=value` for each dimension.
    pub fn overrides(&self, dims: &[Dim]) -> Vec<String> {
        dims.iter().zip(&self.values).map(|(d, v)| format!("{}={v}", d.path)).collect()
    }
}

fn csv_cell(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

fn number(v: Option<f64>) -> String {
    v.map_or(String::new(), |x| format!("{x:.6}"))
}

/// `sweep.csv`: a row per trial — number, status, each dimension's value, the objective, every
/// final metric (the union over trials), seconds, the epoch it was pruned at, its run directory.
pub fn csv(dims: &[Dim], trials: &[Trial]) -> String {
    let metric_names: std::collections::BTreeSet<&String> = trials.iter().flat_map(|t| t.metrics.keys()).collect();
    let mut header: Vec<String> = vec!["trial".into(), "status".into()];
    header.extend(dims.iter().map(|d| d.path.clone()));
    header.push("objective".into());
    header.extend(metric_names.iter().map(|m| m.to_string()));
    header.extend(["seconds", "pruned_at", "run_dir", "message"].map(String::from));
    let mut out = header.iter().map(|h| csv_cell(h)).collect::<Vec<_>>().join(",") + "\n";
    for t in trials {
        let mut row = vec![t.id.to_string(), t.status.word().to_string()];
        row.extend(t.values.iter().cloned());
        row.push(number(t.objective));
        row.extend(metric_names.iter().map(|m| number(t.metrics.get(*m).copied())));
        row.push(format!("{:.1}", t.seconds));
        row.push(t.pruned_at.map_or(String::new(), |e| e.to_string()));
        row.push(t.run_dir.clone().unwrap_or_default());
        row.push(t.message.clone().unwrap_or_default());
        out.push_str(&(row.iter().map(|c| csv_cell(c)).collect::<Vec<_>>().join(",") + "\n"));
    }
    out
}

/// The trials best first: finished trials by objective, then the others by number.
pub fn ranked(trials: &[Trial], mode: Mode) -> Vec<&Trial> {
    let mut out: Vec<&Trial> = trials.iter().collect();
    out.sort_by(|a, b| {
        let key = |t: &Trial| t.objective.filter(|_| t.status.finished()).map(|v| mode.as_loss(v));
        match (key(a), key(b)) {
            (Some(x), Some(y)) => x.total_cmp(&y),
            (Some(_), None) => std::cmp::Ordering::Less,
            (None, Some(_)) => std::cmp::Ordering::Greater,
            (None, None) => a.id.cmp(&b.id),
        }
    });
    out
}

/// The summary table printed at the end of a sweep, sorted by the objective.
pub fn summary(dims: &[Dim], trials: &[Trial], objective: &str, mode: Mode) -> String {
    let mut rows: Vec<Vec<String>> = vec![
        ["#", "trial", "status"]
            .into_iter()
            .map(String::from)
            .chain(dims.iter().map(|d| d.path.clone()))
            .chain([format!("{objective} ({})", if mode == Mode::Max { "max" } else { "min" }), "seconds".into()])
            .collect(),
    ];
    for (rank, t) in ranked(trials, mode).into_iter().enumerate() {
        let status = match t.pruned_at {
            Some(e) if t.status == Status::Pruned => format!("pruned@{e}"),
            _ => t.status.word().to_string(),
        };
        let mut row = vec![(rank + 1).to_string(), t.id.to_string(), status];
        row.extend(t.values.iter().cloned());
        row.push(t.objective.map_or("-".into(), |v| format!("{v:.4}")));
        row.push(format!("{:.1}", t.seconds));
        rows.push(row);
    }
    let widths: Vec<usize> = (0..rows[0].len())
        .map(|c| rows.iter().map(|r| r.get(c).map_or(0, |s| s.chars().count())).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            let cells: Vec<String> = r.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
            cells.join("  ").trim_end().to_string() + "\n"
        })
        .collect()
}

/// A word as a shell reads it back: quoted when it holds anything but plain characters.
pub fn shell_word(s: &str) -> String {
    if !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "._-+=/:,@".contains(c)) {
        s.to_string()
    } else {
        format!("'{}'", s.replace('\'', "'\\''"))
    }
}

/// `trainc run FILE [--profile P] fixed… path=value…`: the best trial as one command line.
pub fn command_line(file: &str, profile: Option<&str>, fixed: &[String], dims: &[Dim], trial: &Trial) -> String {
    let mut words = vec!["trainc".to_string(), "run".into(), shell_word(file)];
    if let Some(p) = profile {
        words.extend(["--profile".into(), shell_word(p)]);
    }
    words.extend(fixed.iter().chain(&trial.overrides(dims)).map(|s| shell_word(s)));
    words.join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sweep::Space;

    #[test]
    fn csv_quotes_values_with_commas_and_ranks_by_the_objective() {
        let dims = Space::from_args(&["metrics=[accuracy],[accuracy,f1]".to_string()]).expect("space").dims;
        let mut a = Trial::new(0, vec!["[accuracy]".into()], vec![0.0]);
        a.status = Status::Completed;
        a.objective = Some(0.5);
        a.metrics.insert("val.accuracy".into(), 0.5);
        let mut b = Trial::new(1, vec!["[accuracy,f1]".into()], vec![1.0]);
        b.status = Status::Completed;
        b.objective = Some(0.9);
        let c = Trial::new(2, vec!["[accuracy]".into()], vec![0.0]);
        let text = csv(&dims, &[a.clone(), b.clone(), c.clone()]);
        assert!(text.lines().nth(2).is_some_and(|l| l.starts_with("1,completed,\"[accuracy,f1]\",0.900000")), "{text}");
        let order: Vec<usize> = ranked(&[a.clone(), b.clone(), c], Mode::Max).iter().map(|t| t.id).collect();
        assert_eq!(order, [1, 0, 2]);
        assert_eq!(
            command_line("t.train", None, &["epochs=2".into()], &dims, &b),
            "trainc run t.train epochs=2 'metrics=[accuracy,f1]'"
        );
    }
}
