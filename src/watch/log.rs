//! A watched run's record of its edits: `<run dir>/edits.jsonl`, one JSON object per line for
//! every applied, rejected or not applicable save (step, epoch, time, status, source hash,
//! changes), and `specs/<n>.json` with `specs/<n>.sources.json` for each applied version (0 is
//! the one the run started with), so the run can be replayed and `--resume` continues with the
//! last applied version.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::source::Sources;
use crate::ir::TrainSpec;
use crate::run::rundir::write_atomic;

pub struct EditLog {
    pub dir: PathBuf,
}

impl EditLog {
    pub fn new(run: &Path) -> EditLog {
        EditLog { dir: run.to_path_buf() }
    }

    /// Appends one line; a single `write` on a file opened for appending, so a crash leaves
    /// whole lines.
    pub fn append(&self, entry: &serde_json::Value) -> std::io::Result<()> {
        let mut line = serde_json::to_string(entry).unwrap_or_default();
        line.push('\n');
        let mut f = std::fs::OpenOptions::new().create(true).append(true).open(self.dir.join("edits.jsonl"))?;
        f.write_all(line.as_bytes())
    }

    /// Keeps applied version `n`: its checked `train` block and its sources.
    pub fn save_spec(&self, n: usize, spec: &TrainSpec, sources: &Sources) -> std::io::Result<()> {
        let dir = self.dir.join("specs");
        std::fs::create_dir_all(&dir)?;
        let json = serde_json::to_string_pretty(spec).unwrap_or_default();
        write_atomic(&dir.join(format!("{n}.json")), json.as_bytes())?;
        let texts: std::collections::BTreeMap<String, &String> =
            sources.iter().map(|(p, t)| (p.to_string_lossy().into_owned(), t)).collect();
        let json = serde_json::to_string_pretty(&texts).unwrap_or_default();
        write_atomic(&dir.join(format!("{n}.sources.json")), json.as_bytes())
    }
}

/// The last applied version of a watched run: its number and sources.
pub fn last_applied(run: &Path) -> Option<(usize, Sources)> {
    let dir = run.join("specs");
    let n = std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.strip_suffix(".sources.json")?.parse::<usize>().ok())
        .max()?;
    let text = std::fs::read_to_string(dir.join(format!("{n}.sources.json"))).ok()?;
    let texts: std::collections::BTreeMap<String, String> = serde_json::from_str(&text).ok()?;
    Some((n, texts.into_iter().map(|(p, t)| (PathBuf::from(p), t)).collect()))
}

/// Seconds since the epoch, for `time`.
pub fn now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}
