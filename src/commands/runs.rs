//! `trainc runs [DIR]`: the run directories under DIR (any folder holding `run.json`, sweeps'
//! trials included), oldest first, with their progress and key final metrics — from
//! `summary.json` when the run finished, else from the last epoch row of `metrics.csv`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use serde_json::{Value, json};

use super::CommandError;
use crate::Format;

/// How deep under DIR run directories are looked for (`runs/<name>/<time>`, a sweep's
/// `<sweep>/trials/<n>/<name>/<time>`).
const DEPTH: usize = 6;
/// Metric columns shown at most.
const COLUMNS: usize = 5;

/// A JSON file of a run, `Null` when missing or unreadable.
pub fn read_json(path: &Path) -> Value {
    std::fs::read(path).ok().and_then(|b| serde_json::from_slice(&b).ok()).unwrap_or(Value::Null)
}

/// Every directory holding `run.json` under `root`, sorted by path.
pub fn find_runs(root: &Path, depth: usize, out: &mut Vec<PathBuf>) {
    if root.join("run.json").is_file() {
        out.push(root.to_path_buf());
        return;
    }
    if depth == 0 {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else { return };
    let mut dirs: Vec<PathBuf> = entries.flatten().map(|e| e.path()).filter(|p| p.is_dir()).collect();
    dirs.sort();
    for d in dirs {
        find_runs(&d, depth - 1, out);
    }
}

/// The final metrics of a run as `split.metric`: `summary.json`, else the last epoch row of
/// `metrics.csv` (a run still going or killed). The second value says which.
pub fn final_metrics(run: &Path) -> (BTreeMap<String, f64>, bool) {
    let summary = read_json(&run.join("summary.json"));
    if let Value::Object(splits) = &summary {
        let mut out = BTreeMap::new();
        for (split, metrics) in splits {
            for (name, v) in metrics.as_object().into_iter().flatten() {
                if let Some(v) = v.as_f64() {
                    out.insert(format!("{split}.{name}"), v);
                }
            }
        }
        return (out, true);
    }
    (last_epoch_row(run), false)
}

/// The last row of `metrics.csv` that ends an epoch (it has `samples_per_s`), by column.
fn last_epoch_row(run: &Path) -> BTreeMap<String, f64> {
    let Ok(text) = std::fs::read_to_string(run.join("metrics.csv")) else { return BTreeMap::new() };
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let speed = header.iter().position(|h| *h == "samples_per_s");
    let row = lines.rfind(|l| speed.is_some_and(|i| l.split(',').nth(i).is_some_and(|v| !v.is_empty())));
    let Some(row) = row else { return BTreeMap::new() };
    header
        .iter()
        .zip(row.split(','))
        .filter(|(h, _)| h.starts_with("val.") || h.starts_with("train.loss"))
        .filter_map(|(h, v)| Some((h.to_string(), v.parse().ok()?)))
        .collect()
}

/// One row of the listing.
struct Row {
    path: String,
    name: String,
    started: String,
    epochs: String,
    status: &'static str,
    metrics: BTreeMap<String, f64>,
}

fn row(root: &Path, run: &Path) -> Row {
    let info = read_json(&run.join("run.json"));
    let spec = read_json(&run.join("spec.json"));
    let state = read_json(&run.join("state.json"));
    let (metrics, finished) = final_metrics(run);
    let done = state["epochs_done"].as_u64().unwrap_or(0);
    let text = |v: &Value| v.as_str().map_or_else(|| v.to_string(), String::from);
    Row {
        path: run.strip_prefix(root).unwrap_or(run).display().to_string(),
        name: text(&spec["name"]),
        started: text(&info["started"]),
        epochs: format!("{done}/{}", spec["epochs"].as_u64().unwrap_or(0)),
        status: if finished { "done" } else { "stopped" },
        metrics,
    }
}

/// The metric columns: the checkpoint monitors first, then the other `val.` and `test.` metrics.
fn columns(rows: &[Row], monitors: &[String]) -> Vec<String> {
    let mut out: Vec<String> = monitors.to_vec();
    let mut rest: Vec<&String> = rows.iter().flat_map(|r| r.metrics.keys()).collect();
    rest.sort_by_key(|k| (!k.starts_with("val."), k.ends_with(".loss"), k.to_string()));
    for k in rest {
        if !out.contains(k) {
            out.push(k.clone());
        }
    }
    out.retain(|k| rows.iter().any(|r| r.metrics.contains_key(k)));
    out.truncate(COLUMNS);
    out
}

pub fn runs(dir: &Path, format: Format) -> Result<ExitCode, CommandError> {
    if !dir.is_dir() {
        return Err(CommandError::NoRuns { dir: dir.to_path_buf() });
    }
    let mut found = Vec::new();
    find_runs(dir, DEPTH, &mut found);
    let rows: Vec<Row> = found.iter().map(|r| row(dir, r)).collect();
    if format == Format::Json {
        let items: Vec<Value> = rows
            .iter()
            .map(|r| json!({"run": r.path, "name": r.name, "started": r.started, "epochs": r.epochs, "status": r.status, "metrics": r.metrics}))
            .collect();
        println!("{}", serde_json::to_string_pretty(&items).unwrap_or_default());
        return Ok(ExitCode::SUCCESS);
    }
    if rows.is_empty() {
        println!("no runs under {}", dir.display());
        return Ok(ExitCode::SUCCESS);
    }
    let mut monitors: Vec<String> = found
        .iter()
        .filter_map(|r| read_json(&r.join("spec.json"))["checkpoint"]["monitor"].as_str().map(String::from))
        .collect();
    monitors.dedup();
    print!("{}", table(&rows, &columns(&rows, &monitors)));
    Ok(ExitCode::SUCCESS)
}

fn table(rows: &[Row], cols: &[String]) -> String {
    let mut lines = vec![
        ["run", "started", "epochs", "status"]
            .into_iter()
            .map(String::from)
            .chain(cols.iter().cloned())
            .collect::<Vec<_>>(),
    ];
    for r in rows {
        let metrics = cols.iter().map(|c| r.metrics.get(c).map_or("-".into(), |v| format!("{v:.4}")));
        lines.push(
            [r.path.clone(), r.started.clone(), r.epochs.clone(), r.status.into()].into_iter().chain(metrics).collect(),
        );
    }
    let widths: Vec<usize> =
        (0..lines[0].len()).map(|i| lines.iter().map(|l| l[i].chars().count()).max().unwrap_or(0)).collect();
    let mut out = String::new();
    for l in &lines {
        let cells: Vec<String> = l.iter().zip(&widths).map(|(c, w)| format!("{c:<w$}")).collect();
        out.push_str(cells.join("  ").trim_end());
        out.push('\n');
    }
    out
}
